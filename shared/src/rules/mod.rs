//! Risky-change rules: single successful calls that open an account or blind its defenders.
//!
//! The engine is pure: it looks at one CloudTrail record (from a log file, or the `detail` of
//! an EventBridge "AWS API Call via CloudTrail" event) and returns the rules it breaks. The
//! rule ids are a public contract: subscribers and the remediation function match on them.
//! A failed call (any `errorCode`) never fires. The analysis helpers of each submodule are
//! reused by the remediation function on live state.

pub mod cidr;
pub mod cloudtrail;
pub mod exemption;
pub mod public_access_block;
pub mod s3_acl;
pub mod s3_policy;
pub mod security_group;

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
}

impl RuleId {
    /// Every rule.
    pub const ALL: [RuleId; 6] = [
        RuleId::S3BucketPolicyPublic,
        RuleId::S3BucketAclPublic,
        RuleId::S3PublicAccessBlockRemoved,
        RuleId::Ec2SecurityGroupOpenAdminPort,
        RuleId::CloudtrailLoggingStopped,
        RuleId::TrailsightExemptionChanged,
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
        }
    }
}

/// The AWS partition a record comes from: from its region (`cn-` is `aws-cn`, `us-gov-` is
/// `aws-us-gov`, `us-iso-` and `us-isob-` the isolated ones), else from its caller's ARN, else
/// `aws`.
pub fn partition(record: &Value) -> String {
    let region = text(record, "awsRegion").unwrap_or("");
    for (prefix, partition) in [
        ("cn-", "aws-cn"),
        ("us-gov-", "aws-us-gov"),
        ("us-isob-", "aws-iso-b"),
        ("us-iso-", "aws-iso"),
    ] {
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

/// Cheap pre-filter for the hot path: whether any rule looks at this API at all.
pub fn concerns(event_source: &str, event_name: &str) -> bool {
    match event_name {
        "PutBucketPolicy"
        | "PutBucketAcl"
        | "CreateBucket"
        | "PutObjectAcl"
        | "DeleteBucketPublicAccessBlock"
        | "PutBucketPublicAccessBlock" => event_source == "s3.amazonaws.com",
        "PutPublicAccessBlock"
        | "DeletePublicAccessBlock"
        | "PutAccountPublicAccessBlock"
        | "DeleteAccountPublicAccessBlock" => {
            event_source == "s3.amazonaws.com" || event_source == "s3-control.amazonaws.com"
        }
        "AuthorizeSecurityGroupIngress" | "ModifySecurityGroupRules" | "CreateTags" | "DeleteTags" => {
            event_source == "ec2.amazonaws.com"
        }
        "PutBucketTagging" | "DeleteBucketTagging" => event_source == "s3.amazonaws.com",
        "StopLogging" | "DeleteTrail" | "UpdateTrail" | "PutEventSelectors" => {
            event_source == "cloudtrail.amazonaws.com"
        }
        _ => false,
    }
}

fn text<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

fn quote(v: &Value) -> String {
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
        RuleSettings {
            exempt_tag_key: DEFAULT_EXEMPT_TAG_KEY.to_owned(),
        }
    }
}

/// The rules one record breaks (none for failed calls or unrelated APIs), with the default
/// settings.
pub fn evaluate(record: &Value) -> Vec<Finding> {
    evaluate_with(record, &RuleSettings::default())
}

/// The rules one record breaks under `settings`.
pub fn evaluate_with(record: &Value, settings: &RuleSettings) -> Vec<Finding> {
    let (Some(source), Some(name)) = (text(record, "eventSource"), text(record, "eventName")) else {
        return vec![];
    };
    if !concerns(source, name) {
        return vec![];
    }
    if record
        .get("errorCode")
        .is_some_and(|e| !e.is_null() && e.as_str() != Some(""))
    {
        return vec![];
    }
    let null = Value::Null;
    let req = record.get("requestParameters").unwrap_or(&null);
    let bucket = || Resource::Bucket {
        name: text(req, "bucketName").unwrap_or("").to_owned(),
        key: text(req, "key").map(str::to_owned),
        version_id: text(req, "versionId").map(str::to_owned),
    };
    let account = || {
        text(req, "accountId")
            .or_else(|| text(record, "recipientAccountId"))
            .or_else(|| record.get("userIdentity").and_then(|u| text(u, "accountId")))
            .unwrap_or("")
            .to_owned()
    };
    let finding = |rule, severity, resource, reason: String| Finding {
        rule,
        severity,
        resource,
        reason,
    };
    let mut out = vec![];
    match name {
        "PutBucketPolicy" => {
            if let Some(policy) = s3_policy::policy_document(req) {
                let statements = s3_policy::statements(&policy);
                if let Some(i) = s3_policy::public_statement_indices(&policy).first() {
                    let reason = format!("bucket policy grants anyone access: {}", quote(statements[*i]));
                    out.push(finding(
                        RuleId::S3BucketPolicyPublic,
                        Severity::Critical,
                        bucket(),
                        reason,
                    ));
                }
            }
        }
        "PutBucketAcl" | "PutObjectAcl" | "CreateBucket" => {
            if let Some(part) = s3_acl::public_part(req) {
                let severity = if part.contains("public-read-write") || part.contains("WRITE") {
                    Severity::Critical
                } else {
                    Severity::High
                };
                out.push(finding(
                    RuleId::S3BucketAclPublic,
                    severity,
                    bucket(),
                    format!("{name} makes the ACL public: {part}"),
                ));
            }
        }
        "DeleteBucketPublicAccessBlock" => {
            out.push(finding(
                RuleId::S3PublicAccessBlockRemoved,
                Severity::High,
                bucket(),
                "bucket public access block deleted".to_owned(),
            ));
        }
        "PutBucketPublicAccessBlock" | "PutPublicAccessBlock" | "PutAccountPublicAccessBlock" => {
            let config = req.get("PublicAccessBlockConfiguration").unwrap_or(&null);
            let off = public_access_block::settings_off(config);
            if !off.is_empty() {
                let resource = if name == "PutBucketPublicAccessBlock" {
                    bucket()
                } else {
                    Resource::AccountPublicAccessBlock { account: account() }
                };
                let reason = format!(
                    "public access block settings turned off: {} (configuration {})",
                    off.join(", "),
                    quote(config)
                );
                out.push(finding(
                    RuleId::S3PublicAccessBlockRemoved,
                    Severity::High,
                    resource,
                    reason,
                ));
            }
        }
        "DeletePublicAccessBlock" | "DeleteAccountPublicAccessBlock" => {
            let resource = Resource::AccountPublicAccessBlock { account: account() };
            out.push(finding(
                RuleId::S3PublicAccessBlockRemoved,
                Severity::High,
                resource,
                "account public access block deleted".to_owned(),
            ));
        }
        "AuthorizeSecurityGroupIngress" | "ModifySecurityGroupRules" => {
            let rules = if name == "AuthorizeSecurityGroupIngress" {
                security_group::world_open_permissions(record)
            } else {
                security_group::modified_world_open_rules(record)
            };
            if !rules.is_empty() {
                let group_id = text(req, "groupId")
                    .or_else(|| {
                        req.get("ModifySecurityGroupRulesRequest")
                            .and_then(|r| text(r, "GroupId"))
                    })
                    .or_else(|| {
                        record
                            .pointer("/responseElements/securityGroupRuleSet/items/0/groupId")
                            .and_then(Value::as_str)
                    })
                    .map(str::to_owned);
                let all = rules.iter().any(|r| r["ipProtocol"] == "-1");
                let reason = format!(
                    "security group opened to the internet on an admin port: {}",
                    quote(&Value::Array(rules.clone()))
                );
                let resource = Resource::SecurityGroup {
                    group_id,
                    group_name: text(req, "groupName").map(str::to_owned),
                    rules,
                };
                out.push(finding(
                    RuleId::Ec2SecurityGroupOpenAdminPort,
                    if all { Severity::Critical } else { Severity::High },
                    resource,
                    reason,
                ));
            }
        }
        "StopLogging" | "DeleteTrail" | "UpdateTrail" | "PutEventSelectors" => {
            let trail = text(req, "name")
                .or_else(|| text(req, "trailName"))
                .unwrap_or("")
                .to_owned();
            let why = match name {
                "StopLogging" => Some("StopLogging: the trail stops recording API calls".to_owned()),
                "DeleteTrail" => Some("DeleteTrail: the trail and its logging are gone".to_owned()),
                _ => {
                    let weakenings = cloudtrail::weakenings(name, req);
                    (!weakenings.is_empty()).then(|| {
                        weakenings
                            .iter()
                            .map(cloudtrail::Weakening::reason)
                            .collect::<Vec<_>>()
                            .join("; ")
                    })
                }
            };
            if let Some(why) = why {
                let severity = if matches!(name, "StopLogging" | "DeleteTrail") {
                    Severity::Critical
                } else {
                    Severity::High
                };
                out.push(finding(
                    RuleId::CloudtrailLoggingStopped,
                    severity,
                    Resource::Trail { name: trail },
                    why,
                ));
            }
        }
        "PutBucketTagging" | "DeleteBucketTagging" | "CreateTags" | "DeleteTags" => {
            for change in exemption::changes(name, req, &settings.exempt_tag_key) {
                let severity = if change.granted {
                    Severity::High
                } else {
                    Severity::Medium
                };
                out.push(finding(
                    RuleId::TrailsightExemptionChanged,
                    severity,
                    change.resource,
                    change.reason,
                ));
            }
        }
        _ => {}
    }
    out
}

/// The `Trailsight Risky Change` event for one finding on one record.
pub fn risky_change_event(record: &Value, finding: &Finding) -> Envelope {
    let event_id = text(record, "eventID").unwrap_or("");
    let account = text(record, "recipientAccountId")
        .or_else(|| record.get("userIdentity").and_then(|u| text(u, "accountId")))
        .unwrap_or("")
        .to_owned();
    let region = text(record, "awsRegion").unwrap_or("").to_owned();
    let event_time = text(record, "eventTime").unwrap_or("");
    let time = crate::reader::parse_event_minute(event_time)
        .and_then(|_| chrono::DateTime::parse_from_rfc3339(event_time).ok())
        .map(|t| t.with_timezone(&chrono::Utc).format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|| event_time.to_owned());
    let identity = record.get("userIdentity");
    let actor_arn = identity
        .and_then(|u| {
            text(u, "arn")
                .or_else(|| text(u, "invokedBy"))
                .or_else(|| text(u, "principalId"))
        })
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
