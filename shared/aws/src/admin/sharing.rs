//! [`SharingAdmin`]: whom a copy of data is shared with, and withdrawing a public share.
//!
//! - EBS snapshots (aws-sdk-ec2): the `createVolumePermission` attribute; tags from
//!   DescribeSnapshots;
//! - AMIs (aws-sdk-ec2): the `launchPermission` attribute; tags from DescribeImages. Shares
//!   with an organization or an organizational unit are not listed in
//!   [`Sharing::accounts`] (which holds account ids only) and are never touched;
//! - RDS DB snapshots and DB cluster snapshots (aws-sdk-rds): the `restore` attribute, whose
//!   value `all` makes the snapshot public and whose other values are account ids; tags from
//!   the snapshot's `TagList` in DescribeDBSnapshots / DescribeDBClusterSnapshots.
//!
//! A public share is withdrawn by removing the group `all` alone, so every share with a named
//! account stays.

use super::{admin_error, tag_map, AwsAdmins};
use aws_sdk_ec2::types::{
    ImageAttributeName, LaunchPermission, LaunchPermissionModifications, OperationType, PermissionGroup,
    SnapshotAttributeName,
};
use trailsight_core::remediate::ports::{AdminError, SharedKind, Sharing, SharingAdmin};

/// The EC2 group, and the RDS `restore` value, that shares with every AWS account.
const ALL: &str = "all";
/// The RDS snapshot attribute that lists who may restore (copy) the snapshot.
const RESTORE: &str = "restore";

/// How a resource of `kind` is named in errors.
fn what(kind: SharedKind, id: &str) -> String {
    let noun = match kind {
        SharedKind::Snapshot => "snapshot",
        SharedKind::Image => "image",
        SharedKind::DbSnapshot => "DB snapshot",
        SharedKind::DbClusterSnapshot => "DB cluster snapshot",
    };
    format!("{noun} {id}")
}

/// Sharing from RDS `restore` values.
fn restore_sharing<'a>(values: impl IntoIterator<Item = &'a String>) -> (bool, Vec<String>) {
    let mut public = false;
    let mut accounts = vec![];
    for v in values {
        if v == ALL {
            public = true;
        } else {
            accounts.push(v.clone());
        }
    }
    (public, accounts)
}

/// Sharing from EC2 permissions, as (group, account id) pairs: public when the group `all`
/// is among them.
fn ec2_sharing<'a>(
    permissions: impl Iterator<Item = (Option<&'a PermissionGroup>, Option<&'a str>)>,
    tags: std::collections::BTreeMap<String, String>,
) -> Sharing {
    let mut sharing = Sharing {
        tags,
        ..Sharing::default()
    };
    for (group, account) in permissions {
        sharing.public |= group == Some(&PermissionGroup::All);
        sharing.accounts.extend(account.map(str::to_owned));
    }
    sharing
}

impl AwsAdmins {
    async fn snapshot_sharing(&self, id: &str) -> Result<Sharing, AdminError> {
        let what = what(SharedKind::Snapshot, id);
        let described = self
            .ec2
            .describe_snapshots()
            .snapshot_ids(id)
            .send()
            .await
            .map_err(|e| admin_error("ec2:DescribeSnapshots", &what, e))?;
        let snapshot = described
            .snapshots()
            .first()
            .ok_or_else(|| AdminError::NotFound(what.clone()))?;
        let tags = tag_map(snapshot.tags().iter().map(|t| (t.key(), t.value())));
        let out = self
            .ec2
            .describe_snapshot_attribute()
            .snapshot_id(id)
            .attribute(SnapshotAttributeName::CreateVolumePermission)
            .send()
            .await
            .map_err(|e| admin_error("ec2:DescribeSnapshotAttribute", &what, e))?;
        let permissions = out.create_volume_permissions().iter();
        Ok(ec2_sharing(permissions.map(|p| (p.group(), p.user_id())), tags))
    }

    async fn image_sharing(&self, id: &str) -> Result<Sharing, AdminError> {
        let what = what(SharedKind::Image, id);
        let described = self
            .ec2
            .describe_images()
            .image_ids(id)
            .send()
            .await
            .map_err(|e| admin_error("ec2:DescribeImages", &what, e))?;
        let image = described
            .images()
            .first()
            .ok_or_else(|| AdminError::NotFound(what.clone()))?;
        let tags = tag_map(image.tags().iter().map(|t| (t.key(), t.value())));
        let out = self
            .ec2
            .describe_image_attribute()
            .image_id(id)
            .attribute(ImageAttributeName::LaunchPermission)
            .send()
            .await
            .map_err(|e| admin_error("ec2:DescribeImageAttribute", &what, e))?;
        let permissions = out.launch_permissions().iter();
        Ok(ec2_sharing(permissions.map(|p| (p.group(), p.user_id())), tags))
    }

