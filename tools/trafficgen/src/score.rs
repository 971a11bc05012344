//! Scoring detector output against the labels: recall, precision, false Starts per day and
//! the delay from an anomaly's start to the Start that caught it.

use serde::Serialize;
use serde_json::Value;

/// The figures of one run.
#[derive(Debug, Serialize)]
pub struct Score {
    /// Labels caught / labels.
    pub recall: f64,
    /// Matching Starts / Starts.
    pub precision: f64,
    /// Unmatched Starts per simulated day, over the whole run.
    pub false_starts_per_day: f64,
    /// Median minutes from a caught label's start to its first Start's detection.
    pub median_delay_minutes: Option<f64>,
    /// Labels scored.
    pub labels: usize,
    /// Starts seen.
    pub starts: usize,
    /// Labels missed (ids).
    pub missed: Vec<String>,
    /// Starts matching no label: `time region source name type`.
    pub false_starts: Vec<String>,
}

fn minute(s: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(s).ok().map(|t| t.timestamp().div_euclid(60))
}

fn text<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    path.iter().try_fold(v, |v, k| v.get(*k)).and_then(Value::as_str).unwrap_or("")
}

/// Scores `events` (JSON lines) against `labels` (the generator's labels file).
pub fn score(labels: &Value, events: &str) -> Score {
    let days = labels.get("days").and_then(Value::as_f64).unwrap_or(1.0).max(1.0);
    let anomalies: Vec<&Value> = labels
        .get("anomalies")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter(|l| text(l, &["kind"]) != "risky").collect())
        .unwrap_or_default();
    let starts: Vec<Value> = events
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| {
            text(e, &["detail-type"]) == "AWS Insight via CloudTrail"
                && text(e, &["detail", "insightDetails", "state"]) == "Start"
        })
        .collect();
    let matches = |label: &Value, e: &Value| {
        let d = &e["detail"];
        let (Some(ls), Some(le), Some(t)) =
            (minute(text(label, &["start"])), minute(text(label, &["end"])), minute(text(d, &["eventTime"])))
        else {
            return false;
        };
        text(label, &["account"]) == text(d, &["recipientAccountId"])
            && text(label, &["region"]) == text(d, &["awsRegion"])
            && text(label, &["eventSource"]) == text(d, &["insightDetails", "eventSource"])
            && text(label, &["eventName"]) == text(d, &["insightDetails", "eventName"])
            && text(label, &["insightType"]) == text(d, &["insightDetails", "insightType"])
            && t >= ls - 5
            && t <= le + 15
    };
    let mut delays = vec![];
    let mut missed = vec![];
    for l in &anomalies {
        let first = starts
            .iter()
            .filter(|e| matches(l, e))
            .filter_map(|e| {
                let d = &e["detail"];
                let at = d
                    .get("trailsight")
                    .and_then(|t| t.get("detectedAt"))
                    .and_then(Value::as_str)
                    .unwrap_or(text(d, &["eventTime"]));
                minute(at)
            })
            .min();
        match (first, minute(text(l, &["start"]))) {
            (Some(at), Some(start)) => delays.push((at - start) as f64),
            _ => missed.push(format!(
                "{} {} {} {}",
                text(l, &["id"]),
                text(l, &["kind"]),
                text(l, &["eventName"]),
                text(l, &["start"])
            )),
        }
    }
    let false_starts: Vec<String> = starts
        .iter()
        .filter(|e| !anomalies.iter().any(|l| matches(l, e)))
        .map(|e| {
            let d = &e["detail"];
            format!(
                "{} {} {} {} {}",
                text(d, &["eventTime"]),
                text(d, &["awsRegion"]),
                text(d, &["insightDetails", "eventSource"]),
                text(d, &["insightDetails", "eventName"]),
                text(d, &["insightDetails", "insightType"])
            )
        })
        .collect();
    delays.sort_by(f64::total_cmp);
    let median = (!delays.is_empty()).then(|| delays[delays.len() / 2]);
    let matched = starts.len() - false_starts.len();
    Score {
        recall: if anomalies.is_empty() {
            1.0
        } else {
            (anomalies.len() - missed.len()) as f64 / anomalies.len() as f64
        },
        precision: if starts.is_empty() { 1.0 } else { matched as f64 / starts.len() as f64 },
        false_starts_per_day: false_starts.len() as f64 / days,
        median_delay_minutes: median,
        labels: anomalies.len(),
        starts: starts.len(),
        missed,
        false_starts,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_matching_start_is_recalled_and_an_unmatched_one_is_false() {
        // Given one label and two Starts, one on the labelled API in time and one elsewhere
        let labels = json!({"days": 2, "anomalies": [{"id":"a","kind":"recon-burst","account":"1","region":"r","eventSource":"iam.amazonaws.com","eventName":"ListUsers","insightType":"ApiCallRateInsight","start":"2026-01-12T03:10:00Z","end":"2026-01-12T03:20:00Z"}]});
        let start = |name: &str, t: &str| {
            json!({"detail-type":"AWS Insight via CloudTrail","detail":{"recipientAccountId":"1","awsRegion":"r","eventTime":t,
            "insightDetails":{"state":"Start","eventSource":"iam.amazonaws.com","eventName":name,"insightType":"ApiCallRateInsight"},"trailsight":{"detectedAt":"2026-01-12T03:16:00Z"}}}).to_string()
        };
        let events =
            format!("{}\n{}\n", start("ListUsers", "2026-01-12T03:11:00Z"), start("GetRole", "2026-01-12T05:00:00Z"));
        // When scored
        let s = score(&labels, &events);
        // Then recall is 1, precision 1/2, one false Start over two days, delay 6 minutes
        assert_eq!(s.recall, 1.0);
        assert_eq!(s.precision, 0.5);
        assert_eq!(s.false_starts_per_day, 0.5);
        assert_eq!(s.median_delay_minutes, Some(6.0));
    }
}
