//! Remediation decisions on in-memory live state: precise, never widening, dry-run by default,
//! exemptions, and errors.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::memory::{Bucket, MemoryAdmins, MemoryLedger};
use super::ports::{Acl, Cidrs, Grant, GroupRule, Permission, Ports, PublicAccessBlock, SecurityGroup, TrailConfig};
use super::*;

const ALL_USERS: &str = "http://acs.amazonaws.com/groups/global/AllUsers";
const PRIVATE: &str = r#"{"Sid":"Logs","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::data/*"}"#;
const PUBLIC: &str =
    r#"{"Sid":"Open","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::data/*"}"#;

fn enforce() -> RemediationConfig {
    RemediationConfig { mode: Mode::Enforce, ..RemediationConfig::default() }
}

fn api_call(event_source: &str, event_name: &str, request: Value) -> Value {
    json!({
        "version": "0", "id": "x", "source": "aws.s3", "account": "111122223333", "region": "us-east-1",
        "detail-type": "AWS API Call via CloudTrail",
        "detail": {
            "eventVersion": "1.09", "eventTime": "2024-01-02T03:04:05Z", "eventSource": event_source,
            "eventName": event_name, "awsRegion": "us-east-1", "recipientAccountId": "111122223333",
            "eventID": "ev-1", "sourceIPAddress": "198.51.100.7",
            "userIdentity": {"type": "AssumedRole", "arn": "arn:aws:sts::111122223333:assumed-role/Dev/alice", "accountId": "111122223333"},
            "requestParameters": request,
        }
    })
}

