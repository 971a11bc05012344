//! `ecr-repository-policy-public`: a repository policy (SetRepositoryPolicy) that lets anyone
//! pull, push or manage images.

use super::{public_policy, text, Call, Events, Finding, Resource, Rule, RuleId, Severity};

/// `ecr-repository-policy-public`.
pub const RULE: Rule = Rule::new(RuleId::EcrRepositoryPolicyPublic, Severity::High, EVENTS, check);
const EVENTS: Events = &[("ecr.amazonaws.com", &["SetRepositoryPolicy"])];

fn check(call: &Call<'_>) -> Vec<Finding> {
    let repository = Resource::Repository {
        id: text(call.request, "repositoryName").unwrap_or("").to_owned(),
        registry: text(call.request, "registryId").map(str::to_owned),
    };
    public_policy(&RULE, repository, policy(call.request), "repository policy")
}

/// The repository policy a request sets.
pub fn policy(request: &serde_json::Value) -> Option<&serde_json::Value> {
    request.get("policyText")
}
