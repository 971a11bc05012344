//! Remediation planning: from live state to the smallest change that closes it. Pure; every
//! plan only removes access (statements, grants, CIDRs) or turns protections on.

use super::ports::{Acl, Permission, PublicAccessBlock};
use crate::policy;
use crate::rules::s3_acl;
use crate::rules::security_group::OpenPermission;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;
use std::fmt;

/// What to do with a live bucket policy.
#[derive(Debug, Clone, PartialEq)]
pub enum PolicyPlan {
    /// None of the statements the call introduced is live and public.
    NotPublic {
        /// Public statements the call did not introduce (left for their own trigger).
        others_public: usize,
    },
    /// Put this policy back: the same document without (or with a narrowed principal in) the
    /// public statements the call introduced.
    Rewrite {
        /// The new policy text.
        policy: String,
        /// The statements removed or rewritten, as they were.
        removed: Vec<Value>,
        /// How many of them were rewritten (a `*` dropped beside named principals).
        rewritten: usize,
        /// Public statements the call did not introduce, kept.
        others_public: usize,
    },
    /// Every statement goes: delete the policy.
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

/// A policy's text as a decision shows it: the parsed document, the text itself when it does
/// not parse, null when there is no policy.
pub fn policy_view(text: Option<&str>) -> Value {
    match text {
        None => Value::Null,
        Some(t) => serde_json::from_str(t).unwrap_or_else(|_| Value::String(t.to_owned())),
    }
}

/// A policy value in a form where equal policies compare equal: a one-element list is its
/// element, lists are sets, objects compare by members.
pub fn canonical(v: &Value) -> Value {
    match v {
        Value::Array(a) if a.len() == 1 => canonical(&a[0]),
        Value::Array(a) => {
            let mut items: Vec<Value> = a.iter().map(canonical).collect();
            items.sort_by_cached_key(|x| x.to_string());
            items.dedup();
            Value::Array(items)
        }
        Value::Object(o) => Value::Object(o.iter().map(|(k, v)| (k.clone(), canonical(v))).collect()),
        other => other.clone(),
    }
}

/// The public statements of a call's policy, in canonical form: what the call introduced.
pub fn introduced_statements(policy: &Value) -> Vec<Value> {
    policy::statements(policy).into_iter().filter(|s| policy::is_public_statement(s)).map(canonical).collect()
}

/// Removes from `policy` exactly the public statements the call `introduced` (canonical
/// forms, [`introduced_statements`]) that are still live, keeping every other statement's text
/// byte for byte and the other members of the document in their order. A statement that
/// names principals beside `*` is rewritten without the `*` instead of removed. Public
/// statements the call did not introduce are kept and counted.
pub fn strip_public_statements(policy: &str, introduced: &[Value]) -> Result<PolicyPlan, PolicyParseError> {
    let doc: Ordered = serde_json::from_str(policy).map_err(|e| PolicyParseError(e.to_string()))?;
    let mut removed = Vec::new();
    let (mut rewritten, mut others_public) = (0, 0);
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
            if !policy::is_public_statement(&value) {
                kept.push(st.get().to_owned());
                continue;
            }
            if !introduced.contains(&canonical(&value)) {
                others_public += 1;
                kept.push(st.get().to_owned());
                continue;
            }
            if let Some(narrowed) = policy::without_star_principal(&value) {
                kept.push(narrowed.to_string());
                rewritten += 1;
            }
            removed.push(value);
        }
        kept_any = !kept.is_empty();
        members.push(format!("\"Statement\":[{}]", kept.join(",")));
    }
    if removed.is_empty() {
        return Ok(PolicyPlan::NotPublic { others_public });
    }
    if !kept_any {
        return Ok(PolicyPlan::Delete { removed });
    }
    Ok(PolicyPlan::Rewrite { policy: format!("{{{}}}", members.join(",")), removed, rewritten, others_public })
}

/// The ACL without the public grants the call `introduced` ((group, permission) pairs,
/// [`s3_acl::public_grants`]), with the grants removed; `None` when none of them is live.
/// Other grants, to the public groups too, stay.
pub fn strip_public_grants(acl: &Acl, introduced: &[(&str, String)]) -> Option<(Acl, Vec<super::ports::Grant>)> {
    let (public, kept): (Vec<_>, Vec<_>) = acl.grants.iter().cloned().partition(|g| {
        g.uri
            .as_deref()
            .and_then(s3_acl::public_group)
            .is_some_and(|group| introduced.iter().any(|(ig, ip)| *ig == group && *ip == g.permission))
    });
    if public.is_empty() {
        return None;
    }
    Some((Acl { grants: kept, ..acl.clone() }, public))
}

