//! Exemptions: principals (a break-glass role and its sessions), resource name patterns and
//! the exemption tag, which counts only with the explicit value `true`.

use super::*;

/// Whether `arn` is (or is a session of) one of the exempt principals.
pub fn principal_exempt(arn: &str, exempt: &[String]) -> bool {
    let role_arn = assumed_role_arn(arn);
    exempt.iter().any(|e| e == arn || role_arn.as_deref() == Some(e.as_str()) || (e.contains('*') && glob(e, arn)))
}

/// `arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION` → `arn:aws:iam::ACCOUNT:role/ROLE`.
pub(super) fn assumed_role_arn(arn: &str) -> Option<String> {
    let rest = arn.strip_prefix("arn:")?;
    let mut parts = rest.splitn(5, ':');
    let (partition, service, _, account, resource) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if service != "sts" {
        return None;
    }
    let role = resource.strip_prefix("assumed-role/")?.split('/').next()?;
    Some(format!("arn:{partition}:iam::{account}:role/{role}"))
}

/// Matches `text` against `pattern`, where `*` matches any run of characters.
pub fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

pub(super) fn resource_name(resource: &Resource) -> String {
    resource.name()
}

/// Whether the tags exempt a resource: the exemption tag key with the value `true` (any case;
/// an empty or other value exempts nothing).
pub fn tag_exempt(tags: &std::collections::BTreeMap<String, String>, key: &str) -> bool {
    tags.get(key).is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

/// The resource as one key for the seen-changes ledger (an object ACL is the object's).
pub(super) fn resource_key(resource: &Resource) -> String {
    match resource {
        Resource::Bucket { name, key, version_id, .. } => match (key, version_id) {
            (Some(k), Some(v)) => format!("{name}/{k}#{v}"),
            (Some(k), None) => format!("{name}/{k}"),
            _ => name.clone(),
        },
        other => resource_name(other),
    }
}
