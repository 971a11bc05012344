//! A store that forwards every call to the store inside it and lets a [`Hook`] step in around
//! loads and commits: a throttled request, a crash right after a commit, a rival invocation
//! committing first, or a count of commit attempts. For tests and tools (feature `testing`);
//! every other call, turns and claims included, reaches the real store unchanged.

use super::ports::{BaselineStore, Commit, CommitOutcome, ObjectStatus, Snapshot, StoreError, StreamKey, Turn};
use crate::api::ApiKey;

/// What a [`Hooked`] store does around the calls of the store inside it. Every step defaults
/// to doing nothing.
pub trait Hook<S>: Sync {
    /// Runs before a load; an error fails the load without asking the store.
    fn before_load(&self) -> Result<(), StoreError> {
        Ok(())
    }
    /// Runs before a commit, with the store inside (to commit something else first); an error
    /// fails the commit without asking the store.
    fn before_commit(&self, store: &S) -> Result<(), StoreError> {
        let _ = store;
        Ok(())
    }
    /// Sees what a commit did; what it returns is what the caller gets.
    fn after_commit(&self, outcome: CommitOutcome) -> Result<CommitOutcome, StoreError> {
        Ok(outcome)
    }
}

/// A store with a hook around its loads and commits.
#[derive(Debug, Default)]
pub struct Hooked<S, H> {
    /// The store every call reaches.
    pub inner: S,
    /// What happens around its loads and commits.
    pub hook: H,
}

impl<S: BaselineStore + Sync, H: Hook<S>> BaselineStore for Hooked<S, H> {
    async fn status(&self, object: &str) -> Result<ObjectStatus, StoreError> {
        self.inner.status(object).await
    }
    async fn load(&self, streams: &[StreamKey], apis: &[ApiKey], minutes: &[i64]) -> Result<Snapshot, StoreError> {
        self.hook.before_load()?;
        self.inner.load(streams, apis, minutes).await
    }
    async fn commit(&self, commit: &Commit) -> Result<CommitOutcome, StoreError> {
        self.hook.before_commit(&self.inner)?;
        let outcome = self.inner.commit(commit).await?;
        self.hook.after_commit(outcome)
    }
    async fn mark_sent(&self, object: &str) -> Result<(), StoreError> {
        self.inner.mark_sent(object).await
    }
    async fn mark_delivered(&self, object: &str, ids: &[String]) -> Result<(), StoreError> {
        self.inner.mark_delivered(object, ids).await
    }
    async fn claim_send(&self, object: &str) -> Result<bool, StoreError> {
        self.inner.claim_send(object).await
    }
    async fn take_turn(&self, streams: &[StreamKey], holder: &str) -> Result<Turn, StoreError> {
        self.inner.take_turn(streams, holder).await
    }
    async fn end_turn(&self, streams: &[StreamKey], holder: &str) -> Result<(), StoreError> {
        self.inner.end_turn(streams, holder).await
    }
    fn consumed(&self) -> (f64, f64) {
        self.inner.consumed()
    }
    async fn counts(&self, api: &ApiKey, from: i64, to: i64) -> Result<Vec<(i64, u64, u64)>, StoreError> {
        self.inner.counts(api, from, to).await
    }
}
