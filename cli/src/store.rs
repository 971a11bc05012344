//! The embedded state store behind `trailsight replay --store PATH`: the [`BaselineStore`]
//! port on redb, so replays are incremental (baselines continue, processed files are skipped).
//!
//! Tables: `ledger` (object → sent flag and outbox), `streams` (account+region → state),
//! `apis` (API → versioned state, with the charts recorded around its insights), `counts`
//! ((API, minute) → calls, errors), `meta` (what the replays read, for reports). Each file is
//! one write transaction: the ledger check, version checks and all writes commit together or not.

use crate::report::Scope;
use redb::{Database, Durability, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;
use trailsight_core::api::ApiKey;
use trailsight_core::detect::{ApiState, Chart};
use trailsight_core::events::Envelope;
use trailsight_core::store::ports::{
    BaselineStore, Commit, CommitOutcome, ObjectStatus, Snapshot, StoreError, StreamKey, StreamSnapshot, Versioned,
};

const LEDGER: TableDefinition<&str, &[u8]> = TableDefinition::new("ledger");
const STREAMS: TableDefinition<&str, &[u8]> = TableDefinition::new("streams");
const APIS: TableDefinition<&str, &[u8]> = TableDefinition::new("apis");
const COUNTS: TableDefinition<(&str, i64), (u64, u64)> = TableDefinition::new("counts");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
/// The `meta` key of the [`Scope`] read by every replay into the store.
const SCOPE: &str = "scope";

#[derive(Debug, Serialize, Deserialize)]
struct LedgerEntry {
    sent: bool,
    events: Vec<Envelope>,
}

/// A [`BaselineStore`] in one redb file.
#[derive(Debug)]
pub struct RedbStore {
    db: Database,
}

fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

/// The version of the stream snapshot or API state stored as `id` in `table` (0 when there
/// is none).
fn stored_version(table: &impl ReadableTable<&'static str, &'static [u8]>, id: &str) -> Result<u64, StoreError> {
    /// The version field every stored snapshot and state has.
    #[derive(Deserialize)]
    struct Stored {
        version: u64,
    }
    match table.get(id).map_err(unavailable)? {
        Some(v) => Ok(serde_json::from_slice::<Stored>(v.value()).map_err(|e| corrupt(id, e))?.version),
        None => Ok(0),
    }
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt { what: what.to_owned(), why: e.to_string() }
}

fn api_id(a: &ApiKey) -> String {
    format!("{}\u{1f}{}\u{1f}{}\u{1f}{}", a.account, a.region, a.event_source, a.event_name)
}

fn stream_id(s: &StreamKey) -> String {
    format!("{}\u{1f}{}", s.0, s.1)
}

impl RedbStore {
    /// Opens (or creates) the store at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let db = Database::create(path)
            .map_err(|e| StoreError::Unavailable(format!("cannot open state store {}: {e}", path.display())))?;
        let txn = db.begin_write().map_err(unavailable)?;
        {
            txn.open_table(LEDGER).map_err(unavailable)?;
            txn.open_table(STREAMS).map_err(unavailable)?;
            txn.open_table(APIS).map_err(unavailable)?;
            txn.open_table(COUNTS).map_err(unavailable)?;
            txn.open_table(META).map_err(unavailable)?;
        }
        txn.commit().map_err(unavailable)?;
        Ok(RedbStore { db })
    }

    /// What every replay into this store read, if any recorded it.
    pub fn scope(&self) -> Result<Option<Scope>, StoreError> {
        let txn = self.db.begin_read().map_err(unavailable)?;
        let table = txn.open_table(META).map_err(unavailable)?;
        match table.get(SCOPE).map_err(unavailable)? {
            Some(v) => serde_json::from_slice(v.value()).map(Some).map_err(|e| corrupt(SCOPE, e)),
            None => Ok(None),
        }
    }

    /// Adds what one replay read to the store's [`RedbStore::scope`].
    pub fn add_scope(&self, run: &Scope) -> Result<(), StoreError> {
        let mut scope = self.scope()?.unwrap_or_default();
        scope.merge(run);
        let bytes = serde_json::to_vec(&scope).map_err(|e| corrupt(SCOPE, e))?;
        let txn = self.db.begin_write().map_err(unavailable)?;
        {
            let mut table = txn.open_table(META).map_err(unavailable)?;
            table.insert(SCOPE, bytes.as_slice()).map_err(unavailable)?;
        }
        txn.commit().map_err(unavailable)
    }

    /// The charts recorded around insights, by `sharedEventID`.
    pub fn charts(&self) -> Result<BTreeMap<String, Chart>, StoreError> {
        let txn = self.db.begin_read().map_err(unavailable)?;
        let table = txn.open_table(APIS).map_err(unavailable)?;
        let mut out = BTreeMap::new();
        for row in table.iter().map_err(unavailable)? {
            let (k, v) = row.map_err(unavailable)?;
            let state: Versioned<ApiState> = serde_json::from_slice(v.value()).map_err(|e| corrupt(k.value(), e))?;
            for c in state.value.charts.iter().flat_map(|log| log.charts()) {
                out.insert(c.shared_event_id.clone(), c.clone());
            }
        }
        Ok(out)
    }
}

