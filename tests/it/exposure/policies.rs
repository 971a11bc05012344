//! Resource policies (KMS, SQS, SNS, ECR, Secrets Manager, IAM trust) and Lambda permissions and
//! URLs on moto, with the forged-trigger, dry-run and exemption cases.

use super::*;

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
    let event =
        call("kms.amazonaws.com", "PutKeyPolicy", json!({"keyId": id, "policyName": "default", "policy": policy}));
    let detail = decided(&env, &targets, &enforce(), &event, "remediated").await;
    // Then only the root statement is left, and the event shows both policies
    let live = kms.get_key_policy().key_id(&id).policy_name("default").send().await.unwrap();
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
    let event =
        call("sqs.amazonaws.com", "SetQueueAttributes", json!({"queueUrl": url, "attributes": {"Policy": policy}}));
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
    let text = live.attributes().and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::Policy)).cloned().unwrap();
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
    let arn = sns.create_topic().name(unique("alerts")).send().await.unwrap().topic_arn.unwrap();
    let owner = format!(
        r#"{{"Sid":"Owner","Effect":"Allow","Principal":{{"AWS":"*"}},"Action":"SNS:Publish","Resource":"{arn}","Condition":{{"StringEquals":{{"AWS:SourceOwner":"{ACCOUNT}"}}}}}}"#
    );
    let open = format!(
        r#"{{"Sid":"Open","Effect":"Allow","Principal":{{"AWS":"*"}},"Action":"SNS:Subscribe","Resource":"{arn}"}}"#
    );
    let policy = doc(&[&owner, &open]);
    sns.set_topic_attributes().topic_arn(&arn).attribute_name("Policy").attribute_value(&policy).send().await.unwrap();
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
    ecr.set_repository_policy().repository_name(&name).policy_text(&policy).send().await.unwrap();
    let event = call("ecr.amazonaws.com", "SetRepositoryPolicy", json!({"repositoryName": name, "policyText": policy}));
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
    secrets.create_secret().name(&name).secret_string("s3cr3t").send().await.unwrap();
    let app = r#"{"Sid":"App","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:role/App"},"Action":"secretsmanager:GetSecretValue","Resource":"*"}"#;
    let open = r#"{"Sid":"Open","Effect":"Allow","Principal":{"AWS":"*"},"Action":"secretsmanager:GetSecretValue","Resource":"*"}"#;
    let policy = doc(&[app, open]);
    secrets.put_resource_policy().secret_id(&name).resource_policy(&policy).send().await.unwrap();
    let event =
        call("secretsmanager.amazonaws.com", "PutResourcePolicy", json!({"secretId": name, "resourcePolicy": policy}));
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
    iam.create_role().role_name(&name).assume_role_policy_document(&trust).send().await.unwrap();
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
    let decoded = percent_encoding::percent_decode_str(&text).decode_utf8_lossy().into_owned();
    assert_eq!(statements(&decoded), statements(&doc(&[service])));
}

/// An empty zip archive: enough for moto to create a function it never runs.
const EMPTY_ZIP: [u8; 22] = [0x50, 0x4b, 0x05, 0x06, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];

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
    for (sid, principal, source) in
        [("events", "events.amazonaws.com", Some("arn:aws:events:us-east-1:123456789012:rule/r")), ("open", "*", None)]
    {
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
    assert!(waiting["reason"].as_str().unwrap().contains("REMEDIATE_RULES"), "{waiting}");
    // And with the rule chosen, only the public statement goes
    let chosen = RemediationConfig { rules: RuleSelection::parse("lambda-function-public").unwrap(), ..enforce() };
    let retry = call(
        "lambda.amazonaws.com",
        "AddPermission20150331v2",
        json!({"functionName": name, "statementId": "open", "action": "lambda:InvokeFunction", "principal": "*"}),
    );
    decided(&env, &targets, &chosen, &retry, "remediated").await;
    let live = lambda.get_policy().function_name(&name).send().await.unwrap();
    let sids: Vec<Value> = statements(live.policy().unwrap()).iter().map(|s| s["Sid"].clone()).collect();
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
    let config = lambda.get_function_url_config().function_name(&name).send().await.unwrap();
    assert_eq!(config.auth_type().as_str(), "AWS_IAM");
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
        call("sqs.amazonaws.com", "SetQueueAttributes", json!({"queueUrl": url, "attributes": {"Policy": policy}}))
    };
    // When the first is remediated in dry-run and the second in enforce mode
    let dry = decided(&env, &targets, &RemediationConfig::default(), &trigger(&urls[0]), "would-remediate").await;
    decided(&env, &targets, &enforce(), &trigger(&urls[1]), "exempt").await;
    // Then dry-run says what it would do, and both policies are as they were
    assert!(dry["reason"].as_str().unwrap().starts_with("dry-run: would remove"), "{dry}");
    for url in &urls {
        let live = env
            .sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::Policy)
            .send()
            .await
            .unwrap();
        let text =
            live.attributes().and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::Policy)).cloned().unwrap();
        assert_eq!(statements(&text), statements(&policy));
    }
}
