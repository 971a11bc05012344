//! The contract test suite of [`BaselineStore`]: every adapter (in memory, embedded, DynamoDB)
//! runs these same checks from its own tests (feature `contract-tests`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::api::ApiKey;
use crate::detect::ApiState;
use crate::store::journal::{JournalEntry, JournalSlot};
use crate::store::ports::{BaselineStore, Commit, CommitOutcome, MinuteCount, ObjectStatus, StreamSnapshot, Versioned};

/// An IAM API of [`stream`].
pub fn api(name: &str) -> ApiKey {
    ApiKey {
        account: "111122223333".into(),
        region: "us-east-1".into(),
        event_source: "iam.amazonaws.com".into(),
        event_name: name.into(),
    }
}

/// The stream of [`commit`].
pub fn stream() -> (String, String) {
    ("111122223333".into(), "us-east-1".into())
}

/// A commit of `object` expecting the given versions: ListUsers called `calls` times (one
/// error) in minute 100, eventID 7 new, with its journal entry.
pub fn commit(object: &str, stream_version: u64, api_version: u64, calls: u64) -> Commit {
    let mut c = Commit { object: object.into(), ..Commit::default() };
    c.streams.insert(
        stream(),
        StreamSnapshot { seen: vec![(7, 100)], version: stream_version, ..StreamSnapshot::default() },
    );
    c.new_ids.insert(stream(), vec![(7, 100)]);
    c.apis.insert(api("ListUsers"), Versioned { value: ApiState::new(100), version: api_version });
    c.counts.push(MinuteCount { api: api("ListUsers"), minute: 100, calls, errors: 1 });
    c.journal.insert(
        stream(),
        JournalEntry {
            delivered: Some(105),
            apis: vec![("iam.amazonaws.com".into(), "ListUsers".into())],
            strings: vec![],
            slots: vec![JournalSlot {
                api: 0,
                minute: 100,
                calls: u32::try_from(calls).unwrap(),
                errors: 1,
                ..JournalSlot::default()
            }],
        },
    );
    c
}

/// A commit of `object` that carries one event and nothing else: once committed, the object
/// is pending until its event is marked sent.
pub fn pending_commit(object: &str) -> Commit {
    Commit {
        object: object.into(),
        events: vec![crate::events::Envelope::new(
            "e1",
            "Trailsight Risky Change",
            "1",
            "t",
            "r",
            vec![],
            serde_json::Value::Null,
        )],
        ..Commit::default()
    }
}

/// Runs every check on fresh stores from `make`.
pub async fn run_all<S: BaselineStore>(make: impl Fn() -> S) {
    empty_store_loads_nothing(&make()).await;
    commit_round_trips_with_versions(&make()).await;
    second_commit_of_an_object_writes_nothing(&make()).await;
    stale_version_conflicts_and_writes_nothing(&make()).await;
    counts_add_up_across_commits(&make()).await;
    object_status_goes_from_new_to_pending_to_done(&make()).await;
    a_commit_without_events_is_done_at_once(&make()).await;
}

/// Given an empty store, when anything is loaded, then streams are default and APIs absent.
pub async fn empty_store_loads_nothing<S: BaselineStore>(s: &S) {
    let snap = s.load(&[stream()], &[api("ListUsers")], &[100]).await.unwrap();
    assert_eq!(snap.streams.get(&stream()).map(|x| x.version), Some(0));
    assert!(snap.apis.is_empty());
    assert_eq!(s.status("o1").await.unwrap(), ObjectStatus::New);
}

/// Given a commit, when loaded back, then the values come back with version 1.
pub async fn commit_round_trips_with_versions<S: BaselineStore>(s: &S) {
    assert_eq!(s.commit(&commit("o1", 0, 0, 5)).await.unwrap(), CommitOutcome::Committed);
    let snap = s.load(&[stream()], &[api("ListUsers"), api("Other")], &[100]).await.unwrap();
    let st = &snap.streams[&stream()];
    assert_eq!((st.version, st.seen.clone()), (1, vec![(7, 100)]));
    let a = &snap.apis[&api("ListUsers")];
    assert_eq!(a.version, 1);
    assert_eq!(a.value, ApiState::new(100));
    assert!(!snap.apis.contains_key(&api("Other")));
}

/// Given a committed object, when committed again, then nothing more is written.
pub async fn second_commit_of_an_object_writes_nothing<S: BaselineStore>(s: &S) {
    s.commit(&commit("o1", 0, 0, 5)).await.unwrap();
    assert_eq!(s.commit(&commit("o1", 1, 1, 5)).await.unwrap(), CommitOutcome::AlreadyCommitted);
    assert_eq!(s.counts(&api("ListUsers"), 0, 1000).await.unwrap(), vec![(100, 5, 1)]);
}

/// Given a stream changed since it was loaded, when a commit expects its old version, then it
/// conflicts and writes nothing (no ledger entry, no counts).
pub async fn stale_version_conflicts_and_writes_nothing<S: BaselineStore>(s: &S) {
    s.commit(&commit("o1", 0, 0, 5)).await.unwrap();
    assert_eq!(s.commit(&commit("o2", 0, 1, 3)).await.unwrap(), CommitOutcome::Conflict);
    assert_eq!(s.status("o2").await.unwrap(), ObjectStatus::New);
    assert_eq!(s.counts(&api("ListUsers"), 0, 1000).await.unwrap(), vec![(100, 5, 1)]);
    assert_eq!(s.commit(&commit("o2", 1, 1, 3)).await.unwrap(), CommitOutcome::Committed);
}

/// Given two files with calls in the same minute, then the stored count is their sum.
pub async fn counts_add_up_across_commits<S: BaselineStore>(s: &S) {
    s.commit(&commit("o1", 0, 0, 5)).await.unwrap();
    s.commit(&commit("o2", 1, 1, 3)).await.unwrap();
    assert_eq!(s.counts(&api("ListUsers"), 0, 1000).await.unwrap(), vec![(100, 8, 2)]);
    assert_eq!(s.counts(&api("ListUsers"), 101, 1000).await.unwrap(), vec![]);
}

/// Given a commit with events, its status is pending with the events until marked sent.
pub async fn object_status_goes_from_new_to_pending_to_done<S: BaselineStore>(s: &S) {
    let mut c = commit("o1", 0, 0, 5);
    c.events = pending_commit("o1").events;
    s.commit(&c).await.unwrap();
    match s.status("o1").await.unwrap() {
        ObjectStatus::Pending(events) => assert_eq!(events.len(), 1),
        other => panic!("expected pending, got {other:?}"),
    }
    s.mark_sent("o1").await.unwrap();
    assert_eq!(s.status("o1").await.unwrap(), ObjectStatus::Done);
}

/// Given a commit without events, its status is done at once (nothing to send).
pub async fn a_commit_without_events_is_done_at_once<S: BaselineStore>(s: &S) {
    s.commit(&commit("o1", 0, 0, 5)).await.unwrap();
    assert_eq!(s.status("o1").await.unwrap(), ObjectStatus::Done);
}
