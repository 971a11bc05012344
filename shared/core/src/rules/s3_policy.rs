//! `s3-bucket-policy-public`: PutBucketPolicy with a statement that grants anyone access, as
//! the policy evaluator ([`crate::policy`]) defines it.

use super::{quote, Call, Events, Finding, Rule, RuleId, Severity};
use crate::policy;
use serde_json::Value;
use std::borrow::Cow;

/// `s3-bucket-policy-public`: PutBucketPolicy with a public statement.
pub const RULE: Rule = Rule::new(RuleId::S3BucketPolicyPublic, Severity::Critical, EVENTS, check);
const EVENTS: Events = &[("s3.amazonaws.com", &["PutBucketPolicy"])];

fn check(call: &Call<'_>) -> Vec<Finding> {
    let Some(policy) = policy_document(call.request) else {
        return vec![];
    };
    policy::first_public(&policy)
        .map(|st| RULE.finding(call.bucket(), format!("bucket policy grants anyone access: {}", quote(st))))
        .into_iter()
        .collect()
}

/// The policy document from `requestParameters.bucketPolicy` (an object, or a JSON string).
pub fn policy_document(request: &Value) -> Option<Cow<'_, Value>> {
    policy::document(request.get("bucketPolicy"))
}
