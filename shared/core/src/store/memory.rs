//! In-memory adapters of the ports: a [`MemoryStore`] and a [`MemorySink`], for tests and tools
//! (feature `testing`; never compiled into the Lambdas). They honour the same contracts as the DynamoDB and EventBridge
//! adapters, including conditional commits and injected delivery failures.

use crate::api::ApiKey;
use crate::detect::ApiState;
use crate::events::Envelope;
use crate::ingest::notify::ObjectRef;
use crate::store::journal::{Checkpoint, JournalEntry};
use crate::store::ports::{
    BaselineStore, Commit, CommitOutcome, EventSink, Listing, ObjectStatus, SinkError, Snapshot, SourceError,
    StoreError, StreamKey, StreamSnapshot, Versioned,
};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

#[derive(Debug, Default)]
struct Inner {
    ledger: BTreeMap<String, (bool, Vec<Envelope>)>,
    streams: BTreeMap<StreamKey, StreamSnapshot>,
    apis: BTreeMap<ApiKey, Versioned<ApiState>>,
    counts: BTreeMap<(ApiKey, i64), (u64, u64)>,
    /// Journaling mode: per stream, the last checkpoint and the entries since.
    journals: Option<BTreeMap<StreamKey, Journal>>,
}

/// A stream's checkpoint (with the version it was taken at), the entries committed since,
/// and its eventIDs by minute, kept apart from the stream state as the DynamoDB store keeps
/// them: a load returns the ids of the file's minutes only, not a day of them.
#[derive(Debug, Default)]
struct Journal {
    checkpoint: Option<(u64, Checkpoint)>,
    entries: Vec<JournalEntry>,
    ids: BTreeMap<i64, Vec<u64>>,
}

/// A [`BaselineStore`] in memory.
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
    ledger_reads: std::sync::atomic::AtomicUsize,
}

