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
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use std::collections::BTreeMap;
use std::future::Future;
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
fn restore_sharing<'a>(
    attributes: impl Iterator<Item = (Option<&'a str>, &'a [String])>,
    tags: BTreeMap<String, String>,
) -> Sharing {
    let mut sharing = Sharing { tags, ..Sharing::default() };
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
fn ec2_sharing<'a>(
    permissions: impl Iterator<Item = (Option<&'a PermissionGroup>, Option<&'a str>)>,
    tags: BTreeMap<String, String>,
) -> Sharing {
    let mut sharing = Sharing { tags, ..Sharing::default() };
    for (group, account) in permissions {
        sharing.public |= group == Some(&PermissionGroup::All);
        sharing.accounts.extend(account.map(str::to_owned));
    }
    sharing
}

/// Reads a shared resource in two calls: its description (`NotFound` when `tags` finds no
/// resource in it, else its tags), then the attribute that says whom it is shared with.
async fn described<D, A, E1, R1, E2, R2>(
    what: &str,
    describe: (&str, impl Future<Output = Result<D, SdkError<E1, R1>>>),
    tags: impl FnOnce(&D) -> Option<BTreeMap<String, String>>,
    attribute: (&str, impl Future<Output = Result<A, SdkError<E2, R2>>>),
) -> Result<(BTreeMap<String, String>, A), AdminError>
where
    E1: ProvideErrorMetadata + std::error::Error + 'static,
    R1: std::fmt::Debug,
    E2: ProvideErrorMetadata + std::error::Error + 'static,
    R2: std::fmt::Debug,
{
    let description = sent(describe.0, what, describe.1).await?;
    let tags = tags(&description).ok_or_else(|| AdminError::NotFound(what.to_owned()))?;
    Ok((tags, sent(attribute.0, what, attribute.1).await?))
}

impl AwsAdmins {
    async fn snapshot_sharing(&self, id: &str, what: &str) -> Result<Sharing, AdminError> {
        let (tags, out) = described(
            what,
            ("ec2:DescribeSnapshots", self.ec2.describe_snapshots().snapshot_ids(id).send()),
            |d| d.snapshots().first().map(|s| tag_map(s.tags().iter().map(|t| (t.key(), t.value())))),
            (
                "ec2:DescribeSnapshotAttribute",
                self.ec2
                    .describe_snapshot_attribute()
                    .snapshot_id(id)
                    .attribute(SnapshotAttributeName::CreateVolumePermission)
                    .send(),
            ),
        )
        .await?;
        let permissions = out.create_volume_permissions().iter();
        Ok(ec2_sharing(permissions.map(|p| (p.group(), p.user_id())), tags))
    }

    async fn image_sharing(&self, id: &str, what: &str) -> Result<Sharing, AdminError> {
        let (tags, out) = described(
            what,
            ("ec2:DescribeImages", self.ec2.describe_images().image_ids(id).send()),
            |d| d.images().first().map(|i| tag_map(i.tags().iter().map(|t| (t.key(), t.value())))),
            (
                "ec2:DescribeImageAttribute",
                self.ec2.describe_image_attribute().image_id(id).attribute(ImageAttributeName::LaunchPermission).send(),
            ),
        )
        .await?;
        let permissions = out.launch_permissions().iter();
        Ok(ec2_sharing(permissions.map(|p| (p.group(), p.user_id())), tags))
    }

    async fn db_snapshot_sharing(&self, id: &str, what: &str) -> Result<Sharing, AdminError> {
        let (tags, out) = described(
            what,
            ("rds:DescribeDBSnapshots", self.rds.describe_db_snapshots().db_snapshot_identifier(id).send()),
            |d| d.db_snapshots().first().map(|s| tag_map(s.tag_list().iter().map(|t| (t.key(), t.value())))),
            (
                "rds:DescribeDBSnapshotAttributes",
                self.rds.describe_db_snapshot_attributes().db_snapshot_identifier(id).send(),
            ),
        )
        .await?;
        let attributes = out.db_snapshot_attributes_result().map(|r| r.db_snapshot_attributes());
        let pairs = attributes.unwrap_or_default().iter();
        Ok(restore_sharing(pairs.map(|a| (a.attribute_name(), a.attribute_values())), tags))
    }

    async fn db_cluster_snapshot_sharing(&self, id: &str, what: &str) -> Result<Sharing, AdminError> {
        let (tags, out) = described(
            what,
            (
                "rds:DescribeDBClusterSnapshots",
                self.rds.describe_db_cluster_snapshots().db_cluster_snapshot_identifier(id).send(),
            ),
            |d| d.db_cluster_snapshots().first().map(|s| tag_map(s.tag_list().iter().map(|t| (t.key(), t.value())))),
            (
                "rds:DescribeDBClusterSnapshotAttributes",
                self.rds.describe_db_cluster_snapshot_attributes().db_cluster_snapshot_identifier(id).send(),
            ),
        )
        .await?;
        let attributes = out.db_cluster_snapshot_attributes_result().map(|r| r.db_cluster_snapshot_attributes());
        let pairs = attributes.unwrap_or_default().iter();
        Ok(restore_sharing(pairs.map(|a| (a.attribute_name(), a.attribute_values())), tags))
    }
}

impl SharingAdmin for AwsAdmins {
    async fn sharing(&self, kind: SharedKind, id: &str) -> Result<Sharing, AdminError> {
        let what = what(kind, id);
        match kind {
            SharedKind::Snapshot => self.snapshot_sharing(id, &what).await,
            SharedKind::Image => self.image_sharing(id, &what).await,
            SharedKind::DbSnapshot => self.db_snapshot_sharing(id, &what).await,
            SharedKind::DbClusterSnapshot => self.db_cluster_snapshot_sharing(id, &what).await,
        }
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
                let call = self
                    .rds
                    .modify_db_snapshot_attribute()
                    .db_snapshot_identifier(id)
                    .attribute_name(RESTORE)
                    .values_to_remove(ALL);
                done("rds:ModifyDBSnapshotAttribute", &what, call.send()).await
            }
            SharedKind::DbClusterSnapshot => {
                let call = self
                    .rds
                    .modify_db_cluster_snapshot_attribute()
                    .db_cluster_snapshot_identifier(id)
                    .attribute_name(RESTORE)
                    .values_to_remove(ALL);
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
        let sharing = restore_sharing(attributes.into_iter(), BTreeMap::new());
        // Then it is public, shared with the two accounts, and the other attribute is ignored
        assert!(sharing.public);
        assert_eq!(sharing.accounts, vec!["111122223333".to_owned(), "444455556666".to_owned()]);
        // And without values it is private and shared with nobody
        let none = restore_sharing(std::iter::empty(), BTreeMap::new());
        assert!(!none.public && none.accounts.is_empty());
    }
}
