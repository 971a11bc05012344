//! Command-line arguments of `trailsight`.
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// trailsight: CloudTrail anomaly detection and risky-change alerts, run locally.
#[derive(Debug, Parser)]
#[command(name = "trailsight", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Replay CloudTrail log files through detection and the risky-change rules, with no AWS.
    #[command(after_help = REPLAY_EXAMPLES)]
    Replay(ReplayArgs),
    /// Warm the baselines in the deployed DynamoDB table from the trail's existing log files in
    /// S3, with the ingest function's own code (build with `--features aws`).
    #[cfg(feature = "aws")]
    #[command(after_help = BACKFILL_EXAMPLES)]
    Backfill(BackfillArgs),
    /// Write an HTML report of events already emitted (JSON lines), with the charts an earlier
    /// replay's --store recorded.
    #[command(after_help = REPORT_EXAMPLES)]
    Report(ReportArgs),
    /// Check a detector configuration file (DETECTOR_CONFIG) before deploying it.
    Config(ConfigArgs),
    /// Make the trail bucket notify trailsight, keeping its other notifications (build with
    /// `--features aws`).
    #[cfg(feature = "aws")]
    #[command(name = "setup-notifications", after_help = SETUP_EXAMPLES)]
    SetupNotifications(SetupArgs),
    /// Put one synthetic risky-change event, marked as a test, on a bus: checks the whole
    /// findings route in a minute (build with `--features aws`).
    #[cfg(feature = "aws")]
    #[command(name = "test-event")]
    TestEvent(TestEventArgs),
}

/// Options of `trailsight config`.
#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// What to do with the configuration.
    #[command(subcommand)]
    pub action: ConfigAction,
}

/// `trailsight config` subcommands.
#[derive(Debug, Subcommand)]
pub enum ConfigAction {
    /// Validate a detector configuration (TOML): exit 0 when it is usable, 1 with the line and
    /// key of the first problem otherwise.
    Check {
        /// The TOML file.
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
}

#[cfg(feature = "aws")]
const SETUP_EXAMPLES: &str = "\
Examples:
  trailsight setup-notifications --bucket my-trail-bucket --queue-arn arn:aws:sqs:us-east-1:111122223333:trailsight-IngestQueue-ABC
      Add trailsight's queue entry (AWSLogs/ prefix, .json.gz suffix) to the bucket's notifications.
  trailsight setup-notifications --bucket my-trail-bucket --eventbridge
      Turn on S3's EventBridge delivery instead (pairs with LogDelivery=eventbridge).

The bucket's other notifications are read and written back unchanged. An existing entry whose
event and prefix/suffix filters overlap trailsight's is refused with a message (exit 1).";

/// Options of `trailsight setup-notifications`.
#[cfg(feature = "aws")]
#[derive(Debug, Args)]
pub struct SetupArgs {
    /// The trail's bucket.
    #[arg(long)]
    pub bucket: String,
    /// The stack's ingest queue (the IngestQueueArn output).
    #[arg(long, conflicts_with = "eventbridge", required_unless_present = "eventbridge")]
    pub queue_arn: Option<String>,
    /// Turn on S3's EventBridge delivery instead of a queue entry.
    #[arg(long)]
    pub eventbridge: bool,
    /// Where the trail's log files are: `AWSLogs/`, or the trail's prefix and `AWSLogs/`
    /// (the SetupNotificationsCommand output gives it).
    #[arg(long, default_value = "AWSLogs/")]
    pub prefix: String,
}

/// Options of `trailsight test-event`.
#[cfg(feature = "aws")]
#[derive(Debug, Args)]
pub struct TestEventArgs {
    /// The bus (the EventBusArn output's name, or `default`).
    #[arg(long)]
    pub bus: String,
}

#[cfg(feature = "aws")]
const BACKFILL_EXAMPLES: &str = "\
Examples:
  trailsight backfill --bucket my-trail-bucket --table trailsight-Table-ABC --since 2026-11-01
      Read the last month of logs into the stack's table; historical events are printed as
      JSON lines on stdout (add --bus to send them to EventBridge instead).

Credentials and region come from the usual AWS environment (AWS_PROFILE, AWS_REGION...).
Files already ingested are skipped; files backfilled are skipped when S3 announces them.";

/// Options of `trailsight backfill`.
#[cfg(feature = "aws")]
#[derive(Debug, Args)]
pub struct BackfillArgs {
    /// The trail's bucket.
    #[arg(long)]
    pub bucket: String,
    /// Key prefix to list (the trail's prefix, down to an account or region if you like).
    #[arg(long, default_value = "AWSLogs/")]
    pub prefix: String,
    /// The stack's DynamoDB table (the TableName output).
    #[arg(long)]
    pub table: String,
    /// Send the backfill's events to this EventBridge bus; without it they go to stdout.
    #[arg(long)]
    pub bus: Option<String>,
    /// Only files delivered on or after this day (YYYY-MM-DD, UTC).
    #[arg(long)]
    pub since: Option<chrono::NaiveDate>,
    /// Detection settings (TOML), as deployed in DETECTOR_CONFIG.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

const REPLAY_EXAMPLES: &str = "\
Examples:
  trailsight replay tests/fixtures/grycap
      Replay the bundled sample logs; events go to stdout, the summary to stderr.
  trailsight replay ~/trail/AWSLogs --output events.jsonl --top 10
      Replay a downloaded trail, write events to a file and show the 10 busiest APIs.
  trailsight replay new-logs/ --store ~/.trailsight/state.redb
      Continue the baselines of an earlier replay; files already processed are skipped.
  trailsight replay ~/trail/AWSLogs --report report.html
      Also write an HTML report with a chart of each insight against its baseline.

Exit status: 0 when every file and record was read, 3 when some file or record was
rejected or a file named on the command line is not a CloudTrail log file (the rest is still
processed), 4 when the paths hold no CloudTrail log file at all, 2 for bad usage.";

/// Options of `trailsight replay`.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// Log files (.json.gz or .json) and folders (walked recursively). Files are processed in
    /// the order of the delivery time in their names, as the Lambda would receive them.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Write the events (JSON lines) to FILE instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// After the run, print a table of the N busiest APIs on stderr (e.g. --top 10).
    #[arg(long, value_name = "N")]
    pub top: Option<usize>,

