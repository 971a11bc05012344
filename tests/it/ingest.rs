//! The ingest handler with the real adapters on moto: every announcement shape, DynamoDB
//! items, events delivered to an EventBridge rule's SQS target, and exactly-once counting
//! under duplicate, concurrent, late, crashed, throttled and partially failed deliveries.

use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use trailsight_aws::dynamo::DynamoStore;
use trailsight_aws::eventbridge::EventBridgeSink;
use trailsight_aws::s3::S3Source;
use trailsight_core::api::ApiKey;
use trailsight_core::detect::DetectorConfig;
use trailsight_core::events::Envelope;
use trailsight_core::store::hooked::{Hook, Hooked};
use trailsight_core::store::ports::{BaselineStore, CommitOutcome, EventSink, SinkError, StoreError};
use trailsight_ingest::handler::{handle, Deps, HandlerError, Totals};
use trailsight_it::{gz_log, log_key, record, stop_logging, Env};

type AwsDeps<S = DynamoStore, K = EventBridgeSink> = Deps<S3Source, S, K>;

/// A short send lease, so retries after a crash or a failed send need not wait the production
/// 90 s. Tests where invocations overlap on purpose use [`OVERLAP_LEASE`] instead: a lease that
/// expires while its holder is still sending would (rightly) let a second sender in.
const LEASE: std::time::Duration = std::time::Duration::from_millis(400);
/// A lease longer than any send in these tests, however loaded the machine.
const OVERLAP_LEASE: std::time::Duration = std::time::Duration::from_secs(60);
/// How often a redelivery is retried while another invocation holds the send lease.
const RETRY_EVERY: std::time::Duration = std::time::Duration::from_millis(100);

fn deps(env: &Env, detector: DetectorConfig) -> AwsDeps {
    deps_with_lease(env, detector, LEASE)
}

fn deps_with_lease(env: &Env, detector: DetectorConfig, lease: std::time::Duration) -> AwsDeps {
    Deps {
        source: S3Source::new(env.s3.clone()),
        store: DynamoStore::new(env.ddb.clone(), &env.table).with_send_lease(lease),
        sink: EventBridgeSink::new(env.events.clone(), &env.bus),
        detector,
        rules: true,
    }
}

fn list_users() -> ApiKey {
    ApiKey {
        account: "111122223333".into(),
        region: "us-east-1".into(),
        event_source: "iam.amazonaws.com".into(),
        event_name: "ListUsers".into(),
    }
}

async fn run<L, S, K>(deps: &Deps<L, S, K>, event: &Value) -> Result<Value, HandlerError>
where
    L: trailsight_core::store::ports::LogSource,
    S: BaselineStore,
    K: EventSink,
{
    handle(deps, event, &mut Totals::default()).await
}

/// Redelivers `event` the way Lambda and SQS do after a failure: again, a little later, until
/// it succeeds (for at most twice the overlap lease). Returns the number of attempts.
async fn redeliver<L, S, K>(deps: &Deps<L, S, K>, event: &Value) -> usize
where
    L: trailsight_core::store::ports::LogSource,
    S: BaselineStore,
    K: EventSink,
{
    let deadline = tokio::time::Instant::now() + 2 * OVERLAP_LEASE;
    let mut attempt = 1;
    loop {
        match run(deps, event).await {
            Ok(_) => return attempt,
            Err(e) => {
                assert!(e.to_string().contains("another invocation"), "unexpected failure: {e}");
                assert!(tokio::time::Instant::now() < deadline, "delivery still failing after {attempt} attempts: {e}");
                tokio::time::sleep(RETRY_EVERY).await;
                attempt += 1;
            }
        }
    }
}

async fn calls(store: &impl BaselineStore, api: &ApiKey) -> (u64, u64) {
    let counts = store.counts(api, 0, i64::MAX).await.unwrap();
    (counts.iter().map(|c| c.1).sum(), counts.iter().map(|c| c.2).sum())
}

