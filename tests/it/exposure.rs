//! Remediation of the exposure rules with the real AWS admins on moto: for each rule whose
//! operations moto supports, the risky state is made live with the service's own API, the
//! trigger is remediated through the handler, and the live state after, the parts that must
//! stay, and the decision event a subscriber receives are checked. Then a forged trigger,
//! dry-run, the exemption tag, `REMEDIATE_RULES` and AccessDenied on the new admins.

use crate::deny::Denying;
use serde_json::{json, Value};
use trailsight_aws::admin::{AwsAdmins, AwsTargets};
use trailsight_aws::claims::DynamoLedger;
use trailsight_aws::eventbridge::EventBridgeSink;
use trailsight_core::remediate::{Mode, RemediationConfig, RuleSelection};
use trailsight_it::{unique, Env};
use trailsight_remediate::handler::{handle, HandlerError};

const ACCOUNT: &str = "123456789012";
const MALLORY: &str = "arn:aws:iam::123456789012:user/mallory";
const ROOT: &str = r#"{"Sid":"Root","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"kms:*","Resource":"*"}"#;

fn enforce() -> RemediationConfig {
    RemediationConfig {
        mode: Mode::Enforce,
        ..RemediationConfig::default()
    }
}

fn doc(statements: &[&str]) -> String {
    format!(r#"{{"Version":"2012-10-17","Statement":[{}]}}"#, statements.join(","))
}

fn statements(policy: &str) -> Vec<Value> {
    let v: Value = serde_json::from_str(policy).unwrap();
    match &v["Statement"] {
        Value::Array(a) => a.clone(),
        other => vec![other.clone()],
    }
}

/// An `AWS API Call via CloudTrail` event of a successful call in `region`.
fn call_in(region: &str, source: &str, name: &str, request: Value) -> Value {
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

fn call(source: &str, name: &str, request: Value) -> Value {
    call_in("us-east-1", source, name, request)
}

async fn setup() -> (Env, AwsTargets, EventBridgeSink, DynamoLedger) {
    let env = Env::new().await;
    let targets = AwsTargets::from_config(&env.sdk, true);
    let sink = EventBridgeSink::new(env.events.clone(), &env.bus);
    let ledger = DynamoLedger::from_config(&env.sdk, &env.table);
    (env, targets, sink, ledger)
}

/// Remediates `event` with `config`; checks the decision in the response and in the event a
/// subscriber receives, and returns that event's detail.
async fn decided(env: &Env, targets: &AwsTargets, config: &RemediationConfig, event: &Value, want: &str) -> Value {
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

fn in_region(env: &Env, region: &str) -> aws_config::SdkConfig {
    env.sdk
        .to_builder()
        .region(aws_config::Region::new(region.to_owned()))
        .build()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_public_key_policy_statement_is_removed_and_the_root_statement_kept() {
    // Given a key whose policy grants the root and anyone
    let (env, targets, _, _) = setup().await;
    let kms = aws_sdk_kms::Client::new(&env.sdk);
    let anyone = r#"{"Sid":"Anyone","Effect":"Allow","Principal":{"AWS":"*"},"Action":"kms:Decrypt","Resource":"*"}"#;
    let policy = doc(&[ROOT, anyone]);
    let key = kms.create_key().policy(&policy).send().await.unwrap();
    let id = key.key_metadata().unwrap().key_id().to_owned();
    // When PutKeyPolicy's trigger is remediated
    let event = call(
        "kms.amazonaws.com",
        "PutKeyPolicy",
        json!({"keyId": id, "policyName": "default", "policy": policy}),
    );
    let detail = decided(&env, &targets, &enforce(), &event, "remediated").await;
    // Then only the root statement is left, and the event shows both policies
    let live = kms
        .get_key_policy()
        .key_id(&id)
        .policy_name("default")
        .send()
        .await
        .unwrap();
    assert_eq!(statements(live.policy().unwrap()), statements(&doc(&[ROOT])));
    assert_eq!(detail["before"]["Statement"].as_array().map(Vec::len), Some(2));
    assert_eq!(detail["after"]["Statement"].as_array().map(Vec::len), Some(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_public_queue_policy_statement_is_removed_and_a_forged_trigger_finds_nothing() {
    // Given a queue whose policy lets SNS send (pinned) and anyone receive
    let (env, targets, _, _) = setup().await;
    let name = unique("orders");
    let arn = format!("arn:aws:sqs:us-east-1:{ACCOUNT}:{name}");
    let pinned = format!(
        r#"{{"Sid":"Sns","Effect":"Allow","Principal":{{"Service":"sns.amazonaws.com"}},"Action":"sqs:SendMessage","Resource":"{arn}","Condition":{{"ArnEquals":{{"aws:SourceArn":"arn:aws:sns:us-east-1:{ACCOUNT}:t"}}}}}}"#
    );
    let open = format!(
        r#"{{"Sid":"Open","Effect":"Allow","Principal":"*","Action":"sqs:ReceiveMessage","Resource":"{arn}"}}"#
    );
    let policy = doc(&[&pinned, &open]);
    let url = env
        .sqs
        .create_queue()
        .queue_name(&name)
        .attributes(aws_sdk_sqs::types::QueueAttributeName::Policy, &policy)
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let event = call(
        "sqs.amazonaws.com",
        "SetQueueAttributes",
        json!({"queueUrl": url, "attributes": {"Policy": policy}}),
    );
    // When it is remediated
    decided(&env, &targets, &enforce(), &event, "remediated").await;
    // Then only the pinned statement is left
    let live = env
        .sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::Policy)
        .send()
        .await
        .unwrap();
    let text = live
        .attributes()
        .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::Policy))
        .cloned()
        .unwrap();
    assert_eq!(statements(&text), statements(&doc(&[&pinned])));
    // And a forged trigger claiming the queue was opened again finds nothing to remove
    let forged = call(
        "sqs.amazonaws.com",
        "SetQueueAttributes",
        json!({"queueUrl": url, "attributes": {"Policy": doc(&[&open])}}),
    );
    decided(&env, &targets, &enforce(), &forged, "already-fixed").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_public_topic_policy_statement_is_removed_and_the_owner_statement_kept() {
    // Given a topic whose policy has the owner-pinned default statement and a public one
    let (env, targets, _, _) = setup().await;
    let sns = aws_sdk_sns::Client::new(&env.sdk);
    let arn = sns
        .create_topic()
        .name(unique("alerts"))
        .send()
        .await
        .unwrap()
        .topic_arn
        .unwrap();
    let owner = format!(
        r#"{{"Sid":"Owner","Effect":"Allow","Principal":{{"AWS":"*"}},"Action":"SNS:Publish","Resource":"{arn}","Condition":{{"StringEquals":{{"AWS:SourceOwner":"{ACCOUNT}"}}}}}}"#
    );
    let open = format!(
        r#"{{"Sid":"Open","Effect":"Allow","Principal":{{"AWS":"*"}},"Action":"SNS:Subscribe","Resource":"{arn}"}}"#
    );
    let policy = doc(&[&owner, &open]);
    sns.set_topic_attributes()
        .topic_arn(&arn)
        .attribute_name("Policy")
        .attribute_value(&policy)
        .send()
        .await
        .unwrap();
    let event = call(
        "sns.amazonaws.com",
        "SetTopicAttributes",
        json!({"topicArn": arn, "attributeName": "Policy", "attributeValue": policy}),
    );
    // When it is remediated
    decided(&env, &targets, &enforce(), &event, "remediated").await;
    // Then the owner statement is the policy
    let live = sns.get_topic_attributes().topic_arn(&arn).send().await.unwrap();
    let text = live.attributes().and_then(|a| a.get("Policy")).cloned().unwrap();
    assert_eq!(statements(&text), statements(&doc(&[&owner])));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repository_policy_of_only_public_statements_is_deleted() {
    // Given a repository whose policy lets anyone pull
    let (env, targets, _, _) = setup().await;
    let ecr = aws_sdk_ecr::Client::new(&env.sdk);
    let name = unique("app");
    ecr.create_repository().repository_name(&name).send().await.unwrap();
    let policy = doc(&[
        r#"{"Sid":"Pull","Effect":"Allow","Principal":"*","Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer"]}"#,
    ]);
    ecr.set_repository_policy()
        .repository_name(&name)
        .policy_text(&policy)
        .send()
        .await
        .unwrap();
    let event = call(
        "ecr.amazonaws.com",
        "SetRepositoryPolicy",
        json!({"repositoryName": name, "policyText": policy}),
    );
    // When it is remediated
    decided(&env, &targets, &enforce(), &event, "remediated").await;
    // Then the repository has no policy
    let live = ecr.get_repository_policy().repository_name(&name).send().await;
    assert!(live.is_err() || live.unwrap().policy_text().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_public_secret_policy_statement_is_removed_and_the_application_role_kept() {
    // Given a secret readable by its application role and by anyone
    let (env, targets, _, _) = setup().await;
    let secrets = aws_sdk_secretsmanager::Client::new(&env.sdk);
    let name = unique("db");
    secrets
        .create_secret()
        .name(&name)
        .secret_string("s3cr3t")
        .send()
        .await
        .unwrap();
    let app = r#"{"Sid":"App","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:role/App"},"Action":"secretsmanager:GetSecretValue","Resource":"*"}"#;
    let open = r#"{"Sid":"Open","Effect":"Allow","Principal":{"AWS":"*"},"Action":"secretsmanager:GetSecretValue","Resource":"*"}"#;
    let policy = doc(&[app, open]);
    secrets
        .put_resource_policy()
        .secret_id(&name)
        .resource_policy(&policy)
        .send()
        .await
        .unwrap();
    let event = call(
        "secretsmanager.amazonaws.com",
        "PutResourcePolicy",
        json!({"secretId": name, "resourcePolicy": policy}),
    );
    // When it is remediated
    decided(&env, &targets, &enforce(), &event, "remediated").await;
    // Then only the application's statement is left
    let live = secrets.get_resource_policy().secret_id(&name).send().await.unwrap();
    assert_eq!(statements(live.resource_policy().unwrap()), statements(&doc(&[app])));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_public_trust_statement_is_removed_and_the_service_trust_kept() {
    // Given a role trusted by EC2 and by any AWS principal
    let (env, targets, _, _) = setup().await;
    let iam = aws_sdk_iam::Client::new(&env.sdk);
    let name = unique("Ops");
    let service = r#"{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}"#;
    let anyone = r#"{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}"#;
    let trust = doc(&[service, anyone]);
    iam.create_role()
        .role_name(&name)
        .assume_role_policy_document(&trust)
        .send()
        .await
        .unwrap();
    let event = call(
        "iam.amazonaws.com",
        "CreateRole",
        json!({"roleName": name, "assumeRolePolicyDocument": trust, "path": "/"}),
    );
    // When it is remediated
    decided(&env, &targets, &enforce(), &event, "remediated").await;
    // Then EC2 may still assume it, and nobody else
    let role = iam.get_role().role_name(&name).send().await.unwrap();
    let text = role.role().unwrap().assume_role_policy_document().unwrap().to_owned();
    let decoded = percent_encoding::percent_decode_str(&text)
        .decode_utf8_lossy()
        .into_owned();
    assert_eq!(statements(&decoded), statements(&doc(&[service])));
}

/// An empty zip archive: enough for moto to create a function it never runs.
const EMPTY_ZIP: [u8; 22] = [
    0x50, 0x4b, 0x05, 0x06, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
];

async fn function_with_public_permission(env: &Env) -> (aws_sdk_lambda::Client, String) {
    let iam = aws_sdk_iam::Client::new(&env.sdk);
    let role = iam
        .create_role()
        .role_name(unique("fn-role"))
        .assume_role_policy_document(doc(&[
            r#"{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}"#,
        ]))
        .send()
        .await
        .unwrap();
    let lambda = aws_sdk_lambda::Client::new(&env.sdk);
    let name = unique("pay");
    lambda
        .create_function()
        .function_name(&name)
        .runtime(aws_sdk_lambda::types::Runtime::Python312)
        .handler("index.handler")
        .role(role.role().unwrap().arn())
        .code(
            aws_sdk_lambda::types::FunctionCode::builder()
                .zip_file(aws_sdk_lambda::primitives::Blob::new(EMPTY_ZIP.to_vec()))
                .build(),
        )
        .send()
        .await
        .unwrap();
    for (sid, principal, source) in [
        (
            "events",
            "events.amazonaws.com",
            Some("arn:aws:events:us-east-1:123456789012:rule/r"),
        ),
        ("open", "*", None),
    ] {
        let mut add = lambda
            .add_permission()
            .function_name(&name)
            .statement_id(sid)
            .action("lambda:InvokeFunction")
            .principal(principal);
        if let Some(arn) = source {
            add = add.source_arn(arn);
        }
        add.send().await.unwrap();
    }
    (lambda, name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_public_lambda_permission_waits_for_its_rule_then_only_it_is_removed() {
    // Given a function EventBridge may invoke (pinned) and anyone may invoke
    let (env, targets, _, _) = setup().await;
    let (lambda, name) = function_with_public_permission(&env).await;
    let event = call(
        "lambda.amazonaws.com",
        "AddPermission20150331v2",
        json!({"functionName": name, "statementId": "open", "action": "lambda:InvokeFunction", "principal": "*"}),
    );
    // When it is remediated in enforce mode with the default rules
    let waiting = decided(&env, &targets, &enforce(), &event, "would-remediate").await;
    // Then it only says what it would do, since the revert can break callers
    assert!(
        waiting["reason"].as_str().unwrap().contains("REMEDIATE_RULES"),
        "{waiting}"
    );
    // And with the rule chosen, only the public statement goes
    let chosen = RemediationConfig {
        rules: RuleSelection::parse("lambda-function-public").unwrap(),
        ..enforce()
    };
    let retry = call(
        "lambda.amazonaws.com",
        "AddPermission20150331v2",
        json!({"functionName": name, "statementId": "open", "action": "lambda:InvokeFunction", "principal": "*"}),
    );
    decided(&env, &targets, &chosen, &retry, "remediated").await;
    let live = lambda.get_policy().function_name(&name).send().await.unwrap();
    let sids: Vec<Value> = statements(live.policy().unwrap())
        .iter()
        .map(|s| s["Sid"].clone())
        .collect();
    assert_eq!(sids, vec![json!("events")]);
    // And a function URL made with AuthType NONE is made to require IAM
    lambda
        .create_function_url_config()
        .function_name(&name)
        .auth_type(aws_sdk_lambda::types::FunctionUrlAuthType::None)
        .send()
        .await
        .unwrap();
    let url = call(
        "lambda.amazonaws.com",
        "CreateFunctionUrlConfig20211031",
        json!({"functionName": name, "authType": "NONE"}),
    );
    decided(&env, &targets, &chosen, &url, "remediated").await;
    let config = lambda
        .get_function_url_config()
        .function_name(&name)
        .send()
        .await
        .unwrap();
    assert_eq!(config.auth_type().as_str(), "AWS_IAM");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_public_snapshot_loses_the_group_all_and_keeps_the_partner_account() {
    // Given a snapshot shared with everyone and with a partner account
    let (env, targets, _, _) = setup().await;
    let ec2 = aws_sdk_ec2::Client::new(&env.sdk);
    let volume = ec2
        .create_volume()
        .availability_zone("us-east-1a")
        .size(1)
        .send()
        .await
        .unwrap();
    let snapshot = ec2
        .create_snapshot()
        .volume_id(volume.volume_id().unwrap())
        .send()
        .await
        .unwrap();
    let id = snapshot.snapshot_id().unwrap().to_owned();
    ec2.modify_snapshot_attribute()
        .snapshot_id(&id)
        .attribute(aws_sdk_ec2::types::SnapshotAttributeName::CreateVolumePermission)
        .operation_type(aws_sdk_ec2::types::OperationType::Add)
        .group_names("all")
        .user_ids("444455556666")
        .send()
        .await
        .unwrap();
    let event = call(
        "ec2.amazonaws.com",
        "ModifySnapshotAttribute",
        json!({"snapshotId": id, "attributeType": "CREATE_VOLUME_PERMISSION", "createVolumePermission": {"add": {"items": [{"group": "all"}, {"userId": "444455556666"}]}}}),
    );
    // When it is remediated
    decided(&env, &targets, &enforce(), &event, "remediated").await;
    // Then only the partner's share is left
    let live = ec2
        .describe_snapshot_attribute()
        .snapshot_id(&id)
        .attribute(aws_sdk_ec2::types::SnapshotAttributeName::CreateVolumePermission)
        .send()
        .await
        .unwrap();
    let perms = live.create_volume_permissions();
    assert!(perms.iter().all(|p| p.group().is_none()), "{perms:?}");
    assert!(perms.iter().any(|p| p.user_id() == Some("444455556666")), "{perms:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_public_image_loses_the_group_all_and_keeps_the_partner_account() {
    // Given an AMI made from an instance, launchable by everyone and by a partner account
    let (env, targets, _, _) = setup().await;
    let ec2 = aws_sdk_ec2::Client::new(&env.sdk);
    let base = ec2.describe_images().owners("amazon").send().await.unwrap();
    let base = base.images()[0].image_id().unwrap().to_owned();
    let run = ec2
        .run_instances()
        .image_id(base)
        .min_count(1)
        .max_count(1)
        .send()
        .await
        .unwrap();
    let instance = run.instances()[0].instance_id().unwrap().to_owned();
    let image = ec2
        .create_image()
        .instance_id(instance)
        .name(unique("golden"))
        .send()
        .await
        .unwrap()
        .image_id
        .unwrap();
    ec2.modify_image_attribute()
        .image_id(&image)
        .launch_permission(
            aws_sdk_ec2::types::LaunchPermissionModifications::builder()
                .add(
                    aws_sdk_ec2::types::LaunchPermission::builder()
                        .group(aws_sdk_ec2::types::PermissionGroup::All)
                        .build(),
                )
                .add(
                    aws_sdk_ec2::types::LaunchPermission::builder()
                        .user_id("444455556666")
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let event = call(
        "ec2.amazonaws.com",
        "ModifyImageAttribute",
        json!({"imageId": image, "launchPermission": {"add": {"items": [{"group": "all"}]}}, "attributeType": "launchPermission"}),
    );
    // When it is remediated
    decided(&env, &targets, &enforce(), &event, "remediated").await;
    // Then only the partner may launch it
    let live = ec2
        .describe_image_attribute()
        .image_id(&image)
        .attribute(aws_sdk_ec2::types::ImageAttributeName::LaunchPermission)
        .send()
        .await
        .unwrap();
    let perms = live.launch_permissions();
    assert!(perms.iter().all(|p| p.group().is_none()), "{perms:?}");
    assert!(perms.iter().any(|p| p.user_id() == Some("444455556666")), "{perms:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_public_db_snapshot_is_unshared_and_a_public_instance_made_private_once_chosen() {
    // Given a public DB instance and a snapshot of it shared with everyone and a partner
    let (env, targets, _, _) = setup().await;
    let rds = aws_sdk_rds::Client::new(&env.sdk);
    let db = unique("db");
    rds.create_db_instance()
        .db_instance_identifier(&db)
        .db_instance_class("db.t3.micro")
        .engine("postgres")
        .master_username("admin1")
        .master_user_password("password-123")
        .allocated_storage(20)
        .publicly_accessible(true)
        .send()
        .await
        .unwrap();
    let snap = unique("snap");
    rds.create_db_snapshot()
        .db_instance_identifier(&db)
        .db_snapshot_identifier(&snap)
        .send()
        .await
        .unwrap();
    rds.modify_db_snapshot_attribute()
        .db_snapshot_identifier(&snap)
        .attribute_name("restore")
        .values_to_add("all")
        .values_to_add("444455556666")
        .send()
        .await
        .unwrap();
    let shared = call(
        "rds.amazonaws.com",
        "ModifyDBSnapshotAttribute",
        json!({"dBSnapshotIdentifier": snap, "attributeName": "restore", "valuesToAdd": ["all"]}),
    );
    let opened = call(
        "rds.amazonaws.com",
        "ModifyDBInstance",
        json!({"dBInstanceIdentifier": db, "publiclyAccessible": true, "applyImmediately": true}),
    );
    // When both are remediated (the instance first with the default rules, then chosen)
    decided(&env, &targets, &enforce(), &shared, "remediated").await;
    decided(&env, &targets, &enforce(), &opened, "would-remediate").await;
    let all = RemediationConfig {
        rules: RuleSelection::All,
        ..enforce()
    };
    let again = call(
        "rds.amazonaws.com",
        "ModifyDBInstance",
        json!({"dBInstanceIdentifier": db, "publiclyAccessible": true}),
    );
    decided(&env, &targets, &all, &again, "remediated").await;
    // Then the snapshot keeps only the partner, and the instance is private
    let attrs = rds
        .describe_db_snapshot_attributes()
        .db_snapshot_identifier(&snap)
        .send()
        .await
        .unwrap();
    let values: Vec<String> = attrs
        .db_snapshot_attributes_result()
        .map(|r| r.db_snapshot_attributes())
        .unwrap_or_default()
        .iter()
        .filter(|a| a.attribute_name() == Some("restore"))
        .flat_map(|a| a.attribute_values().to_vec())
        .collect();
    assert_eq!(values, vec!["444455556666".to_owned()]);
    let live = rds
        .describe_db_instances()
        .db_instance_identifier(&db)
        .send()
        .await
        .unwrap();
    assert_eq!(live.db_instances()[0].publicly_accessible(), Some(false));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_network_acl_entry_the_call_made_is_deleted_and_the_others_kept() {
    // Given an ACL with SSH from the world (the call's entry) and HTTPS from the world
    let (env, targets, _, _) = setup().await;
    let ec2 = aws_sdk_ec2::Client::new(&env.sdk);
    let vpc = ec2.create_vpc().cidr_block("10.0.0.0/16").send().await.unwrap();
    let acl = ec2
        .create_network_acl()
        .vpc_id(vpc.vpc().unwrap().vpc_id().unwrap())
        .send()
        .await
        .unwrap();
    let acl_id = acl.network_acl().unwrap().network_acl_id().unwrap().to_owned();
    for (n, port) in [(90, 22), (100, 443)] {
        ec2.create_network_acl_entry()
            .network_acl_id(&acl_id)
            .rule_number(n)
            .protocol("6")
            .rule_action(aws_sdk_ec2::types::RuleAction::Allow)
            .egress(false)
            .cidr_block("0.0.0.0/0")
            .port_range(aws_sdk_ec2::types::PortRange::builder().from(port).to(port).build())
            .send()
            .await
            .unwrap();
    }
    let event = call(
        "ec2.amazonaws.com",
        "CreateNetworkAclEntry",
        json!({"networkAclId": acl_id, "ruleNumber": 90, "egress": false, "ruleAction": "allow", "aclProtocol": "6", "portRange": {"from": 22, "to": 22}, "cidrBlock": "0.0.0.0/0", "icmpTypeCode": {}}),
    );
    // When it is remediated
    decided(&env, &targets, &enforce(), &event, "remediated").await;
    // Then entry 90 is gone and entry 100 stays
    let live = ec2
        .describe_network_acls()
        .network_acl_ids(&acl_id)
        .send()
        .await
        .unwrap();
    let numbers: Vec<i32> = live.network_acls()[0]
        .entries()
        .iter()
        .filter(|e| e.egress() == Some(false))
        .filter_map(|e| e.rule_number())
        .collect();
    assert!(!numbers.contains(&90) && numbers.contains(&100), "{numbers:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suspended_detector_is_enabled_and_a_deleted_one_is_not_found() {
    // Given a GuardDuty detector suspended (in a region of its own: one detector per region)
    let (env, targets, _, _) = setup().await;
    let region = "eu-west-3";
    let gd = aws_sdk_guardduty::Client::new(&in_region(&env, region));
    let id = gd
        .create_detector()
        .enable(true)
        .send()
        .await
        .unwrap()
        .detector_id
        .unwrap();
    gd.update_detector()
        .detector_id(&id)
        .enable(false)
        .send()
        .await
        .unwrap();
    let event = call_in(
        region,
        "guardduty.amazonaws.com",
        "UpdateDetector",
        json!({"detectorId": id, "enable": false}),
    );
    // When it is remediated
    decided(&env, &targets, &enforce(), &event, "remediated").await;
    // Then the detector is enabled again
    let live = gd.get_detector().detector_id(&id).send().await.unwrap();
    assert_eq!(live.status().map(|s| s.as_str()), Some("ENABLED"));
    // And once deleted, its trigger is not-found, saying how to recreate it
    gd.delete_detector().detector_id(&id).send().await.unwrap();
    let deleted = call_in(
        region,
        "guardduty.amazonaws.com",
        "DeleteDetector",
        json!({"detectorId": id}),
    );
    let detail = decided(&env, &targets, &enforce(), &deleted, "not-found").await;
    assert!(
        detail["reason"].as_str().unwrap().contains("create-detector"),
        "{detail}"
    );
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
            aws_sdk_config::types::DeliveryChannel::builder()
                .name("default")
                .s3_bucket_name(&env.bucket)
                .build(),
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
    let status = config
        .describe_configuration_recorder_status()
        .configuration_recorder_names("default")
        .send()
        .await
        .unwrap();
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
    assert!(
        detail["reason"].as_str().unwrap().contains("create-flow-logs"),
        "{detail}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_and_the_exemption_tag_leave_a_public_queue_alone() {
    // Given a public queue, and another one tagged exempt
    let (env, targets, _, _) = setup().await;
    let open = r#"{"Effect":"Allow","Principal":"*","Action":"sqs:SendMessage","Resource":"*"}"#;
    let policy = doc(&[open]);
    let mut urls = vec![];
    for exempt in [false, true] {
        let mut create = env
            .sqs
            .create_queue()
            .queue_name(unique("q"))
            .attributes(aws_sdk_sqs::types::QueueAttributeName::Policy, &policy);
        if exempt {
            create = create.tags("trailsight:exempt", "true");
        }
        urls.push(create.send().await.unwrap().queue_url.unwrap());
    }
    let trigger = |url: &str| {
        call(
            "sqs.amazonaws.com",
            "SetQueueAttributes",
            json!({"queueUrl": url, "attributes": {"Policy": policy}}),
        )
    };
    // When the first is remediated in dry-run and the second in enforce mode
    let dry = decided(
        &env,
        &targets,
        &RemediationConfig::default(),
        &trigger(&urls[0]),
        "would-remediate",
    )
    .await;
    decided(&env, &targets, &enforce(), &trigger(&urls[1]), "exempt").await;
    // Then dry-run says what it would do, and both policies are as they were
    assert!(
        dry["reason"].as_str().unwrap().starts_with("dry-run: would remove"),
        "{dry}"
    );
    for url in &urls {
        let live = env
            .sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::Policy)
            .send()
            .await
            .unwrap();
        let text = live
            .attributes()
            .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::Policy))
            .cloned()
            .unwrap();
        assert_eq!(statements(&text), statements(&policy));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_denied_on_a_snapshot_is_failed_and_leaves_it_shared() {
    // Given a public snapshot and a function that may not modify snapshot attributes
    let (env, _, sink, ledger) = setup().await;
    let ec2 = aws_sdk_ec2::Client::new(&env.sdk);
    let volume = ec2
        .create_volume()
        .availability_zone("us-east-1a")
        .size(1)
        .send()
        .await
        .unwrap();
    let id = ec2
        .create_snapshot()
        .volume_id(volume.volume_id().unwrap())
        .send()
        .await
        .unwrap()
        .snapshot_id
        .unwrap();
    ec2.modify_snapshot_attribute()
        .snapshot_id(&id)
        .attribute(aws_sdk_ec2::types::SnapshotAttributeName::CreateVolumePermission)
        .operation_type(aws_sdk_ec2::types::OperationType::Add)
        .group_names("all")
        .send()
        .await
        .unwrap();
    let denied = Denying::new(AwsAdmins::from_config(&env.sdk, true), "ec2:ModifySnapshotAttribute");
    let event = call(
        "ec2.amazonaws.com",
        "ModifySnapshotAttribute",
        json!({"snapshotId": id, "createVolumePermission": {"add": {"items": [{"group": "all"}]}}}),
    );
    // When it is remediated
    let result = handle(&denied, &ledger, &sink, &enforce(), &event).await;
    // Then the invocation fails, a subscriber sees the failure naming the action, and it is still shared
    assert!(matches!(result, Err(HandlerError::Failed { .. })), "{result:?}");
    let received = env.receive(1).await;
    assert_eq!(received[0]["detail"]["decision"], "failed");
    assert!(received[0]["detail"]["error"]
        .as_str()
        .is_some_and(|e| e.contains("ec2:ModifySnapshotAttribute")));
    let live = ec2
        .describe_snapshot_attribute()
        .snapshot_id(&id)
        .attribute(aws_sdk_ec2::types::SnapshotAttributeName::CreateVolumePermission)
        .send()
        .await
        .unwrap();
    assert!(live.create_volume_permissions().iter().any(|p| p.group().is_some()));
}
