//! The in-memory store, metered as DynamoDB would bill it (`bench-org`'s store, and
//! `bench-ingest`'s check of the size model against the real store on moto). [`Metered`] implements
//! [`BaselineStore`] by delegating every method to one [`MemoryStore`] shared by all files
//! (journaling, as the DynamoDB store does), and prices each operation with the DynamoDB
//! adapter's size model ([`TableModel`]: the same item builder and key ranges as the real
//! store): the items, write units and read units it would spend per partition key. Each file's
//! operations are booked at its simulated second (its delivery time), so the report can give
//! items and units per partition key per second.

use crate::thread_cpu;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use trailsight_aws::dynamo::{Consumed, TableModel};
use trailsight_core::api::ApiKey;
use trailsight_core::store::memory::MemoryStore;
use trailsight_core::store::ports::{
    BaselineStore, Commit, CommitOutcome, ObjectStatus, Snapshot, StoreError, StreamKey, Turn,
};

/// What one partition key spends in one second.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Cell {
    /// Items written (put, updated or deleted).
    pub items: u64,
    /// Write units.
    pub write_units: f64,
    /// Read units.
    pub read_units: f64,
}

/// What every file shares: the store, the model of the table, and the meters.
#[derive(Debug, Default)]
pub struct Table {
    store: MemoryStore,
    model: RwLock<TableModel>,
    /// (partition key, second) → what it spent; only while metering.
    cells: Mutex<HashMap<(String, i64), Cell>>,
    /// Off during the warm-up: the model still follows the table, nothing is booked.
    metering: AtomicBool,
    /// CPU time spent in the model (planning and pricing items), nanoseconds.
    model_ns: AtomicU64,
    /// Commits refused because a stream moved since its load.
    conflicts: AtomicU64,
    /// Commits that found their object committed already.
    already_committed: AtomicU64,
    /// Turns not granted within the wait budget.
    turns_waited: AtomicU64,
}

/// Counters of the table's commits and turns.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Contention {
    /// Commits refused because a stream moved since its load.
    pub conflicts: u64,
    /// Commits that found their object committed already.
    pub already_committed: u64,
    /// Turns not granted within the wait budget.
    pub turns_waited: u64,
}

fn poisoned() -> StoreError {
    StoreError::Unavailable("the table model was poisoned by a panic".to_owned())
}

impl Table {
    /// A journaling in-memory store and an empty table model, not metering yet.
    pub fn new() -> Self {
        Table { store: MemoryStore::journaling(), ..Table::default() }
    }

    /// Starts or stops booking what operations spend (the model follows the table either way).
    pub fn set_metering(&self, on: bool) {
        self.metering.store(on, Ordering::SeqCst);
    }

    /// Every (partition key, second) booked so far, taken out.
    pub fn take_cells(&self) -> HashMap<(String, i64), Cell> {
        self.cells.lock().map(|mut c| std::mem::take(&mut *c)).unwrap_or_default()
    }

    /// CPU seconds spent in the model so far.
    pub fn model_seconds(&self) -> f64 {
        self.model_ns.load(Ordering::Relaxed) as f64 / 1e9
    }

    /// Commits and turns that did not go straight through.
    pub fn contention(&self) -> Contention {
        Contention {
            conflicts: self.conflicts.load(Ordering::Relaxed),
            already_committed: self.already_committed.load(Ordering::Relaxed),
            turns_waited: self.turns_waited.load(Ordering::Relaxed),
        }
    }

    /// Runs `f` on the model (read-only), counting its CPU time.
    fn read_model<T>(&self, f: impl FnOnce(&TableModel) -> T) -> Result<T, StoreError> {
        let cpu = thread_cpu();
        let out = f(&*self.model.read().map_err(|_| poisoned())?);
        self.count_model(cpu);
        Ok(out)
    }

