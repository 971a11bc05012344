//! From a finding to its remediation: an exhaustive match on the rule id (a new rule must say
//! how it is remediated), each arm building the remediation from the finding's resource and
//! the call's request, and the `REMEDIATE_RULES` switch (a rule outside it is decided as in
//! dry-run).

use super::defences::{Defence, SwitchedOff};
use super::driver::{self, decided};
use super::function::{Opening, PublicFunction};
use super::network_acl::OpenAclEntry;
use super::ports::{PolicyKind, SharedKind};
use super::resource_policy::{Introduced, ResourcePolicy};
use super::{
    bucket_acl, bucket_policy, db_instance, public_access_block, security_group, sharing, trail, Admins, Decision,
    Mode, Outcome, RemediationConfig,
};
use crate::rules::{self, ecr, iam_trust, kms, secrets, sns, sqs, Finding, Resource, RuleId};
use serde_json::Value;

/// Runs the remediation of the finding's rule on its resource; a rule outside
/// `config.rules` is decided as in dry-run, saying so.
pub(super) async fn dispatch<A: Admins>(
    admins: &A,
    config: &RemediationConfig,
    record: &Value,
    finding: &Finding,
) -> Outcome {
    if config.mode == Mode::Enforce && !config.rules.enforces(finding.rule) {
        let dry = RemediationConfig {
            mode: Mode::DryRun,
            ..config.clone()
        };
        let mut outcome = run(admins, &dry, record, finding).await;
        if let Some(rest) = outcome.reason.strip_prefix("dry-run: ") {
            outcome.reason = format!(
                "rule {} is not in REMEDIATE_RULES (its revert can break callers; add it to act): {rest}",
                finding.rule.as_str()
            );
        }
        return outcome;
    }
    run(admins, config, record, finding).await
}

async fn run<A: Admins>(admins: &A, config: &RemediationConfig, record: &Value, finding: &Finding) -> Outcome {
    let request = record.get("requestParameters").unwrap_or(&Value::Null);
    match (finding.rule, &finding.resource) {
        (RuleId::S3BucketPolicyPublic, Resource::Bucket { name, .. }) => {
            let r = bucket_policy::BucketPolicy::new(name, request);
            driver::run(admins, config, finding, &r).await
        }
        (
            RuleId::S3BucketAclPublic,
            Resource::Bucket {
                name, key, version_id, ..
            },
        ) => {
            let r = bucket_acl::BucketAcl::new(name, key.as_deref(), version_id.as_deref(), request);
            driver::run(admins, config, finding, &r).await
        }
        (RuleId::S3PublicAccessBlockRemoved, Resource::Bucket { name, .. }) => {
            let level = public_access_block::Level::Bucket(name.clone());
            let r = public_access_block::PublicAccessBlockOn::new(level, record);
            driver::run(admins, config, finding, &r).await
        }
        (RuleId::S3PublicAccessBlockRemoved, Resource::AccountPublicAccessBlock { account }) => {
            let level = public_access_block::Level::Account(account.clone());
            let r = public_access_block::PublicAccessBlockOn::new(level, record);
            driver::run(admins, config, finding, &r).await
        }
        (
            RuleId::Ec2SecurityGroupOpenAdminPort,
            Resource::SecurityGroup {
                group_id, group_name, ..
            },
        ) => {
            let r = security_group::OpenedGroup::new(group_id.as_deref(), group_name.as_deref(), record);
            driver::run(admins, config, finding, &r).await
        }
        (RuleId::CloudtrailLoggingStopped, Resource::Trail { name }) => {
            driver::run(admins, config, finding, &trail::StoppedTrail::new(name, record)).await
        }
        (RuleId::TrailsightExemptionChanged, _) => decided(
            finding,
            Decision::NeedsReview,
            Value::Null,
            Value::Null,
            format!(
                "{}; trailsight never changes tags: review who granted or removed the exemption",
                finding.reason
            ),
        ),
        (
            RuleId::KmsKeyPolicyPublic
            | RuleId::SqsQueuePolicyPublic
            | RuleId::SnsTopicPolicyPublic
            | RuleId::EcrRepositoryPolicyPublic
            | RuleId::SecretsmanagerSecretPolicyPublic
            | RuleId::IamRoleTrustPublic
            | RuleId::LambdaFunctionPublic
            | RuleId::EbsSnapshotPublic
            | RuleId::AmiPublic
            | RuleId::RdsSnapshotPublic
            | RuleId::RdsInstancePublic
            | RuleId::Ec2NetworkAclOpenAdminPort
            | RuleId::GuarddutyDisabled
            | RuleId::ConfigRecordingStopped
            | RuleId::VpcFlowLogsDeleted,
            _,
        ) => exposure(admins, config, record, finding).await,
        (
            RuleId::S3BucketPolicyPublic
            | RuleId::S3BucketAclPublic
            | RuleId::S3PublicAccessBlockRemoved
            | RuleId::Ec2SecurityGroupOpenAdminPort
            | RuleId::CloudtrailLoggingStopped,
            _,
        ) => misfit(finding),
    }
}

