//! Exactly-once behaviour of the ingest flow under duplicate, retried, concurrent and
//! out-of-order deliveries, with the in-memory adapters.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
use crate::ingest::pipeline::Pipeline;
use crate::log::count::count_log;
use crate::log::object_key::{classify, Classified};
use crate::store::hooked::{Hook, Hooked};
use crate::store::memory::{MemorySink, MemoryStore};
use std::sync::Arc;

fn key(name: &str) -> LogKey {
    match classify(name) {
        Classified::Log(k) => k,
        Classified::Skip(r) => panic!("{r}"),
    }
}

const F1: &str = "111122223333_CloudTrail_us-east-1_20240102T0005Z_aaaaaaaaaaaaaaaa.json";
const F2: &str = "111122223333_CloudTrail_us-east-1_20240102T0010Z_bbbbbbbbbbbbbbbb.json";

fn file(ids: std::ops::Range<u32>, minute: u32) -> String {
    let recs: Vec<String> = ids
        .map(|i| format!(r#"{{"eventTime":"2024-01-02T00:{minute:02}:00Z","eventSource":"iam.amazonaws.com","eventName":"ListUsers","awsRegion":"us-east-1","recipientAccountId":"111122223333","eventID":"id-{i}"}}"#))
        .collect();
    format!(r#"{{"Records":[{}]}}"#, recs.join(","))
}

fn batch(text: &str, name: &str) -> FileBatch {
    count_log(text.as_bytes(), name, Some(&key(name)), true).unwrap()
}

fn run<S: BaselineStore, K: EventSink>(
    store: &S,
    sink: &K,
    name: &str,
    text: &str,
) -> Result<IngestReport, IngestError> {
    pollster::block_on(ingest(
        store,
        sink,
        &DetectorConfig::default(),
        &format!("bucket/{name}#etag"),
        &key(name),
        || async { Ok(batch(text, name)) },
    ))
}

fn total_calls(store: &MemoryStore) -> u64 {
    let api = ApiKey {
        account: "111122223333".into(),
        region: "us-east-1".into(),
        event_source: "iam.amazonaws.com".into(),
        event_name: "ListUsers".into(),
    };
    pollster::block_on(store.counts(&api, 0, i64::MAX)).unwrap().iter().map(|c| c.1).sum()
}

#[test]
fn duplicate_delivery_does_not_double_count() {
    // Given a file ingested once
    let (store, sink) = (MemoryStore::default(), MemorySink::default());
    assert_eq!(run(&store, &sink, F1, &file(0..10, 1)).unwrap().disposition, Disposition::Processed);
    // When the same notification is delivered again
    let again = run(&store, &sink, F1, &file(0..10, 1)).unwrap();
    // Then it is recognised and nothing is counted twice
    assert_eq!(again.disposition, Disposition::Duplicate);
    assert_eq!(total_calls(&store), 10);
}

#[test]
fn a_new_file_reads_the_ledger_once_and_a_known_one_is_not_counted() {
    // Given an empty store
    let (store, sink) = (MemoryStore::default(), MemorySink::default());
    // When a new file is ingested
    run(&store, &sink, F1, &file(0..10, 1)).unwrap();
    // Then the ledger was read once
    assert_eq!(store.ledger_reads(), 1);
    // And when it is delivered again, its counting step is never called
    let counted = std::cell::Cell::new(false);
    let again = pollster::block_on(ingest(
        &store,
        &sink,
        &DetectorConfig::default(),
        &format!("bucket/{F1}#etag"),
        &key(F1),
        || async {
            counted.set(true);
            Ok(batch(&file(0..10, 1), F1))
        },
    ))
    .unwrap();
    assert_eq!(again.disposition, Disposition::Duplicate);
    assert!(!counted.get());
}

#[test]
fn records_repeated_in_a_later_file_count_once() {
    // Given a second file that repeats five records of the first
    let (store, sink) = (MemoryStore::default(), MemorySink::default());
    run(&store, &sink, F1, &file(0..10, 1)).unwrap();
    let r = run(&store, &sink, F2, &file(5..15, 1)).unwrap();
    // Then only the five new ones count
    assert_eq!(r.stats.duplicates, 5);
    assert_eq!(total_calls(&store), 15);
}

#[test]
fn retry_after_an_event_delivery_failure_sends_the_events_once() {
    // Given a file whose events fail to reach EventBridge on the first try
    let (store, sink) = (MemoryStore::default(), MemorySink::default());
    let text = r#"{"Records":[{"eventTime":"2024-01-02T00:01:00Z","eventSource":"cloudtrail.amazonaws.com","eventName":"StopLogging","awsRegion":"us-east-1","recipientAccountId":"111122223333","eventID":"e-1","requestParameters":{"name":"arn:aws:cloudtrail:us-east-1:111122223333:trail/main"}}]}"#;
    sink.fail_next(1);
    // When ingested, the invocation fails; when retried, the stored events are resent
    assert!(matches!(run(&store, &sink, F1, text), Err(IngestError::Sink(_))));
    let retry = run(&store, &sink, F1, text).unwrap();
    let third = run(&store, &sink, F1, text).unwrap();
    // Then each event reached the sink exactly once and the counts are not doubled
    let expected = if crate::rules::concerns("cloudtrail.amazonaws.com", "StopLogging") { 1 } else { 0 };
    assert_eq!(retry.disposition, if expected == 1 { Disposition::Resent } else { Disposition::Duplicate });
    assert_eq!(third.disposition, Disposition::Duplicate);
    assert_eq!(sink.events().len(), expected);
}

#[test]
fn retry_after_a_partial_put_events_failure_sends_only_the_failed_events() {
    // Given a file with three risky changes whose delivery half fails (one entry accepted)
    let (store, sink) = (MemoryStore::default(), MemorySink::default());
    let recs: Vec<String> = (0..3)
        .map(|i| format!(r#"{{"eventTime":"2024-01-02T00:01:00Z","eventSource":"cloudtrail.amazonaws.com","eventName":"StopLogging","awsRegion":"us-east-1","recipientAccountId":"111122223333","eventID":"e-{i}","requestParameters":{{"name":"arn:aws:cloudtrail:us-east-1:111122223333:trail/t{i}"}}}}"#))
        .collect();
    let text = format!(r#"{{"Records":[{}]}}"#, recs.join(","));
    sink.deliver_only_next(1);
    // When the invocation fails and the delivery is retried
    let first = run(&store, &sink, F1, &text);
    let retry = run(&store, &sink, F1, &text).unwrap();
    // Then every event reached the sink exactly once
    assert!(matches!(first, Err(IngestError::Sink(ref e)) if e.failed == 2 && e.delivered.len() == 1));
    assert_eq!(retry.disposition, Disposition::Resent);
    assert_eq!(retry.events, 2);
    let mut ids: Vec<String> = sink.events().into_iter().map(|e| e.id).collect();
    assert_eq!(ids.len(), 3);
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 3);
}

#[test]
fn a_crash_half_way_through_a_file_counts_nothing_until_the_retry() {
    // Given a file whose read fails half-way (as when the function dies mid-stream)
    let (store, sink) = (MemoryStore::default(), MemorySink::default());
    let text = file(0..10, 1);
    assert!(count_log(&text.as_bytes()[..text.len() / 2], F1, Some(&key(F1)), true).is_err());
    // When the delivery is retried in full
    run(&store, &sink, F1, &text).unwrap();
    // Then every record counts exactly once
    assert_eq!(total_calls(&store), 10);
}

/// A hook under which the store's first commit finds that another invocation changed the
/// state meanwhile.
#[derive(Default)]
struct RaceOnce {
    raced: std::sync::atomic::AtomicBool,
}

impl Hook<MemoryStore> for RaceOnce {
    fn before_commit(&self, store: &MemoryStore) -> Result<(), StoreError> {
        if !self.raced.swap(true, std::sync::atomic::Ordering::SeqCst) {
            // Another invocation commits another file of the same API first.
            run(store, &MemorySink::default(), F2, &file(100..103, 2)).unwrap();
        }
        Ok(())
    }
}

#[test]
fn concurrent_invocations_on_the_same_state_both_count_exactly_once() {
    // Given another invocation that commits between this one's load and commit
    let store = Hooked { inner: MemoryStore::default(), hook: RaceOnce::default() };
    // When this one commits, it conflicts, reloads and applies again
    let r = run(&store, &MemorySink::default(), F1, &file(0..10, 1)).unwrap();
    // Then both files count exactly once
    assert_eq!(r.attempts, 2);
    assert_eq!(total_calls(&store.inner), 13);
}

#[test]
fn the_same_file_processed_side_by_side_counts_once() {
    // Given two threads ingesting the same object at the same time
    let store = Arc::new(MemoryStore::default());
    let sink = Arc::new(MemorySink::default());
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let (store, sink) = (store.clone(), sink.clone());
            std::thread::spawn(move || run(&*store, &*sink, F1, &file(0..10, 1)).unwrap().disposition)
        })
        .collect();
    let outcomes: Vec<Disposition> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    // Then exactly one processed it and the counts are exact
    assert_eq!(outcomes.iter().filter(|d| **d == Disposition::Processed).count(), 1);
    assert_eq!(total_calls(&store), 10);
}

#[test]
fn late_and_out_of_order_files_still_give_exact_counts() {
    // Given the later file delivered first
    let (store, sink) = (MemoryStore::default(), MemorySink::default());
    run(&store, &sink, F2, &file(10..20, 7)).unwrap();
    run(&store, &sink, F1, &file(0..10, 1)).unwrap();
    // Then both count
    assert_eq!(total_calls(&store), 20);
}

#[test]
fn store_backed_ingest_gives_the_same_events_as_an_in_memory_replay() {
    same_events_as_replay(&MemoryStore::default());
}

#[test]
fn a_journaling_store_replays_its_entries_into_the_same_events_as_an_in_memory_replay() {
    // (checkpoints every twelve files, loads replaying up to eleven entries)
    same_events_as_replay(&MemoryStore::journaling());
}

fn same_events_as_replay(store: &MemoryStore) {
    // Given the real dataset's files in delivery order
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/grycap");
    let mut files: Vec<(LogKey, std::path::PathBuf)> = walk(&root)
        .into_iter()
        .filter_map(|p| match classify(&p.to_string_lossy()) {
            Classified::Log(k) => Some((k, p)),
            Classified::Skip(_) => None,
        })
        .collect();
    files.sort_by(|a, b| a.0.delivered.cmp(&b.0.delivered).then_with(|| a.1.cmp(&b.1)));
    // When replayed in memory, and ingested file by file through the store port
    let mut pipeline = Pipeline::new(DetectorConfig::default());
    let mut replayed = vec![];
    let sink = MemorySink::default();
    assert!(files.len() > 2 * crate::store::journal::CHECKPOINT_EVERY as usize);
    for (k, p) in &files {
        let b = count_log(std::fs::File::open(p).unwrap(), &p.to_string_lossy(), Some(k), true).unwrap();
        replayed.extend(pipeline.apply(Some(k), b.clone()));
        pollster::block_on(ingest(store, &sink, &DetectorConfig::default(), &p.to_string_lossy(), k, || async {
            Ok(b)
        }))
        .unwrap();
    }
    // Then the store-backed run emits exactly the same events
    assert!(!replayed.is_empty());
    assert_eq!(sink.events(), replayed);
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = vec![];
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
