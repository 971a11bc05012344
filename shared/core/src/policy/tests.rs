//! The policy evaluator's cases and properties.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
use proptest::prelude::*;
use serde_json::json;

fn with(c: Value) -> Value {
    json!({"Effect":"Allow","Principal":"*","Action":"sqs:SendMessage","Condition":c})
}

#[test]
fn anyone_as_star_aws_star_list_or_not_principal_is_public() {
    // Given Allow statements open to anyone in each spelling
    for s in [
        json!({"Effect":"Allow","Principal":"*","Action":"s3:GetObject"}),
        json!({"Effect":"Allow","Principal":{"AWS":"*"},"Action":"kms:*"}),
        json!({"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::111122223333:root","*"]}}),
        json!({"Effect":"Allow","NotPrincipal":{"AWS":"arn:aws:iam::111122223333:root"},"NotAction":"sqs:DeleteQueue"}),
        json!({"Effect":"allow","Principal":["*"]}),
    ] {
        // Then each is public
        assert!(is_public_statement(&s), "{s}");
    }
}

#[test]
fn named_principals_services_and_deny_statements_are_not_public() {
    for s in [
        json!({"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"}}),
        json!({"Effect":"Allow","Principal":{"Service":"sns.amazonaws.com"},"Action":"sqs:SendMessage"}),
        json!({"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::111122223333:saml-provider/okta"}}),
        json!({"Effect":"Deny","Principal":"*","Action":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}),
        json!({"Principal":"*","Action":"*"}),
    ] {
        assert!(!is_public_statement(&s), "{s}");
    }
}

#[test]
fn fixed_values_of_caller_keys_pin_a_statement() {
    for c in [
        json!({"StringEquals":{"aws:PrincipalOrgID":"o-abc123"}}),
        json!({"StringEquals":{"aws:SourceVpce":["vpce-1","vpce-2"]}}),
        json!({"ArnEquals":{"aws:SourceArn":"arn:aws:sns:us-east-1:111122223333:t"}}),
        json!({"ArnLike":{"aws:SourceArn":"arn:aws:s3:::acme-logs"}}),
        json!({"StringEquals":{"aws:SourceAccount":"111122223333"}}),
        json!({"StringEquals":{"kms:CallerAccount":"111122223333"}}),
        json!({"StringEquals":{"aws:PrincipalAccount":111122223333u64}}),
        json!({"ForAnyValue:StringLike":{"aws:PrincipalOrgPaths":"o-abc123/r-ab12/ou-ab12-11111111/*"}}),
        json!({"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}),
        json!({"IpAddress":{"aws:SourceIp":["10.0.0.0/8","2001:db8::/32"]}}),
    ] {
        assert!(!is_public_statement(&with(c.clone())), "{c}");
    }
}

#[test]
fn wildcards_negations_if_exists_for_all_values_and_slash_zero_pin_nothing() {
    for c in [
        json!({"StringLike":{"aws:SourceVpc":"vpc-*"}}),
        json!({"StringEquals":{"aws:SourceArn":"${aws:username}"}}),
        json!({"StringNotEquals":{"aws:SourceAccount":"111122223333"}}),
        json!({"StringEqualsIfExists":{"aws:SourceVpce":"vpce-1"}}),
        json!({"ForAllValues:StringEquals":{"aws:PrincipalOrgID":"o-abc"}}),
        json!({"IpAddress":{"aws:SourceIp":"0.0.0.0/0"}}),
        json!({"IpAddress":{"aws:SourceIp":"10.1.2.3/0"}}),
        json!({"IpAddress":{"aws:SourceIp":"::/0"}}),
        json!({"IpAddress":{"aws:SourceIp":"10.0.0.0/7"}}),
        json!({"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}),
        json!({"Bool":{"aws:SecureTransport":"true"}}),
        json!({"StringEquals":{"aws:RequestedRegion":"us-east-1"}}),
        json!({"StringLike":{"aws:PrincipalOrgPaths":"o-*"}}),
    ] {
        assert!(is_public_statement(&with(c.clone())), "{c}");
    }
}

#[test]
fn a_policy_as_a_string_with_one_statement_outside_a_list_is_read() {
    // Given a policy as CloudTrail writes it: a JSON string, its one statement not in a list
    let field = json!("{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"*\"},\"Action\":\"ecr:BatchGetImage\"}}");
    // When it is read
    let policy = document(Some(&field)).unwrap();
    // Then its statement is found public
    assert_eq!(public_statements(&policy), vec![0]);
    assert!(document(Some(&json!("not json"))).is_none());
    assert!(document(Some(&json!("[1,2]"))).is_none());
    assert!(document(None).is_none());
}

#[test]
fn the_reported_statements_are_exactly_the_public_ones() {
    // Given a policy with a deny, a pinned grant, a public grant and an account grant
    let policy = json!({"Statement":[
        {"Effect":"Deny","Principal":"*","Action":"*"},
        {"Effect":"Allow","Principal":"*","Action":"sns:Publish","Condition":{"StringEquals":{"aws:SourceOwner":"111122223333"}}},
        {"Sid":"Open","Effect":"Allow","Principal":{"AWS":"*"},"Action":"sns:Subscribe"},
        {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"sns:*"}
    ]});
    // Then only the third is reported
    assert_eq!(public_statements(&policy), vec![2]);
    assert_eq!(first_public(&policy).unwrap()["Sid"], "Open");
}

#[test]
fn a_star_beside_a_named_account_is_dropped_keeping_the_account() {
    let s =
        json!({"Sid":"Mixed","Effect":"Allow","Principal":{"AWS":["arn:aws:iam::1:root","*"]},"Action":"s3:GetObject"});
    let out = without_star_principal(&s).unwrap();
    assert_eq!(out["Principal"], json!({"AWS":["arn:aws:iam::1:root"]}));
    assert!(!is_public_statement(&out));
    assert!(without_star_principal(&json!({"Effect":"Allow","Principal":{"AWS":"*"}})).is_none());
    assert!(without_star_principal(&json!({"Effect":"Allow","Principal":"*"})).is_none());
    assert!(without_star_principal(&json!({"Effect":"Allow","NotPrincipal":{"AWS":"arn:aws:iam::1:root"}})).is_none());
}

#[test]
fn cidr_breadth_follows_block_public_access() {
    assert!(narrow_cidr("10.0.0.0/8"));
    assert!(narrow_cidr("203.0.113.7"));
    assert!(!narrow_cidr("0.0.0.0/1"));
    assert!(narrow_cidr("2001:db8::/32"));
    assert!(!narrow_cidr("2001:db8::/31"));
    assert!(!narrow_cidr("::/0"));
    assert!(!narrow_cidr("10.1.2.3/0"));
    assert!(!narrow_cidr("not-an-ip"));
}

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        prop_oneof![
            Just("*".to_owned()),
            Just("Allow".to_owned()),
            Just("Statement".to_owned()),
            Just("0.0.0.0/0".to_owned()),
            ".{0,12}"
        ]
        .prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        let keys = prop_oneof![
            Just("Statement".to_owned()),
            Just("Effect".to_owned()),
            Just("Principal".to_owned()),
            Just("NotPrincipal".to_owned()),
            Just("AWS".to_owned()),
            Just("Condition".to_owned()),
            Just("StringEquals".to_owned()),
            Just("IpAddress".to_owned()),
            Just("aws:SourceIp".to_owned()),
            Just("aws:PrincipalOrgPaths".to_owned()),
            "[a-zA-Z:]{1,10}"
        ];
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map(keys, inner, 0..4).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn principal() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!("*")),
        Just(json!({"AWS":"*"})),
        Just(json!({"AWS":["arn:aws:iam::111122223333:root","*"]})),
        Just(json!({"AWS":"arn:aws:iam::111122223333:root"})),
        Just(json!({"Service":"sqs.amazonaws.com"})),
        Just(json!(["*"])),
    ]
}

fn condition() -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        Just(None),
        Just(Some(json!({"StringEquals":{"aws:PrincipalOrgID":"o-abc"}}))),
        Just(Some(json!({"StringLike":{"aws:SourceArn":"arn:aws:*"}}))),
        Just(Some(json!({"StringEqualsIfExists":{"aws:SourceVpce":"vpce-1"}}))),
        Just(Some(json!({"IpAddress":{"aws:SourceIp":"0.0.0.0/0"}}))),
        Just(Some(json!({"IpAddress":{"aws:SourceIp":"198.51.100.0/24"}}))),
        Just(Some(json!({"Bool":{"aws:SecureTransport":"true"}}))),
    ]
}

