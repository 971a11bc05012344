//! Reads: batched and consistent gets of ledger, stream and API items, the commit payload,
//! and the eventIDs already seen in a minute (one paginated Query per stream and minute).

use super::*;

impl DynamoStore {
    /// Reads items by key with consistent reads, in batches, until none is left unprocessed.
    pub(super) async fn batch_get(&self, keys: Vec<Item>) -> Result<Vec<Item>, StoreError> {
        let mut out = Vec::new();
        for chunk in keys.chunks(BATCH_GET) {
            let mut pending = chunk.to_vec();
            let mut round = 0u32;
            while !pending.is_empty() {
                let request_len = pending.len();
                let request = KeysAndAttributes::builder()
                    .set_keys(Some(std::mem::take(&mut pending)))
                    .consistent_read(true)
                    .build()
                    .map_err(|e| unavailable("BatchGetItem", e))?;
                let resp = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, request)
                    .return_consumed_capacity(ReturnConsumedCapacity::Total)
                    .send()
                    .await
                    .map_err(|e| sdk_err("BatchGetItem", e))?;
                self.meter(false, resp.consumed_capacity());
                let asked = request_len;
                let items = resp
                    .responses()
                    .and_then(|r| r.get(&self.table))
                    .map(Vec::as_slice)
                    .unwrap_or(&[]);
                let left = resp
                    .unprocessed_keys()
                    .and_then(|u| u.get(&self.table))
                    .map_or(0, |k| k.keys().len());
                self.model_reads(items, asked.saturating_sub(items.len() + left));
                out.extend(items.iter().cloned());
                if let Some(left) = resp.unprocessed_keys().and_then(|u| u.get(&self.table)) {
                    pending = left.keys().to_vec();
                }
                if !pending.is_empty() {
                    round += 1;
                    backoff(round).await;
                }
            }
        }
        Ok(out)
    }

    pub(super) async fn ledger(&self, object: &str) -> Result<Option<Item>, StoreError> {
        let resp = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(object_pk(object), "LEDGER")))
            .consistent_read(true)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(|e| sdk_err("GetItem", e))?;
        self.meter(false, resp.consumed_capacity());
        match resp.item() {
            Some(item) => self.model_reads(std::slice::from_ref(item), 0),
            None => self.model_reads(&[], 1),
        }
        Ok(resp.item().cloned())
    }

    /// The payload of a committed object (reassembled from its chunks if it has them).
    pub(super) async fn payload(&self, object: &str, ledger: &Item) -> Result<Payload, StoreError> {
        let parts = get_n(ledger, "parts").unwrap_or(0);
        let attempt = get_s(ledger, "payload").ok_or_else(|| corrupt(object, "ledger entry names no payload"))?;
        let keys = (0..parts)
            .map(|i| key(object_pk(object), &format!("P#{attempt}#{i:04}")))
            .collect();
        let mut items = self.batch_get(keys).await?;
        items.sort_by(|a, b| get_s(a, "sk").cmp(&get_s(b, "sk")));
        if items.len() != usize::try_from(parts).unwrap_or(usize::MAX) {
            return Err(corrupt(
                object,
                format!("{parts} payload chunks expected, {} found", items.len()),
            ));
        }
        let mut bytes = Vec::new();
        for item in &items {
            bytes.extend_from_slice(get_b(item, "data").ok_or_else(|| corrupt(object, "payload chunk without data"))?);
        }
        unpack(object, &bytes)
    }

    /// Every item of partition `pk` whose sort key matches `sk_condition` (a consistent,
    /// paginated Query, metered). `what` names the request in errors.
    pub(super) async fn query_all(
        &self,
        what: &'static str,
        pk: String,
        sk_condition: &str,
        values: &[(&str, String)],
    ) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let mut query = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression(format!("pk = :pk AND {sk_condition}"))
                .expression_attribute_values(":pk", s(pk.clone()))
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .return_consumed_capacity(ReturnConsumedCapacity::Total);
            for (name, value) in values {
                query = query.expression_attribute_values(*name, s(value.clone()));
            }
            let resp = query.send().await.map_err(|e| sdk_err(what, e))?;
            self.meter(false, resp.consumed_capacity());
            if let Ok(mut u) = self.usage.lock() {
                let bytes: usize = resp.items().iter().map(item_size).sum();
                u.modelled_read_units += (bytes as f64 / 4096.0).ceil().max(1.0);
            }
            items.extend(resp.items().iter().cloned());
            match resp.last_evaluated_key() {
                Some(k) if !k.is_empty() => start = Some(k.clone()),
                _ => break,
            }
        }
        Ok(items)
    }

    /// The eventIDs of one stream and minute, from every object's item.
    pub(super) async fn minute_ids(&self, stream: &StreamKey, minute: i64) -> Result<Vec<(u64, i64)>, StoreError> {
        let items = self
            .query_all(
                "Query (event ids)",
                stream_pk(stream),
                "begins_with(sk, :m)",
                &[(":m", ids_prefix(minute))],
            )
            .await?;
        let blobs = items
            .iter()
            .filter_map(|item| item.get("ids").and_then(|v| v.as_bs().ok()))
            .flatten();
        Ok(blobs
            .filter_map(|blob| <[u8; 8]>::try_from(blob.as_ref()).ok())
            .map(|bytes| (u64::from_be_bytes(bytes), minute))
            .collect())
    }

    /// The eventIDs seen in the given minutes of the given streams (queries run 16 at a time).
    pub(super) async fn load_ids(
        &self,
        streams: &[StreamKey],
        minutes: &[i64],
    ) -> Result<BTreeMap<StreamKey, Vec<(u64, i64)>>, StoreError> {
        let mut queries = Vec::with_capacity(streams.len() * minutes.len());
        let mut owners = Vec::with_capacity(streams.len() * minutes.len());
        for st in streams {
            for m in minutes {
                queries.push(self.minute_ids(st, *m));
                owners.push(st);
            }
        }
        let results: Vec<Vec<(u64, i64)>> = stream::iter(queries).buffered(CONCURRENCY).try_collect().await?;
        let mut out: BTreeMap<StreamKey, Vec<(u64, i64)>> = BTreeMap::new();
        for (st, ids) in owners.into_iter().zip(results) {
            out.entry(st.clone()).or_default().extend(ids);
        }
        Ok(out)
    }

    pub(super) async fn load_streams(
        &self,
        streams: &[StreamKey],
    ) -> Result<BTreeMap<StreamKey, (Item, Option<String>)>, StoreError> {
        let items = self
            .batch_get(streams.iter().map(|k| key(stream_pk(k), "STATE")).collect())
            .await?;
        let mut by_pk: HashMap<String, Item> = items
            .into_iter()
            .filter_map(|i| get_s(&i, "pk").map(str::to_owned).map(|pk| (pk, i)))
            .collect();
        Ok(streams
            .iter()
            .filter_map(|k| {
                let item = by_pk.remove(&stream_pk(k))?;
                let pending = get_s(&item, "pending").map(str::to_owned);
                Some((k.clone(), (item, pending)))
            })
            .collect())
    }
}
