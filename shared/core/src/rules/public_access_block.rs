//! Is Block Public Access being removed? Deleting it (bucket or account level), or a
//! configuration that sets any of its four settings to `false`. A call that only turns
//! settings on never fires, and neither does a setting the configuration leaves out: the
//! rule reports, and remediation turns back on, exactly the settings the call turned off.

use super::{quote, Call, Events, Finding, Resource, Rule, RuleId, Severity};
use serde_json::Value;

/// `s3-public-access-block-removed`: a public access block deleted or a setting turned off, at
/// bucket or account level.
pub const RULE: Rule = Rule::new(RuleId::S3PublicAccessBlockRemoved, Severity::High, EVENTS, check);
const EVENTS: Events = &[
    (
        "s3.amazonaws.com",
        &[
            "DeleteBucketPublicAccessBlock",
            "PutBucketPublicAccessBlock",
            "PutPublicAccessBlock",
            "DeletePublicAccessBlock",
            "PutAccountPublicAccessBlock",
            "DeleteAccountPublicAccessBlock",
        ],
    ),
    (
        "s3-control.amazonaws.com",
        &[
            "PutPublicAccessBlock",
            "DeletePublicAccessBlock",
            "PutAccountPublicAccessBlock",
            "DeleteAccountPublicAccessBlock",
        ],
    ),
];

fn check(call: &Call<'_>) -> Vec<Finding> {
    let account = || Resource::AccountPublicAccessBlock { account: call.account() };
    match call.name {
        "DeleteBucketPublicAccessBlock" => {
            vec![RULE.finding(call.bucket(), "bucket public access block deleted".to_owned())]
        }
        "DeletePublicAccessBlock" | "DeleteAccountPublicAccessBlock" => {
            vec![RULE.finding(account(), "account public access block deleted".to_owned())]
        }
        _ => {
            let config = call.request.get("PublicAccessBlockConfiguration").unwrap_or(&Value::Null);
            let off = settings_off(config);
            if off.is_empty() {
                return vec![];
            }
            let resource = if call.name == "PutBucketPublicAccessBlock" { call.bucket() } else { account() };
            let reason = format!(
                "public access block settings turned off: {} (configuration {})",
                off.join(", "),
                quote(config)
            );
            vec![RULE.finding(resource, reason)]
        }
    }
}

/// The four settings of a public access block.
pub const SETTINGS: [&str; 4] = ["BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"];

fn off(v: Option<&Value>) -> bool {
    match v {
        Some(Value::Bool(b)) => !*b,
        Some(Value::String(s)) => s.trim().eq_ignore_ascii_case("false"),
        _ => false,
    }
}

/// The settings a configuration turns off (set to `false`); empty when it only turns
/// settings on.
pub fn settings_off(config: &Value) -> Vec<&'static str> {
    SETTINGS.into_iter().filter(|s| off(config.get(*s))).collect()
}
