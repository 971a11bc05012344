//! What the `trailsight` binary does once its arguments are parsed: logging to stderr, then
//! the chosen command, with its error printed and turned into the exit status.
use crate::args::Command;
use std::process::ExitCode;

/// Logs to stderr, `warn` and above unless `TRAILSIGHT_LOG` says otherwise.
pub fn init_logging() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("TRAILSIGHT_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .init();
}

/// Runs one command; errors are printed as `trailsight: ...` and give its exit status.
pub fn run(command: Command) -> ExitCode {
    match command {
        Command::Replay(a) => match crate::replay::run(&a) {
            Ok(outcome) => ExitCode::from(outcome.exit_code()),
            Err(e) => {
                eprintln!("trailsight: {e}");
                ExitCode::from(e.exit_code())
            }
        },
        #[cfg(feature = "aws")]
        Command::Backfill(a) => match crate::backfill::run(&a) {
            Ok(code) => code,
            Err(e) => {
                eprintln!("trailsight: {e}");
                ExitCode::from(1)
            }
        },
        Command::Report(a) => match crate::report::run(&a) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("trailsight: {e}");
                ExitCode::from(1)
            }
        },
        Command::Config(a) => crate::config::run(&a),
        #[cfg(feature = "aws")]
        Command::SetupNotifications(a) => crate::setup::run_setup(&a),
        #[cfg(feature = "aws")]
        Command::TestEvent(a) => crate::setup::run_test_event(&a),
    }
}
