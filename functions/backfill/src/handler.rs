//! The backfill worker's handler: the two steps of the backfill state machine.
//!
//! - `list_streams`: walks the trail bucket's folders for its account and region streams and
//!   writes them as a JSON manifest, one map item per stream, for the Distributed Map.
//! - `backfill`: ingests one stream's files in delivery order (key order), from `start_after`,
//!   until the listing ends (`done: true`) or the invocation's time budget nearly runs out;
//!   it returns the item itself with `start_after` moved on and its counters added, and the
//!   state machine calls it again with that. Each file goes through the same exactly-once
//!   flow as live ingest, so a repeated or redriven call skips what is done and live ingest
//!   of the same stream can run meanwhile. A file that is not a readable CloudTrail log is
//!   counted as failed and passed over; any other failure fails the call, which the state
//!   machine retries from the same `start_after`.

use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};
use trailsight_aws::object::{process, ObjectError, Outcome};
use trailsight_aws::telemetry::Metrics;
use trailsight_core::events::Envelope;
use trailsight_core::ingest::archive::{start_after_day, streams};
use trailsight_core::store::ports::{BaselineStore, EventSink, Listing, LogArchive, LogSource, SinkError, SourceError};

pub use trailsight_aws::object::Deps;

/// Objects listed per request while backfilling (S3 returns at most 1,000).
const PAGE: usize = 1000;
/// Time kept back at the end of an invocation, beyond twice the slowest file so far.
const RESERVE: Duration = Duration::from_secs(10);
/// Keys of failed files kept in the output (the state's payload is limited to 256 KB).
const FAILED_KEYS_KEPT: usize = 10;

/// One invocation's input (the `action` field says which step).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Request {
    /// List the archive's streams into a manifest.
    ListStreams(ListStreams),
    /// Backfill one stream (a map item, or the previous call's output).
    Backfill(StreamProgress),
}

/// Where to find the streams.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListStreams {
    /// The trail bucket.
    pub bucket: String,
    /// The trail's key prefix (with its trailing slash), or empty.
    #[serde(default)]
    pub prefix: String,
    /// Backfill files delivered on or after this day (`YYYY-MM-DD`); empty or absent: all.
    #[serde(default)]
    pub since: Option<String>,
    /// A name for this run (the execution's name): the manifest's key is derived from it.
    pub run: String,
}

/// Where the manifest was written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Its bucket.
    pub manifest_bucket: String,
    /// Its key.
    pub manifest_key: String,
    /// Streams listed in it.
    pub streams: usize,
}

/// One stream's backfill: where it stands and what it did so far (summed over calls).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StreamProgress {
    /// The trail bucket.
    pub bucket: String,
    /// The stream's folder (`…/AWSLogs/[o-…/]ACCOUNT/CloudTrail/REGION/`).
    pub prefix: String,
    /// The last key handled; the next call lists after it (absent: from the start).
    #[serde(default)]
    pub start_after: Option<String>,
    /// Whether the listing has ended.
    #[serde(default)]
    pub done: bool,
    /// Files counted now.
    #[serde(default)]
    pub files: u64,
    /// Records counted.
    #[serde(default)]
    pub records: u64,
    /// Files ingested before (by live ingest or an earlier call): skipped after one read.
    #[serde(default)]
    pub duplicates: u64,
    /// Objects that are not log files (skipped).
    #[serde(default)]
    pub skipped: u64,
    /// Files that are not readable CloudTrail logs, or vanished after the listing.
    #[serde(default)]
    pub failed: u64,
    /// The first failed keys.
    #[serde(default)]
    pub failed_keys: Vec<String>,
    /// Events the files caused (kept in the outbox; sent only when configured).
    #[serde(default)]
    pub events: u64,
    /// Invocations so far.
    #[serde(default)]
    pub calls: u64,
}

/// When an invocation stops taking new files.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    deadline: Option<Instant>,
    max_files: Option<usize>,
}