/// The exposure rules' remediations (resource policies, Lambda, sharing, network ACLs, RDS,
/// and the detective services).
async fn exposure<A: Admins>(admins: &A, config: &RemediationConfig, record: &Value, finding: &Finding) -> Outcome {
    let request = record.get("requestParameters").unwrap_or(&Value::Null);
    let name = record.get("eventName").and_then(Value::as_str).unwrap_or("");
    let region = record.get("awsRegion").and_then(Value::as_str).unwrap_or("").to_owned();
    let id = finding.resource.name();
    let policy = |kind: PolicyKind, field: Option<&Value>| {
        let account = record
            .get("recipientAccountId")
            .or_else(|| record.pointer("/userIdentity/accountId"))
            .and_then(Value::as_str)
            .unwrap_or("");
        let root = format!("arn:{}:iam::{account}:root", rules::partition(record));
        ResourcePolicy::new(kind, &id, field, root)
    };
    let share = |kind: SharedKind| sharing::PublicShare { kind, id: id.clone() };
    let defence = |defence: Defence| SwitchedOff {
        defence,
        region: region.clone(),
    };
    match (finding.rule, &finding.resource) {
        (RuleId::KmsKeyPolicyPublic, Resource::KmsKey { .. }) => {
            let r = policy(PolicyKind::KmsKey, kms::policy(request));
            driver::run(admins, config, finding, &r).await
        }
        (RuleId::SqsQueuePolicyPublic, Resource::Queue { .. }) => {
            let r = policy(PolicyKind::Queue, sqs::policy(request));
            driver::run(admins, config, finding, &r).await
        }
        (RuleId::SnsTopicPolicyPublic, Resource::Topic { .. }) => {
            let mut r = policy(PolicyKind::Topic, sns::policy(name, request));
            if name == "AddPermission" {
                let label = request.get("label").and_then(Value::as_str).unwrap_or("");
                r.introduced = Introduced::Sid(label.to_owned());
            }
            driver::run(admins, config, finding, &r).await
        }
        (RuleId::EcrRepositoryPolicyPublic, Resource::Repository { .. }) => {
            let r = policy(PolicyKind::Repository, ecr::policy(request));
            driver::run(admins, config, finding, &r).await
        }
        (RuleId::SecretsmanagerSecretPolicyPublic, Resource::Secret { .. }) => {
            let r = policy(PolicyKind::Secret, secrets::policy(request));
            driver::run(admins, config, finding, &r).await
        }
        (RuleId::IamRoleTrustPublic, Resource::Role { .. }) => {
            let r = policy(PolicyKind::RoleTrust, iam_trust::policy(request));
            driver::run(admins, config, finding, &r).await
        }
        (RuleId::LambdaFunctionPublic, Resource::Function { id }) => {
            let opening = match request.get("statementId").and_then(Value::as_str) {
                Some(sid) if name.starts_with("AddPermission") => Opening::Permission(sid.to_owned()),
                _ => Opening::Url,
            };
            let r = PublicFunction {
                function: id.clone(),
                opening,
            };
            driver::run(admins, config, finding, &r).await
        }
        (RuleId::EbsSnapshotPublic, Resource::Snapshot { .. }) => {
            driver::run(admins, config, finding, &share(SharedKind::Snapshot)).await
        }
        (RuleId::AmiPublic, Resource::Image { .. }) => {
            driver::run(admins, config, finding, &share(SharedKind::Image)).await
        }
        (RuleId::RdsSnapshotPublic, Resource::DbSnapshot { .. }) => {
            driver::run(admins, config, finding, &share(SharedKind::DbSnapshot)).await
        }
        (RuleId::RdsSnapshotPublic, Resource::DbClusterSnapshot { .. }) => {
            driver::run(admins, config, finding, &share(SharedKind::DbClusterSnapshot)).await
        }
        (RuleId::RdsInstancePublic, Resource::DbInstance { id }) => {
            let r = db_instance::PublicDbInstance { id: id.clone() };
            driver::run(admins, config, finding, &r).await
        }
        (RuleId::Ec2NetworkAclOpenAdminPort, Resource::NetworkAclEntry { id, rule_number }) => {
            let r = OpenAclEntry::new(id, *rule_number, request);
            driver::run(admins, config, finding, &r).await
        }
        (RuleId::GuarddutyDisabled, Resource::Detector { id }) => {
            driver::run(admins, config, finding, &defence(Defence::Detector(id.clone()))).await
        }
        (RuleId::ConfigRecordingStopped, Resource::ConfigRecorder { id }) => {
            driver::run(admins, config, finding, &defence(Defence::Recorder(id.clone()))).await
        }
        (RuleId::ConfigRecordingStopped, Resource::DeliveryChannel { id }) => {
            driver::run(admins, config, finding, &defence(Defence::DeliveryChannel(id.clone()))).await
        }
        (RuleId::VpcFlowLogsDeleted, Resource::FlowLogs { ids }) => {
            driver::run(admins, config, finding, &defence(Defence::FlowLogs(ids.clone()))).await
        }
        _ => misfit(finding),
    }
}

/// A finding whose resource does not fit its rule (a malformed trigger): nothing is done.
fn misfit(finding: &Finding) -> Outcome {
    decided(
        finding,
        Decision::Failed,
        Value::Null,
        Value::Null,
        format!(
            "rule {} does not concern this resource: nothing done",
            finding.rule.as_str()
        ),
    )
}
