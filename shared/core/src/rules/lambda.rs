//! `lambda-function-public`: a function anyone may invoke. AddPermission with principal `*`
//! not pinned by a source ARN, source account or organization; or a function URL made with
//! AuthType `NONE` (CreateFunctionUrlConfig, UpdateFunctionUrlConfig). CloudTrail names
//! Lambda's calls with their API version (`AddPermission20150331v2`).

use super::{text, Call, Events, Finding, Resource, Rule, RuleId, Severity};
use serde_json::Value;

/// `lambda-function-public`.
pub const RULE: Rule = Rule::new(RuleId::LambdaFunctionPublic, Severity::High, EVENTS, check).breaking_callers();
const EVENTS: Events = &[
    ("lambda.amazonaws.com", &["AddPermission20150331", "AddPermission20150331v2"]),
    ("lambda.amazonaws.com", &["CreateFunctionUrlConfig20211031", "UpdateFunctionUrlConfig20211031"]),
];

fn check(call: &Call<'_>) -> Vec<Finding> {
    let req = call.request;
    let function = Resource::Function { id: text(req, "functionName").unwrap_or("").to_owned() };
    if call.name.starts_with("AddPermission") {
        return public_permission(req).map(|why| RULE.finding(function, why)).into_iter().collect();
    }
    let auth = text(req, "authType").unwrap_or("");
    if auth.eq_ignore_ascii_case("NONE") {
        return vec![RULE.finding(
            function,
            "function URL with AuthType NONE: anyone on the internet can invoke the function".into(),
        )];
    }
    vec![]
}

/// Why an AddPermission request opens the function to anyone, if it does.
pub fn public_permission(req: &Value) -> Option<String> {
    let principal = text(req, "principal")?;
    if principal.trim() != "*" {
        return None;
    }
    let pinned = ["sourceArn", "sourceAccount", "principalOrgID"]
        .iter()
        .any(|k| text(req, k).is_some_and(|v| !v.is_empty() && !v.contains('*')));
    if pinned {
        return None;
    }
    Some(format!(
        "AddPermission grants principal * the action {} (statement {}) with no source ARN, source account or organization",
        text(req, "action").unwrap_or("?"),
        text(req, "statementId").unwrap_or("?")
    ))
}
