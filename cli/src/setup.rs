//! `trailsight setup-notifications` (the bucket's notifications, merged) and `trailsight
//! test-event` (one synthetic finding through the whole route), against the real account.
use crate::args::{SetupArgs, TestEventArgs};
use std::process::ExitCode;
use trailsight_aws::{config, eventbridge::EventBridgeSink, notifications};
use trailsight_core::events::{test_event, TEST_SOURCE};
use trailsight_core::store::ports::EventSink;

fn runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Runtime::new().map_err(|e| {
        eprintln!("trailsight: cannot start the async runtime: {e}");
        ExitCode::from(1)
    })
}

async fn sdk() -> (aws_config::SdkConfig, bool) {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").ok().filter(|u| !u.is_empty());
    (config::sdk_config(endpoint.as_deref()).await, endpoint.is_some())
}

/// Runs `trailsight setup-notifications`.
pub fn run_setup(args: &SetupArgs) -> ExitCode {
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let delivery = match &args.queue_arn {
        Some(arn) if !args.eventbridge => notifications::Delivery::Queue(arn.clone()),
        _ => notifications::Delivery::EventBridge,
    };
    rt.block_on(async {
        let (sdk, path_style) = sdk().await;
        let s3 = config::s3_client(&sdk, path_style);
        match notifications::setup(&s3, &args.bucket, &delivery, &args.prefix).await {
            Ok(notifications::Setup::Added { kept }) => {
                eprintln!(
                    "trailsight: bucket {} now notifies trailsight ({delivery:?}); {kept} other notification(s) kept",
                    args.bucket
                );
                ExitCode::SUCCESS
            }
            Ok(notifications::Setup::AlreadyThere) => {
                eprintln!("trailsight: bucket {} already notifies trailsight: nothing changed", args.bucket);
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("trailsight: {e}");
                ExitCode::from(1)
            }
        }
    })
}

/// Runs `trailsight test-event`.
pub fn run_test_event(args: &TestEventArgs) -> ExitCode {
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    rt.block_on(async {
        let (sdk, _) = sdk().await;
        let region = sdk.region().map(ToString::to_string).unwrap_or_default();
        let event = test_event("", &region, chrono::Utc::now());
        let sink = EventBridgeSink::from_config(&sdk, &args.bus);
        match sink.put(std::slice::from_ref(&event)).await {
            Ok(()) => {
                println!("{}", serde_json::to_string(&event).unwrap_or_default());
                eprintln!(
                    "trailsight: test event {} put on bus {} (source {TEST_SOURCE}); it should reach the findings topic within a minute",
                    event.id, args.bus
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("trailsight: the test event was not accepted by bus {}: {e}", args.bus);
                ExitCode::from(1)
            }
        }
    })
}
