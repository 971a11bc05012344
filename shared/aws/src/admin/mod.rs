//! The remediation admins on AWS: [`BucketAdmin`] (aws-sdk-s3), [`AccountAdmin`]
//! (aws-sdk-s3control), [`SecurityGroupAdmin`] (aws-sdk-ec2) and [`TrailAdmin`]
//! (aws-sdk-cloudtrail), and [`AwsTargets`], which gives them per account and region. Every
//! call here has its IAM action in the SAM template, and the template test checks both lists
//! match.

use aws_sdk_ec2::types::{IpPermission, IpRange, Ipv6Range};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::types::{
    AccessControlPolicy, Grant as S3Grant, Grantee, Owner, Permission as S3Permission, PublicAccessBlockConfiguration,
    Type as GranteeType,
};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use trailsight_core::remediate::ports::{
    AccountAdmin, Acl, AdminError, BucketAdmin, Grant, GroupRule, Pause, Permission, PublicAccessBlock, Scoped,
    SecurityGroup, SecurityGroupAdmin, Targets, TrailAdmin, TrailConfig, TrailStatus,
};

/// Every remediation admin, each with its own client.
#[derive(Debug, Clone)]
pub struct AwsAdmins {
    s3: aws_sdk_s3::Client,
    s3control: aws_sdk_s3control::Client,
    ec2: aws_sdk_ec2::Client,
    cloudtrail: aws_sdk_cloudtrail::Client,
}

impl AwsAdmins {
    /// Admins from one SDK configuration (`path_style` for emulators).
    pub fn from_config(config: &aws_config::SdkConfig, path_style: bool) -> Self {
        AwsAdmins {
            s3: crate::config::s3_client(config, path_style),
            s3control: crate::config::s3control_client(config, path_style),
            ec2: aws_sdk_ec2::Client::new(config),
            cloudtrail: aws_sdk_cloudtrail::Client::new(config),
        }
    }
}

/// Admins per account and region, made on first use and reused: the record's own region (and,
/// through a member role, its account), so a change is remediated where it happened.
#[derive(Debug)]
pub struct AwsTargets {
    sdk: aws_config::SdkConfig,
    path_style: bool,
    cache: Mutex<HashMap<ScopeKey, Arc<AwsAdmins>>>,
}

/// A scope's key in the cache: its region and the role assumed, if any.
type ScopeKey = (String, Option<String>);

impl AwsTargets {
    /// Targets from the function's SDK configuration (`path_style` for emulators).
    pub fn from_config(sdk: &aws_config::SdkConfig, path_style: bool) -> Self {
        AwsTargets {
            sdk: sdk.clone(),
            path_style,
            cache: Mutex::new(HashMap::new()),
        }
    }

    async fn make(&self, region: &str, role_arn: Option<&str>) -> Result<AwsAdmins, AdminError> {
        let mut builder = self.sdk.to_builder().region(aws_config::Region::new(region.to_owned()));
        if let Some(role) = role_arn {
            let provider = aws_config::sts::AssumeRoleProvider::builder(role)
                .session_name("trailsight-remediation")
                .configure(&self.sdk)
                .build()
                .await;
            // Fail here, naming the role, rather than on the first remediation call.
            aws_credential_types::provider::ProvideCredentials::provide_credentials(&provider)
                .await
                .map_err(|e| AdminError::AccessDenied {
                    action: "sts:AssumeRole".into(),
                    why: format!("{role}: {}", aws_smithy_types::error::display::DisplayErrorContext(e)),
                })?;
            builder =
                builder.credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(provider));
        }
        Ok(AwsAdmins::from_config(&builder.build(), self.path_style))
    }
}

impl Targets for AwsTargets {
    type Admins = AwsAdmins;

    async fn admins<'a>(
        &'a self,
        _account: &'a str,
        region: &'a str,
        role_arn: Option<&'a str>,
    ) -> Result<Scoped<'a, AwsAdmins>, AdminError> {
        let key = (region.to_owned(), role_arn.map(str::to_owned));
        if let Some(a) = self.cache.lock().ok().and_then(|c| c.get(&key).cloned()) {
            return Ok(Scoped::Shared(a));
        }
        let admins = Arc::new(self.make(region, role_arn).await?);
        if let Ok(mut c) = self.cache.lock() {
            c.insert(key, admins.clone());
        }
        Ok(Scoped::Shared(admins))
    }
}