impl MemoryStore {
    /// A store that keeps states as the DynamoDB store does: a checkpoint of each stream every
    /// [`CHECKPOINT_EVERY`](crate::store::journal::CHECKPOINT_EVERY) commits and the journal entries
    /// since, which loads return for replay (see [`crate::store::journal`]).
    pub fn journaling() -> Self {
        MemoryStore {
            inner: Mutex::new(Inner { journals: Some(BTreeMap::new()), ..Inner::default() }),
            ledger_reads: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    /// How many times the ledger was read ([`BaselineStore::status`]).
    pub fn ledger_reads(&self) -> usize {
        self.ledger_reads.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn lock(&self) -> Result<MutexGuard<'_, Inner>, StoreError> {
        self.inner.lock().map_err(|_| StoreError::Unavailable("in-memory store poisoned by a panic".to_owned()))
    }
}

/// Loads a journaling store's streams: each checkpoint's states (every API of the stream) and
/// the entries since.
fn load_journaled(
    inner: &Inner,
    journals: &BTreeMap<StreamKey, Journal>,
    streams: &[StreamKey],
    minutes: &[i64],
) -> Snapshot {
    let mut snap = Snapshot::default();
    for s in streams {
        let mut stream = inner.streams.get(s).cloned().unwrap_or_default();
        let Some(j) = journals.get(s) else {
            snap.streams.insert(s.clone(), stream);
            continue;
        };
        stream.seen = minutes
            .iter()
            .filter_map(|m| j.ids.get(m).map(|ids| ids.iter().map(move |id| (*id, *m))))
            .flatten()
            .collect();
        if let Some((_, cp)) = &j.checkpoint {
            stream.state = cp.state.clone();
            stream.live = cp.live.clone();
            for (api, state) in &cp.apis {
                let value = Versioned { value: state.clone(), version: stream.version };
                snap.apis.insert(api.clone(), value);
            }
        } else {
            stream.state = None;
            stream.live.clear();
        }
        snap.journal.insert(s.clone(), j.entries.clone());
        snap.streams.insert(s.clone(), stream);
    }
    snap
}

/// A journaling store's commit: an entry per stream, and a checkpoint when one is due (or
/// when the commit carries no entry for a stream, so only its states can say what changed).
fn commit_journaled(journals: &mut BTreeMap<StreamKey, Journal>, commit: &Commit) {
    for (k, s) in &commit.streams {
        let j = journals.entry(k.clone()).or_default();
        let entry = commit.journal.get(k);
        let since = j.entries.len() as u64;
        // In memory nothing expires: only the number of entries counts.
        let due = entry.is_none() || crate::store::journal::checkpoint_due(since, j.checkpoint.as_ref().map(|_| 0), 0);
        for (id, minute) in commit.new_ids.get(k).into_iter().flatten() {
            j.ids.entry(*minute).or_default().push(*id);
        }
        // As long as the pipeline remembers ids (a day behind the newest minute).
        if let (Some(&oldest), Some(&newest)) = (j.ids.keys().next(), j.ids.keys().next_back()) {
            let horizon = newest - crate::ingest::dedup::DEFAULT_RETENTION_MINUTES;
            if oldest < horizon {
                j.ids = j.ids.split_off(&horizon);
            }
        }
        if due {
            let checkpoint = commit.checkpoint(k);
            j.checkpoint = Some((s.version + 1, checkpoint));
            j.entries.clear();
        } else if let Some(e) = entry {
            j.entries.push(e.clone());
        }
    }
}

impl BaselineStore for MemoryStore {
    async fn status(&self, object: &str) -> Result<ObjectStatus, StoreError> {
        self.ledger_reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(match self.lock()?.ledger.get(object) {
            None => ObjectStatus::New,
            Some((true, _)) => ObjectStatus::Done,
            Some((false, events)) => ObjectStatus::Pending(events.clone()),
        })
    }

    async fn load(&self, streams: &[StreamKey], apis: &[ApiKey], minutes: &[i64]) -> Result<Snapshot, StoreError> {
        let inner = self.lock()?;
        if let Some(journals) = &inner.journals {
            return Ok(load_journaled(&inner, journals, streams, minutes));
        }
        let mut snap = Snapshot::default();
        for s in streams {
            snap.streams.insert(s.clone(), inner.streams.get(s).cloned().unwrap_or_default());
        }
        for a in apis {
            if let Some(v) = inner.apis.get(a) {
                snap.apis.insert(a.clone(), v.clone());
            }
        }
        Ok(snap)
    }

    async fn commit(&self, commit: &Commit) -> Result<CommitOutcome, StoreError> {
        let mut inner = self.lock()?;
        if inner.ledger.contains_key(&commit.object) {
            return Ok(CommitOutcome::AlreadyCommitted);
        }
        let stream_moved =
            commit.streams.iter().any(|(k, s)| inner.streams.get(k).map_or(0, |c| c.version) != s.version);
        let api_moved = inner.journals.is_none()
            && commit.apis.iter().any(|(k, v)| inner.apis.get(k).map_or(0, |c| c.version) != v.version);
        if stream_moved || api_moved {
            return Ok(CommitOutcome::Conflict);
        }
        let journaled = inner.journals.is_some();
        for (k, s) in &commit.streams {
            let mut s = s.clone();
            s.version += 1;
            if journaled {
                // Kept by minute in the stream's journal (see `Journal::ids`).
                s.seen = Vec::new();
            }
            inner.streams.insert(k.clone(), s);
        }
        if let Some(journals) = inner.journals.as_mut() {
            commit_journaled(journals, commit);
        }
        for (k, v) in commit.apis.iter().filter(|_| !journaled) {
            inner.apis.insert(k.clone(), Versioned { value: v.value.clone(), version: v.version + 1 });
        }
        for c in &commit.counts {
            let e = inner.counts.entry((c.api.clone(), c.minute)).or_default();
            e.0 += c.calls;
            e.1 += c.errors;
        }
        // A commit without events is done at once (nothing to send).
        inner.ledger.insert(commit.object.clone(), (commit.events.is_empty(), commit.events.clone()));
        Ok(CommitOutcome::Committed)
    }

    async fn mark_sent(&self, object: &str) -> Result<(), StoreError> {
        if let Some(entry) = self.lock()?.ledger.get_mut(object) {
            entry.0 = true;
            entry.1.clear();
        }
        Ok(())
    }

    async fn mark_delivered(&self, object: &str, ids: &[String]) -> Result<(), StoreError> {
        if let Some(entry) = self.lock()?.ledger.get_mut(object) {
            entry.1.retain(|e| !ids.contains(&e.id));
        }
        Ok(())
    }

    async fn counts(&self, api: &ApiKey, from: i64, to: i64) -> Result<Vec<(i64, u64, u64)>, StoreError> {
        let inner = self.lock()?;
        Ok(inner.counts.range((api.clone(), from)..(api.clone(), to)).map(|((_, m), (c, e))| (*m, *c, *e)).collect())
    }
}

/// An [`EventSink`] that keeps what it receives; it can be told to fail the next puts.
#[derive(Debug, Default)]
pub struct MemorySink {
    events: Mutex<Vec<Envelope>>,
    fail_next: AtomicUsize,
    /// When set, the next put delivers only this many events and fails the rest.
    partial_next: Mutex<Option<usize>>,
}

impl MemorySink {
    /// Every event delivered so far, in order.
    pub fn events(&self) -> Vec<Envelope> {
        self.events.lock().map(|e| e.clone()).unwrap_or_default()
    }

    /// Makes the next call to `put` deliver only its first `k` events and fail the rest, as
    /// a PutEvents response with failed entries does.
    pub fn deliver_only_next(&self, k: usize) {
        if let Ok(mut p) = self.partial_next.lock() {
            *p = Some(k);
        }
    }

    /// Makes the next `n` calls to `put` fail without delivering anything.
    pub fn fail_next(&self, n: usize) {
        self.fail_next.store(n, Ordering::SeqCst);
    }
}

impl EventSink for MemorySink {
    async fn put(&self, events: &[Envelope]) -> Result<(), SinkError> {
        if events.is_empty() {
            return Ok(());
        }
        // Every event a test produces must match its published schema.
        if let Some(why) = events.iter().find_map(|e| crate::schemas::check(e).err()) {
            return Err(SinkError::none_delivered(events.len(), why));
        }
        let pending = self.fail_next.load(Ordering::SeqCst);
        if pending > 0 {
            self.fail_next.store(pending - 1, Ordering::SeqCst);
            return Err(SinkError::none_delivered(events.len(), "injected failure"));
        }
        let partial = self.partial_next.lock().ok().and_then(|mut p| p.take());
        if let Some(k) = partial.filter(|k| *k < events.len()) {
            let delivered = &events[..k];
            if let Ok(mut held) = self.events.lock() {
                held.extend_from_slice(delivered);
            }
            return Err(SinkError {
                failed: events.len() - k,
                total: events.len(),
                why: "injected partial failure".to_owned(),
                delivered: delivered.iter().map(|e| e.id.clone()).collect(),
            });
        }
        self.events
            .lock()
            .map_err(|_| SinkError::none_delivered(events.len(), "sink poisoned"))?
            .extend_from_slice(events);
        Ok(())
    }
}

/// An object's bytes and ETag.
type StoredObject = (Vec<u8>, String);

/// A [`LogSource`](crate::store::ports::LogSource) over objects held in memory.
#[derive(Debug, Default)]
pub struct MemorySource {
    objects: Mutex<BTreeMap<(String, String), StoredObject>>,
}

impl MemorySource {
    /// Stores an object; its ETag is derived from its bytes (as S3's is).
    pub fn put(&self, bucket: &str, key: &str, bytes: Vec<u8>) {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        std::hash::Hash::hash(&bytes, &mut h);
        let etag = format!("{:016x}", std::hash::Hasher::finish(&h));
        if let Ok(mut objects) = self.objects.lock() {
            objects.insert((bucket.to_owned(), key.to_owned()), (bytes, etag));
        }
    }
}

impl crate::store::ports::LogSource for MemorySource {
    type Reader = std::io::Cursor<Vec<u8>>;

    async fn open(&self, bucket: &str, key: &str) -> Result<crate::store::ports::Opened<Self::Reader>, SourceError> {
        let objects = self.objects.lock().map_err(|_| SourceError::Unavailable {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            why: "in-memory source poisoned".to_owned(),
        })?;
        let (bytes, etag) = objects
            .get(&(bucket.to_owned(), key.to_owned()))
            .ok_or_else(|| SourceError::NotFound { bucket: bucket.to_owned(), key: key.to_owned() })?;
        Ok(crate::store::ports::Opened {
            size: Some(bytes.len() as u64),
            reader: std::io::Cursor::new(bytes.clone()),
            etag: Some(etag.clone()),
        })
    }
}

impl crate::store::ports::LogArchive for MemorySource {
    async fn folders(&self, bucket: &str, prefix: &str) -> Result<Vec<String>, SourceError> {
        let objects = self.objects.lock().map_err(|_| poisoned(bucket, prefix))?;
        let folders: std::collections::BTreeSet<String> = objects
            .keys()
            .filter(|(b, k)| b == bucket && k.starts_with(prefix))
            .filter_map(|(_, k)| {
                let rest = k.get(prefix.len()..)?;
                rest.find('/').map(|i| format!("{prefix}{}", &rest[..=i]))
            })
            .collect();
        Ok(folders.into_iter().collect())
    }

    async fn page(&self, listing: Listing<'_>) -> Result<Vec<ObjectRef>, SourceError> {
        let (bucket, prefix) = (listing.bucket, listing.prefix);
        let objects = self.objects.lock().map_err(|_| poisoned(bucket, prefix))?;
        Ok(objects
            .iter()
            .filter(|((b, k), _)| {
                b == bucket && k.starts_with(prefix) && listing.start_after.is_none_or(|s| k.as_str() > s)
            })
            .take(listing.max)
            .map(|((b, k), (_, etag))| ObjectRef { bucket: b.clone(), key: k.clone(), etag: Some(etag.clone()) })
            .collect())
    }

    async fn write(&self, bucket: &str, key: &str, bytes: Vec<u8>) -> Result<(), SourceError> {
        self.put(bucket, key, bytes);
        Ok(())
    }
}

fn poisoned(bucket: &str, key: &str) -> SourceError {
    SourceError::Unavailable {
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        why: "in-memory source poisoned".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn memory_store_passes_the_store_contract() {
        pollster::block_on(crate::store::contract::run_all(super::MemoryStore::default));
    }

    #[test]
    fn journaling_memory_store_passes_the_store_contract() {
        pollster::block_on(crate::store::contract::run_all(super::MemoryStore::journaling));
    }

    #[test]
    #[allow(clippy::unwrap_used)]
    fn a_journaling_load_returns_the_ids_of_the_files_minutes_only() {
        use crate::store::contract::{commit, stream};
        use crate::store::ports::BaselineStore;
        pollster::block_on(async {
            // Given two committed files: ids 7 and 8 in minute 100, id 9 in minute 101
            let store = super::MemoryStore::journaling();
            let mut first = commit("a", 0, 0, 3);
            first.new_ids.insert(stream(), vec![(7, 100), (8, 100)]);
            store.commit(&first).await.unwrap();
            let mut second = commit("b", 1, 0, 2);
            second.new_ids.insert(stream(), vec![(9, 101)]);
            store.commit(&second).await.unwrap();
            // When a file with records of minute 101 loads the stream
            let snap = store.load(&[stream()], &[], &[101]).await.unwrap();
            // Then it gets the ids of minute 101, and those of minute 100 only when asked for
            assert_eq!(snap.streams[&stream()].seen, vec![(9, 101)]);
            let both = store.load(&[stream()], &[], &[100, 101]).await.unwrap();
            assert_eq!(both.streams[&stream()].seen, vec![(7, 100), (8, 100), (9, 101)]);
        });
    }
}
