//! Reads: batched and consistent gets of ledger and head items, a stream's checkpoint and
//! journal entries (one Query), an object's events, and the eventIDs already seen in a file's minutes
//! (one range Query per stream, kept only for objects that were committed).

use super::*;

/// One object's eventIDs of one minute: (minute, the object that wrote them, ids).
type MinuteIds = (i64, Option<String>, Vec<u64>);

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
                let items = resp.responses().and_then(|r| r.get(&self.table)).map(Vec::as_slice).unwrap_or(&[]);
                let left = resp.unprocessed_keys().and_then(|u| u.get(&self.table)).map_or(0, |k| k.keys().len());
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

    /// The object's ledger item, when it was committed (a consistent read, counted in
    /// `ledger_reads`).
    pub(super) async fn ledger(&self, object: &str) -> Result<Option<Item>, StoreError> {
        let item = self.get_consistent("GetItem", key(object_pk(object), "LEDGER")).await?;
        if let Ok(mut u) = self.usage.lock() {
            u.ledger_reads += 1;
        }
        Ok(item)
    }

    /// The item at `key`, read consistently, metered and modelled. `what` names the request
    /// in errors.
    pub(super) async fn get_consistent(&self, what: &str, key: Item) -> Result<Option<Item>, StoreError> {
        let get = self.client.get_item().table_name(&self.table).set_key(Some(key)).consistent_read(true);
        let resp =
            get.return_consumed_capacity(ReturnConsumedCapacity::Total).send().await.map_err(|e| sdk_err(what, e))?;
        self.meter(false, resp.consumed_capacity());
        match resp.item() {
            Some(item) => self.model_reads(std::slice::from_ref(item), 0),
            None => self.model_reads(&[], 1),
        }
        Ok(resp.item().cloned())
    }

    /// The events of a committed object (reassembled from their parts).
    pub(super) async fn events(&self, object: &str, ledger: &Item) -> Result<Vec<Envelope>, StoreError> {
        let parts = get_n(ledger, "eparts").unwrap_or(0);
        if parts == 0 {
            return Ok(vec![]);
        }
        let keys = (0..usize::try_from(parts).unwrap_or(0)).map(|i| key(object_pk(object), &events_sk(i))).collect();
        let mut items = self.batch_get(keys).await?;
        items.sort_by(|a, b| get_s(a, "sk").cmp(&get_s(b, "sk")));
        if items.len() != usize::try_from(parts).unwrap_or(usize::MAX) {
            return Err(corrupt(object, format!("{parts} event parts expected, {} found", items.len())));
        }
        let mut bytes = Vec::new();
        for item in &items {
            bytes.extend_from_slice(get_b(item, "data").ok_or_else(|| corrupt(object, "event part without data"))?);
        }
        unpack(object, &bytes)
    }

    /// A stream's checkpoint and the journal entries after it, in one paginated Query over
    /// the sequence numbers from the checkpoint's to the head's. A checkpoint or entries gone
    /// (expired after more than a month without files) restart the stream's baselines.
    pub(super) async fn load_journal(
        &self,
        stream: &StreamKey,
        head: &Head,
    ) -> Result<(Checkpoint, Vec<JournalEntry>, BTreeSet<String>), StoreError> {
        if head.seq == 0 {
            return Ok((Checkpoint::default(), vec![], BTreeSet::new()));
        }
        let from = head.checkpoint.as_ref().map_or(1, |(cp, _, _)| *cp);
        let items = self
            .query_stream(
                "Query (journal)",
                stream,
                journal_range(head.seq, head.checkpoint.as_ref().map(|(cp, _, _)| *cp)),
            )
            .await?;
        let what = stream_pk(stream);
        let mut checkpoint = Checkpoint::default();
        if let Some((cp, _, attempt)) = &head.checkpoint {
            let prefix = format!("{}K{attempt}#", journal_prefix(*cp));
            let mut parts: Vec<&Item> =
                items.iter().filter(|i| get_s(i, "sk").is_some_and(|sk| sk.starts_with(&prefix))).collect();
            parts.sort_by(|a, b| get_s(a, "sk").cmp(&get_s(b, "sk")));
            if parts.is_empty() {
                tracing::warn!(stream = %what, cp, "checkpoint expired; the stream's baselines start again");
            } else {
                let mut bytes = Vec::new();
                for part in parts {
                    bytes.extend_from_slice(
                        get_b(part, "data").ok_or_else(|| corrupt(&what, "checkpoint part without data"))?,
                    );
                }
                checkpoint = unpack(&what, &bytes)?;
            }
        }
        let entries = journal_entries(stream, &items, from, head.seq)?;
        let expected = head.seq - from.min(head.seq) + u64::from(head.checkpoint.is_none());
        if entries.len() as u64 != expected {
            tracing::warn!(stream = %what, found = entries.len(), expected, "journal entries missing (expired?)");
        }
        // Journal entries exist only through committed transactions: their objects are committed.
        let committed = items.iter().filter_map(|i| get_s(i, "object")).map(str::to_owned).collect();
        Ok((checkpoint, entries.into_iter().map(|(_, e)| e).collect(), committed))
    }

    /// Every item of `stream` whose sort key lies between `first` and `last` (both included), as
    /// [`DynamoStore::query_all`].
    async fn query_stream(
        &self,
        what: &'static str,
        stream: &StreamKey,
        (first, last): (String, String),
    ) -> Result<Vec<Item>, StoreError> {
        let values = [(":a", first), (":b", last)];
        self.query_all(what, stream_pk(stream), "sk BETWEEN :a AND :b", &values).await
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
                u.modelled_read_units += read_units(bytes);
            }
            items.extend(resp.items().iter().cloned());
            match resp.last_evaluated_key() {
                Some(k) if !k.is_empty() => start = Some(k.clone()),
                _ => break,
            }
        }
        Ok(items)
    }

    /// The eventIDs of one stream in items starting within [`IDS_SPAN`] minutes before
    /// `from` up to `to` (so every item holding a minute of `from..=to`): `(minute, the object
    /// that wrote them, ids)`. One paginated Query.
    pub(super) async fn range_ids(&self, stream: &StreamKey, from: i64, to: i64) -> Result<Vec<MinuteIds>, StoreError> {
        let items = self.query_stream("Query (event ids)", stream, ids_range(from, to)).await?;
        let what = stream_pk(stream);
        let mut out = Vec::new();
        for item in &items {
            let Some(first) = get_s(item, "sk")
                .and_then(|sk| sk.strip_prefix("I#"))
                .and_then(|r| r.split('#').next())
                .and_then(|m| m.parse::<i64>().ok())
            else {
                continue;
            };
            let blob = get_b(item, "ids").ok_or_else(|| corrupt(&what, "eventID item without ids"))?;
            let ids = unpack_ids(first, blob).ok_or_else(|| corrupt(&what, "malformed eventID item"))?;
            let object = get_s(item, "object").map(str::to_owned);
            let mut by_minute: BTreeMap<i64, Vec<u64>> = BTreeMap::new();
            for (id, minute) in ids {
                by_minute.entry(minute).or_default().push(id);
            }
            out.extend(by_minute.into_iter().map(|(m, ids)| (m, object.clone(), ids)));
        }
        Ok(out)
    }

    /// The eventIDs seen in the given minutes of the given streams, from objects that were
    /// committed: ids are written before the commit, so an attempt that never committed (a
    /// crash, a lost race) must not hide its records' later copies. A file's minutes are read
    /// with one range Query per run of minutes less than half an hour apart (usually one),
    /// reaching back [`IDS_SPAN`] minutes for the items that started before it.
    /// Objects in `known` are committed (their journal entries were loaded); the ledger is
    /// read only for the others.
    pub(super) async fn load_ids(
        &self,
        streams: &[StreamKey],
        minutes: &[i64],
        known: &BTreeSet<String>,
    ) -> Result<BTreeMap<StreamKey, Vec<(u64, i64)>>, StoreError> {
        let wanted: BTreeSet<i64> = minutes.iter().copied().collect();
        let runs = minute_runs(&wanted);
        let mut queries = Vec::with_capacity(streams.len() * runs.len());
        let mut owners = Vec::with_capacity(streams.len() * runs.len());
        for st in streams {
            for (from, to) in &runs {
                queries.push(self.range_ids(st, *from, *to));
                owners.push(st);
            }
        }
        let results: Vec<Vec<MinuteIds>> = stream::iter(queries).buffered(CONCURRENCY).try_collect().await?;
        let objects: BTreeSet<&str> = results
            .iter()
            .flatten()
            .filter(|(m, _, _)| wanted.contains(m))
            .filter_map(|(_, o, _)| o.as_deref())
            .filter(|o| !known.contains(*o))
            .collect();
        let mut committed: BTreeSet<String> = self
            .batch_get(objects.iter().map(|o| key(object_pk(o), "LEDGER")).collect())
            .await?
            .iter()
            .filter_map(|item| get_s(item, "pk").and_then(|pk| pk.strip_prefix("O#")).map(str::to_owned))
            .collect();
        committed.extend(known.iter().cloned());
        let mut out: BTreeMap<StreamKey, Vec<(u64, i64)>> = BTreeMap::new();
        for (st, found) in owners.into_iter().zip(results) {
            let ids = out.entry(st.clone()).or_default();
            for (minute, object, list) in found {
                if wanted.contains(&minute) && object.as_ref().is_none_or(|o| committed.contains(o)) {
                    ids.extend(list.into_iter().map(|id| (id, minute)));
                }
            }
        }
        Ok(out)
    }

    /// The heads of the given streams (absent: never committed).
    pub(super) async fn load_heads(&self, streams: &[StreamKey]) -> Result<BTreeMap<StreamKey, Head>, StoreError> {
        let items = self.batch_get(streams.iter().map(|k| key(stream_pk(k), "HEAD")).collect()).await?;
        let mut by_pk: HashMap<String, Item> =
            items.into_iter().filter_map(|i| get_s(&i, "pk").map(str::to_owned).map(|pk| (pk, i))).collect();
        let mut out = BTreeMap::new();
        for k in streams {
            let Some(item) = by_pk.remove(&stream_pk(k)) else {
                continue;
            };
            let num = |name: &str| get_n(&item, name).and_then(|v| u64::try_from(v).ok());
            let checkpoint = match (num("cp"), get_s(&item, "cpa")) {
                (Some(cp), Some(attempt)) => Some((cp, get_n(&item, "cpt").unwrap_or(0), attempt.to_owned())),
                _ => None,
            };
            out.insert(k.clone(), Head { seq: num("seq").unwrap_or(0), checkpoint });
        }
        Ok(out)
    }
}

