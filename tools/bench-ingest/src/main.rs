//! `bench-ingest`: what the ingest Lambda costs and how fast it is, on a simulated day of
//! CloudTrail logs (from `trafficgen`), through the real handler.
//!
//! 1. **Handler time** with in-memory ports (no network; the store journaling as the DynamoDB
//!    one does): each file's time through `handler::handle`, as Lambda would run it after the
//!    S3 bytes arrive. `--handler-only` measures this alone, without moto.
//! 2. **Requests and units** with the real adapters against moto (`TRAILSIGHT_MOTO_ENDPOINT`,
//!    set by `scripts/with-moto.sh`): DynamoDB requests and capacity units (modelled from item
//!    sizes by DynamoDB's on-demand rules, since moto reports fixed units), S3 GetObject and
//!    EventBridge PutEvents requests, the wall time per file, and the handler's CPU time (its
//!    own work with the real adapters, without waiting for the network).
//! 3. **Init**: configuration and client construction, as `main` does before serving.
//! 4. **Cost** per 100,000 events from published us-east-1 on-demand prices (docs/ingest.md,
//!    "Cost and speed").
//! 5. **The size model** (`trailsight_aws::dynamo::TableModel`, which `bench-org` prices an
//!    organization with) on the same files in memory: its write and read units per file,
//!    beside the real store's on moto, so the model is checked against the store each run.
//! 6. **Concurrent deliveries** (`--concurrent 2,5,10,20`, see `concurrent`): N files of one
//!    stream at once, per file the commits retried, the time, and whether it gave up.

mod concurrent;

use clap::Parser;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use trailsight_aws::dynamo::{create_table, DynamoStore, Usage};
use trailsight_aws::eventbridge::EventBridgeSink;
use trailsight_aws::s3::S3Source;
use trailsight_bench_ingest::cost::{Consumption, Cost};
use trailsight_bench_ingest::meter::{Metered, Table};
pub(crate) use trailsight_bench_ingest::{ms, percentile, process_cpu};
use trailsight_core::detect::DetectorConfig;
use trailsight_core::log::object_key::{classify, Classified};
use trailsight_core::store::memory::{MemorySink, MemorySource, MemoryStore};
use trailsight_ingest::handler::{handle, Deps, Totals};

#[derive(Debug, Parser)]
#[command(name = "bench-ingest", about = "Cost and speed of the ingest handler on a simulated day")]
struct Args {
    /// A trail written by `trafficgen generate` (one day).
    #[arg(long)]
    trail: PathBuf,
    /// Lambda memory (MB) for the duration cost.
    #[arg(long, default_value_t = 256)]
    memory_mb: u32,
    /// Where to write the JSON summary.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Label for the report.
    #[arg(long, default_value = "day")]
    label: String,
    /// Only time the handler with in-memory ports (no moto: no requests, units or cost).
    #[arg(long)]
    handler_only: bool,
    /// Instead of the day: deliver the trail's first N files at once, for each N (e.g. 2,5,10,20).
    #[arg(long, value_delimiter = ',')]
    concurrent: Vec<usize>,
    /// With --concurrent: at most this many deliveries run at once (reserved concurrency; 0: all).
    #[arg(long, default_value_t = 0)]
    reserved: usize,
    /// With --concurrent: seconds a file waits for its stream's turn (0: no turns, every file
    /// commits optimistically).
    #[arg(long, default_value_t = trailsight_aws::dynamo::DEFAULT_TURN_WAIT.as_secs_f64())]
    turn_wait: f64,
}

#[derive(Debug, thiserror::Error)]
enum Error {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Setup(String),
}

struct LogFile {
    key: String,
    bytes: Vec<u8>,
}

fn load_trail(dir: &Path) -> Result<Vec<LogFile>, Error> {
    let mut files = Vec::new();
    for entry in walkdir::WalkDir::new(dir).into_iter().filter_map(Result::ok) {
        let path = entry.path();
        let Ok(rel) = path.strip_prefix(dir) else { continue };
        let key = rel.to_string_lossy().replace('\\', "/");
        if let Classified::Log(k) = classify(&key) {
            files.push((k.delivered, key, std::fs::read(path)?));
        }
    }
    files.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    Ok(files.into_iter().map(|(_, key, bytes)| LogFile { key, bytes }).collect())
}

fn notification(bucket: &str, key: &str) -> Value {
    json!({"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": bucket}, "object": {"key": key.replace(' ', "+")}}}]})
}

#[derive(Debug, Default, Clone)]
struct FileRun {
    records: u64,
    handler_ms: f64,
    wall_ms: f64,
    /// CPU time of the handler against moto: its own work with the real adapters (codecs,
    /// request signing, the SDK), without the time spent waiting for the network.
    cpu_ms: Option<f64>,
    usage: Usage,
    events: u64,
    put_events_requests: u64,
    /// Write and read units of the file by the size model (in memory).
    model_units: (f64, f64),
}

