//! Remediation: from a risky-change trigger to the surgical revert of what opened the
//! resource, and one `Trailsight Remediation` event per decision.
//!
//! A trigger is trailsight's own `Trailsight Risky Change` event or AWS's native `AWS API
//! Call via CloudTrail` event; both carry a CloudTrail record, and both go through the same
//! rule engine ([`crate::rules::evaluate`]). The record only says *which* resource to look
//! at: the action is decided on live state, re-read just before acting and again after, and
//! every plan ([`plan`]) only removes access. A forged or stale trigger therefore finds
//! nothing to do (`already-fixed`).
//!
//! Decisions: `remediated`, `would-remediate` (dry-run), `exempt`, `already-fixed`,
//! `not-found`, `failed`.

mod bucket;
mod exempt;
pub mod memory;
mod network;
pub mod plan;
pub mod ports;
mod trail;

use bucket::{account_pab, bucket_acl, bucket_pab, bucket_policy};
pub use exempt::{glob, principal_exempt};
use exempt::{resource_name, tag_exempt};
use network::security_group;
use trail::trail;

use crate::events::{deterministic_id, Envelope, DETAIL_TYPE_REMEDIATION, DETAIL_TYPE_RISKY_CHANGE};
use crate::rules::{self, Finding, Resource, RuleId};
use plan::PolicyPlan;
use ports::{AccountAdmin, AdminError, BucketAdmin, PublicAccessBlock, SecurityGroupAdmin, TrailAdmin};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// Whether remediation acts or only reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Report what would be done (the default of a new deployment).
    DryRun,
    /// Act.
    Enforce,
}

/// Remediation settings.
#[derive(Debug, Clone, PartialEq)]
pub struct RemediationConfig {
    /// Dry-run or enforce.
    pub mode: Mode,
    /// Resources carrying this tag (any value but `false`) are left alone.
    pub exempt_tag: String,
    /// Changes by these principals (IAM ARNs; an assumed-role session matches its role's ARN)
    /// are left alone.
    pub exempt_principals: Vec<String>,
    /// Resources whose name matches one of these patterns (`*` matches any run of characters)
    /// are left alone.
    pub exempt_resources: Vec<String>,
}

impl Default for RemediationConfig {
    fn default() -> Self {
        RemediationConfig {
            mode: Mode::DryRun,
            exempt_tag: "trailsight:exempt".to_owned(),
            exempt_principals: vec![],
            exempt_resources: vec![],
        }
    }
}

/// A decision on one finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Decision {
    /// Access removed and verified.
    Remediated,
    /// Dry-run: this would have been done.
    WouldRemediate,
    /// Left alone by an exemption.
    Exempt,
    /// Live state is already closed.
    AlreadyFixed,
    /// The resource no longer exists.
    NotFound,
    /// The remediation could not be done.
    Failed,
}

impl Decision {
    /// The public name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Decision::Remediated => "remediated",
            Decision::WouldRemediate => "would-remediate",
            Decision::Exempt => "exempt",
            Decision::AlreadyFixed => "already-fixed",
            Decision::NotFound => "not-found",
            Decision::Failed => "failed",
        }
    }
}

/// A trigger that cannot be used; the message names what is missing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MalformedTrigger {
    /// A required field is missing or has the wrong type.
    #[error("malformed remediation trigger: {0} is missing; expected a 'Trailsight Risky Change' or 'AWS API Call via CloudTrail' event")]
    Missing(&'static str),
    /// An event of another kind.
    #[error(
        "unsupported trigger detail-type {0:?}; expected 'Trailsight Risky Change' or 'AWS API Call via CloudTrail'"
    )]
    Unsupported(String),
}

/// The CloudTrail record a trigger carries.
pub fn trigger_record(event: &Value) -> Result<&Value, MalformedTrigger> {
    let detail_type = event
        .get("detail-type")
        .and_then(Value::as_str)
        .ok_or(MalformedTrigger::Missing("detail-type"))?;
    let detail = event
        .get("detail")
        .filter(|d| d.is_object())
        .ok_or(MalformedTrigger::Missing("detail"))?;
    let record = match detail_type {
        DETAIL_TYPE_RISKY_CHANGE => detail
            .get("record")
            .filter(|r| r.is_object())
            .ok_or(MalformedTrigger::Missing("detail.record"))?,
        "AWS API Call via CloudTrail" => detail,
        other => return Err(MalformedTrigger::Unsupported(other.to_owned())),
    };
    for (field, name) in [
        ("eventSource", "detail.eventSource"),
        ("eventName", "detail.eventName"),
        ("eventID", "detail.eventID"),
    ] {
        if record.get(field).and_then(Value::as_str).is_none() {
            return Err(MalformedTrigger::Missing(name));
        }
    }
    Ok(record)
}

/// The outcome of one finding, before it becomes an event.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The rule.
    pub rule: RuleId,
    /// The resource.
    pub resource: Resource,
    /// The decision.
    pub decision: Decision,
    /// Live state before.
    pub before: Value,
    /// Live state after (re-read), or what it would be in dry-run.
    pub after: Value,
    /// One sentence saying why.
    pub reason: String,
    /// The error behind a `failed` decision.
    pub error: Option<AdminError>,
}

/// The result of one trigger.
#[derive(Debug, Clone)]
pub struct Report {
    /// One per finding.
    pub outcomes: Vec<Outcome>,
    /// The `Trailsight Remediation` events, one per outcome.
    pub events: Vec<Envelope>,
}

impl Report {
    /// The first failure, which should fail the invocation (so the on-failure destination
    /// sees it). A failure caused by state only a human can fix does not.
    pub fn failure(&self) -> Option<&Outcome> {
        self.outcomes
            .iter()
            .find(|o| o.decision == Decision::Failed && o.error.is_some())
    }
}

