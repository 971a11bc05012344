//! The remediation admins on AWS, one module per service family, and [`AwsTargets`], which
//! gives them per account and region:
//!
//! - `BucketAdmin` and `PublicAccessBlockAdmin` in [`s3`] (aws-sdk-s3, aws-sdk-s3control);
//! - `SecurityGroupAdmin` in [`ec2`];
//! - `TrailAdmin` in [`trail`] (aws-sdk-cloudtrail);
//! - `ResourcePolicyAdmin` in [`policies`]: KMS key policies, SQS queue and SNS topic policies,
//!   ECR repository policies, Secrets Manager secret policies, IAM role trust policies;
//! - `FunctionAdmin` in [`functions`] (aws-sdk-lambda);
//! - `SharingAdmin` in [`sharing`]: EBS snapshots and AMIs (aws-sdk-ec2), DB and DB cluster
//!   snapshots (aws-sdk-rds);
//! - `NetworkAclAdmin` in [`network_acl`] (aws-sdk-ec2);
//! - `DbInstanceAdmin` in [`rds`];
//! - `DefenceAdmin` in [`defences`]: GuardDuty detectors, AWS Config recorders and delivery
//!   channels, VPC flow logs.
//!
//! Every SDK call is made as `self.<client>.<operation>()`, so the template test
//! (`tests/scripts/check_iam.py`) finds it and checks that the SAM template grants its IAM
//! action, and nothing more.

pub mod defences;
pub mod ec2;
pub mod functions;
pub mod network_acl;
pub mod policies;
pub mod rds;
pub mod s3;
pub mod sharing;
pub mod trail;

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use trailsight_core::remediate::ports::{AdminError, Pause, Place, Scoped, Targets};

/// Every remediation admin, each with its own client.
#[derive(Debug, Clone)]
pub struct AwsAdmins {
    s3: aws_sdk_s3::Client,
    s3control: aws_sdk_s3control::Client,
    ec2: aws_sdk_ec2::Client,
    cloudtrail: aws_sdk_cloudtrail::Client,
    kms: aws_sdk_kms::Client,
    sqs: aws_sdk_sqs::Client,
    sns: aws_sdk_sns::Client,
    ecr: aws_sdk_ecr::Client,
    secretsmanager: aws_sdk_secretsmanager::Client,
    iam: aws_sdk_iam::Client,
    lambda: aws_sdk_lambda::Client,
    rds: aws_sdk_rds::Client,
    guardduty: aws_sdk_guardduty::Client,
    config: aws_sdk_config::Client,
}

impl AwsAdmins {
    /// Admins from one SDK configuration (`path_style` for emulators).
    pub fn from_config(config: &aws_config::SdkConfig, path_style: bool) -> Self {
        AwsAdmins {
            s3: crate::config::s3_client(config, path_style),
            s3control: crate::config::s3control_client(config, path_style),
            ec2: aws_sdk_ec2::Client::new(config),
            cloudtrail: aws_sdk_cloudtrail::Client::new(config),
            kms: aws_sdk_kms::Client::new(config),
            sqs: aws_sdk_sqs::Client::new(config),
            sns: aws_sdk_sns::Client::new(config),
            ecr: aws_sdk_ecr::Client::new(config),
            secretsmanager: aws_sdk_secretsmanager::Client::new(config),
            iam: aws_sdk_iam::Client::new(config),
            lambda: aws_sdk_lambda::Client::new(config),
            rds: aws_sdk_rds::Client::new(config),
            guardduty: aws_sdk_guardduty::Client::new(config),
            config: aws_sdk_config::Client::new(config),
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
        AwsTargets { sdk: sdk.clone(), path_style, cache: Mutex::new(HashMap::new()) }
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
            aws_credential_types::provider::ProvideCredentials::provide_credentials(&provider).await.map_err(|e| {
                AdminError::AccessDenied {
                    action: "sts:AssumeRole".into(),
                    why: format!("{role}: {}", aws_smithy_types::error::display::DisplayErrorContext(e)),
                }
            })?;
            builder =
                builder.credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(provider));
        }
        Ok(AwsAdmins::from_config(&builder.build(), self.path_style))
    }
}

impl Targets for AwsTargets {
    type Admins = AwsAdmins;

    async fn admins<'a>(&'a self, place: Place<'a>) -> Result<Scoped<'a, AwsAdmins>, AdminError> {
        let Place { region, role_arn, .. } = place;
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

/// Error codes meaning the resource does not exist (any more), by service.
const NOT_FOUND: &[&str] = &[
    // S3, S3 Control
    "NoSuchBucket",
    "NoSuchKey",
    "NoSuchAccessPoint",
    // EC2
    "InvalidGroup.NotFound",
    "InvalidGroupId.Malformed",
    "InvalidSnapshot.NotFound",
    "InvalidAMIID.NotFound",
    "InvalidAMIID.Unavailable",
    "InvalidNetworkAclID.NotFound",
    // CloudTrail
    "TrailNotFoundException",
    // SNS (and S3's HEAD requests)
    "NotFound",
    // KMS
    "NotFoundException",
    // SQS: the query-protocol code, and the JSON protocol's name for it
    "AWS.SimpleQueueService.NonExistentQueue",
    "QueueDoesNotExist",
    // ECR
    "RepositoryNotFoundException",
    // Secrets Manager, Lambda
    "ResourceNotFoundException",
    // IAM
    "NoSuchEntity",
    // RDS
    "DBInstanceNotFound",
    "DBSnapshotNotFound",
    "DBClusterSnapshotNotFoundFault",
    // AWS Config
    "NoSuchConfigurationRecorderException",
    "NoSuchDeliveryChannelException",
];

/// Error codes meaning the caller may not make the call.
const DENIED: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "AllAccessDisabled",
    // SNS
    "AuthorizationError",
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
    if DENIED.contains(&code.as_str()) {
        return AdminError::AccessDenied { action: action.to_owned(), why: format!("{code}: {message}") };
    }
    AdminError::Failed {
        action: action.to_owned(),
        why: if code.is_empty() { message } else { format!("{code}: {message}") },
    }
}

/// Awaits an SDK call (its `send()`), mapping its error as [`admin_error`] does.
async fn sent<T, E, R>(
    action: &str,
    what: &str,
    call: impl std::future::Future<Output = Result<T, SdkError<E, R>>>,
) -> Result<T, AdminError>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    call.await.map_err(|e| admin_error(action, what, e))
}

/// Awaits an SDK call whose output is not needed, as [`sent`] does.
async fn done<T, E, R>(
    action: &str,
    what: &str,
    call: impl std::future::Future<Output = Result<T, SdkError<E, R>>>,
) -> Result<(), AdminError>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    sent(action, what, call).await.map(|_| ())
}

/// Tags from (key, value) pairs, skipping pairs without a key.
fn tag_map<'a>(pairs: impl IntoIterator<Item = (Option<&'a str>, Option<&'a str>)>) -> BTreeMap<String, String> {
    pairs.into_iter().filter_map(|(k, v)| Some((k?.to_owned(), v.unwrap_or("").to_owned()))).collect()
}

impl Pause for AwsAdmins {
    async fn pause(&self, duration: std::time::Duration) {
        tokio::time::sleep(duration).await;
    }
}
