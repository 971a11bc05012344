//! `s3-bucket-policy-public`: remove the public statements the call's policy added (a
//! statement naming principals beside `*` loses only the `*`), keeping every other statement
//! byte for byte; cross-checked with S3's own verdict (GetBucketPolicyStatus).

use super::driver::{Plan, Remediation, Tags};
use super::plan::{self, PolicyPlan};
use super::ports::{AdminError, BucketAdmin, Pause};
use super::Decision;
use crate::rules::s3_policy;
use serde_json::Value;
use std::collections::BTreeMap;

/// The bucket and the public statements (canonical) the call introduced.
#[derive(Debug)]
pub struct BucketPolicy {
    /// The bucket.
    pub bucket: String,
    /// The call's public statements, in [`plan::canonical`] form.
    pub introduced: Vec<Value>,
}

impl BucketPolicy {
    /// For the call whose request is `request`.
    pub fn new(bucket: &str, request: &Value) -> Self {
        BucketPolicy {
            bucket: bucket.to_owned(),
            introduced: s3_policy::policy_document(request)
                .map(|p| plan::introduced_statements(&p))
                .unwrap_or_default(),
        }
    }

    fn others(others: usize) -> String {
        if others == 0 {
            String::new()
        } else {
            format!(
                "; {others} other public statement(s) were not added by this call and are left for their own trigger"
            )
        }
    }
}

/// A bucket's tags and policy text.
#[derive(Debug)]
pub struct State {
    tags: BTreeMap<String, String>,
    policy: Option<String>,
}

fn verdict(public: Option<bool>) -> &'static str {
    match public {
        Some(true) => "public",
        Some(false) => "not public",
        None => "no policy",
    }
}

impl<A: BucketAdmin + Pause + Sync> Remediation<A> for BucketPolicy {
    type State = State;
    type Plan = PolicyPlan;

    async fn read(&self, admins: &A) -> Result<State, AdminError> {
        Ok(State { tags: admins.tags(&self.bucket).await?, policy: admins.policy(&self.bucket).await? })
    }

    fn view(&self, state: &State) -> Value {
        plan::policy_view(state.policy.as_deref())
    }

    fn tagged<'s>(&self, state: &'s State) -> Option<(&'s Tags, String)> {
        Some((&state.tags, format!("bucket {}", self.bucket)))
    }

    fn plan(&self, state: &State) -> Result<Plan<PolicyPlan>, AdminError> {
        let Some(text) = state.policy.as_deref() else {
            return Ok(Plan::Leave(Decision::AlreadyFixed, "the bucket has no policy any more".into()));
        };
        let plan = plan::strip_public_statements(text, &self.introduced)
            .map_err(|e| AdminError::Failed { action: "s3:GetBucketPolicy".into(), why: e.to_string() })?;
        let (intended, removed, others) = match &plan {
            PolicyPlan::NotPublic { others_public } => {
                let why = format!(
                    "none of the public statements this call added is live any more{}",
                    Self::others(*others_public)
                );
                return Ok(Plan::Leave(Decision::AlreadyFixed, why));
            }
            PolicyPlan::Rewrite { policy, removed, others_public, .. } => {
                (plan::policy_view(Some(policy)), removed.len(), *others_public)
            }
            PolicyPlan::Delete { removed } => (Value::Null, removed.len(), 0),
        };
        let what = format!(
            "remove {removed} public statement(s) this call added to the bucket policy{}",
            Self::others(others)
        );
        Ok(Plan::Change { plan, intended, what })
    }

    async fn act(&self, admins: &A, plan: &PolicyPlan) -> Result<(), AdminError> {
        match plan {
            PolicyPlan::Rewrite { policy, .. } => admins.put_policy(&self.bucket, policy).await,
            _ => admins.delete_policy(&self.bucket).await,
        }
    }

    fn unverified(&self) -> String {
        "the public statements this call added are still in the bucket policy after the change".into()
    }

    async fn cross_check(&self, admins: &A, state: &State) -> Result<Option<String>, AdminError> {
        let ours =
            state.policy.as_deref().map(|t| serde_json::from_str(t).is_ok_and(|v: Value| crate::policy::is_public(&v)));
        let theirs = admins.policy_status(&self.bucket).await?;
        Ok((theirs.unwrap_or(false) != ours.unwrap_or(false)).then(|| {
            format!(
                "verdicts disagree after the change: S3's GetBucketPolicyStatus says {}, trailsight says {}",
                verdict(theirs),
                verdict(ours)
            )
        }))
    }

    fn kept(&self, _plan: &PolicyPlan) -> String {
        "; other statements unchanged".into()
    }
}
