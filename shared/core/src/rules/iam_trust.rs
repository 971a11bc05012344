//! `iam-role-trust-public`: a role whose trust policy (CreateRole, UpdateAssumeRolePolicy)
//! lets any AWS principal assume it.

use super::{public_policy, text, Call, Finding, Resource, Rule, RuleId, Severity};

/// `iam-role-trust-public`.
pub const RULE: Rule = Rule {
    id: RuleId::IamRoleTrustPublic,
    severity: Severity::Critical,
    events: &[
        ("iam.amazonaws.com", "CreateRole"),
        ("iam.amazonaws.com", "UpdateAssumeRolePolicy"),
    ],
    native_trigger: true,
    revert_breaks_callers: false,
    check,
};

fn check(call: &Call<'_>) -> Vec<Finding> {
    let role = Resource::Role {
        id: text(call.request, "roleName").unwrap_or("").to_owned(),
    };
    public_policy(&RULE, role, policy(call.request), "role trust policy")
}

/// The trust policy a request sets.
pub fn policy(request: &serde_json::Value) -> Option<&serde_json::Value> {
    request
        .get("assumeRolePolicyDocument")
        .or_else(|| request.get("policyDocument"))
}
