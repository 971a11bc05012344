//! The remediation ports: what the remediation function may read and change, one trait per
//! service, and the live-state models they exchange. AWS adapters live in `trailsight-aws`;
//! in-memory fakes in [`super::memory`].

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::future::Future;

/// A failed call on a live resource.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdminError {
    /// The resource does not exist (any more).
    #[error("{0} does not exist")]
    NotFound(String),
    /// The function may not make this call.
    #[error(
        "{action} denied: {why}; grant the remediation role {action} (the SAM template does) or exempt the resource"
    )]
    AccessDenied {
        /// The API action, e.g. `s3:PutBucketPolicy`.
        action: String,
        /// The service's message.
        why: String,
    },
    /// Anything else (throttling after retries, service errors).
    #[error("{action} failed: {why}")]
    Failed {
        /// The API action.
        action: String,
        /// The service's message.
        why: String,
    },
}

/// One grant of an S3 ACL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    /// `CanonicalUser`, `Group` or `AmazonCustomerByEmail`.
    #[serde(rename = "type")]
    pub grantee_type: String,
    /// Canonical user id.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub id: Option<String>,
    /// Group URI.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub uri: Option<String>,
    /// E-mail address.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub email: Option<String>,
    /// Display name.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub display_name: Option<String>,
    /// `READ`, `WRITE`, `READ_ACP`, `WRITE_ACP` or `FULL_CONTROL`.
    pub permission: String,
}

/// An S3 access control list (bucket or object).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Acl {
    /// Owner's canonical id.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub owner_id: Option<String>,
    /// Owner's display name.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub owner_name: Option<String>,
    /// Grants.
    pub grants: Vec<Grant>,
}

/// The four Block Public Access settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PublicAccessBlock {
    /// BlockPublicAcls.
    pub block_public_acls: bool,
    /// IgnorePublicAcls.
    pub ignore_public_acls: bool,
    /// BlockPublicPolicy.
    pub block_public_policy: bool,
    /// RestrictPublicBuckets.
    pub restrict_public_buckets: bool,
}

impl PublicAccessBlock {
    /// All four settings on.
    pub const ALL_ON: PublicAccessBlock = PublicAccessBlock {
        block_public_acls: true,
        ignore_public_acls: true,
        block_public_policy: true,
        restrict_public_buckets: true,
    };
}

pub use crate::rules::security_group::{Cidrs, Ports};

/// One ingress permission of a security group.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Permission {
    /// The protocol and ports.
    #[serde(flatten)]
    pub ports: Ports,
    /// The IPv4 and IPv6 ranges.
    #[serde(flatten)]
    pub cidrs: Cidrs,
    /// Other sources (security groups, prefix lists), kept as they are.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub others: Vec<String>,
}

/// A security group as it stands.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SecurityGroup {
    /// `sg-...`.
    pub id: String,
    /// Name.
    pub name: String,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// Ingress permissions.
    pub ingress: Vec<Permission>,
}

/// One rule of a security group, as DescribeSecurityGroupRules gives it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct GroupRule {
    /// `sgr-...`.
    pub id: String,
    /// Egress (outbound) rather than ingress.
    pub egress: bool,
    /// The protocol and ports.
    #[serde(flatten)]
    pub ports: Ports,
    /// The CIDR (IPv4 or IPv6), when the source is one.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub cidr: Option<String>,
}

/// What a trail records, as it stands.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TrailConfig {
    /// Records every region.
    pub multi_region: bool,
    /// Records IAM, STS and CloudFront events.
    pub global_service_events: bool,
    /// The bucket log files go to.
    pub bucket: String,
    /// The event selectors (GetEventSelectors' `EventSelectors` or `AdvancedEventSelectors`,
    /// as JSON with the API's member names).
    pub selectors: serde_json::Value,
}

/// A trail's logging status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrailStatus {
    /// Whether it records API calls.
    pub is_logging: bool,
}

/// Which ACL: a bucket's, or one object's when `key` is given (one version's when `version`
/// is given too).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AclOf<'a> {
    /// The bucket.
    pub bucket: &'a str,
    /// The object's key.
    pub key: Option<&'a str>,
    /// The object's version.
    pub version: Option<&'a str>,
}

