//! The backfill worker (the state machine's steps) on moto: the streams of an organization
//! archive are listed into a manifest in S3, a stream backfilled across several calls gives
//! the same baselines and events as one call, a repeated call skips what is done, and live
//! ingest of a file already backfilled is a duplicate.

use serde_json::{json, Value};
use trailsight_aws::archive::S3Archive;
use trailsight_aws::dynamo::DynamoStore;
use trailsight_aws::eventbridge::EventBridgeSink;
use trailsight_aws::s3::S3Source;
use trailsight_backfill::handler::{invoke, Budget, Deps, MaybeSink};
use trailsight_core::api::ApiKey;
use trailsight_core::detect::DetectorConfig;
use trailsight_core::store::memory::MemorySink;
use trailsight_core::store::ports::BaselineStore;
use trailsight_it::{gz_log, record, stop_logging, unique, Env};

const ORG: &str = "org/AWSLogs/o-abc123def4/";

type WorkerDeps = Deps<S3Source, DynamoStore, MaybeSink<MemorySink>>;

fn worker(env: &Env, table: &str) -> WorkerDeps {
    Deps {
        source: S3Source::new(env.s3.clone()),
        store: DynamoStore::new(env.ddb.clone(), table),
        sink: MaybeSink(Some(MemorySink::default())),
        detector: DetectorConfig::default(),
        rules: true,
    }
}

fn stream(account: &str) -> String {
    format!("{ORG}{account}/CloudTrail/us-east-1/")
}

/// Ten files of one account's stream, five minutes apart, with a StopLogging in the fourth.
async fn archive(env: &Env, account: &str) -> Vec<String> {
    let mut keys = Vec::new();
    for i in 0..10u32 {
        let minute = i * 5;
        let time = format!("2025-03-04T10:{minute:02}:10Z");
        let mut recs: Vec<Value> = (0..30)
            .map(|j| record(&format!("{account}-{i}-{j}"), &time, "iam.amazonaws.com", "ListUsers", None))
            .collect();
        if i == 3 {
            recs.push(stop_logging(&format!("stop-{account}"), &time, "main"));
        }
        for r in &mut recs {
            r["recipientAccountId"] = json!(account);
        }
        let key = format!(
            "{}2025/03/04/{account}_CloudTrail_us-east-1_20250304T10{minute:02}Z_backfillworker{i:02}.json.gz",
            stream(account)
        );
        env.put_object(&key, gz_log(&recs)).await;
        keys.push(key);
    }
    keys
}

async fn table(env: &Env) -> String {
    let name = unique("backfill");
    trailsight_aws::dynamo::create_table(&env.ddb, &name).await.unwrap();
    name
}

/// Calls the worker the way the state machine does until the item is done.
async fn run_item(d: &WorkerDeps, env: &Env, item: Value, per_call: usize) -> Value {
    let archive = S3Archive::new(env.s3.clone());
    let mut item = item;
    for _ in 0..50 {
        item = invoke(d, &archive, "unused", item, Budget::files(per_call)).await.unwrap();
        if item["done"] == json!(true) {
            return item;
        }
    }
    panic!("the stream never finished");
}

async fn calls(store: &DynamoStore, account: &str) -> u64 {
    let api = ApiKey {
        account: account.into(),
        region: "us-east-1".into(),
        event_source: "iam.amazonaws.com".into(),
        event_name: "ListUsers".into(),
    };
    store.counts(&api, 0, i64::MAX).await.unwrap().iter().map(|c| c.1).sum()
}

