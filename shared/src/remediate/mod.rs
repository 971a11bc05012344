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

pub mod memory;
pub mod plan;
pub mod ports;

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

/// Whether `arn` is (or is a session of) one of the exempt principals.
pub fn principal_exempt(arn: &str, exempt: &[String]) -> bool {
    let role_arn = assumed_role_arn(arn);
    exempt
        .iter()
        .any(|e| e == arn || role_arn.as_deref() == Some(e.as_str()) || (e.contains('*') && glob(e, arn)))
}

/// `arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION` → `arn:aws:iam::ACCOUNT:role/ROLE`.
fn assumed_role_arn(arn: &str) -> Option<String> {
    let rest = arn.strip_prefix("arn:")?;
    let mut parts = rest.splitn(5, ':');
    let (partition, service, _, account, resource) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    if service != "sts" {
        return None;
    }
    let role = resource.strip_prefix("assumed-role/")?.split('/').next()?;
    Some(format!("arn:{partition}:iam::{account}:role/{role}"))
}

/// Matches `text` against `pattern`, where `*` matches any run of characters.
pub fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

fn resource_name(resource: &Resource) -> String {
    match resource {
        Resource::Bucket { name, .. } => name.clone(),
        Resource::AccountPublicAccessBlock { account } => account.clone(),
        Resource::SecurityGroup {
            group_id, group_name, ..
        } => group_id.clone().or_else(|| group_name.clone()).unwrap_or_default(),
        Resource::Trail { name } => name.clone(),
    }
}

