//! Support for the integration tests: the moto endpoint, SDK clients pointed at it, one
//! fresh set of resources per test (table, bucket, bus, queue and rule), and CloudTrail log
//! files built from realistic records.
//!
//! The moto server is started by `scripts/with-moto.sh` (`make integration`). Without it every
//! test fails with a message saying how to get it: none passes silently.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_s3::config::Credentials;
use flate2::write::GzEncoder;
use serde_json::{json, Value};
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// The variable `scripts/with-moto.sh` sets.
pub const ENDPOINT_VAR: &str = "TRAILSIGHT_MOTO_ENDPOINT";

/// The moto endpoint; fails the test with instructions when there is none.
pub fn endpoint() -> String {
    match std::env::var(ENDPOINT_VAR) {
        Ok(url) if !url.is_empty() => url,
        _ => panic!(
            "{ENDPOINT_VAR} is not set: these integration tests need the moto server. Run `make integration` \
             (it installs moto into .venv with `make test-env` and starts it on a free port), or start \
             `.venv/bin/moto_server -p PORT` yourself and export {ENDPOINT_VAR}=http://127.0.0.1:PORT"
        ),
    }
}

/// An SDK configuration for moto (test credentials, us-east-1).
pub async fn sdk() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "moto"))
        .endpoint_url(endpoint())
        .load()
        .await
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A name no other test uses (lower case, valid for buckets).
pub fn unique(prefix: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    format!("{prefix}-{}-{n}", std::process::id())
}

/// One test's AWS resources on moto.
#[derive(Debug)]
pub struct Env {
    /// SDK configuration.
    pub sdk: SdkConfig,
    /// S3 (path-style).
    pub s3: aws_sdk_s3::Client,
    /// DynamoDB.
    pub ddb: aws_sdk_dynamodb::Client,
    /// EventBridge.
    pub events: aws_sdk_eventbridge::Client,
    /// SQS.
    pub sqs: aws_sdk_sqs::Client,
    /// Table name.
    pub table: String,
    /// Log bucket.
    pub bucket: String,
    /// Event bus name.
    pub bus: String,
    /// Queue subscribed (through a rule) to every `trailsight` event on the bus.
    pub queue_url: String,
}

impl Env {
    /// Creates a table, a bucket, a bus, and a rule for source `trailsight` targeting a queue.
    pub async fn new() -> Env {
        let sdk = sdk().await;
        let s3 = trailsight_aws::config::s3_client(&sdk, true);
        let ddb = aws_sdk_dynamodb::Client::new(&sdk);
        let events = aws_sdk_eventbridge::Client::new(&sdk);
        let sqs = aws_sdk_sqs::Client::new(&sdk);
        let (table, bucket, bus, queue) = (unique("table"), unique("logs"), unique("bus"), unique("queue"));
        trailsight_aws::dynamo::create_table(&ddb, &table).await.unwrap();
        s3.create_bucket().bucket(&bucket).send().await.unwrap();
        events.create_event_bus().name(&bus).send().await.unwrap();
        let queue_url = sqs.create_queue().queue_name(&queue).send().await.unwrap().queue_url.unwrap();
        let attrs = sqs
            .get_queue_attributes()
            .queue_url(&queue_url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await
            .unwrap();
        let arn =
            attrs.attributes().and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn)).cloned().unwrap();
        events
            .put_rule()
            .name("all-trailsight")
            .event_bus_name(&bus)
            .event_pattern(json!({"source": ["trailsight"]}).to_string())
            .send()
            .await
            .unwrap();
        events
            .put_targets()
            .rule("all-trailsight")
            .event_bus_name(&bus)
            .targets(aws_sdk_eventbridge::types::Target::builder().id("q").arn(arn).build().unwrap())
            .send()
            .await
            .unwrap();
        Env { sdk, s3, ddb, events, sqs, table, bucket, bus, queue_url }
    }

    /// Uploads an object.
    pub async fn put_object(&self, key: &str, bytes: Vec<u8>) {
        self.s3.put_object().bucket(&self.bucket).key(key).body(bytes.into()).send().await.unwrap();
    }

    /// Receives what the rule delivered to the queue, until `want` events arrived or a quiet
    /// second passes after the deadline.
    pub async fn receive(&self, want: usize) -> Vec<Value> {
        let mut out = Vec::new();
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let resp = self
                .sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .send()
                .await
                .unwrap();
            let msgs = resp.messages();
            for m in msgs {
                let event: Value = serde_json::from_str(m.body().unwrap_or("null")).unwrap();
                // Every event a subscriber receives matches its published schema.
                if let Err(why) = trailsight_core::schemas::check_json(&event) {
                    panic!("{why}");
                }
                out.push(event);
                self.sqs
                    .delete_message()
                    .queue_url(&self.queue_url)
                    .receipt_handle(m.receipt_handle().unwrap_or(""))
                    .send()
                    .await
                    .unwrap();
            }
            if (out.len() >= want && msgs.is_empty()) || std::time::Instant::now() > deadline {
                return out;
            }
        }
    }
}

/// A CloudTrail log file key for `account` at `stamp` (`YYYYMMDDTHHMMZ`).
pub fn log_key(prefix: &str, account: &str, region: &str, stamp: &str, unique: &str) -> String {
    let (y, m, d) = (&stamp[0..4], &stamp[4..6], &stamp[6..8]);
    format!("{prefix}AWSLogs/{account}/CloudTrail/{region}/{y}/{m}/{d}/{account}_CloudTrail_{region}_{stamp}_{unique}.json.gz")
}

/// Gzips a `{"Records": [...]}` document.
pub fn gz_log(records: &[Value]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(json!({ "Records": records }).to_string().as_bytes()).unwrap();
    e.finish().unwrap()
}

/// A realistic management-event record.
pub fn record(id: &str, time: &str, source: &str, name: &str, error: Option<&str>) -> Value {
    let mut r = json!({
        "eventVersion": "1.09",
        "userIdentity": {"type": "AssumedRole", "principalId": "AROAEXAMPLE:ci", "arn": "arn:aws:sts::111122223333:assumed-role/ci/build", "accountId": "111122223333"},
        "eventTime": time, "eventSource": source, "eventName": name, "awsRegion": "us-east-1",
        "sourceIPAddress": "198.51.100.10", "userAgent": "aws-cli/2.15.0", "requestParameters": null,
        "responseElements": null, "requestID": format!("req-{id}"), "eventID": id, "readOnly": true,
        "eventType": "AwsApiCall", "managementEvent": true, "recipientAccountId": "111122223333",
        "eventCategory": "Management"
    });
    if let Some(e) = error {
        r["errorCode"] = json!(e);
        r["errorMessage"] = json!("denied");
    }
    r
}

/// A successful StopLogging record (a risky change).
pub fn stop_logging(id: &str, time: &str, trail: &str) -> Value {
    let mut r = record(id, time, "cloudtrail.amazonaws.com", "StopLogging", None);
    r["readOnly"] = json!(false);
    r["requestParameters"] = json!({ "name": trail });
    r
}
