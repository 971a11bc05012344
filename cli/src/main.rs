//! `trailsight`: replay CloudTrail log folders through the same core as the Lambda functions.
use clap::Parser;
use std::process::ExitCode;

mod args;
#[cfg(feature = "aws")]
mod backfill;
mod engine;
mod files;
mod output;
mod replay;
mod store;

/// mimalloc: replay allocates many small, short-lived values per file (attribution lists,
/// per-minute entries); glibc's allocator was about 5% of replay time.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = args::Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("TRAILSIGHT_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .init();
    match cli.command {
        args::Command::Replay(a) => match replay::run(&a) {
            Ok(outcome) => ExitCode::from(outcome.exit_code()),
            Err(e) => {
                eprintln!("trailsight: {e}");
                ExitCode::from(e.exit_code())
            }
        },
        #[cfg(feature = "aws")]
        args::Command::Backfill(a) => match backfill::run(&a) {
            Ok(code) => code,
            Err(e) => {
                eprintln!("trailsight: {e}");
                ExitCode::from(1)
            }
        },
    }
}
