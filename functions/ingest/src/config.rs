//! The ingest function's configuration, read once at start-up from the environment.
//!
//! | variable | meaning |
//! |---|---|
//! | `TABLE_NAME` (required) | the DynamoDB table of baselines, counts and the ledger |
//! | `EVENT_BUS_NAME` | the EventBridge bus for insights and risky changes (default `default`) |
//! | `DETECTOR_CONFIG` | detector settings as TOML (docs/detection.md); defaults when unset |
//! | `RISKY_CHANGES` | `true` (default) or `false`: whether to evaluate the risky-change rules |
//! | `EXEMPT_TAG_KEY` | the remediation exemption tag key, watched by `trailsight-exemption-changed` (default `trailsight:exempt`) |
//! | `AWS_ENDPOINT_URL` | an emulator's endpoint (tests); S3 then uses path-style addressing |

use trailsight_core::detect::DetectorConfig;

/// A setting that is missing or malformed; the function refuses to start.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A required variable is unset or empty.
    #[error("environment variable {0} is required: {1}")]
    Missing(&'static str, &'static str),
    /// A variable has a value the function cannot use.
    #[error("environment variable {name} is malformed: {why}")]
    Malformed {
        /// The variable.
        name: &'static str,
        /// What is wrong and what is expected.
        why: String,
    },
}

/// Typed settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// DynamoDB table.
    pub table: String,
    /// EventBridge bus.
    pub bus: String,
    /// Detector settings.
    pub detector: DetectorConfig,
    /// Whether risky-change rules run.
    pub rules: bool,
    /// Endpoint override (emulators).
    pub endpoint_url: Option<String>,
}

impl Config {
    /// Reads the settings through `get` (the process environment in `main`).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let nonempty = |name: &str| get(name).filter(|v| !v.trim().is_empty());
        let table = nonempty("TABLE_NAME").ok_or(ConfigError::Missing(
            "TABLE_NAME",
            "the name of trailsight's DynamoDB table (the SAM template sets it)",
        ))?;
        let mut detector = match nonempty("DETECTOR_CONFIG") {
            None => DetectorConfig::default(),
            Some(text) => DetectorConfig::from_toml(&text)
                .map_err(|e| ConfigError::Malformed { name: "DETECTOR_CONFIG", why: e.to_string() })?,
        };
        let rules = flag("RISKY_CHANGES", nonempty("RISKY_CHANGES"), true)?;
        if let Some(key) = nonempty("EXEMPT_TAG_KEY") {
            detector.exempt_tag_key = key.trim().to_owned();
        }
        let endpoint_url = nonempty("AWS_ENDPOINT_URL");
        if let Some(url) = &endpoint_url {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(ConfigError::Malformed {
                    name: "AWS_ENDPOINT_URL",
                    why: format!("{url:?}: expected an http:// or https:// URL"),
                });
            }
        }
        Ok(Config {
            table,
            bus: nonempty("EVENT_BUS_NAME").unwrap_or_else(|| "default".to_owned()),
            detector,
            rules,
            endpoint_url,
        })
    }

    /// Reads the settings from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }
}

/// A `true`/`false` variable (any case, surrounding blanks ignored); `default` when unset.
pub fn flag(name: &'static str, value: Option<String>, default: bool) -> Result<bool, ConfigError> {
    match value.map(|v| v.trim().to_ascii_lowercase()).as_deref() {
        None => Ok(default),
        Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(other) => Err(ConfigError::Malformed { name, why: format!("{other:?}: expected true or false") }),
    }
}

/// A lookup over fixed `(name, value)` pairs, for reading settings without the process
/// environment (tests, tools).
pub fn lookup<'a>(pairs: &'a [(&str, &str)]) -> impl Fn(&str) -> Option<String> + 'a {
    move |name| pairs.iter().find(|(n, _)| *n == name).map(|(_, v)| (*v).to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_table_name_fails_naming_the_variable() {
        // Given no TABLE_NAME, when the config is read, then the error names it
        let err = Config::from_lookup(lookup(&[])).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("TABLE_NAME"), "{err}");
    }

    #[test]
    fn malformed_detector_config_is_rejected_at_start_up() {
        // Given a DETECTOR_CONFIG that is not valid TOML
        let err = Config::from_lookup(lookup(&[("TABLE_NAME", "t"), ("DETECTOR_CONFIG", "p_value = [")]))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        // Then start-up fails naming it
        assert!(err.contains("DETECTOR_CONFIG"), "{err}");
    }

    #[test]
    fn defaults_apply_when_only_the_table_is_set() {
        // Given only TABLE_NAME, then the bus is the default one and rules are on
        let c = Config::from_lookup(lookup(&[("TABLE_NAME", "t"), ("RISKY_CHANGES", "")]));
        assert!(c.as_ref().is_ok_and(|c| c.detector.exempt_tag_key == "trailsight:exempt"));
        assert!(matches!(c, Ok(ref c) if c.bus == "default" && c.rules && c.endpoint_url.is_none()));
    }

    #[test]
    fn a_non_boolean_risky_changes_switch_is_rejected() {
        let c = Config::from_lookup(lookup(&[("TABLE_NAME", "t"), ("RISKY_CHANGES", "yes")]));
        assert!(matches!(c, Err(ConfigError::Malformed { name: "RISKY_CHANGES", .. })));
    }

    #[test]
    fn the_exemption_tag_key_reaches_the_rules() {
        // Given a deployment with its own exemption tag key
        let c = Config::from_lookup(lookup(&[("TABLE_NAME", "t"), ("EXEMPT_TAG_KEY", "sec:allow-public")]));
        // Then the pipeline's rules watch that key
        assert!(c.is_ok_and(|c| c.detector.exempt_tag_key == "sec:allow-public"));
    }
}
