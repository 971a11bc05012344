//! The handler with in-memory ports: every notification shape, skips, failures and
//! duplicates.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
use flate2::write::GzEncoder;
use std::io::Write;
use trailsight_core::detect::DetectorConfig;
use trailsight_core::store::memory::{MemorySink, MemorySource, MemoryStore};

const BUCKET: &str = "trail-bucket";
const KEY: &str = "my logs/AWSLogs/111122223333/CloudTrail/us-east-1/2024/01/02/111122223333_CloudTrail_us-east-1_20240102T0005Z_aaaaaaaaaaaaaaaa.json.gz";
const KEY2: &str = "my logs/AWSLogs/111122223333/CloudTrail/us-east-1/2024/01/02/111122223333_CloudTrail_us-east-1_20240102T0010Z_bbbbbbbbbbbbbbbb.json.gz";

fn gz(text: &str) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(text.as_bytes()).unwrap();
    e.finish().unwrap()
}

fn log(first_id: u32, n: u32, risky: bool) -> Vec<u8> {
    let mut recs: Vec<String> = (first_id..first_id + n)
        .map(|i| format!(r#"{{"eventVersion":"1.08","eventTime":"2024-01-02T00:01:00Z","eventSource":"iam.amazonaws.com","eventName":"ListUsers","awsRegion":"us-east-1","recipientAccountId":"111122223333","eventID":"id-{i}"}}"#))
        .collect();
    if risky {
        recs.push(r#"{"eventVersion":"1.08","eventTime":"2024-01-02T00:02:00Z","eventSource":"cloudtrail.amazonaws.com","eventName":"StopLogging","awsRegion":"us-east-1","recipientAccountId":"111122223333","eventID":"stop-1","userIdentity":{"arn":"arn:aws:iam::111122223333:user/mallory"},"requestParameters":{"name":"main"}}"#.to_owned());
    }
    gz(&format!(r#"{{"Records":[{}]}}"#, recs.join(",")))
}

fn deps() -> Deps<MemorySource, MemoryStore, MemorySink> {
    Deps {
        source: MemorySource::default(),
        store: MemoryStore::default(),
        sink: MemorySink::default(),
        detector: DetectorConfig::default(),
        rules: true,
    }
}

fn encoded(key: &str) -> String {
    key.replace(' ', "+")
}

fn s3_event(keys: &[&str]) -> Value {
    let records: Vec<Value> = keys
        .iter()
        .map(|k| json!({"eventSource": "aws:s3", "eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": BUCKET}, "object": {"key": encoded(k), "size": 10}}}))
        .collect();
    json!({ "Records": records })
}

fn sqs_event(messages: &[(&str, Value)]) -> Value {
    let records: Vec<Value> = messages
        .iter()
        .map(|(id, body)| json!({"messageId": id, "eventSource": "aws:sqs", "body": body.to_string()}))
        .collect();
    json!({ "Records": records })
}

fn run(d: &Deps<MemorySource, MemoryStore, MemorySink>, event: &Value) -> (Result<Value, HandlerError>, Totals) {
    let mut totals = Totals::default();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let r = rt.block_on(handle(d, event, &mut totals));
    (r, totals)
}

#[test]
fn s3_notification_with_an_url_encoded_key_is_counted() {
    // Given a log file under a prefix with a space, announced with its key URL-encoded
    let d = deps();
    d.source.put(BUCKET, KEY, log(0, 5, true));
    // When the handler runs
    let (r, totals) = run(&d, &s3_event(&[KEY]));
    // Then the file is counted and its risky change is sent
    assert!(r.is_ok(), "{r:?}");
    assert_eq!((totals.files, totals.records, totals.risky_changes), (1, 6, 1));
    assert_eq!(d.sink.events().len(), 1);
    assert_eq!(d.sink.events()[0].detail_type, "Trailsight Risky Change");
}

#[test]
fn duplicate_notification_does_not_double_count() {
    // Given a file already ingested
    let d = deps();
    d.source.put(BUCKET, KEY, log(0, 5, true));
    run(&d, &s3_event(&[KEY])).0.unwrap();
    // When the same notification arrives again
    let (r, totals) = run(&d, &s3_event(&[KEY]));
    // Then it is recognised as a duplicate: nothing counted or sent again
    assert!(r.is_ok());
    assert_eq!((totals.files, totals.duplicate_deliveries), (0, 1));
    assert_eq!(d.sink.events().len(), 1);
}

#[test]
fn sqs_batch_reports_only_the_failed_message() {
    // Given two SQS messages, one for a file that exists and one for a missing object
    let d = deps();
    d.source.put(BUCKET, KEY, log(0, 3, false));
    let event = sqs_event(&[("m-ok", s3_event(&[KEY])), ("m-missing", s3_event(&[KEY2]))]);
    // When handled
    let (r, totals) = run(&d, &event);
    // Then only the failed message comes back for retry
    let body = r.unwrap();
    assert_eq!(body, json!({"batchItemFailures": [{"itemIdentifier": "m-missing"}]}));
    assert_eq!((totals.files, totals.failed_objects), (1, 1));
}

#[test]
fn digest_and_foreign_objects_are_skipped_not_failed() {
    // Given a digest file and an unrelated object announced
    let d = deps();
    let digest = "AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2024/01/02/111122223333_CloudTrail-Digest_us-east-1_trail_us-east-1_20240102T000500Z.json.gz";
    // When handled
    let (r, totals) = run(&d, &s3_event(&[digest, "reports/summary.csv"]));
    // Then both are skipped and the invocation succeeds
    assert!(r.is_ok());
    assert_eq!((totals.skipped_objects, totals.failed_objects), (2, 0));
}

#[test]
fn corrupt_gzip_fails_the_invocation_naming_the_file() {
    // Given an object whose gzip stream is damaged
    let d = deps();
    let mut bytes = log(0, 50, false);
    let len = bytes.len();
    bytes.truncate(len / 2);
    d.source.put(BUCKET, KEY, bytes);
    // When handled directly from S3 (no SQS)
    let (r, _) = run(&d, &s3_event(&[KEY]));
    // Then the invocation fails with the file named, and nothing was counted
    let err = r.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(err.contains(KEY) && err.contains("gzip"), "{err}");
    assert!(d.sink.events().is_empty());
}

#[test]
fn cloudtrail_sns_notification_ingests_each_listed_key() {
    // Given CloudTrail's own SNS notification listing two files (keys not encoded)
    let d = deps();
    d.source.put(BUCKET, KEY, log(0, 4, false));
    d.source.put(BUCKET, KEY2, log(4, 4, false));
    let message = json!({"s3Bucket": BUCKET, "s3ObjectKey": [KEY, KEY2]}).to_string();
    let event = json!({"Records": [{"EventSource": "aws:sns", "Sns": {"Message": message}}]});
    // When handled
    let (r, totals) = run(&d, &event);
    // Then both files are counted
    assert!(r.is_ok(), "{r:?}");
    assert_eq!((totals.files, totals.records), (2, 8));
}

#[test]
fn eventbridge_object_created_event_is_ingested() {
    // Given S3's EventBridge notification
    let d = deps();
    d.source.put(BUCKET, KEY, log(0, 2, false));
    let event = json!({"source": "aws.s3", "detail-type": "Object Created", "detail": {"bucket": {"name": BUCKET}, "object": {"key": KEY, "etag": "abc"}}});
    // When handled
    let (r, totals) = run(&d, &event);
    // Then the file is counted
    assert!(r.is_ok(), "{r:?}");
    assert_eq!(totals.records, 2);
}

#[test]
fn an_unknown_event_shape_fails_with_a_clear_message() {
    // Given an event that is no notification at all
    let d = deps();
    // When handled
    let (r, _) = run(&d, &json!({"hello": "world"}));
    // Then the invocation fails saying what is accepted
    let err = r.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(err.contains("unsupported notification"), "{err}");
}
