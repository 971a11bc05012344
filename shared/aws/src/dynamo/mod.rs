//! [`BaselineStore`] on one DynamoDB table (`pk`, `sk` strings; TTL attribute `expires`),
//! journaling: a file writes its counts (a journal entry, a few KB), not the states of the
//! APIs it touched; a checkpoint of the whole account and region is written every twelfth
//! file, and a load replays the entries since (see [`trailsight_core::store::journal`]).
//!
//! Items (docs/ingest.md, "DynamoDB data model"):
//!
//! | pk | sk | attributes |
//! |---|---|---|
//! | `S#{account}#{region}` | `HEAD` | `seq` (files committed: the version), `cp`/`cpa`/`cpn`/`cpt` (the checkpoint's sequence number, attempt id, parts, time) |
//! | `S#…` | `TURN` | `holder`, `until`: the advisory turn of files committing to the stream (see `turn`), `expires` |
//! | `S#…` | `J#{seq}#D{n}` | `data`: part `n` of journal entry `seq` (deflated JSON), `parts`, `object`, `expires` |
//! | `S#…` | `J#{seq}#K{attempt}#{n}` | `data`: part `n` of the checkpoint taken at `seq` (every API's state, deflated JSON), `expires` |
//! | `S#…` | `I#{first minute}#{object}#{n}` | `ids`: part `n` of the 64-bit eventIDs one object added from that minute on (binary; at most an hour of minutes and 40,000 ids), `object`, `expires` |
//! | `O#{object}` | `LEDGER` | `status` (`pending` or `done`), `eparts`, `lease`, `delivered`, `expires` |
//! | `O#{object}` | `E#{n}` | `data`: part `n` of the object's events (deflated JSON), `expires` |
//!
//! A commit first puts its eventIDs and, when one is due, the new checkpoint under a fresh
//! attempt id (plain puts: ids of an object whose ledger entry does not exist are ignored by
//! loads, and a checkpoint is used only once the head names its attempt). Then one
//! `TransactWriteItems` writes the ledger entry (only if absent), the events, and per stream
//! the head (only at the loaded `seq`, which it increments, naming a new checkpoint if one was
//! written) and the journal entry. Nothing is left to roll forward: a crash before the
//! transaction wrote nothing that counts, a crash after it lost nothing.
//!
//! A commit's items are built once, before any request (`plan`), for the store to send and
//! for the size model to price ([`TableModel`], [`modelled_commit_writes`]: items and units per
//! partition key without DynamoDB, for `bench-org`).

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConsumedCapacity, KeysAndAttributes, Put, ReturnConsumedCapacity, ReturnValue, TransactWriteItem,
    Update,
};
use aws_sdk_dynamodb::Client;
use flate2::read::DeflateDecoder;
use flate2::write::DeflateEncoder;
use futures_util::stream::{self, StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Read;
use trailsight_core::api::ApiKey;
use trailsight_core::events::Envelope;
use trailsight_core::store::journal::{checkpoint_due, Checkpoint, JournalEntry};
use trailsight_core::store::ports::{
    BaselineStore, Commit, CommitOutcome, ObjectStatus, Snapshot, StoreError, StreamKey, StreamSnapshot, Turn,
    Versioned,
};

type Item = HashMap<String, AttributeValue>;

/// Ledger entries are kept this long (duplicate deliveries come within hours).
pub const LEDGER_TTL_SECS: i64 = 30 * 86_400;
/// Events of a committed object are kept this long: longer than SQS keeps a message (14
/// days), so a delivery redriven from the DLQ can still send them. TTL deletion costs nothing.
pub const EVENTS_TTL_SECS: i64 = 15 * 86_400;
/// Journal entries (the per-minute count history) and checkpoints are kept this long; a
/// stream takes a new checkpoint at least weekly while files arrive
/// ([`trailsight_core::store::journal::CHECKPOINT_MAX_AGE_SECS`]).
pub const JOURNAL_TTL_SECS: i64 = 35 * 86_400;
/// How long a committer owns its object's pending events before another invocation may
/// resend them (longer than an invocation can run: the default Lambda timeout is 15 minutes
/// at most, trailsight's template sets 60 seconds).
pub const DEFAULT_LEASE: std::time::Duration = std::time::Duration::from_secs(90);
/// EventID items are kept this long (duplicates arrive within minutes).
pub const IDS_TTL_SECS: i64 = 2 * 86_400;
/// Bytes per part of a large value (DynamoDB's item limit is 400 KB).
const CHUNK: usize = 350_000;
/// Single-item requests in flight at once.
const CONCURRENCY: usize = 16;
/// Keys per BatchGetItem request (the service limit).
const BATCH_GET: usize = 100;
/// Items per TransactWriteItems request (the service limit).
const TRANSACTION_ITEMS: usize = 100;

/// Requests and capacity units: as DynamoDB reported them (`ReturnConsumedCapacity`) and as
/// modelled from item sizes by DynamoDB's on-demand rules (emulators may report fixed units).
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Usage {
    /// Requests made.
    pub requests: u64,
    /// Read units reported.
    pub read_units: f64,
    /// Write units reported.
    pub write_units: f64,
    /// Read units by the size model.
    pub modelled_read_units: f64,
    /// Write units by the size model.
    pub modelled_write_units: f64,
    /// Consistent reads of an object's ledger item (`GetItem`): one per new file.
    pub ledger_reads: u64,
    /// Reads of a stream's turn item while taking or waiting for a turn (one when free).
    pub turn_polls: u64,
    /// Commits refused because a stream changed since its load (the file reloads and retries).
    pub conflicts: u64,
}

mod items;
mod model;
mod plan;
mod read;
mod table;
mod turn;
mod usage;
mod write;

pub(crate) use items::expression_names;
pub use items::item_size;
use items::*;
pub use model::{modelled_commit_writes, Consumed, PartitionUnits, TableModel};
use plan::plan_commit;
use read::{ids_range, journal_entries, journal_range, minute_runs};
pub use table::create_table;
pub use turn::{DEFAULT_TURN_WAIT, TURN_HOLD};
use write::{backoff, txn_error};

/// The DynamoDB store.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
    /// Requests and capacity units since the last [`DynamoStore::take_usage`].
    usage: std::sync::Arc<std::sync::Mutex<Usage>>,
    /// How long a committer (or a resender) owns an object's pending events.
    lease: std::time::Duration,
    /// The heads the last loads saw, so a commit knows whether a checkpoint is due.
    heads: std::sync::Arc<std::sync::Mutex<HashMap<StreamKey, Head>>>,
    /// How long a file waits for its stream's turn (see `turn`).
    turn_wait: std::time::Duration,
}

