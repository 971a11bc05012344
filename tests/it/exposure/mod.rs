//! Remediation of the exposure rules with the real AWS admins on moto: for each rule whose
//! operations moto supports, the risky state is made live with the service's own API, the
//! trigger is remediated through the handler, and the live state after, the parts that must
//! stay, and the decision event a subscriber receives are checked. Then a forged trigger,
//! dry-run, the exemption tag, `REMEDIATE_RULES` and AccessDenied on the new admins. The
//! tests are grouped by what is remediated: resource policies and Lambda (`policies`), shared
//! snapshots, images, network ACLs and DB instances (`shares`), the detective services
//! (`defences`).

mod defences;
mod policies;
mod shares;

use crate::deny::Denying;
use serde_json::{json, Value};
use trailsight_aws::admin::{AwsAdmins, AwsTargets};
use trailsight_aws::claims::DynamoLedger;
use trailsight_aws::eventbridge::EventBridgeSink;
use trailsight_core::remediate::{Mode, RemediationConfig, RuleSelection};
use trailsight_it::{unique, Env};
use trailsight_remediate::handler::{handle, HandlerError};

pub(super) const ACCOUNT: &str = "123456789012";
const MALLORY: &str = "arn:aws:iam::123456789012:user/mallory";
pub(super) const ROOT: &str = r#"{"Sid":"Root","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"kms:*","Resource":"*"}"#;

pub(super) fn enforce() -> RemediationConfig {
    RemediationConfig { mode: Mode::Enforce, ..RemediationConfig::default() }
}

pub(super) fn doc(statements: &[&str]) -> String {
    format!(r#"{{"Version":"2012-10-17","Statement":[{}]}}"#, statements.join(","))
}

pub(super) fn statements(policy: &str) -> Vec<Value> {
    let v: Value = serde_json::from_str(policy).unwrap();
    match &v["Statement"] {
        Value::Array(a) => a.clone(),
        other => vec![other.clone()],
    }
}

/// An `AWS API Call via CloudTrail` event of a successful call in `region`.
pub(super) fn call_in(region: &str, source: &str, name: &str, request: Value) -> Value {
    json!({
        "version": "0", "id": "e", "detail-type": "AWS API Call via CloudTrail", "source": "aws.ec2",
        "account": ACCOUNT, "region": region, "time": "2024-01-02T03:04:05Z", "resources": [],
        "detail": {
            "eventVersion": "1.09", "eventTime": "2024-01-02T03:04:05Z", "eventSource": source, "eventName": name,
            "awsRegion": region, "recipientAccountId": ACCOUNT, "eventID": unique("ev"),
            "sourceIPAddress": "198.51.100.7", "eventType": "AwsApiCall",
            "userIdentity": {"type": "IAMUser", "arn": MALLORY, "accountId": ACCOUNT},
            "requestParameters": request
        }
    })
}

pub(super) fn call(source: &str, name: &str, request: Value) -> Value {
    call_in("us-east-1", source, name, request)
}

pub(super) async fn setup() -> (Env, AwsTargets, EventBridgeSink, DynamoLedger) {
    let env = Env::new().await;
    let targets = AwsTargets::from_config(&env.sdk, true);
    let sink = EventBridgeSink::new(env.events.clone(), &env.bus);
    let ledger = DynamoLedger::from_config(&env.sdk, &env.table);
    (env, targets, sink, ledger)
}

/// Remediates `event` with `config`; checks the decision in the response and in the event a
/// subscriber receives, and returns that event's detail.
pub(super) async fn decided(
    env: &Env,
    targets: &AwsTargets,
    config: &RemediationConfig,
    event: &Value,
    want: &str,
) -> Value {
    let sink = EventBridgeSink::new(env.events.clone(), &env.bus);
    let ledger = DynamoLedger::from_config(&env.sdk, &env.table);
    let out = handle(targets, &ledger, &sink, config, event).await.unwrap();
    assert_eq!(out["decisions"][0]["decision"], want, "{out}");
    let received = env.receive(1).await;
    assert_eq!(received.len(), 1, "{received:?}");
    assert_eq!(received[0]["detail-type"], "Trailsight Remediation");
    assert_eq!(received[0]["detail"]["decision"], want);
    received[0]["detail"].clone()
}

pub(super) fn in_region(env: &Env, region: &str) -> aws_config::SdkConfig {
    env.sdk.to_builder().region(aws_config::Region::new(region.to_owned())).build()
}
