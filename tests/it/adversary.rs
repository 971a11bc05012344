//! Remediation against an adversary, on moto with the real admins and the DynamoDB claims
//! ledger: each attack of the adversary issue is reproduced on live state (forged and stale
//! triggers, self-granted exemptions, conditions that pin nothing, CIDRs that cover the
//! internet together, a bastion's intended rule, a partial public access block change, and
//! each way of hollowing out a trail), and remediation must change exactly what the call did,
//! or nothing.

use serde_json::{json, Value};
use trailsight_aws::admin::AwsTargets;
use trailsight_aws::claims::DynamoLedger;
use trailsight_aws::eventbridge::EventBridgeSink;
use trailsight_core::remediate::{Exemptions, Mode, RemediationConfig, Scope};
use trailsight_it::{unique, Env};
use trailsight_remediate::handler::handle;

const MALLORY: &str = "arn:aws:iam::123456789012:user/mallory";

fn enforce() -> RemediationConfig {
    RemediationConfig { mode: Mode::Enforce, ..RemediationConfig::default() }
}

fn call(source: &str, name: &str, time: &str, request: Value) -> Value {
    json!({
        "version": "0", "id": "e", "detail-type": "AWS API Call via CloudTrail", "source": "aws.s3",
        "account": "123456789012", "region": "us-east-1", "time": time, "resources": [],
        "detail": {
            "eventVersion": "1.09", "eventTime": time, "eventSource": source, "eventName": name,
            "awsRegion": "us-east-1", "recipientAccountId": "123456789012", "eventID": unique("ev"),
            "sourceIPAddress": "198.51.100.7", "eventType": "AwsApiCall",
            "userIdentity": {"type": "IAMUser", "arn": MALLORY, "accountId": "123456789012"},
            "requestParameters": request
        }
    })
}

async fn setup() -> (Env, AwsTargets, EventBridgeSink, DynamoLedger) {
    let env = Env::new().await;
    let admins = AwsTargets::from_config(&env.sdk, true);
    let sink = EventBridgeSink::new(env.events.clone(), &env.bus);
    let ledger = DynamoLedger::from_config(&env.sdk, &env.table);
    (env, admins, sink, ledger)
}

async fn decide(
    (admins, ledger, sink): (&AwsTargets, &DynamoLedger, &EventBridgeSink),
    config: &RemediationConfig,
    event: &Value,
) -> String {
    let out = handle(admins, ledger, sink, config, event).await.unwrap();
    out["decisions"][0]["decision"].as_str().unwrap_or("none").to_owned()
}

