//! Resource policies: is a policy public, and which of its statements make it so?
//!
//! One evaluator for every resource policy trailsight looks at (S3 bucket, KMS key, SQS
//! queue, SNS topic, ECR repository, Secrets Manager secret, Lambda function, IAM role trust),
//! following IAM Access Analyzer's and S3 Block Public Access's definition:
//!
//! - A policy is a JSON object or a JSON string holding one; `Statement` is one object or a
//!   list; `Principal` is `"*"`, `{"AWS": "*"}`, a list, a service or federated principal, or
//!   the statement uses `NotPrincipal`; `Action`/`NotAction` and `Resource` are strings or lists
//!   (they do not change the verdict: any action granted to anyone is access).
//! - An `Allow` statement is public when it is open to any principal (`*` in its `Principal`,
//!   alone, in a list or under `AWS`; or any `NotPrincipal`), unless a condition pins it with
//!   fixed values of a key that names who may call: an account or organization
//!   (`aws:PrincipalAccount`, `aws:PrincipalOrgID`, `aws:PrincipalOrgPaths`,
//!   `aws:PrincipalArn`, `aws:userid`, `kms:CallerAccount`), a network (`aws:SourceVpc`,
//!   `aws:SourceVpce`, `aws:SourceIp` no broader than /8 for IPv4 or /32 for IPv6), or the
//!   calling resource (`aws:SourceArn`, `aws:SourceAccount`, `aws:SourceOwner`,
//!   `aws:SourceOrgID`, `aws:SourceOrgPaths`, `s3:DataAccessPointAccount`,
//!   `s3:DataAccessPointArn`).
//! - Pin nothing: a value with a wildcard or a policy variable (an organization path's `*`
//!   after its organization id excepted), a negated operator, `...IfExists` and
//!   `ForAllValues:` (both hold when the key is absent, as it is on an anonymous request), and
//!   any `/0` (`0.0.0.0/0`, `10.1.2.3/0`: AWS masks the address bits). `ForAnyValue:` pins:
//!   it is false when the key is absent.
//! - `Deny` statements never make a policy public.
//!
//! [`public_statements`] reports which statements make a policy public, so remediation can
//! remove exactly those.

use crate::rules::cidr;
use serde_json::Value;
use std::borrow::Cow;

/// A policy document from a request field: a JSON object, or a JSON string holding one.
/// `None` for anything else (absent, `null`, a string that is not a JSON object).
pub fn document(v: Option<&Value>) -> Option<Cow<'_, Value>> {
    match v? {
        Value::String(s) => serde_json::from_str::<Value>(s).ok().filter(Value::is_object).map(Cow::Owned),
        v @ Value::Object(_) => Some(Cow::Borrowed(v)),
        _ => None,
    }
}

/// The statements of a policy (a single statement may stand outside a list).
pub fn statements(policy: &Value) -> Vec<&Value> {
    match policy.get("Statement") {
        Some(Value::Array(list)) => list.iter().collect(),
        Some(v @ Value::Object(_)) => vec![v],
        _ => vec![],
    }
}

/// Indices (in [`statements`] order) of the statements that make the policy public.
pub fn public_statements(policy: &Value) -> Vec<usize> {
    statements(policy).iter().enumerate().filter(|(_, s)| is_public_statement(s)).map(|(i, _)| i).collect()
}

/// Whether the policy grants anyone access.
pub fn is_public(policy: &Value) -> bool {
    statements(policy).into_iter().any(is_public_statement)
}

/// The first public statement of a policy, if any.
pub fn first_public(policy: &Value) -> Option<&Value> {
    statements(policy).into_iter().find(|s| is_public_statement(s))
}

/// Whether one statement grants anyone access.
pub fn is_public_statement(s: &Value) -> bool {
    let allow = s.get("Effect").and_then(Value::as_str).is_some_and(|e| e.eq_ignore_ascii_case("allow"));
    allow && open_to_anyone(s) && !pinned(s.get("Condition"))
}

/// Whether a statement's principal is anyone: a `*` in its `Principal`, or a `NotPrincipal`.
pub fn open_to_anyone(s: &Value) -> bool {
    s.get("NotPrincipal").is_some() || s.get("Principal").is_some_and(has_star)
}

