//! The rule table (real-shaped records, about half look-alikes) and property tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
use proptest::prelude::*;

const CASES: &str = include_str!("../../../../tests/fixtures/risky/cases.json");
const EXPOSURE: &str = include_str!("../../../../tests/fixtures/risky/exposure.json");

/// Every case of the rule table: the first rules' and the exposure rules'.
fn all_cases() -> Vec<Value> {
    let mut cases: Vec<Value> = serde_json::from_str(CASES).unwrap();
    cases.extend(serde_json::from_str::<Vec<Value>>(EXPOSURE).unwrap());
    cases
}

#[test]
fn every_case_of_the_table_fires_exactly_the_expected_rules() {
    // Given the table of records that must fire and their look-alikes
    let cases = all_cases();
    assert!(cases.len() >= 180, "the table needs at least 180 cases");
    let mut failures = vec![];
    for c in &cases {
        // When each record is evaluated
        let got: Vec<&str> = evaluate(&c["record"]).iter().map(|f| f.rule.as_str()).collect();
        let want: Vec<&str> = c["expect"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
        // Then exactly the expected rules fire
        if got != want {
            failures.push(format!("{}: expected {want:?}, got {got:?}", c["name"]));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let firing = cases.iter().filter(|c| !c["expect"].as_array().unwrap().is_empty()).count();
    assert!(
        firing * 3 >= cases.len() && firing * 3 <= cases.len() * 2,
        "about half must fire: {firing}/{}",
        cases.len()
    );
}

fn case(name: &str) -> Value {
    all_cases().into_iter().find(|c| c["name"] == name).map(|c| c["record"].clone()).unwrap()
}

#[test]
fn risky_change_event_carries_rule_resource_actor_reason_and_record() {
    // Given an SSH-to-the-world record
    let record = case("ssh to the world");
    let finding = evaluate(&record).remove(0);
    // When it becomes an event
    let e = risky_change_event(&record, &finding);
    // Then the envelope and detail carry the contract's fields
    assert_eq!((e.detail_type.as_str(), e.source.as_str()), ("Trailsight Risky Change", "trailsight"));
    assert_eq!(e.resources, vec!["arn:aws:ec2:us-east-1:111122223333:security-group/sg-0d921df5d84f7270a"]);
    let d = &e.detail;
    assert_eq!(d["rule"], "ec2-security-group-open-admin-port");
    assert_eq!(d["severity"], "high");
    assert_eq!(d["account"], "111122223333");
    assert_eq!(d["region"], "us-east-1");
    assert_eq!(d["resource"]["groupId"], "sg-0d921df5d84f7270a");
    assert_eq!(d["actor"]["arn"], "arn:aws:iam::111122223333:user/mallory");
    assert_eq!(d["actor"]["sourceIPAddress"], "198.51.100.7");
    assert!(d["reason"].as_str().unwrap().contains("0.0.0.0/0"));
    assert_eq!(d["record"], record);
    assert_eq!(d["eventID"], record["eventID"]);
    // And the id is deterministic
    assert_eq!(risky_change_event(&record, &finding).id, e.id);
}

#[test]
fn every_finding_of_the_table_makes_an_event_that_matches_its_schema() {
    // Given every record of the table that fires
    for c in all_cases() {
        for finding in evaluate(&c["record"]) {
            // When it becomes an event, then it matches the published schema
            let e = risky_change_event(&c["record"], &finding);
            assert!(crate::schemas::check(&e).is_ok(), "{}: {:?}", c["name"], crate::schemas::check(&e));
        }
    }
}

#[test]
fn public_policy_reason_quotes_the_offending_statement() {
    let record = case("policy public statement after a deny");
    let f = evaluate(&record).remove(0);
    assert!(f.reason.contains("\"Sid\":\"Public\""), "{}", f.reason);
    assert!(!f.reason.contains("SecureTransport"));
    assert_eq!(f.resource, Resource::Bucket { name: "acme-data".into(), key: None, version_id: None });
}

#[test]
fn rule_ids_round_trip_and_concerns_is_narrow() {
    for r in RuleId::ALL {
        assert_eq!(RuleId::parse(r.as_str()), Some(r));
        assert_eq!(serde_json::to_value(r).unwrap(), r.as_str());
    }
    assert!(concerns("s3.amazonaws.com", "PutBucketPolicy"));
    assert!(!concerns("s3.amazonaws.com", "GetObject"));
    assert!(!concerns("ec2.amazonaws.com", "PutBucketPolicy"));
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        prop::sample::select(vec![
            "*",
            "Allow",
            "Deny",
            "0.0.0.0/0",
            "::/0",
            "tcp",
            "-1",
            "22",
            "AWS",
            "Principal",
            "x"
        ])
        .prop_map(|s| Value::String(s.to_owned())),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(
                prop::sample::select(vec![
                    "Effect",
                    "Principal",
                    "NotPrincipal",
                    "Statement",
                    "Condition",
                    "AWS",
                    "items",
                    "ipProtocol",
                    "fromPort",
                    "toPort",
                    "ipRanges",
                    "cidrIp",
                    "bucketPolicy",
                    "x-amz-acl",
                    "Grant",
                    "URI",
                    "other"
                ])
                .prop_map(str::to_owned),
                inner,
                0..5
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn statement() -> impl Strategy<Value = Value> {
    (
        prop::sample::select(vec!["Allow", "Deny"]),
        prop::sample::select(vec![
            serde_json::json!("*"),
            serde_json::json!({"AWS": "*"}),
            serde_json::json!({"AWS": "arn:aws:iam::1:root"}),
            serde_json::json!({"Service": "logging.s3.amazonaws.com"}),
        ]),
        prop::sample::select(vec![
            Value::Null,
            serde_json::json!({"StringEquals": {"aws:PrincipalOrgID": "o-1"}}),
            serde_json::json!({"StringLike": {"aws:SourceVpc": "vpc-*"}}),
            serde_json::json!({"IpAddress": {"aws:SourceIp": "0.0.0.0/0"}}),
        ]),
    )
        .prop_map(|(effect, principal, condition)| {
            let mut s =
                serde_json::json!({"Effect": effect, "Principal": principal, "Action": "s3:*", "Resource": "*"});
            if !condition.is_null() {
                s["Condition"] = condition;
            }
            s
        })
}

fn policy_record(statements: Vec<Value>) -> Value {
    serde_json::json!({"eventSource": "s3.amazonaws.com", "eventName": "PutBucketPolicy", "eventID": "p",
        "requestParameters": {"bucketName": "b", "bucketPolicy": {"Statement": statements}}})
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_json_never_panics(v in json_value()) {
        let _ = evaluate(&v);
    }

    #[test]
    fn any_request_parameters_never_panic(
        v in json_value(),
        name in prop::sample::select(vec!["PutBucketPolicy", "PutBucketAcl", "CreateBucket", "PutBucketPublicAccessBlock",
            "AuthorizeSecurityGroupIngress", "ModifySecurityGroupRules", "PutEventSelectors", "UpdateTrail", "StopLogging"]),
    ) {
        let source = match name {
            "AuthorizeSecurityGroupIngress" | "ModifySecurityGroupRules" => "ec2.amazonaws.com",
            "PutEventSelectors" | "UpdateTrail" | "StopLogging" => "cloudtrail.amazonaws.com",
            _ => "s3.amazonaws.com",
        };
        let record = serde_json::json!({"eventSource": source, "eventName": name, "requestParameters": v.clone(), "eventID": "x"});
        for f in evaluate(&record) {
            let _ = risky_change_event(&record, &f);
        }
        let nested = serde_json::json!({"eventSource": source, "eventName": name, "requestParameters": {"bucketPolicy": v.clone(), "ipPermissions": v.clone(), "AccessControlPolicy": v}});
        let _ = evaluate(&nested);
    }

    #[test]
    fn adding_a_deny_statement_never_makes_a_verdict_more_severe(
        statements in prop::collection::vec(statement(), 0..4),
        deny in statement(),
        at in 0usize..5,
    ) {
        let before: Vec<(RuleId, Severity)> = evaluate(&policy_record(statements.clone())).iter().map(|f| (f.rule, f.severity)).collect();
        let mut deny = deny;
        deny["Effect"] = Value::from("Deny");
        let mut with = statements;
        let at = at.min(with.len());
        with.insert(at, deny);
        let after: Vec<(RuleId, Severity)> = evaluate(&policy_record(with)).iter().map(|f| (f.rule, f.severity)).collect();
        prop_assert!(after.len() <= before.len());
        for (a, b) in after.iter().zip(before.iter()) {
            prop_assert!(a.1 <= b.1);
        }
    }
}

#[test]
fn the_exemption_rule_watches_the_deployments_own_tag_key() {
    // Given a deployment whose exemption tag key is sec:allow-public
    let record = serde_json::json!({"eventSource": "ec2.amazonaws.com", "eventName": "CreateTags", "eventID": "t",
        "requestParameters": {"resourcesSet": {"items": [{"resourceId": "sg-1"}]},
                              "tagSet": {"items": [{"key": "sec:allow-public", "value": "true"}]}}});
    let settings = RuleSettings { exempt_tag_key: "sec:allow-public".into() };
    // When evaluated, then it fires with that key and not with the default one
    let fired: Vec<RuleId> = evaluate_with(&record, &settings).iter().map(|f| f.rule).collect();
    assert_eq!(fired, vec![RuleId::TrailsightExemptionChanged]);
    assert!(evaluate(&record).is_empty());
}

#[test]
fn resource_arns_use_the_records_partition() {
    // Given an SSH-to-the-world call in GovCloud and one in China
    let mut gov = case("ssh to the world");
    gov["awsRegion"] = Value::from("us-gov-west-1");
    let mut china = gov.clone();
    china["awsRegion"] = Value::from("cn-north-1");
    // When they become events, then their ARNs are in those partitions
    for (record, arn) in [(&gov, "arn:aws-us-gov:ec2:us-gov-west-1:"), (&china, "arn:aws-cn:ec2:cn-north-1:")] {
        let f = evaluate(record).remove(0);
        let e = risky_change_event(record, &f);
        assert!(e.resources[0].starts_with(arn), "{:?}", e.resources);
    }
}

const TEMPLATE: &str = include_str!("../../../../template.yaml");

/// The eventName list of the template's `NativeApiCallRule`.
fn native_rule_event_names() -> std::collections::BTreeSet<String> {
    let after = TEMPLATE
        .split_once("\n  NativeApiCallRule:\n")
        .map(|(_, rest)| rest)
        .expect("template.yaml has a NativeApiCallRule");
    let list =
        after.split_once("eventName:\n").map(|(_, rest)| rest).expect("NativeApiCallRule matches on detail.eventName");
    list.lines().map(str::trim).map_while(|l| l.strip_prefix("- ")).map(str::to_owned).collect()
}

/// The source list of the template's `NativeApiCallRule` (a block list).
fn native_rule_sources() -> std::collections::BTreeSet<String> {
    let after = TEMPLATE
        .split_once("\n  NativeApiCallRule:\n")
        .map(|(_, rest)| rest)
        .expect("template.yaml has a NativeApiCallRule");
    let list = after.split_once("source:\n").map(|(_, rest)| rest).expect("NativeApiCallRule matches on a source list");
    list.lines().map(str::trim).map_while(|l| l.strip_prefix("- ")).map(str::to_owned).collect()
}

#[test]
fn the_templates_native_event_rule_lists_exactly_the_rule_tables_calls() {
    // Given the rule table and the stack's rule for AWS's native API-call events
    let table: std::collections::BTreeSet<String> =
        native_trigger_event_names().into_iter().map(str::to_owned).collect();
    // Then the template sends remediation exactly the calls of the rules it remediates
    assert_eq!(native_rule_event_names(), table);
    // And from exactly their services (aws.SERVICE for SERVICE.amazonaws.com; S3 Control's
    // calls come from aws.s3)
    let sources: std::collections::BTreeSet<String> = RULES
        .iter()
        .filter(|r| r.native_trigger)
        .flat_map(|r| r.events.iter())
        .map(|(source, _)| format!("aws.{}", source.trim_end_matches(".amazonaws.com")))
        .map(|s| if s == "aws.s3-control" { "aws.s3".to_owned() } else { s })
        .collect();
    assert_eq!(native_rule_sources(), sources);
}

#[test]
fn every_rule_id_has_one_row_and_concerns_comes_from_the_table() {
    // Given the table
    let ids: Vec<RuleId> = RULES.iter().map(|r| r.id).collect();
    // Then each rule id has exactly one row, in the ids' order
    assert_eq!(ids, RuleId::ALL.to_vec());
    // And a call concerns the engine exactly when some row lists it
    for rule in RULES {
        for (source, names) in rule.events {
            for name in names.iter() {
                assert!(concerns(source, name), "{source} {name}");
            }
        }
    }
    assert!(!concerns("s3.amazonaws.com", "GetObject"));
    assert!(!concerns("iam.amazonaws.com", "PutBucketPolicy"));
}
