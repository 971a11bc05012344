//! Is a bucket policy public? S3 Block Public Access's definition, statement by statement.
//!
//! An `Allow` statement is public when its `Principal` includes `"*"` (alone, in a list or as
//! `{"AWS": "*"}`) or it uses `NotPrincipal`, unless a condition limits it to fixed values of
//! a key S3 accepts as limiting: a principal or organization (`aws:PrincipalOrgID`,
//! `aws:PrincipalAccount`, `aws:PrincipalArn`, `aws:userid`), `aws:SourceVpc`,
//! `aws:SourceVpce`, `aws:SourceArn`, `aws:SourceOwner`, `aws:SourceAccount`,
//! `s3:DataAccessPointAccount`, `s3:DataAccessPointArn`, or `aws:SourceIp` ranges no broader
//! than /8 (IPv4) or /32 (IPv6). Values with a wildcard or a policy variable limit nothing, and
//! neither do 0.0.0.0/0 or ::/0. `...IfExists` operators and the `ForAllValues:` qualifier
//! limit nothing either: both are true when the key is absent, as it is on an anonymous
//! request. `Deny` statements never make a bucket public.

use super::{quote, Call, Finding, Rule, RuleId, Severity};
use serde_json::Value;
use std::borrow::Cow;

/// `s3-bucket-policy-public`: PutBucketPolicy with a public statement.
pub const RULE: Rule = Rule {
    id: RuleId::S3BucketPolicyPublic,
    severity: Severity::Critical,
    events: &[("s3.amazonaws.com", "PutBucketPolicy")],
    native_trigger: true,
    check,
};

fn check(call: &Call<'_>) -> Vec<Finding> {
    let Some(policy) = policy_document(call.request) else {
        return vec![];
    };
    let statements = statements(&policy);
    public_statement_indices(&policy)
        .first()
        .and_then(|i| statements.get(*i))
        .map(|st| {
            RULE.finding(
                call.bucket(),
                format!("bucket policy grants anyone access: {}", quote(st)),
            )
        })
        .into_iter()
        .collect()
}

const LIMITING_KEYS: [&str; 12] = [
    "aws:principalorgid",
    "aws:principalaccount",
    "aws:principalarn",
    "aws:userid",
    "aws:sourcevpc",
    "aws:sourcevpce",
    "aws:sourcearn",
    "aws:sourceowner",
    "aws:sourceaccount",
    "aws:sourceip",
    "s3:dataaccesspointaccount",
    "s3:dataaccesspointarn",
];

/// Operators whose fixed values restrict who matches (negated operators restrict nothing).
const LIMITING_OPERATORS: [&str; 8] = [
    "stringequals",
    "stringequalsignorecase",
    "stringlike",
    "arnequals",
    "arnlike",
    "ipaddress",
    "numericequals",
    "bool",
];

/// The policy document from `requestParameters.bucketPolicy` (an object, or a JSON string).
pub fn policy_document(request: &Value) -> Option<Cow<'_, Value>> {
    match request.get("bucketPolicy")? {
        Value::String(s) => serde_json::from_str(s).ok().map(Cow::Owned),
        v @ Value::Object(_) => Some(Cow::Borrowed(v)),
        _ => None,
    }
}

/// The statements of a policy (a single statement may stand outside an array).
pub fn statements(policy: &Value) -> Vec<&Value> {
    match policy.get("Statement") {
        Some(Value::Array(list)) => list.iter().collect(),
        Some(v @ Value::Object(_)) => vec![v],
        _ => vec![],
    }
}

/// Indices (in [`statements`] order) of the statements that make the policy public.
pub fn public_statement_indices(policy: &Value) -> Vec<usize> {
    statements(policy)
        .iter()
        .enumerate()
        .filter(|(_, s)| is_public_statement(s))
        .map(|(i, _)| i)
        .collect()
}

/// Whether the policy grants anyone access.
pub fn is_public(policy: &Value) -> bool {
    !public_statement_indices(policy).is_empty()
}