const NOT_FOUND: [&str; 7] = [
    "NoSuchBucket",
    "NoSuchKey",
    "InvalidGroup.NotFound",
    "InvalidGroupId.Malformed",
    "TrailNotFoundException",
    "NotFound",
    "NoSuchAccessPoint",
];

fn error_code<E: ProvideErrorMetadata, R>(e: &SdkError<E, R>) -> Option<&str> {
    match e {
        SdkError::ServiceError(se) => se.err().code(),
        _ => None,
    }
}

/// Maps an SDK error: missing resources are `NotFound`, permission errors `AccessDenied`.
fn admin_error<E, R>(action: &str, what: &str, e: SdkError<E, R>) -> AdminError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let code = error_code(&e).unwrap_or("").to_owned();
    let message = match &e {
        SdkError::ServiceError(se) => se.err().message().unwrap_or("").to_owned(),
        other => aws_smithy_types::error::display::DisplayErrorContext(other).to_string(),
    };
    if NOT_FOUND.contains(&code.as_str()) {
        return AdminError::NotFound(what.to_owned());
    }
    if matches!(
        code.as_str(),
        "AccessDenied" | "AccessDeniedException" | "UnauthorizedOperation" | "AllAccessDisabled"
    ) {
        return AdminError::AccessDenied {
            action: action.to_owned(),
            why: format!("{code}: {message}"),
        };
    }
    AdminError::Failed {
        action: action.to_owned(),
        why: if code.is_empty() {
            message
        } else {
            format!("{code}: {message}")
        },
    }
}

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
    let failed = |e: aws_sdk_s3::error::BuildError| AdminError::Failed {
        action: "s3:PutBucketAcl".into(),
        why: e.to_string(),
    };
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
        grants.push(
            S3Grant::builder()
                .grantee(grantee)
                .permission(S3Permission::from(g.permission.as_str()))
                .build(),
        );
    }
    let owner = Owner::builder()
        .set_id(acl.owner_id.clone())
        .set_display_name(acl.owner_name.clone())
        .build();
    Ok(AccessControlPolicy::builder()
        .owner(owner)
        .set_grants(Some(grants))
        .build())
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
        self.s3
            .put_bucket_policy()
            .bucket(bucket)
            .policy(policy)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| admin_error("s3:PutBucketPolicy", &format!("bucket {bucket}"), e))
    }

    async fn delete_policy(&self, bucket: &str) -> Result<(), AdminError> {
        self.s3
            .delete_bucket_policy()
            .bucket(bucket)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| admin_error("s3:DeleteBucketPolicy", &format!("bucket {bucket}"), e))
    }

    async fn policy_status(&self, bucket: &str) -> Result<Option<bool>, AdminError> {
        match self.s3.get_bucket_policy_status().bucket(bucket).send().await {
            Ok(out) => Ok(Some(out.policy_status().and_then(|p| p.is_public()).unwrap_or(false))),
            Err(e) if error_code(&e) == Some("NoSuchBucketPolicy") => Ok(None),
            Err(e) => Err(admin_error("s3:GetBucketPolicyStatus", &format!("bucket {bucket}"), e)),
        }
    }

    async fn buckets(&self) -> Result<Vec<String>, AdminError> {
        let mut names = vec![];
        let mut token: Option<String> = None;
        loop {
            let out = self
                .s3
                .list_buckets()
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(|e| admin_error("s3:ListAllMyBuckets", "the account's buckets", e))?;
            names.extend(out.buckets().iter().filter_map(|b| b.name().map(str::to_owned)));
            match out.continuation_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_owned()),
                _ => return Ok(names),
            }
        }
    }

    async fn acl(&self, bucket: &str, key: Option<&str>, version: Option<&str>) -> Result<Acl, AdminError> {
        match key {
            None => {
                let out = self
                    .s3
                    .get_bucket_acl()
                    .bucket(bucket)
                    .send()
                    .await
                    .map_err(|e| admin_error("s3:GetBucketAcl", &format!("bucket {bucket}"), e))?;
                Ok(acl_from(out.owner(), out.grants()))
            }
            Some(k) => {
                let out = self
                    .s3
                    .get_object_acl()
                    .bucket(bucket)
                    .key(k)
                    .set_version_id(version.map(str::to_owned))
                    .send()
                    .await
                    .map_err(|e| admin_error("s3:GetObjectAcl", &format!("object {bucket}/{k}"), e))?;
                Ok(acl_from(out.owner(), out.grants()))
            }
        }
    }

    async fn put_acl(
        &self,
        bucket: &str,
        key: Option<&str>,
        version: Option<&str>,
        acl: &Acl,
    ) -> Result<(), AdminError> {
        let policy = acl_to(acl)?;
        match key {
            None => self
                .s3
                .put_bucket_acl()
                .bucket(bucket)
                .access_control_policy(policy)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| admin_error("s3:PutBucketAcl", &format!("bucket {bucket}"), e)),
            Some(k) => self
                .s3
                .put_object_acl()
                .bucket(bucket)
                .key(k)
                .set_version_id(version.map(str::to_owned))
                .access_control_policy(policy)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| admin_error("s3:PutObjectAcl", &format!("object {bucket}/{k}"), e)),
        }
    }

    async fn public_access_block(&self, bucket: &str) -> Result<Option<PublicAccessBlock>, AdminError> {
        match self.s3.get_public_access_block().bucket(bucket).send().await {
            Ok(out) => Ok(pab_from(out.public_access_block_configuration())),
            Err(e) if error_code(&e) == Some("NoSuchPublicAccessBlockConfiguration") => Ok(None),
            Err(e) => Err(admin_error(
                "s3:GetBucketPublicAccessBlock",
                &format!("bucket {bucket}"),
                e,
            )),
        }
    }

    async fn put_public_access_block(&self, bucket: &str, pab: &PublicAccessBlock) -> Result<(), AdminError> {
        self.s3
            .put_public_access_block()
            .bucket(bucket)
            .public_access_block_configuration(s3_pab(pab))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| admin_error("s3:PutBucketPublicAccessBlock", &format!("bucket {bucket}"), e))
    }

    async fn tags(&self, bucket: &str) -> Result<BTreeMap<String, String>, AdminError> {
        match self.s3.get_bucket_tagging().bucket(bucket).send().await {
            Ok(out) => Ok(out
                .tag_set()
                .iter()
                .map(|t| (t.key().to_owned(), t.value().to_owned()))
                .collect()),
            Err(e) if error_code(&e) == Some("NoSuchTagSet") => Ok(BTreeMap::new()),
            Err(e) => Err(admin_error("s3:GetBucketTagging", &format!("bucket {bucket}"), e)),
        }
    }
}

