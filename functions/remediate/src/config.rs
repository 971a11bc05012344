//! The remediation function's configuration, read once at start-up from the environment.
//!
//! | variable | meaning |
//! |---|---|
//! | `TABLE_NAME` (required) | the stack's DynamoDB table, where each (eventID, rule) is claimed once |
//! | `REMEDIATION_MODE` | `dry-run` (default) or `enforce` |
//! | `EXEMPT_TAG_KEY` | tag that exempts a bucket or security group with the value `true` (default `trailsight:exempt`) |
//! | `EXEMPT_PRINCIPALS` | comma-separated IAM ARNs whose changes are left alone |
//! | `EXEMPT_RESOURCES` | comma-separated resource name patterns (`*` wildcard) left alone |
//! | `EVENT_BUS_NAME` | the bus for `Trailsight Remediation` events (default `default`) |
//! | `ACCOUNT_ID` | this deployment's account: changes in other accounts are `out-of-scope` unless `MEMBER_ROLE_NAME` is set |
//! | `MEMBER_ROLE_NAME` | the role assumed in a member account to remediate there (`member-role.yaml`) |
//! | `REMEDIATION_REGIONS` | comma-separated regions remediation may act in (default: all) |
//! | `REMEDIATE_RULES` | the rules enforce mode acts on: `default` (all but `lambda-function-public` and `rds-instance-public`, whose reverts can break callers), `all`, `none`, or comma-separated rule ids; the others are reported `would-remediate` |
//! | `AWS_ENDPOINT_URL` | an emulator's endpoint (tests); S3 then uses path-style addressing |

use trailsight_core::remediate::{Exemptions, Mode, RemediationConfig, RuleSelection, Scope};

/// A setting that is missing or malformed; the function refuses to start.
#[derive(Debug, thiserror::Error)]
#[error("environment variable {name} is malformed: {why}")]
pub struct ConfigError {
    /// The variable.
    pub name: &'static str,
    /// What is wrong and what is expected.
    pub why: String,
}

/// Typed settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Remediation behaviour.
    pub remediation: RemediationConfig,
    /// DynamoDB table of the claims ledger.
    pub table: String,
    /// EventBridge bus.
    pub bus: String,
    /// Endpoint override (emulators).
    pub endpoint_url: Option<String>,
}

