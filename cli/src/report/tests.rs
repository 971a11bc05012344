//! The report's content: pairing, charts, escaping, reading events.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
use serde_json::json;
use trailsight_core::detect::{Band, ChartPoint, InsightKind};
use trailsight_core::events::Envelope;

fn insight(state: &str, shared: &str, time: &str) -> Envelope {
    Envelope::new(
        format!("{shared}-{state}"),
        DETAIL_TYPE_INSIGHT,
        "111122223333",
        time,
        "us-east-1",
        vec![],
        json!({
            "sharedEventID": shared,
            "eventTime": time,
            "insightDetails": {
                "state": state, "eventSource": "iam.amazonaws.com", "eventName": "ListUsers",
                "insightType": "ApiCallRateInsight",
                "insightContext": {
                    "statistics": {"baseline": {"average": 2.0}, "insight": {"average": 40.0}, "insightDuration": 15, "baselineDuration": 10080},
                    "attributions": [{"attribute": "userIdentityArn", "insight": [{"value": "arn:aws:iam::111122223333:user/<b>mallory</b>", "average": 40.0}], "baseline": [{"value": "arn:aws:iam::111122223333:user/ci", "average": 2.0}]}]
                }
            },
            "trailsight": {"reason": "ListUsers had 600 calls in 15 min"}
        }),
    )
}

fn risky(user_agent: &str) -> Envelope {
    Envelope::new(
        "r1",
        DETAIL_TYPE_RISKY_CHANGE,
        "111122223333",
        "2024-01-09T03:00:00Z",
        "us-east-1",
        vec![],
        json!({
            "rule": "s3-bucket-public", "severity": "critical",
            "resource": {"type": "Bucket", "name": "logs"},
            "actor": {"arn": "arn:aws:iam::111122223333:user/mallory", "sourceIPAddress": "203.0.113.9", "userAgent": user_agent},
            "reason": format!("bucket policy grants anyone s3:GetObject ({user_agent})")
        }),
    )
}

fn chart(shared: &str, start: i64) -> Chart {
    let points = (start - 180..start + 75)
        .map(|m| {
            let calls = if (start..start + 15).contains(&m) { 40 } else { 2 };
            let band = Band { expected: 2.0, low: 0.0, high: 12.0 };
            ChartPoint::new(m, calls, 0, band)
        })
        .collect();
    Chart { shared_event_id: shared.into(), kind: InsightKind::CallRate, start, end: Some(start + 15), points }
}

#[test]
fn an_insight_pairs_its_start_and_end_and_gets_its_chart_by_shared_event_id() {
    // Given a Start, a risky change, the End, and the chart recorded under the insight's id
    let start = 28_412_820;
    let events = vec![
        insight("Start", "abc", "2024-01-09T03:00:00Z"),
        risky("aws-cli/2"),
        insight("End", "abc", "2024-01-09T03:15:00Z"),
    ];
    let charts = BTreeMap::from([("abc".to_owned(), chart("abc", start))]);
    // When the report is built and rendered
    let report = Report::build(None, &events, charts);
    let html = render(&report);
    // Then there is one insight with both events and its chart, and one risky change
    assert_eq!(report.insights.len(), 1);
    assert!(report.insights[0].end.is_some());
    assert_eq!(report.insights[0].chart.as_ref().map(|c| c.points.len()), Some(255));
    assert_eq!(report.risky.len(), 1);
    assert_eq!(html.matches("<svg class=\"chart\"").count(), 1);
    assert!(html.contains("data-points=\"255\""));
    assert!(html.contains("ListUsers had 600 calls in 15 min"));
    // And what was read comes from the events when no store says more
    assert!(matches!(&report.coverage, Coverage::Events(s) if s.accounts.len() == 1));
}

#[test]
fn an_insight_without_a_recorded_chart_says_why() {
    // Given a Start whose minutes were not recorded
    let events = vec![insight("Start", "abc", "2024-01-09T03:00:00Z")];
    // When the report is rendered
    let html = render(&Report::build(None, &events, BTreeMap::new()));
    // Then it says there is no chart and how to get one, and that the insight had not ended
    assert!(html.contains("No chart"));
    assert!(html.contains("--report"));
    assert!(html.contains("not ended in what was read"));
}

#[test]
fn attacker_controlled_strings_are_escaped() {
    // Given a risky change whose user agent and an attribution carry markup
    let events = vec![insight("Start", "abc", "2024-01-09T03:00:00Z"), risky("<script>alert(1)</script>")];
    // When the report is rendered
    let html = render(&Report::build(None, &events, BTreeMap::new()));
    // Then the markup is text, never markup: the page's only script is its own
    assert!(!html.contains("<script>alert(1)"));
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!html.contains("<b>mallory</b>"));
    assert_eq!(html.matches("<script>").count(), 1);
}

