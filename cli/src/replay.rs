//! `trailsight replay`: read log files in parallel, merge them in delivery order through the
//! pipeline, print events as JSON lines and a summary.
use crate::args::FormatArg;
use crate::args::ReplayArgs;
use crate::engine::Engine;
use crate::files::{find, FindError, Found, LogFile};
use crate::order::for_each_in_order;
use crate::output::{top_table, Filter, Printer, Summary};
use crate::report::{Report, Scope};
use crate::store::RedbStore;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::fs::File;
use std::io::{BufWriter, IsTerminal, Write};
use std::path::PathBuf;
use std::time::Instant;
use trailsight_core::detect::DetectorConfig;
use trailsight_core::events::Envelope;
use trailsight_core::ingest::pipeline::Stats;
use trailsight_core::log::count::{count_log, FileBatch};
use trailsight_core::log::reader::ReadError;

/// Errors that stop a replay (bad usage or unwritable output). Bad files do not stop it.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// A path argument is unusable.
    #[error(transparent)]
    Find(#[from] FindError),
    /// The config file cannot be read.
    #[error("cannot read config {path}: {source}")]
    ConfigRead {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The config file is invalid.
    #[error("{path}: {source}")]
    Config {
        /// The file.
        path: PathBuf,
        /// Why.
        source: trailsight_core::detect::ConfigError,
    },
    /// The state store failed.
    #[error(transparent)]
    Store(#[from] trailsight_core::store::ports::StoreError),
    /// A file could not be ingested into the store.
    #[error(transparent)]
    Ingest(#[from] trailsight_core::ingest::IngestError),
    /// The report could not be written.
    #[error(transparent)]
    Report(#[from] crate::report::ReportError),
    /// Writing events failed.
    #[error("cannot write events to {target}: {source}")]
    Output {
        /// Where.
        target: String,
        /// Why.
        source: std::io::Error,
    },
}

impl ReplayError {
    /// Exit status: 2 for usage errors, 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            ReplayError::Output { .. } | ReplayError::Store(_) | ReplayError::Ingest(_) | ReplayError::Report(_) => 1,
            _ => 2,
        }
    }
}

/// How a replay ended.
#[derive(Debug)]
pub struct Outcome {
    /// Whether any file or record was rejected (a named file that is not a log file counts).
    pub rejected_any: bool,
    /// Whether the paths held no CloudTrail log file at all.
    pub no_logs: bool,
}

impl Outcome {
    /// 0 when everything was read, 3 when something was rejected, 4 when there was nothing
    /// to read.
    pub fn exit_code(&self) -> u8 {
        if self.no_logs {
            4
        } else if self.rejected_any {
            3
        } else {
            0
        }
    }
}

/// The detection settings: the `--config` file's, else the defaults; charts are recorded for
/// a report, and kept in the store for later ones.
fn detector_config(args: &ReplayArgs) -> Result<DetectorConfig, ReplayError> {
    let mut config = match &args.config {
        None => DetectorConfig::default(),
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|source| ReplayError::ConfigRead { path: path.clone(), source })?;
            DetectorConfig::from_toml(&text).map_err(|source| ReplayError::Config { path: path.clone(), source })?
        }
    };
    config.record_charts = args.report.is_some() || args.store.is_some();
    Ok(config)
}

/// Warns about named files that are not log files, and about finding no log file at all.
fn warn_about_names(args: &ReplayArgs, found: &Found) {
    for (path, reason) in &found.named_not_logs {
        eprintln!(
            "trailsight: warning: {} is not a CloudTrail log file ({reason}); expected ACCOUNT_CloudTrail_REGION_YYYYMMDDTHHMMZ_UNIQUE.json.gz",
            path.display()
        );
    }
    if found.logs.is_empty() {
        let paths: Vec<String> = args.paths.iter().map(|p| p.display().to_string()).collect();
        eprintln!(
            "trailsight: warning: no CloudTrail log files in {}: nothing was replayed (log files are named ACCOUNT_CloudTrail_REGION_YYYYMMDDTHHMMZ_UNIQUE.json.gz)",
            paths.join(", ")
        );
    }
}

/// Where the events go (`--output FILE`, else stdout), buffered, and its name for errors.
fn open_output(args: &ReplayArgs) -> Result<(String, Box<dyn Write + Send>), ReplayError> {
    Ok(match &args.output {
        Some(p) => {
            let f =
                File::create(p).map_err(|source| ReplayError::Output { target: p.display().to_string(), source })?;
            (p.display().to_string(), Box::new(BufWriter::with_capacity(1 << 16, f)))
        }
        None => ("stdout".to_owned(), Box::new(BufWriter::with_capacity(1 << 16, std::io::stdout()))),
    })
}

/// How the events are printed: a table on a terminal (or with `--format table`), JSON lines
/// otherwise, filtered by `--only` and `--min-severity`.
fn printer(args: &ReplayArgs) -> Printer {
    let table = match args.format {
        FormatArg::Table => true,
        FormatArg::Json => false,
        FormatArg::Auto => args.output.is_none() && std::io::stdout().is_terminal(),
    };
    let filter = Filter { only: args.only, min_severity: args.min_severity };
    Printer::new(table, filter)
}

