//! The HTML report: one self-contained file (inline CSS, SVG and script; no network) that a
//! person reads or attaches to a ticket.
//!
//! Built from a replay (`trailsight replay PATH --report FILE`) or from events already emitted
//! (`trailsight report EVENTS.jsonl --store PATH -o FILE`). It holds what was read (the
//! [`Scope`]), each insight with the chart of what the detector saw around it (calls per minute,
//! the model's expectation and normal band, the insight shaded) and its attributions, and
//! sortable, filterable tables of risky changes and remediation decisions.

mod chart;
mod html;
#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use trailsight_core::detect::Chart;
use trailsight_core::events::{Envelope, DETAIL_TYPE_INSIGHT, DETAIL_TYPE_REMEDIATION, DETAIL_TYPE_RISKY_CHANGE};
use trailsight_core::log::object_key::LogKey;

pub use html::render;

/// What a report was built from: the log files read.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Scope {
    /// Log files read.
    pub files: u64,
    /// Records counted.
    pub records: u64,
    /// Accounts whose files were read.
    pub accounts: BTreeSet<String>,
    /// Regions whose files were read.
    pub regions: BTreeSet<String>,
    /// Delivery time of the first file read (RFC 3339).
    pub first: Option<String>,
    /// Delivery time of the last file read (RFC 3339).
    pub last: Option<String>,
}

impl Scope {
    /// Adds one file read.
    pub fn add_file(&mut self, key: &LogKey, records: u64) {
        self.files += 1;
        self.records += records;
        if !self.accounts.contains(&key.account) {
            self.accounts.insert(key.account.clone());
        }
        if !self.regions.contains(&key.region) {
            self.regions.insert(key.region.clone());
        }
        let t = key.delivered.format("%Y-%m-%dT%H:%MZ").to_string();
        if self.first.as_ref().is_none_or(|f| &t < f) {
            self.first = Some(t.clone());
        }
        if self.last.as_ref().is_none_or(|l| &t > l) {
            self.last = Some(t);
        }
    }

    /// Adds what another run read (an earlier replay into the same store).
    pub fn merge(&mut self, other: &Scope) {
        self.files += other.files;
        self.records += other.records;
        self.accounts.extend(other.accounts.iter().cloned());
        self.regions.extend(other.regions.iter().cloned());
        self.first = [&self.first, &other.first].into_iter().flatten().min().cloned();
        self.last = [&self.last, &other.last].into_iter().flatten().max().cloned();
    }

    /// A scope known only from events (no store): accounts, regions and times of the events.
    fn of_events(events: &[Envelope]) -> Scope {
        let mut s = Scope::default();
        for e in events {
            s.accounts.insert(e.account.clone());
            s.regions.insert(e.region.clone());
        }
        s.first = events.iter().map(|e| e.time.clone()).min();
        s.last = events.iter().map(|e| e.time.clone()).max();
        s
    }
}

/// One insight: its Start, its End once ended, and the chart of what the detector saw.
#[derive(Debug, Clone)]
pub struct InsightView {
    /// The Start event.
    pub start: Envelope,
    /// The End event, if the insight ended within what was read.
    pub end: Option<Envelope>,
    /// The chart, when the run recorded it.
    pub chart: Option<Chart>,
}

/// What a report covers.
#[derive(Debug, Clone, PartialEq)]
pub enum Coverage {
    /// The log files replays read into the store, with their files and records counted.
    Files(Scope),
    /// Events alone (no store): the accounts, regions and times they show; how many files and
    /// records lie behind them is not known.
    Events(Scope),
}

impl Coverage {
    /// The accounts, regions and times covered.
    pub fn scope(&self) -> &Scope {
        match self {
            Coverage::Files(s) | Coverage::Events(s) => s,
        }
    }
}

/// Everything a report shows.
#[derive(Debug, Clone)]
pub struct Report {
    /// What was read.
    pub coverage: Coverage,
    /// Insights, in Start order.
    pub insights: Vec<InsightView>,
    /// Risky-change events.
    pub risky: Vec<Envelope>,
    /// Remediation decisions.
    pub remediation: Vec<Envelope>,
}