/// Whether one statement grants anyone access.
pub fn is_public_statement(s: &Value) -> bool {
    let allow = s
        .get("Effect")
        .and_then(Value::as_str)
        .is_some_and(|e| e.eq_ignore_ascii_case("allow"));
    if !allow {
        return false;
    }
    let everyone = s.get("NotPrincipal").is_some() || s.get("Principal").is_some_and(has_star);
    everyone && !limited_by_condition(s.get("Condition"))
}

/// The statement without the `*` in its `Principal`, when it also names other principals
/// (`{"AWS": ["arn:aws:iam::1:root", "*"]}` keeps the account); `None` when nothing but `*`
/// would be left, or it opens to everyone through `NotPrincipal`.
pub fn without_star_principal(s: &Value) -> Option<Value> {
    if s.get("NotPrincipal").is_some() {
        return None;
    }
    let principal = match s.get("Principal")? {
        Value::Object(o) => {
            let mut kept = serde_json::Map::new();
            for (k, v) in o {
                let v = match v {
                    Value::String(t) if t == "*" => continue,
                    Value::Array(a) => {
                        let named: Vec<Value> = a.iter().filter(|x| !has_star(x)).cloned().collect();
                        if named.is_empty() {
                            continue;
                        }
                        Value::Array(named)
                    }
                    other => other.clone(),
                };
                kept.insert(k.clone(), v);
            }
            if kept.is_empty() {
                return None;
            }
            Value::Object(kept)
        }
        _ => return None,
    };
    let mut out = s.clone();
    out["Principal"] = principal;
    (!is_public_statement(&out)).then_some(out)
}

fn has_star(p: &Value) -> bool {
    match p {
        Value::String(s) => s == "*",
        Value::Array(a) => a.iter().any(has_star),
        Value::Object(o) => o.values().any(has_star),
        _ => false,
    }
}

fn limited_by_condition(condition: Option<&Value>) -> bool {
    let Some(Value::Object(ops)) = condition else {
        return false;
    };
    ops.iter().any(|(op, keys)| {
        let op = op.to_ascii_lowercase();
        // True when the key is absent (an anonymous request has none of these keys).
        if op.starts_with("forallvalues:") || op.ends_with("ifexists") {
            return false;
        }
        let base = op.strip_prefix("foranyvalue:").unwrap_or(&op);
        if !LIMITING_OPERATORS.contains(&base) {
            return false;
        }
        let Value::Object(keys) = keys else {
            return false;
        };
        keys.iter().any(|(k, v)| {
            let k = k.to_ascii_lowercase();
            if !LIMITING_KEYS.contains(&k.as_str()) || base == "bool" || base == "numericequals" {
                return false;
            }
            let values: Vec<&Value> = match v {
                Value::Array(a) => a.iter().collect(),
                other => vec![other],
            };
            !values.is_empty()
                && values.iter().all(|v| match v.as_str() {
                    Some(s) if k == "aws:sourceip" => base == "ipaddress" && narrow_cidr(s),
                    Some(s) => base != "ipaddress" && fixed(s),
                    None => false,
                })
        })
    })
}

fn fixed(s: &str) -> bool {
    !s.is_empty() && !s.contains('*') && !s.contains('?') && !s.contains("${")
}

