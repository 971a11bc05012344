//! Is someone granting (or removing) a remediation exemption? Setting the exemption tag key on
//! a bucket (PutBucketTagging) or a security group (CreateTags), or removing it
//! (DeleteBucketTagging, which drops every tag; DeleteTags naming the key or no key at all).
//! An exemption switches remediation off for that resource, so granting one is itself an
//! event someone should see.

use super::{Call, Events, Finding, Resource, Rule, RuleId, Severity};
use serde_json::Value;

/// `trailsight-exemption-changed`: the exemption tag set or removed. Remediation only reports
/// it for review, so AWS's native events of these (frequent) calls are not sent to it.
pub const RULE: Rule = Rule::new(RuleId::TrailsightExemptionChanged, Severity::Medium, EVENTS, check).not_native();
const EVENTS: Events = &[
    ("s3.amazonaws.com", &["PutBucketTagging", "DeleteBucketTagging"]),
    ("ec2.amazonaws.com", &["CreateTags", "DeleteTags"]),
];

fn check(call: &Call<'_>) -> Vec<Finding> {
    changes(call.name, call.request, &call.settings.exempt_tag_key)
        .into_iter()
        .map(|c| {
            let mut f = RULE.finding(c.resource, c.reason);
            if c.granted {
                f.severity = Severity::High;
            }
            f
        })
        .collect()
}

/// One exemption change on one resource.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// The bucket or security group.
    pub resource: Resource,
    /// Whether the tag was set (an exemption granted) rather than removed.
    pub granted: bool,
    /// One sentence for the event.
    pub reason: String,
}

fn list(v: Option<&Value>) -> Vec<&Value> {
    match v {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(o @ Value::Object(m)) => match m.get("items").or_else(|| m.get("Tag")) {
            Some(Value::Array(a)) => a.iter().collect(),
            Some(one @ Value::Object(_)) => vec![one],
            _ if m.contains_key("key") || m.contains_key("Key") || m.contains_key("resourceId") => vec![o],
            _ => vec![],
        },
        _ => vec![],
    }
}

fn field<'a>(v: &'a Value, names: &[&str]) -> Option<&'a str> {
    names.iter().find_map(|n| v.get(*n).and_then(Value::as_str))
}

fn security_group(id: &str) -> Resource {
    Resource::SecurityGroup { group_id: Some(id.to_owned()), group_name: None, rules: vec![] }
}

/// The exemption changes of a tagging call (`key` is the deployment's exemption tag key).
pub fn changes(event_name: &str, request: &Value, key: &str) -> Vec<Change> {
    let bucket = || Resource::Bucket {
        name: field(request, &["bucketName"]).unwrap_or("").to_owned(),
        key: None,
        version_id: None,
    };
    match event_name {
        "PutBucketTagging" => {
            let tags = list(request.get("Tagging").and_then(|t| t.get("TagSet")));
            tags.iter()
                .find(|t| field(t, &["Key", "key"]) == Some(key))
                .map(|t| Change {
                    resource: bucket(),
                    granted: true,
                    reason: format!(
                        "exemption tag {key}={} set on the bucket: remediation will leave it alone",
                        field(t, &["Value", "value"]).unwrap_or("")
                    ),
                })
                .into_iter()
                .collect()
        }
        "DeleteBucketTagging" => vec![Change {
            resource: bucket(),
            granted: false,
            reason: format!("every tag of the bucket deleted, with the exemption tag {key} if it had one"),
        }],
        "CreateTags" | "DeleteTags" => {
            let groups: Vec<&str> = list(request.get("resourcesSet"))
                .iter()
                .filter_map(|r| field(r, &["resourceId"]))
                .filter(|id| id.starts_with("sg-"))
                .collect();
            let tags = list(request.get("tagSet"));
            let named = tags.iter().find(|t| field(t, &["key", "Key"]) == Some(key));
            let (granted, reason) = match (event_name, named) {
                ("CreateTags", Some(t)) => (
                    true,
                    format!(
                        "exemption tag {key}={} set on the security group: remediation will leave it alone",
                        field(t, &["value", "Value"]).unwrap_or("")
                    ),
                ),
                ("DeleteTags", Some(_)) => (false, format!("exemption tag {key} removed from the security group")),
                ("DeleteTags", None) if tags.is_empty() => (
                    false,
                    format!("every tag of the security group deleted, with the exemption tag {key} if it had one"),
                ),
                _ => return vec![],
            };
            groups
                .into_iter()
                .map(|id| Change { resource: security_group(id), granted, reason: reason.clone() })
                .collect()
        }
        _ => vec![],
    }
}
