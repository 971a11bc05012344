//! `kms-key-policy-public`: a KMS key policy (PutKeyPolicy, or CreateKey with a policy) that
//! lets anyone use or manage the key.

use super::{public_policy, text, Call, Events, Finding, Resource, Rule, RuleId, Severity};

/// `kms-key-policy-public`.
pub const RULE: Rule = Rule::new(RuleId::KmsKeyPolicyPublic, Severity::Critical, EVENTS, check);
const EVENTS: Events = &[("kms.amazonaws.com", &["PutKeyPolicy", "CreateKey"])];

fn check(call: &Call<'_>) -> Vec<Finding> {
    let id = match call.name {
        "CreateKey" => call
            .record
            .pointer("/responseElements/keyMetadata/keyId")
            .or_else(|| call.record.pointer("/responseElements/keyMetadata/arn"))
            .and_then(serde_json::Value::as_str),
        _ => text(call.request, "keyId"),
    };
    let key = Resource::KmsKey { id: id.unwrap_or("").to_owned() };
    public_policy(&RULE, key, policy(call.request), "key policy")
}

/// The key policy a request sets.
pub fn policy(request: &serde_json::Value) -> Option<&serde_json::Value> {
    request.get("policy")
}
