//! The per-object ingest step, shared by the ingest function, `trailsight backfill` and the
//! ingest benchmark: classify an announced object, open it, and hand it to the core's
//! exactly-once flow ([`trailsight_core::ingest::ingest`]) with a counting step that streams it
//! on a blocking thread, only when the ledger does not know it. [`backfill`] runs it over a
//! listed archive, oldest first.

use std::time::Instant;
use trailsight_core::detect::DetectorConfig;
use trailsight_core::ingest::notify::{NotifyError, ObjectRef};
use trailsight_core::ingest::pipeline::Stats;
use trailsight_core::ingest::{ingest, Disposition, IngestError};
use trailsight_core::log::count::count_log;
use trailsight_core::log::object_key::{classify, Classified};
use trailsight_core::store::ports::{BaselineStore, EventSink, LogSource, SourceError};

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
    /// Counting, committing or sending failed. A file that is not a readable CloudTrail log
    /// ([`IngestError::Read`]) stays failed until someone looks.
    #[error("s3://{bucket}/{key}: {source}")]
    Ingest {
        /// Bucket.
        bucket: String,
        /// Key.
        key: String,
        /// What failed.
        source: IngestError,
    },
}

impl ObjectError {
    /// Whether the object is not a readable CloudTrail log, so retrying cannot help.
    pub fn unreadable(&self) -> bool {
        matches!(self, ObjectError::Ingest { source: IngestError::Read(_), .. })
    }
}

/// The counters of one invocation or backfill: the run's [`Stats`].
pub type Totals = Stats;

/// What happened to one object.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Not a log file (digest, Insights file, other object).
    Skipped,
    /// Processed before.
    Duplicate,
    /// Counted now (or its pending events resent): the file's counters.
    Done(Stats),
}

/// Adds one object's outcome to the run's counters.
pub fn add(t: &mut Stats, o: &Outcome) {
    match o {
        Outcome::Skipped => t.skipped_objects += 1,
        Outcome::Duplicate => t.duplicate_deliveries += 1,
        Outcome::Done(s) => t.add(s),
    }
}

/// Reads, counts and ingests one announced object exactly once .
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
    let delivery = ObjectRef { etag: opened.etag.clone().or_else(|| object.etag.clone()), ..object.clone() };
    let id = delivery.id();
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
        .map_err(|source| ObjectError::Ingest { bucket: object.bucket.clone(), key: object.key.clone(), source })?;
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
        Disposition::Resent | Disposition::Processed => {
            Outcome::Done(Stats { events_sent: report.events as u64, ..report.stats.clone() })
        }
    })
}

/// What a backfill did.
#[derive(Debug, Default)]
pub struct BackfillReport {
    /// Totals over every file.
    pub totals: Totals,
    /// Files that failed, with why (the rest went on).
    pub failed: Vec<(String, String)>,
}

/// Ingests `objects` in order, as the function would each, so a file backfilled and later
/// announced is a duplicate and a file already ingested is skipped; `progress` is called after
/// each with (done, total).
pub async fn backfill<L: LogSource, S: BaselineStore, K: EventSink>(
    deps: &Deps<L, S, K>,
    objects: &[ObjectRef],
    mut progress: impl FnMut(usize, usize),
) -> BackfillReport {
    let mut report = BackfillReport::default();
    for (i, object) in objects.iter().enumerate() {
        match process(deps, object).await {
            Ok(outcome) => add(&mut report.totals, &outcome),
            Err(e) => {
                tracing::error!(key = %object.key, error = %e, "backfill of a file failed; continuing");
                report.totals.failed_objects += 1;
                report.failed.push((object.key.clone(), e.to_string()));
            }
        }
        progress(i + 1, objects.len());
    }
    report
}
