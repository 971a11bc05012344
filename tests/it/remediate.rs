//! The remediation handler with the real AWS admins on moto: live state is re-read, exactly
//! the opening part is removed, dry-run changes nothing, and every decision reaches an
//! EventBridge subscriber.

use serde_json::{json, Value};
use trailsight_aws::admin::AwsAdmins;
use trailsight_aws::eventbridge::EventBridgeSink;
use trailsight_core::remediate::{Mode, RemediationConfig};
use trailsight_it::{unique, Env};
use trailsight_remediate::handler::handle;

const PRIVATE: &str = r#"{"Sid":"Reader","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::BUCKET/*"}"#;
const PUBLIC: &str =
    r#"{"Sid":"Anyone","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::BUCKET/*"}"#;

fn enforce() -> RemediationConfig {
    RemediationConfig {
        mode: Mode::Enforce,
        ..RemediationConfig::default()
    }
}

fn api_call(source: &str, name: &str, request: Value) -> Value {
    json!({
        "version": "0", "id": "e", "detail-type": "AWS API Call via CloudTrail", "source": "aws.s3",
        "account": "123456789012", "region": "us-east-1", "time": "2024-01-02T03:04:05Z", "resources": [],
        "detail": {
            "eventVersion": "1.09", "eventTime": "2024-01-02T03:04:05Z", "eventSource": source, "eventName": name,
            "awsRegion": "us-east-1", "recipientAccountId": "123456789012", "eventID": unique("ev"),
            "sourceIPAddress": "198.51.100.7", "eventType": "AwsApiCall",
            "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::123456789012:user/mallory", "accountId": "123456789012"},
            "requestParameters": request
        }
    })
}

async fn setup() -> (Env, AwsAdmins, EventBridgeSink) {
    let env = Env::new().await;
    let admins = AwsAdmins::from_config(&env.sdk, true);
    let sink = EventBridgeSink::new(env.events.clone(), &env.bus);
    (env, admins, sink)
}

async fn public_policy_bucket(env: &Env) -> (String, String, String) {
    let bucket = unique("data");
    env.s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let private = PRIVATE.replace("BUCKET", &bucket);
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[{private},{}]}}"#,
        PUBLIC.replace("BUCKET", &bucket)
    );
    env.s3
        .put_bucket_policy()
        .bucket(&bucket)
        .policy(&policy)
        .send()
        .await
        .unwrap();
    (bucket, policy, private)
}

fn policy_event(bucket: &str, policy: &str) -> Value {
    let doc: Value = serde_json::from_str(policy).unwrap();
    api_call(
        "s3.amazonaws.com",
        "PutBucketPolicy",
        json!({"bucketName": bucket, "bucketPolicy": doc}),
    )
}

