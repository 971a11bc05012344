//! `trailsight setup-notifications` on moto: trailsight's delivery is added to a bucket's
//! notification configuration, and the notifications of other tools survive.

use trailsight_aws::notifications::{setup, Delivery, Setup, SetupError, ENTRY_ID};
use trailsight_it::{unique, Env};

async fn queue_arn(env: &Env, name: &str) -> String {
    let url = env.sqs.create_queue().queue_name(unique(name)).send().await.unwrap().queue_url.unwrap();
    env.sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn]
        .clone()
}

/// Gives the bucket a SIEM's notification: every created object under `prefix` (every object
/// of the bucket, with no filter, when `prefix` is empty).
async fn siem_notification(env: &Env, bucket: &str, prefix: &str) -> String {
    let arn = queue_arn(env, "siem").await;
    let filter = aws_sdk_s3::types::NotificationConfigurationFilter::builder()
        .key(
            aws_sdk_s3::types::S3KeyFilter::builder()
                .filter_rules(
                    aws_sdk_s3::types::FilterRule::builder()
                        .name(aws_sdk_s3::types::FilterRuleName::Prefix)
                        .value(prefix)
                        .build(),
                )
                .build(),
        )
        .build();
    let siem = aws_sdk_s3::types::QueueConfiguration::builder()
        .id("siem")
        .queue_arn(&arn)
        .events(aws_sdk_s3::types::Event::from("s3:ObjectCreated:*"))
        .set_filter((!prefix.is_empty()).then_some(filter))
        .build()
        .unwrap();
    let config = aws_sdk_s3::types::NotificationConfiguration::builder().queue_configurations(siem).build();
    env.s3
        .put_bucket_notification_configuration()
        .bucket(bucket)
        .notification_configuration(config)
        .send()
        .await
        .unwrap();
    arn
}

async fn queue_entries(env: &Env, bucket: &str) -> Vec<(Option<String>, String)> {
    let out = env.s3.get_bucket_notification_configuration().bucket(bucket).send().await.unwrap();
    let mut entries: Vec<(Option<String>, String)> =
        out.queue_configurations().iter().map(|q| (q.id().map(str::to_owned), q.queue_arn().to_owned())).collect();
    entries.sort();
    entries
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_existing_notification_survives_setup() {
    // Given a bucket whose SIEM is notified of every object under exports/
    let env = Env::new().await;
    let bucket = unique("trail");
    env.s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let siem = siem_notification(&env, &bucket, "exports/").await;
    let ours = queue_arn(&env, "ingest").await;
    // When trailsight's queue is set up, twice
    let first = setup(&env.s3, &bucket, &Delivery::Queue(ours.clone()), "AWSLogs/").await.unwrap();
    let second = setup(&env.s3, &bucket, &Delivery::Queue(ours.clone()), "AWSLogs/").await.unwrap();
    // Then both entries are there, and the second run changed nothing
    assert_eq!(first, Setup::Added { kept: 1 });
    assert_eq!(second, Setup::AlreadyThere);
    let mut expected = vec![(Some("siem".to_owned()), siem), (Some(ENTRY_ID.to_owned()), ours)];
    expected.sort();
    assert_eq!(queue_entries(&env, &bucket).await, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overlapping_notification_is_refused_and_left_as_it_was() {
    // Given a SIEM notified of every created object in the bucket
    let env = Env::new().await;
    let bucket = unique("trail");
    env.s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let siem = siem_notification(&env, &bucket, "").await;
    // When trailsight's queue is set up
    let err = setup(&env.s3, &bucket, &Delivery::Queue(queue_arn(&env, "ingest").await), "AWSLogs/").await.unwrap_err();
    // Then it is refused with a message naming the overlapping entry, and nothing changed
    assert!(matches!(err, SetupError::Overlap { ref id, .. } if id == "siem"), "{err}");
    assert!(err.to_string().contains("--eventbridge"), "{err}");
    assert_eq!(queue_entries(&env, &bucket).await, vec![(Some("siem".to_owned()), siem.clone())]);
    // And S3's EventBridge delivery can be turned on beside it, and delivers
    assert_eq!(setup(&env.s3, &bucket, &Delivery::EventBridge, "AWSLogs/").await.unwrap(), Setup::Added { kept: 1 });
    assert_eq!(queue_entries(&env, &bucket).await, vec![(Some("siem".to_owned()), siem)]);
    let rule = unique("objects");
    env.events
        .put_rule()
        .name(&rule)
        .event_pattern(
            serde_json::json!({"source": ["aws.s3"], "detail-type": ["Object Created"], "detail": {"bucket": {"name": [bucket]}}})
                .to_string(),
        )
        .send()
        .await
        .unwrap();
    let ours = queue_arn(&env, "objects").await;
    env.events
        .put_targets()
        .rule(&rule)
        .targets(aws_sdk_eventbridge::types::Target::builder().id("q").arn(&ours).build().unwrap())
        .send()
        .await
        .unwrap();
    let key = "AWSLogs/111122223333/CloudTrail/us-east-1/2024/01/02/x.json.gz";
    env.s3.put_object().bucket(&bucket).key(key).body(b"{}".to_vec().into()).send().await.unwrap();
    let url = env.sqs.get_queue_url().queue_name(ours.rsplit(':').next().unwrap()).send().await.unwrap();
    let got = env.sqs.receive_message().queue_url(url.queue_url().unwrap()).wait_time_seconds(5).send().await.unwrap();
    let body: serde_json::Value = serde_json::from_str(got.messages()[0].body().unwrap()).unwrap();
    assert_eq!(body["detail"]["object"]["key"], key);
}