async fn in_memory(files: &[LogFile], runs: &mut [FileRun]) -> Result<(), Error> {
    let deps = Deps {
        source: MemorySource::default(),
        // Journaling, as the DynamoDB store: each file restores a checkpoint and replays the
        // entries since, so the time includes that work.
        store: MemoryStore::journaling(),
        sink: MemorySink::default(),
        detector: DetectorConfig::default(),
        rules: true,
    };
    for f in files {
        deps.source.put("bench", &f.key, f.bytes.clone());
    }
    for (f, run) in files.iter().zip(runs.iter_mut()) {
        let mut totals = Totals::default();
        let t = Instant::now();
        handle(&deps, &notification("bench", &f.key), &mut totals).await.map_err(|e| Error::Setup(e.to_string()))?;
        run.handler_ms = ms(t.elapsed());
        run.records = totals.records + totals.duplicates;
    }
    Ok(())
}

/// The files again through the handler with the in-memory store metered by the size model
/// (not timed): each file's modelled write and read units.
async fn size_model(files: &[LogFile], runs: &mut [FileRun]) -> Result<(), Error> {
    let table = std::sync::Arc::new(Table::new());
    table.set_metering(true);
    for (f, run) in files.iter().zip(runs.iter_mut()) {
        let source = MemorySource::default();
        source.put("bench", &f.key, f.bytes.clone());
        let deps = Deps {
            source,
            store: Metered::new(std::sync::Arc::clone(&table), 0),
            sink: MemorySink::default(),
            detector: DetectorConfig::default(),
            rules: true,
        };
        handle(&deps, &notification("bench", &f.key), &mut Totals::default())
            .await
            .map_err(|e| Error::Setup(e.to_string()))?;
        let consumed = deps.store.consumed();
        run.model_units = (consumed.write_units(), consumed.read_units());
    }
    Ok(())
}

/// Clients for moto and a fresh bucket (holding `files`) and bus, with the clients' init time.
async fn moto_setup(endpoint: &str, files: &[LogFile]) -> Result<(concurrent::Moto, f64), Error> {
    let init = Instant::now();
    let sdk = trailsight_aws::config::sdk_config(Some(endpoint)).await;
    let s3 = trailsight_aws::config::s3_client(&sdk, true);
    let ddb = aws_sdk_dynamodb::Client::new(&sdk);
    let events = aws_sdk_eventbridge::Client::new(&sdk);
    let init_ms = ms(init.elapsed());
    let suffix = std::process::id();
    let (bucket, bus) = (format!("bench-logs-{suffix}"), format!("bench-bus-{suffix}"));
    let setup = |e: String| Error::Setup(format!("moto setup failed: {e}"));
    s3.create_bucket().bucket(&bucket).send().await.map_err(|e| setup(e.to_string()))?;
    events.create_event_bus().name(&bus).send().await.map_err(|e| setup(e.to_string()))?;
    for f in files {
        s3.put_object()
            .bucket(&bucket)
            .key(&f.key)
            .body(f.bytes.clone().into())
            .send()
            .await
            .map_err(|e| setup(e.to_string()))?;
    }
    Ok((concurrent::Moto { s3, ddb, events, bucket, bus }, init_ms))
}

async fn on_moto(endpoint: &str, files: &[LogFile], runs: &mut [FileRun]) -> Result<f64, Error> {
    let (moto, init_ms) = moto_setup(endpoint, files).await?;
    let concurrent::Moto { s3, ddb, events, bucket, bus } = moto;
    let table = format!("bench-{}", std::process::id());
    create_table(&ddb, &table).await.map_err(|e| Error::Setup(format!("moto setup failed: {e}")))?;
    let deps = Deps {
        source: S3Source::new(s3),
        store: DynamoStore::new(ddb, &table),
        sink: EventBridgeSink::new(events, &bus),
        detector: DetectorConfig::default(),
        rules: true,
    };
    for (f, run) in files.iter().zip(runs.iter_mut()) {
        let mut totals = Totals::default();
        let (t, cpu) = (Instant::now(), process_cpu());
        handle(&deps, &notification(&bucket, &f.key), &mut totals)
            .await
            .map_err(|e| Error::Setup(format!("{}: {e}", f.key)))?;
        run.wall_ms = ms(t.elapsed());
        run.cpu_ms = cpu.zip(process_cpu()).map(|(a, b)| ms(b.saturating_sub(a)));
        run.usage = deps.store.take_usage();
        run.events = totals.events_sent;
        run.put_events_requests = deps.sink.take_requests();
    }
    Ok(init_ms)
}

