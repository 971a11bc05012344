//! The real AWS admins with one write action denied, as IAM would deny it: every port is
//! delegated to the real admin, and the write whose IAM action is the denied one fails with
//! AccessDenied before reaching the service.

use std::collections::BTreeMap;
use trailsight_aws::admin::AwsAdmins;
use trailsight_core::remediate::ports::{
    Acl, AclEntry, AclOf, AdminError, BlockLevel, BucketAdmin, DbInstance, DbInstanceAdmin, DefenceAdmin,
    FunctionAccess, FunctionAdmin, GroupRule, NetworkAcl, NetworkAclAdmin, Pause, Permission, Place, PolicyKind,
    PolicyState, PublicAccessBlock, PublicAccessBlockAdmin, ResourcePolicyAdmin, Scoped, SecurityGroup,
    SecurityGroupAdmin, SharedKind, Sharing, SharingAdmin, Targets, TrailAdmin, TrailConfig, TrailStatus,
};

/// The real admins, with writes of `denied` (an IAM action) refused.
pub struct Denying {
    inner: AwsAdmins,
    denied: &'static str,
}

impl Denying {
    /// Real admins denying `action` (e.g. `s3:PutBucketPolicy`).
    pub fn new(inner: AwsAdmins, action: &'static str) -> Self {
        Denying { inner, denied: action }
    }

    fn check(&self, action: &str) -> Result<(), AdminError> {
        if action == self.denied {
            return Err(AdminError::AccessDenied {
                action: action.into(),
                why: "AccessDenied: not authorized (injected)".into(),
            });
        }
        Ok(())
    }
}

impl Targets for Denying {
    type Admins = Self;
    async fn admins<'a>(&'a self, _place: Place<'a>) -> Result<Scoped<'a, Self>, AdminError> {
        Ok(Scoped::Borrowed(self))
    }
}

impl Pause for Denying {
    async fn pause(&self, duration: std::time::Duration) {
        self.inner.pause(duration).await
    }
}

impl BucketAdmin for Denying {
    async fn policy(&self, bucket: &str) -> Result<Option<String>, AdminError> {
        self.inner.policy(bucket).await
    }
    async fn put_policy(&self, bucket: &str, policy: &str) -> Result<(), AdminError> {
        self.check("s3:PutBucketPolicy")?;
        self.inner.put_policy(bucket, policy).await
    }
    async fn delete_policy(&self, bucket: &str) -> Result<(), AdminError> {
        self.check("s3:DeleteBucketPolicy")?;
        self.inner.delete_policy(bucket).await
    }
    async fn policy_status(&self, bucket: &str) -> Result<Option<bool>, AdminError> {
        self.inner.policy_status(bucket).await
    }
    async fn acl(&self, of: AclOf<'_>) -> Result<Acl, AdminError> {
        self.inner.acl(of).await
    }
    async fn put_acl(&self, of: AclOf<'_>, acl: &Acl) -> Result<(), AdminError> {
        self.check(if of.key.is_some() { "s3:PutObjectAcl" } else { "s3:PutBucketAcl" })?;
        self.inner.put_acl(of, acl).await
    }
    async fn buckets(&self) -> Result<Vec<String>, AdminError> {
        self.inner.buckets().await
    }
    async fn tags(&self, bucket: &str) -> Result<BTreeMap<String, String>, AdminError> {
        self.inner.tags(bucket).await
    }
}

impl PublicAccessBlockAdmin for Denying {
    async fn public_access_block(&self, level: &BlockLevel) -> Result<Option<PublicAccessBlock>, AdminError> {
        self.inner.public_access_block(level).await
    }
    async fn put_public_access_block(&self, level: &BlockLevel, pab: &PublicAccessBlock) -> Result<(), AdminError> {
        self.check(match level {
            BlockLevel::Bucket(_) => "s3:PutBucketPublicAccessBlock",
            BlockLevel::Account(_) => "s3:PutAccountPublicAccessBlock",
        })?;
        self.inner.put_public_access_block(level, pab).await
    }
}

impl SecurityGroupAdmin for Denying {
    async fn group(&self, id: Option<&str>, name: Option<&str>) -> Result<SecurityGroup, AdminError> {
        self.inner.group(id, name).await
    }
    async fn revoke(&self, group_id: &str, permissions: &[Permission]) -> Result<(), AdminError> {
        self.check("ec2:RevokeSecurityGroupIngress")?;
        self.inner.revoke(group_id, permissions).await
    }
    async fn rules(&self, group_id: &str) -> Result<Vec<GroupRule>, AdminError> {
        self.inner.rules(group_id).await
    }
    async fn revoke_rules(&self, group_id: &str, rule_ids: &[String]) -> Result<(), AdminError> {
        self.check("ec2:RevokeSecurityGroupIngress")?;
        self.inner.revoke_rules(group_id, rule_ids).await
    }
}

