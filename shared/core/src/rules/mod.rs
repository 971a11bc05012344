//! Risky-change rules: single successful calls that open an account or blind its defenders.
//!
//! The engine is pure: it looks at one CloudTrail record (from a log file, or the `detail` of
//! an EventBridge "AWS API Call via CloudTrail" event) and returns the rules it breaks. The
//! rule ids are a public contract: subscribers and the remediation function match on them.
//! A failed call (any `errorCode`) never fires. The analysis helpers of each submodule are
//! reused by the remediation function on live state.

pub mod cidr;
pub mod cloudtrail;
pub mod defences;
pub mod ecr;
pub mod exemption;
pub mod iam_trust;
pub mod kms;
pub mod lambda;
pub mod network_acl;
pub mod public_access_block;
pub mod rds_instance;
pub mod s3_acl;
pub mod s3_policy;
pub mod secrets;
pub mod security_group;
pub mod shared_resource;
pub mod sns;
pub mod sqs;

use crate::events::{deterministic_id, Envelope, DETAIL_TYPE_RISKY_CHANGE};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// The rules, by their public ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum RuleId {
    /// `s3-bucket-policy-public`
    #[serde(rename = "s3-bucket-policy-public")]
    S3BucketPolicyPublic,
    /// `s3-bucket-acl-public`
    #[serde(rename = "s3-bucket-acl-public")]
    S3BucketAclPublic,
    /// `s3-public-access-block-removed`
    #[serde(rename = "s3-public-access-block-removed")]
    S3PublicAccessBlockRemoved,
    /// `ec2-security-group-open-admin-port`
    #[serde(rename = "ec2-security-group-open-admin-port")]
    Ec2SecurityGroupOpenAdminPort,
    /// `cloudtrail-logging-stopped`
    #[serde(rename = "cloudtrail-logging-stopped")]
    CloudtrailLoggingStopped,
    /// `trailsight-exemption-changed`
    #[serde(rename = "trailsight-exemption-changed")]
    TrailsightExemptionChanged,
    /// `kms-key-policy-public`
    #[serde(rename = "kms-key-policy-public")]
    KmsKeyPolicyPublic,
    /// `sqs-queue-policy-public`
    #[serde(rename = "sqs-queue-policy-public")]
    SqsQueuePolicyPublic,
    /// `sns-topic-policy-public`
    #[serde(rename = "sns-topic-policy-public")]
    SnsTopicPolicyPublic,
    /// `ecr-repository-policy-public`
    #[serde(rename = "ecr-repository-policy-public")]
    EcrRepositoryPolicyPublic,
    /// `secretsmanager-secret-policy-public`
    #[serde(rename = "secretsmanager-secret-policy-public")]
    SecretsmanagerSecretPolicyPublic,
    /// `lambda-function-public`
    #[serde(rename = "lambda-function-public")]
    LambdaFunctionPublic,
    /// `iam-role-trust-public`
    #[serde(rename = "iam-role-trust-public")]
    IamRoleTrustPublic,
    /// `ebs-snapshot-public`
    #[serde(rename = "ebs-snapshot-public")]
    EbsSnapshotPublic,
    /// `ami-public`
    #[serde(rename = "ami-public")]
    AmiPublic,
    /// `rds-snapshot-public`
    #[serde(rename = "rds-snapshot-public")]
    RdsSnapshotPublic,
    /// `rds-instance-public`
    #[serde(rename = "rds-instance-public")]
    RdsInstancePublic,
    /// `ec2-network-acl-open-admin-port`
    #[serde(rename = "ec2-network-acl-open-admin-port")]
    Ec2NetworkAclOpenAdminPort,
    /// `guardduty-disabled`
    #[serde(rename = "guardduty-disabled")]
    GuarddutyDisabled,
    /// `config-recording-stopped`
    #[serde(rename = "config-recording-stopped")]
    ConfigRecordingStopped,
    /// `vpc-flow-logs-deleted`
    #[serde(rename = "vpc-flow-logs-deleted")]
    VpcFlowLogsDeleted,
}

