//! The backfill worker's configuration, read once at start-up from the environment: the
//! ingest function's settings (the same table, detector and rules, so backfilled and live
//! files build the same baselines) plus its own.
//!
//! | variable | meaning |
//! |---|---|
//! | the ingest function's (`TABLE_NAME`, `DETECTOR_CONFIG`, ...) | see `trailsight_ingest::config` |
//! | `MANIFEST_BUCKET` (required) | where the list of streams to backfill is written for the state machine's map |
//! | `SEND_EVENTS` | `false` (default): insights and risky changes of archived files are kept, not sent; `true` sends them to the bus |

pub use trailsight_ingest::config::ConfigError;

/// Typed settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// The settings shared with the ingest function.
    pub ingest: trailsight_ingest::config::Config,
    /// The bucket of stream manifests.
    pub manifest_bucket: String,
    /// Whether events of backfilled files are sent.
    pub send_events: bool,
}

impl Config {
    /// Reads the settings through `get` (the process environment in `main`).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let ingest = trailsight_ingest::config::Config::from_lookup(&get)?;
        let nonempty = |name: &str| get(name).filter(|v| !v.trim().is_empty());
        let manifest_bucket = nonempty("MANIFEST_BUCKET").ok_or(ConfigError::Missing(
            "MANIFEST_BUCKET",
            "the bucket the backfill writes its list of streams to (the SAM template sets it)",
        ))?;
        let send_events = trailsight_ingest::config::flag("SEND_EVENTS", nonempty("SEND_EVENTS"), false)?;
        Ok(Config { ingest, manifest_bucket, send_events })
    }

    /// Reads the settings from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use trailsight_ingest::config::lookup;

    #[test]
    fn a_missing_manifest_bucket_fails_naming_the_variable() {
        // Given the ingest settings but no MANIFEST_BUCKET, when read, then the error names it
        let err = Config::from_lookup(lookup(&[("TABLE_NAME", "t")])).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("MANIFEST_BUCKET"), "{err}");
    }

    #[test]
    fn events_of_backfilled_files_are_kept_unless_asked_for() {
        // Given the required settings, then events are not sent by default, and sent on "true"
        let base = [("TABLE_NAME", "t"), ("MANIFEST_BUCKET", "m")];
        assert!(matches!(Config::from_lookup(lookup(&base)), Ok(c) if !c.send_events && c.manifest_bucket == "m"));
        let on = [base[0], base[1], ("SEND_EVENTS", "TRUE")];
        assert!(matches!(Config::from_lookup(lookup(&on)), Ok(c) if c.send_events));
        let bad = [base[0], base[1], ("SEND_EVENTS", "maybe")];
        assert!(Config::from_lookup(lookup(&bad)).is_err());
    }
}