/// Bucket-level reads and the changes remediation may make (aws-sdk-s3).
///
/// Contract: reads return the live state; `NotFound` when the bucket (or object) is gone,
/// `Ok(None)`/empty when it simply has no policy or tags. Writes replace
/// the named setting only.
pub trait BucketAdmin {
    /// The bucket policy as stored (JSON text), if any.
    fn policy(&self, bucket: &str) -> impl Future<Output = Result<Option<String>, AdminError>> + Send;
    /// Replaces the bucket policy.
    fn put_policy(&self, bucket: &str, policy: &str) -> impl Future<Output = Result<(), AdminError>> + Send;
    /// Deletes the bucket policy.
    fn delete_policy(&self, bucket: &str) -> impl Future<Output = Result<(), AdminError>> + Send;
    /// S3's own verdict on the bucket policy (GetBucketPolicyStatus): `Some(true)` when S3
    /// calls it public, `None` when the bucket has no policy.
    fn policy_status(&self, bucket: &str) -> impl Future<Output = Result<Option<bool>, AdminError>> + Send;
    /// The ACL `of` names.
    fn acl(&self, of: AclOf<'_>) -> impl Future<Output = Result<Acl, AdminError>> + Send;
    /// Replaces that ACL.
    fn put_acl(&self, of: AclOf<'_>, acl: &Acl) -> impl Future<Output = Result<(), AdminError>> + Send;
    /// The names of the account's buckets.
    fn buckets(&self) -> impl Future<Output = Result<Vec<String>, AdminError>> + Send;
    /// The bucket's tags.
    fn tags(&self, bucket: &str) -> impl Future<Output = Result<BTreeMap<String, String>, AdminError>> + Send;
}

/// Where a public access block is set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlockLevel {
    /// On one bucket (its name).
    Bucket(String),
    /// On a whole account (its id).
    Account(String),
}

/// S3 Block Public Access, on a bucket (aws-sdk-s3) or on an account (aws-sdk-s3control).
///
/// Contract: `Ok(None)` when there is none at that level (a bucket's: `NotFound` when the
/// bucket is gone); the write sets all four settings given.
pub trait PublicAccessBlockAdmin {
    /// The block at `level`, if any.
    fn public_access_block(
        &self,
        level: &BlockLevel,
    ) -> impl Future<Output = Result<Option<PublicAccessBlock>, AdminError>> + Send;
    /// Sets it.
    fn put_public_access_block(
        &self,
        level: &BlockLevel,
        pab: &PublicAccessBlock,
    ) -> impl Future<Output = Result<(), AdminError>> + Send;
}

/// Security groups (aws-sdk-ec2).
///
/// Contract: `group` finds a group by id, or by name when no id is known; `NotFound` when it
/// does not exist. `revoke` removes exactly the given CIDRs of the given permissions.
pub trait SecurityGroupAdmin {
    /// The group as it stands.
    fn group(
        &self,
        id: Option<&str>,
        name: Option<&str>,
    ) -> impl Future<Output = Result<SecurityGroup, AdminError>> + Send;
    /// Revokes ingress permissions.
    fn revoke(&self, group_id: &str, permissions: &[Permission])
        -> impl Future<Output = Result<(), AdminError>> + Send;
    /// The group's rules, ingress and egress, with their ids.
    fn rules(&self, group_id: &str) -> impl Future<Output = Result<Vec<GroupRule>, AdminError>> + Send;
    /// Revokes the ingress rules with these ids.
    fn revoke_rules(&self, group_id: &str, rule_ids: &[String]) -> impl Future<Output = Result<(), AdminError>> + Send;
}

/// Trails (aws-sdk-cloudtrail).
///
/// Contract: `status` and `config` are `NotFound` for a deleted trail; `start_logging` turns
/// logging on.
pub trait TrailAdmin {
    /// What the trail records (GetTrail and GetEventSelectors).
    fn trail_config(&self, trail: &str) -> impl Future<Output = Result<TrailConfig, AdminError>> + Send;
    /// Whether the trail logs.
    fn trail_status(&self, trail: &str) -> impl Future<Output = Result<TrailStatus, AdminError>> + Send;
    /// Starts logging.
    fn start_logging(&self, trail: &str) -> impl Future<Output = Result<(), AdminError>> + Send;
}

/// Which kind of resource policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum PolicyKind {
    /// A KMS key's key policy (the id is a key id or ARN).
    KmsKey,
    /// An SQS queue's `Policy` attribute (the id is the queue URL).
    Queue,
    /// An SNS topic's `Policy` attribute (the id is the topic ARN).
    Topic,
    /// An ECR repository policy (the id is the repository name).
    Repository,
    /// A Secrets Manager secret's resource policy (the id is its name or ARN).
    Secret,
    /// An IAM role's trust policy (the id is the role name).
    RoleTrust,
}