impl AccountAdmin for AwsAdmins {
    async fn account_public_access_block(&self, account: &str) -> Result<Option<PublicAccessBlock>, AdminError> {
        match self
            .s3control
            .get_public_access_block()
            .account_id(account)
            .send()
            .await
        {
            Ok(out) => Ok(out.public_access_block_configuration().map(|c| PublicAccessBlock {
                block_public_acls: c.block_public_acls().unwrap_or(false),
                ignore_public_acls: c.ignore_public_acls().unwrap_or(false),
                block_public_policy: c.block_public_policy().unwrap_or(false),
                restrict_public_buckets: c.restrict_public_buckets().unwrap_or(false),
            })),
            Err(e) if error_code(&e) == Some("NoSuchPublicAccessBlockConfiguration") => Ok(None),
            Err(e) => Err(admin_error(
                "s3:GetAccountPublicAccessBlock",
                &format!("account {account}"),
                e,
            )),
        }
    }

    async fn put_account_public_access_block(&self, account: &str, pab: &PublicAccessBlock) -> Result<(), AdminError> {
        let config = aws_sdk_s3control::types::PublicAccessBlockConfiguration::builder()
            .block_public_acls(pab.block_public_acls)
            .ignore_public_acls(pab.ignore_public_acls)
            .block_public_policy(pab.block_public_policy)
            .restrict_public_buckets(pab.restrict_public_buckets)
            .build();
        self.s3control
            .put_public_access_block()
            .account_id(account)
            .public_access_block_configuration(config)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| admin_error("s3:PutAccountPublicAccessBlock", &format!("account {account}"), e))
    }
}

