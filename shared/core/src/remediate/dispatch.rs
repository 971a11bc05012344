//! From a finding to its remediation: an exhaustive match on the rule id (a new rule must say
//! how it is remediated), each arm building the remediation from the finding's resource and
//! the call's request, and the `REMEDIATE_RULES` switch (a rule outside it is decided as in
//! dry-run).

use super::defences::{Defence, SwitchedOff};
use super::driver::{self, decided};
use super::function::{Opening, PublicFunction};
use super::network_acl::OpenAclEntry;
use super::ports::{BlockLevel, PolicyKind, SharedKind};
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
        let dry = RemediationConfig { mode: Mode::DryRun, ..config.clone() };
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

/// The remediation a finding calls for, built from its resource and the call.
enum Chosen {
    BucketPolicy(bucket_policy::BucketPolicy),
    BucketAcl(bucket_acl::BucketAcl),
    PublicAccessBlock(public_access_block::PublicAccessBlockOn),
    Group(security_group::OpenedGroup),
    Trail(trail::StoppedTrail),
    Policy(ResourcePolicy),
    Function(PublicFunction),
    Share(sharing::PublicShare),
    DbInstance(db_instance::PublicDbInstance),
    AclEntry(OpenAclEntry),
    Defence(SwitchedOff),
    /// A change trailsight never reverts: decided `needs-review`.
    Review,
}

async fn run<A: Admins>(admins: &A, config: &RemediationConfig, record: &Value, finding: &Finding) -> Outcome {
    let Some(chosen) = choose(&Call::new(record), finding) else {
        return misfit(finding);
    };
    match chosen {
        Chosen::BucketPolicy(r) => driver::run(admins, config, finding, &r).await,
        Chosen::BucketAcl(r) => driver::run(admins, config, finding, &r).await,
        Chosen::PublicAccessBlock(r) => driver::run(admins, config, finding, &r).await,
        Chosen::Group(r) => driver::run(admins, config, finding, &r).await,
        Chosen::Trail(r) => driver::run(admins, config, finding, &r).await,
        Chosen::Policy(r) => driver::run(admins, config, finding, &r).await,
        Chosen::Function(r) => driver::run(admins, config, finding, &r).await,
        Chosen::Share(r) => driver::run(admins, config, finding, &r).await,
        Chosen::DbInstance(r) => driver::run(admins, config, finding, &r).await,
        Chosen::AclEntry(r) => driver::run(admins, config, finding, &r).await,
        Chosen::Defence(r) => driver::run(admins, config, finding, &r).await,
        Chosen::Review => decided(
            finding,
            Decision::NeedsReview,
            Value::Null,
            Value::Null,
            format!("{}; trailsight never changes tags: review who granted or removed the exemption", finding.reason),
        ),
    }
}

/// One arm per rule id (no catch-all: a new rule must say how it is remediated); `None` when
/// the finding's resource does not fit its rule.
fn choose(call: &Call, finding: &Finding) -> Option<Chosen> {
    let resource = &finding.resource;
    Some(match finding.rule {
        RuleId::S3BucketPolicyPublic => call.bucket_policy(resource)?,
        RuleId::S3BucketAclPublic => call.bucket_acl(resource)?,
        RuleId::S3PublicAccessBlockRemoved => call.public_access_block(resource)?,
        RuleId::Ec2SecurityGroupOpenAdminPort => call.security_group(resource)?,
        RuleId::CloudtrailLoggingStopped => call.trail(resource)?,
        RuleId::TrailsightExemptionChanged => Chosen::Review,
        RuleId::KmsKeyPolicyPublic => call.resource_policy(resource, PolicyKind::KmsKey)?,
        RuleId::SqsQueuePolicyPublic => call.resource_policy(resource, PolicyKind::Queue)?,
        RuleId::SnsTopicPolicyPublic => call.resource_policy(resource, PolicyKind::Topic)?,
        RuleId::EcrRepositoryPolicyPublic => call.resource_policy(resource, PolicyKind::Repository)?,
        RuleId::SecretsmanagerSecretPolicyPublic => call.resource_policy(resource, PolicyKind::Secret)?,
        RuleId::IamRoleTrustPublic => call.resource_policy(resource, PolicyKind::RoleTrust)?,
        RuleId::LambdaFunctionPublic => call.function(resource)?,
        RuleId::EbsSnapshotPublic => {
            share(resource, |r| matches!(r, Resource::Snapshot { .. }).then_some(SharedKind::Snapshot))?
        }
        RuleId::AmiPublic => share(resource, |r| matches!(r, Resource::Image { .. }).then_some(SharedKind::Image))?,
        RuleId::RdsSnapshotPublic => share(resource, |r| match r {
            Resource::DbSnapshot { .. } => Some(SharedKind::DbSnapshot),
            Resource::DbClusterSnapshot { .. } => Some(SharedKind::DbClusterSnapshot),
            _ => None,
        })?,
        RuleId::RdsInstancePublic => match resource {
            Resource::DbInstance { id } => Chosen::DbInstance(db_instance::PublicDbInstance { id: id.clone() }),
            _ => return None,
        },
        RuleId::Ec2NetworkAclOpenAdminPort => match resource {
            Resource::NetworkAclEntry { id, rule_number } => {
                Chosen::AclEntry(OpenAclEntry::new(id, *rule_number, call.request))
            }
            _ => return None,
        },
        RuleId::GuarddutyDisabled => match resource {
            Resource::Detector { id } => call.defence(Defence::Detector(id.clone())),
            _ => return None,
        },
        RuleId::ConfigRecordingStopped => match resource {
            Resource::ConfigRecorder { id } => call.defence(Defence::Recorder(id.clone())),
            Resource::DeliveryChannel { id } => call.defence(Defence::DeliveryChannel(id.clone())),
            _ => return None,
        },
        RuleId::VpcFlowLogsDeleted => match resource {
            Resource::FlowLogs { ids } => call.defence(Defence::FlowLogs(ids.clone())),
            _ => return None,
        },
    })
}

