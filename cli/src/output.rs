//! What `trailsight replay` prints: events as JSON lines or as a readable table (filtered by
//! kind and severity), the summary line and the `--top` table.
use crate::args::{OnlyArg, SeverityArg};
use serde::Serialize;
use serde_json::Value;
use std::io::Write;
use trailsight_core::api::ApiKey;
use trailsight_core::events::Envelope;
use trailsight_core::ingest::pipeline::{ApiTotals, Stats};

/// The one-line JSON summary printed last on stderr.
#[derive(Debug, Serialize)]
pub struct Summary {
    files: u64,
    records: u64,
    duplicates: u64,
    rejected_files: u64,
    rejected_records: u64,
    skipped_objects: u64,
    seconds: f64,
    already_processed: u64,
    insights_started: u64,
    insights_ended: u64,
    risky_changes: u64,
}

impl Summary {
    /// The summary of a run's stats.
    pub fn new(s: &Stats, already_processed: u64, seconds: f64) -> Self {
        Summary {
            files: s.files,
            records: s.records,
            duplicates: s.duplicates,
            rejected_files: s.rejected_files,
            rejected_records: s.rejected_records,
            skipped_objects: s.skipped_objects,
            seconds: (seconds * 1000.0).round() / 1000.0,
            already_processed,
            insights_started: s.insights_started,
            insights_ended: s.insights_ended,
            risky_changes: s.risky_changes,
        }
    }
}

/// Which events are printed.
#[derive(Debug, Clone, Copy, Default)]
pub struct Filter {
    /// Only this kind.
    pub only: Option<OnlyArg>,
    /// Risky changes of at least this severity.
    pub min_severity: Option<SeverityArg>,
}

impl Filter {
    /// Whether `e` is printed.
    pub fn keeps(&self, e: &Envelope) -> bool {
        let kind = match e.detail_type.as_str() {
            trailsight_core::events::DETAIL_TYPE_RISKY_CHANGE => OnlyArg::Risky,
            trailsight_core::events::DETAIL_TYPE_REMEDIATION => OnlyArg::Remediation,
            _ => OnlyArg::Insights,
        };
        if self.only.is_some_and(|o| o != kind) {
            return false;
        }
        match (self.min_severity, kind) {
            (Some(min), OnlyArg::Risky) => severity(&e.detail).is_some_and(|s| s >= min),
            _ => true,
        }
    }
}

fn severity(detail: &Value) -> Option<SeverityArg> {
    match detail.get("severity")?.as_str()? {
        "medium" => Some(SeverityArg::Medium),
        "high" => Some(SeverityArg::High),
        "critical" => Some(SeverityArg::Critical),
        _ => None,
    }
}

/// How events are written.
#[derive(Debug)]
pub struct Printer {
    table: bool,
    filter: Filter,
    header: bool,
}

impl Printer {
    /// A printer of JSON lines (`table` false) or of a readable table, keeping what `filter`
    /// keeps.
    pub fn new(table: bool, filter: Filter) -> Self {
        Printer { table, filter, header: false }
    }

    /// Writes the events `filter` keeps.
    pub fn write(&mut self, out: &mut dyn Write, events: &[Envelope]) -> std::io::Result<()> {
        for e in events.iter().filter(|e| self.filter.keeps(e)) {
            if !self.table {
                serde_json::to_writer(&mut *out, e)?;
                out.write_all(b"\n")?;
                continue;
            }
            if !self.header {
                writeln!(out, "{:<16} {:<16} {:<26} {:<44} why", "time", "kind", "account/region", "API or resource")?;
                self.header = true;
            }
            let row = Row::of(e);
            writeln!(out, "{:<16} {:<16} {:<26} {:<44} {}", row.time, row.kind, row.place, row.subject, row.why)?;
        }
        Ok(())
    }
}

/// One event as a table row.
#[derive(Debug, PartialEq)]
struct Row {
    time: String,
    kind: String,
    place: String,
    subject: String,
    why: String,
}

fn text<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

impl Row {
    fn of(e: &Envelope) -> Row {
        let d = &e.detail;
        let time: String = e.time.replacen('T', " ", 1).chars().take(16).collect();
        let place = format!("{}/{}", e.account, e.region);
        let (kind, subject, why) = match e.detail_type.as_str() {
            trailsight_core::events::DETAIL_TYPE_RISKY_CHANGE => (
                format!("risky {}", text(d, "/severity")),
                resource_name(&d["resource"]),
                format!("{}: {}", text(d, "/rule"), text(d, "/reason")),
            ),
            trailsight_core::events::DETAIL_TYPE_REMEDIATION => (
                text(d, "/decision").to_owned(),
                resource_name(&d["resource"]),
                format!("{}: {}", text(d, "/rule"), text(d, "/reason")),
            ),
            _ => {
                let state = text(d, "/insightDetails/state").to_ascii_lowercase();
                let rate = match text(d, "/insightDetails/insightType") {
                    "ApiErrorRateInsight" => "errors",
                    _ => "calls",
                };
                let source = text(d, "/insightDetails/eventSource").trim_end_matches(".amazonaws.com");
                let why = match text(d, "/trailsight/reason") {
                    "" => format!(
                        "{} per minute against {} expected",
                        number(d.pointer("/insightDetails/insightContext/statistics/insight/average")),
                        number(d.pointer("/insightDetails/insightContext/statistics/baseline/average"))
                    ),
                    reason => reason.to_owned(),
                };
                (format!("{rate} {state}"), format!("{source}:{}", text(d, "/insightDetails/eventName")), why)
            }
        };
        Row { time, kind, place, subject: clip(&subject, 44), why }
    }
}

