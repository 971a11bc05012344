//! Backfill: the trail's existing log files, listed from S3, through the same per-object step
//! as the ingest function, oldest first, so the baselines are warm on day one. Object ids are
//! the function's (`s3://bucket/key#ETag`): a file backfilled and later announced is a
//! duplicate, and a file already ingested is skipped.

use crate::handler::{add, process, Deps, Totals};
use trailsight_core::notify::ObjectRef;
use trailsight_core::ports::{BaselineStore, EventSink, LogSource};

/// What a backfill did.
#[derive(Debug, Default)]
pub struct Report {
    /// Totals over every file.
    pub totals: Totals,
    /// Files that failed, with why (the rest went on).
    pub failed: Vec<(String, String)>,
}

/// Ingests `objects` in order; `progress` is called after each with (done, total).
pub async fn run<L: LogSource, S: BaselineStore, K: EventSink>(
    deps: &Deps<L, S, K>,
    objects: &[ObjectRef],
    mut progress: impl FnMut(usize, usize),
) -> Report {
    let mut report = Report::default();
    for (i, object) in objects.iter().enumerate() {
        match process(deps, object).await {
            Ok(outcome) => add(&mut report.totals, &outcome),
            Err(e) => {
                tracing::error!(key = %object.key, error = %e, "backfill of a file failed; continuing");
                report.totals.failed += 1;
                report.failed.push((object.key.clone(), e.to_string()));
            }
        }
        progress(i + 1, objects.len());
    }
    report
}
