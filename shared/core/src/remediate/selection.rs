//! Which rules remediation may act on (`REMEDIATE_RULES`): `default` (every rule whose revert
//! cannot break a caller), `all`, `none`, or a comma-separated list of rule ids. A rule outside
//! the selection is reported `would-remediate`, as in dry-run.

use crate::rules::{self, RuleId};
use std::collections::BTreeSet;

/// The rules remediation may act on.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum RuleSelection {
    /// Every rule whose revert cannot break a caller ([`rules::Rule::revert_breaks_callers`]).
    #[default]
    Default,
    /// Every rule.
    All,
    /// No rule.
    None,
    /// These rules.
    Only(BTreeSet<RuleId>),
}

impl RuleSelection {
    /// Reads `default`, `all`, `none` or a comma-separated list of rule ids; an unknown id is
    /// an error naming it and the known ones.
    pub fn parse(text: &str) -> Result<Self, String> {
        match text.trim() {
            "" | "default" => return Ok(RuleSelection::Default),
            "all" => return Ok(RuleSelection::All),
            "none" => return Ok(RuleSelection::None),
            _ => {}
        }
        let mut ids = BTreeSet::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let id = RuleId::parse(part).ok_or_else(|| {
                let known: Vec<&str> = RuleId::ALL.iter().map(RuleId::as_str).collect();
                format!("{part:?} is not a rule id; expected default, all, none or ids among: {}", known.join(", "))
            })?;
            ids.insert(id);
        }
        Ok(RuleSelection::Only(ids))
    }

    /// Whether remediation may act on `rule`.
    pub fn enforces(&self, rule: RuleId) -> bool {
        match self {
            RuleSelection::Default => rules::rule(rule).is_some_and(|r| !r.revert_breaks_callers),
            RuleSelection::All => true,
            RuleSelection::None => false,
            RuleSelection::Only(ids) => ids.contains(&rule),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_leaves_out_the_reverts_that_can_break_callers() {
        let d = RuleSelection::parse("default");
        assert_eq!(d, Ok(RuleSelection::Default));
        let d = RuleSelection::Default;
        assert!(d.enforces(RuleId::S3BucketPolicyPublic));
        assert!(d.enforces(RuleId::KmsKeyPolicyPublic));
        assert!(!d.enforces(RuleId::LambdaFunctionPublic));
        assert!(!d.enforces(RuleId::RdsInstancePublic));
    }

    #[test]
    fn a_list_enables_exactly_its_rules_and_an_unknown_id_is_named() {
        let only = RuleSelection::parse("lambda-function-public, ami-public");
        assert!(
            matches!(&only, Ok(s) if s.enforces(RuleId::LambdaFunctionPublic) && s.enforces(RuleId::AmiPublic) && !s.enforces(RuleId::S3BucketAclPublic))
        );
        let bad = RuleSelection::parse("ami-public,s3-public");
        assert!(matches!(&bad, Err(why) if why.contains("\"s3-public\"") && why.contains("kms-key-policy-public")));
        assert!(matches!(RuleSelection::parse("none"), Ok(s) if !s.enforces(RuleId::AmiPublic)));
        assert!(matches!(RuleSelection::parse("all"), Ok(s) if s.enforces(RuleId::RdsInstancePublic)));
    }
}
