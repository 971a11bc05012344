//! The ingest handler: one Lambda event (any way a log delivery is announced) in, every
//! announced log file read, counted and ingested exactly once, a response out.
//!
//! Through SQS, each message succeeds or fails on its own and failed messages come back in
//! `batchItemFailures`; otherwise any failed object fails the invocation so Lambda retries it
//! (duplicates are harmless: the ingest flow is idempotent). Digest files, Insights files and
//! other objects are skipped with a log line.

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse};
use serde_json::{json, Value};
use std::time::Instant;
use trailsight_aws::telemetry::Metrics;
use trailsight_core::count::count_log;
use trailsight_core::detect::DetectorConfig;
use trailsight_core::ingest::{ingest, Disposition, IngestError};
use trailsight_core::key::{classify, Classified};
use trailsight_core::notify::{self, NotifyError, ObjectRef};
use trailsight_core::ports::{BaselineStore, EventSink, LogSource, SourceError};
use trailsight_core::reader::ReadError;

/// What the handler works with: ports, not clients.
#[derive(Debug)]
pub struct Deps<L, S, K> {
    /// Where log objects are read.
    pub source: L,
    /// Baselines, counts and the ledger.
    pub store: S,
    /// Where events go.
    pub sink: K,
    /// Detector settings.
    pub detector: DetectorConfig,
    /// Whether risky-change rules run.
    pub rules: bool,
}

/// Why an object (and so its message, or the invocation) failed; the delivery is retried.
#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    /// The notification could not be understood.
    #[error(transparent)]
    Notification(#[from] NotifyError),
    /// The object could not be opened.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// The object is not a readable CloudTrail log (it stays failed until someone looks).
    #[error("s3://{bucket}/{key}: {source}")]
    Read {
        /// Bucket.
        bucket: String,
        /// Key.
        key: String,
        /// What was wrong.
        source: ReadError,
    },
    /// State or event delivery failed.
    #[error("s3://{bucket}/{key}: {source}")]
    Ingest {
        /// Bucket.
        bucket: String,
        /// Key.
        key: String,
        /// What failed.
        source: IngestError,
    },
    /// The counting task died.
    #[error("counting s3://{bucket}/{key} was aborted: {why}")]
    Aborted {
        /// Bucket.
        bucket: String,
        /// Key.
        key: String,
        /// Why.
        why: String,
    },
}

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
            ObjectError::Read { .. } => "InvalidLogFile",
            ObjectError::Ingest { .. } => "IngestFailed",
            ObjectError::Aborted { .. } => "Aborted",
        };
        lambda_runtime::Diagnostic {
            error_type: error_type.to_owned(),
            error_message: e.to_string(),
        }
    }
}

/// Totals of one invocation, for the EMF metrics line.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Totals {
    /// Log files counted now.
    pub files: u64,
    /// Objects skipped (digests, Insights files, others).
    pub skipped: u64,
    /// Duplicate deliveries recognised.
    pub duplicates: u64,
    /// Records counted.
    pub records: u64,
    /// Records rejected.
    pub rejected: u64,
    /// Insight Start events.
    pub insights_started: u64,
    /// Risky-change events.
    pub risky_changes: u64,
    /// Events sent.
    pub events: u64,
    /// Objects that failed.
    pub failed: u64,
}

/// What happened to one object.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Not a log file (digest, Insights file, other object).
    Skipped,
    /// Processed before.
    Duplicate,
    /// Counted now (or its pending events resent).
    Done {
        /// Records counted.
        records: u64,
        /// Records rejected.
        rejected: u64,
        /// Events sent.
        events: u64,
        /// Insight Starts among them.
        starts: u64,
        /// Risky changes among them.
        risky: u64,
    },
}

/// Handles one Lambda event; returns the response (with `batchItemFailures` for SQS).
pub async fn handle<L: LogSource, S: BaselineStore, K: EventSink>(
    deps: &Deps<L, S, K>,
    event: &Value,
    totals: &mut Totals,
) -> Result<Value, HandlerError> {
    let groups = notify::parse(event);
    let via_sqs = groups.iter().any(|g| g.message_id.is_some());
    let mut failures = SqsBatchResponse::default();
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
            totals.failed += 1;
            if let Some(id) = group.message_id.clone() {
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = id;
                failures.batch_item_failures.push(failure);
            }
            first_error.get_or_insert(e);
        }
    }
    if via_sqs {
        return serde_json::to_value(&failures).map_err(|e| HandlerError {
            failed: failures.batch_item_failures.len(),
            total: announced,
            first: ObjectError::Aborted {
                bucket: String::new(),
                key: String::new(),
                why: e.to_string(),
            },
        });
    }
    if let Some(first) = first_error {
        return Err(HandlerError {
            failed: usize::try_from(totals.failed).unwrap_or(usize::MAX),
            total: announced,
            first,
        });
    }
    Ok(
        json!({"files": totals.files, "skipped": totals.skipped, "duplicates": totals.duplicates, "events": totals.events}),
    )
}