fn tag_exempt(tags: &std::collections::BTreeMap<String, String>, key: &str) -> bool {
    tags.get(key).is_some_and(|v| !v.eq_ignore_ascii_case("false"))
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

async fn exempt_by_bucket_tag<A: Admins>(
    admins: &A,
    config: &RemediationConfig,
    finding: &Finding,
    bucket: &str,
) -> Result<Option<Outcome>, (AdminError, Value)> {
    let tags = admins.tags(bucket).await.map_err(no_state)?;
    Ok(tag_exempt(&tags, &config.exempt_tag).then(|| {
        outcome(
            finding,
            Decision::Exempt,
            Value::Null,
            Value::Null,
            format!("bucket {bucket} carries the exemption tag {}", config.exempt_tag),
        )
    }))
}

fn parse_policy(text: &Option<String>) -> Value {
    match text {
        None => Value::Null,
        Some(t) => serde_json::from_str(t).unwrap_or_else(|_| Value::String(t.clone())),
    }
}

async fn bucket_policy<A: Admins>(admins: &A, config: &RemediationConfig, finding: &Finding, bucket: &str) -> Step {
    if let Some(exempt) = exempt_by_bucket_tag(admins, config, finding, bucket).await? {
        return Ok(exempt);
    }
    let live = admins.policy(bucket).await.map_err(no_state)?;
    let before = parse_policy(&live);
    let Some(text) = live else {
        return Ok(outcome(
            finding,
            Decision::AlreadyFixed,
            before,
            Value::Null,
            "the bucket has no policy any more",
        ));
    };
    let plan = plan::strip_public_statements(&text).map_err(|e| {
        (
            AdminError::Failed {
                action: "s3:GetBucketPolicy".into(),
                why: e.to_string(),
            },
            before.clone(),
        )
    })?;
    let (intended, removed) = match &plan {
        PolicyPlan::NotPublic => {
            return Ok(outcome(
                finding,
                Decision::AlreadyFixed,
                before.clone(),
                before,
                "the live policy is not public",
            ))
        }
        PolicyPlan::Rewrite { policy, removed } => (parse_policy(&Some(policy.clone())), removed.len()),
        PolicyPlan::Delete { removed } => (Value::Null, removed.len()),
    };
    if config.mode == Mode::DryRun {
        return Ok(outcome(
            finding,
            Decision::WouldRemediate,
            before,
            intended,
            format!("dry-run: would remove {removed} public statement(s) from the bucket policy"),
        ));
    }
    let applied = match &plan {
        PolicyPlan::Rewrite { policy, .. } => admins.put_policy(bucket, policy).await,
        _ => admins.delete_policy(bucket).await,
    };
    applied.map_err(|e| (e, before.clone()))?;
    let after_text = admins.policy(bucket).await.map_err(|e| (e, before.clone()))?;
    let after = parse_policy(&after_text);
    if after_text
        .as_deref()
        .is_some_and(|t| serde_json::from_str(t).is_ok_and(|v: Value| rules::s3_policy::is_public(&v)))
    {
        return Ok(verify_failed(
            finding,
            before,
            after,
            "the bucket policy is still public after the change",
        ));
    }
    Ok(outcome(
        finding,
        Decision::Remediated,
        before,
        after,
        format!("removed {removed} public statement(s) from the bucket policy; other statements unchanged"),
    ))
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

async fn bucket_acl<A: Admins>(
    admins: &A,
    config: &RemediationConfig,
    finding: &Finding,
    bucket: &str,
    key: Option<&str>,
) -> Step {
    if let Some(exempt) = exempt_by_bucket_tag(admins, config, finding, bucket).await? {
        return Ok(exempt);
    }
    let live = admins.acl(bucket, key).await.map_err(no_state)?;
    let before = json!(live);
    let Some((fixed, removed)) = plan::strip_public_grants(&live) else {
        return Ok(outcome(
            finding,
            Decision::AlreadyFixed,
            before.clone(),
            before,
            "the live ACL grants nothing to the public groups",
        ));
    };
    let what = if key.is_some() { "object ACL" } else { "bucket ACL" };
    if config.mode == Mode::DryRun {
        return Ok(outcome(
            finding,
            Decision::WouldRemediate,
            before,
            json!(fixed),
            format!(
                "dry-run: would remove {} public grant(s) from the {what}",
                removed.len()
            ),
        ));
    }
    admins
        .put_acl(bucket, key, &fixed)
        .await
        .map_err(|e| (e, before.clone()))?;
    let after = admins.acl(bucket, key).await.map_err(|e| (e, before.clone()))?;
    if plan::strip_public_grants(&after).is_some() {
        return Ok(verify_failed(
            finding,
            before,
            json!(after),
            "the ACL still grants the public groups",
        ));
    }
    Ok(outcome(
        finding,
        Decision::Remediated,
        before,
        json!(after),
        format!(
            "removed {} public grant(s) from the {what}; owner and other grants kept",
            removed.len()
        ),
    ))
}

async fn bucket_pab<A: Admins>(admins: &A, config: &RemediationConfig, finding: &Finding, bucket: &str) -> Step {
    if let Some(exempt) = exempt_by_bucket_tag(admins, config, finding, bucket).await? {
        return Ok(exempt);
    }
    public_access_block_on(
        config,
        finding,
        "bucket",
        async || admins.public_access_block(bucket).await,
        async |fix| admins.put_public_access_block(bucket, fix).await,
    )
    .await
}

async fn account_pab<A: Admins>(admins: &A, config: &RemediationConfig, finding: &Finding, account: &str) -> Step {
    public_access_block_on(
        config,
        finding,
        "account",
        async || admins.account_public_access_block(account).await,
        async |fix| admins.put_account_public_access_block(account, fix).await,
    )
    .await
}

/// Turns all four public access block settings on at one `level` (bucket or account): reads
/// the live settings, writes only if one is off, and reads them back to verify.
async fn public_access_block_on(
    config: &RemediationConfig,
    finding: &Finding,
    level: &str,
    read: impl AsyncFn() -> Result<Option<PublicAccessBlock>, AdminError>,
    write: impl AsyncFn(&PublicAccessBlock) -> Result<(), AdminError>,
) -> Step {
    let live = read().await.map_err(no_state)?;
    let before = json!(live);
    let Some(fix) = plan::public_access_block_fix(live.as_ref()) else {
        return Ok(outcome(
            finding,
            Decision::AlreadyFixed,
            before.clone(),
            before,
            format!("all four {level} public access block settings are on"),
        ));
    };
    if config.mode == Mode::DryRun {
        return Ok(outcome(
            finding,
            Decision::WouldRemediate,
            before,
            json!(fix),
            format!("dry-run: would turn all four {level} public access block settings on"),
        ));
    }
    write(&fix).await.map_err(|e| (e, before.clone()))?;
    let after = read().await.map_err(|e| (e, before.clone()))?;
    if plan::public_access_block_fix(after.as_ref()).is_some() {
        return Ok(verify_failed(
            finding,
            before,
            json!(after),
            &format!("the {level} public access block is still not fully on"),
        ));
    }
    Ok(outcome(
        finding,
        Decision::Remediated,
        before,
        json!(after),
        format!("turned all four {level} public access block settings on"),
    ))
}

async fn security_group<A: Admins>(
    admins: &A,
    config: &RemediationConfig,
    finding: &Finding,
    id: Option<&str>,
    name: Option<&str>,
) -> Step {
    let live = admins.group(id, name).await.map_err(no_state)?;
    let before = json!(live.ingress);
    if tag_exempt(&live.tags, &config.exempt_tag) {
        return Ok(outcome(
            finding,
            Decision::Exempt,
            before,
            Value::Null,
            format!(
                "security group {} carries the exemption tag {}",
                live.id, config.exempt_tag
            ),
        ));
    }
    let revoke = plan::world_open_admin(&live.ingress);
    if revoke.is_empty() {
        return Ok(outcome(
            finding,
            Decision::AlreadyFixed,
            before.clone(),
            before,
            "no admin port is open to the world any more",
        ));
    }
    if config.mode == Mode::DryRun {
        return Ok(outcome(
            finding,
            Decision::WouldRemediate,
            before,
            json!({"revoke": revoke}),
            format!(
                "dry-run: would revoke {} world-open admin-port rule(s) from {}",
                revoke.len(),
                live.id
            ),
        ));
    }
    admins
        .revoke(&live.id, &revoke)
        .await
        .map_err(|e| (e, before.clone()))?;
    let after = admins
        .group(Some(&live.id), None)
        .await
        .map_err(|e| (e, before.clone()))?;
    if !plan::world_open_admin(&after.ingress).is_empty() {
        return Ok(verify_failed(
            finding,
            before,
            json!(after.ingress),
            "admin ports are still open to the world",
        ));
    }
    Ok(outcome(
        finding,
        Decision::Remediated,
        before,
        json!(after.ingress),
        format!(
            "revoked {} world-open admin-port rule(s) from {}; other rules kept",
            revoke.len(),
            live.id
        ),
    ))
}

async fn trail<A: Admins>(
    admins: &A,
    config: &RemediationConfig,
    finding: &Finding,
    name: &str,
    record: &Value,
) -> Step {
    let event_name = record.get("eventName").and_then(Value::as_str).unwrap_or("");
    let status = match admins.trail_status(name).await {
        Err(AdminError::NotFound(_)) if event_name == "DeleteTrail" => {
            return Ok(outcome(
                finding,
                Decision::NotFound,
                Value::Null,
                Value::Null,
                format!("trail {name} was deleted and cannot be brought back: recreate it (its S3 logs are kept)"),
            ));
        }
        other => other.map_err(no_state)?,
    };
    let before = json!(status);
    if status.is_logging {
        let reason = if matches!(event_name, "UpdateTrail" | "PutEventSelectors") {
            "the trail is logging; review its event selectors, which the call changed (trailsight restores logging, not selectors)"
        } else {
            "the trail is logging again"
        };
        return Ok(outcome(finding, Decision::AlreadyFixed, before.clone(), before, reason));
    }
    if config.mode == Mode::DryRun {
        return Ok(outcome(
            finding,
            Decision::WouldRemediate,
            before,
            json!(TrailStatusView { is_logging: true }),
            format!("dry-run: would start logging on trail {name}"),
        ));
    }
    admins.start_logging(name).await.map_err(|e| (e, before.clone()))?;
    let after = admins.trail_status(name).await.map_err(|e| (e, before.clone()))?;
    if !after.is_logging {
        return Ok(verify_failed(
            finding,
            before,
            json!(after),
            "the trail is still not logging",
        ));
    }
    Ok(outcome(
        finding,
        Decision::Remediated,
        before,
        json!(after),
        format!("started logging on trail {name}"),
    ))
}

#[derive(Serialize)]
struct TrailStatusView {
    is_logging: bool,
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