impl PolicyKind {
    /// What the policy is called in reason sentences.
    pub fn noun(&self) -> &'static str {
        self.names().1
    }

    /// What the resource holding the policy is called in errors.
    pub fn holder(&self) -> &'static str {
        self.names().0
    }

    /// (the resource, the policy).
    fn names(&self) -> (&'static str, &'static str) {
        match self {
            PolicyKind::KmsKey => ("KMS key", "key policy"),
            PolicyKind::Queue => ("queue", "queue policy"),
            PolicyKind::Topic => ("topic", "topic policy"),
            PolicyKind::Repository => ("repository", "repository policy"),
            PolicyKind::Secret => ("secret", "secret policy"),
            PolicyKind::RoleTrust => ("role", "role trust policy"),
        }
    }

    /// Whether the service lets the policy be removed altogether (KMS keys, SNS topics and
    /// IAM roles always have one).
    pub fn deletable(&self) -> bool {
        self.delete_action().is_some()
    }

    /// The IAM action that replaces the policy.
    pub fn put_action(&self) -> &'static str {
        match self {
            PolicyKind::KmsKey => "kms:PutKeyPolicy",
            PolicyKind::Queue => "sqs:SetQueueAttributes",
            PolicyKind::Topic => "sns:SetTopicAttributes",
            PolicyKind::Repository => "ecr:SetRepositoryPolicy",
            PolicyKind::Secret => "secretsmanager:PutResourcePolicy",
            PolicyKind::RoleTrust => "iam:UpdateAssumeRolePolicy",
        }
    }

    /// The IAM action that removes the policy (SQS: setting the `Policy` attribute empty);
    /// `None` when the service keeps one.
    pub fn delete_action(&self) -> Option<&'static str> {
        match self {
            PolicyKind::Queue => Some("sqs:SetQueueAttributes"),
            PolicyKind::Repository => Some("ecr:DeleteRepositoryPolicy"),
            PolicyKind::Secret => Some("secretsmanager:DeleteResourcePolicy"),
            PolicyKind::KmsKey | PolicyKind::Topic | PolicyKind::RoleTrust => None,
        }
    }
}

/// A resource's policy and tags as they stand.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PolicyState {
    /// The policy text, if the resource has one.
    pub policy: Option<String>,
    /// The resource's tags.
    pub tags: BTreeMap<String, String>,
}

/// Resource policies of KMS keys, SQS queues, SNS topics, ECR repositories, Secrets Manager
/// secrets and IAM role trust (aws-sdk-kms, -sqs, -sns, -ecr, -secretsmanager, -iam).
///
/// Contract: `resource_policy` returns the live policy text (`None` when the resource has
/// none) and tags; `NotFound` when the resource is gone. `put_resource_policy` replaces the
/// policy (for KMS keys, never bypassing KMS's lockout safety check). `delete_resource_policy`
/// removes it, only for kinds that are [`PolicyKind::deletable`] (SQS: the `Policy` attribute
/// set empty).
pub trait ResourcePolicyAdmin {
    /// The live policy and tags.
    fn resource_policy(
        &self,
        kind: PolicyKind,
        id: &str,
    ) -> impl Future<Output = Result<PolicyState, AdminError>> + Send;
    /// Replaces the policy.
    fn put_resource_policy(
        &self,
        kind: PolicyKind,
        id: &str,
        policy: &str,
    ) -> impl Future<Output = Result<(), AdminError>> + Send;
    /// Removes the policy.
    fn delete_resource_policy(&self, kind: PolicyKind, id: &str)
        -> impl Future<Output = Result<(), AdminError>> + Send;
}

/// Who may invoke a Lambda function, as it stands.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct FunctionAccess {
    /// The function's resource policy text, if any.
    pub policy: Option<String>,
    /// The AuthType of its function URL, if it has one (`NONE` or `AWS_IAM`).
    pub url_auth: Option<String>,
    /// The function's tags.
    pub tags: BTreeMap<String, String>,
}

/// Lambda function permissions and URLs (aws-sdk-lambda).
///
/// Contract: `function_access` is `NotFound` when the function is gone; `remove_permission`
/// removes one statement of its policy by id; `require_iam_auth` sets its URL's AuthType to
/// `AWS_IAM`.
pub trait FunctionAdmin {
    /// The function's policy, URL auth and tags.
    fn function_access(&self, function: &str) -> impl Future<Output = Result<FunctionAccess, AdminError>> + Send;
    /// Removes one permission statement.
    fn remove_permission(
        &self,
        function: &str,
        statement_id: &str,
    ) -> impl Future<Output = Result<(), AdminError>> + Send;
    /// Makes the function URL require IAM authentication.
    fn require_iam_auth(&self, function: &str) -> impl Future<Output = Result<(), AdminError>> + Send;
}

