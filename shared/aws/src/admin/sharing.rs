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

use super::{done, sent, tag_map, AwsAdmins};
use aws_sdk_ec2::types::{
    ImageAttributeName, LaunchPermission, LaunchPermissionModifications, OperationType, PermissionGroup,
    SnapshotAttributeName,
};
use std::collections::BTreeMap;
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

/// Sharing from RDS snapshot attributes, as (name, values) pairs: the `restore` values,
/// public when `all` is among them, the other values account ids.
fn restore_sharing<'a>(attributes: impl Iterator<Item = (Option<&'a str>, &'a [String])>) -> Sharing {
    let mut sharing = Sharing::default();
    for value in attributes.filter(|(name, _)| *name == Some(RESTORE)).flat_map(|(_, v)| v) {
        if value == ALL {
            sharing.public = true;
        } else {
            sharing.accounts.push(value.clone());
        }
    }
    sharing
}

/// Sharing from EC2 permissions, as (group, account id) pairs: public when the group `all`
/// is among them.
fn ec2_sharing<'a>(permissions: impl Iterator<Item = (Option<&'a PermissionGroup>, Option<&'a str>)>) -> Sharing {
    let mut sharing = Sharing::default();
    for (group, account) in permissions {
        sharing.public |= group == Some(&PermissionGroup::All);
        sharing.accounts.extend(account.map(str::to_owned));
    }
    sharing
}

impl AwsAdmins {
    /// The tags of a snapshot or image, from its description; `None` when there is none.
    async fn shared_tags(
        &self,
        kind: SharedKind,
        id: &str,
        what: &str,
    ) -> Result<Option<BTreeMap<String, String>>, AdminError> {
        let ec2_tags = |tags: &[aws_sdk_ec2::types::Tag]| tag_map(tags.iter().map(|t| (t.key(), t.value())));
        let rds_tags = |tags: &[aws_sdk_rds::types::Tag]| tag_map(tags.iter().map(|t| (t.key(), t.value())));
        Ok(match kind {
            SharedKind::Snapshot => {
                let out =
                    sent("ec2:DescribeSnapshots", what, self.ec2.describe_snapshots().snapshot_ids(id).send()).await?;
                out.snapshots().first().map(|s| ec2_tags(s.tags()))
            }
            SharedKind::Image => {
                let out = sent("ec2:DescribeImages", what, self.ec2.describe_images().image_ids(id).send()).await?;
                out.images().first().map(|i| ec2_tags(i.tags()))
            }
            SharedKind::DbSnapshot => {
                let call = self.rds.describe_db_snapshots().db_snapshot_identifier(id);
                let out = sent("rds:DescribeDBSnapshots", what, call.send()).await?;
                out.db_snapshots().first().map(|s| rds_tags(s.tag_list()))
            }
            SharedKind::DbClusterSnapshot => {
                let call = self.rds.describe_db_cluster_snapshots().db_cluster_snapshot_identifier(id);
                let out = sent("rds:DescribeDBClusterSnapshots", what, call.send()).await?;
                out.db_cluster_snapshots().first().map(|s| rds_tags(s.tag_list()))
            }
        })
    }

