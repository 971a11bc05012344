//! `guardduty-disabled`, `config-recording-stopped`, `vpc-flow-logs-deleted`: turn a
//! suspended detector or a stopped recorder back on. What was deleted (a detector, recorder,
//! delivery channel or flow log) cannot be brought back as it was: the decision is
//! `not-found`, saying what would recreate it.

use super::driver::{Plan, Remediation, Tags};
use super::ports::{AdminError, DefenceAdmin, Pause};
use super::Decision;
use serde_json::{json, Value};

/// What the call switched off.
#[derive(Debug, Clone)]
pub enum Defence {
    /// A GuardDuty detector, suspended or deleted.
    Detector(String),
    /// A Config recorder, stopped or deleted.
    Recorder(String),
    /// A Config delivery channel, deleted.
    DeliveryChannel(String),
    /// Flow logs, deleted.
    FlowLogs(Vec<String>),
}

/// One defence and the region it was switched off in (for the recreate hint).
#[derive(Debug)]
pub struct SwitchedOff {
    /// The defence.
    pub defence: Defence,
    /// The record's region.
    pub region: String,
}

/// The live state: on or off, and for flow logs those that exist.
#[derive(Debug)]
pub enum Live {
    /// On (true) or off.
    On(bool),
    /// The delivery channel exists, with its bucket.
    Channel(String),
    /// The flow logs that exist.
    FlowLogs(Vec<String>),
}

impl<A: DefenceAdmin + Pause + Sync> Remediation<A> for SwitchedOff {
    type State = Live;
    type Plan = ();

    async fn read(&self, admins: &A) -> Result<Live, AdminError> {
        Ok(match &self.defence {
            Defence::Detector(id) => Live::On(admins.detector_enabled(id).await?),
            Defence::Recorder(name) => Live::On(admins.recorder_recording(name).await?),
            Defence::DeliveryChannel(name) => Live::Channel(admins.delivery_channel(name).await?),
            Defence::FlowLogs(ids) => Live::FlowLogs(admins.flow_logs(ids).await?),
        })
    }

    fn view(&self, state: &Live) -> Value {
        match state {
            Live::On(on) => json!({"enabled": on}),
            Live::Channel(bucket) => json!({"s3BucketName": bucket}),
            Live::FlowLogs(ids) => json!({"flowLogs": ids}),
        }
    }

    fn tagged<'s>(&self, _state: &'s Live) -> Option<(&'s Tags, String)> {
        None
    }

    fn plan(&self, state: &Live) -> Result<Plan<()>, AdminError> {
        match (state, &self.defence) {
            (Live::On(true), Defence::Detector(id)) => Ok(Plan::Leave(
                Decision::AlreadyFixed,
                format!("GuardDuty detector {id} is enabled"),
            )),
            (Live::On(true), _) => Ok(Plan::Leave(
                Decision::AlreadyFixed,
                "the configuration recorder is recording".into(),
            )),
            (Live::On(false), Defence::Detector(id)) => Ok(Plan::Change {
                plan: (),
                intended: json!({"enabled": true}),
                what: format!("turn GuardDuty detector {id} back on"),
            }),
            (Live::On(false), _) => Ok(Plan::Change {
                plan: (),
                intended: json!({"enabled": true}),
                what: "start the configuration recorder again".into(),
            }),
            (Live::Channel(_), _) => Ok(Plan::Leave(
                Decision::AlreadyFixed,
                "the delivery channel exists again".into(),
            )),
            (Live::FlowLogs(ids), Defence::FlowLogs(asked)) if ids.is_empty() => Ok(Plan::Leave(
                Decision::NotFound,
                format!(
                    "flow logs {} were deleted: recreate them with `aws ec2 create-flow-logs --region {}` (resource, traffic type and destination as before); the traffic in between was not logged",
                    asked.join(", "),
                    self.region
                ),
            )),
            (Live::FlowLogs(ids), _) => Ok(Plan::Leave(
                Decision::AlreadyFixed,
                format!("flow logs {} still exist", ids.join(", ")),
            )),
        }
    }

    async fn act(&self, admins: &A, _plan: &()) -> Result<(), AdminError> {
        match &self.defence {
            Defence::Detector(id) => admins.enable_detector(id).await,
            Defence::Recorder(name) => admins.start_recorder(name).await,
            _ => Ok(()),
        }
    }

    fn unverified(&self) -> String {
        "the detector or recorder is still off after the change".into()
    }

    fn not_found(&self, what: &str) -> String {
        let r = &self.region;
        match &self.defence {
            Defence::Detector(_) => format!(
                "{what} was deleted, with its findings: recreate it with `aws guardduty create-detector --enable --region {r}`"
            ),
            Defence::Recorder(_) => format!(
                "{what} was deleted: recreate it with `aws configservice put-configuration-recorder --region {r}` and `aws configservice start-configuration-recorder`"
            ),
            Defence::DeliveryChannel(_) => format!(
                "{what} was deleted: recreate it with `aws configservice put-delivery-channel --region {r}` (its S3 bucket as before), then start the recorder"
            ),
            Defence::FlowLogs(_) => format!("{what} was deleted: recreate with `aws ec2 create-flow-logs --region {r}`"),
        }
    }
}