impl Report {
    /// A report of `events` (in emission order), with the charts recorded for them by their
    /// `sharedEventID`. Without a known scope, accounts, regions and times come from the events.
    pub fn build(scope: Option<Scope>, events: &[Envelope], mut charts: BTreeMap<String, Chart>) -> Report {
        let mut insights: Vec<InsightView> = vec![];
        let mut at: BTreeMap<String, usize> = BTreeMap::new();
        let (mut risky, mut remediation) = (vec![], vec![]);
        for e in events {
            match e.detail_type.as_str() {
                DETAIL_TYPE_INSIGHT => {
                    let id = e.detail["sharedEventID"].as_str().unwrap_or_default().to_owned();
                    match (e.state(), at.get(&id)) {
                        (Some("End"), Some(&i)) => insights[i].end = Some(e.clone()),
                        (Some("Start"), None) => {
                            at.insert(id.clone(), insights.len());
                            insights.push(InsightView { start: e.clone(), end: None, chart: charts.remove(&id) });
                        }
                        // An End whose Start was emitted before what was read, or a repeat.
                        _ => {}
                    }
                }
                DETAIL_TYPE_RISKY_CHANGE => risky.push(e.clone()),
                DETAIL_TYPE_REMEDIATION => remediation.push(e.clone()),
                _ => {}
            }
        }
        let coverage = match scope {
            Some(files) => Coverage::Files(files),
            None => Coverage::Events(Scope::of_events(events)),
        };
        Report { coverage, insights, risky, remediation }
    }
}

/// Why a report could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The events file cannot be read.
    #[error("cannot read events from {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A line of the events file is not an event.
    #[error("{path}:{line}: not a trailsight event ({why}); expected the JSON lines `trailsight replay --format json` prints or an EventBridge target receives")]
    Event {
        /// The file.
        path: PathBuf,
        /// Line number (from 1).
        line: usize,
        /// Why.
        why: String,
    },
    /// The report cannot be written.
    #[error("cannot write the report to {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The store cannot be read.
    #[error(transparent)]
    Store(#[from] trailsight_core::store::ports::StoreError),
}

/// Reads events as JSON lines (blank lines and a trailing summary line are skipped).
pub fn read_events(path: &Path) -> Result<Vec<Envelope>, ReportError> {
    let read = |source| ReportError::Read { path: path.to_owned(), source };
    let file = std::fs::File::open(path).map_err(read)?;
    let mut events = vec![];
    for (i, line) in BufReader::new(file).lines().enumerate() {
        let line = line.map_err(read)?;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let value: serde_json::Value = serde_json::from_str(line).map_err(|e| ReportError::Event {
            path: path.to_owned(),
            line: i + 1,
            why: e.to_string(),
        })?;
        // The replay's summary line, if it was captured with the events.
        if value.get("detail-type").is_none() && value.get("files").is_some() {
            continue;
        }
        let event: Envelope = serde_json::from_value(value).map_err(|e| ReportError::Event {
            path: path.to_owned(),
            line: i + 1,
            why: e.to_string(),
        })?;
        events.push(event);
    }
    Ok(events)
}

/// Writes the report's HTML to `path`.
pub fn write(report: &Report, path: &Path) -> Result<(), ReportError> {
    let err = |source| ReportError::Write { path: path.to_owned(), source };
    let mut file = std::fs::File::create(path).map_err(err)?;
    file.write_all(render(report).as_bytes()).map_err(err)?;
    file.flush().map_err(err)
}

/// `trailsight report`: events from a file, charts and scope from the store if given.
pub fn run(args: &crate::args::ReportArgs) -> Result<(), ReportError> {
    let events = read_events(&args.events)?;
    let (scope, charts) = match &args.store {
        Some(path) => {
            let store = crate::store::RedbStore::open(path)?;
            (store.scope()?, store.charts()?)
        }
        None => (None, BTreeMap::new()),
    };
    let report = Report::build(scope, &events, charts);
    write(&report, &args.output)?;
    eprintln!(
        "trailsight: wrote {} ({} insights, {} risky changes, {} remediation decisions)",
        args.output.display(),
        report.insights.len(),
        report.risky.len(),
        report.remediation.len()
    );
    Ok(())
}