/// What a load learned of a stream's head, for the commit that follows it.
#[derive(Debug, Clone, Default, PartialEq)]
struct Head {
    /// Files committed.
    seq: u64,
    /// Sequence number, time and attempt id of the checkpoint, if any.
    checkpoint: Option<(u64, i64, String)>,
}

impl DynamoStore {
    /// A store on `table`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoStore {
            client,
            table: table.into(),
            usage: std::sync::Arc::default(),
            lease: DEFAULT_LEASE,
            heads: std::sync::Arc::default(),
            turn_wait: DEFAULT_TURN_WAIT,
        }
    }

    /// Changes how long a file waits for its stream's turn (default [`DEFAULT_TURN_WAIT`];
    /// zero turns waiting off: files then commit optimistically, and conflict under bursts).
    pub fn with_turn_wait(mut self, wait: std::time::Duration) -> Self {
        self.turn_wait = wait;
        self
    }

    /// Changes the send lease (default [`DEFAULT_LEASE`]; set it to the function's timeout).
    pub fn with_send_lease(mut self, lease: std::time::Duration) -> Self {
        self.lease = lease;
        self
    }

    fn lease_until(&self) -> i64 {
        now_millis().saturating_add(i64::try_from(self.lease.as_millis()).unwrap_or(i64::MAX))
    }

    /// A store with its own client.
    pub fn from_config(config: &aws_config::SdkConfig, table: impl Into<String>) -> Self {
        Self::new(Client::new(config), table)
    }

    fn remember_head(&self, stream: &StreamKey, head: Head) {
        if let Ok(mut heads) = self.heads.lock() {
            heads.insert(stream.clone(), head);
        }
    }

    /// Whether the commit moving `stream` from `version` writes a checkpoint: when the last
    /// load saw that version, by [`checkpoint_due`]; otherwise (no load) always.
    fn checkpoint_due(&self, stream: &StreamKey, version: u64) -> bool {
        let head = self.heads.lock().ok().and_then(|h| h.get(stream).cloned());
        checkpoint_due_after(head.as_ref(), version, now_secs())
    }

    /// Puts `items` unconditionally, [`CONCURRENCY`] requests at a time.
    async fn put_items(&self, what: &str, items: Vec<Item>) -> Result<(), StoreError> {
        stream::iter(items.into_iter().map(|item| self.put_plain(what, item)))
            .buffer_unordered(CONCURRENCY)
            .try_collect::<Vec<()>>()
            .await?;
        Ok(())
    }
}

