//! [`BucketAdmin`] (aws-sdk-s3): bucket policies, ACLs and tags; [`PublicAccessBlockAdmin`]
//! (aws-sdk-s3, aws-sdk-s3control): Block Public Access on a bucket or on the account.

use super::{admin_error, done, error_code, sent, AwsAdmins};
use aws_sdk_s3::types::{
    AccessControlPolicy, Grant as S3Grant, Grantee, Owner, Permission as S3Permission, PublicAccessBlockConfiguration,
    Type as GranteeType,
};
use std::collections::BTreeMap;
use trailsight_core::remediate::ports::{
    Acl, AclOf, AdminError, BlockLevel, BucketAdmin, Grant, PublicAccessBlock, PublicAccessBlockAdmin,
};

fn pab_from(c: Option<&PublicAccessBlockConfiguration>) -> Option<PublicAccessBlock> {
    c.map(|c| PublicAccessBlock {
        block_public_acls: c.block_public_acls().unwrap_or(false),
        ignore_public_acls: c.ignore_public_acls().unwrap_or(false),
        block_public_policy: c.block_public_policy().unwrap_or(false),
        restrict_public_buckets: c.restrict_public_buckets().unwrap_or(false),
    })
}

fn acl_from(owner: Option<&Owner>, grants: &[S3Grant]) -> Acl {
    Acl {
        owner_id: owner.and_then(Owner::id).map(str::to_owned),
        owner_name: owner.and_then(Owner::display_name).map(str::to_owned),
        grants: grants
            .iter()
            .filter_map(|g| {
                let e = g.grantee()?;
                Some(Grant {
                    grantee_type: e.r#type().as_str().to_owned(),
                    id: e.id().map(str::to_owned),
                    uri: e.uri().map(str::to_owned),
                    email: e.email_address().map(str::to_owned),
                    display_name: e.display_name().map(str::to_owned),
                    permission: g.permission().map(|p| p.as_str().to_owned()).unwrap_or_default(),
                })
            })
            .collect(),
    }
}

fn acl_to(acl: &Acl) -> Result<AccessControlPolicy, AdminError> {
    let failed =
        |e: aws_sdk_s3::error::BuildError| AdminError::Failed { action: "s3:PutBucketAcl".into(), why: e.to_string() };
    let mut grants = Vec::with_capacity(acl.grants.len());
    for g in &acl.grants {
        let grantee = Grantee::builder()
            .r#type(GranteeType::from(g.grantee_type.as_str()))
            .set_id(g.id.clone())
            .set_uri(g.uri.clone())
            .set_email_address(g.email.clone())
            .set_display_name(g.display_name.clone())
            .build()
            .map_err(failed)?;
        grants.push(S3Grant::builder().grantee(grantee).permission(S3Permission::from(g.permission.as_str())).build());
    }
    let owner = Owner::builder().set_id(acl.owner_id.clone()).set_display_name(acl.owner_name.clone()).build();
    Ok(AccessControlPolicy::builder().owner(owner).set_grants(Some(grants)).build())
}

fn s3_pab(pab: &PublicAccessBlock) -> PublicAccessBlockConfiguration {
    PublicAccessBlockConfiguration::builder()
        .block_public_acls(pab.block_public_acls)
        .ignore_public_acls(pab.ignore_public_acls)
        .block_public_policy(pab.block_public_policy)
        .restrict_public_buckets(pab.restrict_public_buckets)
        .build()
}

impl BucketAdmin for AwsAdmins {
    async fn policy(&self, bucket: &str) -> Result<Option<String>, AdminError> {
        match self.s3.get_bucket_policy().bucket(bucket).send().await {
            Ok(out) => Ok(out.policy().map(str::to_owned)),
            Err(e) if error_code(&e) == Some("NoSuchBucketPolicy") => Ok(None),
            Err(e) => Err(admin_error("s3:GetBucketPolicy", &format!("bucket {bucket}"), e)),
        }
    }

    async fn put_policy(&self, bucket: &str, policy: &str) -> Result<(), AdminError> {
        let call = self.s3.put_bucket_policy().bucket(bucket).policy(policy);
        done("s3:PutBucketPolicy", &format!("bucket {bucket}"), call.send()).await
    }

    async fn delete_policy(&self, bucket: &str) -> Result<(), AdminError> {
        done("s3:DeleteBucketPolicy", &format!("bucket {bucket}"), self.s3.delete_bucket_policy().bucket(bucket).send())
            .await
    }

    async fn policy_status(&self, bucket: &str) -> Result<Option<bool>, AdminError> {
        match self.s3.get_bucket_policy_status().bucket(bucket).send().await {
            Ok(out) => Ok(Some(out.policy_status().and_then(|p| p.is_public()).unwrap_or(false))),
            Err(e) if error_code(&e) == Some("NoSuchBucketPolicy") => Ok(None),
            Err(e) => Err(admin_error("s3:GetBucketPolicyStatus", &format!("bucket {bucket}"), e)),
        }
    }

    async fn buckets(&self) -> Result<Vec<String>, AdminError> {
        let pages = self.s3.list_buckets().into_paginator().items().send();
        let buckets = sent("s3:ListAllMyBuckets", "the account's buckets", pages.try_collect()).await?;
        Ok(buckets.iter().filter_map(|b| b.name().map(str::to_owned)).collect())
    }