fn permission_from(p: &IpPermission) -> Permission {
    let port = |v: Option<i32>| v.map(i64::from);
    Permission {
        protocol: p.ip_protocol().unwrap_or("-1").to_owned(),
        from: port(p.from_port()),
        to: port(p.to_port()),
        ipv4: p
            .ip_ranges()
            .iter()
            .filter_map(|r| r.cidr_ip().map(str::to_owned))
            .collect(),
        ipv6: p
            .ipv6_ranges()
            .iter()
            .filter_map(|r| r.cidr_ipv6().map(str::to_owned))
            .collect(),
        others: p
            .user_id_group_pairs()
            .iter()
            .filter_map(|g| g.group_id().map(str::to_owned))
            .chain(
                p.prefix_list_ids()
                    .iter()
                    .filter_map(|l| l.prefix_list_id().map(str::to_owned)),
            )
            .collect(),
    }
}

fn permission_to(p: &Permission) -> IpPermission {
    let port = |v: Option<i64>| v.and_then(|v| i32::try_from(v).ok());
    IpPermission::builder()
        .ip_protocol(&p.protocol)
        .set_from_port(port(p.from))
        .set_to_port(port(p.to))
        .set_ip_ranges(Some(
            p.ipv4.iter().map(|c| IpRange::builder().cidr_ip(c).build()).collect(),
        ))
        .set_ipv6_ranges(Some(
            p.ipv6
                .iter()
                .map(|c| Ipv6Range::builder().cidr_ipv6(c).build())
                .collect(),
        ))
        .build()
}

impl SecurityGroupAdmin for AwsAdmins {
    async fn group(&self, id: Option<&str>, name: Option<&str>) -> Result<SecurityGroup, AdminError> {
        let what = format!("security group {}", id.or(name).unwrap_or("?"));
        let req = self.ec2.describe_security_groups();
        let req = match (id, name) {
            (Some(id), _) => req.group_ids(id),
            (None, Some(name)) => req.group_names(name),
            (None, None) => return Err(AdminError::NotFound(what)),
        };
        let out = req
            .send()
            .await
            .map_err(|e| admin_error("ec2:DescribeSecurityGroups", &what, e))?;
        let g = out
            .security_groups()
            .first()
            .ok_or_else(|| AdminError::NotFound(what.clone()))?;
        Ok(SecurityGroup {
            id: g.group_id().unwrap_or("").to_owned(),
            name: g.group_name().unwrap_or("").to_owned(),
            tags: g
                .tags()
                .iter()
                .filter_map(|t| Some((t.key()?.to_owned(), t.value().unwrap_or("").to_owned())))
                .collect(),
            ingress: g.ip_permissions().iter().map(permission_from).collect(),
        })
    }

