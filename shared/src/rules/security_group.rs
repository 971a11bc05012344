//! Does a security-group change open an administration or database port to the world?
//! 0.0.0.0/0 or ::/0 to 22, 23, 3389, 5900, 1433, 1521, 3306, 5432, 6379, 9200, 11211 or 27017,
//! or a port range or protocol -1 (all traffic) covering one of them.

use serde_json::Value;

/// Administration and database ports.
pub const ADMIN_PORTS: [u16; 12] = [22, 23, 3389, 5900, 1433, 1521, 3306, 5432, 6379, 9200, 11211, 27017];

/// Whether a CIDR is the whole IPv4 or IPv6 internet.
pub fn is_world_cidr(c: &str) -> bool {
    matches!(c.trim(), "0.0.0.0/0" | "::/0")
}

fn port(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Whether a protocol and port range cover an administration port.
pub fn covers_admin_port(protocol: &str, from: Option<i64>, to: Option<i64>) -> bool {
    let p = protocol.trim().to_ascii_lowercase();
    if p == "-1" || p == "all" {
        return true;
    }
    if !matches!(p.as_str(), "tcp" | "udp" | "6" | "17") {
        return false;
    }
    let (from, to) = match (from, to) {
        (Some(f), Some(t)) if f == -1 || t == -1 => return true,
        (Some(f), Some(t)) => (f, t),
        (Some(f), None) => (f, f),
        (None, Some(t)) => (t, t),
        (None, None) => return true,
    };
    ADMIN_PORTS.iter().any(|p| (from..=to).contains(&i64::from(*p)))
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

/// The world-open admin-port permissions of an AuthorizeSecurityGroupIngress request, each
/// reduced to the world CIDRs it opens.
pub fn world_open_permissions(request: &Value) -> Vec<Value> {
    let mut out = vec![];
    for perm in items(request.get("ipPermissions")) {
        let protocol = perm.get("ipProtocol").and_then(Value::as_str).unwrap_or("");
        if !covers_admin_port(protocol, port(perm.get("fromPort")), port(perm.get("toPort"))) {
            continue;
        }
        let v4: Vec<&str> = items(perm.get("ipRanges"))
            .iter()
            .filter_map(|r| r.get("cidrIp").and_then(Value::as_str))
            .filter(|c| is_world_cidr(c))
            .collect();
        let v6: Vec<&str> = items(perm.get("ipv6Ranges"))
            .iter()
            .filter_map(|r| r.get("cidrIpv6").and_then(Value::as_str))
            .filter(|c| is_world_cidr(c))
            .collect();
        if !v4.is_empty() || !v6.is_empty() {
            out.push(serde_json::json!({"ipProtocol": protocol, "fromPort": perm.get("fromPort"), "toPort": perm.get("toPort"), "cidrIp": v4, "cidrIpv6": v6}));
        }
    }
    // The older flat form: cidrIp with ipProtocol/fromPort/toPort at the top level.
    if let Some(c) = request
        .get("cidrIp")
        .and_then(Value::as_str)
        .filter(|c| is_world_cidr(c))
    {
        let protocol = request.get("ipProtocol").and_then(Value::as_str).unwrap_or("-1");
        if covers_admin_port(protocol, port(request.get("fromPort")), port(request.get("toPort"))) {
            out.push(serde_json::json!({"ipProtocol": protocol, "fromPort": request.get("fromPort"), "toPort": request.get("toPort"), "cidrIp": [c]}));
        }
    }
    out
}

/// The world-open admin-port rules of a ModifySecurityGroupRules request.
pub fn modified_world_open_rules(request: &Value) -> Vec<Value> {
    let mut found = vec![];
    collect_rules(request, &mut found);
    found
}

fn collect_rules(v: &Value, out: &mut Vec<Value>) {
    match v {
        Value::Object(o) => {
            let cidr4 = o.get("CidrIpv4").and_then(Value::as_str);
            let cidr6 = o.get("CidrIpv6").and_then(Value::as_str);
            if let Some(c) = cidr4.or(cidr6).filter(|c| is_world_cidr(c)) {
                let protocol = o.get("IpProtocol").and_then(Value::as_str).unwrap_or("-1");
                if covers_admin_port(protocol, port(o.get("FromPort")), port(o.get("ToPort"))) {
                    out.push(serde_json::json!({"ipProtocol": protocol, "fromPort": o.get("FromPort"), "toPort": o.get("ToPort"), "cidr": c}));
                }
            }
            for child in o.values() {
                collect_rules(child, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|c| collect_rules(c, out)),
        _ => {}
    }
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