    async fn acl(&self, of: AclOf<'_>) -> Result<Acl, AdminError> {
        let AclOf { bucket, key, version } = of;
        match key {
            None => {
                let call = self.s3.get_bucket_acl().bucket(bucket);
                let out = sent("s3:GetBucketAcl", &format!("bucket {bucket}"), call.send()).await?;
                Ok(acl_from(out.owner(), out.grants()))
            }
            Some(k) => {
                let call = self.s3.get_object_acl().bucket(bucket).key(k).set_version_id(version.map(str::to_owned));
                let out = sent("s3:GetObjectAcl", &format!("object {bucket}/{k}"), call.send()).await?;
                Ok(acl_from(out.owner(), out.grants()))
            }
        }
    }

    async fn put_acl(&self, of: AclOf<'_>, acl: &Acl) -> Result<(), AdminError> {
        let AclOf { bucket, key, version } = of;
        let policy = acl_to(acl)?;
        match key {
            None => {
                let call = self.s3.put_bucket_acl().bucket(bucket).access_control_policy(policy);
                done("s3:PutBucketAcl", &format!("bucket {bucket}"), call.send()).await
            }
            Some(k) => {
                let call = self
                    .s3
                    .put_object_acl()
                    .bucket(bucket)
                    .key(k)
                    .set_version_id(version.map(str::to_owned))
                    .access_control_policy(policy);
                done("s3:PutObjectAcl", &format!("object {bucket}/{k}"), call.send()).await
            }
        }
    }

    async fn tags(&self, bucket: &str) -> Result<BTreeMap<String, String>, AdminError> {
        match self.s3.get_bucket_tagging().bucket(bucket).send().await {
            Ok(out) => Ok(out.tag_set().iter().map(|t| (t.key().to_owned(), t.value().to_owned())).collect()),
            Err(e) if error_code(&e) == Some("NoSuchTagSet") => Ok(BTreeMap::new()),
            Err(e) => Err(admin_error("s3:GetBucketTagging", &format!("bucket {bucket}"), e)),
        }
    }
}

impl AwsAdmins {
    async fn bucket_public_access_block(&self, bucket: &str) -> Result<Option<PublicAccessBlock>, AdminError> {
        match self.s3.get_public_access_block().bucket(bucket).send().await {
            Ok(out) => Ok(pab_from(out.public_access_block_configuration())),
            Err(e) if error_code(&e) == Some("NoSuchPublicAccessBlockConfiguration") => Ok(None),
            Err(e) => Err(admin_error("s3:GetBucketPublicAccessBlock", &format!("bucket {bucket}"), e)),
        }
    }

    async fn account_public_access_block(&self, account: &str) -> Result<Option<PublicAccessBlock>, AdminError> {
        match self.s3control.get_public_access_block().account_id(account).send().await {
            Ok(out) => Ok(out.public_access_block_configuration().map(|c| PublicAccessBlock {
                block_public_acls: c.block_public_acls().unwrap_or(false),
                ignore_public_acls: c.ignore_public_acls().unwrap_or(false),
                block_public_policy: c.block_public_policy().unwrap_or(false),
                restrict_public_buckets: c.restrict_public_buckets().unwrap_or(false),
            })),
            Err(e) if error_code(&e) == Some("NoSuchPublicAccessBlockConfiguration") => Ok(None),
            Err(e) => Err(admin_error("s3:GetAccountPublicAccessBlock", &format!("account {account}"), e)),
        }
    }

    async fn put_bucket_public_access_block(&self, bucket: &str, pab: &PublicAccessBlock) -> Result<(), AdminError> {
        let call = self.s3.put_public_access_block().bucket(bucket).public_access_block_configuration(s3_pab(pab));
        done("s3:PutBucketPublicAccessBlock", &format!("bucket {bucket}"), call.send()).await
    }

    async fn put_account_public_access_block(&self, account: &str, pab: &PublicAccessBlock) -> Result<(), AdminError> {
        let config = aws_sdk_s3control::types::PublicAccessBlockConfiguration::builder()
            .block_public_acls(pab.block_public_acls)
            .ignore_public_acls(pab.ignore_public_acls)
            .block_public_policy(pab.block_public_policy)
            .restrict_public_buckets(pab.restrict_public_buckets)
            .build();
        let call =
            self.s3control.put_public_access_block().account_id(account).public_access_block_configuration(config);
        done("s3:PutAccountPublicAccessBlock", &format!("account {account}"), call.send()).await
    }
}

impl PublicAccessBlockAdmin for AwsAdmins {
    async fn public_access_block(&self, level: &BlockLevel) -> Result<Option<PublicAccessBlock>, AdminError> {
        match level {
            BlockLevel::Bucket(bucket) => self.bucket_public_access_block(bucket).await,
            BlockLevel::Account(account) => self.account_public_access_block(account).await,
        }
    }

    async fn put_public_access_block(&self, level: &BlockLevel, pab: &PublicAccessBlock) -> Result<(), AdminError> {
        match level {
            BlockLevel::Bucket(bucket) => self.put_bucket_public_access_block(bucket, pab).await,
            BlockLevel::Account(account) => self.put_account_public_access_block(account, pab).await,
        }
    }
}
