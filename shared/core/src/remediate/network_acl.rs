//! `ec2-network-acl-open-admin-port`: delete exactly the entry the call made, while it is
//! still the entry the call made (same rule number, direction, action, protocol, ports and
//! CIDR); an entry replaced since is left for its own trigger.

use super::driver::{Plan, Remediation, Tags};
use super::ports::{AclEntry, AdminError, NetworkAcl, NetworkAclAdmin, Pause};
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
                protocol,
                from: number(range.and_then(|r| r.get("from"))),
                to: number(range.and_then(|r| r.get("to"))),
                cidr,
            },
        }
    }

    fn live<'a>(&self, acl: &'a NetworkAcl) -> Option<&'a AclEntry> {
        acl.entries.iter().find(|e| e.rule_number == self.entry.rule_number && !e.egress)
    }

    /// Whether the live entry is the one the call made (CIDRs compared as ranges).
    fn same(&self, live: &AclEntry) -> bool {
        let all = |p: &str| p == "-1" || p.eq_ignore_ascii_case("all");
        let ports = all(&live.protocol) || (live.from, live.to) == (self.entry.from, self.entry.to);
        live.action.eq_ignore_ascii_case(&self.entry.action)
            && (live.protocol == self.entry.protocol || all(&live.protocol) && all(&self.entry.protocol))
            && ports
            && cidr::parse(&live.cidr) == cidr::parse(&self.entry.cidr)
    }
}

impl<A: NetworkAclAdmin + Pause + Sync> Remediation<A> for OpenAclEntry {
    type State = NetworkAcl;
    type Plan = ();

    async fn read(&self, admins: &A) -> Result<NetworkAcl, AdminError> {
        admins.network_acl(&self.acl).await
    }

    fn view(&self, state: &NetworkAcl) -> Value {
        json!({"entry": self.live(state)})
    }

    fn tagged<'s>(&self, state: &'s NetworkAcl) -> Option<(&'s Tags, String)> {
        Some((&state.tags, self.acl.clone()))
    }

    fn plan(&self, state: &NetworkAcl) -> Result<Plan<()>, AdminError> {
        let n = self.entry.rule_number;
        match self.live(state) {
            None => Ok(Plan::Leave(Decision::AlreadyFixed, format!("{} has no ingress entry {n} any more", self.acl))),
            Some(live) if !self.same(live) => Ok(Plan::Leave(
                Decision::AlreadyFixed,
                format!(
                    "ingress entry {n} of {} was replaced since this call; the new entry is left for its own trigger",
                    self.acl
                ),
            )),
            Some(_) => Ok(Plan::Change {
                plan: (),
                intended: json!({"entry": null}),
                what: format!(
                    "remove ingress entry {n} (allow {} from {}) of {}",
                    self.entry.protocol, self.entry.cidr, self.acl
                ),
            }),
        }
    }

    async fn act(&self, admins: &A, _plan: &()) -> Result<(), AdminError> {
        admins.delete_acl_entry(&self.acl, self.entry.rule_number, false).await
    }

    fn unverified(&self) -> String {
        format!("ingress entry {} of {} is still there after the change", self.entry.rule_number, self.acl)
    }

    fn kept(&self, _plan: &()) -> String {
        "; other entries unchanged".into()
    }
}