/// A file of `n` ListUsers calls (every 7th denied) in minute `minute` of 2024-01-02 00:xx,
/// plus one StopLogging when `trail` is given.
fn file(first: usize, n: usize, minute: u32, trail: Option<&str>) -> Vec<u8> {
    let time = format!("2024-01-02T00:{minute:02}:30Z");
    let mut recs: Vec<Value> = (first..first + n)
        .map(|i| {
            let error = (i % 7 == 0).then_some("AccessDenied");
            record(&format!("lu-{i}"), &time, "iam.amazonaws.com", "ListUsers", error)
        })
        .collect();
    if let Some(t) = trail {
        recs.push(stop_logging(&format!("stop-{t}"), &time, t));
    }
    gz_log(&recs)
}

fn s3_notification(bucket: &str, key: &str) -> Value {
    // S3 URL-encodes keys in notifications: spaces become '+'.
    let encoded = key.replace(' ', "+");
    json!({"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventName": "ObjectCreated:Put",
        "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": bucket, "arn": format!("arn:aws:s3:::{bucket}")},
               "object": {"key": encoded, "size": 100}}}]})
}

fn sqs_wrap(messages: &[(&str, Value)]) -> Value {
    let records: Vec<Value> = messages
        .iter()
        .map(|(id, body)| json!({"messageId": id, "receiptHandle": "r", "body": body.to_string(),
            "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:111122223333:q", "awsRegion": "us-east-1"}))
        .collect();
    json!({ "Records": records })
}

fn sns_wrap(message: &Value) -> Value {
    json!({"Records": [{"EventSource": "aws:sns", "EventVersion": "1.0",
        "Sns": {"Type": "Notification", "MessageId": "m", "TopicArn": "arn:aws:sns:us-east-1:111122223333:t",
                "Message": message.to_string()}}]})
}

fn key(stamp: &str, unique: &str) -> String {
    log_key("org logs/", "111122223333", "us-east-1", stamp, unique)
}

