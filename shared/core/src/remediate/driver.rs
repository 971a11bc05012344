//! The one driver every remediation runs through: read live state → plan (a pure function of
//! that state) → review (what the state does not show) → (dry-run stops here) → act → read
//! back until the change shows (with backoff, for eventual consistency) → a last cross-check →
//! one decision. A resource carrying the exemption tag is decided `exempt` right after the
//! read. Each remediation ([`Remediation`], one file each) supplies only its read, plan, act
//! and verification; the driver owns the decisions, the before/after states and the reason
//! sentences' shape.

use super::ports::{AdminError, Pause};
use super::{Decision, Mode, Outcome, RemediationConfig};
use crate::rules::Finding;
use serde_json::Value;
use std::future::Future;

/// A resource's tags.
pub type Tags = std::collections::BTreeMap<String, String>;

/// What a remediation makes of live state.
#[derive(Debug)]
pub enum Plan<P> {
    /// A change to make.
    Change {
        /// What to do.
        plan: P,
        /// The state the change should leave (shown as `after` in dry-run).
        intended: Value,
        /// What it does, as a verb phrase ("remove 1 public statement(s) ... from ...").
        what: String,
    },
    /// Nothing to change: the decision (`already-fixed`, `needs-review`) and why. (`exempt` by
    /// tag is decided by the driver, from [`Remediation::tagged`], before any plan.)
    Leave(Decision, String),
}

impl Plan<()> {
    /// The plan for an exposure that is one flag: while it is off, `already-fixed` with
    /// `off` as the reason; while it is on, the change (`what`) that turns it off and leaves
    /// `intended`.
    pub fn flag_off(on: bool, off: String, intended: Value, what: String) -> Self {
        if on {
            Plan::Change { plan: (), intended, what }
        } else {
            Plan::Leave(Decision::AlreadyFixed, off)
        }
    }
}

/// One remediation: how to read the live state a finding concerns, plan the smallest change
/// that only removes access, make it, and tell from a re-read that it took effect.
pub trait Remediation<A: Pause + Sync>: Sync {
    /// Live state.
    type State: Send + Sync;
    /// A planned change.
    type Plan: Send + Sync;

    /// Reads live state; `NotFound` becomes `not-found`.
    fn read(&self, admins: &A) -> impl Future<Output = Result<Self::State, AdminError>> + Send;
    /// The state as the decision event shows it (`before`, `after`).
    fn view(&self, state: &Self::State) -> Value;
    /// The resource's tags and its name in an `exempt` reason; `None` where the exemption tag
    /// does not apply (a trail, a detector, an account-wide fix).
    fn tagged<'s>(&self, state: &'s Self::State) -> Option<(&'s Tags, String)>;
    /// Decides on live state alone: the smallest change that only removes access, or why to
    /// leave it.
    fn plan(&self, state: &Self::State) -> Result<Plan<Self::Plan>, AdminError>;
    /// A look, before a planned change is made, at what the resource's state does not show
    /// (which exempt buckets an account-wide fix would close): `Some(why)` leaves the change
    /// to a person (`needs-review`).
    fn review(
        &self,
        _admins: &A,
        _config: &RemediationConfig,
    ) -> impl Future<Output = Result<Option<String>, AdminError>> + Send {
        async { Ok(None) }
    }
    /// Makes the change.
    fn act(&self, admins: &A, plan: &Self::Plan) -> impl Future<Output = Result<(), AdminError>> + Send;
    /// Whether a re-read state shows the change took effect: by default, when a plan over it
    /// finds nothing left to change (`already-fixed`). A remediation that restores less than
    /// its plan looks at (a trail's logging, not its configuration) says so here.
    fn verified(&self, state: &Self::State) -> bool {
        matches!(self.plan(state), Ok(Plan::Leave(Decision::AlreadyFixed, _)))
    }
    /// What is still wrong when the re-reads never show the change.
    fn unverified(&self) -> String;
    /// A last check of the verified state against another verdict (S3's own): `Some(why)` is
    /// a disagreement, decided `failed`.
    fn cross_check(
        &self,
        _admins: &A,
        _state: &Self::State,
    ) -> impl Future<Output = Result<Option<String>, AdminError>> + Send {
        async { Ok(None) }
    }
    /// The reason of a `not-found` decision for `what` (the missing resource).
    fn not_found(&self, what: &str) -> String {
        format!("{what} does not exist any more")
    }
    /// A sentence completing the reason of a `remediated` decision (what was kept, etc.).
    fn kept(&self, _plan: &Self::Plan) -> String {
        String::new()
    }
}