/// Every admin port remediation needs.
pub trait Admins: BucketAdmin + AccountAdmin + SecurityGroupAdmin + TrailAdmin + Sync {}
impl<T: BucketAdmin + AccountAdmin + SecurityGroupAdmin + TrailAdmin + Sync> Admins for T {}

/// Runs one trigger: evaluates its record, decides and (in enforce mode) acts on each finding.
pub async fn remediate<A: Admins>(
    admins: &A,
    config: &RemediationConfig,
    event: &Value,
) -> Result<Report, MalformedTrigger> {
    let record = trigger_record(event)?;
    let findings = rules::evaluate(record);
    if findings.is_empty() {
        tracing::info!(
            event_id = record.get("eventID").and_then(serde_json::Value::as_str),
            "the call breaks no rule (failed call, look-alike or forged trigger): nothing to do"
        );
    }
    let mut outcomes = Vec::with_capacity(findings.len());
    for finding in &findings {
        let outcome = decide(admins, config, record, finding).await;
        tracing::info!(
            rule = finding.rule.as_str(),
            decision = outcome.decision.as_str(),
            reason = %outcome.reason,
            event_id = record.get("eventID").and_then(serde_json::Value::as_str),
            "remediation decision"
        );
        outcomes.push(outcome);
    }
    let events = outcomes
        .iter()
        .map(|o| decision_event(record, config.mode, o))
        .collect();
    Ok(Report { outcomes, events })
}

fn actor(record: &Value) -> Option<&str> {
    let u = record.get("userIdentity")?;
    u.get("arn")
        .or_else(|| u.get("invokedBy"))
        .or_else(|| u.get("principalId"))
        .and_then(Value::as_str)
}

fn outcome(finding: &Finding, decision: Decision, before: Value, after: Value, reason: impl Into<String>) -> Outcome {
    Outcome {
        rule: finding.rule,
        resource: finding.resource.clone(),
        decision,
        before,
        after,
        reason: reason.into(),
        error: None,
    }
}

fn from_error(finding: &Finding, e: AdminError, before: Value) -> Outcome {
    match e {
        AdminError::NotFound(what) => outcome(
            finding,
            Decision::NotFound,
            before,
            Value::Null,
            format!("{what} does not exist any more"),
        ),
        e => Outcome {
            reason: e.to_string(),
            error: Some(e),
            ..outcome(finding, Decision::Failed, before, Value::Null, "")
        },
    }
}

async fn decide<A: Admins>(admins: &A, config: &RemediationConfig, record: &Value, finding: &Finding) -> Outcome {
    if let Some(arn) = actor(record).filter(|a| principal_exempt(a, &config.exempt_principals)) {
        return outcome(
            finding,
            Decision::Exempt,
            Value::Null,
            Value::Null,
            format!("changes by {arn} are exempt (exempt principals)"),
        );
    }
    let name = resource_name(&finding.resource);
    if let Some(p) = config.exempt_resources.iter().find(|p| glob(p, &name)) {
        return outcome(
            finding,
            Decision::Exempt,
            Value::Null,
            Value::Null,
            format!("{name} matches the exempt resource pattern {p:?}"),
        );
    }
    let result = match &finding.resource {
        Resource::Bucket { name, key } => match finding.rule {
            RuleId::S3BucketPolicyPublic => bucket_policy(admins, config, finding, name).await,
            RuleId::S3BucketAclPublic => bucket_acl(admins, config, finding, name, key.as_deref()).await,
            _ => bucket_pab(admins, config, finding, name).await,
        },
        Resource::AccountPublicAccessBlock { account } => account_pab(admins, config, finding, account).await,
        Resource::SecurityGroup {
            group_id, group_name, ..
        } => security_group(admins, config, finding, group_id.as_deref(), group_name.as_deref()).await,
        Resource::Trail { name } => trail(admins, config, finding, name, record).await,
    };
    result.unwrap_or_else(|(e, before)| from_error(finding, e, before))
}

type Step = Result<Outcome, (AdminError, Value)>;

fn no_state(e: AdminError) -> (AdminError, Value) {
    (e, Value::Null)
}

fn verify_failed(finding: &Finding, before: Value, after: Value, why: &str) -> Outcome {
    Outcome {
        error: Some(AdminError::Failed {
            action: "verify".into(),
            why: why.to_owned(),
        }),
        ..outcome(finding, Decision::Failed, before, after, why)
    }
}

/// The `Trailsight Remediation` event for one outcome.
pub fn decision_event(record: &Value, mode: Mode, o: &Outcome) -> Envelope {
    let text = |k: &str| record.get(k).and_then(Value::as_str).unwrap_or("");
    let account = record
        .get("recipientAccountId")
        .or_else(|| record.pointer("/userIdentity/accountId"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let region = text("awsRegion").to_owned();
    let event_id = text("eventID");
    let detail = json!({
        "decision": o.decision,
        "mode": mode,
        "rule": o.rule,
        "resource": o.resource,
        "reason": o.reason,
        "trigger": {
            "eventID": event_id,
            "eventName": text("eventName"),
            "eventSource": text("eventSource"),
            "eventTime": text("eventTime"),
        },
        "actor": {
            "arn": actor(record),
            "sourceIPAddress": record.get("sourceIPAddress"),
        },
        "before": o.before,
        "after": o.after,
        "error": o.error.as_ref().map(ToString::to_string),
    });
    let time = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    Envelope::new(
        deterministic_id(&["remediation", event_id, o.rule.as_str(), o.decision.as_str()]),
        DETAIL_TYPE_REMEDIATION,
        account.clone(),
        time,
        region.clone(),
        o.resource.arns(&account, &region),
        detail,
    )
}

#[cfg(test)]
mod tests;