/// Which kind of shareable copy of data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum SharedKind {
    /// An EBS snapshot (createVolumePermission).
    Snapshot,
    /// An AMI (launchPermission).
    Image,
    /// An RDS DB snapshot (the `restore` attribute).
    DbSnapshot,
    /// An RDS DB cluster snapshot (the `restore` attribute).
    DbClusterSnapshot,
}

/// Whom a snapshot or image is shared with, as it stands.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Sharing {
    /// Shared with every AWS account (the group `all`).
    pub public: bool,
    /// The accounts it is shared with by id.
    pub accounts: Vec<String>,
    /// Its tags.
    pub tags: BTreeMap<String, String>,
}

/// Sharing of EBS snapshots, AMIs and RDS snapshots (aws-sdk-ec2, aws-sdk-rds).
///
/// Contract: `sharing` is `NotFound` when the snapshot or image is gone; `unshare_public`
/// removes the group `all` only, never an account's share.
pub trait SharingAdmin {
    /// Whom it is shared with.
    fn sharing(&self, kind: SharedKind, id: &str) -> impl Future<Output = Result<Sharing, AdminError>> + Send;
    /// Removes the group `all`.
    fn unshare_public(&self, kind: SharedKind, id: &str) -> impl Future<Output = Result<(), AdminError>> + Send;
}

/// One entry of a network ACL.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AclEntry {
    /// Rule number.
    pub rule_number: i64,
    /// Egress (outbound) rather than ingress.
    pub egress: bool,
    /// `allow` or `deny`.
    pub action: String,
    /// The protocol, by number as text (`6`, `17`, `-1`), and its port range.
    #[serde(flatten)]
    pub ports: Ports,
    /// The CIDR (IPv4 or IPv6).
    pub cidr: String,
}

/// A network ACL as it stands.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct NetworkAcl {
    /// Its entries.
    pub entries: Vec<AclEntry>,
    /// Its tags.
    pub tags: BTreeMap<String, String>,
}

/// Network ACLs (aws-sdk-ec2).
///
/// Contract: `network_acl` is `NotFound` when the ACL is gone; `delete_acl_entry` deletes the
/// one entry with the given entry's rule number and direction (the rest of it is not compared).
pub trait NetworkAclAdmin {
    /// The ACL and its entries.
    fn network_acl(&self, id: &str) -> impl Future<Output = Result<NetworkAcl, AdminError>> + Send;
    /// Deletes one entry.
    fn delete_acl_entry(&self, id: &str, entry: &AclEntry) -> impl Future<Output = Result<(), AdminError>> + Send;
}

/// A DB instance's exposure, as it stands.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DbInstance {
    /// PubliclyAccessible.
    pub publicly_accessible: bool,
    /// Its tags.
    pub tags: BTreeMap<String, String>,
}

/// DB instances (aws-sdk-rds).
///
/// Contract: `db_instance` is `NotFound` when the instance is gone; `make_private` sets
/// PubliclyAccessible false (applied immediately).
pub trait DbInstanceAdmin {
    /// The instance's exposure.
    fn db_instance(&self, id: &str) -> impl Future<Output = Result<DbInstance, AdminError>> + Send;
    /// Turns PubliclyAccessible off.
    fn make_private(&self, id: &str) -> impl Future<Output = Result<(), AdminError>> + Send;
}

/// The detective services one call can switch off: GuardDuty, AWS Config and VPC flow logs
/// (aws-sdk-guardduty, aws-sdk-config, aws-sdk-ec2).
///
/// Contract: `detector_enabled` and `recorder_recording` are `NotFound` when the detector or
/// recorder is gone, as `delivery_channel` is for a deleted channel; `flow_logs` returns those
/// of the ids that exist. `enable_detector` and `start_recorder` turn them back on.
pub trait DefenceAdmin {
    /// Whether the detector is enabled.
    fn detector_enabled(&self, id: &str) -> impl Future<Output = Result<bool, AdminError>> + Send;
    /// Enables the detector.
    fn enable_detector(&self, id: &str) -> impl Future<Output = Result<(), AdminError>> + Send;
    /// Whether the recorder records.
    fn recorder_recording(&self, name: &str) -> impl Future<Output = Result<bool, AdminError>> + Send;
    /// Starts the recorder.
    fn start_recorder(&self, name: &str) -> impl Future<Output = Result<(), AdminError>> + Send;
    /// The delivery channel's S3 bucket, when it exists.
    fn delivery_channel(&self, name: &str) -> impl Future<Output = Result<String, AdminError>> + Send;
    /// The ids, of these, of flow logs that exist.
    fn flow_logs(&self, ids: &[String]) -> impl Future<Output = Result<Vec<String>, AdminError>> + Send;
}

