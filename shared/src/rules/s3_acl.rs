//! Is an ACL public? Any grant to the `AllUsers` or `AuthenticatedUsers` groups, or a canned
//! ACL `public-read`, `public-read-write` or `authenticated-read` (S3's definition).

use serde_json::Value;

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
        if let Some(c) = strings(canned)
            .into_iter()
            .find(|c| PUBLIC_CANNED.contains(&c.to_ascii_lowercase().as_str()))
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
        .find(|g| {
            g.get("Grantee")
                .and_then(|e| e.get("URI"))
                .and_then(Value::as_str)
                .is_some_and(is_public_grantee)
        })
        .map(|g| format!("grant {}", serde_json::to_string(g).unwrap_or_default()))
}
