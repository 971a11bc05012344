//! Detection settings: defaults that work without tuning, per-API overrides and opt-outs, from TOML.
//!
//! ```toml
//! [defaults]
//! p_value = 1e-7          # how improbable a window must be under the baseline to fire
//! min_calls = 10          # fewest calls in one minute for a call-rate insight
//!
//! [api."ec2.amazonaws.com:DescribeInstances"]
//! min_calls = 50          # a noisy API: need more before firing
//!
//! [api."sts.amazonaws.com:AssumeRole"]
//! enabled = false         # opt out
//! ```
//! API names are `eventSource:eventName`; `eventSource:*` matches every API of a service.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Thresholds of the detector. Every field has a default that works without tuning.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Thresholds {
    /// Whether the API is analysed at all.
    pub enabled: bool,
    /// Tail probability under the baseline below which a window is anomalous.
    pub p_value: f64,
    /// Fewest calls in the 1-minute window for a call-rate Start (scaled up for longer windows).
    pub min_calls: u32,
    /// Observed calls must be at least this multiple of the expected calls.
    pub min_ratio: f64,
    /// The excess over the expectation must exceed this multiple of the largest excess the
    /// API showed in the past week (its "burst memory"): recurring benign bursts don't fire.
    pub burst_margin: f64,
    /// Fewest errors of one errorCode in a window for an error-rate Start.
    pub min_errors: u32,
    /// Smallest error fraction (errors of one code / calls) for an error-rate Start.
    pub min_error_fraction: f64,
    /// Observed error fraction must be at least this multiple of the baseline fraction.
    pub error_ratio: f64,
    /// Relative noise of call counts beyond Poisson (negative-binomial overdispersion).
    pub overdispersion: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            enabled: true,
            p_value: 1e-7,
            min_calls: 10,
            min_ratio: 2.0,
            burst_margin: 2.0,
            min_errors: 10,
            min_error_fraction: 0.1,
            error_ratio: 3.0,
            overdispersion: 0.25,
        }
    }
}

/// The detector's whole configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DetectorConfig {
    /// Thresholds for every API.
    pub defaults: Thresholds,
    /// Overrides keyed by `eventSource:eventName` or `eventSource:*`: any of the
    /// [`Thresholds`] keys; the others keep their values.
    pub api: BTreeMap<String, toml::Table>,
    /// Minutes after a file's delivery time before its minutes count as complete (CloudTrail
    /// delivers a few percent of records up to 15 minutes late).
    pub settle_minutes: i64,
    /// Minutes of history an account and region need before any Start.
    pub warmup_minutes: i64,
    /// Consecutive normal, complete minutes before an insight ends.
    pub end_after_minutes: i64,
    /// Longest insight: after this the new level is accepted as the baseline.
    pub max_insight_minutes: i64,
    /// The remediation exemption tag key: setting or removing it on a bucket or security group
    /// is the risky change `trailsight-exemption-changed`.
    pub exempt_tag_key: String,
    /// Record what the detector sees around each insight ([`ChartLog`](super::ChartLog)), for
    /// the report. Set by the CLI, never read from TOML, off in the Lambdas.
    #[serde(skip)]
    pub record_charts: bool,
}

impl Default for DetectorConfig {
    fn default() -> Self {
        DetectorConfig {
            defaults: Thresholds::default(),
            api: BTreeMap::new(),
            settle_minutes: 15,
            warmup_minutes: 2 * 24 * 60,
            end_after_minutes: 5,
            max_insight_minutes: 6 * 60,
            exempt_tag_key: crate::rules::DEFAULT_EXEMPT_TAG_KEY.to_owned(),
            record_charts: false,
        }
    }
}

/// A configuration file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The TOML does not parse or has unknown keys.
    #[error("detection config is invalid: {0}; see docs/detection.md for the keys")]
    Toml(#[from] toml::de::Error),
    /// A value is out of range.
    #[error("detection config: {0}")]
    Range(String),
}