/// Whether the commit moving a stream from `version` writes a checkpoint, given the head
/// the last load saw (if any): by [`checkpoint_due`] when that head is at `version`;
/// otherwise (no load, or the head moved since) always.
fn checkpoint_due_after(head: Option<&Head>, version: u64, now: i64) -> bool {
    match head {
        Some(h) if h.seq == version => match &h.checkpoint {
            Some((cp, at, _)) => checkpoint_due(version.saturating_sub(*cp), Some(*at), now),
            None => true,
        },
        _ => true,
    }
}

impl BaselineStore for DynamoStore {
    async fn status(&self, object: &str) -> Result<ObjectStatus, StoreError> {
        let Some(ledger) = self.ledger(object).await? else {
            return Ok(ObjectStatus::New);
        };
        if get_s(&ledger, "status") == Some("done") {
            return Ok(ObjectStatus::Done);
        }
        let events = self.events(object, &ledger).await?;
        let delivered: BTreeSet<&str> = ledger
            .get("delivered")
            .and_then(|v| v.as_ss().ok())
            .map(|ids| ids.iter().map(String::as_str).collect())
            .unwrap_or_default();
        Ok(ObjectStatus::Pending(events.into_iter().filter(|e| !delivered.contains(e.id.as_str())).collect()))
    }

    async fn load(&self, streams: &[StreamKey], _apis: &[ApiKey], minutes: &[i64]) -> Result<Snapshot, StoreError> {
        let heads = self.load_heads(streams).await?;
        let mut snap = Snapshot::default();
        let mut loaded = Vec::with_capacity(streams.len());
        let mut committed = BTreeSet::new();
        for k in streams {
            let head = heads.get(k).cloned().unwrap_or_default();
            let (checkpoint, entries, objects) = self.load_journal(k, &head).await?;
            committed.extend(objects);
            self.remember_head(k, head.clone());
            loaded.push((k, head.seq, checkpoint, entries));
        }
        let mut ids = self.load_ids(streams, minutes, &committed).await?;
        for (k, version, checkpoint, entries) in loaded {
            for (api, value) in checkpoint.apis {
                snap.apis.insert(api, Versioned { value, version });
            }
            snap.streams.insert(
                k.clone(),
                StreamSnapshot {
                    state: checkpoint.state,
                    live: checkpoint.live,
                    seen: ids.remove(k).unwrap_or_default(),
                    version,
                },
            );
            if !entries.is_empty() {
                snap.journal.insert(k.clone(), entries);
            }
        }
        Ok(snap)
    }

    async fn commit(&self, commit: &Commit) -> Result<CommitOutcome, StoreError> {
        let now = now_secs();
        let attempt = format!("{:016x}", rand::random::<u64>());
        let plan =
            plan_commit(commit, |k, version| self.checkpoint_due(k, version), &attempt, now, self.lease_until())?;
        if plan.transaction.len() > TRANSACTION_ITEMS {
            return Err(StoreError::Unavailable(format!(
                "one file needs {} items in its commit transaction (DynamoDB allows {TRANSACTION_ITEMS}): it touches too many account/region streams or its counts are too large; split the file",
                plan.transaction.len()
            )));
        }
        // 1. The eventIDs (ignored by loads until the ledger entry exists).
        self.put_items("PutItem (event ids)", plan.ids).await?;
        // 2. Checkpoints that are due, under a fresh attempt id.
        let checkpoints: BTreeSet<&StreamKey> = plan.checkpoints.keys().copied().collect();
        for (_, parts) in plan.checkpoints {
            self.put_items("PutItem (checkpoint)", parts).await?;
        }
        // 3. One transaction: ledger, events, heads, journal entries.
        let mut items = Vec::with_capacity(plan.transaction.len());
        for write in &plan.transaction {
            self.model_write(&write.item(), 2.0);
            items.push(write.request(&self.table)?);
        }
        match self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
        {
            Ok(out) => self.meter(true, out.consumed_capacity()),
            Err(e) => match txn_error(e)? {
                CommitOutcome::Committed => {}
                CommitOutcome::Conflict => {
                    if let Ok(mut u) = self.usage.lock() {
                        u.conflicts += 1;
                    }
                    return Ok(CommitOutcome::Conflict);
                }
                other => return Ok(other),
            },
        }
        for (k, snap) in &commit.streams {
            let previous = self.heads.lock().ok().and_then(|h| h.get(k).cloned());
            let checkpoint = match checkpoints.contains(k) {
                true => Some((snap.version + 1, now, attempt.clone())),
                false => previous.filter(|h| h.seq == snap.version).and_then(|h| h.checkpoint),
            };
            self.remember_head(k, Head { seq: snap.version + 1, checkpoint });
        }
        Ok(CommitOutcome::Committed)
    }

