//! The ingest handler: one Lambda event (any way a log delivery is announced) in, every
//! announced log file read, counted and ingested exactly once, a response out.
//!
//! Through SQS, each message succeeds or fails on its own and failed messages come back in
//! `batchItemFailures`; otherwise any failed object fails the invocation so Lambda retries it
//! (duplicates are harmless: the ingest flow is idempotent). Digest files, Insights files and
//! other objects are skipped with a log line.

use serde_json::{json, Value};
use std::time::Instant;
use trailsight_aws::telemetry::Metrics;
use trailsight_core::ingest::{notify, IngestError};
use trailsight_core::store::ports::{BaselineStore, EventSink, LogSource};

/// The per-object step and its types live in [`trailsight_aws::object`], shared with the CLI's
/// backfill and the benchmark.
pub use trailsight_aws::object::{add, process, Deps, ObjectError, Outcome, Totals};

/// The invocation failed as a whole (not through SQS): Lambda retries it.
#[derive(Debug, thiserror::Error)]
#[error("{failed} of {total} announced objects failed; first: {first}")]
pub struct HandlerError {
    /// Objects that failed.
    pub failed: usize,
    /// Objects announced.
    pub total: usize,
    /// The first error.
    pub first: ObjectError,
}

impl From<HandlerError> for lambda_runtime::Diagnostic {
    fn from(e: HandlerError) -> Self {
        let error_type = match &e.first {
            ObjectError::Notification(_) => "UnsupportedNotification",
            ObjectError::Source(_) => "LogObjectUnavailable",
            ObjectError::Ingest { source: IngestError::Read(_), .. } => "InvalidLogFile",
            ObjectError::Ingest { source: IngestError::Aborted(_), .. } => "Aborted",
            ObjectError::Ingest { .. } => "IngestFailed",
        };
        lambda_runtime::Diagnostic { error_type: error_type.to_owned(), error_message: e.to_string() }
    }
}

/// Handles one Lambda event; returns the response (with `batchItemFailures` for SQS).
pub async fn handle<L: LogSource, S: BaselineStore, K: EventSink>(
    deps: &Deps<L, S, K>,
    event: &Value,
    totals: &mut Totals,
) -> Result<Value, HandlerError> {
    let groups = notify::parse(event);
    let via_sqs = groups.iter().any(|g| g.message_id.is_some());
    let mut failed_messages = Vec::new();
    let mut first_error = None;
    let mut announced = 0usize;
    for group in groups {
        let result = match group.objects {
            Err(e) => {
                tracing::error!(error = %e, message_id = group.message_id.as_deref(), "notification not understood");
                announced += 1;
                Err(ObjectError::from(e))
            }
            Ok(objects) => {
                let mut result = Ok(());
                for object in objects {
                    announced += 1;
                    match process(deps, &object).await {
                        Ok(outcome) => add(totals, &outcome),
                        Err(e) => {
                            tracing::error!(bucket = %object.bucket, key = %object.key, error = %e, "log delivery failed; it will be retried");
                            result = Err(e);
                            // The rest of a failed message is retried with it: stop here.
                            break;
                        }
                    }
                }
                result
            }
        };
        if let Err(e) = result {
            totals.failed_objects += 1;
            failed_messages.extend(group.message_id.clone());
            first_error.get_or_insert(e);
        }
    }
    if via_sqs {
        let failed: Vec<Value> = failed_messages.iter().map(|id| json!({"itemIdentifier": id})).collect();
        return Ok(json!({"batchItemFailures": failed}));
    }
    if let Some(first) = first_error {
        return Err(HandlerError {
            failed: usize::try_from(totals.failed_objects).unwrap_or(usize::MAX),
            total: announced,
            first,
        });
    }
    Ok(
        json!({"files": totals.files, "skipped": totals.skipped_objects, "duplicates": totals.duplicate_deliveries, "events": totals.events_sent}),
    )
}

/// Runs [`handle`] for one invocation and prints its EMF metrics line.
pub async fn invoke<L: LogSource, S: BaselineStore, K: EventSink>(
    deps: &Deps<L, S, K>,
    event: &Value,
) -> Result<Value, HandlerError> {
    let started = Instant::now();
    let mut totals = Totals::default();
    let result = handle(deps, event, &mut totals).await;
    let (read_units, write_units) = deps.store.consumed();
    let mut m = Metrics::default();
    m.property("function", "ingest")
        .add("Files", totals.files as f64, "Count")
        .add("Records", (totals.records + totals.duplicates) as f64, "Count")
        .add("RejectedRecords", totals.rejected_records as f64, "Count")
        .add("SkippedObjects", totals.skipped_objects as f64, "Count")
        .add("DuplicateDeliveries", totals.duplicate_deliveries as f64, "Count")
        .add("InsightsStarted", totals.insights_started as f64, "Count")
        .add("RiskyChanges", totals.risky_changes as f64, "Count")
        .add("FailedObjects", totals.failed_objects as f64, "Count")
        .add("DynamoDBReadUnits", read_units, "Count")
        .add("DynamoDBWriteUnits", write_units, "Count")
        .add("Duration", started.elapsed().as_secs_f64() * 1000.0, "Milliseconds");
    m.emit();
    result
}

#[cfg(test)]
mod tests;
