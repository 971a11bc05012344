//! Is an ACL public? Any grant to the `AllUsers` or `AuthenticatedUsers` groups, or a canned
//! ACL `public-read`, `public-read-write` or `authenticated-read` (S3's definition).

use super::{Call, Events, Finding, Rule, RuleId, Severity};
use serde_json::Value;

/// `s3-bucket-acl-public`: an ACL (bucket, object or object version) granting the public groups.
pub const RULE: Rule = Rule::new(RuleId::S3BucketAclPublic, Severity::High, EVENTS, check);
const EVENTS: Events = &[("s3.amazonaws.com", &["PutBucketAcl", "PutObjectAcl", "CreateBucket"])];

fn check(call: &Call<'_>) -> Vec<Finding> {
    public_part(call.request)
        .map(|part| {
            let mut f = RULE.finding(call.bucket(), format!("{} makes the ACL public: {part}", call.name));
            if part.contains("public-read-write") || part.contains("WRITE") {
                f.severity = Severity::Critical;
            }
            f
        })
        .into_iter()
        .collect()
}

/// Canned ACLs that make a bucket or object public.
pub const PUBLIC_CANNED: [&str; 3] = ["public-read", "public-read-write", "authenticated-read"];

/// Whether a grantee URI is one of the public groups.
pub fn is_public_grantee(uri: &str) -> bool {
    uri.contains("acs.amazonaws.com/groups/global/AllUsers")
        || uri.contains("acs.amazonaws.com/groups/global/AuthenticatedUsers")
}

fn strings(v: &Value) -> Vec<&str> {
    match v {
        Value::String(s) => vec![s.as_str()],
        Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    }
}

/// The grants of an `AccessControlPolicy` (a single grant may stand outside an array).
pub fn grants(acp: &Value) -> Vec<&Value> {
    match acp.get("AccessControlList").and_then(|l| l.get("Grant")) {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(g @ Value::Object(_)) => vec![g],
        _ => vec![],
    }
}

/// What in a request makes the ACL public, quoted for the reason line; `None` if nothing.
pub fn public_part(request: &Value) -> Option<String> {
    if let Some(canned) = request.get("x-amz-acl") {
        if let Some(c) = strings(canned).into_iter().find(|c| PUBLIC_CANNED.contains(&c.to_ascii_lowercase().as_str()))
        {
            return Some(format!("canned ACL {c}"));
        }
    }
    for header in [
        "x-amz-grant-read",
        "x-amz-grant-write",
        "x-amz-grant-read-acp",
        "x-amz-grant-write-acp",
        "x-amz-grant-full-control",
    ] {
        if let Some(v) = request.get(header) {
            if let Some(g) = strings(v).into_iter().find(|g| is_public_grantee(g)) {
                return Some(format!("{header}: {g}"));
            }
        }
    }
    let acp = request.get("AccessControlPolicy")?;
    grants(acp)
        .into_iter()
        .find(|g| g.get("Grantee").and_then(|e| e.get("URI")).and_then(Value::as_str).is_some_and(is_public_grantee))
        .map(|g| format!("grant {}", serde_json::to_string(g).unwrap_or_default()))
}

/// The public group a grantee URI names: `AllUsers` or `AuthenticatedUsers`.
pub fn public_group(uri: &str) -> Option<&'static str> {
    if uri.contains("acs.amazonaws.com/groups/global/AllUsers") {
        Some("AllUsers")
    } else if uri.contains("acs.amazonaws.com/groups/global/AuthenticatedUsers") {
        Some("AuthenticatedUsers")
    } else {
        None
    }
}

/// The grants to the public groups a request makes, as (group, permission): a canned ACL's,
/// an `x-amz-grant-*` header's (`uri="..."`, several separated by commas) or an
/// `AccessControlPolicy`'s. Remediation removes exactly these.
pub fn public_grants(request: &Value) -> Vec<(&'static str, String)> {
    let mut out: Vec<(&'static str, String)> = vec![];
    let mut add = |g: &'static str, p: &str| {
        let p = p.to_ascii_uppercase();
        if !out.iter().any(|(og, op)| *og == g && *op == p) {
            out.push((g, p));
        }
    };
    if let Some(canned) = request.get("x-amz-acl") {
        for c in strings(canned) {
            match c.to_ascii_lowercase().as_str() {
                "public-read" => add("AllUsers", "READ"),
                "public-read-write" => {
                    add("AllUsers", "READ");
                    add("AllUsers", "WRITE");
                }
                "authenticated-read" => add("AuthenticatedUsers", "READ"),
                _ => {}
            }
        }
    }
    for (header, permission) in [
        ("x-amz-grant-read", "READ"),
        ("x-amz-grant-write", "WRITE"),
        ("x-amz-grant-read-acp", "READ_ACP"),
        ("x-amz-grant-write-acp", "WRITE_ACP"),
        ("x-amz-grant-full-control", "FULL_CONTROL"),
    ] {
        if let Some(v) = request.get(header) {
            for grantee in strings(v).into_iter().flat_map(|s| s.split(',')) {
                if let Some(g) = public_group(grantee) {
                    add(g, permission);
                }
            }
        }
    }
    if let Some(acp) = request.get("AccessControlPolicy") {
        for g in grants(acp) {
            let uri = g.get("Grantee").and_then(|e| e.get("URI")).and_then(Value::as_str);
            let permission = g.get("Permission").and_then(Value::as_str);
            if let (Some(group), Some(p)) = (uri.and_then(public_group), permission) {
                add(group, p);
            }
        }
    }
    out
}