fn policy_call() -> Value {
    let policy: Value =
        serde_json::from_str(&format!(r#"{{"Version":"2012-10-17","Statement":[{PRIVATE},{PUBLIC}]}}"#)).unwrap();
    api_call("s3.amazonaws.com", "PutBucketPolicy", json!({"bucketName": "data", "bucketPolicy": policy}))
}

fn public_bucket() -> Bucket {
    Bucket {
        policy: Some(format!(r#"{{"Version":"2012-10-17","Statement":[{PRIVATE},{PUBLIC}]}}"#)),
        ..Bucket::default()
    }
}

const NOW: i64 = 1_704_164_645;

/// Remediates one trigger with a fresh ledger.
fn run(admins: &MemoryAdmins, config: &RemediationConfig, event: &Value) -> Report {
    run_with(admins, &MemoryLedger::default(), config, event)
}

fn run_with(admins: &MemoryAdmins, ledger: &MemoryLedger, config: &RemediationConfig, event: &Value) -> Report {
    let report = pollster::block_on(remediate(admins, ledger, config, event, NOW)).unwrap();
    for e in &report.events {
        crate::schemas::check(e).unwrap();
    }
    report
}

#[test]
fn public_policy_statement_is_removed_and_the_rest_kept() {
    // Given a bucket whose live policy has a private and a public statement
    let admins = MemoryAdmins::default();
    admins.set_bucket("data", public_bucket());
    // When remediated in enforce mode
    let report = run(&admins, &enforce(), &policy_call());
    // Then only the private statement is left, verbatim, and the decision says remediated
    assert_eq!(report.outcomes[0].decision, Decision::Remediated);
    assert_eq!(
        admins.bucket("data").unwrap().policy.unwrap(),
        format!(r#"{{"Version":"2012-10-17","Statement":[{PRIVATE}]}}"#)
    );
    assert_eq!(report.events[0].detail_type, "Trailsight Remediation");
    assert_eq!(report.events[0].detail["decision"], "remediated");
    assert_eq!(report.events[0].detail["trigger"]["eventID"], "ev-1");
    assert!(report.events[0].detail["before"]["Statement"].as_array().is_some_and(|s| s.len() == 2));
}

#[test]
fn dry_run_is_the_default_and_changes_nothing() {
    // Given the default configuration
    let admins = MemoryAdmins::default();
    admins.set_bucket("data", public_bucket());
    // When remediated
    let report = run(&admins, &RemediationConfig::default(), &policy_call());
    // Then it reports what it would do, and made no write
    assert_eq!(report.outcomes[0].decision, Decision::WouldRemediate);
    assert!(admins.writes().is_empty());
    assert_eq!(admins.bucket("data").unwrap(), public_bucket());
}

#[test]
fn forged_trigger_for_a_private_bucket_changes_nothing() {
    // Given an event claiming a public policy, while the live policy is private
    let admins = MemoryAdmins::default();
    admins.set_bucket("data", Bucket { policy: Some(format!(r#"{{"Statement":[{PRIVATE}]}}"#)), ..Bucket::default() });
    // When remediated
    let report = run(&admins, &enforce(), &policy_call());
    // Then live state decides: already fixed, no write
    assert_eq!(report.outcomes[0].decision, Decision::AlreadyFixed);
    assert!(admins.writes().is_empty());
}

#[test]
fn acl_public_grants_are_removed_and_owner_kept() {
    // Given a bucket ACL with the owner's grant and an AllUsers READ grant
    let owner = Grant {
        grantee_type: "CanonicalUser".into(),
        id: Some("owner".into()),
        uri: None,
        email: None,
        display_name: None,
        permission: "FULL_CONTROL".into(),
    };
    let public = Grant {
        grantee_type: "Group".into(),
        id: None,
        uri: Some(ALL_USERS.into()),
        email: None,
        display_name: None,
        permission: "READ".into(),
    };
    let admins = MemoryAdmins::default();
    admins.set_bucket(
        "data",
        Bucket {
            acl: Acl { owner_id: Some("owner".into()), owner_name: None, grants: vec![owner.clone(), public] },
            ..Bucket::default()
        },
    );
    let event =
        api_call("s3.amazonaws.com", "PutBucketAcl", json!({"bucketName": "data", "x-amz-acl": ["public-read"]}));
    // When remediated
    let report = run(&admins, &enforce(), &event);
    // Then only the owner's grant is left
    assert_eq!(report.outcomes[0].decision, Decision::Remediated);
    assert_eq!(admins.bucket("data").unwrap().acl.grants, vec![owner]);
}

#[test]
fn security_group_world_ssh_is_revoked_and_office_range_kept() {
    // Given a group with SSH open to the world and an office range
    let admins = MemoryAdmins::default();
    admins.set_group(SecurityGroup {
        id: "sg-1".into(),
        name: "web".into(),
        tags: Default::default(),
        ingress: vec![Permission {
            ports: Ports::new("tcp", Some(22), Some(22)),
            cidrs: Cidrs { v4: vec!["0.0.0.0/0".into(), "203.0.113.0/24".into()], v6: vec![] },
            ..Permission::default()
        }],
    });
    let event = api_call(
        "ec2.amazonaws.com",
        "AuthorizeSecurityGroupIngress",
        json!({"groupId": "sg-1", "ipPermissions": {"items": [{"ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]}}]}}),
    );
    // When remediated
    let report = run(&admins, &enforce(), &event);
    // Then the world range is gone and the office range stays
    assert_eq!(report.outcomes[0].decision, Decision::Remediated, "{:?}", report.outcomes);
    assert_eq!(admins.group_state("sg-1").unwrap().ingress[0].cidrs, Cidrs::one("203.0.113.0/24".into()));
}

#[test]
fn exempt_tag_on_the_group_leaves_it_alone() {
    // Given a tagged group open to the world
    let admins = MemoryAdmins::default();
    let group = SecurityGroup {
        id: "sg-1".into(),
        name: "bastion".into(),
        tags: [("trailsight:exempt".to_owned(), "true".to_owned())].into(),
        ingress: vec![Permission {
            ports: Ports::new("tcp", Some(22), Some(22)),
            cidrs: Cidrs::one("0.0.0.0/0".into()),
            ..Permission::default()
        }],
    };
    admins.set_group(group.clone());
    let event = api_call(
        "ec2.amazonaws.com",
        "AuthorizeSecurityGroupIngress",
        json!({"groupId": "sg-1", "ipPermissions": {"items": [{"ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]}}]}}),
    );
    // When remediated, then it is exempt and unchanged
    let report = run(&admins, &enforce(), &event);
    assert_eq!(report.outcomes[0].decision, Decision::Exempt);
    assert_eq!(admins.group_state("sg-1").unwrap(), group);
}

#[test]
fn exempt_principal_session_matches_its_role() {
    // Given the Dev role is exempt and alice (a Dev session) made the bucket public
    let admins = MemoryAdmins::default();
    admins.set_bucket("data", public_bucket());
    let config = RemediationConfig {
        exempt: Exemptions { principals: vec!["arn:aws:iam::111122223333:role/Dev".into()], ..Exemptions::default() },
        ..enforce()
    };
    // When remediated, then it is exempt
    let report = run(&admins, &config, &policy_call());
    assert_eq!(report.outcomes[0].decision, Decision::Exempt);
    assert!(admins.writes().is_empty());
}

#[test]
fn exempt_resource_pattern_leaves_matching_buckets_alone() {
    let admins = MemoryAdmins::default();
    admins.set_bucket("data", public_bucket());
    let config = RemediationConfig {
        exempt: Exemptions { resources: vec!["da*".into()], ..Exemptions::default() },
        ..enforce()
    };
    assert_eq!(run(&admins, &config, &policy_call()).outcomes[0].decision, Decision::Exempt);
}

#[test]
fn access_denied_is_a_failed_decision_that_fails_the_invocation() {
    // Given the function may not put bucket policies
    let admins = MemoryAdmins::default();
    admins.set_bucket("data", public_bucket());
    admins.deny("s3:PutBucketPolicy");
    // When remediated
    let report = run(&admins, &enforce(), &policy_call());
    // Then the decision is failed, the event says why, and the report asks to fail
    assert_eq!(report.outcomes[0].decision, Decision::Failed);
    assert!(report.failure().is_some());
    assert!(report.events[0].detail["error"].as_str().is_some_and(|e| e.contains("denied")));
}

#[test]
fn a_bucket_that_no_longer_exists_is_not_found() {
    let admins = MemoryAdmins::default();
    let report = run(&admins, &enforce(), &policy_call());
    assert_eq!(report.outcomes[0].decision, Decision::NotFound);
    assert!(report.failure().is_none());
}

#[test]
fn stopped_trail_is_started_and_deleted_trail_reported() {
    // Given a trail that was stopped
    let admins = MemoryAdmins::default();
    admins.set_trail("main", false);
    let stop = api_call(
        "cloudtrail.amazonaws.com",
        "StopLogging",
        json!({"name": "arn:aws:cloudtrail:us-east-1:111122223333:trail/main"}),
    );
    // When remediated, then logging is on again
    assert_eq!(run(&admins, &enforce(), &stop).outcomes[0].decision, Decision::Remediated);
    // And given a deleted trail, then it is reported as not found
    let delete = api_call("cloudtrail.amazonaws.com", "DeleteTrail", json!({"name": "gone"}));
    assert_eq!(run(&admins, &enforce(), &delete).outcomes[0].decision, Decision::NotFound);
}

#[test]
fn account_public_access_block_is_turned_back_on() {
    let admins = MemoryAdmins::default();
    admins.set_account_pab("111122223333", PublicAccessBlock::default());
    let event = api_call("s3-control.amazonaws.com", "DeletePublicAccessBlock", json!({"accountId": "111122223333"}));
    assert_eq!(run(&admins, &enforce(), &event).outcomes[0].decision, Decision::Remediated);
    assert_eq!(admins.account_pab("111122223333"), Some(PublicAccessBlock::ALL_ON));
}

#[test]
fn trailsight_risky_change_events_are_accepted_as_triggers() {
    // Given trailsight's own risky-change event for the public policy
    let record = policy_call()["detail"].clone();
    let finding = &crate::rules::evaluate(&record)[0];
    let envelope = crate::rules::risky_change_event(&record, finding);
    let event = serde_json::to_value(&envelope).unwrap();
    let admins = MemoryAdmins::default();
    admins.set_bucket("data", public_bucket());
    // When remediated, then the same rule engine finds and fixes it
    assert_eq!(run(&admins, &enforce(), &event).outcomes[0].decision, Decision::Remediated);
}

#[test]
fn malformed_triggers_name_what_is_missing() {
    let admins = MemoryAdmins::default();
    let missing = json!({"detail-type": "Trailsight Risky Change", "detail": {"rule": "s3-bucket-policy-public"}});
    let ledger = MemoryLedger::default();
    let err = pollster::block_on(remediate(&admins, &ledger, &enforce(), &missing, NOW)).err();
    assert_eq!(err, Some(MalformedTrigger::Missing("detail.record")));
    let other = json!({"detail-type": "Something Else", "detail": {}});
    assert!(matches!(
        pollster::block_on(remediate(&admins, &ledger, &enforce(), &other, NOW)),
        Err(MalformedTrigger::Unsupported(_))
    ));
}

#[test]
fn glob_patterns_match_runs_of_characters() {
    assert!(glob("prod-*-logs", "prod-eu-logs"));
    assert!(!glob("prod-*-logs", "dev-eu-logs"));
    assert!(glob("*", "anything"));
    assert!(!glob("exact", "exactly"));
}

mod adversary;
mod exposure;
mod scope;