impl RuleId {
    /// Every rule.
    pub const ALL: [RuleId; 21] = [
        RuleId::S3BucketPolicyPublic,
        RuleId::S3BucketAclPublic,
        RuleId::S3PublicAccessBlockRemoved,
        RuleId::Ec2SecurityGroupOpenAdminPort,
        RuleId::CloudtrailLoggingStopped,
        RuleId::TrailsightExemptionChanged,
        RuleId::KmsKeyPolicyPublic,
        RuleId::SqsQueuePolicyPublic,
        RuleId::SnsTopicPolicyPublic,
        RuleId::EcrRepositoryPolicyPublic,
        RuleId::SecretsmanagerSecretPolicyPublic,
        RuleId::LambdaFunctionPublic,
        RuleId::IamRoleTrustPublic,
        RuleId::EbsSnapshotPublic,
        RuleId::AmiPublic,
        RuleId::RdsSnapshotPublic,
        RuleId::RdsInstancePublic,
        RuleId::Ec2NetworkAclOpenAdminPort,
        RuleId::GuarddutyDisabled,
        RuleId::ConfigRecordingStopped,
        RuleId::VpcFlowLogsDeleted,
    ];

    /// The public id.
    pub fn as_str(&self) -> &'static str {
        match self {
            RuleId::S3BucketPolicyPublic => "s3-bucket-policy-public",
            RuleId::S3BucketAclPublic => "s3-bucket-acl-public",
            RuleId::S3PublicAccessBlockRemoved => "s3-public-access-block-removed",
            RuleId::Ec2SecurityGroupOpenAdminPort => "ec2-security-group-open-admin-port",
            RuleId::CloudtrailLoggingStopped => "cloudtrail-logging-stopped",
            RuleId::TrailsightExemptionChanged => "trailsight-exemption-changed",
            RuleId::KmsKeyPolicyPublic => "kms-key-policy-public",
            RuleId::SqsQueuePolicyPublic => "sqs-queue-policy-public",
            RuleId::SnsTopicPolicyPublic => "sns-topic-policy-public",
            RuleId::EcrRepositoryPolicyPublic => "ecr-repository-policy-public",
            RuleId::SecretsmanagerSecretPolicyPublic => "secretsmanager-secret-policy-public",
            RuleId::LambdaFunctionPublic => "lambda-function-public",
            RuleId::IamRoleTrustPublic => "iam-role-trust-public",
            RuleId::EbsSnapshotPublic => "ebs-snapshot-public",
            RuleId::AmiPublic => "ami-public",
            RuleId::RdsSnapshotPublic => "rds-snapshot-public",
            RuleId::RdsInstancePublic => "rds-instance-public",
            RuleId::Ec2NetworkAclOpenAdminPort => "ec2-network-acl-open-admin-port",
            RuleId::GuarddutyDisabled => "guardduty-disabled",
            RuleId::ConfigRecordingStopped => "config-recording-stopped",
            RuleId::VpcFlowLogsDeleted => "vpc-flow-logs-deleted",
        }
    }

    /// The rule with this public id.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// How urgent a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Weakens defences.
    Medium,
    /// Opens access or stops logging partly.
    High,
    /// Opens data or admin access to anyone, or stops logging.
    Critical,
}

