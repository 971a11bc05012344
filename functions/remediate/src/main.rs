//! The remediation Lambda: wiring only. Reads the configuration, builds the AWS clients once
//! and serves triggers with [`handler::handle`].

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;
use trailsight_aws::{admin::AwsTargets, claims::DynamoLedger, config::sdk_config, eventbridge::EventBridgeSink};
use trailsight_remediate::{config::Config, handler};

#[tokio::main]
async fn main() -> Result<(), Error> {
    trailsight_aws::telemetry::init_json_logs();
    let config = Config::from_env()?;
    let sdk = sdk_config(config.endpoint_url.as_deref()).await;
    let admins = AwsTargets::from_config(&sdk, config.endpoint_url.is_some());
    let sink = EventBridgeSink::from_config(&sdk, &config.bus);
    let ledger = DynamoLedger::from_config(&sdk, &config.table);
    tracing::info!(mode = ?config.remediation.mode, "remediation function ready");
    let (admins, ledger, sink, remediation) = (&admins, &ledger, &sink, &config.remediation);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        handler::handle(admins, ledger, sink, remediation, &event.payload).await
    }))
    .await
}