fn events(d: &WorkerDeps) -> Vec<String> {
    let sink = d.sink.0.as_ref().unwrap();
    sink.events().iter().map(|e| serde_json::to_string(e).unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_list_step_writes_one_map_item_per_account_and_region_to_s3() {
    // Given an organization archive of two accounts, with a digest folder beside one
    let env = Env::new().await;
    archive(&env, "111122223333").await;
    archive(&env, "444455556666").await;
    env.put_object(&format!("{ORG}111122223333/CloudTrail-Digest/us-east-1/2025/03/04/d.json.gz"), vec![1]).await;
    let manifests = unique("manifests");
    env.s3.create_bucket().bucket(&manifests).send().await.unwrap();
    let d = worker(&env, &table(&env).await);
    // When the state machine's first step runs
    let input = json!({"action": "list_streams", "bucket": env.bucket, "prefix": "org/", "since": "", "run": "exec-7"});
    let out = invoke(&d, &S3Archive::new(env.s3.clone()), &manifests, input, Budget::files(1)).await.unwrap();
    // Then the manifest in S3 holds one backfill item per stream
    assert_eq!(out["streams"], 2);
    let body = env
        .s3
        .get_object()
        .bucket(&manifests)
        .key(out["manifest_key"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .body
        .collect()
        .await
        .unwrap()
        .into_bytes();
    let items: Vec<Value> = serde_json::from_slice(&body).unwrap();
    let prefixes: Vec<&str> = items.iter().map(|i| i["prefix"].as_str().unwrap()).collect();
    assert_eq!(prefixes, vec![stream("111122223333"), stream("444455556666")]);
    assert!(items.iter().all(|i| i["action"] == "backfill" && i["bucket"] == env.bucket.as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_backfilled_across_calls_equals_one_call_and_a_repeat_counts_nothing() {
    // Given one stream of ten files, and two empty tables
    let env = Env::new().await;
    let keys = archive(&env, "111122223333").await;
    let (split, whole) = (worker(&env, &table(&env).await), worker(&env, &table(&env).await));
    let item = json!({"action": "backfill", "bucket": env.bucket, "prefix": stream("111122223333")});
    // When one table is backfilled three files per call and the other in one call
    let a = run_item(&split, &env, item.clone(), 3).await;
    let b = run_item(&whole, &env, item.clone(), 1000).await;
    // Then both counted the ten files once, with the same counts and the same events
    assert_eq!((a["files"].clone(), a["calls"].clone()), (json!(10), json!(4)));
    assert_eq!(b["files"], 10);
    assert_eq!(a["start_after"], json!(keys[9]));
    assert_eq!(calls(&split.store, "111122223333").await, 300);
    assert_eq!(calls(&whole.store, "111122223333").await, 300);
    assert_eq!(events(&split), events(&whole));
    assert_eq!(events(&split).len(), 1);
    // When the item is run again from the start (a redriven map item)
    let again = run_item(&split, &env, item, 4).await;
    // Then every file is skipped as done, and nothing is counted or sent twice
    assert_eq!((again["files"].clone(), again["duplicates"].clone()), (json!(0), json!(10)));
    assert_eq!(calls(&split.store, "111122223333").await, 300);
    assert_eq!(events(&split).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_ingest_of_a_backfilled_file_is_a_duplicate() {
    // Given a stream backfilled into the table
    let env = Env::new().await;
    let keys = archive(&env, "111122223333").await;
    let t = table(&env).await;
    let d = worker(&env, &t);
    let item = json!({"action": "backfill", "bucket": env.bucket, "prefix": stream("111122223333")});
    run_item(&d, &env, item, 1000).await;
    // When S3 announces one of its files to the ingest function
    let ingest = trailsight_ingest::handler::Deps {
        source: S3Source::new(env.s3.clone()),
        store: DynamoStore::new(env.ddb.clone(), &t),
        sink: EventBridgeSink::new(env.events.clone(), &env.bus),
        detector: DetectorConfig::default(),
        rules: true,
    };
    let note = json!({"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": env.bucket}, "object": {"key": keys[4], "size": 10}}}]});
    let mut totals = trailsight_ingest::handler::Totals::default();
    trailsight_ingest::handler::handle(&ingest, &note, &mut totals).await.unwrap();
    // Then it is a duplicate: nothing counted twice
    assert_eq!(totals.duplicate_deliveries, 1);
    assert_eq!(calls(&ingest.store, "111122223333").await, 300);
}
