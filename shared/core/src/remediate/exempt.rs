//! Exemptions: principals (a break-glass role and its sessions), resource name patterns and
//! the exemption tag, which counts only with the explicit value `true`.

use super::*;

/// What remediation leaves alone.
#[derive(Debug, Clone, PartialEq)]
pub struct Exemptions {
    /// Resources carrying this tag with the value `true` are left alone.
    pub tag: String,
    /// Changes by these principals (IAM ARNs; an assumed-role session matches its role's ARN)
    /// are left alone.
    pub principals: Vec<String>,
    /// Resources whose name matches one of these patterns (`*` matches any run of characters)
    /// are left alone.
    pub resources: Vec<String>,
}

impl Default for Exemptions {
    fn default() -> Self {
        Exemptions { tag: rules::DEFAULT_EXEMPT_TAG_KEY.to_owned(), principals: vec![], resources: vec![] }
    }
}

impl Exemptions {
    /// Whether the tags carry the exemption tag with the value `true`.
    pub fn tagged(&self, tags: &std::collections::BTreeMap<String, String>) -> bool {
        tag_exempt(tags, &self.tag)
    }

    /// The exempt resource pattern `name` matches, if any.
    pub fn pattern(&self, name: &str) -> Option<&str> {
        self.resources.iter().map(String::as_str).find(|p| glob(p, name))
    }
}

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
