//! The worker with in-memory ports: a stream split across calls equals one call, repeated
//! calls skip what is done, the manifest lists every stream, bad files are passed over, and
//! the input and output shapes the state machine relies on (tests/fixtures/backfill).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
use flate2::write::GzEncoder;
use std::io::Write;
use trailsight_core::api::ApiKey;
use trailsight_core::detect::DetectorConfig;
use trailsight_core::store::memory::{MemorySink, MemorySource, MemoryStore};

const BUCKET: &str = "trail";
const STREAM: &str = "org/AWSLogs/o-abc123/111122223333/CloudTrail/us-east-1/";

type MemDeps = Deps<MemorySource, MemoryStore, MaybeSink<MemorySink>>;

fn deps() -> MemDeps {
    Deps {
        source: MemorySource::default(),
        store: MemoryStore::default(),
        sink: MaybeSink(Some(MemorySink::default())),
        detector: DetectorConfig::default(),
        rules: true,
    }
}

/// File `i` of the stream: 40 ListUsers calls in minute `i` of 2025-01-02 00:xx, every fourth
/// file with a StopLogging.
fn file(i: u32) -> (String, Vec<u8>) {
    let time = format!("2025-01-02T00:{i:02}:30Z");
    let mut recs: Vec<String> = (0..40)
        .map(|n| format!(r#"{{"eventVersion":"1.08","eventTime":"{time}","eventSource":"iam.amazonaws.com","eventName":"ListUsers","awsRegion":"us-east-1","recipientAccountId":"111122223333","eventID":"f{i}-{n}"}}"#))
        .collect();
    if i % 4 == 0 {
        recs.push(format!(r#"{{"eventVersion":"1.08","eventTime":"{time}","eventSource":"cloudtrail.amazonaws.com","eventName":"StopLogging","awsRegion":"us-east-1","recipientAccountId":"111122223333","eventID":"stop-{i}","userIdentity":{{"arn":"arn:aws:iam::111122223333:user/mallory"}},"requestParameters":{{"name":"main"}}}}"#));
    }
    let mut e = GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(format!(r#"{{"Records":[{}]}}"#, recs.join(",")).as_bytes()).unwrap();
    let key =
        format!("{STREAM}2025/01/02/111122223333_CloudTrail_us-east-1_20250102T00{i:02}Z_abcdefabcdef{i:04}.json.gz");
    (key, e.finish().unwrap())
}

fn archive_of(d: &MemDeps, files: u32) {
    for i in 0..files {
        let (key, bytes) = file(i);
        d.source.put(BUCKET, &key, bytes);
    }
}

fn start() -> StreamProgress {
    StreamProgress { bucket: BUCKET.into(), prefix: STREAM.into(), ..StreamProgress::default() }
}

/// Calls the worker as the state machine does, until the stream is done; returns the last
/// output.
async fn run_to_end(d: &MemDeps, budget: Budget) -> StreamProgress {
    let mut p = start();
    for _ in 0..100 {
        p = backfill(d, &d.source, p, budget).await.unwrap();
        if p.done {
            return p;
        }
    }
    panic!("the stream never finished");
}

fn list_users() -> ApiKey {
    ApiKey {
        account: "111122223333".into(),
        region: "us-east-1".into(),
        event_source: "iam.amazonaws.com".into(),
        event_name: "ListUsers".into(),
    }
}

async fn state(d: &MemDeps) -> String {
    let stream = ("111122223333".to_owned(), "us-east-1".to_owned());
    let snap = d.store.load(&[stream], &[list_users()], &[]).await.unwrap();
    format!("{:?}", snap.apis)
}

fn events(d: &MemDeps) -> Vec<String> {
    let sink = d.sink.0.as_ref().unwrap();
    sink.events().iter().map(|e| serde_json::to_string(e).unwrap()).collect()
}

#[tokio::test]
async fn a_stream_split_across_calls_gives_the_same_baselines_and_events_as_one_call() {
    // Given the same twelve-file stream in two archives
    let (split, whole) = (deps(), deps());
    archive_of(&split, 12);
    archive_of(&whole, 12);
    // When one is backfilled five files per call, the other in one call
    let p = run_to_end(&split, Budget::files(5)).await;
    let q = run_to_end(&whole, Budget::files(1000)).await;
    // Then both counted every file and record once, with the same baselines and events
    assert_eq!((p.files, p.records, p.calls), (12, 483, 3));
    assert_eq!((q.files, q.records), (12, 483));
    assert_eq!(state(&split).await, state(&whole).await);
    assert_eq!(events(&split), events(&whole));
    assert_eq!(events(&split).len(), 3);
    let counts = split.store.counts(&list_users(), 0, i64::MAX).await.unwrap();
    assert_eq!(counts.iter().map(|c| c.1).sum::<u64>(), 480);
}

#[tokio::test]
async fn a_repeated_call_skips_what_is_done_and_counts_nothing_twice() {
    // Given a stream backfilled to its end
    let d = deps();
    archive_of(&d, 6);
    run_to_end(&d, Budget::files(1000)).await;
    let before = state(&d).await;
    // When the map item is run again from the start (a redrive)
    let again = run_to_end(&d, Budget::files(1000)).await;
    // Then every file is a duplicate, and the baselines and events are unchanged
    assert_eq!((again.files, again.duplicates), (0, 6));
    assert_eq!(state(&d).await, before);
    assert_eq!(events(&d).len(), 2);
}

#[tokio::test]
async fn a_file_that_is_not_a_log_is_passed_over_and_reported() {
    // Given a stream whose second file is corrupt gzip
    let d = deps();
    archive_of(&d, 3);
    let (bad_key, _) = file(1);
    d.source.put(BUCKET, &bad_key, b"\x1f\x8bnot gzip at all".to_vec());
    // When it is backfilled
    let p = run_to_end(&d, Budget::files(1000)).await;
    // Then the other files are counted and the bad one is named
    assert_eq!((p.files, p.failed), (2, 1));
    assert_eq!(p.failed_keys, vec![bad_key]);
}

#[tokio::test]
async fn the_manifest_lists_each_stream_as_an_item_the_worker_takes() {
    // Given an organization archive with two streams
    let d = deps();
    archive_of(&d, 2);
    d.source.put(BUCKET, "org/AWSLogs/o-abc123/444455556666/CloudTrail/eu-west-1/2025/01/03/x.json.gz", vec![1]);
    let list = ListStreams {
        bucket: BUCKET.into(),
        prefix: "org/".into(),
        since: Some("2025-01-02".into()),
        run: "exec-1".into(),
    };
    // When the streams are listed
    let manifest = list_streams(&d.source, "manifests", &list).await.unwrap();
    // Then the manifest holds one backfill request per stream, starting at the day given
    assert_eq!(manifest.streams, 2);
    assert_eq!(manifest.manifest_key, "manifests/exec-1/streams.json");
    let opened =
        trailsight_core::store::ports::LogSource::open(&d.source, "manifests", &manifest.manifest_key).await.unwrap();
    let items: Vec<Request> = serde_json::from_reader(opened.reader).unwrap();
    let Request::Backfill(first) = &items[0] else { panic!("not a backfill item") };
    assert_eq!(first.prefix, "org/AWSLogs/o-abc123/111122223333/CloudTrail/us-east-1/");
    assert_eq!(
        first.start_after.as_deref(),
        Some("org/AWSLogs/o-abc123/111122223333/CloudTrail/us-east-1/2025/01/02/")
    );
}

fn fixture(name: &str) -> serde_json::Value {
    let path = format!("{}/../../tests/fixtures/backfill/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn keys(v: &serde_json::Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    k.sort();
    k
}

#[tokio::test]
async fn the_shapes_the_state_machine_sends_and_reads_are_the_workers() {
    // Given the fixtures the template check also reads (tests/scripts/check_template.py)
    let d = deps();
    archive_of(&d, 1);
    // When the list step's input is handled, then its output has the manifest fields
    let listed =
        invoke(&d, &d.source, "manifests", fixture("list-streams-input.json"), Budget::files(10)).await.unwrap();
    assert_eq!(keys(&listed), keys(&fixture("list-streams-output.json")));
    // When a manifest item is handled, then the output is an item again, with `done`
    let item = fixture("stream-item.json");
    assert!(matches!(serde_json::from_value::<Request>(item.clone()), Ok(Request::Backfill(_))));
    let out = invoke(&d, &d.source, "manifests", item, Budget::files(10)).await.unwrap();
    assert_eq!(keys(&out), keys(&fixture("stream-output.json")));
    assert_eq!(out["action"], "backfill");
    assert!(out["done"].is_boolean());
    // And an input that is neither step is refused with what is expected
    let err = invoke(&d, &d.source, "m", serde_json::json!({"x": 1}), Budget::files(1)).await;
    assert!(err.unwrap_err().to_string().contains("list_streams"));
}

#[test]
fn a_deadline_in_the_past_or_near_allows_no_file_and_a_far_one_allows_files() {
    // Given budgets from Lambda deadlines (milliseconds since the epoch)
    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64;
    // Then a deadline already passed, or closer than the reserve, allows nothing
    assert!(!Budget::until_epoch_ms(now_ms - 1_000).allows(0, Duration::ZERO));
    assert!(!Budget::until_epoch_ms(now_ms + 5_000).allows(0, Duration::ZERO));
    // And fifteen minutes allow files until twice the slowest file no longer fits
    let budget = Budget::until_epoch_ms(now_ms + 900_000);
    assert!(budget.allows(100, Duration::from_secs(1)));
    assert!(!budget.allows(100, Duration::from_secs(500)));
}
