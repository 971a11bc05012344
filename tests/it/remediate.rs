//! The remediation handler with the real AWS admins on moto: for each rule, the risky state is
//! created live and both kinds of trigger are sent (AWS's `AWS API Call via CloudTrail` and
//! trailsight's `Trailsight Risky Change`); the live state after, the untouched parts, the
//! decision event read through an EventBridge rule's SQS target, and idempotency are checked.
//! Then forged triggers, exemptions, dry-run, and AccessDenied injected around the real admin.

use crate::deny::Denying;
use serde_json::{json, Value};
use trailsight_aws::admin::{AwsAdmins, AwsTargets};
use trailsight_aws::claims::DynamoLedger;
use trailsight_aws::eventbridge::EventBridgeSink;
use trailsight_core::remediate::memory::MemoryLedger;
use trailsight_core::remediate::{Exemptions, Mode, RemediationConfig, Scope};
use trailsight_it::{unique, Env};
use trailsight_remediate::handler::{handle, HandlerError};

const PRIVATE: &str = r#"{"Sid":"Reader","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::BUCKET/*"}"#;
const PUBLIC: &str =
    r#"{"Sid":"Anyone","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::BUCKET/*"}"#;
const MALLORY: &str = "arn:aws:iam::123456789012:user/mallory";

/// The two kinds of trigger.
#[derive(Debug, Clone, Copy)]
enum Kind {
    ApiCall,
    RiskyChange,
}

const KINDS: [Kind; 2] = [Kind::ApiCall, Kind::RiskyChange];

fn enforce() -> RemediationConfig {
    RemediationConfig { mode: Mode::Enforce, ..RemediationConfig::default() }
}

fn api_call(source: &str, name: &str, request: Value) -> Value {
    json!({
        "version": "0", "id": "e", "detail-type": "AWS API Call via CloudTrail", "source": "aws.s3",
        "account": "123456789012", "region": "us-east-1", "time": "2024-01-02T03:04:05Z", "resources": [],
        "detail": {
            "eventVersion": "1.09", "eventTime": "2024-01-02T03:04:05Z", "eventSource": source, "eventName": name,
            "awsRegion": "us-east-1", "recipientAccountId": "123456789012", "eventID": unique("ev"),
            "sourceIPAddress": "198.51.100.7", "eventType": "AwsApiCall",
            "userIdentity": {"type": "IAMUser", "arn": MALLORY, "accountId": "123456789012"},
            "requestParameters": request
        }
    })
}

/// The trigger of `kind` for an API call: the call itself, or trailsight's risky-change event
/// for it (built by the same rule engine as the ingest function's).
fn trigger(kind: Kind, call: &Value) -> Value {
    match kind {
        Kind::ApiCall => call.clone(),
        Kind::RiskyChange => {
            let record = &call["detail"];
            let findings = trailsight_core::rules::evaluate(record);
            assert!(!findings.is_empty(), "the call breaks no rule: {record}");
            serde_json::to_value(trailsight_core::rules::risky_change_event(record, &findings[0])).unwrap()
        }
    }
}

/// The four settings of a public access block configuration (S3's type or S3 Control's).
macro_rules! pab_settings {
    ($c:expr) => {{
        let c = $c;
        [c.block_public_acls(), c.ignore_public_acls(), c.block_public_policy(), c.restrict_public_buckets()]
    }};
}

async fn setup() -> (Env, AwsTargets, EventBridgeSink) {
    let env = Env::new().await;
    let admins = AwsTargets::from_config(&env.sdk, true);
    let sink = EventBridgeSink::new(env.events.clone(), &env.bus);
    (env, admins, sink)
}

/// The claims ledger on the test's table (moto).
fn ledger(env: &Env) -> DynamoLedger {
    DynamoLedger::from_config(&env.sdk, &env.table)
}