/// A file's minutes as runs of minutes less than half an hour apart (usually one): one
/// eventID Query per run.
pub(super) fn minute_runs(wanted: &BTreeSet<i64>) -> Vec<(i64, i64)> {
    let mut runs: Vec<(i64, i64)> = Vec::new();
    for &m in wanted {
        match runs.last_mut() {
            Some((_, to)) if m - *to <= 30 => *to = m,
            _ => runs.push((m, m)),
        }
    }
    runs
}

/// The sort keys a load's journal Query reads for a stream whose head is at `seq` with a
/// checkpoint at `checkpoint` (if any): from the checkpoint's sequence number (or the first)
/// to the head's, inclusive.
pub(super) fn journal_range(seq: u64, checkpoint: Option<u64>) -> (String, String) {
    let from = checkpoint.unwrap_or(1);
    (journal_prefix(from), format!("{}~", journal_prefix(seq)))
}

/// The sort keys an eventID Query reads for the minutes `from..=to`: every item that starts
/// up to [`IDS_SPAN`] minutes before `from` (so may hold one of them) and no later than `to`.
pub(super) fn ids_range(from: i64, to: i64) -> (String, String) {
    (ids_prefix(from - (IDS_SPAN - 1)), format!("{}~", ids_prefix(to)))
}

