//! `rds-instance-public`: a DB instance created, restored or modified with PubliclyAccessible
//! true (a public DNS name resolving to a public address).

use super::{text, Call, Events, Finding, Resource, Rule, RuleId, Severity};
use serde_json::Value;

/// `rds-instance-public`.
pub const RULE: Rule = Rule::new(RuleId::RdsInstancePublic, Severity::High, EVENTS, check).breaking_callers();
const EVENTS: Events = &[
    ("rds.amazonaws.com", &["CreateDBInstance", "ModifyDBInstance"]),
    ("rds.amazonaws.com", &["CreateDBInstanceReadReplica"]),
    ("rds.amazonaws.com", &["RestoreDBInstanceFromDBSnapshot", "RestoreDBInstanceToPointInTime"]),
];

fn check(call: &Call<'_>) -> Vec<Finding> {
    let public = match call.request.get("publiclyAccessible") {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    };
    if !public {
        return vec![];
    }
    let id = text(call.request, "dBInstanceIdentifier")
        .or_else(|| text(call.request, "targetDBInstanceIdentifier"))
        .unwrap_or("")
        .to_owned();
    vec![RULE.finding(
        Resource::DbInstance { id },
        format!("{} with PubliclyAccessible true: the instance gets a public address", call.name),
    )]
}