fn list(value: Option<String>) -> Vec<String> {
    value.unwrap_or_default().split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

impl Config {
    /// Reads the settings through `get` (the process environment in `main`).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let nonempty = |name: &str| get(name).filter(|v| !v.trim().is_empty());
        let table = nonempty("TABLE_NAME").ok_or_else(|| ConfigError {
            name: "TABLE_NAME",
            why: "required: the stack's DynamoDB table, where remediation claims each call once (the SAM template sets it)"
                .to_owned(),
        })?;
        let mode = match nonempty("REMEDIATION_MODE").as_deref().map(str::trim) {
            None | Some("dry-run") | Some("DryRun") => Mode::DryRun,
            Some("enforce") | Some("Enforce") => Mode::Enforce,
            Some(other) => {
                return Err(ConfigError {
                    name: "REMEDIATION_MODE",
                    why: format!("{other:?}: expected dry-run or enforce"),
                })
            }
        };
        let principals = list(nonempty("EXEMPT_PRINCIPALS"));
        if let Some(bad) = principals.iter().find(|p| !p.starts_with("arn:")) {
            return Err(ConfigError {
                name: "EXEMPT_PRINCIPALS",
                why: format!("{bad:?} is not an ARN (arn:aws:iam::ACCOUNT:role/NAME)"),
            });
        }
        let endpoint_url = nonempty("AWS_ENDPOINT_URL");
        if let Some(url) = endpoint_url.as_deref().filter(|u| !u.starts_with("http")) {
            return Err(ConfigError {
                name: "AWS_ENDPOINT_URL",
                why: format!("{url:?}: expected an http:// or https:// URL"),
            });
        }
        let home_account = nonempty("ACCOUNT_ID").map(|a| a.trim().to_owned());
        if let Some(bad) = home_account.as_deref().filter(|a| a.len() != 12 || !a.bytes().all(|b| b.is_ascii_digit())) {
            return Err(ConfigError { name: "ACCOUNT_ID", why: format!("{bad:?} is not a 12-digit AWS account id") });
        }
        let member_role = nonempty("MEMBER_ROLE_NAME").map(|r| r.trim().to_owned());
        if let Some(bad) = member_role.as_deref().filter(|r| r.starts_with("arn:") || r.contains(' ')) {
            return Err(ConfigError {
                name: "MEMBER_ROLE_NAME",
                why: format!("{bad:?}: expected a role name (with its path if any), not an ARN"),
            });
        }
        let rules = RuleSelection::parse(&nonempty("REMEDIATE_RULES").unwrap_or_default())
            .map_err(|why| ConfigError { name: "REMEDIATE_RULES", why })?;
        Ok(Config {
            remediation: RemediationConfig {
                rules,
                scope: Scope { home_account, member_role, regions: list(nonempty("REMEDIATION_REGIONS")) },
                mode,
                exempt: Exemptions {
                    tag: nonempty("EXEMPT_TAG_KEY").unwrap_or_else(|| "trailsight:exempt".to_owned()),
                    principals,
                    resources: list(nonempty("EXEMPT_RESOURCES")),
                },
                ..RemediationConfig::default()
            },
            table,
            bus: nonempty("EVENT_BUS_NAME").unwrap_or_else(|| "default".to_owned()),
            endpoint_url,
        })
    }

    /// Reads the settings from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_table(get: impl Fn(&str) -> Option<String>) -> impl Fn(&str) -> Option<String> {
        move |k| {
            if k == "TABLE_NAME" {
                Some("trailsight".to_owned())
            } else {
                get(k)
            }
        }
    }

    #[test]
    fn the_table_is_required() {
        let c = Config::from_lookup(|_| None);
        assert!(matches!(c, Err(ConfigError { name: "TABLE_NAME", .. })));
    }

    #[test]
    fn dry_run_is_the_default_mode() {
        let c = Config::from_lookup(with_table(|_| None));
        assert!(
            matches!(c, Ok(ref c) if c.remediation.mode == Mode::DryRun && c.remediation.exempt.tag == "trailsight:exempt")
        );
    }

    #[test]
    fn an_unknown_mode_fails_at_start_up_naming_the_variable() {
        let c = Config::from_lookup(with_table(|k| (k == "REMEDIATION_MODE").then(|| "yolo".to_owned())));
        assert!(matches!(c, Err(ConfigError { name: "REMEDIATION_MODE", .. })));
    }

    #[test]
    fn exempt_lists_are_split_on_commas() {
        let c = Config::from_lookup(with_table(|k| match k {
            "EXEMPT_PRINCIPALS" => Some("arn:aws:iam::1:role/BreakGlass, arn:aws:iam::1:role/Ops".to_owned()),
            "EXEMPT_RESOURCES" => Some("public-site-*,".to_owned()),
            "REMEDIATION_MODE" => Some("enforce".to_owned()),
            _ => None,
        }));
        assert!(
            matches!(c, Ok(ref c) if c.remediation.exempt.principals.len() == 2 && c.remediation.exempt.resources == vec!["public-site-*".to_owned()] && c.remediation.mode == Mode::Enforce)
        );
    }

    #[test]
    fn an_exempt_principal_that_is_not_an_arn_is_rejected() {
        let c = Config::from_lookup(with_table(|k| (k == "EXEMPT_PRINCIPALS").then(|| "BreakGlass".to_owned())));
        assert!(matches!(c, Err(ConfigError { name: "EXEMPT_PRINCIPALS", .. })));
    }

    #[test]
    fn remediate_rules_are_read_and_an_unknown_rule_stops_start_up() {
        // Given a rule list naming one rule whose revert breaks callers
        let c = Config::from_lookup(with_table(|k| {
            (k == "REMEDIATE_RULES").then(|| "lambda-function-public,ami-public".to_owned())
        }));
        // Then exactly those rules are enforced
        assert!(
            matches!(c, Ok(ref c) if c.remediation.rules.enforces(trailsight_core::rules::RuleId::LambdaFunctionPublic)
            && !c.remediation.rules.enforces(trailsight_core::rules::RuleId::S3BucketAclPublic))
        );
        // And a misspelt id is refused, naming the variable
        let bad = Config::from_lookup(with_table(|k| (k == "REMEDIATE_RULES").then(|| "ami".to_owned())));
        assert!(matches!(bad, Err(ConfigError { name: "REMEDIATE_RULES", .. })));
        // And unset means the default selection
        assert!(
            matches!(Config::from_lookup(with_table(|_| None)), Ok(ref c) if c.remediation.rules == RuleSelection::Default)
        );
    }

    #[test]
    fn scope_settings_are_read_and_checked() {
        // Given an account, a member role and two regions
        let c = Config::from_lookup(with_table(|k| match k {
            "ACCOUNT_ID" => Some("111122223333".to_owned()),
            "MEMBER_ROLE_NAME" => Some("trailsight-remediation".to_owned()),
            "REMEDIATION_REGIONS" => Some("us-east-1, eu-west-1".to_owned()),
            _ => None,
        }));
        // Then they reach the remediation settings
        assert!(matches!(c, Ok(ref c) if c.remediation.scope.home_account.as_deref() == Some("111122223333")
            && c.remediation.scope.member_role.as_deref() == Some("trailsight-remediation")
            && c.remediation.scope.regions == vec!["us-east-1".to_owned(), "eu-west-1".to_owned()]));
        // And a malformed account id stops start-up, naming the variable
        let bad = Config::from_lookup(with_table(|k| (k == "ACCOUNT_ID").then(|| "1234".to_owned())));
        assert!(matches!(bad, Err(ConfigError { name: "ACCOUNT_ID", .. })));
    }
}
