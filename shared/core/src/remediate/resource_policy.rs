//! `kms-key-policy-public`, `sqs-queue-policy-public`, `sns-topic-policy-public`,
//! `ecr-repository-policy-public`, `secretsmanager-secret-policy-public`,
//! `iam-role-trust-public`: remove exactly the public statements the call added (the
//! statements the policy evaluator reports, or for SNS AddPermission the statement with its
//! label), keeping every other statement byte for byte. A KMS key keeps a statement granting
//! the account root (a change that would leave none is `needs-review`: KMS could lock the key
//! out); a policy that would be left empty is deleted where the service allows it, else
//! `needs-review`.

use super::driver::{Plan, Remediation, Tags};
use super::plan::{self, PolicyPlan};
use super::ports::{AdminError, Pause, PolicyKind, PolicyState, ResourcePolicyAdmin};
use super::Decision;
use crate::policy;
use serde_json::Value;

/// What the call added to the policy.
#[derive(Debug, Clone)]
pub enum Introduced {
    /// Its public statements (canonical form).
    Statements(Vec<Value>),
    /// The statement with this `Sid` (SNS AddPermission's label).
    Sid(String),
}

/// One resource policy and what the call added to it.
#[derive(Debug)]
pub struct ResourcePolicy {
    /// Which policy.
    pub kind: PolicyKind,
    /// The resource's id (see [`PolicyKind`]).
    pub id: String,
    /// What the call added.
    pub introduced: Introduced,
    /// The account root (`arn:PARTITION:iam::ACCOUNT:root`) a key policy must keep granting.
    pub root: String,
}

impl ResourcePolicy {
    /// For a call that set `policy` (the request's policy field, a JSON string or object).
    pub fn new(kind: PolicyKind, id: &str, policy: Option<&Value>, root: String) -> Self {
        let introduced = policy::document(policy).map(|p| plan::introduced_statements(&p)).unwrap_or_default();
        ResourcePolicy { kind, id: id.to_owned(), introduced: Introduced::Statements(introduced), root }
    }

    fn introduced(&self, live: &str) -> Vec<Value> {
        match &self.introduced {
            Introduced::Statements(s) => s.clone(),
            Introduced::Sid(sid) => serde_json::from_str::<Value>(live)
                .map(|doc| {
                    policy::statements(&doc)
                        .into_iter()
                        .filter(|s| s.get("Sid").and_then(Value::as_str) == Some(sid.as_str()))
                        .filter(|s| policy::is_public_statement(s))
                        .map(plan::canonical)
                        .collect()
                })
                .unwrap_or_default(),
        }
    }

    /// Whether a key policy grants the account root (by ARN or account id) anything.
    fn grants_root(&self, doc: &Value) -> bool {
        let account = self.root.split(':').nth(4).unwrap_or("");
        policy::statements(doc).into_iter().any(|s| {
            s.get("Effect").and_then(Value::as_str) == Some("Allow")
                && policy::principals(s).iter().any(|p| *p == self.root || *p == account)
        })
    }
}

impl<A: ResourcePolicyAdmin + Pause + Sync> Remediation<A> for ResourcePolicy {
    type State = PolicyState;
    type Plan = PolicyPlan;

    async fn read(&self, admins: &A) -> Result<PolicyState, AdminError> {
        admins.resource_policy(self.kind, &self.id).await
    }

    fn view(&self, state: &PolicyState) -> Value {
        plan::policy_view(state.policy.as_deref())
    }

    fn tagged<'s>(&self, state: &'s PolicyState) -> Option<(&'s Tags, String)> {
        Some((&state.tags, self.id.clone()))
    }

    fn plan(&self, state: &PolicyState) -> Result<Plan<PolicyPlan>, AdminError> {
        let noun = self.kind.noun();
        let Some(text) = state.policy.as_deref().filter(|t| !t.trim().is_empty()) else {
            return Ok(Plan::Leave(Decision::AlreadyFixed, format!("{} has no {noun} any more", self.id)));
        };
        let introduced = self.introduced(text);
        let plan = plan::strip_public_statements(text, &introduced)
            .map_err(|e| AdminError::Failed { action: format!("read {noun}"), why: e.to_string() })?;
        let (intended, removed) = match &plan {
            PolicyPlan::NotPublic { .. } => {
                let why = format!("none of the public statements this call added is in the {noun} any more");
                return Ok(Plan::Leave(Decision::AlreadyFixed, why));
            }
            PolicyPlan::Rewrite { policy, removed, .. } => (plan::policy_view(Some(policy)), removed.len()),
            PolicyPlan::Delete { removed } => (Value::Null, removed.len()),
        };
        if self.kind == PolicyKind::KmsKey && !self.grants_root(&intended) {
            let why = format!(
                "removing the public statement(s) would leave no statement granting {} access to key {}: KMS could lock the key out, so a key administrator must rewrite the key policy",
                self.root, self.id
            );
            return Ok(Plan::Leave(Decision::NeedsReview, why));
        }
        if matches!(plan, PolicyPlan::Delete { .. }) && !self.kind.deletable() {
            let why = format!(
                "every statement of the {noun} of {} is public and the service keeps one: a person must write its replacement",
                self.id
            );
            return Ok(Plan::Leave(Decision::NeedsReview, why));
        }
        let what = format!("remove {removed} public statement(s) this call added to the {noun} of {}", self.id);
        Ok(Plan::Change { plan, intended, what })
    }

    async fn act(&self, admins: &A, plan: &PolicyPlan) -> Result<(), AdminError> {
        match plan {
            PolicyPlan::Rewrite { policy, .. } => admins.put_resource_policy(self.kind, &self.id, policy).await,
            _ => admins.delete_resource_policy(self.kind, &self.id).await,
        }
    }

    fn unverified(&self) -> String {
        format!("the public statements this call added are still in the {} after the change", self.kind.noun())
    }

    fn kept(&self, _plan: &PolicyPlan) -> String {
        "; other statements unchanged".into()
    }
}
