//! Does a security-group change open an administration or database port to the world?
//! 22, 23, 3389, 5900, 1433, 1521, 3306, 5432, 6379, 9200, 11211 or 27017 (or a port range or
//! protocol -1, all traffic, covering one of them) open to every address: a `/0`, or CIDRs of
//! one call that together cover the IPv4 or IPv6 internet ([`super::cidr`]). Ingress only:
//! the created rules a call reports as egress never count.

use super::{cidr, quote, Call, Events, Finding, Resource, Rule, RuleId, Severity};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `ec2-security-group-open-admin-port`: an admin or database port opened to the internet.
pub const RULE: Rule = Rule::new(RuleId::Ec2SecurityGroupOpenAdminPort, Severity::High, EVENTS, check);
const EVENTS: Events = &[("ec2.amazonaws.com", &["AuthorizeSecurityGroupIngress", "ModifySecurityGroupRules"])];

fn check(call: &Call<'_>) -> Vec<Finding> {
    let (record, req) = (call.record, call.request);
    let rules = if call.name == "AuthorizeSecurityGroupIngress" {
        world_open_permissions(record)
    } else {
        modified_world_open_rules(record)
    };
    if rules.is_empty() {
        return vec![];
    }
    let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
    let group_id = text(req, "groupId")
        .or_else(|| req.get("ModifySecurityGroupRulesRequest").and_then(|r| text(r, "GroupId")))
        .or_else(|| {
            record
                .pointer("/responseElements/securityGroupRuleSet/items/0/groupId")
                .and_then(Value::as_str)
                .map(str::to_owned)
        });
    let all = rules.iter().any(|r| r["ipProtocol"] == "-1");
    let reason =
        format!("security group opened to the internet on an admin port: {}", quote(&Value::Array(rules.clone())));
    let resource = Resource::SecurityGroup { group_id, group_name: text(req, "groupName"), rules };
    let mut f = RULE.finding(resource, reason);
    if all {
        f.severity = Severity::Critical;
    }
    vec![f]
}

/// Administration and database ports.
pub const ADMIN_PORTS: [u16; 12] = [22, 23, 3389, 5900, 1433, 1521, 3306, 5432, 6379, 9200, 11211, 27017];
/// Whether a CIDR is a whole address space by itself (any `/0`).
pub fn is_world_cidr(c: &str) -> bool {
    cidr::is_world(c)
}

fn port(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// The transport protocols a rule's protocol covers (`-1` covers both).
fn transports(protocol: &str) -> &'static [&'static str] {
    match protocol.trim().to_ascii_lowercase().as_str() {
        "-1" | "all" => &["tcp", "udp"],
        "tcp" | "6" => &["tcp"],
        "udp" | "17" => &["udp"],
        _ => &[],
    }
}

/// Whether a protocol and port range cover `port` over `transport`.
fn covers_port(protocol: &str, from: Option<i64>, to: Option<i64>, transport: &str, port: u16) -> bool {
    if !transports(protocol).contains(&transport) {
        return false;
    }
    if matches!(protocol.trim(), "-1") || protocol.trim().eq_ignore_ascii_case("all") {
        return true;
    }
    let (from, to) = match (from, to) {
        (Some(f), Some(t)) if f == -1 || t == -1 => return true,
        (Some(f), Some(t)) => (f, t),
        (Some(f), None) => (f, f),
        (None, Some(t)) => (t, t),
        (None, None) => return true,
    };
    (from..=to).contains(&i64::from(port))
}

/// Whether a protocol and port range cover an administration port.
pub fn covers_admin_port(protocol: &str, from: Option<i64>, to: Option<i64>) -> bool {
    ["tcp", "udp"].iter().any(|t| ADMIN_PORTS.iter().any(|p| covers_port(protocol, from, to, t, *p)))
}

fn items(v: Option<&Value>) -> Vec<&Value> {
    match v {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(Value::Object(o)) => match o.get("items") {
            Some(Value::Array(a)) => a.iter().collect(),
            Some(other @ Value::Object(_)) => vec![other],
            _ if o.contains_key("ipProtocol") || o.contains_key("cidrIp") || o.contains_key("cidrIpv6") => {
                vec![v.unwrap_or(&Value::Null)]
            }
            _ => vec![],
        },
        _ => vec![],
    }
}