/// What a finding is about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum Resource {
    /// An S3 bucket (and object key, for PutObjectAcl).
    Bucket {
        /// Bucket name.
        name: String,
        /// Object key, when the change was on an object.
        #[serde(skip_serializing_if = "Option::is_none")]
        key: Option<String>,
        /// Object version, when the change was on one version of an object.
        #[serde(rename = "versionId", skip_serializing_if = "Option::is_none", default)]
        version_id: Option<String>,
    },
    /// An account's S3 public access block.
    AccountPublicAccessBlock {
        /// Account id.
        account: String,
    },
    /// A security group, with the rules that opened it.
    SecurityGroup {
        /// Group id (`sg-...`), when known.
        #[serde(rename = "groupId")]
        group_id: Option<String>,
        /// Group name (default-VPC calls), when given.
        #[serde(rename = "groupName")]
        group_name: Option<String>,
        /// The opening rules.
        rules: Vec<Value>,
    },
    /// A CloudTrail trail (name or ARN as the call gave it).
    Trail {
        /// Trail name or ARN.
        name: String,
    },
    /// A KMS key (id or ARN).
    KmsKey {
        /// Key id or ARN.
        id: String,
    },
    /// An SQS queue.
    Queue {
        /// Queue URL.
        id: String,
    },
    /// An SNS topic.
    Topic {
        /// Topic ARN.
        id: String,
    },
    /// An ECR repository.
    Repository {
        /// Repository name.
        id: String,
        /// The registry (account) id, when the call named it.
        #[serde(rename = "registryId", skip_serializing_if = "Option::is_none", default)]
        registry: Option<String>,
    },
    /// A Secrets Manager secret.
    Secret {
        /// Secret name or ARN, as the call gave it.
        id: String,
    },
    /// A Lambda function.
    Function {
        /// Function name or ARN, as the call gave it.
        id: String,
    },
    /// An IAM role.
    Role {
        /// Role name.
        id: String,
    },
    /// An EBS snapshot.
    Snapshot {
        /// `snap-...`.
        id: String,
    },
    /// An AMI.
    Image {
        /// `ami-...`.
        id: String,
    },
    /// An RDS DB snapshot.
    DbSnapshot {
        /// Snapshot identifier.
        id: String,
    },
    /// An RDS DB cluster snapshot.
    DbClusterSnapshot {
        /// Cluster snapshot identifier.
        id: String,
    },
    /// An RDS DB instance.
    DbInstance {
        /// Instance identifier.
        id: String,
    },
    /// A network ACL entry.
    NetworkAclEntry {
        /// `acl-...`.
        id: String,
        /// The entry's rule number.
        #[serde(rename = "ruleNumber")]
        rule_number: i64,
    },
    /// A GuardDuty detector.
    Detector {
        /// Detector id.
        id: String,
    },
    /// An AWS Config configuration recorder.
    ConfigRecorder {
        /// Recorder name.
        id: String,
    },
    /// An AWS Config delivery channel.
    DeliveryChannel {
        /// Channel name.
        id: String,
    },
    /// VPC flow logs.
    FlowLogs {
        /// `fl-...` ids.
        ids: Vec<String>,
    },
}

impl Resource {
    /// ARNs for the EventBridge `resources` list, in `partition` (`aws`, `aws-cn`,
    /// `aws-us-gov`...; [`partition`]).
    pub fn arns(&self, partition: &str, account: &str, region: &str) -> Vec<String> {
        match self {
            Resource::Bucket { name, .. } => vec![format!("arn:{partition}:s3:::{name}")],
            Resource::AccountPublicAccessBlock { .. } => vec![],
            Resource::SecurityGroup { group_id: Some(id), .. } => {
                vec![format!("arn:{partition}:ec2:{region}:{account}:security-group/{id}")]
            }
            Resource::SecurityGroup { .. } => vec![],
            Resource::Trail { name } if name.starts_with("arn:") => vec![name.clone()],
            Resource::Trail { name } => vec![format!("arn:{partition}:cloudtrail:{region}:{account}:trail/{name}")],
            Resource::KmsKey { id } | Resource::Topic { id } | Resource::Secret { id } | Resource::Function { id }
                if id.starts_with("arn:") =>
            {
                vec![id.clone()]
            }
            Resource::KmsKey { id } if id.starts_with("alias/") => vec![],
            Resource::KmsKey { id } => vec![format!("arn:{partition}:kms:{region}:{account}:key/{id}")],
            Resource::Queue { id } => queue_arn(partition, region, account, id).into_iter().collect(),
            Resource::Topic { .. } | Resource::Secret { .. } => vec![],
            Resource::Repository { id, registry } => {
                let owner = registry.as_deref().unwrap_or(account);
                vec![format!("arn:{partition}:ecr:{region}:{owner}:repository/{id}")]
            }
            Resource::Function { id } => vec![format!("arn:{partition}:lambda:{region}:{account}:function:{id}")],
            Resource::Role { id } => vec![format!("arn:{partition}:iam::{account}:role/{id}")],
            Resource::Snapshot { id } => vec![format!("arn:{partition}:ec2:{region}::snapshot/{id}")],
            Resource::Image { id } => vec![format!("arn:{partition}:ec2:{region}::image/{id}")],
            Resource::DbSnapshot { id } => vec![format!("arn:{partition}:rds:{region}:{account}:snapshot:{id}")],
            Resource::DbClusterSnapshot { id } => {
                vec![format!("arn:{partition}:rds:{region}:{account}:cluster-snapshot:{id}")]
            }
            Resource::DbInstance { id } => vec![format!("arn:{partition}:rds:{region}:{account}:db:{id}")],
            Resource::NetworkAclEntry { id, .. } => {
                vec![format!("arn:{partition}:ec2:{region}:{account}:network-acl/{id}")]
            }
            Resource::Detector { id } => vec![format!("arn:{partition}:guardduty:{region}:{account}:detector/{id}")],
            Resource::ConfigRecorder { .. } | Resource::DeliveryChannel { .. } => vec![],
            Resource::FlowLogs { ids } => {
                ids.iter().map(|id| format!("arn:{partition}:ec2:{region}:{account}:vpc-flow-log/{id}")).collect()
            }
        }
    }

