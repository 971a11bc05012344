//! Remediation planning: from live state to the smallest change that closes it. Pure; every
//! plan only removes access (statements, grants, CIDRs) or turns protections on.

use super::ports::{Acl, Permission, PublicAccessBlock};
use crate::rules::{s3_acl, s3_policy, security_group};
use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;
use std::fmt;

/// What to do with a live bucket policy.
#[derive(Debug, Clone, PartialEq)]
pub enum PolicyPlan {
    /// Nothing in it is public.
    NotPublic,
    /// Put this policy back: the same document without the public statements.
    Rewrite {
        /// The new policy text.
        policy: String,
        /// The statements removed.
        removed: Vec<Value>,
    },
    /// Every statement is public: delete the policy.
    Delete {
        /// The statements removed.
        removed: Vec<Value>,
    },
}

/// A live policy that cannot be read as JSON.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the live bucket policy is not a JSON object ({0}); nothing was changed")]
pub struct PolicyParseError(pub String);

/// A JSON object with its members in document order and their text as written.
struct Ordered(Vec<(String, Box<RawValue>)>);

impl<'de> Deserialize<'de> for Ordered {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Ordered;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Ordered, M::Error> {
                let mut members = Vec::new();
                while let Some(entry) = map.next_entry::<String, Box<RawValue>>()? {
                    members.push(entry);
                }
                Ok(Ordered(members))
            }
        }
        d.deserialize_map(V)
    }
}

/// Removes exactly the statements that make `policy` public, keeping every other statement's
/// text byte for byte and the other members of the document in their order.
pub fn strip_public_statements(policy: &str) -> Result<PolicyPlan, PolicyParseError> {
    let doc: Ordered = serde_json::from_str(policy).map_err(|e| PolicyParseError(e.to_string()))?;
    let mut removed = Vec::new();
    let mut kept_any = false;
    let mut members = Vec::with_capacity(doc.0.len());
    for (name, raw) in &doc.0 {
        if name != "Statement" {
            members.push(format!("{}:{}", Value::String(name.clone()), raw.get()));
            continue;
        }
        let list: Vec<Box<RawValue>> = match serde_json::from_str::<Vec<Box<RawValue>>>(raw.get()) {
            Ok(list) => list,
            Err(_) => vec![raw.clone()],
        };
        let mut kept = Vec::new();
        for st in list {
            let value: Value = serde_json::from_str(st.get()).map_err(|e| PolicyParseError(e.to_string()))?;
            if s3_policy::is_public_statement(&value) {
                removed.push(value);
            } else {
                kept.push(st.get().to_owned());
            }
        }
        kept_any = !kept.is_empty();
        members.push(format!("\"Statement\":[{}]", kept.join(",")));
    }
    if removed.is_empty() {
        return Ok(PolicyPlan::NotPublic);
    }
    if !kept_any {
        return Ok(PolicyPlan::Delete { removed });
    }
    Ok(PolicyPlan::Rewrite {
        policy: format!("{{{}}}", members.join(",")),
        removed,
    })
}

/// The ACL without its grants to the AllUsers and AuthenticatedUsers groups, with the grants
/// removed; `None` when it has none.
pub fn strip_public_grants(acl: &Acl) -> Option<(Acl, Vec<super::ports::Grant>)> {
    let (public, kept): (Vec<_>, Vec<_>) = acl
        .grants
        .iter()
        .cloned()
        .partition(|g| g.uri.as_deref().is_some_and(s3_acl::is_public_grantee));
    if public.is_empty() {
        return None;
    }
    Some((
        Acl {
            grants: kept,
            ..acl.clone()
        },
        public,
    ))
}

/// The public access block to set: all four on, unless they already are.
pub fn public_access_block_fix(live: Option<&PublicAccessBlock>) -> Option<PublicAccessBlock> {
    match live {
        Some(p) if *p == PublicAccessBlock::ALL_ON => None,
        _ => Some(PublicAccessBlock::ALL_ON),
    }
}