/// A protocol and its port range, as security group permissions and rules and network ACL
/// entries give them.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Ports {
    /// `tcp`, `udp`, `icmp`, `-1`...
    pub protocol: String,
    /// First port (`None` for all).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub from: Option<i64>,
    /// Last port.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub to: Option<i64>,
}

impl Ports {
    /// A protocol with its first and last port.
    pub fn new(protocol: &str, from: Option<i64>, to: Option<i64>) -> Ports {
        Ports { protocol: protocol.to_owned(), from, to }
    }

    /// Whether they cover an administration port.
    pub fn cover_admin_port(&self) -> bool {
        covers_admin_port(&self.protocol, self.from, self.to)
    }

    /// Whether they cover `port` over `transport`.
    fn covers(&self, transport: &str, port: u16) -> bool {
        covers_port(&self.protocol, self.from, self.to, transport, port)
    }

    /// Whether these are `protocol` (in any case) from `from` to `to`.
    pub fn are(&self, protocol: &str, from: Option<i64>, to: Option<i64>) -> bool {
        self.protocol.eq_ignore_ascii_case(protocol) && self.from == from && self.to == to
    }
}

/// The IPv4 and IPv6 ranges of one permission.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Cidrs {
    /// IPv4 CIDRs.
    #[serde(rename = "ipv4", skip_serializing_if = "Vec::is_empty", default)]
    pub v4: Vec<String>,
    /// IPv6 CIDRs.
    #[serde(rename = "ipv6", skip_serializing_if = "Vec::is_empty", default)]
    pub v6: Vec<String>,
}

impl Cidrs {
    /// One range, in its family (IPv6 when it has a colon).
    pub fn one(cidr: String) -> Cidrs {
        if cidr.contains(':') {
            Cidrs { v4: vec![], v6: vec![cidr] }
        } else {
            Cidrs { v4: vec![cidr], v6: vec![] }
        }
    }

    /// Every range, IPv4 first.
    pub fn iter(&self) -> impl Iterator<Item = &String> {
        self.v4.iter().chain(self.v6.iter())
    }

    /// Whether `c` is one of them.
    pub fn contains(&self, c: &String) -> bool {
        self.v4.contains(c) || self.v6.contains(c)
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.v4.is_empty() && self.v6.is_empty()
    }

    /// The two families' lists, IPv4 first.
    fn families(&self) -> [&Vec<String>; 2] {
        [&self.v4, &self.v6]
    }

    /// The same, to change.
    fn families_mut(&mut self) -> [&mut Vec<String>; 2] {
        [&mut self.v4, &mut self.v6]
    }

    /// Keeps, family by family, the ranges that are (`keep`) or are not in `other`.
    fn retain_by(&mut self, other: &Cidrs, keep: bool) {
        for (mine, theirs) in self.families_mut().into_iter().zip(other.families()) {
            mine.retain(|c| theirs.contains(c) == keep);
        }
    }

    /// Keeps only the ranges that are also in `other`.
    pub fn keep_common(&mut self, other: &Cidrs) {
        self.retain_by(other, true);
    }

    /// Removes the ranges that are in `other`.
    pub fn remove(&mut self, other: &Cidrs) {
        self.retain_by(other, false);
    }
}

/// One permission a call added or changed, reduced to the CIDRs that open an admin port to
/// the world.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OpenPermission {
    /// The protocol and ports.
    pub ports: Ports,
    /// The protocol and ports as the event quotes them (`ipProtocol`, and `fromPort` and
    /// `toPort` as the record wrote them: numbers or strings).
    pub quoted: Value,
    /// The CIDRs that open it.
    pub cidrs: Cidrs,
    /// The security group rule ids the call created or modified for these CIDRs (ingress).
    pub rule_ids: Vec<String>,
    /// The older flat request form (no `ipPermissions`).
    pub flat: bool,
}

/// The member names of a permission's protocol and ports in request parameters.
const REQUEST_NAMES: [&str; 3] = ["ipProtocol", "fromPort", "toPort"];
/// The same in ModifySecurityGroupRules' `SecurityGroupRuleRequest`.
const RULE_NAMES: [&str; 3] = ["IpProtocol", "FromPort", "ToPort"];

