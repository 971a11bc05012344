//! Writes after a commit: the idempotent roll-forward of API states, hourly counts and
//! eventID items, and how a cancelled transaction is read (duplicate, conflict or failure).

use super::*;

impl DynamoStore {
    /// Puts `item` unconditionally (payload chunks and eventID items: a retry writes the same
    /// content), metered. `what` names the request in errors.
    pub(super) async fn put_plain(&self, what: &str, item: Item) -> Result<(), StoreError> {
        self.model_write(&item, 1.0);
        let out = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(|e| sdk_err(what, e))?;
        self.meter(true, out.consumed_capacity());
        Ok(())
    }

    /// Updates the item at `key` if `condition` holds, metered (and charged on the item's new
    /// size). `Ok(false)` when the condition failed. `names` are `#name` placeholders.
    pub(super) async fn update_if(
        &self,
        what: &str,
        key: Item,
        update: &str,
        condition: &str,
        names: &[(&str, &str)],
        values: HashMap<String, AttributeValue>,
    ) -> Result<bool, StoreError> {
        let names: HashMap<String, String> = names.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .update_expression(update)
            .condition_expression(condition)
            .set_expression_attribute_names((!names.is_empty()).then_some(names))
            .set_expression_attribute_values((!values.is_empty()).then_some(values))
            .return_values(ReturnValue::AllNew)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await;
        match result {
            Ok(out) => {
                self.meter(true, out.consumed_capacity());
                self.model_write(out.attributes().unwrap_or(&Item::new()), 1.0);
                Ok(true)
            }
            Err(e) if is_conditional_failure(&e) => Ok(false),
            Err(e) => Err(sdk_err(what, e)),
        }
    }