impl DetectorConfig {
    /// Parses and checks a TOML configuration.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        let config: DetectorConfig = toml::from_str(text)?;
        config.check()?;
        Ok(config)
    }

    fn check(&self) -> Result<(), ConfigError> {
        let mut all = vec![("defaults".to_owned(), self.defaults.clone())];
        for (name, o) in &self.api {
            if !name.contains(':') {
                return Err(ConfigError::Range(format!(
                    "API key {name:?} must be eventSource:eventName or eventSource:*"
                )));
            }
            all.push((name.clone(), overlay(&self.defaults, o)?));
        }
        for (name, t) in all {
            if !(t.p_value > 0.0 && t.p_value < 0.5) {
                return Err(ConfigError::Range(format!(
                    "{name}: p_value must be between 0 and 0.5, got {}",
                    t.p_value
                )));
            }
            if t.min_ratio < 1.0 || t.burst_margin < 0.0 || t.error_ratio < 1.0 || t.overdispersion < 0.0 {
                return Err(ConfigError::Range(format!(
                    "{name}: min_ratio and error_ratio must be >= 1, burst_margin and overdispersion >= 0"
                )));
            }
            if !(0.0..=1.0).contains(&t.min_error_fraction) {
                return Err(ConfigError::Range(format!("{name}: min_error_fraction must be within 0..1")));
            }
        }
        if self.settle_minutes < 0
            || self.warmup_minutes < 0
            || self.end_after_minutes < 1
            || self.max_insight_minutes < 1
        {
            return Err(ConfigError::Range(
                "settle_minutes and warmup_minutes must be >= 0, end_after_minutes and max_insight_minutes >= 1"
                    .to_owned(),
            ));
        }
        Ok(())
    }

    /// The thresholds for one API: the exact `source:name` override, else `source:*`, else defaults.
    pub fn thresholds(&self, event_source: &str, event_name: &str) -> Thresholds {
        if self.api.is_empty() {
            return self.defaults.clone();
        }
        let exact = format!("{event_source}:{event_name}");
        let service = format!("{event_source}:*");
        let mut t = self.defaults.clone();
        for o in [&service, &exact].into_iter().filter_map(|key| self.api.get(key)) {
            // Every override was overlaid on the defaults when the file was checked, so this
            // cannot fail; were it to, the thresholds stay as they were.
            t = overlay(&t, o).unwrap_or(t);
        }
        t
    }
}

/// `base` with the keys of `overrides` set: an unknown key or a value of the wrong type is the
/// TOML error that names it.
fn overlay(base: &Thresholds, overrides: &toml::Table) -> Result<Thresholds, ConfigError> {
    let mut table = toml::Table::try_from(base).map_err(|e| ConfigError::Range(e.to_string()))?;
    table.extend(overrides.iter().map(|(k, v)| (k.clone(), v.clone())));
    Ok(table.try_into()?)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn empty_config_gives_the_defaults() {
        assert_eq!(DetectorConfig::from_toml("").unwrap(), DetectorConfig::default());
    }

    #[test]
    fn per_api_override_and_opt_out_apply_to_that_api_only() {
        // Given a service-wide override, an exact override and an opt-out
        let c = DetectorConfig::from_toml(
            r#"
            [defaults]
            min_calls = 12
            [api."ec2.amazonaws.com:*"]
            min_calls = 40
            [api."ec2.amazonaws.com:DescribeInstances"]
            min_ratio = 4.0
            [api."sts.amazonaws.com:AssumeRole"]
            enabled = false
            "#,
        )
        .unwrap();
        // Then each API gets the most specific values
        let d = c.thresholds("ec2.amazonaws.com", "DescribeInstances");
        assert_eq!((d.min_calls, d.min_ratio), (40, 4.0));
        assert_eq!(c.thresholds("ec2.amazonaws.com", "RunInstances").min_calls, 40);
        assert_eq!(c.thresholds("iam.amazonaws.com", "ListUsers").min_calls, 12);
        assert!(!c.thresholds("sts.amazonaws.com", "AssumeRole").enabled);
    }

    #[test]
    fn unknown_keys_and_bad_values_are_rejected_with_a_message() {
        assert!(DetectorConfig::from_toml("[defaults]\nmin_call = 3").is_err());
        let e = DetectorConfig::from_toml("[defaults]\np_value = 2.0").unwrap_err();
        assert!(e.to_string().contains("p_value"));
        assert!(DetectorConfig::from_toml("[api.nocolon]\nenabled = false").is_err());
        let e = DetectorConfig::from_toml("[api.\"ec2.amazonaws.com:*\"]\nmin_call = 3").unwrap_err();
        assert!(e.to_string().contains("min_call"), "{e}");
        assert!(DetectorConfig::from_toml("[api.\"ec2.amazonaws.com:*\"]\nmin_calls = \"many\"").is_err());
    }
}
