//! Writes besides the commit transaction: plain puts (eventID items, checkpoint parts; the
//! items themselves are built in `plan`), conditional updates of the ledger, and how a
//! cancelled transaction is read (duplicate, conflict or failure).

use super::*;

impl DynamoStore {
    /// Puts `item` unconditionally (eventID items and checkpoint parts: a retry writes the
    /// same content, or under a new attempt id), metered. `what` names the request in errors.
    pub(super) async fn put_plain(&self, what: &str, item: Item) -> Result<(), StoreError> {
        let out = self.put(item).send().await.map_err(|e| sdk_err(what, e))?;
        self.meter(true, out.consumed_capacity());
        Ok(())
    }

    /// A PutItem of `item` into the table, modelled (one write of its size) and returning its
    /// consumed capacity for [`DynamoStore::meter`]; the caller adds any condition and sends it.
    pub(super) fn put(&self, item: Item) -> aws_sdk_dynamodb::operation::put_item::builders::PutItemFluentBuilder {
        self.model_write(&item, 1.0);
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
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
        let update = self.client.update_item().table_name(&self.table).set_key(Some(key)).update_expression(update);
        let update = update.condition_expression(condition).set_expression_attribute_names(expression_names(names));
        let update = update.set_expression_attribute_values((!values.is_empty()).then_some(values));
        let result = update
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
}

pub(super) async fn backoff(round: u32) {
    let base = 25u64.saturating_mul(1 << round.min(6));
    let jitter = rand::random::<u64>() % base.max(1);
    tokio::time::sleep(std::time::Duration::from_millis(base / 2 + jitter)).await;
}

pub(super) fn txn_error(e: SdkError<TransactWriteItemsError>) -> Result<CommitOutcome, StoreError> {
    if let SdkError::ServiceError(se) = &e {
        if let TransactWriteItemsError::TransactionCanceledException(c) = se.err() {
            let codes: Vec<&str> = c.cancellation_reasons().iter().map(|r| r.code().unwrap_or("None")).collect();
            // The ledger put is the first item: failing its condition means a duplicate.
            if codes.first() == Some(&"ConditionalCheckFailed") {
                return Ok(CommitOutcome::AlreadyCommitted);
            }
            if codes.iter().any(|c| *c == "ConditionalCheckFailed" || *c == "TransactionConflict") {
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