fn statement() -> impl Strategy<Value = Value> {
    (prop_oneof![Just("Allow"), Just("Deny")], principal(), any::<bool>(), condition()).prop_map(
        |(effect, p, not, c)| {
            let mut s = json!({"Effect": effect, "Action": "*", "Resource": "*"});
            s[if not { "NotPrincipal" } else { "Principal" }] = p;
            if let Some(c) = c {
                s["Condition"] = c;
            }
            s
        },
    )
}

fn policy() -> impl Strategy<Value = Value> {
    prop_oneof![
        proptest::collection::vec(statement(), 0..6).prop_map(|s| json!({"Version":"2012-10-17","Statement":s})),
        statement().prop_map(|s| json!({"Statement":s})),
    ]
}

proptest! {
    #[test]
    fn it_never_panics_on_any_json(v in any_json()) {
        // Given any JSON, as a document or a string holding it
        let text = Value::String(v.to_string());
        // When it is evaluated, then it answers
        let _ = public_statements(&v);
        let _ = is_public(&v);
        if let Some(d) = document(Some(&text)) {
            let _ = public_statements(&d);
        }
        for s in statements(&v) {
            let _ = without_star_principal(s);
        }
    }

    #[test]
    fn adding_a_deny_statement_never_makes_a_policy_more_public(p in policy(), d in statement()) {
        // Given a policy and a deny statement
        let mut deny = d;
        deny["Effect"] = json!("Deny");
        let before = is_public(&p);
        // When the deny is added
        let mut list: Vec<Value> = statements(&p).into_iter().cloned().collect();
        list.push(deny);
        let with_deny = json!({"Statement": list});
        let after = is_public(&with_deny);
        // Then the verdict is never more public
        prop_assert!(!after || before);
    }

    #[test]
    fn adding_a_pinning_condition_never_makes_a_statement_more_public(s in statement()) {
        // Given a statement, and the same with an organization pin added to its condition
        let mut pinned_s = s.clone();
        let mut cond = s.get("Condition").cloned().unwrap_or_else(|| json!({}));
        cond["StringEquals"]["aws:PrincipalOrgID"] = json!("o-abc");
        pinned_s["Condition"] = cond;
        // Then the pinned statement is public only if the original was, and never after the pin
        prop_assert!(!is_public_statement(&pinned_s));
        prop_assert!(!is_public_statement(&pinned_s) || is_public_statement(&s));
    }

    #[test]
    fn removing_the_reported_statements_leaves_a_policy_that_is_not_public(p in policy()) {
        // Given a policy and the statements reported public
        let public = public_statements(&p);
        // When they are removed
        let kept: Vec<Value> = statements(&p)
            .into_iter()
            .enumerate()
            .filter(|(i, _)| !public.contains(i))
            .map(|(_, s)| s.clone())
            .collect();
        // Then what is left is not public
        let left = json!({"Statement": kept});
        prop_assert!(!is_public(&left));
    }
}