impl OpenPermission {
    /// A permission with only its protocol (`no_protocol` when absent) and ports, read from
    /// `o` under the member names `[protocol, from, to]`.
    fn ports(o: &Value, [protocol, from, to]: [&str; 3], no_protocol: &str) -> OpenPermission {
        let ports = Ports::new(
            o.get(protocol).and_then(Value::as_str).unwrap_or(no_protocol),
            port(o.get(from)),
            port(o.get(to)),
        );
        OpenPermission {
            quoted: serde_json::json!({"ipProtocol": ports.protocol, "fromPort": o.get(from), "toPort": o.get(to)}),
            ports,
            ..OpenPermission::default()
        }
    }
}

/// Keeps, of `perms`, the CIDRs that open an admin port to the world: any `/0`, or, for each
/// admin port and transport, the CIDRs of every permission covering it when together they
/// cover the whole IPv4 or IPv6 space.
fn world_open(mut perms: Vec<OpenPermission>) -> Vec<OpenPermission> {
    let mut open: Vec<Cidrs> = perms
        .iter()
        .map(|p| {
            let mut world = if p.ports.cover_admin_port() { p.cidrs.clone() } else { Cidrs::default() };
            world.families_mut().into_iter().for_each(|f| f.retain(|c| cidr::is_world(c)));
            world
        })
        .collect();
    for transport in ["tcp", "udp"] {
        for port in ADMIN_PORTS {
            let covering: Vec<usize> = (0..perms.len()).filter(|i| perms[*i].ports.covers(transport, port)).collect();
            if covering.is_empty() {
                continue;
            }
            // Per family, ranges narrower than the world that cover it together (a /0 was kept
            // above alone).
            let narrow = |c: &&String| !cidr::is_world(c);
            for family in 0..2 {
                let ranges = covering.iter().flat_map(|i| perms[*i].cidrs.families()[family].iter().filter(narrow));
                if cidr::covers_world(ranges.map(String::as_str)) {
                    for i in &covering {
                        let part: Vec<String> =
                            perms[*i].cidrs.families()[family].iter().filter(narrow).cloned().collect();
                        merge(open[*i].families_mut()[family], &part);
                    }
                }
            }
        }
    }
    for (p, keep) in perms.iter_mut().zip(open) {
        p.cidrs.keep_common(&keep);
    }
    perms.retain(|p| !p.cidrs.is_empty());
    perms
}

fn merge(into: &mut Vec<String>, from: &[String]) {
    for c in from {
        if !into.contains(c) {
            into.push(c.clone());
        }
    }
}

fn authorize_permissions(request: &Value) -> Vec<OpenPermission> {
    let mut perms: Vec<OpenPermission> = items(request.get("ipPermissions"))
        .into_iter()
        .map(|perm| OpenPermission {
            cidrs: Cidrs {
                v4: items(perm.get("ipRanges"))
                    .iter()
                    .filter_map(|r| r.get("cidrIp").and_then(Value::as_str).map(str::to_owned))
                    .collect(),
                v6: items(perm.get("ipv6Ranges"))
                    .iter()
                    .filter_map(|r| r.get("cidrIpv6").and_then(Value::as_str).map(str::to_owned))
                    .collect(),
            },
            ..OpenPermission::ports(perm, REQUEST_NAMES, "")
        })
        .collect();
    // The older flat form: cidrIp with ipProtocol/fromPort/toPort at the top level.
    if let Some(c) = request.get("cidrIp").and_then(Value::as_str) {
        perms.push(OpenPermission {
            cidrs: Cidrs { v4: vec![c.to_owned()], v6: vec![] },
            flat: true,
            ..OpenPermission::ports(request, REQUEST_NAMES, "-1")
        });
    }
    perms
}

/// One ingress rule a call created: (rule id, protocol, from, to, CIDR).
type CreatedRule = (String, String, Option<i64>, Option<i64>, String);

/// The ingress rules an AuthorizeSecurityGroupIngress call created
/// (`responseElements.securityGroupRuleSet`).
fn created_rules(record: &Value) -> Vec<CreatedRule> {
    items(record.pointer("/responseElements/securityGroupRuleSet"))
        .into_iter()
        .filter(|r| !matches!(r.get("isEgress"), Some(Value::Bool(true))))
        .filter_map(|r| {
            let id = r.get("securityGroupRuleId").and_then(Value::as_str)?;
            let c = r.get("cidrIpv4").or_else(|| r.get("cidrIpv6")).and_then(Value::as_str)?;
            Some((
                id.to_owned(),
                r.get("ipProtocol").and_then(Value::as_str).unwrap_or("-1").to_owned(),
                port(r.get("fromPort")),
                port(r.get("toPort")),
                c.to_owned(),
            ))
        })
        .collect()
}

