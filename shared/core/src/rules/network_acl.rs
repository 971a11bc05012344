//! `ec2-network-acl-open-admin-port`: a network ACL entry (CreateNetworkAclEntry,
//! ReplaceNetworkAclEntry) that allows ingress from the whole internet (any `/0`) to an
//! administration or database port (the security-group rule's list). CloudTrail names the
//! entry's protocol `aclProtocol`. An ephemeral range (from 1024 or above to 65535) does not
//! fire: a stateless ACL needs it for the return traffic of outbound connections.

use super::security_group::{covers_admin_port, ADMIN_PORTS};
use super::{cidr, text, Call, Events, Finding, Resource, Rule, RuleId, Severity};
use serde_json::Value;

/// `ec2-network-acl-open-admin-port`.
pub const RULE: Rule = Rule::new(RuleId::Ec2NetworkAclOpenAdminPort, Severity::High, EVENTS, check);
const EVENTS: Events = &[("ec2.amazonaws.com", &["CreateNetworkAclEntry", "ReplaceNetworkAclEntry"])];

fn number(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn flag(v: Option<&Value>) -> bool {
    match v {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

/// A range from 1024 or above to 65535: the return traffic of outbound connections, which a
/// stateless network ACL must allow (it covers admin ports only by accident).
fn ephemeral(from: Option<i64>, to: Option<i64>) -> bool {
    matches!((from, to), (Some(f), Some(65535)) if f >= 1024)
}

fn check(call: &Call<'_>) -> Vec<Finding> {
    let req = call.request;
    let allow = text(req, "ruleAction").is_some_and(|a| a.eq_ignore_ascii_case("allow"));
    if !allow || flag(req.get("egress")) {
        return vec![];
    }
    let Some(world) = ["cidrBlock", "ipv6CidrBlock"].iter().filter_map(|k| text(req, k)).find(|c| cidr::is_world(c))
    else {
        return vec![];
    };
    let protocol = match req.get("aclProtocol").or_else(|| req.get("protocol")) {
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::String(s)) => s.clone(),
        _ => return vec![],
    };
    let range = req.get("portRange");
    let (from, to) = (number(range.and_then(|r| r.get("from"))), number(range.and_then(|r| r.get("to"))));
    if !covers_admin_port(&protocol, from, to) || ephemeral(from, to) {
        return vec![];
    }
    let ports = match (from, to) {
        (Some(f), Some(t)) if f == t => format!("port {f}"),
        (Some(f), Some(t)) => format!("ports {f}-{t}"),
        _ => "all ports".to_owned(),
    };
    let admin: Vec<String> = ADMIN_PORTS
        .iter()
        .filter(|p| covers_admin_port(&protocol, Some(i64::from(**p)), Some(i64::from(**p))))
        .filter(|p| from.is_none_or(|f| i64::from(**p) >= f) && to.is_none_or(|t| i64::from(**p) <= t))
        .map(ToString::to_string)
        .collect();
    let entry = Resource::NetworkAclEntry {
        id: text(req, "networkAclId").unwrap_or("").to_owned(),
        rule_number: number(req.get("ruleNumber")).unwrap_or(0),
    };
    vec![RULE.finding(
        entry,
        format!(
            "network ACL entry allows ingress from {world} on protocol {protocol} {ports} (admin ports {})",
            admin.join(", ")
        ),
    )]
}