    async fn rules(&self, group_id: &str) -> Result<Vec<GroupRule>, AdminError> {
        let what = format!("security group {group_id}");
        let mut rules = vec![];
        let mut token: Option<String> = None;
        loop {
            let out = self
                .ec2
                .describe_security_group_rules()
                .filters(
                    aws_sdk_ec2::types::Filter::builder()
                        .name("group-id")
                        .values(group_id)
                        .build(),
                )
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| admin_error("ec2:DescribeSecurityGroupRules", &what, e))?;
            rules.extend(out.security_group_rules().iter().map(group_rule_from));
            match out.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_owned()),
                _ => return Ok(rules),
            }
        }
    }

    async fn revoke_rules(&self, group_id: &str, rule_ids: &[String]) -> Result<(), AdminError> {
        self.ec2
            .revoke_security_group_ingress()
            .group_id(group_id)
            .set_security_group_rule_ids(Some(rule_ids.to_vec()))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                admin_error(
                    "ec2:RevokeSecurityGroupIngress",
                    &format!("security group {group_id}"),
                    e,
                )
            })
    }

    async fn revoke(&self, group_id: &str, permissions: &[Permission]) -> Result<(), AdminError> {
        self.ec2
            .revoke_security_group_ingress()
            .group_id(group_id)
            .set_ip_permissions(Some(permissions.iter().map(permission_to).collect()))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                admin_error(
                    "ec2:RevokeSecurityGroupIngress",
                    &format!("security group {group_id}"),
                    e,
                )
            })
    }
}

fn group_rule_from(r: &aws_sdk_ec2::types::SecurityGroupRule) -> GroupRule {
    GroupRule {
        id: r.security_group_rule_id().unwrap_or("").to_owned(),
        egress: r.is_egress().unwrap_or(false),
        protocol: r.ip_protocol().unwrap_or("-1").to_owned(),
        from: r.from_port().map(i64::from),
        to: r.to_port().map(i64::from),
        cidr: r.cidr_ipv4().or(r.cidr_ipv6()).map(str::to_owned),
    }
}

impl TrailAdmin for AwsAdmins {
    async fn trail_config(&self, trail: &str) -> Result<TrailConfig, AdminError> {
        let what = format!("trail {trail}");
        let out = self
            .cloudtrail
            .get_trail()
            .name(trail)
            .send()
            .await
            .map_err(|e| admin_error("cloudtrail:GetTrail", &what, e))?;
        let t = out.trail().ok_or_else(|| AdminError::NotFound(what.clone()))?;
        let selectors = self
            .cloudtrail
            .get_event_selectors()
            .trail_name(trail)
            .send()
            .await
            .map_err(|e| admin_error("cloudtrail:GetEventSelectors", &what, e))?;
        let selectors = if selectors.advanced_event_selectors().is_empty() {
            let basic: Vec<serde_json::Value> = selectors
                .event_selectors()
                .iter()
                .map(|s| {
                    serde_json::json!({
                        "readWriteType": s.read_write_type().map(|t| t.as_str()).unwrap_or("All"),
                        "includeManagementEvents": s.include_management_events().unwrap_or(true),
                    })
                })
                .collect();
            serde_json::json!({ "eventSelectors": basic })
        } else {
            let advanced: Vec<serde_json::Value> = selectors
                .advanced_event_selectors()
                .iter()
                .map(|s| {
                    let fields: Vec<serde_json::Value> = s
                        .field_selectors()
                        .iter()
                        .map(|f| serde_json::json!({"field": f.field(), "equals": f.equals()}))
                        .collect();
                    serde_json::json!({ "fieldSelectors": fields })
                })
                .collect();
            serde_json::json!({ "advancedEventSelectors": advanced })
        };
        Ok(TrailConfig {
            multi_region: t.is_multi_region_trail().unwrap_or(false),
            global_service_events: t.include_global_service_events().unwrap_or(false),
            bucket: t.s3_bucket_name().unwrap_or("").to_owned(),
            selectors,
        })
    }

    async fn trail_status(&self, trail: &str) -> Result<TrailStatus, AdminError> {
        let out = self
            .cloudtrail
            .get_trail_status()
            .name(trail)
            .send()
            .await
            .map_err(|e| admin_error("cloudtrail:GetTrailStatus", &format!("trail {trail}"), e))?;
        Ok(TrailStatus {
            is_logging: out.is_logging().unwrap_or(false),
        })
    }

    async fn start_logging(&self, trail: &str) -> Result<(), AdminError> {
        self.cloudtrail
            .start_logging()
            .name(trail)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| admin_error("cloudtrail:StartLogging", &format!("trail {trail}"), e))
    }
}

impl Pause for AwsAdmins {
    async fn pause(&self, duration: std::time::Duration) {
        tokio::time::sleep(duration).await;
    }
}
