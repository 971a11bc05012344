//! The remediation handler: one trigger event in, decisions made (and, in enforce mode,
//! carried out), one `Trailsight Remediation` event per decision sent, a summary out.
//!
//! The invocation fails (so Lambda retries, then the on-failure destination gets it) when the
//! trigger is malformed, when the decision events cannot be delivered, and when a remediation
//! failed, e.g. AccessDenied, after its `failed` event was sent.

use serde_json::{json, Value};
use trailsight_aws::telemetry::Metrics;
use trailsight_core::remediate::ports::{RemediationLedger, Targets};
use trailsight_core::remediate::{remediate, Decision, MalformedTrigger, Outcome, RemediationConfig};
use trailsight_core::rules::Resource;
use trailsight_core::store::ports::{EventSink, SinkError};

/// Why an invocation failed, in the order of the steps where it can go wrong.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// The trigger could not be used.
    #[error(transparent)]
    Malformed(#[from] MalformedTrigger),
    /// A remediation failed (its `failed` event was sent): the outcome that says why.
    #[error("remediation of {} on {} failed: {}", .0.rule.as_str(), resource_text(&.0.resource), .0.reason)]
    Failed(Box<Outcome>),
    /// Decision events could not be delivered.
    #[error(transparent)]
    Sink(#[from] SinkError),
}

/// A resource as its event shows it.
fn resource_text(resource: &Resource) -> String {
    serde_json::to_string(resource).unwrap_or_default()
}

impl From<HandlerError> for lambda_runtime::Diagnostic {
    fn from(e: HandlerError) -> Self {
        let error_type = match &e {
            HandlerError::Malformed(_) => "MalformedTrigger",
            HandlerError::Failed(_) => "RemediationFailed",
            HandlerError::Sink(_) => "EventDeliveryFailed",
        };
        lambda_runtime::Diagnostic { error_type: error_type.to_owned(), error_message: e.to_string() }
    }
}

/// Handles one trigger.
pub async fn handle<T: Targets, L: RemediationLedger + Sync, K: EventSink>(
    targets: &T,
    ledger: &L,
    sink: &K,
    config: &RemediationConfig,
    event: &Value,
) -> Result<Value, HandlerError> {
    let started = std::time::Instant::now();
    let now = chrono::Utc::now().timestamp();
    // Boxed: the per-rule futures nest deeply enough to overflow the layout query depth.
    let report = Box::pin(remediate(targets, ledger, config, event, now)).await?;
    sink.put(&report.events).await?;
    let mut m = Metrics::default();
    m.property("function", "remediate");
    for d in Decision::ALL {
        let n = report.outcomes.iter().filter(|o| o.decision == d).count();
        m.add(d.metric_name(), n as f64, "Count");
    }
    m.add("AlreadyDecided", report.already_decided.len() as f64, "Count");
    m.add("Duration", started.elapsed().as_secs_f64() * 1000.0, "Milliseconds");
    m.emit();
    if let Some(failed) = report.failure() {
        return Err(HandlerError::Failed(Box::new(failed.clone())));
    }
    let decisions: Vec<Value> =
        report.outcomes.iter().map(|o| json!({"rule": o.rule, "decision": o.decision, "reason": o.reason})).collect();
    let already: Vec<Value> =
        report.already_decided.iter().map(|(rule, decision)| json!({"rule": rule, "decision": decision})).collect();
    Ok(json!({ "decisions": decisions, "alreadyDecided": already }))
}

#[cfg(test)]
mod tests;