/// Remediates `event`, checks the decision in the response and in the event a subscriber
/// receives; then sends it again (the same call: already decided, no second event), and once
/// more as if it were another trigger (live state: `already-fixed`).
async fn remediate_twice(env: &Env, admins: &AwsTargets, sink: &EventBridgeSink, event: &Value) -> Value {
    let ledger = ledger(env);
    let out = handle(admins, &ledger, sink, &enforce(), event).await.unwrap();
    assert_eq!(out["decisions"][0]["decision"], "remediated", "{out}");
    let first = env.receive(1).await;
    assert_eq!(first.len(), 1, "{first:?}");
    let decision = first[0].clone();
    assert_eq!(decision["detail-type"], "Trailsight Remediation");
    assert_eq!(decision["source"], "trailsight");
    assert_eq!(decision["detail"]["decision"], "remediated");
    assert_eq!(decision["detail"]["actor"]["arn"], MALLORY);
    assert!(decision["detail"]["trigger"]["eventID"].as_str().is_some_and(|id| id.starts_with("ev-")));
    let again = handle(admins, &ledger, sink, &enforce(), event).await.unwrap();
    assert_eq!(again["decisions"], json!([]), "{again}");
    assert_eq!(again["alreadyDecided"][0]["decision"], "remediated", "{again}");
    assert!(env.receive(0).await.is_empty());
    let fresh = handle(admins, &MemoryLedger::default(), sink, &enforce(), event).await.unwrap();
    assert_eq!(fresh["decisions"][0]["decision"], "already-fixed", "{fresh}");
    assert_eq!(env.receive(1).await[0]["detail"]["decision"], "already-fixed");
    decision
}