/// The world-open admin-port permissions an AuthorizeSecurityGroupIngress record added, each
/// reduced to the CIDRs that open it, with the ids of the rules the call created for them.
pub fn authorize_opening(record: &Value) -> Vec<OpenPermission> {
    let request = record.get("requestParameters").unwrap_or(&Value::Null);
    let mut open = world_open(authorize_permissions(request));
    let created = created_rules(record);
    for p in &mut open {
        let same_ports = |proto: &str, from: Option<i64>, to: Option<i64>| {
            proto.eq_ignore_ascii_case(&p.ports.protocol)
                && (proto == "-1" || (from == p.ports.from && to == p.ports.to))
        };
        p.rule_ids = created
            .iter()
            .filter(|(_, proto, from, to, c)| same_ports(proto, *from, *to) && p.cidrs.contains(c))
            .map(|(id, ..)| id.clone())
            .collect();
    }
    open
}

/// The world-open admin-port rules a ModifySecurityGroupRules record set, with their ids.
pub fn modify_opening(record: &Value) -> Vec<OpenPermission> {
    let request = record.get("requestParameters").unwrap_or(&Value::Null);
    let mut found = vec![];
    collect_rules(request, None, &mut found);
    world_open(found)
}

fn collect_rules(v: &Value, id: Option<&str>, out: &mut Vec<OpenPermission>) {
    match v {
        Value::Object(o) => {
            let id = o.get("SecurityGroupRuleId").and_then(Value::as_str).or(id);
            let cidr4 = o.get("CidrIpv4").and_then(Value::as_str);
            let cidr6 = o.get("CidrIpv6").and_then(Value::as_str);
            if cidr4.is_some() || cidr6.is_some() {
                out.push(OpenPermission {
                    cidrs: Cidrs {
                        v4: cidr4.map(str::to_owned).into_iter().collect(),
                        v6: cidr6.map(str::to_owned).into_iter().collect(),
                    },
                    rule_ids: id.map(str::to_owned).into_iter().collect(),
                    ..OpenPermission::ports(v, RULE_NAMES, "-1")
                });
            }
            for child in o.values() {
                collect_rules(child, id, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|c| collect_rules(c, id, out)),
        _ => {}
    }
}

/// The world-open admin-port permissions of an AuthorizeSecurityGroupIngress record, as the
/// risky-change event quotes them.
pub fn world_open_permissions(record: &Value) -> Vec<Value> {
    authorize_opening(record)
        .into_iter()
        .map(|p| {
            let mut v = p.quoted.clone();
            v["cidrIp"] = serde_json::json!(p.cidrs.v4);
            if !p.flat {
                v["cidrIpv6"] = serde_json::json!(p.cidrs.v6);
            }
            if !p.rule_ids.is_empty() {
                v["securityGroupRuleIds"] = serde_json::json!(p.rule_ids);
            }
            v
        })
        .collect()
}

/// The world-open admin-port rules of a ModifySecurityGroupRules record, as the risky-change
/// event quotes them.
pub fn modified_world_open_rules(record: &Value) -> Vec<Value> {
    modify_opening(record)
        .into_iter()
        .flat_map(|p| {
            let ids = p.rule_ids.clone();
            p.cidrs
                .iter()
                .map(|c| {
                    let mut v = p.quoted.clone();
                    v["cidr"] = Value::from(c.clone());
                    if let Some(id) = ids.first() {
                        v["securityGroupRuleId"] = Value::from(id.clone());
                    }
                    v
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_ranges_and_all_traffic_cover_admin_ports() {
        assert!(covers_admin_port("tcp", Some(22), Some(22)));
        assert!(covers_admin_port("tcp", Some(0), Some(65535)));
        assert!(covers_admin_port("-1", None, None));
        assert!(covers_admin_port("6", Some(3000), Some(4000)));
        assert!(!covers_admin_port("tcp", Some(443), Some(443)));
        assert!(!covers_admin_port("tcp", Some(80), Some(80)));
        assert!(!covers_admin_port("icmp", Some(-1), Some(-1)));
    }
}