    /// Adds the calling thread's CPU time since `since` to the model's.
    fn count_model(&self, since: Option<Duration>) {
        if let Some(spent) = since.zip(thread_cpu()).map(|(a, b)| b.saturating_sub(a)) {
            self.model_ns.fetch_add(u64::try_from(spent.as_nanos()).unwrap_or(u64::MAX), Ordering::Relaxed);
        }
    }
}

/// One file's view of the shared table: its operations happen at `second`, and what they
/// spend is booked there and summed for the file.
#[derive(Debug)]
pub struct Metered {
    table: Arc<Table>,
    second: i64,
    file: Mutex<Consumed>,
}

impl Metered {
    /// The store as seen by a file delivered at `second` (unix time).
    pub fn new(table: Arc<Table>, second: i64) -> Self {
        Metered { table, second, file: Mutex::new(Consumed::default()) }
    }

    /// What this file's operations spent.
    pub fn consumed(&self) -> Consumed {
        self.file.lock().map(|c| c.clone()).unwrap_or_default()
    }

    fn book(&self, consumed: Consumed) {
        if let Ok(mut file) = self.file.lock() {
            file.add(&consumed);
        }
        if !self.table.metering.load(Ordering::Relaxed) {
            return;
        }
        if let Ok(mut cells) = self.table.cells.lock() {
            for p in consumed.partitions {
                let cell = cells.entry((p.pk, self.second)).or_default();
                cell.items += u64::from(p.items);
                cell.write_units += p.write_units;
                cell.read_units += p.read_units;
            }
        }
    }
}

impl BaselineStore for Metered {
    async fn status(&self, object: &str) -> Result<ObjectStatus, StoreError> {
        let status = self.table.store.status(object).await?;
        self.book(self.table.read_model(|m| m.status(object))?);
        Ok(status)
    }

    async fn load(&self, streams: &[StreamKey], apis: &[ApiKey], minutes: &[i64]) -> Result<Snapshot, StoreError> {
        let snapshot = self.table.store.load(streams, apis, minutes).await?;
        self.book(self.table.read_model(|m| m.load(streams, minutes))?);
        Ok(snapshot)
    }

    async fn commit(&self, commit: &Commit) -> Result<CommitOutcome, StoreError> {
        let outcome = self.table.store.commit(commit).await?;
        match outcome {
            CommitOutcome::Committed => {
                let planned = self.table.read_model(|m| m.plan(commit, self.second))??;
                let cpu = thread_cpu();
                let consumed = self.table.model.write().map_err(|_| poisoned())?.record(&planned, self.second);
                self.table.count_model(cpu);
                self.book(consumed);
            }
            CommitOutcome::Conflict => {
                self.table.conflicts.fetch_add(1, Ordering::Relaxed);
            }
            CommitOutcome::AlreadyCommitted => {
                self.table.already_committed.fetch_add(1, Ordering::Relaxed);
            }
        }
        Ok(outcome)
    }

    async fn mark_sent(&self, object: &str) -> Result<(), StoreError> {
        self.table.store.mark_sent(object).await?;
        self.book(self.table.read_model(|m| m.ledger_update(object))?);
        Ok(())
    }

    async fn mark_delivered(&self, object: &str, ids: &[String]) -> Result<(), StoreError> {
        self.table.store.mark_delivered(object, ids).await?;
        if !ids.is_empty() {
            self.book(self.table.read_model(|m| m.ledger_update(object))?);
        }
        Ok(())
    }

    async fn claim_send(&self, object: &str) -> Result<bool, StoreError> {
        let claimed = self.table.store.claim_send(object).await?;
        self.book(self.table.read_model(|m| m.ledger_update(object))?);
        Ok(claimed)
    }

    async fn take_turn(&self, streams: &[StreamKey], holder: &str) -> Result<Turn, StoreError> {
        let turn = self.table.store.take_turn(streams, holder).await?;
        if turn == Turn::Waited {
            self.table.turns_waited.fetch_add(1, Ordering::Relaxed);
        }
        self.book(self.table.read_model(|m| m.take_turn(streams, holder, self.second))?);
        Ok(turn)
    }

