//! GuardDuty, AWS Config and VPC flow logs on moto.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suspended_detector_is_enabled_and_a_deleted_one_is_not_found() {
    // Given a GuardDuty detector suspended (in a region of its own: one detector per region)
    let (env, targets, _, _) = setup().await;
    let region = "eu-west-3";
    let gd = aws_sdk_guardduty::Client::new(&in_region(&env, region));
    let id = gd.create_detector().enable(true).send().await.unwrap().detector_id.unwrap();
    gd.update_detector().detector_id(&id).enable(false).send().await.unwrap();
    let event =
        call_in(region, "guardduty.amazonaws.com", "UpdateDetector", json!({"detectorId": id, "enable": false}));
    // When it is remediated
    decided(&env, &targets, &enforce(), &event, "remediated").await;
    // Then the detector is enabled again
    let live = gd.get_detector().detector_id(&id).send().await.unwrap();
    assert_eq!(live.status().map(|s| s.as_str()), Some("ENABLED"));
    // And once deleted, its trigger is not-found, saying how to recreate it
    gd.delete_detector().detector_id(&id).send().await.unwrap();
    let deleted = call_in(region, "guardduty.amazonaws.com", "DeleteDetector", json!({"detectorId": id}));
    let detail = decided(&env, &targets, &enforce(), &deleted, "not-found").await;
    assert!(detail["reason"].as_str().unwrap().contains("create-detector"), "{detail}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_config_recorder_is_started_again() {
    // Given a Config recorder that was stopped (in a region of its own: one recorder per region)
    let (env, targets, _, _) = setup().await;
    let region = "eu-north-1";
    let config = aws_sdk_config::Client::new(&in_region(&env, region));
    config
        .put_configuration_recorder()
        .configuration_recorder(
            aws_sdk_config::types::ConfigurationRecorder::builder()
                .name("default")
                .role_arn(format!("arn:aws:iam::{ACCOUNT}:role/config"))
                .build(),
        )
        .send()
        .await
        .unwrap();
    config
        .put_delivery_channel()
        .delivery_channel(
            aws_sdk_config::types::DeliveryChannel::builder().name("default").s3_bucket_name(&env.bucket).build(),
        )
        .send()
        .await
        .unwrap();
    let event = call_in(
        region,
        "config.amazonaws.com",
        "StopConfigurationRecorder",
        json!({"configurationRecorderName": "default"}),
    );
    // When it is remediated
    decided(&env, &targets, &enforce(), &event, "remediated").await;
    // Then it records
    let status =
        config.describe_configuration_recorder_status().configuration_recorder_names("default").send().await.unwrap();
    assert!(status.configuration_recorders_status()[0].recording());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleted_flow_logs_are_not_found_with_the_command_that_recreates_them() {
    // Given a flow log that was deleted
    let (env, targets, _, _) = setup().await;
    let ec2 = aws_sdk_ec2::Client::new(&env.sdk);
    let vpc = ec2.create_vpc().cidr_block("10.1.0.0/16").send().await.unwrap();
    let made = ec2
        .create_flow_logs()
        .resource_ids(vpc.vpc().unwrap().vpc_id().unwrap())
        .resource_type(aws_sdk_ec2::types::FlowLogsResourceType::Vpc)
        .traffic_type(aws_sdk_ec2::types::TrafficType::All)
        .log_destination_type(aws_sdk_ec2::types::LogDestinationType::S3)
        .log_destination(format!("arn:aws:s3:::{}", env.bucket))
        .send()
        .await
        .unwrap();
    let id = made.flow_log_ids()[0].clone();
    ec2.delete_flow_logs().flow_log_ids(&id).send().await.unwrap();
    let event = call(
        "ec2.amazonaws.com",
        "DeleteFlowLogs",
        json!({"DeleteFlowLogsRequest": {"FlowLogId": {"content": id, "tag": 1}}}),
    );
    // When it is remediated, then it is not-found, naming the command
    let detail = decided(&env, &targets, &enforce(), &event, "not-found").await;
    assert!(detail["reason"].as_str().unwrap().contains("create-flow-logs"), "{detail}");
}