async fn bucket_with_policy(env: &Env, statements: &[String]) -> String {
    let bucket = unique("adv");
    env.s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let policy = format!(r#"{{"Version":"2012-10-17","Statement":[{}]}}"#, statements.join(","));
    env.s3.put_bucket_policy().bucket(&bucket).policy(&policy).send().await.unwrap();
    bucket
}

async fn live_policy(env: &Env, bucket: &str) -> Option<Value> {
    let text = env.s3.get_bucket_policy().bucket(bucket).send().await.ok()?.policy?;
    serde_json::from_str(&text).ok()
}

fn public(bucket: &str, sid: &str) -> String {
    format!(
        r#"{{"Sid":"{sid}","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::{bucket}/*"}}"#
    )
}

fn policy_call(bucket: &str, statements: &[String], time: &str) -> Value {
    let doc: Value = serde_json::from_str(&format!(r#"{{"Statement":[{}]}}"#, statements.join(","))).unwrap();
    call("s3.amazonaws.com", "PutBucketPolicy", time, json!({"bucketName": bucket, "bucketPolicy": doc}))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_trigger_does_not_undo_an_exempt_reopen() {
    // Given mallory's 10:00 public statement, removed; then a break-glass role re-opened the
    // bucket with the same statement at 10:02 (its own trigger: exempt)
    let (env, admins, sink, ledger) = setup().await;
    let ports = (&admins, &ledger, &sink);
    let bucket = bucket_with_policy(&env, &[public("placeholder", "Open")]).await;
    let open = public(&bucket, "Open");
    env.s3.put_bucket_policy().bucket(&bucket).policy(format!(r#"{{"Statement":[{open}]}}"#)).send().await.unwrap();
    let config = RemediationConfig {
        exempt: Exemptions {
            principals: vec!["arn:aws:iam::123456789012:role/BreakGlass".into()],
            ..Exemptions::default()
        },
        ..enforce()
    };
    let mut reopen = policy_call(&bucket, std::slice::from_ref(&open), "2024-01-02T10:02:00Z");
    reopen["detail"]["userIdentity"]["arn"] = json!("arn:aws:sts::123456789012:assumed-role/BreakGlass/bob");
    assert_eq!(decide(ports, &config, &reopen).await, "exempt");
    // When the log-file trigger of the 10:00 call arrives at 10:10
    let late = policy_call(&bucket, std::slice::from_ref(&open), "2024-01-02T10:00:00Z");
    let decision = decide(ports, &config, &late).await;
    // Then it is superseded and the re-opened statement stays
    assert_eq!(decision, "superseded");
    assert_eq!(live_policy(&env, &bucket).await.unwrap()["Statement"][0]["Sid"], "Open");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_exemption_tag_exempts_nothing() {
    // Given a public bucket tagged with the exemption key and an empty value
    let (env, admins, sink, ledger) = setup().await;
    let bucket = bucket_with_policy(&env, &[public("placeholder", "Open")]).await;
    let open = public(&bucket, "Open");
    env.s3.put_bucket_policy().bucket(&bucket).policy(format!(r#"{{"Statement":[{open}]}}"#)).send().await.unwrap();
    let tag = aws_sdk_s3::types::Tag::builder().key("trailsight:exempt").value("").build().unwrap();
    let tagging = aws_sdk_s3::types::Tagging::builder().tag_set(tag).build().unwrap();
    env.s3.put_bucket_tagging().bucket(&bucket).tagging(tagging).send().await.unwrap();
    // When remediated, then the tag does not exempt it
    let event = policy_call(&bucket, &[open], "2024-01-02T10:00:00Z");
    assert_eq!(decide((&admins, &ledger, &sink), &enforce(), &event).await, "remediated");
    assert_eq!(live_policy(&env, &bucket).await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_if_exists_statement_is_removed_and_s3_agrees_the_rest_is_private() {
    // Given a private statement and one "pinned" by StringEqualsIfExists, which pins nothing
    let (env, admins, sink, ledger) = setup().await;
    let bucket = unique("ifexists");
    env.s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let private = format!(
        r#"{{"Sid":"Reader","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::123456789012:root"}},"Action":"s3:GetObject","Resource":"arn:aws:s3:::{bucket}/*"}}"#
    );
    let vpce = format!(
        r#"{{"Sid":"Vpce","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::{bucket}/*","Condition":{{"StringEqualsIfExists":{{"aws:SourceVpce":"vpce-1a2b"}}}}}}"#
    );
    let policy = format!(r#"{{"Version":"2012-10-17","Statement":[{private},{vpce}]}}"#);
    env.s3.put_bucket_policy().bucket(&bucket).policy(&policy).send().await.unwrap();
    // When remediated
    let event = policy_call(&bucket, &[private.clone(), vpce], "2024-01-02T10:00:00Z");
    assert_eq!(decide((&admins, &ledger, &sink), &enforce(), &event).await, "remediated");
    // Then only the private statement is left (S3's GetBucketPolicyStatus agreed it is private)
    let live = live_policy(&env, &bucket).await.unwrap();
    assert_eq!(live["Statement"], json!([serde_json::from_str::<Value>(&private).unwrap()]));
}

async fn group(env: &Env) -> (aws_sdk_ec2::Client, String) {
    let ec2 = aws_sdk_ec2::Client::new(&env.sdk);
    let id = ec2
        .create_security_group()
        .group_name(unique("sg"))
        .description("test")
        .send()
        .await
        .unwrap()
        .group_id
        .unwrap();
    (ec2, id)
}

fn permission(port: i32, cidrs: &[&str]) -> aws_sdk_ec2::types::IpPermission {
    aws_sdk_ec2::types::IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(port)
        .to_port(port)
        .set_ip_ranges(Some(cidrs.iter().map(|c| aws_sdk_ec2::types::IpRange::builder().cidr_ip(*c).build()).collect()))
        .build()
}

/// Authorizes `port` from `cidrs` on moto and returns the CloudTrail-shaped call, with the
/// rules the call created in `responseElements.securityGroupRuleSet`.
async fn authorize(ec2: &aws_sdk_ec2::Client, group: &str, port: i32, cidrs: &[&str]) -> Value {
    let out = ec2
        .authorize_security_group_ingress()
        .group_id(group)
        .ip_permissions(permission(port, cidrs))
        .send()
        .await
        .unwrap();
    let created: Vec<Value> = out
        .security_group_rules()
        .iter()
        .map(|r| {
            json!({"groupId": group, "securityGroupRuleId": r.security_group_rule_id(), "isEgress": r.is_egress(),
                   "ipProtocol": r.ip_protocol(), "fromPort": r.from_port(), "toPort": r.to_port(), "cidrIpv4": r.cidr_ipv4()})
        })
        .collect();
    let ranges: Vec<Value> = cidrs.iter().map(|c| json!({"cidrIp": c})).collect();
    let mut event = call(
        "ec2.amazonaws.com",
        "AuthorizeSecurityGroupIngress",
        "2024-01-02T10:00:00Z",
        json!({"groupId": group, "ipPermissions": {"items": [{"ipProtocol": "tcp", "fromPort": port, "toPort": port, "ipRanges": {"items": ranges}}]}}),
    );
    event["detail"]["responseElements"] = json!({"_return": true, "securityGroupRuleSet": {"items": created}});
    event
}

async fn live_rules(ec2: &aws_sdk_ec2::Client, group: &str) -> Vec<(i32, String)> {
    let out = ec2.describe_security_groups().group_ids(group).send().await.unwrap();
    let mut rules: Vec<(i32, String)> = out.security_groups()[0]
        .ip_permissions()
        .iter()
        .flat_map(|p| {
            p.ip_ranges()
                .iter()
                .filter_map(|r| r.cidr_ip().map(|c| (p.from_port().unwrap_or(-1), c.to_owned())))
                .collect::<Vec<_>>()
        })
        .collect();
    rules.sort();
    rules
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bastions_intended_ssh_stays_when_another_call_opens_rdp() {
    // Given a bastion whose SSH is open to the world on purpose, and a call opening RDP
    let (env, admins, sink, ledger) = setup().await;
    let (ec2, sg) = group(&env).await;
    ec2.authorize_security_group_ingress()
        .group_id(&sg)
        .ip_permissions(permission(22, &["0.0.0.0/0"]))
        .send()
        .await
        .unwrap();
    let rdp = authorize(&ec2, &sg, 3389, &["0.0.0.0/0"]).await;
    // When the RDP call is remediated
    assert_eq!(decide((&admins, &ledger, &sink), &enforce(), &rdp).await, "remediated");
    // Then the bastion's SSH stays and RDP is gone
    assert_eq!(live_rules(&ec2, &sg).await, vec![(22, "0.0.0.0/0".to_owned())]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_halves_of_the_internet_are_revoked_by_rule_id() {
    // Given a call opening SSH to 0.0.0.0/1 and 128.0.0.0/1, beside an office range
    let (env, admins, sink, ledger) = setup().await;
    let (ec2, sg) = group(&env).await;
    ec2.authorize_security_group_ingress()
        .group_id(&sg)
        .ip_permissions(permission(22, &["203.0.113.0/24"]))
        .send()
        .await
        .unwrap();
    let halves = authorize(&ec2, &sg, 22, &["0.0.0.0/1", "128.0.0.0/1"]).await;
    // When remediated
    assert_eq!(decide((&admins, &ledger, &sink), &enforce(), &halves).await, "remediated");
    // Then both halves are revoked and the office range stays
    assert_eq!(live_rules(&ec2, &sg).await, vec![(22, "203.0.113.0/24".to_owned())]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partial_public_access_block_change_is_undone_setting_by_setting() {
    // Given a bucket whose owner keeps RestrictPublicBuckets off, and a call that turned
    // BlockPublicPolicy off
    let (env, admins, sink, ledger) = setup().await;
    let bucket = unique("pab");
    env.s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let live = aws_sdk_s3::types::PublicAccessBlockConfiguration::builder()
        .block_public_acls(true)
        .ignore_public_acls(true)
        .block_public_policy(false)
        .restrict_public_buckets(false)
        .build();
    env.s3.put_public_access_block().bucket(&bucket).public_access_block_configuration(live).send().await.unwrap();
    let event = call(
        "s3.amazonaws.com",
        "PutBucketPublicAccessBlock",
        "2024-01-02T10:00:00Z",
        json!({"bucketName": bucket, "PublicAccessBlockConfiguration": {"BlockPublicAcls": true, "IgnorePublicAcls": true, "BlockPublicPolicy": false}}),
    );
    // When remediated
    assert_eq!(decide((&admins, &ledger, &sink), &enforce(), &event).await, "remediated");
    // Then only BlockPublicPolicy is back on
    let out = env.s3.get_public_access_block().bucket(&bucket).send().await.unwrap();
    let c = out.public_access_block_configuration().unwrap();
    assert_eq!((c.block_public_policy(), c.restrict_public_buckets()), (Some(true), Some(false)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_that_only_turns_settings_on_never_fires() {
    let (env, admins, sink, ledger) = setup().await;
    let event = call(
        "s3.amazonaws.com",
        "PutBucketPublicAccessBlock",
        "2024-01-02T10:00:00Z",
        json!({"bucketName": unique("pab"), "PublicAccessBlockConfiguration": {"BlockPublicAcls": true, "IgnorePublicAcls": true}}),
    );
    let out = handle(&admins, &ledger, &sink, &enforce(), &event).await.unwrap();
    assert_eq!(out["decisions"], json!([]));
    assert!(env.receive(0).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_way_of_hollowing_out_a_logging_trail_needs_review() {
    let (env, admins, sink, ledger) = setup().await;
    let ports = (&admins, &ledger, &sink);
    let ct = aws_sdk_cloudtrail::Client::new(&env.sdk);
    let other = unique("elsewhere");
    env.s3.create_bucket().bucket(&other).send().await.unwrap();
    let cases = [
        (
            "PutEventSelectors",
            json!({"eventSelectors": [{"readWriteType": "ReadOnly", "includeManagementEvents": true}]}),
        ),
        (
            "PutEventSelectors",
            json!({"advancedEventSelectors": [{"name": "m", "fieldSelectors": [
            {"field": "eventCategory", "equals": ["Management"]}, {"field": "readOnly", "equals": ["true"]}]}]}),
        ),
        ("UpdateTrail", json!({"isMultiRegionTrail": false})),
        ("UpdateTrail", json!({"s3BucketName": other})),
    ];
    for (name, change) in cases {
        // Given a logging multi-region trail, changed as the call says
        let trail = unique("trail");
        ct.create_trail().name(&trail).s3_bucket_name(&env.bucket).is_multi_region_trail(true).send().await.unwrap();
        ct.start_logging().name(&trail).send().await.unwrap();
        if let Some(Value::Array(basic)) = change.get("eventSelectors") {
            let selectors = basic.iter().map(|_| {
                aws_sdk_cloudtrail::types::EventSelector::builder()
                    .read_write_type(aws_sdk_cloudtrail::types::ReadWriteType::ReadOnly)
                    .include_management_events(true)
                    .build()
            });
            ct.put_event_selectors()
                .trail_name(&trail)
                .set_event_selectors(Some(selectors.collect()))
                .send()
                .await
                .unwrap();
        } else if change.get("advancedEventSelectors").is_some() {
            let field = |f: &str, v: &str| {
                aws_sdk_cloudtrail::types::AdvancedFieldSelector::builder().field(f).equals(v).build().unwrap()
            };
            let selector = aws_sdk_cloudtrail::types::AdvancedEventSelector::builder()
                .name("m")
                .field_selectors(field("eventCategory", "Management"))
                .field_selectors(field("readOnly", "true"))
                .build()
                .unwrap();
            ct.put_event_selectors().trail_name(&trail).advanced_event_selectors(selector).send().await.unwrap();
        } else if change.get("isMultiRegionTrail").is_some() {
            ct.update_trail().name(&trail).is_multi_region_trail(false).send().await.unwrap();
        } else {
            ct.update_trail().name(&trail).s3_bucket_name(&other).send().await.unwrap();
        }
        let mut request = change.clone();
        request[if name == "UpdateTrail" { "name" } else { "trailName" }] = json!(trail);
        let event = call("cloudtrail.amazonaws.com", name, "2024-01-02T10:00:00Z", request);
        // When remediated, then it needs review (never already-fixed) and the trail is untouched
        assert_eq!(decide(ports, &enforce(), &event).await, "needs-review", "{name} {change}");
        let status = ct.get_trail_status().name(&trail).send().await.unwrap();
        assert_eq!(status.is_logging(), Some(true));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_accounts_change_is_remediated_there_through_its_role() {
    // Given a public bucket made in member account 444455556666 of an organization trail,
    // reached through its trailsight-remediation role (moto switches account on AssumeRole;
    // it resolves bucket names across accounts, so this checks that the role is assumed and
    // used without error, and the decision; out-of-scope without a role is tested apart)
    let (env, targets, sink, ledger) = setup().await;
    let role = "arn:aws:iam::444455556666:role/trailsight-remediation";
    let provider =
        aws_config::sts::AssumeRoleProvider::builder(role).session_name("test").configure(&env.sdk).build().await;
    let member_sdk = env
        .sdk
        .to_builder()
        .credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(provider))
        .build();
    let member_s3 = trailsight_aws::config::s3_client(&member_sdk, true);
    let bucket = unique("member");
    member_s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let open = public(&bucket, "Open");
    member_s3.put_bucket_policy().bucket(&bucket).policy(format!(r#"{{"Statement":[{open}]}}"#)).send().await.unwrap();
    let mut event = policy_call(&bucket, &[open], "2024-01-02T10:00:00Z");
    event["detail"]["recipientAccountId"] = json!("444455556666");
    // When the deployment in 123456789012 remediates it with its member role
    let scope = Scope {
        home_account: Some("123456789012".into()),
        member_role: Some("trailsight-remediation".into()),
        regions: vec![],
    };
    let config = RemediationConfig { scope, ..enforce() };
    let decision = decide((&targets, &ledger, &sink), &config, &event).await;
    // Then the member account's bucket has no public statement left
    assert_eq!(decision, "remediated");
    assert!(member_s3.get_bucket_policy().bucket(&bucket).send().await.is_err());
}