    async fn mark_sent(&self, object: &str) -> Result<(), StoreError> {
        let updated = self
            .update_if(
                "UpdateItem (ledger)",
                key(object_pk(object), "LEDGER"),
                "SET #s = :done",
                "attribute_exists(pk)",
                &[("#s", "status")],
                HashMap::from([(":done".to_owned(), s("done"))]),
            )
            .await?;
        updated.then_some(()).ok_or_else(|| missing_ledger(object))
    }

    async fn mark_delivered(&self, object: &str, ids: &[String]) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        let updated = self
            .update_if(
                "UpdateItem (ledger)",
                key(object_pk(object), "LEDGER"),
                "ADD delivered :ids",
                "attribute_exists(pk)",
                &[],
                HashMap::from([(":ids".to_owned(), AttributeValue::Ss(ids.to_vec()))]),
            )
            .await?;
        updated.then_some(()).ok_or_else(|| missing_ledger(object))
    }

    async fn claim_send(&self, object: &str) -> Result<bool, StoreError> {
        // Fails (false) once the events are sent, or while they were claimed less than a lease ago.
        self.update_if(
            "UpdateItem (ledger lease)",
            key(object_pk(object), "LEDGER"),
            "SET lease = :until",
            "#s = :pending AND (attribute_not_exists(lease) OR lease < :now)",
            &[("#s", "status")],
            HashMap::from([
                (":pending".to_owned(), s("pending")),
                (":now".to_owned(), n(now_millis())),
                (":until".to_owned(), n(self.lease_until())),
            ]),
        )
        .await
    }

    async fn take_turn(&self, streams: &[StreamKey], holder: &str) -> Result<Turn, StoreError> {
        if self.turn_wait.is_zero() {
            return Ok(Turn::Skipped);
        }
        self.wait_turns(streams, holder).await
    }

    async fn end_turn(&self, streams: &[StreamKey], holder: &str) -> Result<(), StoreError> {
        if self.turn_wait.is_zero() {
            return Ok(());
        }
        self.end_turns(streams, holder).await
    }

    fn consumed(&self) -> (f64, f64) {
        let u = self.take_usage();
        // What the service reported; the size model where it reports nothing (emulators).
        let read = if u.read_units > 0.0 { u.read_units } else { u.modelled_read_units };
        let write = if u.write_units > 0.0 { u.write_units } else { u.modelled_write_units };
        (read, write)
    }

    /// Sums the journal entries of the API's stream (every file's counts of the last
    /// [`JOURNAL_TTL_SECS`]): a diagnostic read of the whole history, not used by ingest.
    async fn counts(&self, api: &ApiKey, from: i64, to: i64) -> Result<Vec<(i64, u64, u64)>, StoreError> {
        if to <= from {
            return Ok(vec![]);
        }
        let stream = (api.account.clone(), api.region.clone());
        let items = self
            .query_all("Query (journal)", stream_pk(&stream), "begins_with(sk, :j)", &[(":j", "J#".to_owned())])
            .await?;
        let mut sums: BTreeMap<i64, (u64, u64)> = BTreeMap::new();
        for (_, entry) in journal_entries(&stream, &items, 0, u64::MAX)? {
            for (minute, calls, errors) in entry.counts_of(&api.event_source, &api.event_name, from, to) {
                let e = sums.entry(minute).or_default();
                e.0 += calls;
                e.1 += errors;
            }
        }
        Ok(sums.into_iter().map(|(m, (c, e))| (m, c, e)).collect())
    }
}

#[cfg(test)]
mod tests;
