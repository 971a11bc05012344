//! Remediation of the exposure rules on in-memory live state: resource policies lose exactly
//! the public statements the call added, shares lose only the group `all`, network ACLs only
//! the call's entry; detectors and recorders come back on; deletions are `not-found` with what
//! would recreate them; `REMEDIATE_RULES` keeps the reverts that break callers in dry-run.

use super::*;
use crate::remediate::ports::{
    AclEntry, DbInstance, DbInstanceAdmin, DefenceAdmin, FunctionAccess, FunctionAdmin, NetworkAcl, NetworkAclAdmin,
    PolicyKind, PolicyState, Ports, ResourcePolicyAdmin, SharedKind, Sharing, SharingAdmin,
};
use std::future::Future;

const ROOT: &str = r#"{"Sid":"Root","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"}"#;
const ANYONE: &str =
    r#"{"Sid":"Anyone","Effect":"Allow","Principal":{"AWS":"*"},"Action":"kms:Decrypt","Resource":"*"}"#;

fn doc(statements: &[&str]) -> String {
    format!(r#"{{"Version":"2012-10-17","Statement":[{}]}}"#, statements.join(","))
}

fn with_policy(policy: &str) -> PolicyState {
    PolicyState { policy: Some(policy.to_owned()), ..PolicyState::default() }
}

/// Live state read through the admins' port, as a remediation reads it.
fn live<T>(read: impl Future<Output = Result<T, AdminError>>) -> T {
    pollster::block_on(read).unwrap()
}

fn all_rules() -> RemediationConfig {
    RemediationConfig { rules: RuleSelection::All, ..enforce() }
}

#[test]
fn a_public_key_policy_statement_is_removed_and_the_root_statement_kept_verbatim() {
    // Given a key whose policy grants the root and anyone
    let admins = MemoryAdmins::default();
    admins.set_resource_policy(PolicyKind::KmsKey, "k-1", with_policy(&doc(&[ROOT, ANYONE])));
    let call = api_call(
        "kms.amazonaws.com",
        "PutKeyPolicy",
        json!({"keyId": "k-1", "policyName": "default", "policy": doc(&[ROOT, ANYONE])}),
    );
    // When remediated
    let report = run(&admins, &enforce(), &call);
    // Then only the public statement went, with KMS's own write
    assert_eq!(report.outcomes[0].decision, Decision::Remediated, "{}", report.outcomes[0].reason);
    let live = live(admins.resource_policy(PolicyKind::KmsKey, "k-1"));
    assert_eq!(live.policy.unwrap(), doc(&[ROOT]));
    assert_eq!(admins.writes(), vec!["kms:PutKeyPolicy"]);
}

#[test]
fn a_key_policy_that_would_lose_its_root_grant_needs_review_and_is_not_touched() {
    // Given a key whose only statement grants anyone (and so the root)
    let admins = MemoryAdmins::default();
    admins.set_resource_policy(PolicyKind::KmsKey, "k-1", with_policy(&doc(&[ANYONE])));
    let call = api_call("kms.amazonaws.com", "PutKeyPolicy", json!({"keyId": "k-1", "policy": doc(&[ANYONE])}));
    // When remediated
    let report = run(&admins, &enforce(), &call);
    // Then nothing is written: removing it could lock the key out
    assert_eq!(report.outcomes[0].decision, Decision::NeedsReview);
    assert!(report.outcomes[0].reason.contains("lock"), "{}", report.outcomes[0].reason);
    assert!(admins.writes().is_empty());
}

#[test]
fn a_forged_queue_policy_trigger_finds_nothing_to_remove() {
    // Given a queue whose live policy is private, and a trigger claiming a public one
    let admins = MemoryAdmins::default();
    let url = "https://sqs.us-east-1.amazonaws.com/111122223333/orders";
    let private = r#"{"Effect":"Allow","Principal":{"Service":"sns.amazonaws.com"},"Action":"sqs:SendMessage","Resource":"*","Condition":{"ArnEquals":{"aws:SourceArn":"arn:aws:sns:us-east-1:111122223333:t"}}}"#;
    admins.set_resource_policy(PolicyKind::Queue, url, with_policy(&doc(&[private])));
    let public = r#"{"Effect":"Allow","Principal":"*","Action":"sqs:*","Resource":"*"}"#;
    let call = api_call(
        "sqs.amazonaws.com",
        "SetQueueAttributes",
        json!({"queueUrl": url, "attributes": {"Policy": doc(&[public])}}),
    );
    // When remediated
    let report = run(&admins, &enforce(), &call);
    // Then live state decides: already fixed, nothing written
    assert_eq!(report.outcomes[0].decision, Decision::AlreadyFixed);
    assert!(admins.writes().is_empty());
}

#[test]
fn sns_add_permission_to_everyone_loses_exactly_its_labelled_statement() {
    // Given a topic policy with the owner's statement and AddPermission's statement for "*"
    let admins = MemoryAdmins::default();
    let arn = "arn:aws:sns:us-east-1:111122223333:alerts";
    let owner = r#"{"Sid":"__default_statement_ID","Effect":"Allow","Principal":{"AWS":"*"},"Action":"SNS:Publish","Resource":"arn:aws:sns:us-east-1:111122223333:alerts","Condition":{"StringEquals":{"AWS:SourceOwner":"111122223333"}}}"#;
    let added = r#"{"Sid":"open","Effect":"Allow","Principal":{"AWS":"*"},"Action":"SNS:Subscribe","Resource":"arn:aws:sns:us-east-1:111122223333:alerts"}"#;
    admins.set_resource_policy(PolicyKind::Topic, arn, with_policy(&doc(&[owner, added])));
    let call = api_call(
        "sns.amazonaws.com",
        "AddPermission",
        json!({"topicArn": arn, "label": "open", "aWSAccountId": ["*"], "actionName": ["Subscribe"]}),
    );
    // When remediated
    let report = run(&admins, &enforce(), &call);
    // Then the labelled statement is gone and the owner's (pinned) statement is kept
    assert_eq!(report.outcomes[0].decision, Decision::Remediated, "{}", report.outcomes[0].reason);
    let live = live(admins.resource_policy(PolicyKind::Topic, arn));
    assert_eq!(live.policy.unwrap(), doc(&[owner]));
}

#[test]
fn a_repository_policy_of_only_public_statements_is_deleted_but_a_trust_policy_needs_review() {
    // Given an ECR repository and an IAM role whose policies are only a public statement
    let admins = MemoryAdmins::default();
    let public = r#"{"Effect":"Allow","Principal":"*","Action":"*"}"#;
    admins.set_resource_policy(PolicyKind::Repository, "app", with_policy(&doc(&[public])));
    admins.set_resource_policy(PolicyKind::RoleTrust, "Ops", with_policy(&doc(&[public])));
    let ecr = api_call(
        "ecr.amazonaws.com",
        "SetRepositoryPolicy",
        json!({"repositoryName": "app", "policyText": doc(&[public])}),
    );
    let iam = api_call(
        "iam.amazonaws.com",
        "UpdateAssumeRolePolicy",
        json!({"roleName": "Ops", "policyDocument": doc(&[public])}),
    );
    // When both are remediated
    let ecr = run(&admins, &enforce(), &ecr);
    let iam = run(&admins, &enforce(), &iam);
    // Then the repository policy is deleted, and the role (IAM keeps a trust policy) is left for a person
    assert_eq!(ecr.outcomes[0].decision, Decision::Remediated);
    assert_eq!(live(admins.resource_policy(PolicyKind::Repository, "app")).policy, None);
    assert_eq!(iam.outcomes[0].decision, Decision::NeedsReview);
    assert_eq!(admins.writes(), vec!["ecr:DeleteRepositoryPolicy"]);
}

#[test]
fn access_denied_on_a_secret_is_a_failure_naming_the_action() {
    // Given a secret with a public statement, and no right to change its policy
    let admins = MemoryAdmins::default();
    let public =
        r#"{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"secretsmanager:GetSecretValue","Resource":"*"}"#;
    let private = r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/App"},"Action":"secretsmanager:GetSecretValue","Resource":"*"}"#;
    admins.set_resource_policy(PolicyKind::Secret, "db", with_policy(&doc(&[private, public])));
    admins.deny("secretsmanager:PutResourcePolicy");
    let call = api_call(
        "secretsmanager.amazonaws.com",
        "PutResourcePolicy",
        json!({"secretId": "db", "resourcePolicy": doc(&[private, public])}),
    );
    // When remediated
    let report = run(&admins, &enforce(), &call);
    // Then the decision is failed, and the error names the action
    assert_eq!(report.outcomes[0].decision, Decision::Failed);
    assert!(report.failure().is_some_and(|o| o.reason.contains("secretsmanager:PutResourcePolicy")));
}

fn function_permission_call() -> Value {
    api_call(
        "lambda.amazonaws.com",
        "AddPermission20150331v2",
        json!({"functionName": "pay", "statementId": "open", "action": "lambda:InvokeFunction", "principal": "*"}),
    )
}

fn public_function() -> FunctionAccess {
    let open = r#"{"Sid":"open","Effect":"Allow","Principal":"*","Action":"lambda:InvokeFunction","Resource":"arn:aws:lambda:us-east-1:111122223333:function:pay"}"#;
    let events = r#"{"Sid":"events","Effect":"Allow","Principal":{"Service":"events.amazonaws.com"},"Action":"lambda:InvokeFunction","Resource":"arn:aws:lambda:us-east-1:111122223333:function:pay","Condition":{"ArnLike":{"AWS:SourceArn":"arn:aws:events:us-east-1:111122223333:rule/r"}}}"#;
    FunctionAccess { policy: Some(doc(&[events, open])), url_auth: Some("NONE".into()), ..FunctionAccess::default() }
}

#[test]
fn lambda_reverts_stay_would_remediate_in_enforce_mode_unless_chosen() {
    // Given a function opened to anyone, and the default rule selection in enforce mode
    let admins = MemoryAdmins::default();
    admins.set_function("pay", public_function());
    // When its AddPermission and its URL with AuthType NONE are remediated
    let permission = run(&admins, &enforce(), &function_permission_call());
    let url_call = api_call(
        "lambda.amazonaws.com",
        "CreateFunctionUrlConfig20211031",
        json!({"functionName": "pay", "authType": "NONE"}),
    );
    let url = run(&admins, &enforce(), &url_call);
    // Then both are reported would-remediate, saying why, and nothing is written
    for r in [&permission, &url] {
        assert_eq!(r.outcomes[0].decision, Decision::WouldRemediate);
        assert!(r.outcomes[0].reason.contains("REMEDIATE_RULES"), "{}", r.outcomes[0].reason);
    }
    assert!(admins.writes().is_empty());
}

#[test]
fn a_chosen_lambda_rule_removes_exactly_the_public_permission_and_closes_the_url() {
    // Given the lambda rule chosen in REMEDIATE_RULES
    let admins = MemoryAdmins::default();
    admins.set_function("pay", public_function());
    let config = RemediationConfig { rules: RuleSelection::parse("lambda-function-public").unwrap(), ..enforce() };
    // When the permission and the URL are remediated
    let permission = run(&admins, &config, &function_permission_call());
    let url_call = api_call(
        "lambda.amazonaws.com",
        "UpdateFunctionUrlConfig20211031",
        json!({"functionName": "pay", "authType": "NONE"}),
    );
    let url = run(&admins, &config, &url_call);
    // Then the "open" statement is gone, EventBridge's kept, and the URL requires IAM
    assert_eq!(permission.outcomes[0].decision, Decision::Remediated);
    assert_eq!(url.outcomes[0].decision, Decision::Remediated);
    let live = live(admins.function_access("pay"));
    let policy = live.policy.unwrap();
    assert!(policy.contains("\"events\"") && !policy.contains("\"open\""), "{policy}");
    assert_eq!(live.url_auth.as_deref(), Some("AWS_IAM"));
}

#[test]
fn a_public_snapshot_loses_the_group_all_and_keeps_named_accounts() {
    // Given a snapshot shared with everyone and with one partner account
    let admins = MemoryAdmins::default();
    admins.set_sharing(
        SharedKind::Snapshot,
        "snap-1",
        Sharing { public: true, accounts: vec!["444455556666".into()], ..Sharing::default() },
    );
    let call = api_call(
        "ec2.amazonaws.com",
        "ModifySnapshotAttribute",
        json!({"snapshotId": "snap-1", "attributeType": "CREATE_VOLUME_PERMISSION", "createVolumePermission": {"add": {"items": [{"group": "all"}]}}}),
    );
    // When remediated
    let report = run(&admins, &enforce(), &call);
    // Then it is no longer public and the partner's share is kept
    assert_eq!(report.outcomes[0].decision, Decision::Remediated);
    let live = live(admins.sharing(SharedKind::Snapshot, "snap-1"));
    assert!(!live.public);
    assert_eq!(live.accounts, vec!["444455556666".to_owned()]);
}

#[test]
fn an_image_with_the_exemption_tag_is_left_public() {
    // Given a public AMI tagged exempt
    let admins = MemoryAdmins::default();
    admins.set_sharing(
        SharedKind::Image,
        "ami-1",
        Sharing {
            public: true,
            tags: [("trailsight:exempt".to_owned(), "true".to_owned())].into(),
            ..Sharing::default()
        },
    );
    let call = api_call(
        "ec2.amazonaws.com",
        "ModifyImageAttribute",
        json!({"imageId": "ami-1", "launchPermission": {"add": {"items": [{"group": "all"}]}}}),
    );
    // When remediated
    let report = run(&admins, &enforce(), &call);
    // Then it is exempt and unchanged
    assert_eq!(report.outcomes[0].decision, Decision::Exempt);
    assert!(admins.writes().is_empty());
}

#[test]
fn a_public_db_cluster_snapshot_is_unshared_and_a_public_instance_waits_for_its_rule() {
    // Given a public cluster snapshot and a public DB instance
    let admins = MemoryAdmins::default();
    admins.set_sharing(SharedKind::DbClusterSnapshot, "snap-c", Sharing { public: true, ..Sharing::default() });
    admins.set_db_instance("db-1", DbInstance { publicly_accessible: true, ..DbInstance::default() });
    let snapshot = api_call(
        "rds.amazonaws.com",
        "ModifyDBClusterSnapshotAttribute",
        json!({"dBClusterSnapshotIdentifier": "snap-c", "attributeName": "restore", "valuesToAdd": ["all"]}),
    );
    let instance = api_call(
        "rds.amazonaws.com",
        "ModifyDBInstance",
        json!({"dBInstanceIdentifier": "db-1", "publiclyAccessible": true}),
    );
    // When both are remediated with the default rules, then the instance with all rules
    let snapshot = run(&admins, &enforce(), &snapshot);
    let by_default = run(&admins, &enforce(), &instance);
    let chosen = run(&admins, &all_rules(), &instance);
    // Then the snapshot is private, the instance only once its rule is chosen
    assert_eq!(snapshot.outcomes[0].decision, Decision::Remediated);
    assert!(!live(admins.sharing(SharedKind::DbClusterSnapshot, "snap-c")).public);
    assert_eq!(by_default.outcomes[0].decision, Decision::WouldRemediate);
    assert_eq!(chosen.outcomes[0].decision, Decision::Remediated);
    assert!(!live(admins.db_instance("db-1")).publicly_accessible);
}

fn ssh_entry(cidr: &str) -> AclEntry {
    AclEntry {
        rule_number: 90,
        egress: false,
        action: "allow".into(),
        ports: Ports::new("6", Some(22), Some(22)),
        cidr: cidr.into(),
    }
}

fn nacl_call() -> Value {
    api_call(
        "ec2.amazonaws.com",
        "CreateNetworkAclEntry",
        json!({"networkAclId": "acl-1", "ruleNumber": 90, "egress": false, "ruleAction": "allow", "aclProtocol": "6", "portRange": {"from": 22, "to": 22}, "cidrBlock": "0.0.0.0/0", "icmpTypeCode": {}}),
    )
}

#[test]
fn the_network_acl_entry_the_call_made_is_deleted_and_the_others_kept() {
    // Given an ACL with the call's entry and an egress entry of the same number
    let admins = MemoryAdmins::default();
    let egress = AclEntry { egress: true, ..ssh_entry("0.0.0.0/0") };
    admins.set_network_acl(
        "acl-1",
        NetworkAcl { entries: vec![ssh_entry("0.0.0.0/0"), egress.clone()], ..NetworkAcl::default() },
    );
    // When remediated
    let report = run(&admins, &enforce(), &nacl_call());
    // Then only the ingress entry is gone
    assert_eq!(report.outcomes[0].decision, Decision::Remediated);
    assert_eq!(live(admins.network_acl("acl-1")).entries, vec![egress]);
}

#[test]
fn a_network_acl_entry_replaced_since_is_left_for_its_own_trigger() {
    // Given the entry was replaced by one from a private range
    let admins = MemoryAdmins::default();
    admins.set_network_acl("acl-1", NetworkAcl { entries: vec![ssh_entry("10.0.0.0/8")], ..NetworkAcl::default() });
    // When the older trigger is remediated
    let report = run(&admins, &enforce(), &nacl_call());
    // Then nothing is deleted
    assert_eq!(report.outcomes[0].decision, Decision::AlreadyFixed);
    assert!(admins.writes().is_empty());
}

#[test]
fn a_suspended_detector_and_a_stopped_recorder_are_turned_back_on() {
    // Given GuardDuty suspended and Config stopped
    let admins = MemoryAdmins::default();
    admins.set_detector("d-1", false);
    admins.set_recorder("default", false);
    let detector = api_call("guardduty.amazonaws.com", "UpdateDetector", json!({"detectorId": "d-1", "enable": false}));
    let recorder =
        api_call("config.amazonaws.com", "StopConfigurationRecorder", json!({"configurationRecorderName": "default"}));
    // When remediated
    let d = run(&admins, &enforce(), &detector);
    let r = run(&admins, &enforce(), &recorder);
    // Then both are on again
    assert_eq!(d.outcomes[0].decision, Decision::Remediated);
    assert_eq!(r.outcomes[0].decision, Decision::Remediated);
    assert!(live(admins.detector_enabled("d-1")));
    assert!(live(admins.recorder_recording("default")));
}

#[test]
fn deleted_defences_are_not_found_with_what_would_recreate_them() {
    // Given a deleted detector, delivery channel and flow log
    let admins = MemoryAdmins::default();
    let calls = [
        api_call("guardduty.amazonaws.com", "DeleteDetector", json!({"detectorId": "d-1"})),
        api_call("config.amazonaws.com", "DeleteDeliveryChannel", json!({"deliveryChannelName": "default"})),
        api_call(
            "ec2.amazonaws.com",
            "DeleteFlowLogs",
            json!({"DeleteFlowLogsRequest": {"FlowLogId": {"content": "fl-1", "tag": 1}}}),
        ),
    ];
    for (call, hint) in calls.iter().zip(["create-detector", "put-delivery-channel", "create-flow-logs"]) {
        // When each is remediated
        let report = run(&admins, &enforce(), call);
        // Then it is not-found, saying how to recreate it, and nothing is written
        assert_eq!(report.outcomes[0].decision, Decision::NotFound);
        assert!(report.outcomes[0].reason.contains(hint), "{}", report.outcomes[0].reason);
    }
    assert!(admins.writes().is_empty());
}

#[test]
fn dry_run_reports_the_exposure_fix_without_writing() {
    // Given a public queue and the default (dry-run) configuration
    let admins = MemoryAdmins::default();
    let url = "https://sqs.us-east-1.amazonaws.com/111122223333/orders";
    let public = r#"{"Effect":"Allow","Principal":"*","Action":"sqs:SendMessage","Resource":"*"}"#;
    admins.set_resource_policy(PolicyKind::Queue, url, with_policy(&doc(&[public])));
    let call = api_call(
        "sqs.amazonaws.com",
        "SetQueueAttributes",
        json!({"queueUrl": url, "attributes": {"Policy": doc(&[public])}}),
    );
    // When remediated
    let report = run(&admins, &RemediationConfig::default(), &call);
    // Then it would remove the statement, and wrote nothing
    assert_eq!(report.outcomes[0].decision, Decision::WouldRemediate);
    assert!(report.outcomes[0].reason.starts_with("dry-run: would remove 1 public statement"));
    assert!(admins.writes().is_empty());
}