#[test]
fn the_report_is_self_contained() {
    // Given a report with an insight, its chart and a risky change
    let events = vec![insight("Start", "abc", "2024-01-09T03:00:00Z"), risky("aws-cli/2")];
    let charts = BTreeMap::from([("abc".to_owned(), chart("abc", 28_412_820))]);
    // When it is rendered
    let html = render(&Report::build(None, &events, charts));
    // Then nothing is fetched from elsewhere: no external script, style, image or font
    for needle in ["<link", "src=", "@import", "url(", "http"] {
        assert!(!html.contains(needle), "found {needle}");
    }
}

#[test]
fn scopes_of_two_replays_add_up() {
    // Given what two replays into one store read
    let mut a = Scope {
        files: 2,
        records: 10,
        accounts: ["111122223333".to_owned()].into(),
        regions: ["us-east-1".to_owned()].into(),
        first: Some("2024-01-02T00:05Z".into()),
        last: Some("2024-01-02T00:10Z".into()),
    };
    let b = Scope {
        files: 1,
        records: 5,
        accounts: ["444455556666".to_owned()].into(),
        regions: ["us-east-1".to_owned()].into(),
        first: Some("2024-01-01T00:00Z".into()),
        last: Some("2024-01-03T00:00Z".into()),
    };
    // When they are merged
    a.merge(&b);
    // Then files and records add, accounts and regions unite and the span widens
    assert_eq!((a.files, a.records), (3, 15));
    assert_eq!(a.accounts.len(), 2);
    assert_eq!(a.regions.len(), 1);
    assert_eq!(a.first.as_deref(), Some("2024-01-01T00:00Z"));
    assert_eq!(a.last.as_deref(), Some("2024-01-03T00:00Z"));
}

#[test]
fn reading_events_skips_the_summary_and_names_the_line_that_is_not_an_event() {
    // Given an events file with a summary line, and one with a broken line
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.jsonl");
    let line = serde_json::to_string(&risky("aws-cli/2")).unwrap();
    std::fs::write(&good, format!("{line}\n\n{{\"files\":1,\"records\":2}}\n")).unwrap();
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(&bad, format!("{line}\n{{\"detail-type\": 3}}\n")).unwrap();
    // When they are read
    let events = read_events(&good).unwrap();
    let err = read_events(&bad).unwrap_err().to_string();
    // Then the good one gives its event, and the error names the file and line 2
    assert_eq!(events.len(), 1);
    assert!(err.contains("bad.jsonl:2"), "{err}");
    assert!(err.contains("not a trailsight event"), "{err}");
}

#[test]
fn each_risky_change_and_remediation_decision_is_one_row_with_its_columns() {
    // Given a risky change and the remediation decision that reverted it
    let decision = Envelope::new(
        "d1",
        DETAIL_TYPE_REMEDIATION,
        "111122223333",
        "2024-01-09T03:01:00Z",
        "eu-west-1",
        vec![],
        json!({
            "rule": "s3-bucket-public", "decision": "reverted", "mode": "enforce",
            "resource": {"type": "Bucket", "name": "logs"},
            "reason": "removed the statement granting anyone s3:GetObject"
        }),
    );
    let events = vec![risky("aws-cli/2"), decision];
    // When the report is rendered
    let report = Report::build(None, &events, BTreeMap::new());
    let html = render(&report);
    // Then each table has one row holding, in order, its time, its columns, account/region and reason
    assert_eq!((report.risky.len(), report.remediation.len()), (1, 1));
    let row = |table: &str| {
        let at = html.find(&format!("id=\"{table}-table\"")).unwrap();
        let body = &html[at..];
        let tbody = &body[body.find("<tbody>").unwrap()..body.find("</tbody>").unwrap()];
        tbody.split("<td>").skip(1).map(|c| c.split("</td>").next().unwrap().to_owned()).collect::<Vec<_>>()
    };
    let risky_row = row("risky");
    assert_eq!(
        risky_row[1..5],
        ["s3-bucket-public", "critical", "Bucket logs", "arn:aws:iam::111122223333:user/mallory"]
    );
    assert_eq!(risky_row[5], "111122223333/us-east-1");
    assert!(risky_row[6].starts_with("bucket policy grants anyone"));
    let decision_row = row("remediation");
    assert_eq!(decision_row[1..5], ["s3-bucket-public", "reverted", "enforce", "Bucket logs"]);
    assert_eq!(decision_row[5..], ["111122223333/eu-west-1", "removed the statement granting anyone s3:GetObject"]);
}