    /// Detection settings (TOML): per-API thresholds and opt-outs. Defaults work without one.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Keep baselines in an embedded database at PATH (created if missing), so a later
    /// replay continues them and skips files already processed. Without it, state lives in
    /// memory for this run only.
    #[arg(long, value_name = "PATH")]
    pub store: Option<PathBuf>,

    /// Threads reading files in parallel (default: all cores).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,

    /// Stages to run after counting, for measuring their cost (make bench): `all` (default),
    /// `rules` (counting and risky-change rules, no detection) or `count` (counting only).
    #[arg(long, value_enum, default_value_t = StagesArg::All)]
    pub stages: StagesArg,

    /// How events are printed: `auto` (a readable table on a terminal, JSON lines when piped
    /// or written to a file), `table`, or `json` (one EventBridge event per line).
    #[arg(long, value_enum, default_value_t = FormatArg::Auto)]
    pub format: FormatArg,

    /// Print only one kind of event: `insights`, `risky` (risky changes) or `remediation`.
    #[arg(long, value_enum, value_name = "KIND")]
    pub only: Option<OnlyArg>,

    /// Print only risky changes of at least this severity (`medium`, `high`, `critical`);
    /// insights carry no severity and are kept.
    #[arg(long, value_enum, value_name = "LEVEL")]
    pub min_severity: Option<SeverityArg>,

    /// Also write an HTML report of the run to FILE: what was read, each insight with the chart
    /// of its API against the baseline, and the risky changes (one self-contained file).
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
}

const REPORT_EXAMPLES: &str = "\
Examples:
  trailsight replay logs/ --store state.redb --format json > events.jsonl
  trailsight report events.jsonl --store state.redb -o report.html
      Report events emitted earlier, with the charts the replays into state.redb recorded.
  trailsight report delivered.jsonl -o report.html
      Events an EventBridge target received (one per line); without --store, no charts.

The report is one HTML file with no external resources: open it in a browser or attach it.";

/// Options of `trailsight report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Events as JSON lines (`trailsight replay --format json`, or what a target received).
    #[arg(value_name = "EVENTS.jsonl")]
    pub events: PathBuf,

    /// The embedded store of the replays that emitted them (`replay --store`): the charts of
    /// the insights and what was read.
    #[arg(long, value_name = "PATH")]
    pub store: Option<PathBuf>,

    /// Where to write the report.
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
}

/// Values of `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FormatArg {
    /// A table on a terminal, JSON lines otherwise.
    Auto,
    /// A readable table.
    Table,
    /// JSON lines.
    Json,
}

/// Values of `--only`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OnlyArg {
    /// `AWS Insight via CloudTrail` events.
    Insights,
    /// `Trailsight Risky Change` events.
    Risky,
    /// `Trailsight Remediation` events.
    Remediation,
}

/// Values of `--min-severity`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum SeverityArg {
    /// Medium and above.
    Medium,
    /// High and above.
    High,
    /// Critical only.
    Critical,
}

/// Values of `--stages`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StagesArg {
    /// Counting, risky-change rules and detection.
    All,
    /// Counting and risky-change rules.
    Rules,
    /// Counting only.
    Count,
}

impl StagesArg {
    /// The pipeline stages this selects.
    pub fn stages(self) -> trailsight_core::ingest::pipeline::Stages {
        trailsight_core::ingest::pipeline::Stages { detect: self == StagesArg::All, rules: self != StagesArg::Count }
    }
}