fn report(args: &Args, runs: &[FileRun], init_ms: f64) -> Value {
    let n = runs.len().max(1) as f64;
    let records: u64 = runs.iter().map(|r| r.records).sum();
    let sum = |f: &dyn Fn(&FileRun) -> f64| runs.iter().map(f).sum::<f64>();
    let wru = sum(&|r| r.usage.modelled_write_units);
    let rru = sum(&|r| r.usage.modelled_read_units);
    let ddb_requests = sum(&|r| r.usage.requests as f64);
    let ledger_reads = sum(&|r| r.usage.ledger_reads as f64);
    let events = sum(&|r| r.events as f64);
    let put_events = sum(&|r| r.put_events_requests as f64);
    let wall_ms = sum(&|r| r.wall_ms);
    // Lambda duration is charged at moto's wall time per file (pessimistic).
    let cost = Cost::of(&Consumption {
        files: n,
        write_units: wru,
        read_units: rru,
        lambda_seconds: wall_ms / 1000.0,
        memory_mb: args.memory_mb,
        events,
    });
    let (total, per_100k) = (cost.total(), cost.per_100k_events(records));
    let mut cpu: Vec<f64> = runs.iter().filter_map(|r| r.cpu_ms).collect();
    cpu.sort_by(f64::total_cmp);
    let mut summary = handler_report(args, runs);
    let more = json!({
        "handler_cpu_ms_on_moto": {"p50": percentile(&cpu, 0.5), "p95": percentile(&cpu, 0.95), "max": percentile(&cpu, 1.0)},
        "per_file": {
            "dynamodb_requests": ddb_requests / n,
            "ledger_reads": ledger_reads / n,
            "dynamodb_write_units": wru / n,
            "dynamodb_read_units": rru / n,
            "s3_requests": 1.0,
            "put_events_requests": put_events / n,
            "events": events / n,
            "wall_ms_on_moto": wall_ms / n,
        },
        // The size model bench-org uses, on the same files in memory.
        "size_model_per_file": {
            "dynamodb_write_units": sum(&|r| r.model_units.0) / n,
            "dynamodb_read_units": sum(&|r| r.model_units.1) / n,
        },
        "init_ms": init_ms,
        "memory_mb": args.memory_mb,
        "cost_usd": cost.to_json(),
        "cost_usd_total": total,
        "cost_usd_per_100k_events": per_100k,
    });
    if let (Some(s), Value::Object(more)) = (summary.as_object_mut(), more) {
        s.extend(more);
    }
    summary
}

/// Handler times only (`--handler-only`).
fn handler_report(args: &Args, runs: &[FileRun]) -> Value {
    let mut handler: Vec<f64> = runs.iter().map(|r| r.handler_ms).collect();
    handler.sort_by(f64::total_cmp);
    let records: u64 = runs.iter().map(|r| r.records).sum();
    let busiest = runs.iter().max_by_key(|r| r.records).cloned().unwrap_or_default();
    json!({
        "label": args.label,
        "files": runs.len(),
        "records": records,
        "records_per_file": records as f64 / runs.len().max(1) as f64,
        "handler_ms": {"p50": percentile(&handler, 0.5), "p95": percentile(&handler, 0.95), "max": percentile(&handler, 1.0)},
        "busiest_file": {"records": busiest.records, "handler_ms": busiest.handler_ms},
    })
}

fn run(args: &Args) -> Result<Value, Error> {
    let endpoint = match std::env::var("TRAILSIGHT_MOTO_ENDPOINT") {
        Ok(e) => Some(e),
        Err(_) if args.handler_only => None,
        Err(_) => {
            return Err(Error::Setup(
                "TRAILSIGHT_MOTO_ENDPOINT is not set: run this through scripts/with-moto.sh (make bench-ingest), \
                 or pass --handler-only"
                    .into(),
            ))
        }
    };
    let files = load_trail(&args.trail)?;
    if files.is_empty() {
        return Err(Error::Setup(format!("no CloudTrail log files under {}", args.trail.display())));
    }
    // Threads live for the whole run, so the handler's CPU time is the sum over live threads.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_keep_alive(Duration::from_secs(24 * 3600))
        .build()?;
    if !args.concurrent.is_empty() {
        let endpoint = endpoint.ok_or_else(|| Error::Setup("--concurrent needs moto (scripts/with-moto.sh)".into()))?;
        let largest = args.concurrent.iter().max().copied().unwrap_or(0);
        let files = files.get(..largest.min(files.len())).unwrap_or(&files);
        return rt.block_on(async {
            let (moto, _) = moto_setup(&endpoint, files).await?;
            concurrent::measure(
                &moto,
                files,
                &args.concurrent,
                args.reserved,
                Duration::from_secs_f64(args.turn_wait.max(0.0)),
            )
            .await
        });
    }
    let mut runs = vec![FileRun::default(); files.len()];
    rt.block_on(in_memory(&files, &mut runs))?;
    match endpoint.filter(|_| !args.handler_only) {
        Some(endpoint) => {
            let init_ms = rt.block_on(on_moto(&endpoint, &files, &mut runs))?;
            rt.block_on(size_model(&files, &mut runs))?;
            Ok(report(args, &runs, init_ms))
        }
        None => Ok(handler_report(args, &runs)),
    }
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(summary) => {
            let text = serde_json::to_string_pretty(&summary).unwrap_or_default();
            println!("{text}");
            if let Some(path) = &args.json {
                if let Err(e) = std::fs::write(path, format!("{summary}\n")) {
                    eprintln!("bench-ingest: cannot write {}: {e}", path.display());
                    return std::process::ExitCode::FAILURE;
                }
            }
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("bench-ingest: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
