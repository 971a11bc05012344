//! The ingest flow for one delivered log file, exactly once over at-least-once delivery.
//!
//! 1. **Ledger check** (one read): an object (bucket, key, ETag) already committed is not read
//!    or counted again; if its events were not confirmed sent (a crash or an EventBridge
//!    failure after the commit), they are sent again from the outbox, with the same
//!    deterministic ids. Only a new object is **counted**, by the step the caller passes (the
//!    Lambda streams it from S3 on a blocking thread; the CLI has counted it already).
//! 2. **Load** the state the file needs: its accounts and regions, the APIs it touches and
//!    the live ones (open minutes, insights in progress); a journaling store returns a
//!    checkpoint and the journal entries since, which the pipeline replays.
//! 3. **Apply** it with the same [`Pipeline`] as the replay.
//!    A file that finds its account and region busy (its first commit conflicted) takes the
//!    stream's turn for its next attempts (an advisory lease, [`BaselineStore::take_turn`]),
//!    so files delivered at once do not all conflict again.
//! 4. **Commit** atomically and conditionally: the ledger entry, states, counts and the outbox
//!    in one write that fails if the object was committed meanwhile or any state changed
//!    (a concurrent invocation): then reload and apply again.
//! 5. **Send** the events, then mark them sent. A send failure fails the invocation, so the
//!    delivery is retried and step 1 resends.

use crate::api::ApiKey;
use crate::detect::DetectorConfig;
use crate::ingest::pipeline::{Pipeline, Stats};
use crate::log::count::FileBatch;
use crate::log::object_key::LogKey;
use crate::log::reader::ReadError;
use crate::store::ports::{
    BaselineStore, Commit, CommitOutcome, EventSink, ObjectStatus, SinkError, Snapshot, StoreError, StreamKey, Turn,
    Versioned,
};
use std::collections::BTreeSet;
use std::future::Future;

/// Attempts before giving up on a contended commit.
pub const MAX_ATTEMPTS: usize = 8;

/// What happened to one object.
#[derive(Debug, Clone, PartialEq)]
pub enum Disposition {
    /// Counted and committed now.
    Processed,
    /// Committed before; its events had been sent: nothing to do.
    Duplicate,
    /// Committed before but its events were not confirmed sent: sent again now.
    Resent,
}

/// The result of ingesting one object.
#[derive(Debug, Clone)]
pub struct IngestReport {
    /// What happened.
    pub disposition: Disposition,
    /// Counters of this file (zero for duplicates).
    pub stats: Stats,
    /// Events sent.
    pub events: usize,
    /// Commit attempts (more than one under contention).
    pub attempts: usize,
    /// Calls and errors per API and minute this file added (duplicates removed).
    pub counts: Vec<crate::store::ports::MinuteCount>,
}

/// Why an object could not be ingested; the delivery should be retried. In the order of the
/// flow's steps: the ledger check, counting, the commit, sending.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The state store failed (at any step).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Another invocation committed this object moments ago and may still be sending its
    /// events: sending them too would deliver them twice.
    #[error("{object} is being delivered by another invocation; retry later (its events are sent once)")]
    InProgress {
        /// The object.
        object: String,
    },
    /// The file is not a readable CloudTrail log (counting it failed); nothing was written.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// The counting step could not run to its end (its task died).
    #[error("counting was aborted: {0}")]
    Aborted(String),
    /// Other invocations kept changing the same state.
    #[error("state for {object} kept changing under {attempts} attempts (concurrent deliveries); retry later")]
    Contention {
        /// The object.
        object: String,
        /// Attempts made.
        attempts: usize,
    },
    /// Events could not be delivered; they stay in the outbox and are resent on retry.
    #[error(transparent)]
    Sink(#[from] SinkError),
}

