//! trafficgen: writes realistic CloudTrail traffic laid out like a real trail, with labelled
//! anomalies, and scores a detector's insights against the labels.
//!
//! Benchmark corpus (about 1.2 million records in 2,304 files):
//! `trafficgen generate --out bench-out/corpus --seed 1 --days 2 --regions us-east-1,eu-west-1,ap-southeast-2,us-west-2 --no-anomalies`
//! Evaluation run: `trafficgen generate --out DIR --seed 7 --days 10 --labels DIR/labels.json`, then
//! `trafficgen score --labels DIR/labels.json --events events.jsonl`.

use trailsight_trafficgen::{gen, score};

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering;

/// Realistic CloudTrail traffic with labelled anomalies.
#[derive(Debug, Parser)]
#[command(name = "trafficgen", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Write a trail: 5-minute .json.gz files under OUT/AWSLogs/..., plus labels.
    #[command(after_help = "Example: trafficgen generate --out /tmp/trail --seed 7 --days 10")]
    Generate {
        /// Output folder.
        #[arg(long)]
        out: PathBuf,
        /// Seed: the same seed writes the same trail.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Simulated days.
        #[arg(long, default_value_t = 10)]
        days: i64,
        /// First minute (UTC, RFC 3339); default Monday 2026-01-05.
        #[arg(long, default_value = "2026-01-05T00:00:00Z")]
        start: String,
        /// Number of accounts.
        #[arg(long, default_value_t = 1)]
        accounts: u32,
        /// Comma-separated regions.
        #[arg(long, default_value = "us-east-1", value_delimiter = ',')]
        regions: Vec<String>,
        /// Volume multiplier.
        #[arg(long, default_value_t = 1.0)]
        rate_scale: f64,
        /// Days of history before any anomaly.
        #[arg(long, default_value_t = 7)]
        history_days: i64,
        /// Write benign traffic only.
        #[arg(long)]
        no_anomalies: bool,
        /// Fraction of records delivered 5-15 minutes late.
        #[arg(long, default_value_t = 0.03)]
        late_fraction: f64,
        /// Fraction of records repeated in the next file.
        #[arg(long, default_value_t = 0.0005)]
        duplicate_fraction: f64,
        /// Labels file (default OUT/labels.json).
        #[arg(long)]
        labels: Option<PathBuf>,
    },
    /// Write one big log file of about the given compressed size (for peak-RSS tests).
    Bigfile {
        /// Output file (.json.gz).
        #[arg(long)]
        out: PathBuf,
        /// Compressed size in MB.
        #[arg(long, default_value_t = 50)]
        compressed_mb: u64,
        /// Seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Score insight events (JSON lines) against labels.
    Score {
        /// The generator's labels file.
        #[arg(long)]
        labels: PathBuf,
        /// The detector's events (JSON lines).
        #[arg(long)]
        events: PathBuf,
        /// Print only the JSON line.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, thiserror::Error)]
enum Error {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("invalid JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("--start is not an RFC 3339 time: {0}")]
    Start(String),
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("trafficgen: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), Error> {
    match cli.command {
        Command::Generate {
            out,
            seed,
            days,
            start,
            accounts,
            regions,
            rate_scale,
            history_days,
            no_anomalies,
            late_fraction,
            duplicate_fraction,
            labels,
        } => {
            let t = std::time::Instant::now();
            let start_minute = chrono::DateTime::parse_from_rfc3339(&start)
                .map_err(|_| Error::Start(start.clone()))?
                .timestamp()
                .div_euclid(60);
            let settings = gen::Settings {
                out: out.clone(),
                seed,
                start: start_minute,
                days,
                accounts: (0..accounts).map(gen::account_id).collect(),
                regions,
                rate_scale,
                history_days,
                anomalies: !no_anomalies,
                late_fraction,
                duplicate_fraction,
            };
            let totals = gen::Totals::default();
            let anomalies = gen::generate(&settings, &totals)?;
            let labels_path = labels.unwrap_or_else(|| out.join("labels.json"));
            let doc = serde_json::json!({"seed": seed, "start": start, "days": days, "history_days": history_days, "anomalies": anomalies});
            std::fs::write(&labels_path, serde_json::to_vec_pretty(&doc)?)?;
            eprintln!(
                "{}",
                serde_json::json!({"files": totals.files.load(Ordering::Relaxed), "records": totals.records.load(Ordering::Relaxed),
                    "bytes": totals.bytes.load(Ordering::Relaxed), "anomalies": anomalies.len(), "seconds": t.elapsed().as_secs_f64()})
            );
        }
        Command::Bigfile { out, compressed_mb, seed } => {
            let n = gen::bigfile(&out, seed, compressed_mb)?;
            eprintln!("{}", serde_json::json!({"file": out, "records": n}));
        }
        Command::Score { labels, events, json } => {
            let labels: serde_json::Value = serde_json::from_slice(&std::fs::read(labels)?)?;
            let events = std::fs::read_to_string(events)?;
            let s = score::score(&labels, &events);
            if !json {
                for m in &s.missed {
                    eprintln!("missed: {m}");
                }
                for f in &s.false_starts {
                    eprintln!("false Start: {f}");
                }
                eprintln!(
                    "recall {:.3}, precision {:.3}, false Starts/day {:.3}, median delay {:?} min ({} labels, {} Starts)",
                    s.recall, s.precision, s.false_starts_per_day, s.median_delay_minutes, s.labels, s.starts
                );
            }
            println!("{}", serde_json::to_string(&s)?);
        }
    }
    Ok(())
}
