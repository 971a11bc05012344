//! Backfill from the bucket with the ingest function's code, on moto: files are listed in
//! delivery order (digests and other objects left out), counted once, and a later S3
//! notification of a backfilled file is recognised as a duplicate.

use serde_json::json;
use trailsight_aws::dynamo::DynamoStore;
use trailsight_aws::eventbridge::EventBridgeSink;
use trailsight_aws::s3::{list_logs, S3Source};
use trailsight_core::api::ApiKey;
use trailsight_core::detect::DetectorConfig;
use trailsight_core::store::ports::BaselineStore;
use trailsight_ingest::handler::{handle, Deps, Totals};
use trailsight_it::{gz_log, log_key, record, Env};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfilled_files_count_once_and_later_notifications_are_duplicates() {
    // Given three log files (uploaded newest first), a digest and an unrelated object
    let env = Env::new().await;
    let mut keys = Vec::new();
    for (i, stamp) in ["20240102T0015Z", "20240102T0010Z", "20240102T0005Z"].iter().enumerate() {
        let k = log_key("", "111122223333", "us-east-1", stamp, &format!("backfill{i}aaaaaaaa"));
        let recs: Vec<_> = (0..10)
            .map(|j| record(&format!("bf-{i}-{j}"), "2024-01-02T00:01:00Z", "iam.amazonaws.com", "ListUsers", None))
            .collect();
        env.put_object(&k, gz_log(&recs)).await;
        keys.push(k);
    }
    env.put_object("AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2024/01/02/111122223333_CloudTrail-Digest_us-east-1_t_us-east-1_20240102T001500Z.json.gz", vec![1]).await;
    env.put_object("AWSLogs/readme.txt", b"hello".to_vec()).await;
    let deps = Deps {
        source: S3Source::new(env.s3.clone()),
        store: DynamoStore::new(env.ddb.clone(), &env.table),
        sink: EventBridgeSink::new(env.events.clone(), &env.bus),
        detector: DetectorConfig::default(),
        rules: true,
    };
    // When the bucket is listed and backfilled
    let listed = list_logs(&env.s3, &env.bucket, "AWSLogs/", None).await.unwrap();
    let order: Vec<&str> = listed.iter().map(|(o, _)| o.key.as_str()).collect();
    assert_eq!(order, vec![keys[2].as_str(), keys[1].as_str(), keys[0].as_str()]);
    let objects: Vec<_> = listed.into_iter().map(|(o, _)| o).collect();
    let report = trailsight_aws::object::backfill(&deps, &objects, |_, _| {}).await;
    // Then every file counted once
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    assert_eq!((report.totals.files, report.totals.records), (3, 30));
    let api = ApiKey {
        account: "111122223333".into(),
        region: "us-east-1".into(),
        event_source: "iam.amazonaws.com".into(),
        event_name: "ListUsers".into(),
    };
    let calls: u64 = deps.store.counts(&api, 0, i64::MAX).await.unwrap().iter().map(|c| c.1).sum();
    assert_eq!(calls, 30);
    // And when S3 announces one of them later, the function sees a duplicate
    let note = json!({"Records": [{"eventSource": "aws:s3", "s3": {"bucket": {"name": env.bucket}, "object": {"key": keys[1]}}}]});
    let mut totals = Totals::default();
    handle(&deps, &note, &mut totals).await.unwrap();
    assert_eq!((totals.duplicate_deliveries, totals.files), (1, 0));
}
