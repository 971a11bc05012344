//! `trailsight backfill`: the trail's existing log files, listed from S3, into the deployed
//! table, oldest first, with the ingest function's own per-object code
//! (`trailsight_aws::object::backfill`).

use crate::args::BackfillArgs;
use std::io::Write;
use std::process::ExitCode;
use trailsight_aws::object::{backfill, Deps};
use trailsight_aws::{config, dynamo::DynamoStore, eventbridge::EventBridgeSink, s3};
use trailsight_core::detect::DetectorConfig;
use trailsight_core::events::Envelope;
use trailsight_core::store::ports::{EventSink, SinkError};

/// Why a backfill could not run.
#[derive(Debug, thiserror::Error)]
pub enum BackfillError {
    /// The detector configuration is unusable.
    #[error("cannot use --config {path}: {why}")]
    Config {
        /// The file.
        path: String,
        /// Why.
        why: String,
    },
    /// Listing the bucket failed.
    #[error(transparent)]
    List(#[from] trailsight_core::store::ports::SourceError),
    /// The async runtime could not start.
    #[error("cannot start the async runtime: {0}")]
    Runtime(#[from] std::io::Error),
}

/// Events as JSON lines on stdout, when no bus is given.
#[derive(Debug)]
struct Stdout;

impl EventSink for Stdout {
    async fn put(&self, events: &[Envelope]) -> Result<(), SinkError> {
        let mut out = std::io::stdout().lock();
        for e in events {
            let line =
                serde_json::to_string(e).map_err(|err| SinkError::none_delivered(events.len(), err.to_string()))?;
            writeln!(out, "{line}").map_err(|err| SinkError::none_delivered(events.len(), err.to_string()))?;
        }
        Ok(())
    }
}

/// Either sink.
#[derive(Debug)]
enum Sink {
    Bus(EventBridgeSink),
    Stdout(Stdout),
}

impl EventSink for Sink {
    async fn put(&self, events: &[Envelope]) -> Result<(), SinkError> {
        match self {
            Sink::Bus(s) => s.put(events).await,
            Sink::Stdout(s) => s.put(events).await,
        }
    }
}

/// Runs the backfill; exit status 0 when every file went in, 3 when some failed.
pub fn run(args: &BackfillArgs) -> Result<ExitCode, BackfillError> {
    let detector = match &args.config {
        None => DetectorConfig::default(),
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| BackfillError::Config { path: path.display().to_string(), why: e.to_string() })?;
            DetectorConfig::from_toml(&text)
                .map_err(|e| BackfillError::Config { path: path.display().to_string(), why: e.to_string() })?
        }
    };
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async {
        let endpoint = std::env::var("AWS_ENDPOINT_URL").ok().filter(|u| !u.is_empty());
        let sdk = config::sdk_config(endpoint.as_deref()).await;
        let s3_client = config::s3_client(&sdk, endpoint.is_some());
        let since = args.since.and_then(|d| d.and_hms_opt(0, 0, 0)).map(|t| t.and_utc());
        let listed = s3::list_logs(&s3_client, &args.bucket, &args.prefix, since).await?;
        let objects: Vec<_> = listed.into_iter().map(|(o, _)| o).collect();
        eprintln!("trailsight backfill: {} log files under s3://{}/{}", objects.len(), args.bucket, args.prefix);
        let deps = Deps {
            source: s3::S3Source::new(s3_client),
            store: DynamoStore::from_config(&sdk, &args.table),
            sink: match &args.bus {
                Some(bus) => Sink::Bus(EventBridgeSink::from_config(&sdk, bus)),
                None => Sink::Stdout(Stdout),
            },
            detector,
            rules: true,
        };
        let bar = indicatif::ProgressBar::new(objects.len() as u64);
        let report = backfill(&deps, &objects, |done, _| bar.set_position(done as u64)).await;
        bar.finish_and_clear();
        let t = &report.totals;
        eprintln!(
            "{}",
            serde_json::json!({"files": t.files, "duplicates": t.duplicate_deliveries, "skipped": t.skipped_objects,
                "records": t.records + t.duplicates, "rejected_records": t.rejected_records, "events": t.events_sent,
                "failed": t.failed_objects})
        );
        for (key, why) in &report.failed {
            eprintln!("trailsight backfill: {key}: {why}");
        }
        Ok(if report.failed.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(3) })
    })
}