fn event_ids(events: &[Value]) -> Vec<String> {
    let mut ids: Vec<String> =
        events.iter().map(|e| e["detail"]["eventID"].as_str().unwrap_or("").to_owned()).collect();
    ids.sort();
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_announcement_shape_is_ingested_and_subscribers_receive_the_events() {
    // Given five log files in S3 (under a prefix with a space), each with 10 ListUsers calls
    // and one StopLogging, and one notification of each supported shape
    let env = Env::new().await;
    let d = deps(&env, DetectorConfig::default());
    let keys: Vec<String> =
        (0..5).map(|i| key(&format!("20240102T00{}5Z", i), &format!("file{i}aaaaaaaaaaa"))).collect();
    for (i, k) in keys.iter().enumerate() {
        env.put_object(k, file(i * 10, 10, i as u32, Some(&format!("t{i}")))).await;
    }
    let bucket = env.bucket.as_str();
    let envelopes = [
        s3_notification(bucket, &keys[0]),
        sqs_wrap(&[("msg-1", s3_notification(bucket, &keys[1]))]),
        sns_wrap(&json!({"s3Bucket": bucket, "s3ObjectKey": [keys[2]]})),
        sns_wrap(&s3_notification(bucket, &keys[3])),
        json!({"version": "0", "source": "aws.s3", "detail-type": "Object Created",
               "detail": {"bucket": {"name": bucket}, "object": {"key": keys[4], "size": 100}}}),
    ];
    // When the handler receives each
    for e in &envelopes {
        let out = run(&d, e).await.unwrap();
        assert!(out.get("batchItemFailures").is_none_or(|f| f.as_array().is_some_and(Vec::is_empty)), "{out}");
    }
    // Then DynamoDB holds the exact counts, and every ledger entry is done
    assert_eq!(calls(&d.store, &list_users()).await, (50, 8));
    let ledger = env
        .ddb
        .scan()
        .table_name(&env.table)
        .filter_expression("sk = :l")
        .expression_attribute_values(":l", aws_sdk_dynamodb::types::AttributeValue::S("LEDGER".into()))
        .send()
        .await
        .unwrap();
    assert_eq!(ledger.items().len(), 5);
    for item in ledger.items() {
        assert_eq!(item.get("status").and_then(|s| s.as_s().ok()).map(String::as_str), Some("done"));
    }
    // And the rule's SQS target received the five risky-change events
    let events = env.receive(5).await;
    assert_eq!(events.len(), 5, "{events:?}");
    for e in &events {
        assert_eq!(
            (e["source"].as_str(), e["detail-type"].as_str()),
            (Some("trailsight"), Some("Trailsight Risky Change"))
        );
        assert_eq!(e["detail"]["rule"], "cloudtrail-logging-stopped");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_concurrent_and_out_of_order_deliveries_count_exactly_once() {
    // Given six files whose minutes interleave, and a send lease no send outlasts
    let env = Env::new().await;
    let d = deps_with_lease(&env, DetectorConfig::default(), OVERLAP_LEASE);
    let mut keys = Vec::new();
    for i in 0..6u32 {
        let k = key(&format!("20240102T00{}0Z", i), &format!("conc{i}aaaaaaaaaaa"));
        env.put_object(&k, file(i as usize * 20, 20, i % 3, Some(&format!("c{i}")))).await;
        keys.push(k);
    }
    // When they are delivered newest first, each twice at the same time, and once more later
    for k in keys.iter().rev() {
        let n = s3_notification(&env.bucket, k);
        let (a, b) = tokio::join!(redeliver(&d, &n), redeliver(&d, &n));
        assert!(a >= 1 && b >= 1);
    }
    for k in &keys {
        run(&d, &s3_notification(&env.bucket, k)).await.unwrap();
    }
    // Then every call counts once and every risky change reaches subscribers once
    assert_eq!(calls(&d.store, &list_users()).await, (120, 18));
    let events = env.receive(6).await;
    assert_eq!(event_ids(&events), (0..6).map(|i| format!("stop-c{i}")).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_files_of_one_stream_at_once_take_turns_after_a_conflict_and_none_gives_up() {
    // Given twenty files of one account and region, landed at the same moment
    let env = Env::new().await;
    let d = std::sync::Arc::new(deps_with_lease(&env, DetectorConfig::default(), OVERLAP_LEASE));
    let mut keys = Vec::new();
    for i in 0..20u32 {
        let k = key(&format!("20240102T00{:02}Z", i), &format!("burst{i:02}aaaaaaaaa"));
        env.put_object(&k, file(i as usize * 10, 10, i % 5, None)).await;
        keys.push(k);
    }
    // When each is delivered by its own invocation, all at once
    let mut tasks = tokio::task::JoinSet::new();
    for k in &keys {
        let (d, n) = (std::sync::Arc::clone(&d), s3_notification(&env.bucket, k));
        tasks.spawn(async move { run(&d, &n).await.map(|_| ()).map_err(|e| e.to_string()) });
    }
    let mut failed = Vec::new();
    while let Some(done) = tasks.join_next().await {
        if let Err(e) = done.unwrap() {
            failed.push(e);
        }
    }
    // Then no file gives up, every call counts once, and after its first conflict a file
    // waits for its turn instead of conflicting again (each first commit can conflict, and
    // can make one turn holder's commit conflict)
    assert!(failed.is_empty(), "files failed: {failed:?}");
    assert_eq!(calls(&d.store, &list_users()).await, (200, 29));
    let usage = d.store.take_usage();
    assert!(usage.conflicts < 2 * 20, "{} conflicts for 20 files", usage.conflicts);
    assert!(usage.turn_polls > 0, "the files never took turns");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_repeated_in_a_later_file_count_once() {
    // Given a second file that repeats ten records of the first (same eventIDs and minute)
    let env = Env::new().await;
    let d = deps(&env, DetectorConfig::default());
    let (k1, k2) = (key("20240102T0005Z", "repeataaaaaaaaaa"), key("20240102T0010Z", "repeatbbbbbbbbbb"));
    env.put_object(&k1, file(0, 20, 1, None)).await;
    env.put_object(&k2, file(10, 20, 1, None)).await;
    // When both are ingested
    run(&d, &s3_notification(&env.bucket, &k1)).await.unwrap();
    run(&d, &s3_notification(&env.bucket, &k2)).await.unwrap();
    // Then the ten repeated records count once: 30 calls, of which ids 0, 7, 14, 21, 28 denied
    assert_eq!(calls(&d.store, &list_users()).await, (30, 5));
}

/// Around the real DynamoDB adapter: the next `n` commits fail right after their
/// transaction, before their events are sent, as when the function dies there.
#[derive(Default)]
struct CrashAfterCommit {
    left: AtomicUsize,
}

impl CrashAfterCommit {
    fn crash_after_commits(&self, n: usize) {
        self.left.store(n, Ordering::SeqCst);
    }
}

impl Hook<DynamoStore> for CrashAfterCommit {
    fn after_commit(&self, outcome: CommitOutcome) -> Result<CommitOutcome, StoreError> {
        if outcome == CommitOutcome::Committed
            && self.left.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok()
        {
            return Err(StoreError::Unavailable("injected crash right after the commit transaction".into()));
        }
        Ok(outcome)
    }
}

fn crashing_deps(env: &Env) -> AwsDeps<Hooked<DynamoStore, CrashAfterCommit>> {
    let base = deps(env, DetectorConfig::default());
    Deps {
        source: base.source,
        store: Hooked { inner: base.store, hook: CrashAfterCommit::default() },
        sink: base.sink,
        detector: base.detector,
        rules: true,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_right_after_the_commit_is_finished_by_the_retry() {
    // Given a delivery whose function dies right after the commit transaction, before sending
    let env = Env::new().await;
    let d = crashing_deps(&env);
    let k = key("20240102T0005Z", "crashaaaaaaaaaaa");
    env.put_object(&k, file(0, 30, 1, Some("crash"))).await;
    let n = s3_notification(&env.bucket, &k);
    d.store.hook.crash_after_commits(1);
    assert!(run(&d, &n).await.is_err());
    // When the delivery is retried (twice, as Lambda may)
    redeliver(&d, &n).await;
    redeliver(&d, &n).await;
    // Then the counts are exact and the event was sent once
    assert_eq!(calls(&d.store, &list_users()).await, (30, 5));
    assert_eq!(event_ids(&env.receive(1).await), vec!["stop-crash".to_owned()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_after_a_crashed_commit_builds_on_it_and_nothing_counts_twice() {
    // Given a first file whose delivery died after its commit, and a second file
    let env = Env::new().await;
    let d = crashing_deps(&env);
    let (k1, k2) = (key("20240102T0005Z", "firstaaaaaaaaaaa"), key("20240102T0010Z", "secondaaaaaaaaaa"));
    env.put_object(&k1, file(0, 10, 1, None)).await;
    env.put_object(&k2, file(10, 10, 1, None)).await;
    d.store.hook.crash_after_commits(1);
    assert!(run(&d, &s3_notification(&env.bucket, &k1)).await.is_err());
    // When the second file is ingested before the first is retried, and then the first again
    run(&d, &s3_notification(&env.bucket, &k2)).await.unwrap();
    redeliver(&d, &s3_notification(&env.bucket, &k1)).await;
    // Then both count exactly once (ids 0, 7 and 14 were denied)
    assert_eq!(calls(&d.store, &list_users()).await, (20, 3));
}

/// Wraps the real EventBridge adapter: the first put delivers only its first event and
/// reports the rest as failed, like a PutEvents response with failed entries.
struct PartialOnce {
    inner: EventBridgeSink,
    done: AtomicUsize,
}

impl EventSink for PartialOnce {
    async fn put(&self, events: &[Envelope]) -> Result<(), SinkError> {
        if self.done.fetch_add(1, Ordering::SeqCst) > 0 || events.len() < 2 {
            return self.inner.put(events).await;
        }
        self.inner.put(&events[..1]).await?;
        Err(SinkError {
            failed: events.len() - 1,
            total: events.len(),
            why: "injected: FailedEntryCount > 0 (ThrottlingException)".into(),
            delivered: vec![events[0].id.clone()],
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partial_put_events_failure_loses_and_doubles_nothing() {
    // Given a file with three risky changes and a sink whose first PutEvents half fails
    let env = Env::new().await;
    let base = deps(&env, DetectorConfig::default());
    let d = Deps {
        source: base.source,
        store: base.store,
        sink: PartialOnce { inner: base.sink, done: AtomicUsize::new(0) },
        detector: base.detector,
        rules: true,
    };
    let k = key("20240102T0005Z", "partialaaaaaaaaa");
    let time = "2024-01-02T00:01:00Z";
    let recs: Vec<Value> = (0..3).map(|i| stop_logging(&format!("p{i}"), time, &format!("trail{i}"))).collect();
    env.put_object(&k, gz_log(&recs)).await;
    let n = s3_notification(&env.bucket, &k);
    // When the first invocation fails and Lambda retries it
    let first = run(&d, &n).await;
    redeliver(&d, &n).await;
    // Then subscribers received each of the three events exactly once
    assert!(first.is_err());
    assert_eq!(event_ids(&env.receive(3).await), vec!["p0", "p1", "p2"]);
}

/// Around the real DynamoDB adapter: its first `n` loads and commits fail as throttled
/// requests do once the SDK's own retries are exhausted.
struct Throttled {
    left: AtomicUsize,
}

impl Throttled {
    fn throttle(&self) -> Result<(), StoreError> {
        if self.left.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok() {
            return Err(StoreError::Unavailable(
                "ProvisionedThroughputExceededException: the request rate is too high (injected)".into(),
            ));
        }
        Ok(())
    }
}

impl Hook<DynamoStore> for Throttled {
    fn before_load(&self) -> Result<(), StoreError> {
        self.throttle()
    }
    fn before_commit(&self, _store: &DynamoStore) -> Result<(), StoreError> {
        self.throttle()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_throttling_fails_the_message_and_the_retry_counts_it_once() {
    // Given a store throttled for its first three requests, and two files in one SQS batch
    let env = Env::new().await;
    let base = deps(&env, DetectorConfig::default());
    let d = Deps {
        source: base.source,
        store: Hooked { inner: base.store, hook: Throttled { left: AtomicUsize::new(3) } },
        sink: base.sink,
        detector: base.detector,
        rules: true,
    };
    let (k1, k2) = (key("20240102T0005Z", "throttleaaaaaaaa"), key("20240102T0010Z", "throttlebbbbbbbb"));
    env.put_object(&k1, file(0, 15, 1, Some("th1"))).await;
    env.put_object(&k2, file(15, 15, 2, Some("th2"))).await;
    let batch = sqs_wrap(&[("m1", s3_notification(&env.bucket, &k1)), ("m2", s3_notification(&env.bucket, &k2))]);
    // When the batch is handled until no message comes back (as SQS redelivers)
    let mut rounds = 0;
    loop {
        rounds += 1;
        let out = run(&d, &batch).await.unwrap();
        if out["batchItemFailures"].as_array().is_some_and(Vec::is_empty) || rounds > 5 {
            break;
        }
    }
    // Then it took retries, and the counts and events are exact
    assert!(rounds > 1);
    assert_eq!(calls(&d.store.inner, &list_users()).await, (30, 5));
    assert_eq!(event_ids(&env.receive(2).await), vec!["stop-th1", "stop-th2"]);
}

/// DescribeInstances records for minutes `[from, to)` (minutes since 2024-01-01T00:00Z): about
/// four a minute, and 150 a minute in `spike`.
fn describe_instances(from: u32, to: u32, spike: std::ops::Range<u32>, next_id: &mut usize) -> Vec<Value> {
    let mut recs = Vec::new();
    for m in from..to {
        let rate = if spike.contains(&m) { 150 } else { 3 + (m * 7 % 4) as usize };
        let time = format!("2024-01-{:02}T{:02}:{:02}:10Z", 1 + m / 1440, m / 60 % 24, m % 60);
        for _ in 0..rate {
            recs.push(record(&format!("di-{next_id}"), &time, "ec2.amazonaws.com", "DescribeInstances", None));
            *next_id += 1;
        }
    }
    recs
}

fn stamp(minute: u32) -> String {
    format!("202401{:02}T{:02}{:02}Z", 1 + minute / 1440, minute / 60 % 24, minute % 60)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_spike_reaches_subscribers_as_one_insight_start_and_one_end() {
    // Given two days of ~4 DescribeInstances calls a minute (hourly files, default settings),
    // then 5-minute files with five minutes at 150 a minute, then normal traffic again
    let env = Env::new().await;
    let d = deps(&env, DetectorConfig::default());
    let mut id = 0usize;
    let spike = 2940..2945;
    let mut files: Vec<(u32, u32)> = (0..49).map(|h| (h * 60, h * 60 + 60)).collect();
    files.extend((0..12).map(|i| (2940 + i * 5, 2945 + i * 5)));
    for (n, (from, to)) in files.iter().enumerate() {
        let k = key(&stamp(*to), &format!("spike{n:03}aaaaaaaaa"));
        env.put_object(&k, gz_log(&describe_instances(*from, *to, spike.clone(), &mut id))).await;
        run(&d, &s3_notification(&env.bucket, &k)).await.unwrap();
    }
    // Then subscribers got one Start and one End, sharing a sharedEventID
    let events = env.receive(2).await;
    let insights: Vec<&Value> = events.iter().filter(|e| e["detail-type"] == "AWS Insight via CloudTrail").collect();
    let states: Vec<&str> = insights.iter().filter_map(|e| e["detail"]["insightDetails"]["state"].as_str()).collect();
    assert_eq!(states, vec!["Start", "End"], "{events:?}");
    assert_eq!(insights[0]["detail"]["sharedEventID"], insights[1]["detail"]["sharedEventID"]);
    assert_eq!(insights[0]["detail"]["insightDetails"]["eventName"], "DescribeInstances");
    assert_eq!(insights[0]["detail"]["eventTime"], "2024-01-03T01:00:00Z");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sse_kms_log_file_is_read_through_the_real_adapter() {
    // Given a log file stored with SSE-KMS, as most organization trails deliver them
    let env = Env::new().await;
    let d = deps(&env, DetectorConfig::default());
    let k = key("20240102T0005Z", "kmsaaaaaaaaaaaaa");
    env.s3
        .put_object()
        .bucket(&env.bucket)
        .key(&k)
        .body(file(0, 12, 1, None).into())
        .server_side_encryption(aws_sdk_s3::types::ServerSideEncryption::AwsKms)
        .ssekms_key_id("arn:aws:kms:us-east-1:111122223333:key/0f0e0d0c-0b0a-0908-0706-050403020100")
        .send()
        .await
        .unwrap();
    let head = env.s3.head_object().bucket(&env.bucket).key(&k).send().await.unwrap();
    assert_eq!(head.server_side_encryption(), Some(&aws_sdk_s3::types::ServerSideEncryption::AwsKms));
    // When its notification is handled
    let out = run(&d, &sqs_wrap(&[("kms-1", s3_notification(&env.bucket, &k))])).await.unwrap();
    // Then every call is counted
    assert!(out.get("batchItemFailures").is_none_or(|f| f.as_array().is_some_and(Vec::is_empty)), "{out}");
    assert_eq!(calls(&d.store, &list_users()).await, (12, 2));
}
