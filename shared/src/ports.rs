//! Ports: the contracts between the pure core and the outside world.
//!
//! The ingest flow ([`crate::ingest`]) talks to state and event delivery only through these
//! traits. Adapters implement them: in memory ([`crate::memory`], for tests and the CLI),
//! on an embedded database (the CLI's `--store`), and on DynamoDB and EventBridge (the
//! Lambda functions). Every adapter must pass the same contract tests.

use crate::count::ApiKey;
use crate::detect::{ApiState, StreamState};
use crate::events::Envelope;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;

/// An account and region: the unit CloudTrail delivers files for.
pub type StreamKey = (String, String);

/// What the store keeps for one account and region.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StreamSnapshot {
    /// Time bookkeeping (`None` before the first file).
    pub state: Option<StreamState>,
    /// APIs with open minutes or insights in progress: they are evaluated on every file.
    pub live: BTreeSet<ApiKey>,
    /// Recent eventIDs (128-bit) with their event minute, for de-duplication.
    pub seen: Vec<(u128, i64)>,
    /// Optimistic-concurrency version (0 = absent).
    pub version: u64,
}

/// One API's state with its version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Versioned<T> {
    /// The value.
    pub value: T,
    /// Optimistic-concurrency version (1 for the first write).
    pub version: u64,
}

/// The state a file needs: its streams and the APIs it touches (plus live ones).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    /// Per account and region.
    pub streams: BTreeMap<StreamKey, StreamSnapshot>,
    /// Per API; absent APIs are new.
    pub apis: BTreeMap<ApiKey, Versioned<ApiState>>,
}

/// Calls and errors of one API in one minute, as added by one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MinuteCount {
    /// The API.
    pub api: ApiKey,
    /// Minutes since the epoch.
    pub minute: i64,
    /// Calls.
    pub calls: u64,
    /// Calls with an errorCode.
    pub errors: u64,
}

/// Everything one file changes, written atomically (all or nothing) and at most once.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Commit {
    /// Identity of the object (bucket, key and ETag), the idempotency key.
    pub object: String,
    /// New stream states; each `version` is the one loaded (the write expects it unchanged).
    pub streams: BTreeMap<StreamKey, StreamSnapshot>,
    /// New API states; each `version` is the one loaded (0 when new).
    pub apis: BTreeMap<ApiKey, Versioned<ApiState>>,
    /// Counts to add to the per-API hourly count items.
    pub counts: Vec<MinuteCount>,
    /// The events this file causes (the outbox), sent after the commit.
    pub events: Vec<Envelope>,
}

/// How a commit went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitOutcome {
    /// Written.
    Committed,
    /// The object had been committed before (a duplicate or retried delivery): nothing written.
    AlreadyCommitted,
    /// Another invocation changed the same state meanwhile: reload and apply again.
    Conflict,
}

/// Where an object stands.
#[derive(Debug, Clone, PartialEq)]
pub enum ObjectStatus {
    /// Never committed.
    New,
    /// Committed; its events are not all confirmed sent (they are returned to resend).
    Pending(Vec<Envelope>),
    /// Committed and its events sent.
    Done,
}

/// A store failure; the message says what to check.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store could not be reached or refused the request (after retries).
    #[error("state store unavailable: {0}")]
    Unavailable(String),
    /// The store holds data this version cannot read.
    #[error("state store holds unreadable data for {what}: {why}; was it written by another trailsight version?")]
    Corrupt {
        /// Which item.
        what: String,
        /// Why.
        why: String,
    },
}

/// Durable baselines, counts and the exactly-once ledger of processed objects.
///
/// Contract (checked by the shared contract tests against every adapter):
/// - `load` returns what the last successful `commit`s wrote, with their versions; missing
///   streams and APIs are simply absent (or default);
/// - `commit` is atomic and conditional: it writes everything or nothing; it returns
///   `AlreadyCommitted` when `object` was committed before, and `Conflict` when any loaded
///   version changed meanwhile (then nothing is written);
/// - counts add up: committing counts for a minute adds them to what is there;
/// - `status` tells whether `object` is new, committed with events to (re)send, or done;
///   `mark_sent` records that its events were delivered.
pub trait BaselineStore {
    /// Where an object stands.
    fn status(&self, object: &str) -> impl Future<Output = Result<ObjectStatus, StoreError>> + Send;
    /// Loads the streams and APIs a file needs.
    fn load(&self, streams: &[StreamKey], apis: &[ApiKey])
        -> impl Future<Output = Result<Snapshot, StoreError>> + Send;
    /// Writes one file's changes atomically, at most once per object.
    fn commit(&self, commit: &Commit) -> impl Future<Output = Result<CommitOutcome, StoreError>> + Send;
    /// Records that an object's events were delivered.
    fn mark_sent(&self, object: &str) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Calls and errors of one API per minute over `[from, to)`.
    fn counts(
        &self,
        api: &ApiKey,
        from: i64,
        to: i64,
    ) -> impl Future<Output = Result<Vec<(i64, u64, u64)>, StoreError>> + Send;
}

/// An event delivery failure; `sent` events were delivered before it.
#[derive(Debug, thiserror::Error)]
#[error("{failed} of {total} events could not be delivered: {why}; the invocation fails so it is retried")]
pub struct SinkError {
    /// Events that failed for good.
    pub failed: usize,
    /// Events attempted.
    pub total: usize,
    /// The first error.
    pub why: String,
}

/// Where events go (EventBridge in AWS, stdout or a file locally).
///
/// Contract: `put` returns `Ok` only when every event was accepted; it retries what it can
/// and otherwise returns an error naming how many failed. It never drops events silently.
pub trait EventSink {
    /// Delivers events, in order.
    fn put(&self, events: &[Envelope]) -> impl Future<Output = Result<(), SinkError>> + Send;
}