/// The journal entries with sequence numbers in `(after, upto]` among `items` (a Query's
/// result), each reassembled from its parts, in order.
pub(super) fn journal_entries(
    stream: &StreamKey,
    items: &[Item],
    after: u64,
    upto: u64,
) -> Result<Vec<(u64, JournalEntry)>, StoreError> {
    let what = stream_pk(stream);
    let mut parts: BTreeMap<(u64, String), &[u8]> = BTreeMap::new();
    let mut expected: BTreeMap<u64, i64> = BTreeMap::new();
    for item in items {
        let Some(sk) = get_s(item, "sk") else { continue };
        let Some((seq, rest)) = sk.strip_prefix("J#").and_then(|r| r.split_once('#')) else {
            continue;
        };
        let Ok(seq) = seq.parse::<u64>() else { continue };
        if !rest.starts_with('D') || seq <= after || seq > upto {
            continue;
        }
        let data = get_b(item, "data").ok_or_else(|| corrupt(&what, "journal entry without data"))?;
        parts.insert((seq, rest.to_owned()), data);
        expected.insert(seq, get_n(item, "parts").unwrap_or(1));
    }
    let mut out = Vec::with_capacity(expected.len());
    for (seq, count) in expected {
        let pieces: Vec<&[u8]> = parts.range((seq, String::new())..(seq + 1, String::new())).map(|(_, d)| *d).collect();
        if pieces.len() as i64 != count {
            return Err(corrupt(&what, format!("journal entry {seq}: {count} parts expected, {} found", pieces.len())));
        }
        out.push((seq, unpack(&what, &pieces.concat())?));
    }
    Ok(out)
}