/// Withdrawing the public share of `resource`, of the kind `kind` finds it to be.
fn share(resource: &Resource, kind: impl FnOnce(&Resource) -> Option<SharedKind>) -> Option<Chosen> {
    Some(Chosen::Share(sharing::PublicShare { kind: kind(resource)?, id: resource.name() }))
}

/// What the remediations read from the triggering call.
struct Call<'a> {
    record: &'a Value,
    request: &'a Value,
    name: &'a str,
}

impl<'a> Call<'a> {
    fn new(record: &'a Value) -> Self {
        Call {
            record,
            request: record.get("requestParameters").unwrap_or(&Value::Null),
            name: record.get("eventName").and_then(Value::as_str).unwrap_or(""),
        }
    }

    /// Removing the public statements the call added to a bucket's policy.
    fn bucket_policy(&self, resource: &Resource) -> Option<Chosen> {
        let Resource::Bucket { name, .. } = resource else {
            return None;
        };
        Some(Chosen::BucketPolicy(bucket_policy::BucketPolicy::new(name, self.request)))
    }

    /// Removing the public grants the call made on a bucket, object or object version.
    fn bucket_acl(&self, resource: &Resource) -> Option<Chosen> {
        let Resource::Bucket { name, key, version_id, .. } = resource else {
            return None;
        };
        let acl = bucket_acl::BucketAcl::new(name, key.as_deref(), version_id.as_deref(), self.request);
        Some(Chosen::BucketAcl(acl))
    }

    /// Putting back the bucket's or the account's public access block.
    fn public_access_block(&self, resource: &Resource) -> Option<Chosen> {
        let level = match resource {
            Resource::Bucket { name, .. } => BlockLevel::Bucket(name.clone()),
            Resource::AccountPublicAccessBlock { account } => BlockLevel::Account(account.clone()),
            _ => return None,
        };
        let block = public_access_block::PublicAccessBlockOn::new(level, self.record);
        Some(Chosen::PublicAccessBlock(block))
    }

    /// Revoking the ingress rules the call opened on a security group.
    fn security_group(&self, resource: &Resource) -> Option<Chosen> {
        let Resource::SecurityGroup { group_id, group_name, .. } = resource else {
            return None;
        };
        let group = security_group::OpenedGroup::new(group_id.as_deref(), group_name.as_deref(), self.record);
        Some(Chosen::Group(group))
    }

    /// Starting the trail's logging again.
    fn trail(&self, resource: &Resource) -> Option<Chosen> {
        let Resource::Trail { name } = resource else {
            return None;
        };
        Some(Chosen::Trail(trail::StoppedTrail::new(name, self.record)))
    }

    /// Removing the function's public permission (by its statement id) or its public URL.
    fn function(&self, resource: &Resource) -> Option<Chosen> {
        let Resource::Function { id } = resource else {
            return None;
        };
        let opening = match self.request.get("statementId").and_then(Value::as_str) {
            Some(sid) if self.name.starts_with("AddPermission") => Opening::Permission(sid.to_owned()),
            _ => Opening::Url,
        };
        Some(Chosen::Function(PublicFunction { function: id.clone(), opening }))
    }

    /// The remediation of a resource policy of `kind` on `resource` (`None` when the resource
    /// is not of that kind), with the account's root, which a key policy must keep granting.
    fn resource_policy(&self, resource: &Resource, kind: PolicyKind) -> Option<Chosen> {
        let request = self.request;
        let field = match (kind, resource) {
            (PolicyKind::KmsKey, Resource::KmsKey { .. }) => kms::policy(request),
            (PolicyKind::Queue, Resource::Queue { .. }) => sqs::policy(request),
            (PolicyKind::Topic, Resource::Topic { .. }) => sns::policy(self.name, request),
            (PolicyKind::Repository, Resource::Repository { .. }) => ecr::policy(request),
            (PolicyKind::Secret, Resource::Secret { .. }) => secrets::policy(request),
            (PolicyKind::RoleTrust, Resource::Role { .. }) => iam_trust::policy(request),
            _ => return None,
        };
        let account = rules::record_account(self.record);
        let root = format!("arn:{}:iam::{account}:root", rules::partition(self.record));
        let mut r = ResourcePolicy::new(kind, &resource.name(), field, root);
        if kind == PolicyKind::Topic && self.name == "AddPermission" {
            let label = request.get("label").and_then(Value::as_str).unwrap_or("");
            r.introduced = Introduced::Sid(label.to_owned());
        }
        Some(Chosen::Policy(r))
    }

    /// A detective service switched back on in the call's region.
    fn defence(&self, defence: Defence) -> Chosen {
        let region = self.record.get("awsRegion").and_then(Value::as_str).unwrap_or("");
        Chosen::Defence(SwitchedOff { defence, region: region.to_owned() })
    }
}

/// A finding whose resource does not fit its rule (a malformed trigger): nothing is done.
fn misfit(finding: &Finding) -> Outcome {
    decided(
        finding,
        Decision::Failed,
        Value::Null,
        Value::Null,
        format!("rule {} does not concern this resource: nothing done", finding.rule.as_str()),
    )
}
