//! `bench-org` (`make bench-org`): an organization trail simulated through the ingest handler,
//! to see whether the DynamoDB table and the function keep up at an organization's scale.
//!
//! 1,000 accounts × 4 regions (by default) deliver a 5-minute file per account and region for
//! an hour, generated in memory with trafficgen's traffic (a long-tailed mix of quiet and busy
//! accounts, see `mix`). Each round of deliveries runs through `handler::handle` at once, one
//! task per file (one invocation each), at most `--concurrency` at a time, on a multi-threaded
//! runtime, with in-memory ports: the store is the in-memory one shared by every file,
//! metered by the DynamoDB adapter's size model (`trailsight_bench_ingest::meter`), so every operation is priced in
//! items, write and read units per partition key at the file's delivery second. Before the
//! measured hour, a warm-up (not measured) lets each stream join at a different round, so the
//! streams' checkpoints (every twelfth file) fall at different rounds as they would in a live
//! organization.
//!
//! Reported (`report`): files, records, events; the handler's CPU time per file and the files
//! per second one function instance handles; items and units per partition key per second
//! (max and p99) against DynamoDB's per-partition limits, the largest partition's share of
//! the writes; the table's units per round; the cost per 100,000 events.

mod mix;
mod report;

use clap::Parser;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use trailsight_aws::dynamo::Consumed;
use trailsight_bench_ingest::meter::{Metered, Table};
use trailsight_bench_ingest::process_cpu;
use trailsight_core::detect::DetectorConfig;
use trailsight_core::store::memory::{MemorySink, MemorySource};
use trailsight_ingest::handler::{handle, Deps, Totals};
use trailsight_trafficgen::gen::{benign_file, LogFile, Settings};

#[derive(Debug, Parser)]
#[command(
    name = "bench-org",
    about = "An organization trail's hour through the ingest handler: partitions, speed, cost"
)]
pub struct Args {
    /// Accounts in the organization.
    #[arg(long, default_value_t = 1000)]
    accounts: u32,
    /// Regions (comma-separated; the first is every account's home region).
    #[arg(long, value_delimiter = ',', default_value = "us-east-1,eu-west-1,ap-southeast-2,us-west-2")]
    regions: Vec<String>,
    /// Measured hours.
    #[arg(long, default_value_t = 1)]
    hours: u32,
    /// Delivery rounds before the measured hour (5 minutes each), not measured: each stream
    /// joins at one of them, so checkpoints are spread over the rounds.
    #[arg(long, default_value_t = 11)]
    warmup_rounds: u32,
    /// First minute of the measured hour (UTC, RFC 3339): a weekday's office hours by default.
    #[arg(long, default_value = "2026-01-06T10:00:00Z")]
    start: String,
    /// Seed of the traffic and of the mix.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Multiplies every account's volume (e.g. 0.1 for a quick run).
    #[arg(long, default_value_t = 1.0)]
    rate_scale: f64,
    /// Files handled at once, as the function's concurrency.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Lambda memory (MB): its CPU share (1 vCPU at 1,769 MB) and its GB-seconds.
    #[arg(long, default_value_t = 256)]
    memory_mb: u32,
    /// Latency of the S3 GET of a file (ms, to its first byte), for the modelled Lambda
    /// duration.
    #[arg(long, default_value_t = 30.0)]
    s3_ms: f64,
    /// Latency of one DynamoDB request (ms), for the modelled Lambda duration.
    #[arg(long, default_value_t = 6.0)]
    dynamodb_ms: f64,
    /// Where to write the JSON report.
    #[arg(long)]
    json: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("--start is not an RFC 3339 time: {0}")]
    Start(String),
    #[error("{0}")]
    Run(String),
}

/// One delivered file: which stream (index into the mix) and its bytes.
struct Delivery {
    stream: usize,
    file: LogFile,
}

/// What handling one file did.
#[derive(Debug, Clone, Default)]
pub struct FileResult {
    /// Index into the mix's streams.
    pub stream: usize,
    /// Records read (duplicates included).
    pub records: u64,
    /// Events sent.
    pub events: u64,
    /// What its store operations spent in the table.
    pub consumed: Consumed,
    /// Why it failed, if it did.
    pub error: Option<String>,
}

/// One measured round of deliveries.
#[derive(Debug, Clone, Default)]
pub struct Round {
    /// Its files.
    pub files: Vec<FileResult>,
    /// Wall time to generate its files (not part of the measurement).
    pub generate_s: f64,
    /// Wall time to handle them.
    pub wall_s: f64,
    /// CPU time of the process while handling them (every thread).
    pub cpu_s: f64,
    /// Of which in the table model (pricing items, as the store's encoding).
    pub model_s: f64,
}

fn notification(key: &str) -> serde_json::Value {
    json!({"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": "org-trail"}, "object": {"key": key}}}]})
}