    /// Whom a snapshot or image is shared with, from the attribute that says so.
    async fn shared_with(&self, kind: SharedKind, id: &str, what: &str) -> Result<Sharing, AdminError> {
        Ok(match kind {
            SharedKind::Snapshot => {
                let attribute = SnapshotAttributeName::CreateVolumePermission;
                let call = self.ec2.describe_snapshot_attribute().snapshot_id(id).attribute(attribute);
                let out = sent("ec2:DescribeSnapshotAttribute", what, call.send()).await?;
                ec2_sharing(out.create_volume_permissions().iter().map(|p| (p.group(), p.user_id())))
            }
            SharedKind::Image => {
                let call =
                    self.ec2.describe_image_attribute().image_id(id).attribute(ImageAttributeName::LaunchPermission);
                let out = sent("ec2:DescribeImageAttribute", what, call.send()).await?;
                ec2_sharing(out.launch_permissions().iter().map(|p| (p.group(), p.user_id())))
            }
            SharedKind::DbSnapshot => {
                let call = self.rds.describe_db_snapshot_attributes().db_snapshot_identifier(id);
                let out = sent("rds:DescribeDBSnapshotAttributes", what, call.send()).await?;
                let attributes = out.db_snapshot_attributes_result().map(|r| r.db_snapshot_attributes());
                restore_sharing(
                    attributes.unwrap_or_default().iter().map(|a| (a.attribute_name(), a.attribute_values())),
                )
            }
            SharedKind::DbClusterSnapshot => {
                let call = self.rds.describe_db_cluster_snapshot_attributes().db_cluster_snapshot_identifier(id);
                let out = sent("rds:DescribeDBClusterSnapshotAttributes", what, call.send()).await?;
                let attributes =
                    out.db_cluster_snapshot_attributes_result().map(|r| r.db_cluster_snapshot_attributes());
                restore_sharing(
                    attributes.unwrap_or_default().iter().map(|a| (a.attribute_name(), a.attribute_values())),
                )
            }
        })
    }
}

impl SharingAdmin for AwsAdmins {
    /// Two calls: the description (its tags; `NotFound` when it lists no such resource), then
    /// the sharing attribute.
    async fn sharing(&self, kind: SharedKind, id: &str) -> Result<Sharing, AdminError> {
        let what = what(kind, id);
        let tags = self.shared_tags(kind, id, &what).await?.ok_or_else(|| AdminError::NotFound(what.clone()))?;
        Ok(Sharing { tags, ..self.shared_with(kind, id, &what).await? })
    }

    async fn unshare_public(&self, kind: SharedKind, id: &str) -> Result<(), AdminError> {
        let what = what(kind, id);
        match kind {
            // The flat form (OperationType, GroupNames) rather than CreateVolumePermission.Remove:
            // both are AWS's, and emulators know this one.
            SharedKind::Snapshot => {
                let call = self
                    .ec2
                    .modify_snapshot_attribute()
                    .snapshot_id(id)
                    .attribute(SnapshotAttributeName::CreateVolumePermission)
                    .operation_type(OperationType::Remove)
                    .group_names(ALL);
                done("ec2:ModifySnapshotAttribute", &what, call.send()).await
            }
            SharedKind::Image => {
                let all = LaunchPermission::builder().group(PermissionGroup::All).build();
                let removal = LaunchPermissionModifications::builder().remove(all).build();
                let call = self.ec2.modify_image_attribute().image_id(id).launch_permission(removal);
                done("ec2:ModifyImageAttribute", &what, call.send()).await
            }
            SharedKind::DbSnapshot => {
                let call = self.rds.modify_db_snapshot_attribute().db_snapshot_identifier(id);
                let call = call.attribute_name(RESTORE).values_to_remove(ALL);
                done("rds:ModifyDBSnapshotAttribute", &what, call.send()).await
            }
            SharedKind::DbClusterSnapshot => {
                let call = self.rds.modify_db_cluster_snapshot_attribute().db_cluster_snapshot_identifier(id);
                let call = call.attribute_name(RESTORE).values_to_remove(ALL);
                done("rds:ModifyDBClusterSnapshotAttribute", &what, call.send()).await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restore_values_split_into_public_and_accounts() {
        // Given the restore attribute sharing with two accounts and `all`, beside another attribute
        let restore = ["111122223333".to_owned(), "all".to_owned(), "444455556666".to_owned()];
        let other = ["999999999999".to_owned()];
        let attributes = [(Some("restore"), &restore[..]), (Some("other"), &other[..])];
        // When the sharing is read from them
        let sharing = restore_sharing(attributes.into_iter());
        // Then it is public, shared with the two accounts, and the other attribute is ignored
        assert!(sharing.public);
        assert_eq!(sharing.accounts, vec!["111122223333".to_owned(), "444455556666".to_owned()]);
        // And without values it is private and shared with nobody
        let none = restore_sharing(std::iter::empty());
        assert!(!none.public && none.accounts.is_empty());
    }
}