    async fn db_snapshot_sharing(&self, id: &str) -> Result<Sharing, AdminError> {
        let what = what(SharedKind::DbSnapshot, id);
        let described = self
            .rds
            .describe_db_snapshots()
            .db_snapshot_identifier(id)
            .send()
            .await
            .map_err(|e| admin_error("rds:DescribeDBSnapshots", &what, e))?;
        let snapshot = described
            .db_snapshots()
            .first()
            .ok_or_else(|| AdminError::NotFound(what.clone()))?;
        let tags = tag_map(snapshot.tag_list().iter().map(|t| (t.key(), t.value())));
        let out = self
            .rds
            .describe_db_snapshot_attributes()
            .db_snapshot_identifier(id)
            .send()
            .await
            .map_err(|e| admin_error("rds:DescribeDBSnapshotAttributes", &what, e))?;
        let values = out
            .db_snapshot_attributes_result()
            .map(|r| r.db_snapshot_attributes())
            .unwrap_or_default()
            .iter()
            .filter(|a| a.attribute_name() == Some(RESTORE))
            .flat_map(|a| a.attribute_values());
        let (public, accounts) = restore_sharing(values);
        Ok(Sharing { public, accounts, tags })
    }

    async fn db_cluster_snapshot_sharing(&self, id: &str) -> Result<Sharing, AdminError> {
        let what = what(SharedKind::DbClusterSnapshot, id);
        let described = self
            .rds
            .describe_db_cluster_snapshots()
            .db_cluster_snapshot_identifier(id)
            .send()
            .await
            .map_err(|e| admin_error("rds:DescribeDBClusterSnapshots", &what, e))?;
        let snapshot = described
            .db_cluster_snapshots()
            .first()
            .ok_or_else(|| AdminError::NotFound(what.clone()))?;
        let tags = tag_map(snapshot.tag_list().iter().map(|t| (t.key(), t.value())));
        let out = self
            .rds
            .describe_db_cluster_snapshot_attributes()
            .db_cluster_snapshot_identifier(id)
            .send()
            .await
            .map_err(|e| admin_error("rds:DescribeDBClusterSnapshotAttributes", &what, e))?;
        let values = out
            .db_cluster_snapshot_attributes_result()
            .map(|r| r.db_cluster_snapshot_attributes())
            .unwrap_or_default()
            .iter()
            .filter(|a| a.attribute_name() == Some(RESTORE))
            .flat_map(|a| a.attribute_values());
        let (public, accounts) = restore_sharing(values);
        Ok(Sharing { public, accounts, tags })
    }
}

impl SharingAdmin for AwsAdmins {
    async fn sharing(&self, kind: SharedKind, id: &str) -> Result<Sharing, AdminError> {
        match kind {
            SharedKind::Snapshot => self.snapshot_sharing(id).await,
            SharedKind::Image => self.image_sharing(id).await,
            SharedKind::DbSnapshot => self.db_snapshot_sharing(id).await,
            SharedKind::DbClusterSnapshot => self.db_cluster_snapshot_sharing(id).await,
        }
    }

    async fn unshare_public(&self, kind: SharedKind, id: &str) -> Result<(), AdminError> {
        let what = what(kind, id);
        match kind {
            // The flat form (OperationType, GroupNames) rather than CreateVolumePermission.Remove:
            // both are AWS's, and emulators know this one.
            SharedKind::Snapshot => self
                .ec2
                .modify_snapshot_attribute()
                .snapshot_id(id)
                .attribute(SnapshotAttributeName::CreateVolumePermission)
                .operation_type(OperationType::Remove)
                .group_names(ALL)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| admin_error("ec2:ModifySnapshotAttribute", &what, e)),
            SharedKind::Image => self
                .ec2
                .modify_image_attribute()
                .image_id(id)
                .launch_permission(
                    LaunchPermissionModifications::builder()
                        .remove(LaunchPermission::builder().group(PermissionGroup::All).build())
                        .build(),
                )
                .send()
                .await
                .map(|_| ())
                .map_err(|e| admin_error("ec2:ModifyImageAttribute", &what, e)),
            SharedKind::DbSnapshot => self
                .rds
                .modify_db_snapshot_attribute()
                .db_snapshot_identifier(id)
                .attribute_name(RESTORE)
                .values_to_remove(ALL)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| admin_error("rds:ModifyDBSnapshotAttribute", &what, e)),
            SharedKind::DbClusterSnapshot => self
                .rds
                .modify_db_cluster_snapshot_attribute()
                .db_cluster_snapshot_identifier(id)
                .attribute_name(RESTORE)
                .values_to_remove(ALL)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| admin_error("rds:ModifyDBClusterSnapshotAttribute", &what, e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restore_values_split_into_public_and_accounts() {
        let values = ["111122223333".to_owned(), "all".to_owned(), "444455556666".to_owned()];
        assert_eq!(
            restore_sharing(values.iter()),
            (true, vec!["111122223333".to_owned(), "444455556666".to_owned()])
        );
        assert_eq!(restore_sharing([].iter()), (false, vec![]));
    }
}
