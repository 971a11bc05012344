//! Each attack of the adversary issue, reproduced on in-memory live state.

use super::*;

pub(super) fn with_detail(mut event: Value, edit: impl FnOnce(&mut Value)) -> Value {
    edit(&mut event["detail"]);
    event
}

pub(super) fn bucket_with_policy(statements: &[&str]) -> Bucket {
    Bucket {
        policy: Some(format!(r#"{{"Version":"2012-10-17","Statement":[{}]}}"#, statements.join(","))),
        ..Bucket::default()
    }
}

#[test]
fn a_forged_trigger_cannot_strip_a_public_statement_the_record_did_not_add() {
    // Given a website bucket whose intended public statement is live
    let website = r#"{"Sid":"Website","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::data/site/*"}"#;
    let admins = MemoryAdmins::default();
    admins.set_bucket("data", bucket_with_policy(&[website]));
    // When a forged event names the bucket with a different public statement
    let report = run(&admins, &enforce(), &policy_call());
    // Then nothing is removed: the forged record's statement is not live
    assert_eq!(report.outcomes[0].decision, Decision::AlreadyFixed, "{:?}", report.outcomes);
    assert!(report.outcomes[0].reason.contains("1 other public statement"));
    assert!(admins.writes().is_empty());
}

#[test]
fn remediation_removes_only_the_statement_the_call_added() {
    // Given a live policy with the intended website statement and the call's public one
    let website = r#"{"Sid":"Website","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::data/site/*"}"#;
    let admins = MemoryAdmins::default();
    admins.set_bucket("data", bucket_with_policy(&[website, PUBLIC]));
    // When the call that added PUBLIC is remediated
    let report = run(&admins, &enforce(), &policy_call());
    // Then only its statement goes; S3 and trailsight agree the rest is still public
    assert_eq!(report.outcomes[0].decision, Decision::Remediated, "{:?}", report.outcomes);
    assert_eq!(
        admins.bucket("data").unwrap().policy.unwrap(),
        format!(r#"{{"Version":"2012-10-17","Statement":[{website}]}}"#)
    );
}

#[test]
fn a_stale_trigger_does_not_undo_a_later_exempt_reopen() {
    // Given the 10:00 call was not remediated in time, and a break-glass role re-opened the
    // bucket at 10:02 (its own trigger was decided: exempt)
    let admins = MemoryAdmins::default();
    admins.set_bucket("data", public_bucket());
    let ledger = MemoryLedger::default();
    let config = RemediationConfig {
        exempt: Exemptions {
            principals: vec!["arn:aws:iam::111122223333:role/BreakGlass".into()],
            ..Exemptions::default()
        },
        ..enforce()
    };
    let reopen = with_detail(policy_call(), |d| {
        d["eventID"] = json!("ev-1002");
        d["eventTime"] = json!("2024-01-02T10:02:00Z");
        d["userIdentity"]["arn"] = json!("arn:aws:sts::111122223333:assumed-role/BreakGlass/bob");
    });
    assert_eq!(run_with(&admins, &ledger, &config, &reopen).outcomes[0].decision, Decision::Exempt);
    // When the log-file trigger of the 10:00 call arrives at 10:10
    let late = with_detail(policy_call(), |d| d["eventTime"] = json!("2024-01-02T10:00:00Z"));
    let report = run_with(&admins, &ledger, &config, &late);
    // Then it is superseded and the exempt re-open stays
    assert_eq!(report.outcomes[0].decision, Decision::Superseded, "{:?}", report.outcomes);
    assert!(report.outcomes[0].reason.contains("ev-1002"));
    assert!(admins.writes().is_empty());
    assert_eq!(admins.bucket("data").unwrap(), public_bucket());
}

#[test]
fn both_triggers_of_one_call_give_one_decision() {
    // Given the native API-call trigger was decided
    let admins = MemoryAdmins::default();
    admins.set_bucket("data", public_bucket());
    let ledger = MemoryLedger::default();
    let first = run_with(&admins, &ledger, &enforce(), &policy_call());
    assert_eq!(first.outcomes[0].decision, Decision::Remediated);
    // When trailsight's risky-change event for the same call arrives
    let record = policy_call()["detail"].clone();
    let finding = &crate::rules::evaluate(&record)[0];
    let risky = serde_json::to_value(crate::rules::risky_change_event(&record, finding)).unwrap();
    let second = run_with(&admins, &ledger, &enforce(), &risky);
    // Then no second decision is made or sent
    assert!(second.outcomes.is_empty() && second.events.is_empty());
    assert_eq!(second.already_decided, vec![(RuleId::S3BucketPolicyPublic, "remediated".to_owned())]);
}

#[test]
fn a_failed_decision_can_be_retried() {
    // Given a first attempt denied
    let admins = MemoryAdmins::default();
    admins.set_bucket("data", public_bucket());
    let ledger = MemoryLedger::default();
    admins.deny("s3:PutBucketPolicy");
    assert_eq!(run_with(&admins, &ledger, &enforce(), &policy_call()).outcomes[0].decision, Decision::Failed);
    // When the same trigger is retried, then it is decided again
    let retry = run_with(&admins, &ledger, &enforce(), &policy_call());
    assert_eq!(retry.outcomes.len(), 1);
    assert_eq!(ledger.decision("ev-1", "s3-bucket-policy-public").as_deref(), Some("failed"));
}

#[test]
fn an_exemption_tag_counts_only_with_the_value_true() {
    // Given groups tagged with an empty value, "yes" and "TRUE"
    for (value, exempt) in [("", false), ("yes", false), ("false", false), ("TRUE", true)] {
        let admins = MemoryAdmins::default();
        let mut bucket = public_bucket();
        bucket.tags.insert("trailsight:exempt".into(), value.into());
        admins.set_bucket("data", bucket);
        // When remediated
        let decision = run(&admins, &enforce(), &policy_call()).outcomes[0].decision;
        // Then only an explicit true exempts
        assert_eq!(decision == Decision::Exempt, exempt, "value {value:?}: {decision:?}");
    }
}

#[test]
fn an_exempt_role_with_a_path_matches_through_its_session_issuer() {
    // Given an IAM Identity Center role (with a path) is exempt, and one of its sessions acts
    let role = "arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_abc";
    let admins = MemoryAdmins::default();
    admins.set_bucket("data", public_bucket());
    let config = RemediationConfig {
        exempt: Exemptions { principals: vec![role.into()], ..Exemptions::default() },
        ..enforce()
    };
    let event = with_detail(policy_call(), |d| {
        d["userIdentity"] = json!({"type": "AssumedRole", "arn": "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Admin_abc/alice",
            "sessionContext": {"sessionIssuer": {"type": "Role", "arn": role}}});
    });
    // When remediated, then it is exempt
    assert_eq!(run(&admins, &config, &event).outcomes[0].decision, Decision::Exempt);
}

#[test]
fn an_if_exists_condition_does_not_hide_a_public_statement() {
    // Given a call adding a statement "limited" by StringEqualsIfExists
    let open = r#"{"Sid":"Vpce","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::data/*","Condition":{"StringEqualsIfExists":{"aws:SourceVpce":"vpce-1"}}}"#;
    let admins = MemoryAdmins::default();
    admins.set_bucket("data", bucket_with_policy(&[PRIVATE, open]));
    let event = with_detail(policy_call(), |d| {
        d["requestParameters"]["bucketPolicy"] =
            serde_json::from_str(&format!(r#"{{"Statement":[{PRIVATE},{open}]}}"#)).unwrap();
    });
    // When remediated, then it is removed
    assert_eq!(run(&admins, &enforce(), &event).outcomes[0].decision, Decision::Remediated);
    assert_eq!(
        admins.bucket("data").unwrap().policy.unwrap(),
        format!(r#"{{"Version":"2012-10-17","Statement":[{PRIVATE}]}}"#)
    );
}

#[test]
fn a_star_beside_a_named_account_is_dropped_and_the_account_kept() {
    let mixed = r#"{"Sid":"Partner","Effect":"Allow","Principal":{"AWS":["arn:aws:iam::444455556666:root","*"]},"Action":"s3:GetObject","Resource":"arn:aws:s3:::data/*"}"#;
    let admins = MemoryAdmins::default();
    admins.set_bucket("data", bucket_with_policy(&[mixed]));
    let event = with_detail(policy_call(), |d| {
        d["requestParameters"]["bucketPolicy"] =
            serde_json::from_str(&format!(r#"{{"Statement":[{mixed}]}}"#)).unwrap();
    });
    assert_eq!(run(&admins, &enforce(), &event).outcomes[0].decision, Decision::Remediated);
    let live: Value = serde_json::from_str(&admins.bucket("data").unwrap().policy.unwrap()).unwrap();
    assert_eq!(live["Statement"][0]["Principal"], json!({"AWS": ["arn:aws:iam::444455556666:root"]}));
}

#[test]
fn a_disagreement_with_s3s_verdict_is_a_failed_decision_naming_both() {
    // Given S3 will still call the fixed policy public
    let admins = MemoryAdmins::default();
    let mut bucket = public_bucket();
    bucket.policy_public = Some(true);
    admins.set_bucket("data", bucket);
    // When remediated
    let report = run(&admins, &enforce(), &policy_call());
    // Then the decision is failed, naming both verdicts
    assert_eq!(report.outcomes[0].decision, Decision::Failed);
    assert!(
        report.outcomes[0].reason.contains("S3's GetBucketPolicyStatus says public, trailsight says not public"),
        "{}",
        report.outcomes[0].reason
    );
}

#[test]
fn the_read_back_waits_out_eventual_consistency() {
    // Given reads that lag four reads (two read-backs of tags and policy) behind each write
    let admins = MemoryAdmins::default();
    admins.set_bucket("data", public_bucket());
    admins.lag_reads(4);
    // When remediated
    let report = run(&admins, &enforce(), &policy_call());
    // Then it read again after pausing, and did not report failed
    assert_eq!(report.outcomes[0].decision, Decision::Remediated, "{:?}", report.outcomes);
    assert_eq!(admins.pauses(), 2);
}

#[test]
fn a_read_back_that_never_settles_is_failed() {
    let admins = MemoryAdmins::default();
    admins.set_bucket("data", public_bucket());
    admins.lag_reads(10);
    let report = run(&admins, &enforce(), &policy_call());
    assert_eq!(report.outcomes[0].decision, Decision::Failed);
    assert_eq!(admins.pauses(), 3);
}

pub(super) fn rule(id: &str, protocol: &str, port: i64, cidr: &str) -> GroupRule {
    GroupRule {
        id: id.into(),
        egress: false,
        ports: Ports::new(protocol, Some(port), Some(port)),
        cidr: Some(cidr.into()),
    }
}

pub(super) fn authorize_with_rules(perms: Value, created: Value) -> Value {
    let event = api_call(
        "ec2.amazonaws.com",
        "AuthorizeSecurityGroupIngress",
        json!({"groupId": "sg-1", "ipPermissions": {"items": perms}}),
    );
    with_detail(event, |d| {
        d["responseElements"] = json!({"_return": true, "securityGroupRuleSet": {"items": created}});
    })
}

pub(super) fn group(name: &str) -> SecurityGroup {
    SecurityGroup { id: "sg-1".into(), name: name.into(), ..SecurityGroup::default() }
}

#[test]
fn a_bastions_intended_ssh_stays_when_another_call_opens_rdp() {
    // Given a bastion with intended world SSH (sgr-ssh), and a call that created world RDP
    let admins = MemoryAdmins::default();
    admins.set_group(group("bastion"));
    admins.set_group_rules(
        "sg-1",
        vec![rule("sgr-ssh", "tcp", 22, "0.0.0.0/0"), rule("sgr-rdp", "tcp", 3389, "0.0.0.0/0")],
    );
    let event = authorize_with_rules(
        json!([{"ipProtocol": "tcp", "fromPort": 3389, "toPort": 3389, "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]}}]),
        json!([{"groupId": "sg-1", "securityGroupRuleId": "sgr-rdp", "isEgress": false, "ipProtocol": "tcp", "fromPort": 3389, "toPort": 3389, "cidrIpv4": "0.0.0.0/0"}]),
    );
    // When remediated
    let report = run(&admins, &enforce(), &event);
    // Then only the call's rule is revoked
    assert_eq!(report.outcomes[0].decision, Decision::Remediated, "{:?}", report.outcomes);
    assert_eq!(admins.group_rules("sg-1"), vec![rule("sgr-ssh", "tcp", 22, "0.0.0.0/0")]);
}

#[test]
fn two_halves_of_the_internet_in_one_call_are_revoked() {
    // Given a call opening SSH to 0.0.0.0/1 and 128.0.0.0/1
    let admins = MemoryAdmins::default();
    admins.set_group(group("web"));
    admins.set_group_rules(
        "sg-1",
        vec![
            rule("sgr-a", "tcp", 22, "0.0.0.0/1"),
            rule("sgr-b", "tcp", 22, "128.0.0.0/1"),
            rule("sgr-office", "tcp", 22, "203.0.113.0/24"),
        ],
    );
    let event = authorize_with_rules(
        json!([{"ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "ipRanges": {"items": [{"cidrIp": "0.0.0.0/1"}, {"cidrIp": "128.0.0.0/1"}]}}]),
        json!([
            {"groupId": "sg-1", "securityGroupRuleId": "sgr-a", "isEgress": false, "ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "cidrIpv4": "0.0.0.0/1"},
            {"groupId": "sg-1", "securityGroupRuleId": "sgr-b", "isEgress": false, "ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "cidrIpv4": "128.0.0.0/1"}
        ]),
    );
    // When remediated, then both halves go and the office range stays
    let report = run(&admins, &enforce(), &event);
    assert_eq!(report.outcomes[0].decision, Decision::Remediated, "{:?}", report.outcomes);
    assert_eq!(admins.group_rules("sg-1"), vec![rule("sgr-office", "tcp", 22, "203.0.113.0/24")]);
}

#[test]
fn a_modified_rule_that_is_egress_live_is_never_revoked() {
    // Given sgr-out is an egress rule, and a ModifySecurityGroupRules call set it to the world on 22
    let admins = MemoryAdmins::default();
    admins.set_group(group("web"));
    let mut out = rule("sgr-out", "tcp", 22, "0.0.0.0/0");
    out.egress = true;
    admins.set_group_rules("sg-1", vec![out.clone()]);
    let event = api_call(
        "ec2.amazonaws.com",
        "ModifySecurityGroupRules",
        json!({"ModifySecurityGroupRulesRequest": {"GroupId": "sg-1", "SecurityGroupRule": {"SecurityGroupRuleId": "sgr-out",
            "SecurityGroupRule": {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "CidrIpv4": "0.0.0.0/0"}}}}),
    );
    // When remediated, then nothing is revoked
    let report = run(&admins, &enforce(), &event);
    assert_eq!(report.outcomes[0].decision, Decision::AlreadyFixed);
    assert!(report.outcomes[0].reason.contains("egress"));
    assert_eq!(admins.group_rules("sg-1"), vec![out]);
}

#[test]
fn a_partial_public_access_block_change_is_undone_setting_by_setting() {
    // Given a bucket whose owner keeps RestrictPublicBuckets off, and a call that turned BlockPublicPolicy off
    let live = PublicAccessBlock {
        block_public_acls: true,
        ignore_public_acls: true,
        block_public_policy: false,
        restrict_public_buckets: false,
    };
    let admins = MemoryAdmins::default();
    admins.set_bucket("data", Bucket { pab: Some(live), ..Bucket::default() });
    let event = api_call(
        "s3.amazonaws.com",
        "PutBucketPublicAccessBlock",
        json!({"bucketName": "data", "PublicAccessBlockConfiguration": {"BlockPublicAcls": true, "IgnorePublicAcls": true, "BlockPublicPolicy": false}}),
    );
    // When remediated
    assert_eq!(run(&admins, &enforce(), &event).outcomes[0].decision, Decision::Remediated);
    // Then only BlockPublicPolicy is back on
    let pab = admins.bucket("data").unwrap().pab.unwrap();
    assert!(pab.block_public_policy && !pab.restrict_public_buckets);
}

#[test]
fn an_account_level_fix_that_would_close_an_exempt_bucket_needs_review() {
    // Given an exempt website bucket and a call that deleted the account's block
    let admins = MemoryAdmins::default();
    admins.set_account_pab("111122223333", PublicAccessBlock::default());
    let mut site = Bucket::default();
    site.tags.insert("trailsight:exempt".into(), "true".into());
    admins.set_bucket("website", site);
    let event = api_call("s3-control.amazonaws.com", "DeletePublicAccessBlock", json!({"accountId": "111122223333"}));
    // When remediated
    let report = run(&admins, &enforce(), &event);
    // Then it is reported for review and nothing is written
    assert_eq!(report.outcomes[0].decision, Decision::NeedsReview);
    assert!(report.outcomes[0].reason.contains("website"));
    assert!(admins.writes().is_empty());
}

#[test]
fn an_object_version_acl_is_fixed_on_that_version() {
    // Given an object whose version v2 was made public, while the current version is private
    let public = Grant {
        grantee_type: "Group".into(),
        id: None,
        uri: Some(ALL_USERS.into()),
        email: None,
        display_name: None,
        permission: "READ".into(),
    };
    let admins = MemoryAdmins::default();
    let mut bucket = Bucket::default();
    bucket.object_acls.insert("report.pdf".into(), Acl::default());
    bucket.object_acls.insert("report.pdf#v2".into(), Acl { grants: vec![public], ..Acl::default() });
    admins.set_bucket("data", bucket);
    let event = api_call(
        "s3.amazonaws.com",
        "PutObjectAcl",
        json!({"bucketName": "data", "key": "report.pdf", "versionId": "v2", "x-amz-acl": ["public-read"]}),
    );
    // When remediated
    let report = run(&admins, &enforce(), &event);
    // Then the version's ACL is fixed with the version call
    assert_eq!(report.outcomes[0].decision, Decision::Remediated, "{:?}", report.outcomes);
    assert!(admins.bucket("data").unwrap().object_acls["report.pdf#v2"].grants.is_empty());
    assert_eq!(admins.writes(), vec!["s3:PutObjectVersionAcl".to_owned()]);
}

#[test]
fn selectors_that_hide_write_events_need_review_while_the_trail_logs() {
    // Given a logging trail whose selectors keep only read events, as the call set them
    let admins = MemoryAdmins::default();
    admins.set_trail("main", true);
    admins.set_trail_config(
        "main",
        TrailConfig {
            multi_region: true,
            global_service_events: true,
            bucket: "logs".into(),
            selectors: json!({"eventSelectors": [{"readWriteType": "ReadOnly", "includeManagementEvents": true}]}),
        },
    );
    let event = api_call(
        "cloudtrail.amazonaws.com",
        "PutEventSelectors",
        json!({"trailName": "main", "eventSelectors": [{"readWriteType": "ReadOnly", "includeManagementEvents": true}]}),
    );
    // When remediated, then it needs review, never already-fixed
    let report = run(&admins, &enforce(), &event);
    assert_eq!(report.outcomes[0].decision, Decision::NeedsReview, "{:?}", report.outcomes);
    assert!(admins.writes().is_empty());
    // And once the selectors log writes again, it is already fixed
    admins.set_trail_config(
        "main",
        TrailConfig {
            multi_region: true,
            global_service_events: true,
            bucket: "logs".into(),
            selectors: json!({"eventSelectors": [{"readWriteType": "All", "includeManagementEvents": true}]}),
        },
    );
    assert_eq!(run(&admins, &enforce(), &event).outcomes[0].decision, Decision::AlreadyFixed);
}

#[test]
fn a_single_region_trail_needs_review() {
    let admins = MemoryAdmins::default();
    admins.set_trail("main", true);
    admins.set_trail_config(
        "main",
        TrailConfig {
            multi_region: false,
            global_service_events: true,
            bucket: "logs".into(),
            selectors: json!({"eventSelectors": [{"readWriteType": "All", "includeManagementEvents": true}]}),
        },
    );
    let event =
        api_call("cloudtrail.amazonaws.com", "UpdateTrail", json!({"name": "main", "isMultiRegionTrail": false}));
    let report = run(&admins, &enforce(), &event);
    assert_eq!(report.outcomes[0].decision, Decision::NeedsReview);
    assert!(report.outcomes[0].reason.contains("isMultiRegionTrail"));
}

#[test]
fn granting_an_exemption_is_reported_for_review() {
    // Given a non-exempt user tags a security group with the exemption key
    let admins = MemoryAdmins::default();
    let event = api_call(
        "ec2.amazonaws.com",
        "CreateTags",
        json!({"resourcesSet": {"items": [{"resourceId": "sg-1"}]}, "tagSet": {"items": [{"key": "trailsight:exempt", "value": "true"}]}}),
    );
    // When remediated, then the decision is needs-review and nothing is changed
    let report = run(&admins, &enforce(), &event);
    assert_eq!(report.outcomes[0].rule, RuleId::TrailsightExemptionChanged);
    assert_eq!(report.outcomes[0].decision, Decision::NeedsReview);
    assert!(admins.writes().is_empty());
}

#[test]
fn a_later_change_by_anyone_else_does_not_spare_an_earlier_one() {
    // Given mallory opened SSH (sgr-ssh) at 10:00 and, a second later, RDP (sgr-rdp), and the
    // RDP call's trigger was handled first
    let admins = MemoryAdmins::default();
    admins.set_group(group("web"));
    admins.set_group_rules(
        "sg-1",
        vec![rule("sgr-ssh", "tcp", 22, "0.0.0.0/0"), rule("sgr-rdp", "tcp", 3389, "0.0.0.0/0")],
    );
    let ledger = MemoryLedger::default();
    let opened = |port: i64, id: &str, event: &str, time: &str| {
        let e = authorize_with_rules(
            json!([{"ipProtocol": "tcp", "fromPort": port, "toPort": port, "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]}}]),
            json!([{"groupId": "sg-1", "securityGroupRuleId": id, "isEgress": false, "ipProtocol": "tcp", "fromPort": port, "toPort": port, "cidrIpv4": "0.0.0.0/0"}]),
        );
        with_detail(e, |d| {
            d["eventID"] = json!(event);
            d["eventTime"] = json!(time);
        })
    };
    let rdp = run_with(&admins, &ledger, &enforce(), &opened(3389, "sgr-rdp", "ev-rdp", "2024-01-02T10:00:01Z"));
    assert_eq!(rdp.outcomes[0].decision, Decision::Remediated);
    // When the SSH call's trigger arrives after it
    let ssh = run_with(&admins, &ledger, &enforce(), &opened(22, "sgr-ssh", "ev-ssh", "2024-01-02T10:00:00Z"));
    // Then it is remediated too: only an exempt principal's later change supersedes
    assert_eq!(ssh.outcomes[0].decision, Decision::Remediated, "{:?}", ssh.outcomes);
    assert!(admins.group_rules("sg-1").is_empty());
}

#[test]
fn a_finding_whose_resource_does_not_fit_its_rule_is_failed_and_nothing_is_touched() {
    // Given, for every rule that remediates, a finding on a kind of resource its remediation
    // never takes (flow logs, or a trail for the flow-logs rule), in enforce mode
    let admins = MemoryAdmins::default();
    let config = RemediationConfig { mode: Mode::Enforce, rules: RuleSelection::All, ..RemediationConfig::default() };
    let record = json!({"eventName": "X", "awsRegion": "us-east-1", "requestParameters": {}});
    for rule in rules::RULES.iter().filter(|r| r.id != RuleId::TrailsightExemptionChanged) {
        let resource = match rule.id {
            RuleId::VpcFlowLogsDeleted => Resource::Trail { name: "t".into() },
            _ => Resource::FlowLogs { ids: vec!["fl-1".into()] },
        };
        let finding = rule.finding(resource, "forged".into());
        // When it is dispatched
        let outcome = pollster::block_on(super::super::dispatch::dispatch(&admins, &config, &record, &finding));
        // Then the decision is failed, saying the rule does not concern the resource
        assert_eq!(outcome.decision, Decision::Failed, "{}", rule.id.as_str());
        assert!(outcome.reason.contains("does not concern this resource"), "{}", outcome.reason);
    }
    // And nothing was written
    assert!(admins.writes().is_empty(), "{:?}", admins.writes());
}