    pub(super) async fn put_api(&self, api: &ApiKey, version: u64, state: &ApiState) -> Result<(), StoreError> {
        let mut item = key(api_pk(api), "STATE");
        item.insert("state".into(), AttributeValue::B(Blob::new(pack(state)?)));
        item.insert("version".into(), n(version));
        self.model_write(&item, 1.0);
        match self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk) OR version < :v")
            .expression_attribute_values(":v", n(version))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
        {
            Ok(out) => {
                self.meter(true, out.consumed_capacity());
                Ok(())
            }
            Err(e) if is_conditional_failure(&e) => Ok(()), // already rolled forward
            Err(e) => Err(sdk_err("PutItem", e)),
        }
    }

    /// Adds one object's counts to one API-hour item, unless that object was added before.
    pub(super) async fn add_counts(
        &self,
        api: &ApiKey,
        hour: i64,
        counts: Vec<MinuteOfHour>,
        object_digest: String,
        expires: i64,
    ) -> Result<(), StoreError> {
        let mut expr = Vec::new();
        let mut values = HashMap::new();
        for (m, calls, errors) in counts {
            expr.push(format!("c{m} :c{m}, e{m} :e{m}"));
            values.insert(format!(":c{m}"), n(calls));
            values.insert(format!(":e{m}"), n(errors));
        }
        values.insert(":o".into(), AttributeValue::Ss(vec![object_digest.clone()]));
        values.insert(":od".into(), s(object_digest));
        values.insert(":x".into(), n(expires));
        let update = format!("ADD {}, objs :o SET expires = :x", expr.join(", "));
        // A failed condition means this object was counted before.
        self.update_if(
            "UpdateItem (counts)",
            key(api_pk(api), &hour_sk(hour * 60)),
            &update,
            "attribute_not_exists(objs) OR NOT contains(objs, :od)",
            &[],
            values,
        )
        .await?;
        Ok(())
    }

    /// Puts one object's eventIDs of one minute (idempotent: a retry writes the same item).
    pub(super) async fn put_ids(
        &self,
        stream: &StreamKey,
        minute: i64,
        object_digest: &str,
        ids: Vec<Blob>,
        expires: i64,
    ) -> Result<(), StoreError> {
        let mut item = key(stream_pk(stream), &ids_sk(minute, object_digest));
        item.insert("ids".into(), AttributeValue::Bs(ids));
        item.insert("expires".into(), n(expires));
        self.put_plain("PutItem (event ids)", item).await
    }

    /// Finishes a committed object's writes (idempotent; see the module docs).
    pub(super) async fn roll_forward(&self, object: &str, payload: &Payload) -> Result<(), StoreError> {
        let mut puts = Vec::with_capacity(payload.apis.len());
        for (api, version, state) in &payload.apis {
            puts.push(self.put_api(api, *version, state));
        }
        stream::iter(puts)
            .buffer_unordered(CONCURRENCY)
            .try_collect::<Vec<()>>()
            .await?;

        let object_digest = digest(object);
        let expires = now_secs() + COUNTS_TTL_SECS;
        let mut hours: BTreeMap<(&ApiKey, i64), Vec<MinuteOfHour>> = BTreeMap::new();
        for c in &payload.counts {
            hours.entry((&c.api, c.minute.div_euclid(60))).or_default().push((
                c.minute.rem_euclid(60),
                c.calls,
                c.errors,
            ));
        }
        let mut adds = Vec::with_capacity(hours.len());
        for ((api, hour), counts) in hours {
            adds.push(self.add_counts(api, hour, counts, object_digest.clone(), expires));
        }
        stream::iter(adds)
            .buffer_unordered(CONCURRENCY)
            .try_collect::<Vec<()>>()
            .await?;

        let ids_expire = now_secs() + IDS_TTL_SECS;
        let mut by_minute: BTreeMap<(&StreamKey, i64), Vec<Blob>> = BTreeMap::new();
        for (stream, ids) in &payload.ids {
            for (id, minute) in ids {
                // Ids are 64-bit (see `event_id_hash`): 8 bytes each.
                by_minute
                    .entry((stream, *minute))
                    .or_default()
                    .push(Blob::new(id.to_be_bytes().to_vec()));
            }
        }
        let mut id_writes = Vec::with_capacity(by_minute.len());
        for ((stream, minute), blobs) in by_minute {
            id_writes.push(self.put_ids(stream, minute, &object_digest, blobs, ids_expire));
        }
        stream::iter(id_writes)
            .buffer_unordered(CONCURRENCY)
            .try_collect::<Vec<()>>()
            .await?;

        for st in &payload.streams {
            // A failed condition means the mark was removed before (or moved to another commit).
            self.update_if(
                "UpdateItem (stream)",
                key(stream_pk(st), "STATE"),
                "REMOVE pending",
                "pending = :o",
                &[],
                HashMap::from([(":o".to_owned(), s(object))]),
            )
            .await?;
        }
        Ok(())
    }

    /// Finishes the roll-forward of `object` if its ledger entry still has a payload.
    pub(super) async fn finish(&self, object: &str) -> Result<(), StoreError> {
        if let Some(ledger) = self.ledger(object).await? {
            if get_s(&ledger, "status") == Some("pending") {
                let payload = self.payload(object, &ledger).await?;
                self.roll_forward(object, &payload).await?;
            }
        }
        Ok(())
    }
}

pub(super) async fn backoff(round: u32) {
    let base = 25u64.saturating_mul(1 << round.min(6));
    let jitter = rand::random::<u64>() % base.max(1);
    tokio::time::sleep(std::time::Duration::from_millis(base / 2 + jitter)).await;
}

pub(super) fn txn_error(e: SdkError<TransactWriteItemsError>) -> Result<CommitOutcome, StoreError> {
    if let SdkError::ServiceError(se) = &e {
        if let TransactWriteItemsError::TransactionCanceledException(c) = se.err() {
            let codes: Vec<&str> = c
                .cancellation_reasons()
                .iter()
                .map(|r| r.code().unwrap_or("None"))
                .collect();
            // The ledger put is the first item: failing its condition means a duplicate.
            if codes.first() == Some(&"ConditionalCheckFailed") {
                return Ok(CommitOutcome::AlreadyCommitted);
            }
            if codes
                .iter()
                .any(|c| *c == "ConditionalCheckFailed" || *c == "TransactionConflict")
            {
                return Ok(CommitOutcome::Conflict);
            }
            return Err(unavailable("TransactWriteItems", format!("cancelled: {codes:?}")));
        }
        if se.err().code() == Some("TransactionConflictException") {
            return Ok(CommitOutcome::Conflict);
        }
    }
    Err(sdk_err("TransactWriteItems", e))
}