    /// The resource's name or id, as exemption patterns match it.
    pub fn name(&self) -> String {
        match self {
            Resource::Bucket { name, .. } | Resource::Trail { name } => name.clone(),
            Resource::AccountPublicAccessBlock { account } => account.clone(),
            Resource::SecurityGroup { group_id, group_name, .. } => {
                group_id.clone().or_else(|| group_name.clone()).unwrap_or_default()
            }
            Resource::KmsKey { id }
            | Resource::Queue { id }
            | Resource::Topic { id }
            | Resource::Repository { id, .. }
            | Resource::Secret { id }
            | Resource::Function { id }
            | Resource::Role { id }
            | Resource::Snapshot { id }
            | Resource::Image { id }
            | Resource::DbSnapshot { id }
            | Resource::DbClusterSnapshot { id }
            | Resource::DbInstance { id }
            | Resource::NetworkAclEntry { id, .. }
            | Resource::Detector { id }
            | Resource::ConfigRecorder { id }
            | Resource::DeliveryChannel { id } => id.clone(),
            Resource::FlowLogs { ids } => ids.join(","),
        }
    }
}

/// `https://sqs.REGION.amazonaws.com/ACCOUNT/NAME` → `arn:PARTITION:sqs:REGION:ACCOUNT:NAME`.
fn queue_arn(partition: &str, region: &str, account: &str, url: &str) -> Option<String> {
    let mut parts = url.trim_end_matches('/').rsplit('/');
    let name = parts.next().filter(|n| !n.is_empty())?;
    let owner = parts.next().filter(|a| a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit()));
    Some(format!("arn:{partition}:sqs:{region}:{}:{name}", owner.unwrap_or(account)))
}

/// The AWS partition a record comes from: from its region (`cn-` is `aws-cn`, `us-gov-` is
/// `aws-us-gov`, `us-iso-` and `us-isob-` the isolated ones), else from its caller's ARN, else
/// `aws`.
pub fn partition(record: &Value) -> String {
    let region = text(record, "awsRegion").unwrap_or("");
    for (prefix, partition) in
        [("cn-", "aws-cn"), ("us-gov-", "aws-us-gov"), ("us-isob-", "aws-iso-b"), ("us-iso-", "aws-iso")]
    {
        if region.starts_with(prefix) {
            return partition.to_owned();
        }
    }
    record
        .pointer("/userIdentity/arn")
        .and_then(Value::as_str)
        .and_then(|a| a.strip_prefix("arn:"))
        .and_then(|a| a.split(':').next())
        .filter(|p| !p.is_empty())
        .unwrap_or("aws")
        .to_owned()
}

/// One broken rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// Which rule.
    pub rule: RuleId,
    /// How urgent.
    pub severity: Severity,
    /// What it is about.
    pub resource: Resource,
    /// One line quoting the offending statement, grant or rule.
    pub reason: String,
}

/// One risky-change rule: its public id, its usual severity (a check may raise it for the
/// worst cases), the calls it looks at, whether remediation also takes AWS's native API-call
/// events of those calls, and its check. [`RULES`] is the engine.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    /// The public id.
    pub id: RuleId,
    /// The severity of its findings, unless the check says otherwise.
    pub severity: Severity,
    /// The calls it looks at, by eventSource.
    pub events: Events,
    /// Whether the stack's native-event rule sends these calls to remediation (the template's
    /// `NativeApiCallRule` lists exactly these rules' event names; a test checks it).
    pub native_trigger: bool,
    /// Whether reverting the change can break legitimate callers (a function URL's clients,
    /// a database's outside clients): such rules are outside `REMEDIATE_RULES`' default.
    pub revert_breaks_callers: bool,
    /// The findings of one successful call.
    pub check: fn(&Call<'_>) -> Vec<Finding>,
}