/// The permissions to revoke: on each permission that covers an admin port, exactly its world
/// CIDRs (0.0.0.0/0, ::/0). Narrower ranges and other sources stay.
pub fn world_open_admin(ingress: &[Permission]) -> Vec<Permission> {
    ingress
        .iter()
        .filter(|p| security_group::covers_admin_port(&p.protocol, p.from, p.to))
        .filter_map(|p| {
            let ipv4: Vec<String> = p
                .ipv4
                .iter()
                .filter(|c| security_group::is_world_cidr(c))
                .cloned()
                .collect();
            let ipv6: Vec<String> = p
                .ipv6
                .iter()
                .filter(|c| security_group::is_world_cidr(c))
                .cloned()
                .collect();
            (!ipv4.is_empty() || !ipv6.is_empty()).then(|| Permission {
                protocol: p.protocol.clone(),
                from: p.from,
                to: p.to,
                ipv4,
                ipv6,
                others: vec![],
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PRIVATE: &str = r#"{"Sid":"Logs","Effect":"Allow","Principal":{"Service":"logging.s3.amazonaws.com"},"Action":"s3:PutObject","Resource":"arn:aws:s3:::b/*"}"#;
    const PUBLIC: &str =
        r#"{"Sid":"Open","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}"#;

    #[test]
    fn only_public_statements_are_removed_and_the_rest_is_kept_byte_for_byte() {
        // Given a policy with a private statement (odd spacing) and a public one
        let private = PRIVATE.replace(",\"Action\"", " ,  \"Action\"");
        let policy = format!(r#"{{"Version":"2012-10-17","Id":"p1","Statement":[{private},{PUBLIC}]}}"#);
        // When planned
        let plan = strip_public_statements(&policy);
        // Then the private statement's text survives unchanged, with Version and Id in order
        let expected = format!(r#"{{"Version":"2012-10-17","Id":"p1","Statement":[{private}]}}"#);
        assert!(
            matches!(plan, Ok(PolicyPlan::Rewrite { ref policy, ref removed }) if *policy == expected && removed.len() == 1)
        );
    }

    #[test]
    fn a_policy_of_only_public_statements_is_deleted() {
        let plan = strip_public_statements(&format!(r#"{{"Version":"2012-10-17","Statement":{PUBLIC}}}"#));
        assert!(matches!(plan, Ok(PolicyPlan::Delete { ref removed }) if removed.len() == 1));
    }

    #[test]
    fn a_private_policy_needs_nothing() {
        let plan = strip_public_statements(&format!(r#"{{"Statement":[{PRIVATE}]}}"#));
        assert_eq!(plan, Ok(PolicyPlan::NotPublic));
    }

    #[test]
    fn a_policy_that_is_not_json_is_an_error_not_a_change() {
        assert!(strip_public_statements("not json").is_err());
    }

    #[test]
    fn public_grants_are_removed_and_owner_grants_kept() {
        // Given an ACL with the owner's grant and an AllUsers READ grant
        let owner = super::super::ports::Grant {
            grantee_type: "CanonicalUser".into(),
            id: Some("abc".into()),
            uri: None,
            email: None,
            display_name: None,
            permission: "FULL_CONTROL".into(),
        };
        let public = super::super::ports::Grant {
            grantee_type: "Group".into(),
            id: None,
            uri: Some("http://acs.amazonaws.com/groups/global/AllUsers".into()),
            email: None,
            display_name: None,
            permission: "READ".into(),
        };
        let acl = Acl {
            owner_id: Some("abc".into()),
            owner_name: None,
            grants: vec![owner.clone(), public.clone()],
        };
        // When planned, then only the public grant goes
        let (fixed, removed) = strip_public_grants(&acl).unwrap_or_default();
        assert_eq!(fixed.grants, vec![owner]);
        assert_eq!(removed, vec![public]);
    }

    #[test]
    fn only_world_cidrs_on_admin_ports_are_revoked() {
        // Given SSH open to the world and to an office range, HTTPS open to the world
        let ssh = Permission {
            protocol: "tcp".into(),
            from: Some(22),
            to: Some(22),
            ipv4: vec!["0.0.0.0/0".into(), "203.0.113.0/24".into()],
            ipv6: vec!["::/0".into()],
            others: vec!["sg-123".into()],
        };
        let https = Permission {
            protocol: "tcp".into(),
            from: Some(443),
            to: Some(443),
            ipv4: vec!["0.0.0.0/0".into()],
            ..Permission::default()
        };
        // When planned
        let revoke = world_open_admin(&[ssh, https]);
        // Then only SSH's two world ranges are revoked
        assert_eq!(revoke.len(), 1);
        assert_eq!(revoke[0].ipv4, vec!["0.0.0.0/0".to_owned()]);
        assert_eq!(revoke[0].ipv6, vec!["::/0".to_owned()]);
        assert!(revoke[0].others.is_empty());
    }
}