/// Generates round `k`'s files: every stream that has joined, without the empty ones.
fn generate(settings: &[Settings], streams: &[mix::Stream], k: i64) -> Result<Vec<Delivery>, Error> {
    use rayon::prelude::*;
    let files: Vec<Option<Delivery>> = settings
        .par_iter()
        .zip(streams.par_iter())
        .enumerate()
        .map(|(i, (s, st))| {
            if k < s.start.div_euclid(5) {
                return Ok(None);
            }
            let file = benign_file(s, &st.account, &st.region, k)?;
            Ok((file.records > 0).then_some(Delivery { stream: i, file }))
        })
        .collect::<Result<_, std::io::Error>>()?;
    Ok(files.into_iter().flatten().collect())
}

/// Handles every file of a round at once (at most `concurrency` at a time), each as one
/// invocation of the handler.
async fn handle_round(table: &Arc<Table>, files: Vec<Delivery>, second: i64, concurrency: usize) -> Vec<FileResult> {
    let gate = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    for Delivery { stream, file } in files {
        let (table, gate) = (Arc::clone(table), Arc::clone(&gate));
        tasks.spawn(async move {
            let _permit = gate.acquire_owned().await;
            let source = MemorySource::default();
            source.put("org-trail", &file.key, file.bytes);
            let deps = Deps {
                source,
                store: Metered::new(table, second),
                sink: MemorySink::default(),
                detector: DetectorConfig::default(),
                rules: true,
            };
            let mut totals = Totals::default();
            let result = handle(&deps, &notification(&file.key), &mut totals).await;
            FileResult {
                stream,
                records: totals.records + totals.duplicates,
                events: totals.events_sent,
                consumed: deps.store.consumed(),
                error: result.err().map(|e| e.to_string()),
            }
        });
    }
    let mut done = Vec::new();
    while let Some(result) = tasks.join_next().await {
        done.push(
            result
                .unwrap_or_else(|e| FileResult { error: Some(format!("the task died: {e}")), ..FileResult::default() }),
        );
    }
    done
}

fn run(args: &Args) -> Result<serde_json::Value, Error> {
    let start = chrono::DateTime::parse_from_rfc3339(&args.start)
        .map_err(|_| Error::Start(args.start.clone()))?
        .timestamp()
        .div_euclid(60);
    let first_round = start.div_euclid(5);
    let rounds = i64::from(args.hours) * 12;
    let warmup = i64::from(args.warmup_rounds);
    let streams = mix::streams(args.accounts, &args.regions, args.seed);
    // Each stream joins at one of the warm-up rounds (or the first measured one).
    let mut joins = StdRng::seed_from_u64(args.seed ^ 0x6a6f_696e);
    let settings: Vec<Settings> = streams
        .iter()
        .map(|st| {
            let join = first_round - warmup + joins.gen_range(0..=warmup);
            Settings {
                out: PathBuf::new(),
                seed: args.seed,
                start: join * 5,
                days: 1,
                accounts: vec![],
                regions: vec![],
                rate_scale: st.rate_scale * args.rate_scale,
                history_days: 0,
                anomalies: false,
                late_fraction: 0.03,
                duplicate_fraction: 0.0005,
            }
        })
        .collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        // Threads live for the whole run, so the CPU time is the sum over live threads.
        .thread_keep_alive(Duration::from_secs(24 * 3600))
        .build()?;
    let table = Arc::new(Table::new());
    let mut measured = Vec::new();
    for k in first_round - warmup..first_round + rounds {
        let t = Instant::now();
        let files = generate(&settings, &streams, k)?;
        let generate_s = t.elapsed().as_secs_f64();
        let metering = k >= first_round;
        table.set_metering(metering);
        let (t, cpu, model) = (Instant::now(), process_cpu(), table.model_seconds());
        // File k is delivered at the end of its five minutes.
        let second = (k * 5 + 5) * 60;
        let n = files.len();
        let results = rt.block_on(handle_round(&table, files, second, args.concurrency));
        let wall_s = t.elapsed().as_secs_f64();
        let cpu_s = cpu.zip(process_cpu()).map_or(0.0, |(a, b)| b.saturating_sub(a).as_secs_f64());
        if let Some(failed) = results.iter().find_map(|r| r.error.as_ref()) {
            return Err(Error::Run(format!("a file of round {k} failed: {failed}")));
        }
        eprintln!(
            "bench-org: {} round {:>3}: {n:>5} files in {wall_s:>5.1} s (generated in {generate_s:.1} s)",
            if metering { "measured" } else { "warm-up " },
            k - first_round,
        );
        if metering {
            measured.push(Round { files: results, generate_s, wall_s, cpu_s, model_s: table.model_seconds() - model });
        }
    }
    Ok(report::report(args, &streams, &measured, &table))
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(summary) => {
            eprint!("{}", report::summary(&summary));
            if let Some(path) = &args.json {
                if let Err(e) = std::fs::write(path, format!("{summary:#}\n")) {
                    eprintln!("bench-org: cannot write {}: {e}", path.display());
                    return ExitCode::FAILURE;
                }
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("bench-org: {e}");
            ExitCode::FAILURE
        }
    }
}
