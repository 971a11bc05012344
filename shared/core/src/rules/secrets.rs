//! `secretsmanager-secret-policy-public`: a secret's resource policy (PutResourcePolicy) that
//! lets anyone read or manage the secret.

use super::{public_policy, text, Call, Events, Finding, Resource, Rule, RuleId, Severity};

/// `secretsmanager-secret-policy-public`.
pub const RULE: Rule = Rule::new(RuleId::SecretsmanagerSecretPolicyPublic, Severity::Critical, EVENTS, check);
const EVENTS: Events = &[("secretsmanager.amazonaws.com", &["PutResourcePolicy"])];

fn check(call: &Call<'_>) -> Vec<Finding> {
    let secret = Resource::Secret { id: text(call.request, "secretId").unwrap_or("").to_owned() };
    public_policy(&RULE, secret, policy(call.request), "secret policy")
}

/// The resource policy a request sets.
pub fn policy(request: &serde_json::Value) -> Option<&serde_json::Value> {
    request.get("resourcePolicy")
}
