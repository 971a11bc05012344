//! `lambda-function-public`: remove exactly the public permission statement the call added
//! (by its statement id), or make a function URL with AuthType NONE require IAM
//! authentication. Both can break callers, so the rule is outside `REMEDIATE_RULES`'s default.

use super::driver::{Plan, Remediation, Tags};
use super::plan;
use super::ports::{AdminError, FunctionAccess, FunctionAdmin, Pause};
use super::Decision;
use crate::policy;
use serde_json::{json, Value};

/// What the call opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Opening {
    /// The permission statement with this id.
    Permission(String),
    /// The function URL's AuthType NONE.
    Url,
}

/// One function and what the call opened.
#[derive(Debug)]
pub struct PublicFunction {
    /// Function name or ARN.
    pub function: String,
    /// What the call opened.
    pub opening: Opening,
}

impl PublicFunction {
    fn public_statement(&self, access: &FunctionAccess) -> bool {
        let Opening::Permission(sid) = &self.opening else {
            return false;
        };
        access.policy.as_deref().and_then(|t| serde_json::from_str::<Value>(t).ok()).is_some_and(|doc| {
            policy::statements(&doc)
                .into_iter()
                .any(|s| s.get("Sid").and_then(Value::as_str) == Some(sid.as_str()) && policy::is_public_statement(s))
        })
    }

    fn open(&self, access: &FunctionAccess) -> bool {
        match &self.opening {
            Opening::Permission(_) => self.public_statement(access),
            Opening::Url => access.url_auth.as_deref() == Some("NONE"),
        }
    }
}

impl<A: FunctionAdmin + Pause + Sync> Remediation<A> for PublicFunction {
    type State = FunctionAccess;
    type Plan = Opening;

    async fn read(&self, admins: &A) -> Result<FunctionAccess, AdminError> {
        admins.function_access(&self.function).await
    }

    fn view(&self, state: &FunctionAccess) -> Value {
        json!({"policy": plan::policy_view(state.policy.as_deref()), "urlAuthType": state.url_auth})
    }

    fn tagged<'s>(&self, state: &'s FunctionAccess) -> Option<(&'s Tags, String)> {
        Some((&state.tags, format!("function {}", self.function)))
    }

    fn plan(&self, state: &FunctionAccess) -> Result<Plan<Opening>, AdminError> {
        if !self.open(state) {
            let why = match &self.opening {
                Opening::Permission(sid) => format!("permission {sid} is no longer public on {}", self.function),
                Opening::Url => format!("the function URL of {} no longer has AuthType NONE", self.function),
            };
            return Ok(Plan::Leave(Decision::AlreadyFixed, why));
        }
        let mut intended = <Self as Remediation<A>>::view(self, state);
        let what = match &self.opening {
            Opening::Permission(sid) => {
                if let Some(list) = intended.pointer_mut("/policy/Statement").and_then(Value::as_array_mut) {
                    list.retain(|s| s.get("Sid").and_then(Value::as_str) != Some(sid.as_str()));
                }
                format!("remove permission {sid} (principal *) from function {}", self.function)
            }
            Opening::Url => {
                intended["urlAuthType"] = json!("AWS_IAM");
                format!("turn the function URL of {} to AuthType AWS_IAM", self.function)
            }
        };
        Ok(Plan::Change { plan: self.opening.clone(), intended, what })
    }

    async fn act(&self, admins: &A, plan: &Opening) -> Result<(), AdminError> {
        match plan {
            Opening::Permission(sid) => admins.remove_permission(&self.function, sid).await,
            Opening::Url => admins.require_iam_auth(&self.function).await,
        }
    }

    fn unverified(&self) -> String {
        format!("function {} is still open to anyone after the change", self.function)
    }

    fn kept(&self, _plan: &Opening) -> String {
        "; other permissions unchanged".into()
    }
}
