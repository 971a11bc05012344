//! Defences switched off by one call: `guardduty-disabled` (DeleteDetector, UpdateDetector
//! with enable false), `config-recording-stopped` (StopConfigurationRecorder,
//! DeleteConfigurationRecorder, DeleteDeliveryChannel) and `vpc-flow-logs-deleted`
//! (DeleteFlowLogs).

use super::{text, Call, Events, Finding, Resource, Rule, RuleId, Severity};
use serde_json::Value;

/// `guardduty-disabled`.
pub const GUARDDUTY: Rule = Rule::new(RuleId::GuarddutyDisabled, Severity::Critical, GUARDDUTY_EVENTS, check_guardduty);
const GUARDDUTY_EVENTS: Events = &[("guardduty.amazonaws.com", &["DeleteDetector", "UpdateDetector"])];

/// `config-recording-stopped`.
pub const CONFIG: Rule = Rule::new(RuleId::ConfigRecordingStopped, Severity::High, CONFIG_EVENTS, check_config);
const CONFIG_EVENTS: Events =
    &[("config.amazonaws.com", &["StopConfigurationRecorder", "DeleteConfigurationRecorder", "DeleteDeliveryChannel"])];

/// `vpc-flow-logs-deleted`.
pub const FLOW_LOGS: Rule = Rule::new(RuleId::VpcFlowLogsDeleted, Severity::Medium, FLOW_LOGS_EVENTS, check_flow_logs);
const FLOW_LOGS_EVENTS: Events = &[("ec2.amazonaws.com", &["DeleteFlowLogs"])];

fn check_guardduty(call: &Call<'_>) -> Vec<Finding> {
    let detector = Resource::Detector { id: text(call.request, "detectorId").unwrap_or("").to_owned() };
    let why = match call.name {
        "DeleteDetector" => "DeleteDetector: GuardDuty stops monitoring this region and its findings are deleted",
        _ => {
            let disabled = match call.request.get("enable") {
                Some(Value::Bool(b)) => !*b,
                Some(Value::String(s)) => s.eq_ignore_ascii_case("false"),
                _ => false,
            };
            if !disabled {
                return vec![];
            }
            "UpdateDetector with enable false: GuardDuty is suspended in this region"
        }
    };
    vec![GUARDDUTY.finding(detector, why.to_owned())]
}

fn check_config(call: &Call<'_>) -> Vec<Finding> {
    let (resource, why) = match call.name {
        "DeleteDeliveryChannel" => (
            Resource::DeliveryChannel { id: text(call.request, "deliveryChannelName").unwrap_or("").to_owned() },
            "DeleteDeliveryChannel: AWS Config can no longer deliver configuration history or snapshots",
        ),
        name => (
            Resource::ConfigRecorder { id: text(call.request, "configurationRecorderName").unwrap_or("").to_owned() },
            if name == "StopConfigurationRecorder" {
                "StopConfigurationRecorder: AWS Config stops recording resource changes"
            } else {
                "DeleteConfigurationRecorder: AWS Config no longer records resource changes"
            },
        ),
    };
    vec![CONFIG.finding(resource, why.to_owned())]
}

/// The flow log ids of a DeleteFlowLogs request, whatever its shape (`flowLogIds` as a list,
/// or the `DeleteFlowLogsRequest.FlowLogId` wrapper of `{"content": "fl-..."}` objects).
pub fn flow_log_ids(request: &Value) -> Vec<String> {
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::String(s) if s.starts_with("fl-") && !out.contains(s) => out.push(s.clone()),
            Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            Value::Object(o) => o.values().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    let mut out = vec![];
    walk(request, &mut out);
    out
}

fn check_flow_logs(call: &Call<'_>) -> Vec<Finding> {
    let ids = flow_log_ids(call.request);
    let why = format!(
        "DeleteFlowLogs: network traffic of {} is no longer logged",
        if ids.is_empty() { "the VPC".to_owned() } else { ids.join(", ") }
    );
    vec![FLOW_LOGS.finding(Resource::FlowLogs { ids }, why)]
}
