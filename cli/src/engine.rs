//! Where a replay keeps its state: in memory for this run, or in the embedded store
//! (`--store`), through the same ingest flow and ports as the Lambda.
use crate::files::LogFile;
use crate::report::Scope;
use crate::store::{flush, RedbStore};
use std::collections::BTreeMap;
use std::sync::Mutex;
use trailsight_core::api::ApiKey;
use trailsight_core::detect::{Chart, DetectorConfig};
use trailsight_core::events::Envelope;
use trailsight_core::ingest::pipeline::{ApiTotals, Pipeline, Stages, Stats};
use trailsight_core::ingest::{ingest, Disposition, IngestError};
use trailsight_core::log::count::FileBatch;
use trailsight_core::store::ports::{BaselineStore, EventSink, ObjectStatus, SinkError, StoreError};

/// A sink that hands events back to the replay, which prints them.
#[derive(Debug, Default)]
struct Collect(Mutex<Vec<Envelope>>);

impl EventSink for Collect {
    async fn put(&self, events: &[Envelope]) -> Result<(), SinkError> {
        let mut held = self.0.lock().map_err(|_| SinkError::none_delivered(events.len(), "poisoned"))?;
        held.extend_from_slice(events);
        Ok(())
    }
}

/// The replay's state.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // one value per run
pub enum Engine {
    /// In memory, for this run only.
    Memory(Pipeline),
    /// In the embedded store.
    Stored {
        /// The store.
        store: RedbStore,
        /// Detection settings.
        config: DetectorConfig,
        /// Counters of this run.
        stats: Stats,
        /// Calls per API in this run.
        totals: BTreeMap<ApiKey, ApiTotals>,
        /// Files skipped because an earlier replay processed them.
        already: u64,
    },
}

impl Engine {
    /// An engine for this run.
    pub fn new(config: DetectorConfig, stages: Stages, store: Option<RedbStore>) -> Self {
        match store {
            None => Engine::Memory(Pipeline::with_stages(config, stages)),
            Some(store) => {
                Engine::Stored { store, config, stats: Stats::default(), totals: BTreeMap::new(), already: 0 }
            }
        }
    }

    /// The object id of a local file: its name (unique per delivery, wherever the file was
    /// copied to) and its size (so a different file under the same name is not skipped).
    fn object(file: &LogFile) -> String {
        format!("{}#{}", file.key.file_name(), file.size)
    }

    /// Drops files an earlier replay into the same store processed.
    pub fn skip_processed(&mut self, files: Vec<LogFile>) -> Result<Vec<LogFile>, StoreError> {
        let Engine::Stored { store, already, .. } = self else {
            return Ok(files);
        };
        let mut keep = Vec::with_capacity(files.len());
        for f in files {
            match pollster::block_on(store.status(&Self::object(&f)))? {
                ObjectStatus::Done => *already += 1,
                _ => keep.push(f),
            }
        }
        Ok(keep)
    }

    /// Merges one file and returns its events.
    pub fn apply(&mut self, file: &LogFile, batch: FileBatch) -> Result<Vec<Envelope>, IngestError> {
        match self {
            Engine::Memory(p) => Ok(p.apply(Some(&file.key), batch)),
            Engine::Stored { store, config, stats, totals, already } => {
                let sink = Collect::default();
                let object = Self::object(file);
                let report =
                    pollster::block_on(ingest(&*store, &sink, config, &object, &file.key, || async { Ok(batch) }))?;
                if report.disposition == Disposition::Duplicate {
                    *already += 1;
                }
                stats.add(&report.stats);
                for c in &report.counts {
                    let t = totals.entry(c.api.clone()).or_default();
                    t.calls += c.calls;
                    t.errors += c.errors;
                }
                Ok(sink.0.into_inner().unwrap_or_default())
            }
        }
    }

    /// The run's counters.
    pub fn stats(&self) -> &Stats {
        match self {
            Engine::Memory(p) => p.stats(),
            Engine::Stored { stats, .. } => stats,
        }
    }

    /// Mutable counters.
    pub fn stats_mut(&mut self) -> &mut Stats {
        match self {
            Engine::Memory(p) => p.stats_mut(),
            Engine::Stored { stats, .. } => stats,
        }
    }

    /// Files skipped as processed by an earlier replay.
    pub fn already_processed(&self) -> u64 {
        match self {
            Engine::Memory(_) => 0,
            Engine::Stored { already, .. } => *already,
        }
    }

    /// Calls per API in this run.
    pub fn totals(&self) -> Vec<(&ApiKey, &ApiTotals)> {
        match self {
            Engine::Memory(p) => p.totals().collect(),
            Engine::Stored { totals, .. } => totals.iter().collect(),
        }
    }

    /// The charts recorded around insights (this run's, or every run's in the store), by
    /// `sharedEventID`.
    pub fn charts(&self) -> Result<BTreeMap<String, Chart>, StoreError> {
        match self {
            Engine::Memory(p) => Ok(p
                .api_states()
                .flat_map(|(_, s)| s.charts.iter().flat_map(|log| log.charts()))
                .map(|c| (c.shared_event_id.clone(), c.clone()))
                .collect()),
            Engine::Stored { store, .. } => store.charts(),
        }
    }

    /// Records what this run read in the store, for later reports.
    pub fn record_scope(&self, scope: &Scope) -> Result<(), StoreError> {
        match self {
            Engine::Memory(_) => Ok(()),
            Engine::Stored { store, .. } => store.add_scope(scope),
        }
    }

    /// Makes the store durable.
    pub fn finish(&self) -> Result<(), StoreError> {
        match self {
            Engine::Memory(_) => Ok(()),
            Engine::Stored { store, .. } => flush(store),
        }
    }
}
