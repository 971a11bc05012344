//! Where remediation acts: the record's region and account, or out of scope.

use super::adversary::with_detail;
use super::*;

#[test]
fn a_change_in_another_account_is_out_of_scope_by_default() {
    // Given a deployment in 999988887777 and a change recorded in 111122223333
    let admins = MemoryAdmins::default();
    admins.set_bucket("data", public_bucket());
    let config = RemediationConfig { scope: home("999988887777", None), ..enforce() };
    // When remediated
    let report = run(&admins, &config, &policy_call());
    // Then it is out of scope, no admin was asked for, nothing written
    assert_eq!(report.outcomes[0].decision, Decision::OutOfScope);
    assert!(report.outcomes[0].reason.contains("MemberRoleName"));
    assert!(admins.scopes().is_empty() && admins.writes().is_empty());
}

#[test]
fn a_member_account_change_is_remediated_through_the_member_role() {
    // Given a member role name
    let admins = MemoryAdmins::default();
    admins.set_bucket("data", public_bucket());
    let config = RemediationConfig { scope: home("999988887777", Some("trailsight-remediation")), ..enforce() };
    // When a member account's change is remediated
    let report = run(&admins, &config, &policy_call());
    // Then the admins act in that account and region through its role
    assert_eq!(report.outcomes[0].decision, Decision::Remediated);
    assert_eq!(
        admins.scopes(),
        vec![(
            "111122223333".to_owned(),
            "us-east-1".to_owned(),
            Some("arn:aws:iam::111122223333:role/trailsight-remediation".to_owned())
        )]
    );
}

#[test]
fn admins_act_in_the_records_region_and_other_regions_can_be_excluded() {
    // Given a change recorded in eu-west-1
    let admins = MemoryAdmins::default();
    admins.set_bucket("data", public_bucket());
    let event = with_detail(policy_call(), |d| d["awsRegion"] = json!("eu-west-1"));
    // When remediated, then the admins of eu-west-1 were asked for
    run(&admins, &enforce(), &event);
    assert_eq!(admins.scopes()[0].1, "eu-west-1");
    // And when the deployment only remediates us-east-1, it is out of scope
    let config =
        RemediationConfig { scope: Scope { regions: vec!["us-east-1".into()], ..Scope::default() }, ..enforce() };
    assert_eq!(run(&admins, &config, &event).outcomes[0].decision, Decision::OutOfScope);
}

/// A scope with a home account and, optionally, a member role.
fn home(account: &str, member_role: Option<&str>) -> Scope {
    Scope { home_account: Some(account.into()), member_role: member_role.map(Into::into), regions: vec![] }
}