/// Ingests one delivered file exactly once: the whole per-object flow, with one ledger read
/// for a new file. `object` identifies the delivery (bucket, key and ETag); `key` is the
/// parsed key; `count` counts the file, and is called only when the ledger does not know it.
pub async fn ingest<S, K, C, F>(
    store: &S,
    sink: &K,
    config: &DetectorConfig,
    object: &str,
    key: &LogKey,
    count: C,
) -> Result<IngestReport, IngestError>
where
    S: BaselineStore,
    K: EventSink,
    C: FnOnce() -> F,
    F: Future<Output = Result<FileBatch, IngestError>>,
{
    if let Some(report) = settle_known(store, sink, object).await? {
        return Ok(report);
    }
    let batch = count().await?;
    let streams: Vec<StreamKey> = batch
        .apis
        .iter()
        .map(|a| (a.account.clone(), a.region.clone()))
        .chain(std::iter::once((key.account.clone(), key.region.clone())))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let minutes: Vec<i64> = batch.slots.iter().map(|s| s.minute).collect::<BTreeSet<_>>().into_iter().collect();
    // A file first commits optimistically: alone on its stream (nearly always) it costs
    // nothing more. If another file of the stream committed meanwhile, the stream is busy
    // (files delivered together): it then takes the stream's turn (an advisory lease in stores
    // shared by concurrent invocations), so the files that remain load one after another
    // instead of all reloading the same head and conflicting again. The turn ends before the
    // send.
    let tried = commit_loop(store, config, object, key, &batch, &streams, &minutes, 1..=1).await;
    let committed = match tried {
        Err(IngestError::Contention { .. }) => {
            if store.take_turn(&streams, object).await? == Turn::Waited {
                tracing::warn!(
                    object,
                    "waited for the stream's turn past the store's budget; committing optimistically"
                );
            }
            let retried = commit_loop(store, config, object, key, &batch, &streams, &minutes, 2..=MAX_ATTEMPTS).await;
            if let Err(e) = store.end_turn(&streams, object).await {
                // The turn passes to the next file after its hold time anyway.
                tracing::warn!(object, error = %e, "could not end the stream's turn");
            }
            retried
        }
        other => other,
    };
    match committed? {
        Committed::New { events, stats, attempts, counts } => {
            // A commit without events is done at once: nothing to send or mark.
            if !events.is_empty() {
                send(store, sink, object, &events).await?;
            }
            Ok(IngestReport { disposition: Disposition::Processed, stats, events: events.len(), attempts, counts })
        }
        Committed::Before { attempts } => match settle_known(store, sink, object).await? {
            Some(mut report) => {
                report.attempts = attempts;
                Ok(report)
            }
            None => Err(IngestError::Contention { object: object.to_owned(), attempts }),
        },
    }
}

/// How the commit loop ended.
enum Committed {
    /// This file's commit was written.
    New {
        events: Vec<crate::events::Envelope>,
        stats: Stats,
        attempts: usize,
        counts: Vec<crate::store::ports::MinuteCount>,
    },
    /// Another invocation committed the same object meanwhile.
    Before { attempts: usize },
}

/// Load, apply and commit until the commit is written, the object turns out committed, or
/// every attempt in `attempts` conflicted.
#[allow(clippy::too_many_arguments)]
async fn commit_loop<S: BaselineStore>(
    store: &S,
    config: &DetectorConfig,
    object: &str,
    key: &LogKey,
    batch: &FileBatch,
    streams: &[StreamKey],
    minutes: &[i64],
    attempts: std::ops::RangeInclusive<usize>,
) -> Result<Committed, IngestError> {
    let last = *attempts.end();
    for attempt in attempts {
        let snapshot = load_all(store, streams, &batch.apis, minutes).await?;
        let mut pipeline = Pipeline::restore(config.clone(), &snapshot);
        let events = pipeline.apply(Some(key), batch.clone());
        let commit = build_commit(object, &pipeline, &snapshot, &events);
        match store.commit(&commit).await? {
            CommitOutcome::Committed => {
                return Ok(Committed::New {
                    events,
                    stats: pipeline.stats().clone(),
                    attempts: attempt,
                    counts: commit.counts,
                })
            }
            CommitOutcome::AlreadyCommitted => return Ok(Committed::Before { attempts: attempt }),
            CommitOutcome::Conflict => {
                tracing::info!(object, attempt, "state changed by a concurrent invocation; reloading");
            }
        }
    }
    Err(IngestError::Contention { object: object.to_owned(), attempts: last })
}

