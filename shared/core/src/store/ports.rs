//! Ports: the contracts between the pure core and the outside world.
//!
//! The ingest flow ([`crate::ingest`]) talks to state and event delivery only through these
//! traits. Adapters implement them: in memory (`crate::store::memory`, feature `testing`, for tests and tools),
//! on an embedded database (the CLI's `--store`), and on DynamoDB and EventBridge (the
//! Lambda functions). Every adapter must pass the same contract tests.

use crate::api::ApiKey;
use crate::detect::{ApiState, StreamState};
use crate::events::Envelope;
use crate::store::journal::JournalEntry;
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
    /// Recent eventIDs (64-bit) with their event minute, for de-duplication.
    pub seen: Vec<(u64, i64)>,
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
    /// Per stream, the journal entries committed after the states above, oldest first: the
    /// loader replays them ([`crate::ingest::pipeline::Pipeline::restore`]) to reach the stream's
    /// current state. Empty for stores that write every state on every commit.
    pub journal: BTreeMap<StreamKey, Vec<JournalEntry>>,
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
    /// EventIDs (with their minute) first seen in this file, per stream: stores that keep ids
    /// outside the stream state write these (the stream's `seen` holds the whole window).
    pub new_ids: BTreeMap<StreamKey, Vec<(u64, i64)>>,
    /// What the file applied to each stream it touched, as a journal entry: journaling stores
    /// write this instead of the API states (and a checkpoint of `apis` from time to time).
    pub journal: BTreeMap<StreamKey, JournalEntry>,
}

/// How waiting for a turn to write some streams ended ([`BaselineStore::take_turn`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Turn {
    /// The caller holds the turn of every stream it asked for.
    Granted,
    /// The wait budget ran out first: the caller goes ahead without the turn.
    Waited,
    /// This store is configured not to take turns: the caller commits optimistically.
    Skipped,
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
///   streams and APIs are simply absent (or default). A journaling store may instead return
///   older states plus the journal entries committed since (`Snapshot::journal`), which the
///   caller replays; it then returns every API of the stream, since replaying may touch any.
///   `Commit::apis` holds every API the caller's pipeline had, so a checkpoint can be taken;
/// - `commit` is atomic and conditional: it writes everything or nothing; it returns
///   `AlreadyCommitted` when `object` was committed before, and `Conflict` when the version of
///   any stream it writes changed since it was loaded (then nothing is written). Every API
///   belongs to the stream of its account and region, and every commit that changes an API
///   writes that stream too, so a stream's version guards its APIs (adapters may also check
///   API versions);
/// - counts add up: committing counts for a minute adds them to what is there;
/// - `status` tells whether `object` is new, committed with events to (re)send, or done (a
///   commit without events is done at once);
///   `mark_sent` records that its events were delivered, `mark_delivered` that some were
///   (they are not returned by `status` again).
pub trait BaselineStore {
    /// Where an object stands.
    fn status(&self, object: &str) -> impl Future<Output = Result<ObjectStatus, StoreError>> + Send;
    /// Loads the streams and APIs a file needs. A stream's `seen` must hold at least the ids
    /// of the given event `minutes` (a record can only repeat one in its own minute); stores
    /// may return more.
    fn load(
        &self,
        streams: &[StreamKey],
        apis: &[ApiKey],
        minutes: &[i64],
    ) -> impl Future<Output = Result<Snapshot, StoreError>> + Send;
    /// Writes one file's changes atomically, at most once per object.
    fn commit(&self, commit: &Commit) -> impl Future<Output = Result<CommitOutcome, StoreError>> + Send;
    /// Records that an object's events were delivered.
    fn mark_sent(&self, object: &str) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Records that some of an object's events (by envelope id) were delivered, so a resend
    /// after a partial failure sends only the others.
    fn mark_delivered(&self, object: &str, ids: &[String]) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Claims the right to resend a committed object's pending events. `false` while another
    /// invocation may still be sending them (it committed or claimed them less than a lease
    /// ago): sending too would deliver them twice. Single-process stores always grant it.
    fn claim_send(&self, object: &str) -> impl Future<Output = Result<bool, StoreError>> + Send {
        let _ = object;
        std::future::ready(Ok(true))
    }
    /// Waits for `holder`'s turn to write `streams`, so that files of one account and region
    /// delivered at once commit one after another instead of conflicting and reloading.
    ///
    /// Contract: the turn is advisory, never needed for correctness (commits stay conditional
    /// on the versions loaded); it returns `Granted` once `holder` holds every stream's turn
    /// (taken in the given order, which callers keep sorted so no two holders wait on each
    /// other), or `Waited` when the store's wait budget ran out first (the caller then commits
    /// optimistically). A turn not ended by its holder passes to the next after a hold time
    /// longer than any commit, so a crashed holder cannot stop a stream. Single-process stores
    /// grant it at once.
    fn take_turn(&self, streams: &[StreamKey], holder: &str) -> impl Future<Output = Result<Turn, StoreError>> + Send {
        let _ = (streams, holder);
        std::future::ready(Ok(Turn::Granted))
    }
    /// Ends `holder`'s turn on `streams` (a turn another holder has since taken is left alone).
    fn end_turn(&self, streams: &[StreamKey], holder: &str) -> impl Future<Output = Result<(), StoreError>> + Send {
        let _ = (streams, holder);
        std::future::ready(Ok(()))
    }
    /// Read and write capacity units consumed since the last call (for metrics; stores that
    /// do not meter return zeros).
    fn consumed(&self) -> (f64, f64) {
        (0.0, 0.0)
    }
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
    /// Ids of the events that were delivered before giving up (not to be sent again).
    pub delivered: Vec<String>,
}