/// Waiting between reads, so a read-back after a change can tolerate eventual consistency.
///
/// Contract: `pause` returns after about `duration` (an in-memory fake may return at once).
pub trait Pause {
    /// Waits.
    fn pause(&self, duration: std::time::Duration) -> impl Future<Output = ()> + Send;
}

/// Whether a claim on one (eventID, rule) was won.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// This invocation decides.
    Won,
    /// Another trigger of the same call decided already (the decision's name), or is
    /// deciding right now (`running`).
    Taken(String),
}

/// The latest change remediation has seen on one resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeenChange {
    /// The call's eventTime (`YYYY-MM-DDTHH:MM:SSZ`).
    pub time: String,
    /// The call's eventID.
    pub event_id: String,
}

/// Remediation's own memory across triggers (the stack's DynamoDB table in the Lambda).
///
/// Contract: `claim` is won by exactly one caller per (eventID, rule) until `finish`
/// records a decision, except that a claim whose decision was `failed`, or whose holder
/// has not finished within the lease, can be won again (so retries stay possible and
/// crashes do not lock a call out). `observe` records an exempt principal's change of
/// `resource` (`exempt`), and returns the latest exempt change recorded that is newer than
/// `change`, if any; concurrent observers never lose the newest one. Only exempt changes are
/// recorded: a later change by anyone else must never spare an earlier one from remediation.
pub trait RemediationLedger {
    /// Claims the decision on one (eventID, rule); `now` in seconds since the epoch.
    fn claim(&self, event_id: &str, rule: &str, now: i64) -> impl Future<Output = Result<Claim, AdminError>> + Send;
    /// Records the decision that was made.
    fn finish(
        &self,
        event_id: &str,
        rule: &str,
        decision: &str,
        now: i64,
    ) -> impl Future<Output = Result<(), AdminError>> + Send;
    /// Records `change` of `resource` when it is an exempt principal's; returns a newer exempt
    /// change already seen, if any.
    fn observe(
        &self,
        resource: &str,
        change: &SeenChange,
        exempt: bool,
        now: i64,
    ) -> impl Future<Output = Result<Option<SeenChange>, AdminError>> + Send;
}

/// How long a claim's holder may take before another trigger can claim again (seconds):
/// longer than the function's timeout.
pub const CLAIM_LEASE_SECONDS: i64 = 120;

/// The admins of one account and region: the caller's own, or shared clients of a scope.
#[derive(Debug)]
pub enum Scoped<'a, A> {
    /// The caller's admins serve every scope (in-memory fakes, tests).
    Borrowed(&'a A),
    /// Clients made for this scope and reused.
    Shared(std::sync::Arc<A>),
}

impl<A> std::ops::Deref for Scoped<'_, A> {
    type Target = A;
    fn deref(&self) -> &A {
        match self {
            Scoped::Borrowed(a) => a,
            Scoped::Shared(a) => a,
        }
    }
}

/// Where remediation acts: the admins for the account and region a change happened in.
///
/// Contract: returns admins whose calls go to the place's region of its account, with the
/// function's own credentials when its `role_arn` is `None`, else with that role's (assumed on first use); the
/// same scope asked again reuses its clients. Fails with `AccessDenied` when the role cannot
/// be assumed. Which accounts and regions are in scope is decided before, by the caller.
pub trait Targets: Sync {
    /// The admins of one scope.
    type Admins: super::Admins;
    /// The admins for the place.
    fn admins<'a>(
        &'a self,
        place: Place<'a>,
    ) -> impl Future<Output = Result<Scoped<'a, Self::Admins>, AdminError>> + Send + 'a;
}

/// Where a change happened, and so where its remediation acts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place<'a> {
    /// The account.
    pub account: &'a str,
    /// The region.
    pub region: &'a str,
    /// The role to act as there (`None`: the function's own credentials).
    pub role_arn: Option<&'a str>,
}