/// The calls a rule looks at: each eventSource with its eventNames.
pub type Events = &'static [(&'static str, &'static [&'static str])];

impl Rule {
    /// A rule whose calls the native-event rule also sends to remediation, and whose revert
    /// cannot break a legitimate caller.
    pub const fn new(id: RuleId, severity: Severity, events: Events, check: fn(&Call<'_>) -> Vec<Finding>) -> Rule {
        Rule { id, severity, events, native_trigger: true, revert_breaks_callers: false, check }
    }

    /// The same rule, but one whose calls reach remediation only as trailsight's risky-change
    /// events.
    pub const fn not_native(self) -> Rule {
        Rule { native_trigger: false, ..self }
    }

    /// The same rule, but one whose revert can break legitimate callers.
    pub const fn breaking_callers(self) -> Rule {
        Rule { revert_breaks_callers: true, ..self }
    }

    /// Whether the rule looks at this call.
    pub fn concerns(&self, event_source: &str, event_name: &str) -> bool {
        self.events.iter().any(|(s, names)| *s == event_source && names.contains(&event_name))
    }

    /// A finding of this rule with its usual severity.
    pub fn finding(&self, resource: Resource, reason: String) -> Finding {
        Finding { rule: self.id, severity: self.severity, resource, reason }
    }
}

/// Every rule, in the order their findings are reported.
pub const RULES: [Rule; 21] = [
    s3_policy::RULE,
    s3_acl::RULE,
    public_access_block::RULE,
    security_group::RULE,
    cloudtrail::RULE,
    exemption::RULE,
    kms::RULE,
    sqs::RULE,
    sns::RULE,
    ecr::RULE,
    secrets::RULE,
    lambda::RULE,
    iam_trust::RULE,
    shared_resource::EBS_SNAPSHOT,
    shared_resource::AMI,
    shared_resource::RDS_SNAPSHOT,
    rds_instance::RULE,
    network_acl::RULE,
    defences::GUARDDUTY,
    defences::CONFIG,
    defences::FLOW_LOGS,
];

/// A successful call as a rule's check sees it.
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    /// The whole CloudTrail record.
    pub record: &'a Value,
    /// Its eventName.
    pub name: &'a str,
    /// Its requestParameters (`null` when absent).
    pub request: &'a Value,
    /// The deployment's settings.
    pub settings: &'a RuleSettings,
}

impl Call<'_> {
    /// The bucket (and object key and version) the request names.
    pub fn bucket(&self) -> Resource {
        Resource::Bucket {
            name: text(self.request, "bucketName").unwrap_or("").to_owned(),
            key: text(self.request, "key").map(str::to_owned),
            version_id: text(self.request, "versionId").map(str::to_owned),
        }
    }

    /// The account the request names, else the record's.
    pub fn account(&self) -> String {
        text(self.request, "accountId").unwrap_or_else(|| record_account(self.record)).to_owned()
    }
}

/// The table row of a rule.
pub fn rule(id: RuleId) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.id == id)
}

/// Whether any rule looks at this call (the counter keeps such records whole, once per API).
pub fn concerns(event_source: &str, event_name: &str) -> bool {
    RULES.iter().any(|r| r.concerns(event_source, event_name))
}

/// The event names the stack's native-event rule must send to remediation.
pub fn native_trigger_event_names() -> std::collections::BTreeSet<&'static str> {
    RULES
        .iter()
        .filter(|r| r.native_trigger)
        .flat_map(|r| r.events.iter().flat_map(|(_, names)| names.iter().copied()))
        .collect()
}

/// The account a record's call was made in: `recipientAccountId`, else the caller's account
/// (empty when the record has neither).
pub fn record_account(record: &Value) -> &str {
    text(record, "recipientAccountId").or_else(|| record.pointer("/userIdentity/accountId")?.as_str()).unwrap_or("")
}

