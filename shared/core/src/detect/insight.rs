//! Insight records in CloudTrail Insights format, wrapped as EventBridge events.
//!
//! Field for field as AWS publishes them (`eventVersion`, `eventTime`, `awsRegion`, `eventID`,
//! `eventType: AwsCloudTrailInsight`, `recipientAccountId`, `sharedEventID`, `insightDetails`,
//! `eventCategory: Insight`), plus a `trailsight` object that explains the verdict: expected
//! and observed values, the tail probability and the reason in one sentence.

use crate::api::ApiKey;
use crate::events::{deterministic_id, Envelope, DETAIL_TYPE_INSIGHT};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// The kind of insight.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum InsightKind {
    /// Unusual call volume.
    CallRate,
    /// Unusual fraction of calls failing with this errorCode.
    ErrorRate(String),
}

impl InsightKind {
    /// The `insightType` value.
    pub fn insight_type(&self) -> &'static str {
        match self {
            InsightKind::CallRate => "ApiCallRateInsight",
            InsightKind::ErrorRate(_) => "ApiErrorRateInsight",
        }
    }

    /// The errorCode of an error-rate insight.
    pub fn error_code(&self) -> Option<&str> {
        match self {
            InsightKind::CallRate => None,
            InsightKind::ErrorRate(c) => Some(c),
        }
    }
}

/// Why a window was judged anomalous: what the model expected and what it saw.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// Window length in minutes.
    pub window: i64,
    /// Expected calls (or errors) in the window.
    pub expected: f64,
    /// Observed calls (or errors) in the window.
    pub observed: f64,
    /// Tail probability of observing at least that much under the baseline.
    pub p_value: f64,
    /// The reason, in one sentence.
    pub reason: String,
}

/// Top values of one attribute: `(value, average per minute)`.
pub type Attribution = Vec<(String, f64)>;

/// Everything needed to write one Start or End record.
#[derive(Debug, Clone)]
pub struct InsightRecord<'a> {
    /// The API.
    pub api: &'a ApiKey,
    /// Call rate or error rate.
    pub kind: &'a InsightKind,
    /// `Start` or `End`.
    pub state: &'static str,
    /// The insight's first minute (since the epoch).
    pub start: i64,
    /// The minute of this record's eventTime.
    pub at: i64,
    /// Baseline average per minute.
    pub baseline_average: f64,
    /// Average per minute during the insight.
    pub insight_average: f64,
    /// Minutes of baseline behind the insight.
    pub baseline_minutes: i64,
    /// Insight attributions (caller, agent, error code), averages per minute.
    pub insight_attributions: [Attribution; 3],
    /// Baseline attributions, averages per minute.
    pub baseline_attributions: [Attribution; 3],
    /// The verdict that started the insight, or why it ended.
    pub verdict: &'a Verdict,
    /// Minute at which the detector emitted this record.
    pub detected_at: i64,
}

/// The sharedEventID of an insight: derived from the API, insight type and start minute.
pub fn shared_event_id(api: &ApiKey, kind: &InsightKind, start: i64) -> String {
    let start = start.to_string();
    deterministic_id(&[
        "insight",
        &api.account,
        &api.region,
        &api.event_source,
        &api.event_name,
        kind.insight_type(),
        kind.error_code().unwrap_or(""),
        &start,
    ])
}

/// RFC 3339 time of a minute since the epoch.
pub fn minute_time(m: i64) -> String {
    chrono::DateTime::from_timestamp(m.saturating_mul(60), 0)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

fn round(x: f64) -> f64 {
    if x.is_finite() {
        (x * 1e6).round() / 1e6
    } else {
        0.0
    }
}

fn attribution_json(name: &str, insight: &Attribution, baseline: &Attribution) -> Value {
    let list = |a: &Attribution| -> Vec<Value> {
        a.iter().take(5).map(|(v, avg)| json!({"value": v, "average": round(*avg)})).collect()
    };
    json!({"attribute": name, "insight": list(insight), "baseline": list(baseline)})
}

impl InsightRecord<'_> {
    /// The CloudTrail Insights record (the EventBridge `detail`).
    pub fn detail(&self) -> Value {
        let shared = shared_event_id(self.api, self.kind, self.start);
        let event_id = deterministic_id(&[&shared, self.state]);
        let mut details = json!({
            "state": self.state,
            "eventSource": self.api.event_source,
            "eventName": self.api.event_name,
            "insightType": self.kind.insight_type(),
        });
        if let Some(code) = self.kind.error_code() {
            details["errorCode"] = json!(code);
        }
        let names = ["userIdentityArn", "userAgent", "errorCode"];
        let attributions: Vec<Value> = (0..3)
            .map(|i| attribution_json(names[i], &self.insight_attributions[i], &self.baseline_attributions[i]))
            .collect();
        details["insightContext"] = json!({
            "statistics": {
                "baseline": {"average": round(self.baseline_average)},
                "insight": {"average": round(self.insight_average)},
                "insightDuration": (self.at - self.start).max(1),
                "baselineDuration": self.baseline_minutes.max(0),
            },
            "attributions": attributions,
        });
        json!({
            "eventVersion": "1.08",
            "eventTime": minute_time(self.at),
            "awsRegion": self.api.region,
            "eventID": event_id,
            "eventType": "AwsCloudTrailInsight",
            "recipientAccountId": self.api.account,
            "sharedEventID": shared,
            "insightDetails": details,
            "eventCategory": "Insight",
            "trailsight": {
                "expected": round(self.verdict.expected),
                "observed": round(self.verdict.observed),
                "windowMinutes": self.verdict.window,
                "pValue": self.verdict.p_value,
                "score": round(-self.verdict.p_value.max(1e-300).log10()),
                "reason": self.verdict.reason,
                "detectedAt": minute_time(self.detected_at),
            },
        })
    }

    /// The record as an EventBridge event from source `trailsight`.
    pub fn envelope(&self) -> Envelope {
        let detail = self.detail();
        let id = detail["eventID"].as_str().unwrap_or_default().to_owned();
        Envelope::new(
            id,
            DETAIL_TYPE_INSIGHT,
            self.api.account.clone(),
            minute_time(self.at),
            self.api.region.clone(),
            vec![],
            detail,
        )
    }
}

impl Envelope {
    /// For an insight event, its `insightDetails.state` (`Start` or `End`).
    pub fn state(&self) -> Option<&str> {
        self.detail.get("insightDetails")?.get("state")?.as_str()
    }
}
