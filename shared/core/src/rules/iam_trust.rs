//! `iam-role-trust-public`: a role whose trust policy (CreateRole, UpdateAssumeRolePolicy)
//! lets any AWS principal assume it.

use super::{public_policy, text, Call, Events, Finding, Resource, Rule, RuleId, Severity};

/// `iam-role-trust-public`.
pub const RULE: Rule = Rule::new(RuleId::IamRoleTrustPublic, Severity::Critical, EVENTS, check);
const EVENTS: Events = &[("iam.amazonaws.com", &["CreateRole", "UpdateAssumeRolePolicy"])];

fn check(call: &Call<'_>) -> Vec<Finding> {
    let role = Resource::Role { id: text(call.request, "roleName").unwrap_or("").to_owned() };
    public_policy(&RULE, role, policy(call.request), "role trust policy")
}

/// The trust policy a request sets.
pub fn policy(request: &serde_json::Value) -> Option<&serde_json::Value> {
    request.get("assumeRolePolicyDocument").or_else(|| request.get("policyDocument"))
}