fn text<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// The finding of a call that set a resource policy (`policy`: the request's field, a JSON
/// string or object) when the policy evaluator ([`crate::policy`]) finds a public statement,
/// quoting the first.
fn public_policy(rule: &Rule, resource: Resource, policy: Option<&Value>, what: &str) -> Vec<Finding> {
    let Some(doc) = crate::policy::document(policy) else {
        return vec![];
    };
    crate::policy::first_public(&doc)
        .map(|st| rule.finding(resource, format!("{what} grants anyone access: {}", quote(st))))
        .into_iter()
        .collect()
}

/// A value quoted for a reason line, cut at 400 bytes.
pub(crate) fn quote(v: &Value) -> String {
    let s = serde_json::to_string(v).unwrap_or_default();
    if s.len() > 400 {
        let cut = (0..=400).rev().find(|i| s.is_char_boundary(*i)).unwrap_or(0);
        format!("{}...", &s[..cut])
    } else {
        s
    }
}

/// What the rules need to know of a deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleSettings {
    /// The tag key that exempts a bucket or security group from remediation (setting or
    /// removing it fires `trailsight-exemption-changed`).
    pub exempt_tag_key: String,
}

/// The exemption tag key of a default deployment.
pub const DEFAULT_EXEMPT_TAG_KEY: &str = "trailsight:exempt";

impl Default for RuleSettings {
    fn default() -> Self {
        RuleSettings { exempt_tag_key: DEFAULT_EXEMPT_TAG_KEY.to_owned() }
    }
}

/// The rules one record breaks (none for failed calls or unrelated APIs), with the default
/// settings.
pub fn evaluate(record: &Value) -> Vec<Finding> {
    evaluate_with(record, &RuleSettings::default())
}

/// The rules one record breaks under `settings`: each rule of [`RULES`] that concerns the
/// call checks it; a failed call (any `errorCode`) breaks none.
pub fn evaluate_with(record: &Value, settings: &RuleSettings) -> Vec<Finding> {
    let (Some(source), Some(name)) = (text(record, "eventSource"), text(record, "eventName")) else {
        return vec![];
    };
    if record.get("errorCode").is_some_and(|e| !e.is_null() && e.as_str() != Some("")) {
        return vec![];
    }
    let call = Call { record, name, request: record.get("requestParameters").unwrap_or(&Value::Null), settings };
    RULES.iter().filter(|r| r.concerns(source, name)).flat_map(|r| (r.check)(&call)).collect()
}

/// The `Trailsight Risky Change` event for one finding on one record.
pub fn risky_change_event(record: &Value, finding: &Finding) -> Envelope {
    let event_id = text(record, "eventID").unwrap_or("");
    let account = record_account(record).to_owned();
    let region = text(record, "awsRegion").unwrap_or("").to_owned();
    let event_time = text(record, "eventTime").unwrap_or("");
    let time = crate::log::reader::parse_event_minute(event_time)
        .and_then(|_| chrono::DateTime::parse_from_rfc3339(event_time).ok())
        .map(|t| t.with_timezone(&chrono::Utc).format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|| event_time.to_owned());
    let identity = record.get("userIdentity");
    let actor_arn = identity
        .and_then(|u| text(u, "arn").or_else(|| text(u, "invokedBy")).or_else(|| text(u, "principalId")))
        .unwrap_or("");
    let detail = json!({
        "rule": finding.rule,
        "severity": finding.severity,
        "eventID": event_id,
        "eventTime": event_time,
        "eventName": text(record, "eventName"),
        "account": account,
        "region": region,
        "resource": finding.resource,
        "actor": {
            "arn": actor_arn,
            "sourceIPAddress": text(record, "sourceIPAddress"),
            "userAgent": text(record, "userAgent"),
        },
        "reason": finding.reason,
        "record": record,
    });
    let id = deterministic_id(&["risky", event_id, finding.rule.as_str()]);
    Envelope::new(
        id,
        DETAIL_TYPE_RISKY_CHANGE,
        account.clone(),
        time,
        region.clone(),
        finding.resource.arns(&partition(record), &account, &region),
        detail,
    )
}

#[cfg(test)]
mod tests;