impl SinkError {
    /// A failure where nothing of `total` events was delivered.
    pub fn none_delivered(total: usize, why: impl Into<String>) -> Self {
        SinkError { failed: total, total, why: why.into(), delivered: vec![] }
    }
}

/// Where events go (EventBridge in AWS, stdout or a file locally).
///
/// Contract: `put` returns `Ok` only when every event was accepted; it retries what it can
/// and otherwise returns an error naming how many failed. It never drops events silently.
pub trait EventSink {
    /// Delivers events, in order.
    fn put(&self, events: &[Envelope]) -> impl Future<Output = Result<(), SinkError>> + Send;
}

/// An opened log object: a blocking byte stream plus what S3 said about it.
#[derive(Debug)]
pub struct Opened<R> {
    /// The object's bytes as stored (gzip or plain), read as they arrive.
    pub reader: R,
    /// The object's ETag, part of the delivery's idempotency key.
    pub etag: Option<String>,
    /// Stored size in bytes, when known.
    pub size: Option<u64>,
}

/// Why a log object could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The object does not exist (deleted after the notification, or a wrong key).
    #[error(
        "log object s3://{bucket}/{key} does not exist; it may have been deleted or the notification names a wrong key"
    )]
    NotFound {
        /// Bucket.
        bucket: String,
        /// Key.
        key: String,
    },
    /// Reading is not allowed.
    #[error("access to s3://{bucket}/{key} denied: {why}; grant s3:GetObject on the trail bucket's AWSLogs/ prefix (and kms:Decrypt if the trail uses SSE-KMS)")]
    AccessDenied {
        /// Bucket.
        bucket: String,
        /// Key.
        key: String,
        /// The service's message.
        why: String,
    },
    /// The source failed or was unreachable; retrying may help.
    #[error("cannot read s3://{bucket}/{key}: {why}; the delivery is retried")]
    Unavailable {
        /// Bucket.
        bucket: String,
        /// Key.
        key: String,
        /// The service's message.
        why: String,
    },
}

/// Where delivered log objects are read from (S3 in AWS, memory in tests).
///
/// Contract: `open` returns the object's stored bytes as a blocking [`std::io::Read`] that
/// streams them (never buffering the whole object), with its ETag. The reader must be
/// consumed off the async executor (e.g. in `spawn_blocking`). A missing object is
/// `NotFound`, a permission problem `AccessDenied`; anything else is `Unavailable`.
pub trait LogSource {
    /// The byte stream type.
    type Reader: std::io::Read + Send + 'static;
    /// Opens `bucket`/`key` for reading.
    fn open(&self, bucket: &str, key: &str) -> impl Future<Output = Result<Opened<Self::Reader>, SourceError>> + Send;
}

/// One page of a bucket's listing: at most `max` objects under `prefix` whose keys sort after
/// `start_after`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listing<'a> {
    /// The bucket.
    pub bucket: &'a str,
    /// The prefix the keys start with.
    pub prefix: &'a str,
    /// The key the page starts after (`None`: from the first).
    pub start_after: Option<&'a str>,
    /// Objects at most.
    pub max: usize,
}

/// A trail's archive of log files, listed and written to by the backfill (S3 in AWS, memory
/// in tests).
///
/// Contract: `folders` returns the immediate sub-folders of `prefix` (keys up to and including
/// the next `/` after it, each once, sorted); `page` returns at most `max` objects under
/// `prefix` whose keys sort after `start_after`, in key order (within one account and region's
/// folder that is delivery order), with their ETags, and fewer than `max` only at the end
/// (the fields of its [`Listing`]);
/// `write` stores `bytes` at `bucket`/`key`, replacing what was there. Errors as for
/// [`LogSource`].
pub trait LogArchive {
    /// The sub-folders of `prefix`.
    fn folders(&self, bucket: &str, prefix: &str) -> impl Future<Output = Result<Vec<String>, SourceError>> + Send;
    /// The next objects of the listing.
    fn page(
        &self,
        listing: Listing<'_>,
    ) -> impl Future<Output = Result<Vec<crate::ingest::notify::ObjectRef>, SourceError>> + Send;
    /// Writes an object (the backfill's manifest of streams).
    fn write(&self, bucket: &str, key: &str, bytes: Vec<u8>) -> impl Future<Output = Result<(), SourceError>> + Send;
}

impl Commit {
    /// The checkpoint of `stream` this commit leaves: its stream state and every API of it the
    /// commit carries (a commit carries every API its pipeline held).
    pub fn checkpoint(&self, stream: &StreamKey) -> crate::store::journal::Checkpoint {
        let snap = self.streams.get(stream);
        crate::store::journal::Checkpoint {
            state: snap.and_then(|s| s.state.clone()),
            live: snap.map(|s| s.live.clone()).unwrap_or_default(),
            apis: self
                .apis
                .iter()
                .filter(|(a, _)| a.account == stream.0 && a.region == stream.1)
                .map(|(a, v)| (a.clone(), v.value.clone()))
                .collect(),
        }
    }
}
