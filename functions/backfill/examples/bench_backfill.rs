//! `bench_backfill TRAIL_DIR [PER_CALL]`: the backfill worker's speed on a generated trail.
//! Uploads the trail's log files to moto (`TRAILSIGHT_MOTO_ENDPOINT`, set by
//! `scripts/with-moto.sh`), then runs each stream as the state machine does (calls of
//! `PER_CALL` files, default 100) with the real S3 and DynamoDB adapters, and once more with
//! in-memory ports; prints files per second per worker, calls, records, and the process's
//! CPU time per file, as one JSON line. Used by `make bench-backfill`.

use std::path::{Path, PathBuf};
use std::time::Instant;
use trailsight_aws::archive::S3Archive;
use trailsight_aws::dynamo::{create_table, DynamoStore};
use trailsight_aws::s3::S3Source;
use trailsight_backfill::handler::{backfill, Budget, Deps, MaybeSink, StreamProgress};
use trailsight_core::detect::DetectorConfig;
use trailsight_core::ingest::archive::streams;
use trailsight_core::store::memory::{MemorySink, MemorySource, MemoryStore};
use trailsight_core::store::ports::{BaselineStore, EventSink, LogArchive, LogSource};

type Error = Box<dyn std::error::Error + Send + Sync>;

fn log_files(dir: &Path, root: &Path, out: &mut Vec<(String, PathBuf)>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            log_files(&path, root, out)?;
        } else if path.extension().is_some_and(|e| e == "gz") {
            let key = path.strip_prefix(root).map_err(std::io::Error::other)?;
            out.push((key.to_string_lossy().replace('\\', "/"), path));
        }
    }
    Ok(())
}

/// CPU time of this process so far, in seconds (Linux).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// Runs every stream to its end; returns (files, records, calls, seconds, cpu seconds).
async fn run<L, S, K, A>(deps: &Deps<L, S, K>, archive: &A, bucket: &str, per_call: usize) -> Result<[f64; 5], Error>
where
    L: LogSource,
    S: BaselineStore,
    K: EventSink,
    A: LogArchive,
{
    let (t, cpu) = (Instant::now(), cpu_seconds());
    let (mut files, mut records, mut calls) = (0u64, 0u64, 0u64);
    for prefix in streams(archive, bucket, "").await? {
        let mut p = StreamProgress { bucket: bucket.to_owned(), prefix, ..StreamProgress::default() };
        while !p.done {
            p = backfill(deps, archive, p, Budget::files(per_call)).await?;
        }
        files += p.files;
        records += p.records;
        calls += p.calls;
    }
    Ok([files as f64, records as f64, calls as f64, t.elapsed().as_secs_f64(), cpu_seconds() - cpu])
}

fn summary(name: &str, r: [f64; 5]) -> serde_json::Value {
    let [files, records, calls, secs, cpu] = r;
    serde_json::json!({
        "ports": name, "files": files, "records": records, "calls": calls, "seconds": secs,
        "files_per_second": files / secs, "cpu_ms_per_file": cpu * 1000.0 / files,
    })
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let trail = PathBuf::from(args.next().ok_or("usage: bench_backfill TRAIL_DIR [PER_CALL]")?);
    let per_call: usize = args.next().map(|v| v.parse()).transpose()?.unwrap_or(100);
    let mut files = Vec::new();
    log_files(&trail, &trail, &mut files)?;
    files.sort();
    let bucket = "bench-archive";
    // In memory: the worker's own cost (reading, counting, the pipeline), no network.
    let memory = Deps {
        source: MemorySource::default(),
        store: MemoryStore::default(),
        sink: MaybeSink::<MemorySink>(None),
        detector: DetectorConfig::default(),
        rules: true,
    };
    for (key, path) in &files {
        memory.source.put(bucket, key, std::fs::read(path)?);
    }
    let in_memory = summary("memory", run(&memory, &memory.source, bucket, per_call).await?);
    eprintln!("bench_backfill: {in_memory}");
    // Real adapters on moto.
    let endpoint = std::env::var("TRAILSIGHT_MOTO_ENDPOINT")
        .map_err(|_| "TRAILSIGHT_MOTO_ENDPOINT is not set: run under scripts/with-moto.sh")?;
    let sdk = trailsight_aws::config::sdk_config(Some(&endpoint)).await;
    let s3 = trailsight_aws::config::s3_client(&sdk, true);
    let ddb = aws_sdk_dynamodb::Client::new(&sdk);
    s3.create_bucket().bucket(bucket).send().await?;
    for (key, path) in &files {
        s3.put_object().bucket(bucket).key(key).body(std::fs::read(path)?.into()).send().await?;
    }
    create_table(&ddb, "bench-backfill").await?;
    let aws = Deps {
        source: S3Source::new(s3.clone()),
        store: DynamoStore::new(ddb, "bench-backfill"),
        sink: MaybeSink::<MemorySink>(None),
        detector: DetectorConfig::default(),
        rules: true,
    };
    let on_moto = summary("moto", run(&aws, &S3Archive::new(s3), bucket, per_call).await?);
    eprintln!("bench_backfill: {on_moto}");
    println!("{}", serde_json::json!({"per_call": per_call, "runs": [in_memory, on_moto]}));
    Ok(())
}