/// `s` cut to `width` characters, the cut marked with `…`.
fn clip(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(width.saturating_sub(1)).collect();
    out.push('…');
    out
}

fn number(v: Option<&Value>) -> String {
    match v.and_then(Value::as_f64) {
        Some(x) if x >= 10.0 => format!("{x:.0}"),
        Some(x) => format!("{x:.2}"),
        None => "?".to_owned(),
    }
}

/// A resource's name for a table: its id, name, or the first string it holds.
fn resource_name(r: &Value) -> String {
    for key in ["name", "id", "groupId", "groupName", "account"] {
        if let Some(s) = r.get(key).and_then(Value::as_str) {
            let key_part = r.get("key").and_then(Value::as_str).map(|k| format!("/{k}")).unwrap_or_default();
            return format!("{s}{key_part}");
        }
    }
    match r.get("ids").and_then(Value::as_array) {
        Some(ids) => ids.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(","),
        None => String::new(),
    }
}

/// A readable table of the `n` busiest APIs.
pub fn top_table(totals: &[(&ApiKey, &ApiTotals)], n: usize) -> String {
    let mut rows: Vec<_> = totals.to_vec();
    rows.sort_by(|a, b| b.1.calls.cmp(&a.1.calls).then_with(|| a.0.cmp(b.0)));
    rows.truncate(n);
    let mut s = format!(
        "{:>10} {:>8}  {:<14} {:<12} {:<28} {}\n",
        "calls", "errors", "account", "region", "eventSource", "eventName"
    );
    for (k, t) in rows {
        s.push_str(&format!(
            "{:>10} {:>8}  {:<14} {:<12} {:<28} {}\n",
            t.calls, t.errors, k.account, k.region, k.event_source, k.event_name
        ));
    }
    s
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(detail_type: &str, detail: Value) -> Envelope {
        Envelope::new("id", detail_type, "111122223333", "2026-01-12T03:14:00Z", "us-east-1", vec![], detail)
    }

    fn risky(severity: &str) -> Envelope {
        event(
            "Trailsight Risky Change",
            json!({"rule": "kms-key-policy-public", "severity": severity, "resource": {"type": "KmsKey", "id": "k-1"}, "reason": "key policy grants anyone access"}),
        )
    }

    fn insight() -> Envelope {
        event(
            "AWS Insight via CloudTrail",
            json!({"insightDetails": {"state": "Start", "eventSource": "iam.amazonaws.com", "eventName": "ListUsers", "insightType": "ApiCallRateInsight"},
                   "trailsight": {"reason": "ListUsers had 90 calls in 1 min where its baseline expects 0.2"}}),
        )
    }

    #[test]
    fn only_and_min_severity_keep_what_they_name() {
        // Given an insight and risky changes of two severities
        let (i, high, critical) = (insight(), risky("high"), risky("critical"));
        // When filtered by kind and by severity
        let only_risky = Filter { only: Some(OnlyArg::Risky), min_severity: None };
        let critical_only = Filter { only: None, min_severity: Some(SeverityArg::Critical) };
        // Then each keeps what it names, and insights pass the severity filter
        assert!(!only_risky.keeps(&i) && only_risky.keeps(&high));
        assert!(critical_only.keeps(&i) && !critical_only.keeps(&high) && critical_only.keeps(&critical));
    }

    #[test]
    fn a_table_row_says_when_what_where_and_why() {
        // Given an insight and a risky change printed as a table
        let mut out = Vec::new();
        let mut p = Printer::new(true, Filter::default());
        p.write(&mut out, &[insight(), risky("critical")]).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        // Then a header comes first, then one readable line per event
        assert!(lines[0].starts_with("time"), "{text}");
        assert!(lines[1].starts_with("2026-01-12 03:14"), "{text}");
        assert!(
            lines[1].contains("calls start") && lines[1].contains("iam:ListUsers") && lines[1].contains("90 calls")
        );
        assert!(lines[2].contains("risky critical") && lines[2].contains(" k-1 "));
        assert!(lines[2].contains("kms-key-policy-public: key policy grants anyone access"));
        assert!(lines[2].contains("111122223333/us-east-1"));
    }

    #[test]
    fn json_lines_are_the_events_unchanged() {
        // Given the JSON printer
        let mut out = Vec::new();
        Printer::new(false, Filter::default()).write(&mut out, &[risky("high")]).unwrap();
        // Then the line is the event's own serialization
        let line = String::from_utf8(out).unwrap();
        assert_eq!(line, format!("{}\n", serde_json::to_string(&risky("high")).unwrap()));
    }
}