async fn live_policy(env: &Env, bucket: &str) -> Option<String> {
    env.s3
        .get_bucket_policy()
        .bucket(bucket)
        .send()
        .await
        .ok()
        .and_then(|o| o.policy)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_policy_statement_is_removed_from_the_live_bucket_and_reported() {
    // Given a live bucket policy with a private and a public statement
    let (env, admins, sink) = setup().await;
    let (bucket, policy, private) = public_policy_bucket(&env).await;
    // When the PutBucketPolicy call is remediated in enforce mode
    let out = handle(&admins, &sink, &enforce(), &policy_event(&bucket, &policy))
        .await
        .unwrap();
    // Then only the public statement is gone
    assert_eq!(out["decisions"][0]["decision"], "remediated", "{out}");
    let live: Value = serde_json::from_str(&live_policy(&env, &bucket).await.unwrap()).unwrap();
    assert_eq!(
        live["Statement"],
        json!([serde_json::from_str::<Value>(&private).unwrap()])
    );
    // And a subscriber receives the decision with the state before and after
    let events = env.receive(1).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["detail-type"], "Trailsight Remediation");
    assert_eq!(events[0]["detail"]["decision"], "remediated");
    assert_eq!(
        events[0]["detail"]["before"]["Statement"].as_array().map(Vec::len),
        Some(2)
    );
    assert_eq!(
        events[0]["detail"]["actor"]["arn"],
        "arn:aws:iam::123456789012:user/mallory"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_reports_and_leaves_the_live_policy_alone() {
    let (env, admins, sink) = setup().await;
    let (bucket, policy, _) = public_policy_bucket(&env).await;
    let before = live_policy(&env, &bucket).await;
    let out = handle(
        &admins,
        &sink,
        &RemediationConfig::default(),
        &policy_event(&bucket, &policy),
    )
    .await
    .unwrap();
    assert_eq!(out["decisions"][0]["decision"], "would-remediate");
    assert_eq!(live_policy(&env, &bucket).await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bucket_tagged_exempt_is_left_alone() {
    let (env, admins, sink) = setup().await;
    let (bucket, policy, _) = public_policy_bucket(&env).await;
    let tag = aws_sdk_s3::types::Tag::builder()
        .key("trailsight:exempt")
        .value("true")
        .build()
        .unwrap();
    let tagging = aws_sdk_s3::types::Tagging::builder().tag_set(tag).build().unwrap();
    env.s3
        .put_bucket_tagging()
        .bucket(&bucket)
        .tagging(tagging)
        .send()
        .await
        .unwrap();
    let out = handle(&admins, &sink, &enforce(), &policy_event(&bucket, &policy))
        .await
        .unwrap();
    assert_eq!(out["decisions"][0]["decision"], "exempt");
    assert_eq!(live_policy(&env, &bucket).await, Some(policy));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_acl_grants_are_removed_and_the_owner_keeps_full_control() {
    // Given a bucket made public-read
    let (env, admins, sink) = setup().await;
    let bucket = unique("acl");
    env.s3.create_bucket().bucket(&bucket).send().await.unwrap();
    env.s3
        .put_bucket_acl()
        .bucket(&bucket)
        .acl(aws_sdk_s3::types::BucketCannedAcl::PublicRead)
        .send()
        .await
        .unwrap();
    let event = api_call(
        "s3.amazonaws.com",
        "PutBucketAcl",
        json!({"bucketName": bucket, "x-amz-acl": ["public-read"]}),
    );
    // When remediated
    let out = handle(&admins, &sink, &enforce(), &event).await.unwrap();
    // Then no grant to the public groups is left, and the owner's grant is
    assert_eq!(out["decisions"][0]["decision"], "remediated", "{out}");
    let acl = env.s3.get_bucket_acl().bucket(&bucket).send().await.unwrap();
    let uris: Vec<Option<&str>> = acl.grants().iter().map(|g| g.grantee().and_then(|e| e.uri())).collect();
    assert!(
        uris.iter().all(|u| u.is_none_or(|u| !u.contains("AllUsers"))),
        "{uris:?}"
    );
    assert!(acl
        .grants()
        .iter()
        .any(|g| g.permission() == Some(&aws_sdk_s3::types::Permission::FullControl)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn world_open_ssh_is_revoked_and_other_rules_stay() {
    // Given a group with SSH open to the world and to 10.0.0.0/8, and HTTPS open to the world
    let (env, admins, sink) = setup().await;
    let ec2 = aws_sdk_ec2::Client::new(&env.sdk);
    let group = ec2
        .create_security_group()
        .group_name(unique("web"))
        .description("test")
        .send()
        .await
        .unwrap()
        .group_id
        .unwrap();
    let perm = |port: i32, cidrs: &[&str]| {
        aws_sdk_ec2::types::IpPermission::builder()
            .ip_protocol("tcp")
            .from_port(port)
            .to_port(port)
            .set_ip_ranges(Some(
                cidrs
                    .iter()
                    .map(|c| aws_sdk_ec2::types::IpRange::builder().cidr_ip(*c).build())
                    .collect(),
            ))
            .build()
    };
    ec2.authorize_security_group_ingress()
        .group_id(&group)
        .ip_permissions(perm(22, &["0.0.0.0/0", "10.0.0.0/8"]))
        .ip_permissions(perm(443, &["0.0.0.0/0"]))
        .send()
        .await
        .unwrap();
    let event = api_call(
        "ec2.amazonaws.com",
        "AuthorizeSecurityGroupIngress",
        json!({"groupId": group, "ipPermissions": {"items": [{"ipProtocol": "tcp", "fromPort": 22, "toPort": 22,
              "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}, {"cidrIp": "10.0.0.0/8"}]}}]}}),
    );
    // When remediated
    let out = handle(&admins, &sink, &enforce(), &event).await.unwrap();
    // Then SSH keeps only 10.0.0.0/8 and HTTPS is untouched
    assert_eq!(out["decisions"][0]["decision"], "remediated", "{out}");
    let live = ec2.describe_security_groups().group_ids(&group).send().await.unwrap();
    let mut rules: Vec<(i32, Vec<String>)> = live.security_groups()[0]
        .ip_permissions()
        .iter()
        .map(|p| {
            let mut cidrs: Vec<String> = p
                .ip_ranges()
                .iter()
                .filter_map(|r| r.cidr_ip().map(str::to_owned))
                .collect();
            cidrs.sort();
            (p.from_port().unwrap_or(-1), cidrs)
        })
        .collect();
    rules.sort();
    assert_eq!(
        rules,
        vec![(22, vec!["10.0.0.0/8".to_owned()]), (443, vec!["0.0.0.0/0".to_owned()])]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_trail_is_started_again() {
    // Given a trail that was logging and was stopped
    let (env, admins, sink) = setup().await;
    let ct = aws_sdk_cloudtrail::Client::new(&env.sdk);
    let trail = unique("trail");
    ct.create_trail()
        .name(&trail)
        .s3_bucket_name(&env.bucket)
        .send()
        .await
        .unwrap();
    ct.start_logging().name(&trail).send().await.unwrap();
    ct.stop_logging().name(&trail).send().await.unwrap();
    let event = api_call("cloudtrail.amazonaws.com", "StopLogging", json!({"name": trail}));
    // When remediated
    let out = handle(&admins, &sink, &enforce(), &event).await.unwrap();
    // Then it logs again
    assert_eq!(out["decisions"][0]["decision"], "remediated", "{out}");
    let status = ct.get_trail_status().name(&trail).send().await.unwrap();
    assert_eq!(status.is_logging(), Some(true));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_bucket_is_reported_not_found() {
    let (env, admins, sink) = setup().await;
    let event = policy_event(
        &unique("gone"),
        &format!(r#"{{"Statement":[{}]}}"#, PUBLIC.replace("BUCKET", "gone")),
    );
    let out = handle(&admins, &sink, &enforce(), &event).await.unwrap();
    assert_eq!(out["decisions"][0]["decision"], "not-found");
    assert_eq!(env.receive(1).await[0]["detail"]["decision"], "not-found");
}