impl BaselineStore for RedbStore {
    async fn status(&self, object: &str) -> Result<ObjectStatus, StoreError> {
        let txn = self.db.begin_read().map_err(unavailable)?;
        let table = txn.open_table(LEDGER).map_err(unavailable)?;
        let Some(v) = table.get(object).map_err(unavailable)? else {
            return Ok(ObjectStatus::New);
        };
        let entry: LedgerEntry = serde_json::from_slice(v.value()).map_err(|e| corrupt(object, e))?;
        Ok(if entry.sent { ObjectStatus::Done } else { ObjectStatus::Pending(entry.events) })
    }

    async fn load(&self, streams: &[StreamKey], apis: &[ApiKey], _minutes: &[i64]) -> Result<Snapshot, StoreError> {
        let txn = self.db.begin_read().map_err(unavailable)?;
        let st = txn.open_table(STREAMS).map_err(unavailable)?;
        let at = txn.open_table(APIS).map_err(unavailable)?;
        let mut snap = Snapshot::default();
        for s in streams {
            let id = stream_id(s);
            let value = match st.get(id.as_str()).map_err(unavailable)? {
                Some(v) => serde_json::from_slice(v.value()).map_err(|e| corrupt(&id, e))?,
                None => StreamSnapshot::default(),
            };
            snap.streams.insert(s.clone(), value);
        }
        for a in apis {
            let id = api_id(a);
            if let Some(v) = at.get(id.as_str()).map_err(unavailable)? {
                let value: Versioned<ApiState> = serde_json::from_slice(v.value()).map_err(|e| corrupt(&id, e))?;
                snap.apis.insert(a.clone(), value);
            }
        }
        Ok(snap)
    }

    async fn commit(&self, commit: &Commit) -> Result<CommitOutcome, StoreError> {
        let mut txn = self.db.begin_write().map_err(unavailable)?;
        txn.set_durability(Durability::Eventual);
        {
            let mut ledger = txn.open_table(LEDGER).map_err(unavailable)?;
            if ledger.get(commit.object.as_str()).map_err(unavailable)?.is_some() {
                return Ok(CommitOutcome::AlreadyCommitted);
            }
            let mut streams = txn.open_table(STREAMS).map_err(unavailable)?;
            let mut apis = txn.open_table(APIS).map_err(unavailable)?;
            for (k, s) in &commit.streams {
                let id = stream_id(k);
                if stored_version(&streams, &id)? != s.version {
                    return Ok(CommitOutcome::Conflict);
                }
            }
            for (k, v) in &commit.apis {
                let id = api_id(k);
                if stored_version(&apis, &id)? != v.version {
                    return Ok(CommitOutcome::Conflict);
                }
            }
            for (k, s) in &commit.streams {
                let mut s = s.clone();
                s.version += 1;
                let bytes = serde_json::to_vec(&s).map_err(|e| corrupt("stream", e))?;
                streams.insert(stream_id(k).as_str(), bytes.as_slice()).map_err(unavailable)?;
            }
            for (k, v) in &commit.apis {
                let next = Versioned { value: &v.value, version: v.version + 1 };
                let bytes = serde_json::to_vec(&next).map_err(|e| corrupt("api", e))?;
                apis.insert(api_id(k).as_str(), bytes.as_slice()).map_err(unavailable)?;
            }
            let mut counts = txn.open_table(COUNTS).map_err(unavailable)?;
            for c in &commit.counts {
                let id = api_id(&c.api);
                let (calls, errors) =
                    counts.get((id.as_str(), c.minute)).map_err(unavailable)?.map_or((0, 0), |v| v.value());
                counts.insert((id.as_str(), c.minute), (calls + c.calls, errors + c.errors)).map_err(unavailable)?;
            }
            // A commit without events is done at once (nothing to send).
            let entry =
                serde_json::to_vec(&LedgerEntry { sent: commit.events.is_empty(), events: commit.events.clone() })
                    .map_err(|e| corrupt("ledger", e))?;
            ledger.insert(commit.object.as_str(), entry.as_slice()).map_err(unavailable)?;
        }
        txn.commit().map_err(unavailable)?;
        Ok(CommitOutcome::Committed)
    }

