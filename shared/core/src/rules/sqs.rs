//! `sqs-queue-policy-public`: a queue policy (SetQueueAttributes, or CreateQueue with a
//! `Policy` attribute) that lets anyone send, receive or manage messages.

use super::{public_policy, text, Call, Events, Finding, Resource, Rule, RuleId, Severity};

/// `sqs-queue-policy-public`.
pub const RULE: Rule = Rule::new(RuleId::SqsQueuePolicyPublic, Severity::High, EVENTS, check);
const EVENTS: Events = &[("sqs.amazonaws.com", &["SetQueueAttributes", "CreateQueue"])];

fn check(call: &Call<'_>) -> Vec<Finding> {
    let url = text(call.request, "queueUrl")
        .or_else(|| call.record.pointer("/responseElements/queueUrl").and_then(|v| v.as_str()))
        .or_else(|| text(call.request, "queueName"))
        .unwrap_or("");
    let queue = Resource::Queue { id: url.to_owned() };
    public_policy(&RULE, queue, policy(call.request), "queue policy")
}

/// The queue policy a request sets (its `Policy` attribute).
pub fn policy(request: &serde_json::Value) -> Option<&serde_json::Value> {
    request.get("attributes").and_then(|a| a.get("Policy"))
}
