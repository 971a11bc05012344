//! Remediation: from a risky-change trigger to the surgical revert of what opened the
//! resource, and one `Trailsight Remediation` event per decision.
//!
//! A trigger is trailsight's own `Trailsight Risky Change` event or AWS's native `AWS API
//! Call via CloudTrail` event; both carry a CloudTrail record, and both go through the same
//! rule engine ([`crate::rules::evaluate`]). Remediation removes only what the record's own
//! request introduced and is still live (the statements, grants, rules or settings of that
//! call), decided on live state re-read just before acting and again after (with a few reads
//! and backoff, for eventual consistency), and every plan ([`plan`]) only removes access. A
//! forged trigger naming a resource therefore cannot make it strip anything the forged
//! record did not really add, and a stale trigger cannot undo a later change: each
//! (eventID, rule) is decided once ([`ports::RemediationLedger::claim`]), and a trigger older
//! than an exempt principal's later change of its resource is `superseded`.
//!
//! Decisions: `remediated`, `would-remediate` (dry-run), `exempt`, `already-fixed`,
//! `needs-review` (trailsight will not change it: a human should look), `superseded`,
//! `out-of-scope` (another account or a region the deployment does not remediate),
//! `not-found`, `failed`. Admins act in the record's own region (and account, through a member
//! role), via [`ports::Targets`].

mod bucket_acl;
mod bucket_policy;
mod db_instance;
mod defences;
mod dispatch;
mod driver;
mod exempt;
mod function;
#[cfg(any(test, feature = "testing"))]
pub mod memory;
mod network_acl;
pub mod plan;
pub mod ports;
mod public_access_block;
mod resource_policy;
mod scope;
mod security_group;
mod selection;
mod sharing;
mod trail;

pub use exempt::{glob, principal_exempt, tag_exempt, Exemptions};
use exempt::{resource_key, resource_name};
pub use scope::Scope;
pub use selection::RuleSelection;

use crate::events::{deterministic_id, Envelope, DETAIL_TYPE_REMEDIATION, DETAIL_TYPE_RISKY_CHANGE};
use crate::rules::{self, record_account, Finding, Resource, RuleId};
use driver::{decided as outcome, errored};
use ports::{
    AdminError, BucketAdmin, Claim, DbInstanceAdmin, DefenceAdmin, FunctionAdmin, NetworkAclAdmin, Pause, Place,
    PublicAccessBlockAdmin, RemediationLedger, ResourcePolicyAdmin, SecurityGroupAdmin, SeenChange, SharingAdmin,
    Targets, TrailAdmin,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::time::Duration;

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
    /// What is left alone (tag, principals, resource name patterns).
    pub exempt: Exemptions,
    /// How a change is read back before it is judged.
    pub verify: Verification,
    /// The accounts and regions it acts in.
    pub scope: Scope,
    /// The rules remediation may act on in enforce mode; the others are reported
    /// `would-remediate`.
    pub rules: RuleSelection,
}

impl Default for RemediationConfig {
    fn default() -> Self {
        RemediationConfig {
            mode: Mode::DryRun,
            exempt: Exemptions::default(),
            verify: Verification { attempts: 4, backoff: Duration::from_millis(400) },
            scope: Scope::default(),
            rules: RuleSelection::Default,
        }
    }
}

/// How live state is read back after a change (eventual consistency).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verification {
    /// Reads of live state after a change before it is judged not to have taken effect.
    pub attempts: u32,
    /// The wait before the second read; it doubles before each further one.
    pub backoff: Duration,
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
    /// trailsight will not change this: a human should review it (selectors that hide events,
    /// an exemption granted, an account-wide fix that would close an exempt bucket).
    NeedsReview,
    /// A later change of the same resource was seen: this older trigger changes nothing.
    Superseded,
    /// The change happened in an account or region this deployment does not remediate.
    OutOfScope,
    /// The resource no longer exists.
    NotFound,
    /// The remediation could not be done.
    Failed,
}

impl Decision {
    /// Every decision.
    pub const ALL: [Decision; 9] = [
        Decision::Remediated,
        Decision::WouldRemediate,
        Decision::Exempt,
        Decision::AlreadyFixed,
        Decision::NeedsReview,
        Decision::Superseded,
        Decision::OutOfScope,
        Decision::NotFound,
        Decision::Failed,
    ];