    async fn mark_sent(&self, object: &str) -> Result<(), StoreError> {
        let mut txn = self.db.begin_write().map_err(unavailable)?;
        txn.set_durability(Durability::Eventual);
        {
            let mut ledger = txn.open_table(LEDGER).map_err(unavailable)?;
            let entry =
                serde_json::to_vec(&LedgerEntry { sent: true, events: vec![] }).map_err(|e| corrupt("ledger", e))?;
            ledger.insert(object, entry.as_slice()).map_err(unavailable)?;
        }
        txn.commit().map_err(unavailable)
    }

    async fn mark_delivered(&self, object: &str, ids: &[String]) -> Result<(), StoreError> {
        let mut txn = self.db.begin_write().map_err(unavailable)?;
        txn.set_durability(Durability::Eventual);
        {
            let mut ledger = txn.open_table(LEDGER).map_err(unavailable)?;
            let entry = match ledger.get(object).map_err(unavailable)? {
                Some(v) => serde_json::from_slice::<LedgerEntry>(v.value()).map_err(|e| corrupt(object, e))?,
                None => return Ok(()),
            };
            let kept = LedgerEntry {
                sent: entry.sent,
                events: entry.events.into_iter().filter(|e| !ids.contains(&e.id)).collect(),
            };
            let bytes = serde_json::to_vec(&kept).map_err(|e| corrupt("ledger", e))?;
            ledger.insert(object, bytes.as_slice()).map_err(unavailable)?;
        }
        txn.commit().map_err(unavailable)
    }

    async fn counts(&self, api: &ApiKey, from: i64, to: i64) -> Result<Vec<(i64, u64, u64)>, StoreError> {
        let txn = self.db.begin_read().map_err(unavailable)?;
        let table = txn.open_table(COUNTS).map_err(unavailable)?;
        let id = api_id(api);
        let mut out = vec![];
        for row in table.range((id.as_str(), from)..(id.as_str(), to)).map_err(unavailable)? {
            let (k, v) = row.map_err(unavailable)?;
            let (calls, errors) = v.value();
            out.push((k.value().1, calls, errors));
        }
        Ok(out)
    }
}

/// Makes everything committed so far durable (the per-file commits are `Eventual`).
pub fn flush(store: &RedbStore) -> Result<(), StoreError> {
    let mut txn = store.db.begin_write().map_err(unavailable)?;
    txn.set_durability(Durability::Immediate);
    txn.commit().map_err(unavailable)
}

#[cfg(test)]
#[allow(clippy::panic)]
mod tests {
    #[test]
    fn redb_store_passes_the_store_contract() {
        let dir = tempfile::tempdir().ok();
        let dir = dir.as_ref().map(|d| d.path().to_path_buf()).unwrap_or_else(std::env::temp_dir);
        let counter = std::sync::atomic::AtomicUsize::new(0);
        pollster::block_on(trailsight_core::store::contract::run_all(|| {
            let n = counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            match super::RedbStore::open(&dir.join(format!("contract-{n}.redb"))) {
                Ok(s) => s,
                Err(e) => panic!("cannot open store: {e}"),
            }
        }));
    }
}
