//! In-memory adapters of the ports: a [`MemoryStore`] and a [`MemorySink`], for tests and for
//! runs that keep no state. They honour the same contracts as the DynamoDB and EventBridge
//! adapters, including conditional commits and injected delivery failures.

use crate::count::ApiKey;
use crate::detect::ApiState;
use crate::events::Envelope;
use crate::ports::{
    BaselineStore, Commit, CommitOutcome, EventSink, ObjectStatus, SinkError, Snapshot, StoreError, StreamKey,
    StreamSnapshot, Versioned,
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
}

/// A [`BaselineStore`] in memory.
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

impl MemoryStore {
    fn lock(&self) -> Result<MutexGuard<'_, Inner>, StoreError> {
        self.inner
            .lock()
            .map_err(|_| StoreError::Unavailable("in-memory store poisoned by a panic".to_owned()))
    }
}

impl BaselineStore for MemoryStore {
    async fn status(&self, object: &str) -> Result<ObjectStatus, StoreError> {
        Ok(match self.lock()?.ledger.get(object) {
            None => ObjectStatus::New,
            Some((true, _)) => ObjectStatus::Done,
            Some((false, events)) => ObjectStatus::Pending(events.clone()),
        })
    }

    async fn load(&self, streams: &[StreamKey], apis: &[ApiKey]) -> Result<Snapshot, StoreError> {
        let inner = self.lock()?;
        let mut snap = Snapshot::default();
        for s in streams {
            snap.streams
                .insert(s.clone(), inner.streams.get(s).cloned().unwrap_or_default());
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
        let stream_moved = commit
            .streams
            .iter()
            .any(|(k, s)| inner.streams.get(k).map_or(0, |c| c.version) != s.version);
        let api_moved = commit
            .apis
            .iter()
            .any(|(k, v)| inner.apis.get(k).map_or(0, |c| c.version) != v.version);
        if stream_moved || api_moved {
            return Ok(CommitOutcome::Conflict);
        }
        for (k, s) in &commit.streams {
            let mut s = s.clone();
            s.version += 1;
            inner.streams.insert(k.clone(), s);
        }
        for (k, v) in &commit.apis {
            inner.apis.insert(
                k.clone(),
                Versioned {
                    value: v.value.clone(),
                    version: v.version + 1,
                },
            );
        }
        for c in &commit.counts {
            let e = inner.counts.entry((c.api.clone(), c.minute)).or_default();
            e.0 += c.calls;
            e.1 += c.errors;
        }
        inner
            .ledger
            .insert(commit.object.clone(), (false, commit.events.clone()));
        Ok(CommitOutcome::Committed)
    }

    async fn mark_sent(&self, object: &str) -> Result<(), StoreError> {
        if let Some(entry) = self.lock()?.ledger.get_mut(object) {
            entry.0 = true;
            entry.1.clear();
        }
        Ok(())
    }

    async fn counts(&self, api: &ApiKey, from: i64, to: i64) -> Result<Vec<(i64, u64, u64)>, StoreError> {
        let inner = self.lock()?;
        Ok(inner
            .counts
            .range((api.clone(), from)..(api.clone(), to))
            .map(|((_, m), (c, e))| (*m, *c, *e))
            .collect())
    }
}

/// An [`EventSink`] that keeps what it receives; it can be told to fail the next puts.
#[derive(Debug, Default)]
pub struct MemorySink {
    events: Mutex<Vec<Envelope>>,
    fail_next: AtomicUsize,
}

impl MemorySink {
    /// Every event delivered so far, in order.
    pub fn events(&self) -> Vec<Envelope> {
        self.events.lock().map(|e| e.clone()).unwrap_or_default()
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
        let pending = self.fail_next.load(Ordering::SeqCst);
        if pending > 0 {
            self.fail_next.store(pending - 1, Ordering::SeqCst);
            return Err(SinkError {
                failed: events.len(),
                total: events.len(),
                why: "injected failure".to_owned(),
            });
        }
        self.events
            .lock()
            .map_err(|_| SinkError {
                failed: events.len(),
                total: events.len(),
                why: "sink poisoned".to_owned(),
            })?
            .extend_from_slice(events);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn memory_store_passes_the_store_contract() {
        pollster::block_on(crate::contract::run_all(super::MemoryStore::default));
    }
}
