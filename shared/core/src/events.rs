//! The events trailsight emits, shaped exactly as EventBridge delivers them to a target.
//!
//! Public contract: source `trailsight`; detail-types `AWS Insight via CloudTrail`,
//! `Trailsight Risky Change` and `Trailsight Remediation`. The same envelope is printed by
//! `trailsight replay` (one JSON line per event) and sent by the Lambda functions with PutEvents.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// EventBridge `source` of every event trailsight emits.
pub const SOURCE: &str = "trailsight";
/// detail-type of rate and error-rate insights (same as CloudTrail Insights, so subscriber rules match).
pub const DETAIL_TYPE_INSIGHT: &str = "AWS Insight via CloudTrail";
/// detail-type of a single risky API call.
pub const DETAIL_TYPE_RISKY_CHANGE: &str = "Trailsight Risky Change";
/// detail-type of a remediation decision.
pub const DETAIL_TYPE_REMEDIATION: &str = "Trailsight Remediation";

/// One event as EventBridge delivers it to a target (`version`, `id`, `detail-type`, ...).
///
/// `id` is deterministic (derived from what the event is about), so a retried computation
/// yields the same id and consumers can de-duplicate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    pub version: String,
    pub id: String,
    #[serde(rename = "detail-type")]
    pub detail_type: String,
    pub source: String,
    pub account: String,
    /// RFC 3339 UTC time, e.g. `2017-06-01T08:00:00Z`.
    pub time: String,
    pub region: String,
    pub resources: Vec<String>,
    pub detail: Value,
}

impl Envelope {
    /// Builds an envelope with source `trailsight` and version `0`.
    pub fn new(
        id: impl Into<String>,
        detail_type: &str,
        account: impl Into<String>,
        time: impl Into<String>,
        region: impl Into<String>,
        resources: Vec<String>,
        detail: Value,
    ) -> Self {
        Envelope {
            version: "0".to_owned(),
            id: id.into(),
            detail_type: detail_type.to_owned(),
            source: SOURCE.to_owned(),
            account: account.into(),
            time: time.into(),
            region: region.into(),
            resources,
            detail,
        }
    }
}

/// The source of `trailsight test-event`'s events: not `trailsight`, which the stack's bus
/// policy reserves for its functions, so a test event can never trigger remediation; the
/// stack's findings route takes both.
pub const TEST_SOURCE: &str = "trailsight.test";

/// The synthetic risky-change event `trailsight test-event` puts on a bus, marked as a test
/// (`detail.test`, rule `trailsight-test-event`, source [`TEST_SOURCE`]).
pub fn test_event(account: &str, region: &str, now: chrono::DateTime<chrono::Utc>) -> Envelope {
    let time = now.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let id = format!("test-{}", now.timestamp_millis());
    let detail = serde_json::json!({
        "test": true,
        "rule": "trailsight-test-event",
        "severity": "medium",
        "eventID": id,
        "eventTime": time,
        "eventName": "TestEvent",
        "account": account,
        "region": region,
        "resource": {"type": "Test"},
        "actor": {"arn": "trailsight test-event", "sourceIPAddress": null, "userAgent": "trailsight-cli"},
        "reason": "trailsight test event: if you read this, trailsight's findings reach you (nothing happened in your account)",
    });
    let mut e =
        Envelope::new(id, DETAIL_TYPE_RISKY_CHANGE, account.to_owned(), time, region.to_owned(), vec![], detail);
    e.source = TEST_SOURCE.to_owned();
    e
}

/// Namespace for trailsight's deterministic (UUID v5) identifiers.
const ID_NAMESPACE: uuid::Uuid = uuid::Uuid::from_u128(0x7a1b_5e9c_3d2f_4a8b_9c6d_1e2f_3a4b_5c6d);

/// A deterministic UUID (v5) for `parts`, so repeated or retried computations give the same id.
pub fn deterministic_id(parts: &[&str]) -> String {
    let joined = parts.join("\u{1f}");
    uuid::Uuid::new_v5(&ID_NAMESPACE, joined.as_bytes()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_test_event_is_marked_and_cannot_pass_for_a_real_finding() {
        // Given a test event
        let e = test_event("111122223333", "eu-west-1", chrono::Utc::now());
        // Then it is a risky change by shape, but marked, with its own source and rule
        assert_eq!((e.source.as_str(), e.detail_type.as_str()), (TEST_SOURCE, DETAIL_TYPE_RISKY_CHANGE));
        assert_eq!(e.detail["test"], true);
        assert_eq!(e.detail["rule"], "trailsight-test-event");
        assert!(crate::rules::RuleId::parse("trailsight-test-event").is_none());
    }

    #[test]
    fn deterministic_ids_are_stable_and_distinct() {
        // Given two computations of the same key and one of another
        let a = deterministic_id(&["123", "us-east-1", "ec2.amazonaws.com", "RunInstances"]);
        let b = deterministic_id(&["123", "us-east-1", "ec2.amazonaws.com", "RunInstances"]);
        let c = deterministic_id(&["123", "us-east-1", "ec2.amazonaws.com", "StopInstances"]);
        // Then the same key gives the same id, another key another id
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn envelope_serializes_with_eventbridge_field_names() {
        // Given an envelope
        let e = Envelope::new(
            "id-1",
            DETAIL_TYPE_RISKY_CHANGE,
            "1",
            "2020-01-01T00:00:00Z",
            "eu-west-1",
            vec![],
            Value::Null,
        );
        // When serialized
        let v = serde_json::to_value(&e).unwrap_or_default();
        // Then the fields are named as EventBridge names them
        assert_eq!(v["detail-type"], "Trailsight Risky Change");
        assert_eq!(v["source"], "trailsight");
        assert_eq!(v["version"], "0");
    }
}
