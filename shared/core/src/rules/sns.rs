//! `sns-topic-policy-public`: a topic policy (SetTopicAttributes `Policy`, or CreateTopic with
//! one) that lets anyone publish, subscribe or manage the topic, or AddPermission granting an
//! action to every account (`*`).

use super::{public_policy, quote, text, Call, Events, Finding, Resource, Rule, RuleId, Severity};
use serde_json::Value;

/// `sns-topic-policy-public`.
pub const RULE: Rule = Rule::new(RuleId::SnsTopicPolicyPublic, Severity::High, EVENTS, check);
const EVENTS: Events = &[("sns.amazonaws.com", &["SetTopicAttributes", "CreateTopic", "AddPermission"])];

/// The topic policy a SetTopicAttributes or CreateTopic request sets.
pub fn policy<'a>(name: &str, request: &'a Value) -> Option<&'a Value> {
    match name {
        "SetTopicAttributes" => {
            let is_policy = text(request, "attributeName").is_some_and(|n| n.eq_ignore_ascii_case("Policy"));
            is_policy.then(|| request.get("attributeValue")).flatten()
        }
        "CreateTopic" => request.get("attributes").and_then(|a| a.get("Policy")),
        _ => None,
    }
}

fn check(call: &Call<'_>) -> Vec<Finding> {
    let req = call.request;
    let arn = text(req, "topicArn")
        .or_else(|| call.record.pointer("/responseElements/topicArn").and_then(Value::as_str))
        .or_else(|| text(req, "name"))
        .unwrap_or("");
    let topic = Resource::Topic { id: arn.to_owned() };
    match call.name {
        "SetTopicAttributes" | "CreateTopic" => public_policy(&RULE, topic, policy(call.name, req), "topic policy"),
        _ => {
            let accounts = req.get("aWSAccountId").or_else(|| req.get("AWSAccountId"));
            let everyone = match accounts {
                Some(Value::Array(a)) => a.iter().any(|v| v.as_str() == Some("*")),
                Some(Value::String(s)) => s == "*",
                _ => false,
            };
            if !everyone {
                return vec![];
            }
            let actions = req.get("actionName").unwrap_or(&Value::Null);
            vec![RULE.finding(
                topic,
                format!("AddPermission grants every AWS account (*) the topic actions {}", quote(actions)),
            )]
        }
    }
}