impl TrailAdmin for Denying {
    async fn trail_config(&self, trail: &str) -> Result<TrailConfig, AdminError> {
        self.inner.trail_config(trail).await
    }
    async fn trail_status(&self, trail: &str) -> Result<TrailStatus, AdminError> {
        self.inner.trail_status(trail).await
    }
    async fn start_logging(&self, trail: &str) -> Result<(), AdminError> {
        self.check("cloudtrail:StartLogging")?;
        self.inner.start_logging(trail).await
    }
}

impl ResourcePolicyAdmin for Denying {
    async fn resource_policy(&self, kind: PolicyKind, id: &str) -> Result<PolicyState, AdminError> {
        self.inner.resource_policy(kind, id).await
    }
    async fn put_resource_policy(&self, kind: PolicyKind, id: &str, policy: &str) -> Result<(), AdminError> {
        self.check(kind.put_action())?;
        self.inner.put_resource_policy(kind, id, policy).await
    }
    async fn delete_resource_policy(&self, kind: PolicyKind, id: &str) -> Result<(), AdminError> {
        if let Some(action) = kind.delete_action() {
            self.check(action)?;
        }
        self.inner.delete_resource_policy(kind, id).await
    }
}

impl FunctionAdmin for Denying {
    async fn function_access(&self, function: &str) -> Result<FunctionAccess, AdminError> {
        self.inner.function_access(function).await
    }
    async fn remove_permission(&self, function: &str, statement_id: &str) -> Result<(), AdminError> {
        self.check("lambda:RemovePermission")?;
        self.inner.remove_permission(function, statement_id).await
    }
    async fn require_iam_auth(&self, function: &str) -> Result<(), AdminError> {
        self.check("lambda:UpdateFunctionUrlConfig")?;
        self.inner.require_iam_auth(function).await
    }
}

impl SharingAdmin for Denying {
    async fn sharing(&self, kind: SharedKind, id: &str) -> Result<Sharing, AdminError> {
        self.inner.sharing(kind, id).await
    }
    async fn unshare_public(&self, kind: SharedKind, id: &str) -> Result<(), AdminError> {
        self.check(match kind {
            SharedKind::Snapshot => "ec2:ModifySnapshotAttribute",
            SharedKind::Image => "ec2:ModifyImageAttribute",
            SharedKind::DbSnapshot => "rds:ModifyDBSnapshotAttribute",
            SharedKind::DbClusterSnapshot => "rds:ModifyDBClusterSnapshotAttribute",
        })?;
        self.inner.unshare_public(kind, id).await
    }
}

impl NetworkAclAdmin for Denying {
    async fn network_acl(&self, id: &str) -> Result<NetworkAcl, AdminError> {
        self.inner.network_acl(id).await
    }
    async fn delete_acl_entry(&self, id: &str, entry: &AclEntry) -> Result<(), AdminError> {
        self.check("ec2:DeleteNetworkAclEntry")?;
        self.inner.delete_acl_entry(id, entry).await
    }
}

impl DbInstanceAdmin for Denying {
    async fn db_instance(&self, id: &str) -> Result<DbInstance, AdminError> {
        self.inner.db_instance(id).await
    }
    async fn make_private(&self, id: &str) -> Result<(), AdminError> {
        self.check("rds:ModifyDBInstance")?;
        self.inner.make_private(id).await
    }
}

impl DefenceAdmin for Denying {
    async fn detector_enabled(&self, id: &str) -> Result<bool, AdminError> {
        self.inner.detector_enabled(id).await
    }
    async fn enable_detector(&self, id: &str) -> Result<(), AdminError> {
        self.check("guardduty:UpdateDetector")?;
        self.inner.enable_detector(id).await
    }
    async fn recorder_recording(&self, name: &str) -> Result<bool, AdminError> {
        self.inner.recorder_recording(name).await
    }
    async fn start_recorder(&self, name: &str) -> Result<(), AdminError> {
        self.check("config:StartConfigurationRecorder")?;
        self.inner.start_recorder(name).await
    }
    async fn delivery_channel(&self, name: &str) -> Result<String, AdminError> {
        self.inner.delivery_channel(name).await
    }
    async fn flow_logs(&self, ids: &[String]) -> Result<Vec<String>, AdminError> {
        self.inner.flow_logs(ids).await
    }
}