/// An outcome of `finding` with the given decision.
pub fn decided(
    finding: &Finding,
    decision: Decision,
    before: Value,
    after: Value,
    reason: impl Into<String>,
) -> Outcome {
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

/// The outcome of an error: `not-found`, or `failed` carrying it (which fails the invocation).
pub fn errored(finding: &Finding, e: AdminError, before: Value, not_found: impl FnOnce(&str) -> String) -> Outcome {
    match e {
        AdminError::NotFound(what) => decided(finding, Decision::NotFound, before, Value::Null, not_found(&what)),
        e => Outcome {
            reason: e.to_string(),
            error: Some(e),
            ..decided(finding, Decision::Failed, before, Value::Null, "")
        },
    }
}

fn failed_check(finding: &Finding, before: Value, after: Value, why: String) -> Outcome {
    Outcome {
        error: Some(AdminError::Failed { action: "verify".into(), why: why.clone() }),
        ..decided(finding, Decision::Failed, before, after, why)
    }
}

/// Runs one remediation of `finding` to its decision.
pub async fn run<A: Pause + Sync, R: Remediation<A>>(
    admins: &A,
    config: &RemediationConfig,
    finding: &Finding,
    r: &R,
) -> Outcome {
    let not_found = |what: &str| r.not_found(what);
    let live = match r.read(admins).await {
        Ok(s) => s,
        Err(e) => return errored(finding, e, Value::Null, not_found),
    };
    let before = r.view(&live);
    if let Some((_, name)) = r.tagged(&live).filter(|(tags, _)| config.exempt.tagged(tags)) {
        let why = format!("{name} carries the exemption tag {}=true", config.exempt.tag);
        return decided(finding, Decision::Exempt, before, Value::Null, why);
    }
    let (plan, intended, what) = match r.plan(&live) {
        Ok(Plan::Change { plan, intended, what }) => (plan, intended, what),
        Ok(Plan::Leave(decision, why)) => {
            let after = if decision == Decision::AlreadyFixed || decision == Decision::NeedsReview {
                before.clone()
            } else {
                Value::Null
            };
            return decided(finding, decision, before, after, why);
        }
        Err(e) => return errored(finding, e, before, not_found),
    };
    match r.review(admins, config).await {
        Ok(None) => {}
        Ok(Some(why)) => return decided(finding, Decision::NeedsReview, before.clone(), before, why),
        Err(e) => return errored(finding, e, before, not_found),
    }
    if config.mode == Mode::DryRun {
        return decided(finding, Decision::WouldRemediate, before, intended, format!("dry-run: would {what}"));
    }
    if let Err(e) = r.act(admins, &plan).await {
        return errored(finding, e, before, not_found);
    }
    let (after, ok) = match read_back(admins, config, r).await {
        Ok(x) => x,
        Err(e) => return errored(finding, e, before, not_found),
    };
    let after_view = r.view(&after);
    if !ok {
        return failed_check(finding, before, after_view, r.unverified());
    }
    match r.cross_check(admins, &after).await {
        Ok(None) => {}
        Ok(Some(why)) => return failed_check(finding, before, after_view, why),
        Err(e) => return errored(finding, e, before, not_found),
    }
    let done = format!("{}{}", past(&what), r.kept(&plan));
    decided(finding, Decision::Remediated, before, after_view, done)
}

/// "remove ..." → "removed ...", "turn ..." → "turned ...": the reason of a done change.
fn past(what: &str) -> String {
    let (verb, rest) = what.split_once(' ').unwrap_or((what, ""));
    let done = match verb {
        "remove" => "removed",
        "revoke" => "revoked",
        "turn" => "turned",
        "start" => "started",
        other => other,
    };
    if rest.is_empty() {
        done.to_owned()
    } else {
        format!("{done} {rest}")
    }
}

/// Reads live state until the change shows or the attempts run out (waiting the configured
/// backoff, doubled each time, between reads). Returns the last state read and whether it
/// showed the change.
async fn read_back<A: Pause + Sync, R: Remediation<A>>(
    admins: &A,
    config: &RemediationConfig,
    r: &R,
) -> Result<(R::State, bool), AdminError> {
    let mut wait = config.verify.backoff;
    let mut attempt = 1;
    loop {
        let state = r.read(admins).await?;
        if r.verified(&state) {
            return Ok((state, true));
        }
        if attempt >= config.verify.attempts.max(1) {
            return Ok((state, false));
        }
        admins.pause(wait).await;
        wait = wait.saturating_mul(2);
        attempt += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::past;

    #[test]
    fn a_planned_change_reads_as_done() {
        assert_eq!(past("remove 2 grant(s)"), "removed 2 grant(s)");
        assert_eq!(past("start logging on trail main"), "started logging on trail main");
        assert_eq!(past("revoke the rule(s) sgr-1"), "revoked the rule(s) sgr-1");
    }
}
