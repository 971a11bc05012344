//! The in-memory fakes of the exposure ports: resource policies, Lambda permissions and URLs,
//! snapshot and image sharing, network ACLs, DB instances, and the detective services. Tests
//! set live state with the setters below and read it back through the ports, as a
//! remediation does.

use super::{poisoned, MemoryAdmins};
use crate::remediate::ports::{
    AclEntry, AdminError, DbInstance, DbInstanceAdmin, DefenceAdmin, FunctionAccess, FunctionAdmin, NetworkAcl,
    NetworkAclAdmin, PolicyKind, PolicyState, ResourcePolicyAdmin, SharedKind, Sharing, SharingAdmin,
};
use std::collections::{BTreeMap, BTreeSet};

/// The exposure part of the fakes' live state.
#[derive(Debug, Clone, Default)]
pub(super) struct Exposure {
    policies: BTreeMap<(PolicyKind, String), PolicyState>,
    functions: BTreeMap<String, FunctionAccess>,
    shares: BTreeMap<(SharedKind, String), Sharing>,
    acls: BTreeMap<String, NetworkAcl>,
    db_instances: BTreeMap<String, DbInstance>,
    detectors: BTreeMap<String, bool>,
    recorders: BTreeMap<String, bool>,
    channels: BTreeMap<String, String>,
    flow_logs: BTreeSet<String>,
}

fn missing(what: &str, id: &str) -> AdminError {
    AdminError::NotFound(format!("{what} {id}"))
}

impl MemoryAdmins {
    fn exposure<T>(&self, f: impl FnOnce(&mut Exposure) -> T) -> Result<T, AdminError> {
        let mut s = self.state.lock().map_err(|_| poisoned())?;
        Ok(f(&mut s.exposure))
    }

    fn seen<T>(&self, f: impl FnOnce(&Exposure) -> T) -> Result<T, AdminError> {
        Ok(f(&self.view()?.exposure))
    }

    /// Sets a resource's policy and tags.
    pub fn set_resource_policy(&self, kind: PolicyKind, id: &str, state: PolicyState) {
        let _ = self.exposure(|e| e.policies.insert((kind, id.to_owned()), state));
    }

    /// Sets a function's access.
    pub fn set_function(&self, name: &str, access: FunctionAccess) {
        let _ = self.exposure(|e| e.functions.insert(name.to_owned(), access));
    }

    /// Sets a snapshot's or image's sharing.
    pub fn set_sharing(&self, kind: SharedKind, id: &str, sharing: Sharing) {
        let _ = self.exposure(|e| e.shares.insert((kind, id.to_owned()), sharing));
    }

    /// Sets a network ACL.
    pub fn set_network_acl(&self, id: &str, acl: NetworkAcl) {
        let _ = self.exposure(|e| e.acls.insert(id.to_owned(), acl));
    }

    /// Sets a DB instance.
    pub fn set_db_instance(&self, id: &str, instance: DbInstance) {
        let _ = self.exposure(|e| e.db_instances.insert(id.to_owned(), instance));
    }

    /// Sets a GuardDuty detector (enabled or not).
    pub fn set_detector(&self, id: &str, enabled: bool) {
        let _ = self.exposure(|e| e.detectors.insert(id.to_owned(), enabled));
    }

    /// Sets a Config recorder (recording or not).
    pub fn set_recorder(&self, name: &str, recording: bool) {
        let _ = self.exposure(|e| e.recorders.insert(name.to_owned(), recording));
    }

    /// Sets a Config delivery channel and its bucket.
    pub fn set_delivery_channel(&self, name: &str, bucket: &str) {
        let _ = self.exposure(|e| e.channels.insert(name.to_owned(), bucket.to_owned()));
    }

    /// Adds a flow log.
    pub fn add_flow_log(&self, id: &str) {
        let _ = self.exposure(|e| e.flow_logs.insert(id.to_owned()));
    }
}

impl ResourcePolicyAdmin for MemoryAdmins {
    async fn resource_policy(&self, kind: PolicyKind, id: &str) -> Result<PolicyState, AdminError> {
        self.seen(|e| e.policies.get(&(kind, id.to_owned())).cloned())?.ok_or_else(|| missing(kind.noun(), id))
    }
    async fn put_resource_policy(&self, kind: PolicyKind, id: &str, policy: &str) -> Result<(), AdminError> {
        self.write(kind.put_action())?;
        self.exposure(|e| e.policies.get_mut(&(kind, id.to_owned())).map(|p| p.policy = Some(policy.to_owned())))?
            .ok_or_else(|| missing(kind.noun(), id))
    }
    async fn delete_resource_policy(&self, kind: PolicyKind, id: &str) -> Result<(), AdminError> {
        let Some(action) = kind.delete_action() else {
            return Err(AdminError::Failed {
                action: kind.put_action().into(),
                why: format!("a {} cannot be deleted", kind.noun()),
            });
        };
        self.write(action)?;
        self.exposure(|e| e.policies.get_mut(&(kind, id.to_owned())).map(|p| p.policy = None))?
            .ok_or_else(|| missing(kind.noun(), id))
    }
}

