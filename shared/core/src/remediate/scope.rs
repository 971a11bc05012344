//! Where remediation acts: the deployment's own account (and member accounts through a role)
//! and the regions it is allowed in. A change anywhere else is decided `out-of-scope`.

use super::*;

/// The accounts and regions remediation acts in.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Scope {
    /// The deployment's own account; changes in other accounts are `out-of-scope` unless
    /// `member_role` is set. `None` acts on any account with the function's credentials.
    pub home_account: Option<String>,
    /// The role (name) to assume in a member account to remediate there.
    pub member_role: Option<String>,
    /// The regions remediation may act in; empty for all.
    pub regions: Vec<String>,
}

impl Scope {
    /// Where a record's change may be remediated: `Ok(None)` with the function's credentials,
    /// `Ok(Some(role ARN))` through a member account's role, `Err(why)` when out of scope.
    pub fn of(&self, record: &Value) -> Result<Option<String>, String> {
        let account = record_account(record);
        let region = record.get("awsRegion").and_then(Value::as_str).unwrap_or("");
        if !self.regions.is_empty() && !self.regions.iter().any(|r| r == region) {
            return Err(format!(
                "region {region:?} is not one this deployment remediates ({}): nothing done",
                self.regions.join(", ")
            ));
        }
        match (&self.home_account, &self.member_role) {
            (Some(home), _) if home == account => Ok(None),
            (Some(home), None) => Err(format!(
                "the change is in account {account}, not this deployment's account {home}: nothing done (set MemberRoleName to remediate member accounts)"
            )),
            (Some(_), Some(role)) => Ok(Some(format!(
                "arn:{}:iam::{account}:role/{role}",
                rules::partition(record)
            ))),
            (None, _) => Ok(None),
        }
    }
}
