//! The ingest Lambda: wiring only. Reads the configuration, builds the AWS clients once and
//! serves invocations with [`handler::invoke`].

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;
use trailsight_aws::config::sdk_config;
use trailsight_aws::{dynamo::DynamoStore, eventbridge::EventBridgeSink, s3::S3Source};
use trailsight_ingest::{config::Config, handler};

#[tokio::main]
async fn main() -> Result<(), Error> {
    trailsight_aws::telemetry::init_json_logs();
    let config = Config::from_env()?;
    let sdk = sdk_config(config.endpoint_url.as_deref()).await;
    let deps = handler::Deps {
        source: S3Source::from_config(&sdk, config.endpoint_url.is_some()),
        store: DynamoStore::from_config(&sdk, &config.table),
        sink: EventBridgeSink::from_config(&sdk, &config.bus),
        detector: config.detector,
        rules: config.rules,
    };
    let deps = &deps;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        handler::invoke(deps, &event.payload).await
    }))
    .await
}
