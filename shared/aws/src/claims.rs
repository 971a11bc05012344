//! [`RemediationLedger`] on the stack's DynamoDB table: one item per (eventID, rule) claim
//! and one per resource's latest change by an exempt principal, each written with one
//! conditional PutItem (the losing writer reads the winning item back from the failed
//! condition); other triggers read that item (GetItem).
//!
//! | pk | sk | holds | TTL |
//! |---|---|---|---|
//! | `R#{eventID}#{rule}` | `CLAIM` | `status` (`running`, or the decision), `lease` (epoch s) | 7 days |
//! | `R#{resource}` | `CHANGE` | `t` (eventTime), `e` (eventID) of the latest change by an exempt principal | 30 days |

use crate::dynamo::expression_names;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use aws_sdk_dynamodb::Client;
use std::collections::HashMap;
use trailsight_core::remediate::ports::{AdminError, Claim, RemediationLedger, SeenChange, CLAIM_LEASE_SECONDS};

type Item = HashMap<String, AttributeValue>;

const CLAIM_TTL_SECONDS: i64 = 7 * 24 * 3600;
const CHANGE_TTL_SECONDS: i64 = 30 * 24 * 3600;

/// The remediation ledger in one DynamoDB table (the ingest table: keys never collide).
#[derive(Debug, Clone)]
pub struct DynamoLedger {
    client: Client,
    table: String,
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn text(item: &Item, name: &str) -> Option<String> {
    item.get(name).and_then(|v| v.as_s().ok()).cloned()
}

fn failed(what: &str, e: SdkError<PutItemError>) -> AdminError {
    AdminError::Failed {
        action: format!("dynamodb:PutItem ({what})"),
        why: aws_smithy_types::error::display::DisplayErrorContext(e).to_string(),
    }
}

impl DynamoLedger {
    /// The ledger on `table`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoLedger { client, table: table.into() }
    }

    /// A ledger from an SDK configuration.
    pub fn from_config(config: &aws_config::SdkConfig, table: impl Into<String>) -> Self {
        Self::new(Client::new(config), table)
    }

    /// Puts `item` if `condition` holds; `Ok(None)` when written, `Ok(Some(old))` with the
    /// item that made the condition fail.
    async fn put_unless(
        &self,
        what: &str,
        item: Item,
        condition: &str,
        names: &[(&str, &str)],
        values: Item,
    ) -> Result<Option<Item>, AdminError> {
        let put = self.client.put_item().table_name(&self.table).set_item(Some(item)).condition_expression(condition);
        let put =
            put.set_expression_attribute_names(expression_names(names)).set_expression_attribute_values(Some(values));
        let result =
            put.return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld).send().await;
        match result {
            Ok(_) => Ok(None),
            Err(SdkError::ServiceError(se)) if se.err().is_conditional_check_failed_exception() => {
                let old = match se.err() {
                    PutItemError::ConditionalCheckFailedException(c) => c.item().cloned(),
                    _ => None,
                };
                Ok(Some(old.unwrap_or_default()))
            }
            Err(e) => Err(failed(what, e)),
        }
    }
}

impl RemediationLedger for DynamoLedger {
    async fn claim(&self, event_id: &str, rule: &str, now: i64) -> Result<Claim, AdminError> {
        let item: Item = [
            ("pk".to_owned(), s(format!("R#{event_id}#{rule}"))),
            ("sk".to_owned(), s("CLAIM")),
            ("status".to_owned(), s("running")),
            ("lease".to_owned(), n(now + CLAIM_LEASE_SECONDS)),
            ("expires".to_owned(), n(now + CLAIM_TTL_SECONDS)),
        ]
        .into();
        let values: Item =
            [(":failed".to_owned(), s("failed")), (":running".to_owned(), s("running")), (":now".to_owned(), n(now))]
                .into();
        let condition = "attribute_not_exists(pk) OR #s = :failed OR (#s = :running AND lease < :now)";
        Ok(match self.put_unless("claim", item, condition, &[("#s", "status")], values).await? {
            None => Claim::Won,
            Some(old) => Claim::Taken(text(&old, "status").unwrap_or_else(|| "running".to_owned())),
        })
    }

    async fn finish(&self, event_id: &str, rule: &str, decision: &str, now: i64) -> Result<(), AdminError> {
        let item: Item = [
            ("pk".to_owned(), s(format!("R#{event_id}#{rule}"))),
            ("sk".to_owned(), s("CLAIM")),
            ("status".to_owned(), s(decision)),
            ("lease".to_owned(), n(0)),
            ("expires".to_owned(), n(now + CLAIM_TTL_SECONDS)),
        ]
        .into();
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| failed("finish", e))
    }

    async fn observe(
        &self,
        resource: &str,
        change: &SeenChange,
        exempt: bool,
        now: i64,
    ) -> Result<Option<SeenChange>, AdminError> {
        let newer = |item: &Item| {
            let time = text(item, "t")?;
            (time > change.time).then(|| SeenChange { time, event_id: text(item, "e").unwrap_or_default() })
        };
        if !exempt {
            // Only exempt changes are recorded; anyone else's only asks.
            let out = self
                .client
                .get_item()
                .table_name(&self.table)
                .key("pk", s(format!("R#{resource}")))
                .key("sk", s("CHANGE"))
                .consistent_read(true)
                .send()
                .await
                .map_err(|e| AdminError::Failed {
                    action: "dynamodb:GetItem (observe)".into(),
                    why: aws_smithy_types::error::display::DisplayErrorContext(e).to_string(),
                })?;
            return Ok(out.item().and_then(newer));
        }
        let item: Item = [
            ("pk".to_owned(), s(format!("R#{resource}"))),
            ("sk".to_owned(), s("CHANGE")),
            ("t".to_owned(), s(change.time.clone())),
            ("e".to_owned(), s(change.event_id.clone())),
            ("expires".to_owned(), n(now + CHANGE_TTL_SECONDS)),
        ]
        .into();
        let values: Item = [(":t".to_owned(), s(change.time.clone()))].into();
        let condition = "attribute_not_exists(pk) OR t <= :t";
        Ok(self.put_unless("observe", item, condition, &[], values).await?.and_then(|old| newer(&old)))
    }
}