/// The statement without the `*` in its `Principal`, when it also names other principals
/// (`{"AWS": ["arn:aws:iam::1:root", "*"]}` keeps the account); `None` when nothing but `*`
/// would be left, or it opens to everyone through `NotPrincipal`.
pub fn without_star_principal(s: &Value) -> Option<Value> {
    if s.get("NotPrincipal").is_some() {
        return None;
    }
    let Value::Object(o) = s.get("Principal")? else {
        return None;
    };
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
    let mut out = s.clone();
    out["Principal"] = Value::Object(kept);
    (!is_public_statement(&out)).then_some(out)
}

/// The principals a statement names (every string under `Principal`, whatever the key).
pub fn principals(s: &Value) -> Vec<&str> {
    fn walk<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
        match v {
            Value::String(s) => out.push(s),
            Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            Value::Object(o) => o.values().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    let mut out = vec![];
    if let Some(p) = s.get("Principal") {
        walk(p, &mut out);
    }
    out
}

fn has_star(p: &Value) -> bool {
    match p {
        Value::String(s) => s == "*",
        Value::Array(a) => a.iter().any(has_star),
        Value::Object(o) => o.values().any(has_star),
        _ => false,
    }
}

/// Condition keys whose fixed values name who may call.
const PINNING_KEYS: [&str; 17] = [
    "aws:principalorgid",
    "aws:principalorgpaths",
    "aws:principalaccount",
    "aws:principalarn",
    "aws:userid",
    "aws:sourcevpc",
    "aws:sourcevpce",
    "aws:sourcearn",
    "aws:sourceowner",
    "aws:sourceaccount",
    "aws:sourceorgid",
    "aws:sourceorgpaths",
    "aws:sourceip",
    "s3:dataaccesspointaccount",
    "s3:dataaccesspointarn",
    "kms:calleraccount",
    "lambda:functionarn",
];

/// Operators whose fixed values restrict who matches (negated operators restrict nothing).
const PINNING_OPERATORS: [&str; 6] =
    ["stringequals", "stringequalsignorecase", "stringlike", "arnequals", "arnlike", "ipaddress"];

/// Whether a statement's condition pins it to fixed callers.
pub fn pinned(condition: Option<&Value>) -> bool {
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
        if !PINNING_OPERATORS.contains(&base) {
            return false;
        }
        let Value::Object(keys) = keys else {
            return false;
        };
        keys.iter().any(|(k, v)| {
            let k = k.to_ascii_lowercase();
            if !PINNING_KEYS.contains(&k.as_str()) {
                return false;
            }
            let values: Vec<&Value> = match v {
                Value::Array(a) => a.iter().collect(),
                other => vec![other],
            };
            !values.is_empty()
                && values.iter().all(|v| match v.as_str() {
                    Some(s) if k == "aws:sourceip" => base == "ipaddress" && narrow_cidr(s),
                    Some(s) if k.ends_with("orgpaths") => base != "ipaddress" && org_path_pinned(s),
                    Some(s) => base != "ipaddress" && fixed(s),
                    // Account ids written as numbers are fixed values too.
                    None => v.as_u64().is_some() && base != "ipaddress",
                })
        })
    })
}

fn fixed(s: &str) -> bool {
    !s.is_empty() && !s.contains('*') && !s.contains('?') && !s.contains("${")
}

/// An organization path pins when its organization id is fixed (`o-abc/*` or
/// `o-abc/r-1/ou-2/*`): what follows may be a wildcard.
fn org_path_pinned(s: &str) -> bool {
    s.split_once('/').is_some_and(|(org, _)| org.starts_with("o-") && fixed(org))
}

/// A CIDR (or address) no broader than /8 for IPv4 or /32 for IPv6; any `/0` is the world.
pub fn narrow_cidr(s: &str) -> bool {
    match cidr::parse(s) {
        Some(r) => match r.family {
            cidr::Family::V4 => r.prefix >= 8,
            cidr::Family::V6 => r.prefix >= 32,
        },
        None => false,
    }
}

#[cfg(test)]
mod tests;
