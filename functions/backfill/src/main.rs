//! The backfill worker Lambda: wiring only. Reads the configuration, builds the AWS clients
//! once and serves the backfill state machine's calls with [`handler::invoke`], each within
//! the invocation's time budget.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;
use trailsight_aws::config::sdk_config;
use trailsight_aws::{archive::S3Archive, dynamo::DynamoStore, eventbridge::EventBridgeSink, s3::S3Source};
use trailsight_backfill::{config::Config, handler};

#[tokio::main]
async fn main() -> Result<(), Error> {
    trailsight_aws::telemetry::init_json_logs();
    let config = Config::from_env()?;
    let sdk = sdk_config(config.ingest.endpoint_url.as_deref()).await;
    let path_style = config.ingest.endpoint_url.is_some();
    let bus = config.send_events.then(|| EventBridgeSink::from_config(&sdk, &config.ingest.bus));
    let deps = handler::Deps {
        source: S3Source::from_config(&sdk, path_style),
        store: DynamoStore::from_config(&sdk, &config.ingest.table),
        sink: handler::MaybeSink(bus),
        detector: config.ingest.detector,
        rules: config.ingest.rules,
    };
    let (deps, archive) = (&deps, &S3Archive::from_config(&sdk, path_style));
    let manifests = &config.manifest_bucket;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let budget = handler::Budget::until_epoch_ms(event.context.deadline);
        handler::invoke(deps, archive, manifests, event.payload, budget).await
    }))
    .await
}