async fn public_policy_bucket(env: &Env) -> (String, String, String) {
    let bucket = unique("data");
    env.s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let private = PRIVATE.replace("BUCKET", &bucket);
    let policy = format!(r#"{{"Version":"2012-10-17","Statement":[{private},{}]}}"#, PUBLIC.replace("BUCKET", &bucket));
    env.s3.put_bucket_policy().bucket(&bucket).policy(&policy).send().await.unwrap();
    (bucket, policy, private)
}

fn policy_call(bucket: &str, policy: &str) -> Value {
    let doc: Value = serde_json::from_str(policy).unwrap();
    api_call("s3.amazonaws.com", "PutBucketPolicy", json!({"bucketName": bucket, "bucketPolicy": doc}))
}

async fn live_policy(env: &Env, bucket: &str) -> Option<String> {
    env.s3.get_bucket_policy().bucket(bucket).send().await.ok().and_then(|o| o.policy)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_policy_statements_are_removed_and_the_others_kept() {
    for kind in KINDS {
        // Given a live bucket policy with a private and a public statement
        let (env, admins, sink) = setup().await;
        let (bucket, policy, private) = public_policy_bucket(&env).await;
        // When the trigger is remediated (twice)
        let decision = remediate_twice(&env, &admins, &sink, &trigger(kind, &policy_call(&bucket, &policy))).await;
        // Then only the public statement is gone, and the event shows before and after
        let live: Value = serde_json::from_str(&live_policy(&env, &bucket).await.unwrap()).unwrap();
        assert_eq!(live["Statement"], json!([serde_json::from_str::<Value>(&private).unwrap()]), "{kind:?}");
        assert_eq!(decision["detail"]["before"]["Statement"].as_array().map(Vec::len), Some(2));
        assert_eq!(decision["detail"]["after"]["Statement"].as_array().map(Vec::len), Some(1));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_acl_grants_are_removed_and_other_grants_kept() {
    for kind in KINDS {
        // Given a bucket whose ACL grants the owner, another account, and AllUsers
        let (env, admins, sink) = setup().await;
        let bucket = unique("acl");
        env.s3.create_bucket().bucket(&bucket).send().await.unwrap();
        let owner = env.s3.get_bucket_acl().bucket(&bucket).send().await.unwrap().owner.unwrap();
        let grant = |grantee: aws_sdk_s3::types::Grantee, p: aws_sdk_s3::types::Permission| {
            aws_sdk_s3::types::Grant::builder().grantee(grantee).permission(p).build()
        };
        let user = |id: &str| {
            aws_sdk_s3::types::Grantee::builder().r#type(aws_sdk_s3::types::Type::CanonicalUser).id(id).build().unwrap()
        };
        let all_users = aws_sdk_s3::types::Grantee::builder()
            .r#type(aws_sdk_s3::types::Type::Group)
            .uri("http://acs.amazonaws.com/groups/global/AllUsers")
            .build()
            .unwrap();
        let partner = "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be";
        let policy = aws_sdk_s3::types::AccessControlPolicy::builder()
            .owner(owner.clone())
            .grants(grant(user(owner.id().unwrap()), aws_sdk_s3::types::Permission::FullControl))
            .grants(grant(user(partner), aws_sdk_s3::types::Permission::Read))
            .grants(grant(all_users, aws_sdk_s3::types::Permission::Read))
            .build();
        env.s3.put_bucket_acl().bucket(&bucket).access_control_policy(policy).send().await.unwrap();
        let call =
            api_call("s3.amazonaws.com", "PutBucketAcl", json!({"bucketName": bucket, "x-amz-acl": ["public-read"]}));
        // When remediated
        remediate_twice(&env, &admins, &sink, &trigger(kind, &call)).await;
        // Then the owner's and the partner's grants are exactly what is left
        let acl = env.s3.get_bucket_acl().bucket(&bucket).send().await.unwrap();
        let mut left: Vec<(Option<String>, Option<String>, String)> = acl
            .grants()
            .iter()
            .map(|g| {
                let e = g.grantee();
                (
                    e.and_then(|e| e.id()).map(str::to_owned),
                    e.and_then(|e| e.uri()).map(str::to_owned),
                    g.permission().map(|p| p.as_str().to_owned()).unwrap_or_default(),
                )
            })
            .collect();
        left.sort();
        let mut expected = vec![
            (owner.id().map(str::to_owned), None, "FULL_CONTROL".to_owned()),
            (Some(partner.to_owned()), None, "READ".to_owned()),
        ];
        expected.sort();
        assert_eq!(left, expected, "{kind:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_bucket_public_access_block_is_turned_back_on() {
    for kind in KINDS {
        // Given a bucket whose public access block was switched off
        let (env, admins, sink) = setup().await;
        let bucket = unique("pab");
        env.s3.create_bucket().bucket(&bucket).send().await.unwrap();
        let off = aws_sdk_s3::types::PublicAccessBlockConfiguration::builder()
            .block_public_acls(false)
            .ignore_public_acls(true)
            .block_public_policy(false)
            .restrict_public_buckets(true)
            .build();
        env.s3.put_public_access_block().bucket(&bucket).public_access_block_configuration(off).send().await.unwrap();
        let call = api_call(
            "s3.amazonaws.com",
            "PutBucketPublicAccessBlock",
            json!({"bucketName": bucket, "PublicAccessBlockConfiguration": {"BlockPublicAcls": false, "IgnorePublicAcls": true, "BlockPublicPolicy": false, "RestrictPublicBuckets": true}}),
        );
        // When remediated
        remediate_twice(&env, &admins, &sink, &trigger(kind, &call)).await;
        // Then all four settings are on
        let live = env.s3.get_public_access_block().bucket(&bucket).send().await.unwrap();
        let settings = pab_settings!(live.public_access_block_configuration().unwrap());
        assert_eq!(settings, [Some(true); 4], "{kind:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_account_public_access_block_is_turned_back_on() {
    let account = "123456789012";
    for (kind, name) in [(Kind::ApiCall, "PutPublicAccessBlock"), (Kind::RiskyChange, "DeletePublicAccessBlock")] {
        // Given the account's public access block switched off (Put) or deleted (Delete)
        let (env, admins, sink) = setup().await;
        let control = trailsight_aws::config::s3control_client(&env.sdk, true);
        let off = aws_sdk_s3control::types::PublicAccessBlockConfiguration::builder()
            .block_public_acls(false)
            .ignore_public_acls(true)
            .block_public_policy(false)
            .restrict_public_buckets(true)
            .build();
        control
            .put_public_access_block()
            .account_id(account)
            .public_access_block_configuration(off)
            .send()
            .await
            .unwrap();
        let request = if name == "DeletePublicAccessBlock" {
            control.delete_public_access_block().account_id(account).send().await.unwrap();
            json!({"accountId": account})
        } else {
            json!({"accountId": account, "PublicAccessBlockConfiguration": {"BlockPublicAcls": false, "IgnorePublicAcls": true, "BlockPublicPolicy": false, "RestrictPublicBuckets": true}})
        };
        let call = api_call("s3-control.amazonaws.com", name, request);
        // When remediated through S3 Control on moto
        let decision = remediate_twice(&env, &admins, &sink, &trigger(kind, &call)).await;
        // Then all four account-level settings are on
        assert_eq!(decision["detail"]["rule"], "s3-public-access-block-removed", "{decision}");
        let live = control.get_public_access_block().account_id(account).send().await.unwrap();
        let settings = pab_settings!(live.public_access_block_configuration().unwrap());
        assert_eq!(settings, [Some(true); 4], "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn world_open_admin_ports_are_revoked_and_other_rules_stay() {
    for kind in KINDS {
        // Given SSH open to the world (IPv4 and IPv6) and to 10.0.0.0/8, and HTTPS to the world
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
        let perm = |port: i32, v4: &[&str], v6: &[&str]| {
            aws_sdk_ec2::types::IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(port)
                .to_port(port)
                .set_ip_ranges(Some(
                    v4.iter().map(|c| aws_sdk_ec2::types::IpRange::builder().cidr_ip(*c).build()).collect(),
                ))
                .set_ipv6_ranges(Some(
                    v6.iter().map(|c| aws_sdk_ec2::types::Ipv6Range::builder().cidr_ipv6(*c).build()).collect(),
                ))
                .build()
        };
        ec2.authorize_security_group_ingress()
            .group_id(&group)
            .ip_permissions(perm(22, &["0.0.0.0/0", "10.0.0.0/8"], &["::/0"]))
            .ip_permissions(perm(443, &["0.0.0.0/0"], &[]))
            .send()
            .await
            .unwrap();
        let call = api_call(
            "ec2.amazonaws.com",
            "AuthorizeSecurityGroupIngress",
            json!({"groupId": group, "ipPermissions": {"items": [{"ipProtocol": "tcp", "fromPort": 22, "toPort": 22,
                  "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}, {"cidrIp": "10.0.0.0/8"}]},
                  "ipv6Ranges": {"items": [{"cidrIpv6": "::/0"}]}}]}}),
        );
        // When remediated
        remediate_twice(&env, &admins, &sink, &trigger(kind, &call)).await;
        // Then SSH keeps only 10.0.0.0/8 and HTTPS is untouched
        let live = ec2.describe_security_groups().group_ids(&group).send().await.unwrap();
        let mut rules: Vec<(i32, Vec<String>)> = live.security_groups()[0]
            .ip_permissions()
            .iter()
            .map(|p| {
                let mut cidrs: Vec<String> = p
                    .ip_ranges()
                    .iter()
                    .filter_map(|r| r.cidr_ip().map(str::to_owned))
                    .chain(p.ipv6_ranges().iter().filter_map(|r| r.cidr_ipv6().map(str::to_owned)))
                    .collect();
                cidrs.sort();
                (p.from_port().unwrap_or(-1), cidrs)
            })
            .filter(|(_, cidrs)| !cidrs.is_empty())
            .collect();
        rules.sort();
        assert_eq!(rules, vec![(22, vec!["10.0.0.0/8".to_owned()]), (443, vec!["0.0.0.0/0".to_owned()])], "{kind:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_trail_is_started_again() {
    for kind in KINDS {
        // Given a trail that was logging and was stopped
        let (env, admins, sink) = setup().await;
        let ct = aws_sdk_cloudtrail::Client::new(&env.sdk);
        let trail = unique("trail");
        ct.create_trail().name(&trail).s3_bucket_name(&env.bucket).send().await.unwrap();
        ct.start_logging().name(&trail).send().await.unwrap();
        ct.stop_logging().name(&trail).send().await.unwrap();
        let call = api_call("cloudtrail.amazonaws.com", "StopLogging", json!({"name": trail}));
        // When remediated, then it logs again
        remediate_twice(&env, &admins, &sink, &trigger(kind, &call)).await;
        let status = ct.get_trail_status().name(&trail).send().await.unwrap();
        assert_eq!(status.is_logging(), Some(true), "{kind:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_trigger_cannot_strip_a_statement_its_record_did_not_add() {
    // Given a website bucket whose intended public statement is live, and a forged trigger
    // naming the bucket with another public statement
    let (env, admins, sink) = setup().await;
    let bucket = unique("website");
    env.s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let website = PUBLIC.replace("BUCKET", &bucket).replace("Anyone", "Website").replace("/*", "/site/*");
    let live = format!(r#"{{"Statement":[{website}]}}"#);
    env.s3.put_bucket_policy().bucket(&bucket).policy(&live).send().await.unwrap();
    let forged = policy_call(&bucket, &format!(r#"{{"Statement":[{}]}}"#, PUBLIC.replace("BUCKET", &bucket)));
    // When remediated in enforce mode
    let out = handle(&admins, &ledger(&env), &sink, &enforce(), &forged).await.unwrap();
    // Then the website statement stays: the forged record never added it
    assert_eq!(out["decisions"][0]["decision"], "already-fixed", "{out}");
    assert_eq!(live_policy(&env, &bucket).await, Some(live));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_trigger_for_a_private_bucket_changes_nothing() {
    // Given a private bucket, and a trigger claiming a public policy was put on it
    let (env, admins, sink) = setup().await;
    let bucket = unique("private");
    env.s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let private = format!(r#"{{"Statement":[{}]}}"#, PRIVATE.replace("BUCKET", &bucket));
    env.s3.put_bucket_policy().bucket(&bucket).policy(&private).send().await.unwrap();
    let forged = policy_call(&bucket, &format!(r#"{{"Statement":[{}]}}"#, PUBLIC.replace("BUCKET", &bucket)));
    // When remediated
    let out = handle(&admins, &ledger(&env), &sink, &enforce(), &forged).await.unwrap();
    // Then live state decides: already fixed, and the policy is unchanged
    assert_eq!(out["decisions"][0]["decision"], "already-fixed");
    assert_eq!(live_policy(&env, &bucket).await, Some(private));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exemptions_by_tag_principal_and_pattern_leave_the_bucket_alone() {
    let (env, admins, sink) = setup().await;
    // Given three public buckets: one tagged, one changed by an exempt principal, one named
    // like an exempt pattern
    let (tagged, tagged_policy, _) = public_policy_bucket(&env).await;
    let tag = aws_sdk_s3::types::Tag::builder().key("trailsight:exempt").value("true").build().unwrap();
    let tagging = aws_sdk_s3::types::Tagging::builder().tag_set(tag).build().unwrap();
    env.s3.put_bucket_tagging().bucket(&tagged).tagging(tagging).send().await.unwrap();
    let (by_principal, principal_policy, _) = public_policy_bucket(&env).await;
    let (by_pattern, pattern_policy, _) = public_policy_bucket(&env).await;
    let config = RemediationConfig {
        exempt: Exemptions {
            principals: vec!["arn:aws:iam::123456789012:user/other".into()],
            resources: vec![format!("{by_pattern}*")],
            ..Exemptions::default()
        },
        ..enforce()
    };
    let principal_config = RemediationConfig {
        exempt: Exemptions { principals: vec![MALLORY.into()], ..Exemptions::default() },
        ..enforce()
    };
    // When each is remediated
    let cases = [
        (&tagged, &tagged_policy, &config),
        (&by_principal, &principal_policy, &principal_config),
        (&by_pattern, &pattern_policy, &config),
    ];
    for (bucket, policy, config) in cases {
        let out = handle(&admins, &ledger(&env), &sink, config, &policy_call(bucket, policy)).await.unwrap();
        // Then each is exempt and its policy unchanged
        assert_eq!(out["decisions"][0]["decision"], "exempt", "{bucket}: {out}");
        assert_eq!(live_policy(&env, bucket).await.as_ref(), Some(policy));
    }
    assert_eq!(env.receive(3).await.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_reports_and_leaves_the_live_policy_alone() {
    let (env, admins, sink) = setup().await;
    let (bucket, policy, _) = public_policy_bucket(&env).await;
    let before = live_policy(&env, &bucket).await;
    let out = handle(&admins, &ledger(&env), &sink, &RemediationConfig::default(), &policy_call(&bucket, &policy))
        .await
        .unwrap();
    assert_eq!(out["decisions"][0]["decision"], "would-remediate");
    assert_eq!(live_policy(&env, &bucket).await, before);
    let event = &env.receive(1).await[0];
    assert_eq!(
        (event["detail"]["decision"].as_str(), event["detail"]["mode"].as_str()),
        (Some("would-remediate"), Some("dry-run"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_bucket_is_reported_not_found() {
    let (env, admins, sink) = setup().await;
    let event = policy_call(&unique("gone"), &format!(r#"{{"Statement":[{}]}}"#, PUBLIC.replace("BUCKET", "gone")));
    let out = handle(&admins, &ledger(&env), &sink, &enforce(), &event).await.unwrap();
    assert_eq!(out["decisions"][0]["decision"], "not-found");
    assert_eq!(env.receive(1).await[0]["detail"]["decision"], "not-found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_denied_is_reported_as_failed_and_fails_the_invocation() {
    // Given a public bucket and a function that may not write bucket policies
    let (env, admins, sink) = setup().await;
    let (bucket, policy, _) = public_policy_bucket(&env).await;
    let denied = Denying::new(AwsAdmins::from_config(&env.sdk, true), "s3:PutBucketPolicy");
    drop(admins);
    // When remediated
    let result = handle(&denied, &ledger(&env), &sink, &enforce(), &policy_call(&bucket, &policy)).await;
    // Then the invocation fails, a subscriber sees a failed decision, and the policy is as it was
    assert!(matches!(result, Err(HandlerError::Failed(_))), "{result:?}");
    let event = &env.receive(1).await[0];
    assert_eq!(event["detail"]["decision"], "failed");
    assert!(event["detail"]["error"].as_str().is_some_and(|e| e.contains("s3:PutBucketPolicy")));
    assert_eq!(live_policy(&env, &bucket).await, Some(policy));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_security_group_opened_in_another_region_is_remediated_there() {
    // Given SSH opened to the world on a group in us-west-2 (the function runs in us-east-1)
    let (env, targets, sink) = setup().await;
    let west = aws_sdk_ec2::Client::from_conf(
        aws_sdk_ec2::config::Builder::from(&env.sdk).region(aws_sdk_ec2::config::Region::new("us-west-2")).build(),
    );
    let group = west
        .create_security_group()
        .group_name(unique("west"))
        .description("test")
        .send()
        .await
        .unwrap()
        .group_id
        .unwrap();
    let ssh = aws_sdk_ec2::types::IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(22)
        .to_port(22)
        .ip_ranges(aws_sdk_ec2::types::IpRange::builder().cidr_ip("0.0.0.0/0").build())
        .build();
    west.authorize_security_group_ingress().group_id(&group).ip_permissions(ssh).send().await.unwrap();
    let mut call = api_call(
        "ec2.amazonaws.com",
        "AuthorizeSecurityGroupIngress",
        json!({"groupId": group, "ipPermissions": {"items": [{"ipProtocol": "tcp", "fromPort": 22, "toPort": 22,
              "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]}}]}}),
    );
    call["detail"]["awsRegion"] = json!("us-west-2");
    // When remediated
    let out = handle(&targets, &ledger(&env), &sink, &enforce(), &call).await.unwrap();
    // Then it is remediated in us-west-2, not reported not-found
    assert_eq!(out["decisions"][0]["decision"], "remediated", "{out}");
    let live = west.describe_security_groups().group_ids(&group).send().await.unwrap();
    assert!(live.security_groups()[0].ip_permissions().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_in_another_account_is_out_of_scope_without_calls() {
    // Given a deployment in 123456789012 and a record from a member account
    let (env, targets, sink) = setup().await;
    let mut call = policy_call(&unique("member"), &format!(r#"{{"Statement":[{PUBLIC}]}}"#));
    call["detail"]["recipientAccountId"] = json!("444455556666");
    let scope = Scope { home_account: Some("123456789012".into()), ..Scope::default() };
    let config = RemediationConfig { scope, ..enforce() };
    // When remediated, then the decision is out-of-scope and a subscriber sees it
    let out = handle(&targets, &ledger(&env), &sink, &config, &call).await.unwrap();
    assert_eq!(out["decisions"][0]["decision"], "out-of-scope", "{out}");
    assert_eq!(env.receive(1).await[0]["detail"]["decision"], "out-of-scope");
}
