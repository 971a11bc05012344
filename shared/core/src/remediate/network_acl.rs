//! `ec2-network-acl-open-admin-port`: delete exactly the entry the call made, while it is
//! still the entry the call made (same rule number, direction, action, protocol, ports and
//! CIDR); an entry replaced since is left for its own trigger.

use super::driver::{Plan, Remediation, Tags};
use super::ports::{AclEntry, AdminError, NetworkAcl, NetworkAclAdmin, Pause, Ports};
use super::Decision;
use crate::rules::cidr;
use serde_json::{json, Value};

/// The ingress entry a call made.
#[derive(Debug)]
pub struct OpenAclEntry {
    /// `acl-...`.
    pub acl: String,
    /// The entry the call made, as the request wrote it.
    pub entry: AclEntry,
}

fn number(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

impl OpenAclEntry {
    /// From the call's request.
    pub fn new(acl: &str, rule_number: i64, request: &Value) -> Self {
        let text = |k: &str| request.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
        let protocol = match request.get("aclProtocol").or_else(|| request.get("protocol")) {
            Some(Value::Number(n)) => n.to_string(),
            Some(Value::String(s)) => s.clone(),
            _ => String::new(),
        };
        let range = request.get("portRange");
        let cidr = request
            .get("cidrBlock")
            .or_else(|| request.get("ipv6CidrBlock"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        OpenAclEntry {
            acl: acl.to_owned(),
            entry: AclEntry {
                rule_number,
                egress: false,
                action: text("ruleAction"),
                ports: Ports::new(
                    &protocol,
                    number(range.and_then(|r| r.get("from"))),
                    number(range.and_then(|r| r.get("to"))),
                ),
                cidr,
            },
        }
    }

    /// Whether the live entry is the one the call made (CIDRs compared as ranges).
    fn same(&self, live: &AclEntry) -> bool {
        let all = |p: &Ports| p.protocol == "-1" || p.protocol.eq_ignore_ascii_case("all");
        let (made, now) = (&self.entry.ports, &live.ports);
        let ports = all(now) || (now.from, now.to) == (made.from, made.to);
        live.action.eq_ignore_ascii_case(&self.entry.action)
            && (now.protocol == made.protocol || all(now) && all(made))
            && ports
            && cidr::parse(&live.cidr) == cidr::parse(&self.entry.cidr)
    }
}

/// What the remediation looks at: the ACL's ingress entry with the call's rule number, if
/// any, and the ACL's tags.
#[derive(Debug)]
pub struct Live {
    entry: Option<AclEntry>,
    tags: Tags,
}

impl<A: NetworkAclAdmin + Pause + Sync> Remediation<A> for OpenAclEntry {
    type State = Live;
    /// The live entry to delete.
    type Plan = AclEntry;

    async fn read(&self, admins: &A) -> Result<Live, AdminError> {
        let NetworkAcl { entries, tags } = admins.network_acl(&self.acl).await?;
        let entry = entries.into_iter().find(|e| e.rule_number == self.entry.rule_number && !e.egress);
        Ok(Live { entry, tags })
    }

    fn view(&self, state: &Live) -> Value {
        json!({"entry": state.entry})
    }

    fn tagged<'s>(&self, state: &'s Live) -> Option<(&'s Tags, String)> {
        Some((&state.tags, self.acl.clone()))
    }

    fn plan(&self, state: &Live) -> Result<Plan<AclEntry>, AdminError> {
        let n = self.entry.rule_number;
        match &state.entry {
            None => Ok(Plan::Leave(Decision::AlreadyFixed, format!("{} has no ingress entry {n} any more", self.acl))),
            Some(live) if !self.same(live) => Ok(Plan::Leave(
                Decision::AlreadyFixed,
                format!(
                    "ingress entry {n} of {} was replaced since this call; the new entry is left for its own trigger",
                    self.acl
                ),
            )),
            Some(live) => Ok(Plan::Change {
                plan: live.clone(),
                intended: json!({"entry": null}),
                what: format!(
                    "remove ingress entry {n} (allow {} from {}) of {}",
                    self.entry.ports.protocol, self.entry.cidr, self.acl
                ),
            }),
        }
    }

    async fn act(&self, admins: &A, entry: &AclEntry) -> Result<(), AdminError> {
        admins.delete_acl_entry(&self.acl, entry).await
    }

    fn unverified(&self) -> String {
        format!("ingress entry {} of {} is still there after the change", self.entry.rule_number, self.acl)
    }

    fn kept(&self, _plan: &AclEntry) -> String {
        "; other entries unchanged".into()
    }
}