impl FunctionAdmin for MemoryAdmins {
    async fn function_access(&self, function: &str) -> Result<FunctionAccess, AdminError> {
        self.seen(|e| e.functions.get(function).cloned())?.ok_or_else(|| missing("function", function))
    }
    async fn remove_permission(&self, function: &str, statement_id: &str) -> Result<(), AdminError> {
        self.write("lambda:RemovePermission")?;
        self.exposure(|e| {
            let f = e.functions.get_mut(function)?;
            let mut doc: serde_json::Value = serde_json::from_str(f.policy.as_deref()?).ok()?;
            let list = doc.get_mut("Statement")?.as_array_mut()?;
            let before = list.len();
            list.retain(|s| s.get("Sid").and_then(serde_json::Value::as_str) != Some(statement_id));
            if list.len() == before {
                return None;
            }
            f.policy = if list.is_empty() { None } else { Some(doc.to_string()) };
            Some(())
        })?
        .ok_or_else(|| missing("permission", statement_id))
    }
    async fn require_iam_auth(&self, function: &str) -> Result<(), AdminError> {
        self.write("lambda:UpdateFunctionUrlConfig")?;
        self.exposure(|e| {
            e.functions.get_mut(function).filter(|f| f.url_auth.is_some()).map(|f| f.url_auth = Some("AWS_IAM".into()))
        })?
        .ok_or_else(|| missing("function URL of", function))
    }
}

fn share_action(kind: SharedKind) -> &'static str {
    match kind {
        SharedKind::Snapshot => "ec2:ModifySnapshotAttribute",
        SharedKind::Image => "ec2:ModifyImageAttribute",
        SharedKind::DbSnapshot => "rds:ModifyDBSnapshotAttribute",
        SharedKind::DbClusterSnapshot => "rds:ModifyDBClusterSnapshotAttribute",
    }
}

impl SharingAdmin for MemoryAdmins {
    async fn sharing(&self, kind: SharedKind, id: &str) -> Result<Sharing, AdminError> {
        self.seen(|e| e.shares.get(&(kind, id.to_owned())).cloned())?.ok_or_else(|| missing("snapshot or image", id))
    }
    async fn unshare_public(&self, kind: SharedKind, id: &str) -> Result<(), AdminError> {
        self.write(share_action(kind))?;
        self.exposure(|e| e.shares.get_mut(&(kind, id.to_owned())).map(|s| s.public = false))?
            .ok_or_else(|| missing("snapshot or image", id))
    }
}

impl NetworkAclAdmin for MemoryAdmins {
    async fn network_acl(&self, id: &str) -> Result<NetworkAcl, AdminError> {
        self.seen(|e| e.acls.get(id).cloned())?.ok_or_else(|| missing("network ACL", id))
    }
    async fn delete_acl_entry(&self, id: &str, entry: &AclEntry) -> Result<(), AdminError> {
        let same = |x: &AclEntry| x.rule_number == entry.rule_number && x.egress == entry.egress;
        self.write("ec2:DeleteNetworkAclEntry")?;
        self.exposure(|e| {
            let entries = &mut e.acls.get_mut(id)?.entries;
            let at = entries.iter().position(same)?;
            entries.remove(at);
            Some(())
        })?
        .ok_or_else(|| missing("network ACL entry", &format!("{id}/{}", entry.rule_number)))
    }
}

impl DbInstanceAdmin for MemoryAdmins {
    async fn db_instance(&self, id: &str) -> Result<DbInstance, AdminError> {
        self.seen(|e| e.db_instances.get(id).cloned())?.ok_or_else(|| missing("DB instance", id))
    }
    async fn make_private(&self, id: &str) -> Result<(), AdminError> {
        self.write("rds:ModifyDBInstance")?;
        self.exposure(|e| e.db_instances.get_mut(id).map(|d| d.publicly_accessible = false))?
            .ok_or_else(|| missing("DB instance", id))
    }
}

impl DefenceAdmin for MemoryAdmins {
    async fn detector_enabled(&self, id: &str) -> Result<bool, AdminError> {
        self.seen(|e| e.detectors.get(id).copied())?.ok_or_else(|| missing("GuardDuty detector", id))
    }
    async fn enable_detector(&self, id: &str) -> Result<(), AdminError> {
        self.write("guardduty:UpdateDetector")?;
        self.exposure(|e| e.detectors.get_mut(id).map(|d| *d = true))?.ok_or_else(|| missing("GuardDuty detector", id))
    }
    async fn recorder_recording(&self, name: &str) -> Result<bool, AdminError> {
        self.seen(|e| e.recorders.get(name).copied())?.ok_or_else(|| missing("configuration recorder", name))
    }
    async fn start_recorder(&self, name: &str) -> Result<(), AdminError> {
        self.write("config:StartConfigurationRecorder")?;
        self.exposure(|e| e.recorders.get_mut(name).map(|r| *r = true))?
            .ok_or_else(|| missing("configuration recorder", name))
    }
    async fn delivery_channel(&self, name: &str) -> Result<String, AdminError> {
        self.seen(|e| e.channels.get(name).cloned())?.ok_or_else(|| missing("delivery channel", name))
    }
    async fn flow_logs(&self, ids: &[String]) -> Result<Vec<String>, AdminError> {
        self.seen(|e| ids.iter().filter(|i| e.flow_logs.contains(*i)).cloned().collect())
    }
}