impl Budget {
    /// Until `deadline` (the invocation's), keeping back [`RESERVE`] and twice the slowest file.
    pub fn until(deadline: Instant) -> Self {
        Budget { deadline: Some(deadline), max_files: None }
    }

    /// Until `deadline_ms` (milliseconds since the epoch: the Lambda context's deadline).
    pub fn until_epoch_ms(deadline_ms: u64) -> Self {
        let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis());
        let left = u64::try_from(u128::from(deadline_ms).saturating_sub(now_ms)).unwrap_or(0);
        Self::until(Instant::now() + Duration::from_millis(left))
    }

    /// At most `n` files per call (tests and tools).
    pub fn files(n: usize) -> Self {
        Budget { deadline: None, max_files: Some(n) }
    }

    fn allows(&self, files: usize, slowest: Duration) -> bool {
        self.max_files.is_none_or(|m| files < m)
            && self.deadline.is_none_or(|d| Instant::now() + slowest * 2 + RESERVE < d)
    }
}

/// Why an invocation failed; the state machine retries it.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// The input is not one of the two steps.
    #[error("backfill input not understood: {0}; expected {{\"action\": \"list_streams\" | \"backfill\", ...}} as the state machine sends")]
    Input(#[from] serde_json::Error),
    /// Listing the archive or writing the manifest failed.
    #[error(transparent)]
    Archive(#[from] SourceError),
    /// A file could not be ingested for a reason that may pass (state store, events, access).
    #[error("{0}; the call is retried from the same start key (files done are skipped)")]
    Ingest(#[from] ObjectError),
    /// `since` is not a day.
    #[error("since {0:?} is not a day (YYYY-MM-DD)")]
    Since(String),
}

impl From<WorkerError> for lambda_runtime::Diagnostic {
    fn from(e: WorkerError) -> Self {
        let error_type = match &e {
            WorkerError::Input(_) | WorkerError::Since(_) => "InvalidInput",
            WorkerError::Archive(_) => "ArchiveUnavailable",
            WorkerError::Ingest(_) => "IngestFailed",
        };
        lambda_runtime::Diagnostic { error_type: error_type.to_owned(), error_message: e.to_string() }
    }
}

/// Events of backfilled files: sent to the bus, or kept in the outbox only.
#[derive(Debug)]
pub struct MaybeSink<K>(pub Option<K>);

impl<K: EventSink + Sync> EventSink for MaybeSink<K> {
    async fn put(&self, events: &[Envelope]) -> Result<(), SinkError> {
        match &self.0 {
            Some(sink) => sink.put(events).await,
            None => Ok(()),
        }
    }
}

/// Handles one invocation.
pub async fn invoke<L, S, K, A>(
    deps: &Deps<L, S, K>,
    archive: &A,
    manifest_bucket: &str,
    input: serde_json::Value,
    budget: Budget,
) -> Result<serde_json::Value, WorkerError>
where
    L: LogSource,
    S: BaselineStore,
    K: EventSink,
    A: LogArchive,
{
    let out = match serde_json::from_value::<Request>(input)? {
        Request::ListStreams(list) => serde_json::to_value(list_streams(archive, manifest_bucket, &list).await?)?,
        Request::Backfill(progress) => {
            serde_json::to_value(Request::Backfill(backfill(deps, archive, progress, budget).await?))?
        }
    };
    Ok(out)
}

/// Lists the streams and writes the manifest: a JSON array of `backfill` requests.
pub async fn list_streams<A: LogArchive>(
    archive: &A,
    manifest_bucket: &str,
    list: &ListStreams,
) -> Result<Manifest, WorkerError> {
    let since = list.since.as_deref().filter(|s| !s.trim().is_empty());
    let mut items = Vec::new();
    for prefix in streams(archive, &list.bucket, &list.prefix).await? {
        let start_after = match since {
            None => None,
            Some(day) => Some(start_after_day(&prefix, day).ok_or_else(|| WorkerError::Since(day.to_owned()))?),
        };
        items.push(Request::Backfill(StreamProgress {
            bucket: list.bucket.clone(),
            prefix,
            start_after,
            ..StreamProgress::default()
        }));
    }
    let manifest_key = format!("manifests/{}/streams.json", list.run);
    archive.write(manifest_bucket, &manifest_key, serde_json::to_vec(&items)?).await?;
    tracing::info!(streams = items.len(), manifest = %manifest_key, "backfill streams listed");
    Ok(Manifest { manifest_bucket: manifest_bucket.to_owned(), manifest_key, streams: items.len() })
}

/// Backfills one stream from `p.start_after` until it ends or the budget runs out.
pub async fn backfill<L, S, K, A>(
    deps: &Deps<L, S, K>,
    archive: &A,
    mut p: StreamProgress,
    budget: Budget,
) -> Result<StreamProgress, WorkerError>
where
    L: LogSource,
    S: BaselineStore,
    K: EventSink,
    A: LogArchive,
{
    let before = p.clone();
    let started = Instant::now();
    let (mut handled, mut slowest) = (0usize, Duration::ZERO);
    p.calls += 1;
    'listing: loop {
        let listing =
            Listing { bucket: &p.bucket, prefix: &p.prefix, start_after: p.start_after.as_deref(), max: PAGE };
        let page = archive.page(listing).await?;
        if page.is_empty() {
            p.done = true;
            break;
        }
        for object in page {
            if !budget.allows(handled, slowest) {
                break 'listing;
            }
            let t = Instant::now();
            match process(deps, &object).await {
                Ok(Outcome::Skipped) => p.skipped += 1,
                Ok(Outcome::Duplicate) => p.duplicates += 1,
                Ok(Outcome::Done(stats)) => {
                    p.files += 1;
                    p.records += stats.records;
                    p.events += stats.events_sent;
                }
                // Not a CloudTrail log, or deleted since the listing: retrying cannot help.
                Err(e) if e.unreadable() || matches!(e, ObjectError::Source(SourceError::NotFound { .. })) => {
                    tracing::error!(key = %object.key, error = %e, "backfill passes over a file");
                    p.failed += 1;
                    if p.failed_keys.len() < FAILED_KEYS_KEPT {
                        p.failed_keys.push(object.key.clone());
                    }
                }
                Err(e) => return Err(e.into()),
            }
            p.start_after = Some(object.key);
            handled += 1;
            slowest = slowest.max(t.elapsed());
        }
    }
    emit_metrics(&before, &p, started.elapsed());
    Ok(p)
}

/// One EMF line per call: files and records backfilled, per stream and in total.
fn emit_metrics(before: &StreamProgress, after: &StreamProgress, took: Duration) {
    let stream = stream_name(&after.prefix);
    let mut m = Metrics::default();
    m.add("FilesBackfilled", (after.files - before.files) as f64, "Count")
        .add("RecordsBackfilled", (after.records - before.records) as f64, "Count")
        .add("DuplicateFilesSkipped", (after.duplicates - before.duplicates) as f64, "Count")
        .add("FailedFiles", (after.failed - before.failed) as f64, "Count")
        .add("Duration", took.as_secs_f64() * 1000.0, "Milliseconds")
        .property("function", "backfill")
        .dimension("stream", stream.clone())
        .property("done", after.done);
    m.emit();
    tracing::info!(
        stream,
        files = after.files - before.files,
        records = after.records - before.records,
        duplicates = after.duplicates - before.duplicates,
        done = after.done,
        "backfill call finished"
    );
}

/// `ACCOUNT/REGION` of a stream folder.
fn stream_name(prefix: &str) -> String {
    let parts: Vec<&str> = prefix.trim_end_matches('/').rsplit('/').collect();
    match (parts.first(), parts.get(2)) {
        (Some(region), Some(account)) => format!("{account}/{region}"),
        _ => prefix.to_owned(),
    }
}

#[cfg(test)]
mod tests;
