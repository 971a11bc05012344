//! `trailsight`: replay CloudTrail log folders through the same core as the Lambda functions.
use clap::Parser;
use std::process::ExitCode;
use trailsight_cli::{args, run};

/// mimalloc: replay allocates many small, short-lived values per file (attribution lists,
/// per-minute entries); glibc's allocator was about 5% of replay time.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = args::Cli::parse();
    run::init_logging();
    run::run(cli.command)
}