/// Handles an object the ledger knows: nothing to do, or resend its outbox.
async fn settle_known<S: BaselineStore, K: EventSink>(
    store: &S,
    sink: &K,
    object: &str,
) -> Result<Option<IngestReport>, IngestError> {
    let report = |disposition, events| IngestReport {
        disposition,
        stats: Stats::default(),
        events,
        attempts: 0,
        counts: vec![],
    };
    match store.status(object).await? {
        ObjectStatus::New => Ok(None),
        ObjectStatus::Done => Ok(Some(report(Disposition::Duplicate, 0))),
        ObjectStatus::Pending(events) => {
            if !store.claim_send(object).await? {
                return Err(IngestError::InProgress { object: object.to_owned() });
            }
            send(store, sink, object, &events).await?;
            Ok(Some(report(Disposition::Resent, events.len())))
        }
    }
}

/// Sends an object's events and records the outcome: all sent, or which ones were, so a retry
/// resends only the rest.
async fn send<S: BaselineStore, K: EventSink>(
    store: &S,
    sink: &K,
    object: &str,
    events: &[crate::events::Envelope],
) -> Result<(), IngestError> {
    match sink.put(events).await {
        Ok(()) => Ok(store.mark_sent(object).await?),
        Err(e) => {
            if !e.delivered.is_empty() {
                if let Err(store_error) = store.mark_delivered(object, &e.delivered).await {
                    // The retry will resend those events too: subscribers see their ids twice.
                    tracing::warn!(object, error = %store_error, "could not record partially delivered events");
                }
            }
            Err(e.into())
        }
    }
}

/// Loads the streams and APIs, then the live APIs of those streams not yet loaded.
async fn load_all<S: BaselineStore>(
    store: &S,
    streams: &[StreamKey],
    apis: &[ApiKey],
    minutes: &[i64],
) -> Result<Snapshot, StoreError> {
    let mut snapshot = store.load(streams, apis, minutes).await?;
    let extra: Vec<ApiKey> = snapshot
        .streams
        .values()
        .flat_map(|s| s.live.iter())
        .filter(|a| !snapshot.apis.contains_key(*a) && !apis.contains(a))
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if !extra.is_empty() {
        let more = store.load(&[], &extra, &[]).await?;
        snapshot.apis.extend(more.apis);
    }
    Ok(snapshot)
}

fn build_commit(object: &str, pipeline: &Pipeline, snapshot: &Snapshot, events: &[crate::events::Envelope]) -> Commit {
    let mut commit = Commit { object: object.to_owned(), events: events.to_vec(), ..Commit::default() };
    let changes = pipeline.changes().cloned().unwrap_or_default();
    let streams: BTreeSet<StreamKey> = changes.streams.iter().chain(snapshot.streams.keys()).cloned().collect();
    for s in streams {
        let snap = pipeline.stream_snapshot(&s, snapshot.streams.get(&s));
        commit.streams.insert(s, snap);
    }
    // Every API the pipeline holds: loaded, created by this file, or by replayed journal
    // entries (so a journaling store's checkpoint is complete).
    for (api, state) in pipeline.api_states() {
        let version = snapshot.apis.get(api).map_or(0, |v| v.version);
        commit.apis.insert(api.clone(), Versioned { value: state.clone(), version });
    }
    commit.counts = changes.counts;
    commit.new_ids = changes.new_ids;
    commit.journal = changes.journal;
    commit
}

#[cfg(test)]
mod tests;