/// Adds one object's outcome to the totals.
pub fn add(t: &mut Totals, o: &Outcome) {
    match o {
        Outcome::Skipped => t.skipped += 1,
        Outcome::Duplicate => t.duplicates += 1,
        Outcome::Done {
            records,
            rejected,
            events,
            starts,
            risky,
        } => {
            t.files += 1;
            t.records += records;
            t.rejected += rejected;
            t.events += events;
            t.insights_started += starts;
            t.risky_changes += risky;
        }
    }
}

/// Reads, counts and ingests one announced object exactly once (the handler's per-object
/// step, also used by `trailsight backfill`).
pub async fn process<L: LogSource, S: BaselineStore, K: EventSink>(
    deps: &Deps<L, S, K>,
    object: &ObjectRef,
) -> Result<Outcome, ObjectError> {
    let started = Instant::now();
    let key = match classify(&object.key) {
        Classified::Skip(reason) => {
            tracing::info!(bucket = %object.bucket, key = %object.key, %reason, "skipped");
            return Ok(Outcome::Skipped);
        }
        Classified::Log(key) => key,
    };
    let opened = deps.source.open(&object.bucket, &object.key).await?;
    let delivery = ObjectRef {
        etag: opened.etag.clone().or_else(|| object.etag.clone()),
        ..object.clone()
    };
    let id = delivery.id();
    let ingest_error = |source: IngestError| ObjectError::Ingest {
        bucket: object.bucket.clone(),
        key: object.key.clone(),
        source,
    };
    let (reader, rules, name, log_key) = (opened.reader, deps.rules, object.key.clone(), key.clone());
    let object_id = id.clone();
    // Called only for an object the ledger does not know: a duplicate is never read.
    let count = move || async move {
        let batch = tokio::task::spawn_blocking(move || count_log(reader, &name, Some(&log_key), rules))
            .await
            .map_err(|e| IngestError::Aborted(e.to_string()))??;
        for reason in &batch.rejection_reasons {
            tracing::warn!(object = %object_id, %reason, "record rejected");
        }
        Ok(batch)
    };
    let report = ingest(&deps.store, &deps.sink, &deps.detector, &id, &key, count)
        .await
        .map_err(|e| match e {
            IngestError::Read(source) => ObjectError::Read {
                bucket: object.bucket.clone(),
                key: object.key.clone(),
                source,
            },
            IngestError::Aborted(why) => ObjectError::Aborted {
                bucket: object.bucket.clone(),
                key: object.key.clone(),
                why,
            },
            other => ingest_error(other),
        })?;
    let stats = &report.stats;
    let (records, rejected) = (stats.records + stats.duplicates, stats.rejected_records);
    tracing::info!(
        object = %id,
        disposition = ?report.disposition,
        records,
        rejected,
        events = report.events,
        attempts = report.attempts,
        ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        "log file ingested"
    );
    Ok(match report.disposition {
        Disposition::Duplicate => Outcome::Duplicate,
        Disposition::Resent | Disposition::Processed => Outcome::Done {
            records,
            rejected,
            events: report.events as u64,
            starts: report.stats.insights_started,
            risky: report.stats.risky_changes,
        },
    })
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
        .add("Records", totals.records as f64, "Count")
        .add("RejectedRecords", totals.rejected as f64, "Count")
        .add("SkippedObjects", totals.skipped as f64, "Count")
        .add("DuplicateDeliveries", totals.duplicates as f64, "Count")
        .add("InsightsStarted", totals.insights_started as f64, "Count")
        .add("RiskyChanges", totals.risky_changes as f64, "Count")
        .add("FailedObjects", totals.failed as f64, "Count")
        .add("DynamoDBReadUnits", read_units, "Count")
        .add("DynamoDBWriteUnits", write_units, "Count")
        .add("Duration", started.elapsed().as_secs_f64() * 1000.0, "Milliseconds");
    m.emit();
    result
}

#[cfg(test)]
mod tests;
