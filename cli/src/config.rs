//! `trailsight config check FILE`: a detector configuration validated as the functions and
//! the replay read it, with the line of the first problem.
use crate::args::{ConfigAction, ConfigArgs};
use std::process::ExitCode;
use trailsight_core::detect::DetectorConfig;

/// The line (1-based) of the first line of `text` that mentions `needle`, if any.
fn line_of(text: &str, needle: &str) -> Option<usize> {
    text.lines().position(|l| l.contains(needle)).map(|i| i + 1)
}

/// The problem with a configuration text, with a line number where one can be found; `None`
/// when it is usable.
pub fn problem(text: &str) -> Option<String> {
    let err = DetectorConfig::from_toml(text).err()?;
    let message = err.to_string();
    // TOML errors carry their own line; range errors name an API key or a threshold.
    if message.contains("line ") {
        return Some(message);
    }
    let line = message.split('"').nth(1).and_then(|key| line_of(text, key)).or_else(|| {
        message
            .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
            .filter(|w| w.contains('_'))
            .find_map(|w| line_of(text, w))
    });
    Some(match line {
        Some(n) => format!("line {n}: {message}"),
        None => message,
    })
}

/// Runs `trailsight config`.
pub fn run(args: &ConfigArgs) -> ExitCode {
    match &args.action {
        ConfigAction::Check { file } => {
            let text = match std::fs::read_to_string(file) {
                Ok(t) => t,
                Err(e) => {
                    eprintln!("trailsight: cannot read {}: {e}", file.display());
                    return ExitCode::from(2);
                }
            };
            match problem(&text) {
                None => {
                    println!("{}: ok", file.display());
                    ExitCode::SUCCESS
                }
                Some(p) => {
                    eprintln!("trailsight: {}: {p}", file.display());
                    ExitCode::from(1)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_usable_configuration_has_no_problem() {
        assert_eq!(problem("[defaults]\nmin_calls = 20\n"), None);
    }

    #[test]
    fn an_unknown_key_is_reported_with_its_line() {
        // Given a typo on line 3
        let p = problem("[defaults]\nmin_calls = 20\np_valu = 1e-6\n").unwrap_or_default();
        // Then the problem names the line and the key
        assert!(p.contains("line 3") && p.contains("p_valu"), "{p}");
    }

    #[test]
    fn an_out_of_range_threshold_is_reported_with_its_line() {
        // Given a p_value out of range for one API, on line 4
        let text = "[defaults]\nmin_calls = 20\n[api.\"iam.amazonaws.com:ListUsers\"]\np_value = 0.9\n";
        let p = problem(text).unwrap_or_default();
        // Then it names the API's line and what is wrong
        assert!(p.contains("p_value"), "{p}");
        assert!(p.starts_with("line 3") || p.starts_with("line 4"), "{p}");
    }
}
