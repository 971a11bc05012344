//! What `trailsight replay` prints: events as JSON lines, the summary line and the `--top` table.
use serde::Serialize;
use std::io::Write;
use trailsight_core::api::ApiKey;
use trailsight_core::events::Envelope;
use trailsight_core::ingest::pipeline::{ApiTotals, Stats};

/// The one-line JSON summary printed last on stderr.
#[derive(Debug, Serialize)]
pub struct Summary {
    files: u64,
    records: u64,
    duplicates: u64,
    rejected_files: u64,
    rejected_records: u64,
    skipped_objects: u64,
    seconds: f64,
    already_processed: u64,
    insights_started: u64,
    insights_ended: u64,
    risky_changes: u64,
}

impl Summary {
    /// The summary of a run's stats.
    pub fn new(s: &Stats, already_processed: u64, seconds: f64) -> Self {
        Summary {
            files: s.files,
            records: s.records,
            duplicates: s.duplicates,
            rejected_files: s.rejected_files,
            rejected_records: s.rejected_records,
            skipped_objects: s.skipped_objects,
            seconds: (seconds * 1000.0).round() / 1000.0,
            already_processed,
            insights_started: s.insights_started,
            insights_ended: s.insights_ended,
            risky_changes: s.risky_changes,
        }
    }
}

/// Writes events as JSON lines.
pub fn write_events(out: &mut dyn Write, events: &[Envelope]) -> std::io::Result<()> {
    for e in events {
        serde_json::to_writer(&mut *out, e)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// A readable table of the `n` busiest APIs.
pub fn top_table(totals: &[(&ApiKey, &ApiTotals)], n: usize) -> String {
    let mut rows: Vec<_> = totals.to_vec();
    rows.sort_by(|a, b| b.1.calls.cmp(&a.1.calls).then_with(|| a.0.cmp(b.0)));
    rows.truncate(n);
    let mut s = format!(
        "{:>10} {:>8}  {:<14} {:<12} {:<28} {}\n",
        "calls", "errors", "account", "region", "eventSource", "eventName"
    );
    for (k, t) in rows {
        s.push_str(&format!(
            "{:>10} {:>8}  {:<14} {:<12} {:<28} {}\n",
            t.calls, t.errors, k.account, k.region, k.event_source, k.event_name
        ));
    }
    s
}