/// The public access block to set: the settings the call turned off back on, the others as
/// they stand; `None` when those settings are already on.
pub fn public_access_block_fix(live: Option<&PublicAccessBlock>, turned_off: &[&str]) -> Option<PublicAccessBlock> {
    let mut fixed = live.copied().unwrap_or_default();
    for setting in turned_off {
        match *setting {
            "BlockPublicAcls" => fixed.block_public_acls = true,
            "IgnorePublicAcls" => fixed.ignore_public_acls = true,
            "BlockPublicPolicy" => fixed.block_public_policy = true,
            "RestrictPublicBuckets" => fixed.restrict_public_buckets = true,
            _ => {}
        }
    }
    (Some(&fixed) != live).then_some(fixed)
}

/// The permissions to revoke for a call that added `opening` (each reduced to its world-open
/// CIDRs): on each live permission with the same protocol and ports, exactly the CIDRs the
/// call added that are still there. Other ranges, sources, ports and rules stay.
pub fn call_ranges(ingress: &[Permission], opening: &[OpenPermission]) -> Vec<Permission> {
    let mut out: Vec<Permission> = vec![];
    for o in opening {
        for p in ingress.iter().filter(|p| p.ports.are(&o.ports.protocol, o.ports.from, o.ports.to)) {
            let mut cidrs = p.cidrs.clone();
            cidrs.keep_common(&o.cidrs);
            if cidrs.is_empty() || out.iter().any(|x| x.ports == p.ports) {
                continue;
            }
            out.push(Permission { ports: p.ports.clone(), cidrs, others: vec![] });
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::remediate::ports::Ports;
    use crate::rules::security_group::Cidrs;

    const PRIVATE: &str = r#"{"Sid":"Logs","Effect":"Allow","Principal":{"Service":"logging.s3.amazonaws.com"},"Action":"s3:PutObject","Resource":"arn:aws:s3:::b/*"}"#;
    const PUBLIC: &str =
        r#"{"Sid":"Open","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}"#;

    fn introduced(statements: &[&str]) -> Vec<Value> {
        let list: Vec<Value> = statements.iter().map(|s| serde_json::from_str(s).unwrap()).collect();
        introduced_statements(&serde_json::json!({ "Statement": list }))
    }

    #[test]
    fn only_public_statements_are_removed_and_the_rest_is_kept_byte_for_byte() {
        // Given a policy with a private statement (odd spacing) and a public one the call added
        let private = PRIVATE.replace(",\"Action\"", " ,  \"Action\"");
        let policy = format!(r#"{{"Version":"2012-10-17","Id":"p1","Statement":[{private},{PUBLIC}]}}"#);
        // When planned
        let plan = strip_public_statements(&policy, &introduced(&[PUBLIC]));
        // Then the private statement's text survives unchanged, with Version and Id in order
        let expected = format!(r#"{{"Version":"2012-10-17","Id":"p1","Statement":[{private}]}}"#);
        assert!(
            matches!(plan, Ok(PolicyPlan::Rewrite { ref policy, ref removed, .. }) if *policy == expected && removed.len() == 1)
        );
    }

    #[test]
    fn a_public_statement_the_call_did_not_add_is_kept() {
        // Given a live policy with two public statements, of which the call added one
        let other = PUBLIC.replace("\"Open\"", "\"Website\"");
        let policy = format!(r#"{{"Statement":[{other},{PUBLIC}]}}"#);
        // When planned for that call
        let plan = strip_public_statements(&policy, &introduced(&[PUBLIC]));
        // Then only the call's statement goes and the other is counted, not touched
        let expected = format!(r#"{{"Statement":[{other}]}}"#);
        assert!(
            matches!(plan, Ok(PolicyPlan::Rewrite { ref policy, others_public: 1, .. }) if *policy == expected),
            "{plan:?}"
        );
    }

    #[test]
    fn a_statement_matches_whatever_the_list_and_member_order() {
        // Given the call's statement with a one-element action list, stored by S3 as a string
        let call = r#"{"Effect":"Allow","Principal":"*","Action":["s3:GetObject"],"Resource":["arn:aws:s3:::b/*"]}"#;
        let live = r#"{"Resource":"arn:aws:s3:::b/*","Action":"s3:GetObject","Principal":"*","Effect":"Allow"}"#;
        // When planned, then it is the same statement
        let plan = strip_public_statements(&format!(r#"{{"Statement":[{live}]}}"#), &introduced(&[call]));
        assert!(matches!(plan, Ok(PolicyPlan::Delete { .. })), "{plan:?}");
    }

    #[test]
    fn a_policy_of_only_public_statements_is_deleted() {
        let plan = strip_public_statements(
            &format!(r#"{{"Version":"2012-10-17","Statement":{PUBLIC}}}"#),
            &introduced(&[PUBLIC]),
        );
        assert!(matches!(plan, Ok(PolicyPlan::Delete { ref removed }) if removed.len() == 1));
    }

    #[test]
    fn a_star_beside_a_named_account_is_rewritten_not_removed() {
        // Given the call's statement naming an account and anyone
        let mixed =
            r#"{"Sid":"M","Effect":"Allow","Principal":{"AWS":["arn:aws:iam::1:root","*"]},"Action":"s3:GetObject"}"#;
        // When planned
        let plan = strip_public_statements(&format!(r#"{{"Statement":[{mixed}]}}"#), &introduced(&[mixed]));
        // Then the statement stays for the account alone
        let Ok(PolicyPlan::Rewrite { policy, rewritten: 1, .. }) = plan else { panic!("{plan:?}") };
        let v: Value = serde_json::from_str(&policy).unwrap();
        assert_eq!(v["Statement"][0]["Principal"], serde_json::json!({"AWS": ["arn:aws:iam::1:root"]}));
        assert!(!policy::is_public(&v));
    }

    #[test]
    fn a_private_policy_needs_nothing() {
        let plan = strip_public_statements(&format!(r#"{{"Statement":[{PRIVATE}]}}"#), &introduced(&[PUBLIC]));
        assert_eq!(plan, Ok(PolicyPlan::NotPublic { others_public: 0 }));
    }

    #[test]
    fn a_policy_that_is_not_json_is_an_error_not_a_change() {
        assert!(strip_public_statements("not json", &[]).is_err());
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
        let acl = Acl { owner_id: Some("abc".into()), owner_name: None, grants: vec![owner.clone(), public.clone()] };
        // When planned, then only the public grant goes
        let (fixed, removed) = strip_public_grants(&acl, &[("AllUsers", "READ".to_owned())]).unwrap_or_default();
        assert_eq!(fixed.grants, vec![owner]);
        assert_eq!(removed, vec![public]);
    }

    #[test]
    fn only_the_ranges_the_call_added_are_revoked() {
        // Given SSH open to the world and to an office range, and the call that added the world
        let ssh = Permission {
            ports: Ports::new("tcp", Some(22), Some(22)),
            cidrs: Cidrs { v4: vec!["0.0.0.0/0".into(), "203.0.113.0/24".into()], v6: vec!["::/0".into()] },
            others: vec!["sg-123".into()],
        };
        let https = Permission {
            ports: Ports::new("tcp", Some(443), Some(443)),
            cidrs: Cidrs::one("0.0.0.0/0".into()),
            ..Permission::default()
        };
        let call = OpenPermission {
            ports: Ports::new("tcp", Some(22), Some(22)),
            cidrs: Cidrs { v4: vec!["0.0.0.0/0".into()], v6: vec![] },
            ..OpenPermission::default()
        };
        // When planned
        let revoke = call_ranges(&[ssh, https], &[call]);
        // Then only SSH's IPv4 world range is revoked (the call did not add ::/0)
        assert_eq!(revoke.len(), 1);
        assert_eq!(revoke[0].cidrs, Cidrs::one("0.0.0.0/0".into()));
        assert!(revoke[0].others.is_empty());
    }

    #[test]
    fn a_public_access_block_fix_turns_on_only_what_the_call_turned_off() {
        // Given a live block with two settings off, of which the call turned off one
        let live = PublicAccessBlock {
            block_public_acls: true,
            ignore_public_acls: true,
            block_public_policy: false,
            restrict_public_buckets: false,
        };
        // When planned
        let fix = public_access_block_fix(Some(&live), &["BlockPublicPolicy"]).unwrap();
        // Then only that one is turned back on
        assert!(fix.block_public_policy && !fix.restrict_public_buckets);
        assert_eq!(public_access_block_fix(Some(&fix), &["BlockPublicPolicy"]), None);
    }
}
