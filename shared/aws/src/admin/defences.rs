//! [`DefenceAdmin`]: the detective services one call can switch off, read and turned back on.
//!
//! - GuardDuty detectors (aws-sdk-guardduty): GetDetector's `Status`, UpdateDetector with
//!   `Enable`. GuardDuty answers `BadRequestException` ("the input detectorId is not owned by
//!   the current account") for a detector that does not exist: both calls take nothing but the
//!   detector id, so that answer means the detector is gone;
//! - AWS Config (aws-sdk-config): DescribeConfigurationRecorderStatus's `recording`,
//!   StartConfigurationRecorder, and DescribeDeliveryChannels' bucket;
//! - VPC flow logs (aws-sdk-ec2): DescribeFlowLogs filtered on `flow-log-id`, which lists the
//!   ids that exist and silently leaves out the others.

use super::{admin_error, done, error_code, sent, AwsAdmins};
use aws_sdk_ec2::types::Filter;
use aws_sdk_guardduty::types::DetectorStatus;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use trailsight_core::remediate::ports::{AdminError, DefenceAdmin};

/// GuardDuty's answer for a detector id that is not (any more) the account's.
fn detector_error<E, R>(action: &str, id: &str, e: SdkError<E, R>) -> AdminError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let what = format!("GuardDuty detector {id}");
    if error_code(&e) == Some("BadRequestException") {
        return AdminError::NotFound(what);
    }
    admin_error(action, &what, e)
}

/// The item called `name`, else the first (AWS Config answers a name filter with that item, and
/// an emulator may name it differently).
fn named<'a, T>(items: &'a [T], name: &str, name_of: impl Fn(&T) -> Option<&str>) -> Option<&'a T> {
    items.iter().find(|i| name_of(i) == Some(name)).or(items.first())
}

impl DefenceAdmin for AwsAdmins {
    async fn detector_enabled(&self, id: &str) -> Result<bool, AdminError> {
        let out = self
            .guardduty
            .get_detector()
            .detector_id(id)
            .send()
            .await
            .map_err(|e| detector_error("guardduty:GetDetector", id, e))?;
        Ok(out.status() == Some(&DetectorStatus::Enabled))
    }

    async fn enable_detector(&self, id: &str) -> Result<(), AdminError> {
        let call = self.guardduty.update_detector().detector_id(id).enable(true);
        call.send().await.map(drop).map_err(|e| detector_error("guardduty:UpdateDetector", id, e))
    }

    async fn recorder_recording(&self, name: &str) -> Result<bool, AdminError> {
        let what = format!("configuration recorder {name}");
        let call = self.config.describe_configuration_recorder_status().configuration_recorder_names(name);
        let out = sent("config:DescribeConfigurationRecorderStatus", &what, call.send()).await?;
        let status =
            named(out.configuration_recorders_status(), name, |s| s.name()).ok_or(AdminError::NotFound(what))?;
        Ok(status.recording())
    }

    async fn start_recorder(&self, name: &str) -> Result<(), AdminError> {
        let call = self.config.start_configuration_recorder().configuration_recorder_name(name);
        done("config:StartConfigurationRecorder", &format!("configuration recorder {name}"), call.send()).await
    }

    async fn delivery_channel(&self, name: &str) -> Result<String, AdminError> {
        let what = format!("delivery channel {name}");
        let call = self.config.describe_delivery_channels().delivery_channel_names(name);
        let out = sent("config:DescribeDeliveryChannels", &what, call.send()).await?;
        let channel = named(out.delivery_channels(), name, |c| c.name()).ok_or(AdminError::NotFound(what))?;
        Ok(channel.s3_bucket_name().unwrap_or("").to_owned())
    }

    async fn flow_logs(&self, ids: &[String]) -> Result<Vec<String>, AdminError> {
        if ids.is_empty() {
            return Ok(vec![]);
        }
        let what = format!("flow logs {}", ids.join(", "));
        let filter = Filter::builder().name("flow-log-id").set_values(Some(ids.to_vec())).build();
        let pages = self.ec2.describe_flow_logs().filter(filter).into_paginator().items().send();
        let logs = sent("ec2:DescribeFlowLogs", &what, pages.try_collect()).await?;
        let ids = logs.iter().filter_map(|f| f.flow_log_id()).filter(|id| ids.iter().any(|i| i == id));
        Ok(ids.map(str::to_owned).collect())
    }
}