/// Runs a replay.
pub fn run(args: &ReplayArgs) -> Result<Outcome, ReplayError> {
    let started = Instant::now();
    let config = detector_config(args)?;
    let mut found = find(&args.paths)?;
    warn_about_names(args, &found);
    let no_logs = found.logs.is_empty();
    let stages = args.stages.stages();
    let store = match &args.store {
        Some(path) => Some(RedbStore::open(path)?),
        None => None,
    };
    let mut pipeline = Engine::new(config, stages, store);
    found.logs = pipeline.skip_processed(std::mem::take(&mut found.logs))?;
    pipeline.stats_mut().skipped_objects = found.skipped.len() as u64;
    for (path, reason) in &found.skipped {
        tracing::info!(path = %path.display(), %reason, "skipped");
    }
    let (target, out) = open_output(args)?;
    let mut replay = Replay {
        pipeline,
        printer: printer(args),
        out,
        target,
        scope: Scope::default(),
        reported: args.report.as_ref().map(|_| vec![]),
        bar: progress(found.logs.iter().map(|f| f.size).sum()),
        total_files: found.logs.len(),
    };
    let threads = args.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get())).max(1);
    let mut failure = None;
    for_each_in_order(
        &found.logs,
        threads,
        |f| read_file(f, stages.rules),
        |file, batch| match replay.take(file, batch) {
            Ok(()) => true,
            Err(e) => {
                failure = Some(e);
                false
            }
        },
    );
    if let Some(e) = failure {
        return Err(e);
    }
    let stats = replay.finish(args, started)?;
    Ok(Outcome {
        rejected_any: stats.rejected_files > 0 || stats.rejected_records > 0 || !found.named_not_logs.is_empty(),
        no_logs,
    })
}

/// A replay under way: the engine, where its events go, and what a report will need.
struct Replay {
    pipeline: Engine,
    printer: Printer,
    out: Box<dyn Write + Send>,
    /// Where the events go, for errors.
    target: String,
    scope: Scope,
    /// Every event, unfiltered, when a report is written.
    reported: Option<Vec<Envelope>>,
    bar: ProgressBar,
    total_files: usize,
}

impl Replay {
    /// Takes the next file in delivery order: its counts through the engine and its events
    /// out, or, when it could not be read, its rejection.
    fn take(&mut self, file: &LogFile, batch: Result<FileBatch, ReadError>) -> Result<(), ReplayError> {
        self.bar.inc(file.size);
        match batch {
            Ok(batch) => {
                if batch.rejected > 0 {
                    self.bar.suspend(|| {
                        eprintln!(
                            "trailsight: {}: {} record(s) rejected, the rest counted; first: {}",
                            file.path.display(),
                            batch.rejected,
                            batch.rejection_reasons.join("; ")
                        )
                    });
                }
                let records = self.pipeline.stats().records;
                let events = self.pipeline.apply(file, batch)?;
                self.scope.add_file(&file.key, self.pipeline.stats().records - records);
                if let Some(reported) = &mut self.reported {
                    reported.extend_from_slice(&events);
                }
                self.printer.write(&mut self.out, &events).map_err(|source| output_error(&self.target, source))?;
            }
            Err(e) => {
                self.pipeline.stats_mut().rejected_files += 1;
                self.bar.suspend(|| eprintln!("trailsight: rejected {}: {e}", file.path.display()));
            }
        }
        let s = self.pipeline.stats();
        let message = format!("{}/{} files, {} records", s.files + s.rejected_files, self.total_files, s.records);
        self.bar.set_message(message);
        Ok(())
    }

    /// Flushes the events, keeps the scope and state, writes the report, prints the top
    /// table and the summary line; returns the run's statistics.
    fn finish(mut self, args: &ReplayArgs, started: Instant) -> Result<Stats, ReplayError> {
        self.out.flush().map_err(|source| output_error(&self.target, source))?;
        self.pipeline.record_scope(&self.scope)?;
        self.pipeline.finish()?;
        self.bar.finish_and_clear();
        if let (Some(path), Some(reported)) = (&args.report, &self.reported) {
            let report = Report::build(Some(self.scope), reported, self.pipeline.charts()?);
            crate::report::write(&report, path)?;
        }
        let stats = self.pipeline.stats().clone();
        if let Some(n) = args.top {
            eprint!("{}", top_table(&self.pipeline.totals(), n));
        }
        let seconds = started.elapsed().as_secs_f64();
        let summary = Summary::new(&stats, self.pipeline.already_processed(), seconds);
        eprintln!("{}", serde_json::to_string(&summary).unwrap_or_default());
        Ok(stats)
    }
}

fn output_error(target: &str, source: std::io::Error) -> ReplayError {
    ReplayError::Output { target: target.to_owned(), source }
}

fn read_file(f: &LogFile, rules: bool) -> Result<FileBatch, ReadError> {
    let file = File::open(&f.path).map_err(|source| ReadError::Io { decompressed: 0, source })?;
    count_log(file, &f.path.display().to_string(), Some(&f.key), rules)
}

fn progress(total_bytes: u64) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(total_bytes), ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template(
        "{bar:30} {binary_bytes}/{binary_total_bytes} {msg} {binary_bytes_per_sec} ETA {eta}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar
}
