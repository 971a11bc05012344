//! `--concurrent 2,5,10,20`: N files of one account-region stream delivered at the same moment,
//! as an organization trail's busy stream receives them, each through `process` in its own task
//! (one Lambda invocation each) with the real adapters against moto. Per file: the commits it
//! attempted (a conflict with a concurrent commit reloads and tries again, up to
//! `MAX_ATTEMPTS`), its wall time, and whether it gave up. `--reserved R` caps the invocations
//! running at once, as the function's reserved concurrency does (0: uncapped). `--turn-wait S`
//! sets how long a file waits for its stream's turn (the store's default; 0 turns turns off,
//! so every file commits optimistically).

use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::Semaphore;
use trailsight_aws::dynamo::{create_table, DynamoStore};
use trailsight_aws::eventbridge::EventBridgeSink;
use trailsight_aws::object::{process, Deps};
use trailsight_aws::s3::S3Source;
use trailsight_core::detect::DetectorConfig;
use trailsight_core::ingest::notify::ObjectRef;
use trailsight_core::store::hooked::{Hook, Hooked};
use trailsight_core::store::ports::{CommitOutcome, StoreError};

use crate::{ms, percentile, Error, LogFile};

/// Counts one invocation's commit attempts and conflicts on the DynamoDB store.
#[derive(Default)]
struct Counting {
    commits: AtomicUsize,
    conflicts: AtomicUsize,
}

impl Hook<DynamoStore> for Counting {
    fn before_commit(&self, _store: &DynamoStore) -> Result<(), StoreError> {
        self.commits.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
    fn after_commit(&self, outcome: CommitOutcome) -> Result<CommitOutcome, StoreError> {
        if outcome == CommitOutcome::Conflict {
            self.conflicts.fetch_add(1, Ordering::Relaxed);
        }
        Ok(outcome)
    }
}

/// One file's delivery among N at once.
struct Delivery {
    commits: usize,
    /// Reads of the stream's turn item (one when the turn was free at once).
    turn_polls: u64,
    conflicts: usize,
    wall_ms: f64,
    error: Option<String>,
}

/// The clients and names of one moto account.
pub struct Moto {
    pub s3: aws_sdk_s3::Client,
    pub ddb: aws_sdk_dynamodb::Client,
    pub events: aws_sdk_eventbridge::Client,
    pub bucket: String,
    pub bus: String,
}

/// Delivers `files` all at once to a fresh table, at most `reserved` at a time (0: all).
async fn burst(
    moto: &Moto,
    files: &[LogFile],
    reserved: usize,
    turn_wait: std::time::Duration,
    table: &str,
) -> Result<Vec<Delivery>, Error> {
    create_table(&moto.ddb, table).await.map_err(|e| Error::Setup(format!("moto setup failed: {e}")))?;
    let gate = Arc::new(Semaphore::new(if reserved == 0 { files.len() } else { reserved }));
    let mut tasks = tokio::task::JoinSet::new();
    for f in files {
        let deps = Deps {
            source: S3Source::new(moto.s3.clone()),
            store: Hooked {
                inner: DynamoStore::new(moto.ddb.clone(), table).with_turn_wait(turn_wait),
                hook: Counting::default(),
            },
            sink: EventBridgeSink::new(moto.events.clone(), &moto.bus),
            detector: DetectorConfig::default(),
            rules: true,
        };
        let object = ObjectRef { bucket: moto.bucket.clone(), key: f.key.clone(), etag: None };
        let gate = Arc::clone(&gate);
        tasks.spawn(async move {
            let _permit = gate.acquire_owned().await;
            let t = Instant::now();
            let result = process(&deps, &object).await;
            Delivery {
                commits: deps.store.hook.commits.load(Ordering::Relaxed),
                turn_polls: deps.store.inner.take_usage().turn_polls,
                conflicts: deps.store.hook.conflicts.load(Ordering::Relaxed),
                wall_ms: ms(t.elapsed()),
                error: result.err().map(|e| e.to_string()),
            }
        });
    }
    let mut done = Vec::with_capacity(files.len());
    while let Some(d) = tasks.join_next().await {
        done.push(d.map_err(|e| Error::Setup(format!("a delivery task died: {e}")))?);
    }
    Ok(done)
}

/// Bursts of each size in `sizes`, each from the trail's start (the files are in moto already).
pub async fn measure(
    moto: &Moto,
    files: &[LogFile],
    sizes: &[usize],
    reserved: usize,
    turn_wait: std::time::Duration,
) -> Result<Value, Error> {
    let mut rows = vec![];
    for (i, &n) in sizes.iter().enumerate() {
        let burst_files = files
            .get(..n)
            .ok_or_else(|| Error::Setup(format!("--concurrent {n}: the trail has only {} files", files.len())))?;
        let t = Instant::now();
        let done =
            burst(moto, burst_files, reserved, turn_wait, &format!("bench-burst-{}-{i}", std::process::id())).await?;
        let total_ms = ms(t.elapsed());
        let mut walls: Vec<f64> = done.iter().map(|d| d.wall_ms).collect();
        walls.sort_by(f64::total_cmp);
        let commits: usize = done.iter().map(|d| d.commits).sum();
        let conflicts: Vec<usize> = done.iter().map(|d| d.conflicts).collect();
        let gave_up: Vec<&String> = done.iter().filter_map(|d| d.error.as_ref()).collect();
        let polls: u64 = done.iter().map(|d| d.turn_polls).sum();
        let wait = turn_wait.as_secs_f64();
        eprintln!(
            "bench-ingest: {n} files at once (reserved {reserved}, turn wait {wait} s): {commits} commits, {} conflicts (max {} for one file), {polls} turn polls, {} gave up, p50 {:.0} ms, max {:.0} ms, all in {total_ms:.0} ms",
            conflicts.iter().sum::<usize>(),
            conflicts.iter().max().copied().unwrap_or(0),
            gave_up.len(),
            percentile(&walls, 0.5),
            percentile(&walls, 1.0),
        );
        rows.push(json!({
            "files": n,
            "reserved": reserved,
            "turn_wait_s": wait,
            "turn_polls": polls,
            "commits": commits,
            "conflicts_per_file": conflicts,
            "gave_up": gave_up.len(),
            "errors": gave_up,
            "wall_ms": {"p50": percentile(&walls, 0.5), "max": percentile(&walls, 1.0)},
            "burst_ms": total_ms,
        }));
    }
    Ok(json!({"concurrent": rows}))
}
