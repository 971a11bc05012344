//! `ebs-snapshot-public`, `ami-public` and `rds-snapshot-public`: a snapshot or image shared
//! with every AWS account (the group `all`), not with named accounts.

use super::{text, Call, Events, Finding, Resource, Rule, RuleId, Severity};
use serde_json::Value;

/// `ebs-snapshot-public`: ModifySnapshotAttribute adding createVolumePermission for `all`.
pub const EBS_SNAPSHOT: Rule =
    Rule::new(RuleId::EbsSnapshotPublic, Severity::Critical, EBS_SNAPSHOT_EVENTS, check_snapshot);
const EBS_SNAPSHOT_EVENTS: Events = &[("ec2.amazonaws.com", &["ModifySnapshotAttribute"])];

/// `ami-public`: ModifyImageAttribute adding launchPermission for `all`.
pub const AMI: Rule = Rule::new(RuleId::AmiPublic, Severity::High, AMI_EVENTS, check_image);
const AMI_EVENTS: Events = &[("ec2.amazonaws.com", &["ModifyImageAttribute"])];

/// `rds-snapshot-public`: Modify(DB|DBCluster)SnapshotAttribute adding `all` to `restore`.
pub const RDS_SNAPSHOT: Rule =
    Rule::new(RuleId::RdsSnapshotPublic, Severity::Critical, RDS_SNAPSHOT_EVENTS, check_db_snapshot);
const RDS_SNAPSHOT_EVENTS: Events =
    &[("rds.amazonaws.com", &["ModifyDBSnapshotAttribute", "ModifyDBClusterSnapshotAttribute"])];

/// Whether an EC2 permission change adds the group `all`: `{"add": {"items": [{"group":
/// "all"}]}}` (or `add` as a list), or the older flat form (`operationType: add` with
/// `userGroups`/`groupNames` holding `all`).
pub fn adds_group_all(request: &Value, attribute: &str) -> bool {
    let nested = request
        .get(attribute)
        .and_then(|p| p.get("add"))
        .is_some_and(|add| items(add).iter().any(|i| text(i, "group") == Some("all")));
    let flat = text(request, "operationType").is_some_and(|o| o.eq_ignore_ascii_case("add"))
        && ["userGroups", "groupNames", "userGroup", "groups"]
            .iter()
            .filter_map(|k| request.get(*k))
            .any(|g| items(g).iter().any(|v| v.as_str() == Some("all") || text(v, "group") == Some("all")));
    nested || flat
}

fn items(v: &Value) -> Vec<&Value> {
    match v {
        Value::Array(a) => a.iter().collect(),
        Value::Object(o) => match o.get("items").or_else(|| o.get("item")) {
            Some(Value::Array(a)) => a.iter().collect(),
            Some(one) => vec![one],
            None => vec![v],
        },
        Value::String(_) => vec![v],
        _ => vec![],
    }
}

fn check_snapshot(call: &Call<'_>) -> Vec<Finding> {
    group_all(
        call,
        (&EBS_SNAPSHOT, "createVolumePermission", "snapshotId"),
        |id| Resource::Snapshot { id },
        "copy the snapshot's data",
    )
}

fn check_image(call: &Call<'_>) -> Vec<Finding> {
    group_all(call, (&AMI, "launchPermission", "imageId"), |id| Resource::Image { id }, "launch the image")
}

/// The finding of an EC2 attribute change that adds the group `all` to `attribute`: `rule`'s,
/// on the resource named by the request's `id_key`, saying what every account `can` do.
fn group_all(
    call: &Call<'_>,
    (rule, attribute, id_key): (&Rule, &str, &str),
    resource: fn(String) -> Resource,
    can: &str,
) -> Vec<Finding> {
    if !adds_group_all(call.request, attribute) {
        return vec![];
    }
    let id = text(call.request, id_key).unwrap_or("").to_owned();
    vec![rule.finding(resource(id), format!("{attribute} added for group all: every AWS account can {can}"))]
}

fn check_db_snapshot(call: &Call<'_>) -> Vec<Finding> {
    let req = call.request;
    let restore = text(req, "attributeName").is_some_and(|a| a.eq_ignore_ascii_case("restore"));
    let all = req.get("valuesToAdd").is_some_and(|v| items(v).iter().any(|x| x.as_str() == Some("all")));
    if !(restore && all) {
        return vec![];
    }
    let resource = match text(req, "dBClusterSnapshotIdentifier") {
        Some(id) => Resource::DbClusterSnapshot { id: id.to_owned() },
        None => Resource::DbSnapshot { id: text(req, "dBSnapshotIdentifier").unwrap_or("").to_owned() },
    };
    vec![RDS_SNAPSHOT
        .finding(resource, "restore attribute given the value all: every AWS account can restore the snapshot".into())]
}