    /// The public name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Decision::Remediated => "remediated",
            Decision::WouldRemediate => "would-remediate",
            Decision::Exempt => "exempt",
            Decision::AlreadyFixed => "already-fixed",
            Decision::NeedsReview => "needs-review",
            Decision::Superseded => "superseded",
            Decision::OutOfScope => "out-of-scope",
            Decision::NotFound => "not-found",
            Decision::Failed => "failed",
        }
    }

    /// The name of its count in the function's metrics.
    pub fn metric_name(&self) -> &'static str {
        match self {
            Decision::Remediated => "Remediated",
            Decision::WouldRemediate => "WouldRemediate",
            Decision::Exempt => "Exempt",
            Decision::AlreadyFixed => "AlreadyFixed",
            Decision::NeedsReview => "NeedsReview",
            Decision::Superseded => "Superseded",
            Decision::OutOfScope => "OutOfScope",
            Decision::NotFound => "NotFound",
            Decision::Failed => "Failed",
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
    let detail_type =
        event.get("detail-type").and_then(Value::as_str).ok_or(MalformedTrigger::Missing("detail-type"))?;
    let detail = event.get("detail").filter(|d| d.is_object()).ok_or(MalformedTrigger::Missing("detail"))?;
    let record = match detail_type {
        DETAIL_TYPE_RISKY_CHANGE => {
            detail.get("record").filter(|r| r.is_object()).ok_or(MalformedTrigger::Missing("detail.record"))?
        }
        "AWS API Call via CloudTrail" => detail,
        other => return Err(MalformedTrigger::Unsupported(other.to_owned())),
    };
    for (field, name) in
        [("eventSource", "detail.eventSource"), ("eventName", "detail.eventName"), ("eventID", "detail.eventID")]
    {
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
    /// One per finding decided by this trigger.
    pub outcomes: Vec<Outcome>,
    /// The `Trailsight Remediation` events, one per outcome.
    pub events: Vec<Envelope>,
    /// Findings another trigger of the same call decided already (rule, its decision): no
    /// second decision event is sent for them.
    pub already_decided: Vec<(RuleId, String)>,
}

impl Report {
    /// The first failure, which should fail the invocation (so the on-failure destination
    /// sees it). A failure caused by state only a human can fix does not.
    pub fn failure(&self) -> Option<&Outcome> {
        self.outcomes.iter().find(|o| o.decision == Decision::Failed && o.error.is_some())
    }
}

macro_rules! admin_ports {
    ($($port:ident),+ $(,)?) => {
        /// Every admin port remediation needs.
        pub trait Admins: $($port +)+ Pause + Sync {}
        impl<T: $($port +)+ Pause + Sync> Admins for T {}
    };
}

admin_ports!(
    BucketAdmin,
    PublicAccessBlockAdmin,
    SecurityGroupAdmin,
    TrailAdmin,
    ResourcePolicyAdmin,
    FunctionAdmin,
    SharingAdmin,
    NetworkAclAdmin,
    DbInstanceAdmin,
    DefenceAdmin,
);

/// Runs one trigger: evaluates its record, claims each finding, decides and (in enforce mode)
/// acts on it in the record's account and region, and records the decision. `now` is the time
/// in seconds since the epoch.
pub async fn remediate<T: Targets, L: RemediationLedger + Sync>(
    targets: &T,
    ledger: &L,
    config: &RemediationConfig,
    event: &Value,
    now: i64,
) -> Result<Report, MalformedTrigger> {
    let record = trigger_record(event)?;
    let settings = rules::RuleSettings { exempt_tag_key: config.exempt.tag.clone() };
    let findings = rules::evaluate_with(record, &settings);
    let event_id = record.get("eventID").and_then(Value::as_str).unwrap_or("");
    if findings.is_empty() {
        tracing::info!(event_id, "the call breaks no rule (failed call, look-alike or forged trigger): nothing to do");
    }
    let mut outcomes = Vec::with_capacity(findings.len());
    let mut already_decided = vec![];
    let scope = config.scope.of(record);
    let region = record.get("awsRegion").and_then(Value::as_str).unwrap_or("");
    let mut admins = None;
    for finding in &findings {
        let rule = finding.rule.as_str();
        let outcome = match ledger.claim(event_id, rule, now).await {
            Ok(Claim::Taken(decision)) => {
                tracing::info!(rule, event_id, decision, "another trigger of this call decided it already");
                already_decided.push((finding.rule, decision));
                continue;
            }
            Ok(Claim::Won) => match &scope {
                Err(why) => outcome(finding, Decision::OutOfScope, Value::Null, Value::Null, why.clone()),
                Ok(role) => {
                    if admins.is_none() {
                        let place = Place { account: record_account(record), region, role_arn: role.as_deref() };
                        admins = Some(targets.admins(place).await);
                    }
                    match &admins {
                        Some(Ok(a)) => decide(&**a, ledger, config, record, finding, now).await,
                        Some(Err(e)) => from_error(finding, e.clone(), Value::Null),
                        None => from_error(finding, AdminError::NotFound("the record's account".into()), Value::Null),
                    }
                }
            },
            Err(e) => from_error(finding, e, Value::Null),
        };
        if let Err(e) = ledger.finish(event_id, rule, outcome.decision.as_str(), now).await {
            tracing::warn!(rule, event_id, error = %e, "the decision could not be recorded; a later trigger of this call may decide again");
        }
        tracing::info!(
            rule,
            decision = outcome.decision.as_str(),
            reason = %outcome.reason,
            event_id,
            "remediation decision"
        );
        outcomes.push(outcome);
    }
    let events = outcomes.iter().map(|o| decision_event(record, config.mode, o)).collect();
    Ok(Report { outcomes, events, already_decided })
}

fn actor(record: &Value) -> Option<&str> {
    let u = record.get("userIdentity")?;
    u.get("arn").or_else(|| u.get("invokedBy")).or_else(|| u.get("principalId")).and_then(Value::as_str)
}

/// The exempt principal that made the call, if any: its ARN, its session's role, or the role
/// that issued its session (`userIdentity.sessionContext.sessionIssuer.arn`, which keeps a
/// role's path, as IAM Identity Center's `aws-reserved/sso.amazonaws.com/...` roles have).
fn exempt_actor<'a>(record: &'a Value, exempt: &[String]) -> Option<&'a str> {
    let issuer = record.pointer("/userIdentity/sessionContext/sessionIssuer/arn").and_then(Value::as_str);
    actor(record).into_iter().chain(issuer).find(|arn| principal_exempt(arn, exempt))
}