/// A CIDR (or address) no broader than /8 for IPv4 or /32 for IPv6.
pub fn narrow_cidr(s: &str) -> bool {
    let (addr, prefix) = match s.split_once('/') {
        Some((a, p)) => (a, p.parse::<u8>().ok()),
        None => (s, None),
    };
    if addr.parse::<std::net::Ipv4Addr>().is_ok() {
        return prefix.is_none_or(|p| (8..=32).contains(&p));
    }
    if addr.parse::<std::net::Ipv6Addr>().is_ok() {
        return prefix.is_none_or(|p| (32..=128).contains(&p));
    }
    false
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn star_principal_allow_is_public_and_deny_is_not() {
        assert!(is_public_statement(
            &json!({"Effect":"Allow","Principal":"*","Action":"s3:GetObject"})
        ));
        assert!(is_public_statement(
            &json!({"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::1:root","*"]}})
        ));
        assert!(!is_public_statement(
            &json!({"Effect":"Deny","Principal":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}})
        ));
        assert!(!is_public_statement(
            &json!({"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::1:root"}})
        ));
    }

    #[test]
    fn fixed_limiting_conditions_make_a_statement_non_public() {
        let with = |c: Value| json!({"Effect":"Allow","Principal":"*","Condition":c});
        assert!(!is_public_statement(&with(
            json!({"StringEquals":{"aws:PrincipalOrgID":"o-abc"}})
        )));
        assert!(!is_public_statement(&with(
            json!({"StringEquals":{"aws:SourceVpce":["vpce-1","vpce-2"]}})
        )));
        assert!(!is_public_statement(&with(
            json!({"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}})
        )));
        assert!(is_public_statement(&with(
            json!({"StringLike":{"aws:SourceVpc":"vpc-*"}})
        )));
        assert!(is_public_statement(&with(
            json!({"IpAddress":{"aws:SourceIp":"0.0.0.0/0"}})
        )));
        assert!(is_public_statement(&with(
            json!({"IpAddress":{"aws:SourceIp":"10.0.0.0/7"}})
        )));
        assert!(is_public_statement(&with(
            json!({"StringNotEquals":{"aws:SourceAccount":"1"}})
        )));
        assert!(is_public_statement(&with(
            json!({"StringEquals":{"aws:SourceArn":"${aws:username}"}})
        )));
    }

    #[test]
    fn if_exists_and_for_all_values_limit_nothing() {
        // Given statements open to anyone, "limited" by conditions that hold when the key is absent
        let with = |c: Value| json!({"Effect":"Allow","Principal":"*","Condition":c});
        // Then they are public
        assert!(is_public_statement(&with(
            json!({"StringEqualsIfExists":{"aws:SourceVpce":"vpce-1"}})
        )));
        assert!(is_public_statement(&with(
            json!({"ForAllValues:StringEquals":{"aws:PrincipalOrgID":"o-abc"}})
        )));
        assert!(is_public_statement(&with(
            json!({"IpAddressIfExists":{"aws:SourceIp":"203.0.113.0/24"}})
        )));
        // And the plain operator still limits
        assert!(!is_public_statement(&with(
            json!({"StringEquals":{"aws:SourceVpce":"vpce-1"}})
        )));
    }

    #[test]
    fn a_star_beside_a_named_account_is_dropped_keeping_the_account() {
        // Given a statement naming an account and anyone
        let s = json!({"Sid":"Mixed","Effect":"Allow","Principal":{"AWS":["arn:aws:iam::1:root","*"]},"Action":"s3:GetObject"});
        // When rewritten, then the account stays and the statement is no longer public
        let out = without_star_principal(&s).unwrap();
        assert_eq!(out["Principal"], json!({"AWS":["arn:aws:iam::1:root"]}));
        assert!(!is_public_statement(&out));
        // And a statement for anyone alone cannot be rewritten
        assert!(without_star_principal(&json!({"Effect":"Allow","Principal":{"AWS":"*"}})).is_none());
        assert!(without_star_principal(&json!({"Effect":"Allow","Principal":"*"})).is_none());
        assert!(
            without_star_principal(&json!({"Effect":"Allow","NotPrincipal":{"AWS":"arn:aws:iam::1:root"}})).is_none()
        );
    }

    #[test]
    fn cidr_breadth_follows_block_public_access() {
        assert!(narrow_cidr("10.0.0.0/8"));
        assert!(!narrow_cidr("0.0.0.0/1"));
        assert!(narrow_cidr("2001:db8::/32"));
        assert!(!narrow_cidr("::/0"));
        assert!(!narrow_cidr("not-an-ip"));
    }
}