    async fn end_turn(&self, streams: &[StreamKey], holder: &str) -> Result<(), StoreError> {
        self.table.store.end_turn(streams, holder).await?;
        self.book(self.table.read_model(|m| m.end_turn(streams))?);
        Ok(())
    }

    fn consumed(&self) -> (f64, f64) {
        let c = self.consumed();
        (c.read_units(), c.write_units())
    }

    async fn counts(&self, api: &ApiKey, from: i64, to: i64) -> Result<Vec<(i64, u64, u64)>, StoreError> {
        self.table.store.counts(api, from, to).await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use trailsight_core::store::journal::JournalEntry;
    use trailsight_core::store::ports::StreamSnapshot;

    fn commit(object: &str, version: u64) -> Commit {
        let k: StreamKey = ("111122223333".into(), "us-east-1".into());
        Commit {
            object: object.into(),
            streams: std::collections::BTreeMap::from([(
                k.clone(),
                StreamSnapshot { version, ..StreamSnapshot::default() },
            )]),
            new_ids: std::collections::BTreeMap::from([(k.clone(), vec![(1, 100), (2, 101)])]),
            journal: std::collections::BTreeMap::from([(k, JournalEntry::default())]),
            ..Commit::default()
        }
    }

    #[tokio::test]
    async fn a_files_operations_are_stored_and_booked_at_its_second_in_its_partitions() {
        // Given a metering table and a file delivered at second 6,000
        let table = Arc::new(Table::new());
        table.set_metering(true);
        let file = Metered::new(Arc::clone(&table), 6_000);
        let k: &[StreamKey] = &[("111122223333".into(), "us-east-1".into())];
        // When it reads the ledger, takes its turn, loads, commits and ends its turn
        assert_eq!(file.status("o1").await.unwrap(), ObjectStatus::New);
        assert_eq!(file.take_turn(k, "o1").await.unwrap(), Turn::Granted);
        file.load(k, &[], &[100, 101]).await.unwrap();
        assert_eq!(file.commit(&commit("o1", 0)).await.unwrap(), CommitOutcome::Committed);
        file.end_turn(k, "o1").await.unwrap();
        // Then the in-memory store holds the commit (a second commit of it is refused)
        assert_eq!(file.commit(&commit("o1", 1)).await.unwrap(), CommitOutcome::AlreadyCommitted);
        assert_eq!(table.contention().already_committed, 1);
        // And both partitions are booked at second 6,000: the stream's (turn put and
        // delete, eventID item, checkpoint, head, journal entry) and the object's (its
        // ledger entry)
        let cells = table.take_cells();
        let stream = cells[&("S#111122223333#us-east-1".to_owned(), 6_000)];
        assert_eq!(stream.items, 6);
        assert!(stream.read_units >= 3.0, "turn, head, eventIDs: {stream:?}");
        let ledger = cells[&("O#o1".to_owned(), 6_000)];
        assert_eq!((ledger.items, ledger.write_units, ledger.read_units), (1, 2.0, 1.0));
        assert_eq!(cells.len(), 2);
        // And the file's own sum matches what was booked
        let c = file.consumed();
        assert_eq!(c.write_units(), stream.write_units + ledger.write_units);
    }

    #[tokio::test]
    async fn nothing_is_booked_while_metering_is_off_but_the_model_follows_the_table() {
        // Given a table not metering (the warm-up), where a file commits
        let table = Arc::new(Table::new());
        let file = Metered::new(Arc::clone(&table), 60);
        file.commit(&commit("o1", 0)).await.unwrap();
        // Then nothing is booked
        assert!(table.take_cells().is_empty());
        // When metering starts and the next file of the stream commits
        table.set_metering(true);
        let next = Metered::new(Arc::clone(&table), 360);
        next.commit(&commit("o2", 1)).await.unwrap();
        // Then only it is booked, and without a checkpoint (the model saw the first one)
        let cells = table.take_cells();
        assert_eq!(cells.len(), 2);
        assert_eq!(cells[&("S#111122223333#us-east-1".to_owned(), 360)].items, 3);
    }
}