/// The time of the call, `YYYY-MM-DDTHH:MM:SSZ` (comparable as text).
fn event_time(record: &Value) -> String {
    let raw = record.get("eventTime").and_then(Value::as_str).unwrap_or("");
    chrono::DateTime::parse_from_rfc3339(raw)
        .map(|t| t.with_timezone(&chrono::Utc).format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|_| raw.to_owned())
}

fn from_error(finding: &Finding, e: AdminError, before: Value) -> Outcome {
    errored(finding, e, before, |what| format!("{what} does not exist any more"))
}

/// Decides one claimed finding: the checks that leave it alone (a later exempt change,
/// exemptions), then its remediation.
async fn decide<A: Admins, L: RemediationLedger + Sync>(
    admins: &A,
    ledger: &L,
    config: &RemediationConfig,
    record: &Value,
    finding: &Finding,
    now: i64,
) -> Outcome {
    match left_alone(ledger, config, record, finding, now).await {
        Some(outcome) => outcome,
        None => dispatch::dispatch(admins, config, record, finding).await,
    }
}

/// The outcome of a finding remediation must leave alone: superseded by an exempt principal's
/// later change, or exempt by principal or resource pattern; `None` to go on.
async fn left_alone<L: RemediationLedger + Sync>(
    ledger: &L,
    config: &RemediationConfig,
    record: &Value,
    finding: &Finding,
    now: i64,
) -> Option<Outcome> {
    let change = SeenChange {
        time: event_time(record),
        event_id: record.get("eventID").and_then(Value::as_str).unwrap_or("").to_owned(),
    };
    let account = record.get("recipientAccountId").and_then(Value::as_str).unwrap_or("");
    let region = record.get("awsRegion").and_then(Value::as_str).unwrap_or("");
    let key = format!("{account}/{region}/{}/{}", finding.rule.as_str(), resource_key(&finding.resource));
    let exempt = exempt_actor(record, &config.exempt.principals);
    match ledger.observe(&key, &change, exempt.is_some(), now).await {
        Ok(Some(newer)) => {
            return Some(outcome(
                finding,
                Decision::Superseded,
                Value::Null,
                Value::Null,
                format!(
                    "an exempt principal changed the same resource later, at {} (event {}): this call of {} is left as that change left it",
                    newer.time, newer.event_id, change.time
                ),
            ))
        }
        Ok(None) => {}
        Err(e) => return Some(from_error(finding, e, Value::Null)),
    }
    if let Some(arn) = exempt {
        return Some(outcome(
            finding,
            Decision::Exempt,
            Value::Null,
            Value::Null,
            format!("changes by {arn} are exempt (exempt principals)"),
        ));
    }
    let name = resource_name(&finding.resource);
    config.exempt.pattern(&name).map(|p| {
        outcome(
            finding,
            Decision::Exempt,
            Value::Null,
            Value::Null,
            format!("{name} matches the exempt resource pattern {p:?}"),
        )
    })
}

/// The `Trailsight Remediation` event for one outcome.
pub fn decision_event(record: &Value, mode: Mode, o: &Outcome) -> Envelope {
    let text = |k: &str| record.get(k).and_then(Value::as_str).unwrap_or("");
    let account = record_account(record).to_owned();
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
        o.resource.arns(&rules::partition(record), &account, &region),
        detail,
    )
}

#[cfg(test)]
mod tests;
