//! The report's page: header, one section per insight, the tables; CSS and script inline, every
//! value escaped by maud.

use super::chart::svg;
use super::{Coverage, InsightView, Report};
use maud::{html, Markup, PreEscaped, DOCTYPE};
use serde_json::Value;
use trailsight_core::events::Envelope;

const STYLE: &str = include_str!("report.css");
const SCRIPT: &str = include_str!("report.js");

fn text<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

fn number(v: Option<&Value>) -> String {
    match v.and_then(Value::as_f64) {
        Some(x) if x >= 100.0 => format!("{x:.0}"),
        Some(x) if x >= 1.0 => format!("{x:.1}"),
        Some(x) => format!("{x:.3}"),
        None => "–".to_owned(),
    }
}

/// `2026-01-02T03:04:05Z` as `2026-01-02 03:04`.
fn when(t: &str) -> String {
    t.replacen('T', " ", 1).chars().take(16).collect()
}

/// The whole page.
pub fn render(report: &Report) -> String {
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "trailsight report" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                (header(report))
                (insights(report))
                (risky(report))
                (remediation(report))
                script { (PreEscaped(SCRIPT)) }
            }
        }
    };
    page.into_string()
}

fn header(r: &Report) -> Markup {
    let s = r.coverage.scope();
    let list = |set: &std::collections::BTreeSet<String>| -> String {
        let names: Vec<&str> = set.iter().map(String::as_str).take(12).collect();
        let more = set.len().saturating_sub(names.len());
        if more > 0 {
            format!("{} and {more} more", names.join(", "))
        } else {
            names.join(", ")
        }
    };
    html! {
        header {
            h1 { "trailsight report" }
            dl.scope {
                @if let Coverage::Files(s) = &r.coverage {
                    dt { "Read" } dd { (s.files) " log files, " (s.records) " records" }
                }
                dt { (s.accounts.len()) " accounts" } dd { (list(&s.accounts)) }
                dt { (s.regions.len()) " regions" } dd { (list(&s.regions)) }
                dt { "Time span" } dd {
                    (s.first.as_deref().map(when).unwrap_or_default()) " – " (s.last.as_deref().map(when).unwrap_or_default()) " UTC"
                }
            }
            ul.counts {
                li { a href="#insights" { strong { (r.insights.len()) } " insights" } }
                li { a href="#risky" { strong { (r.risky.len()) } " risky changes" } }
                li { a href="#remediation" { strong { (r.remediation.len()) } " remediation decisions" } }
            }
        }
    }
}

fn insights(r: &Report) -> Markup {
    html! {
        section #insights {
            h2 { "Insights" }
            @if r.insights.is_empty() {
                p.empty { "No API left its baseline in what was read." }
            } @else {
                p.legend {
                    span.key.calls {} "calls per minute "
                    span.key.expected {} "expected "
                    span.key.band {} "normal band "
                    span.key.insight {} "insight "
                    span.key.errors {} "errors"
                }
            }
            @for i in &r.insights { (insight(i)) }
        }
    }
}

fn insight(i: &InsightView) -> Markup {
    let d = &i.start.detail;
    let last = i.end.as_ref().map_or(d, |e| &e.detail);
    let kind = match text(d, "/insightDetails/insightType") {
        "ApiErrorRateInsight" => format!("error rate ({})", text(d, "/insightDetails/errorCode")),
        _ => "call rate".to_owned(),
    };
    let api = format!(
        "{}:{}",
        text(d, "/insightDetails/eventSource").trim_end_matches(".amazonaws.com"),
        text(d, "/insightDetails/eventName")
    );
    let stats = "/insightDetails/insightContext/statistics";
    html! {
        section.insight id=(text(d, "/sharedEventID")) {
            h3 { (api) " · " (kind) " · " (i.start.account) "/" (i.start.region) }
            p.when {
                (when(&i.start.time))
                @match &i.end {
                    Some(e) => { " – " (when(&e.time)) " UTC (" (number(e.detail.pointer(&format!("{stats}/insightDuration")))) " min)" }
                    None => { " UTC, not ended in what was read" }
                }
            }
            p.reason { (text(d, "/trailsight/reason")) }
            p.stats {
                "Average per minute: " strong { (number(last.pointer(&format!("{stats}/insight/average")))) }
                " in the insight against " strong { (number(last.pointer(&format!("{stats}/baseline/average")))) }
                " at baseline (" (number(last.pointer(&format!("{stats}/baselineDuration")))) " min of baseline)."
            }
            @match &i.chart {
                Some(c) => (svg(c)),
                None => p.nochart { "No chart: this insight's minutes were not recorded (replay with --report, or give the --store the replay used)." },
            }
            (attributions(last))
        }
    }
}

fn attributions(d: &Value) -> Markup {
    let empty = vec![];
    let list = d.pointer("/insightDetails/insightContext/attributions").and_then(Value::as_array).unwrap_or(&empty);
    html! {
        div.attributions {
            @for a in list {
                table.attribution {
                    caption { (match text(a, "/attribute") { "userIdentityArn" => "Top callers", "userAgent" => "Top user agents", _ => "Top error codes" }) }
                    thead { tr { th { "value" } th.num { "insight /min" } th.num { "baseline /min" } } }
                    tbody {
                        @for (value, insight, baseline) in rows(a) {
                            tr { td.value { (value) } td.num { (insight) } td.num { (baseline) } }
                        }
                    }
                }
            }
        }
    }
}

/// An attribution's values, insight first then baseline-only ones, with both averages.
fn rows(a: &Value) -> Vec<(String, String, String)> {
    let empty = vec![];
    let side = |k: &str| a.get(k).and_then(Value::as_array).unwrap_or(&empty);
    let find =
        |list: &Vec<Value>, v: &str| list.iter().find(|x| text(x, "/value") == v).map(|x| number(x.get("average")));
    let mut out: Vec<(String, String, String)> = vec![];
    for x in side("insight").iter().chain(side("baseline")) {
        let v = text(x, "/value");
        if out.iter().any(|r| r.0 == v) {
            continue;
        }
        out.push((
            v.to_owned(),
            find(side("insight"), v).unwrap_or_else(|| "–".into()),
            find(side("baseline"), v).unwrap_or_else(|| "–".into()),
        ));
    }
    out
}

/// A resource's name for a table: its id, name, or the first string it holds.
fn resource(r: &Value) -> String {
    let kind = text(r, "/type");
    let name = ["name", "id", "groupId", "arn", "account"]
        .iter()
        .find_map(|k| r.get(*k).and_then(Value::as_str))
        .map(str::to_owned)
        .or_else(|| {
            r.get("ids")
                .and_then(Value::as_array)
                .map(|ids| ids.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(","))
        })
        .unwrap_or_default();
    format!("{kind} {name}")
}

fn table(id: &str, title: &str, empty: &str, heads: &[&str], rows: Vec<Vec<String>>) -> Markup {
    html! {
        section id=(id) {
            h2 { (title) " (" (rows.len()) ")" }
            @if rows.is_empty() {
                p.empty { (empty) }
            } @else {
                input.filter type="search" placeholder="Filter rows" data-table={ (id) "-table" } aria-label={ "Filter " (title) };
                table.sortable id={ (id) "-table" } {
                    thead { tr { @for h in heads { th tabindex="0" { (h) } } } }
                    tbody {
                        @for row in &rows {
                            tr { @for cell in row { td { (cell) } } }
                        }
                    }
                }
            }
        }
    }
}

/// One row per event: its time, the columns `middle` takes from its detail, its account/region
/// and its reason.
fn event_rows(events: &[Envelope], middle: impl Fn(&Value) -> Vec<String>) -> Vec<Vec<String>> {
    events
        .iter()
        .map(|e| {
            let d = &e.detail;
            let mut row = vec![when(&e.time)];
            row.extend(middle(d));
            row.push(format!("{}/{}", e.account, e.region));
            row.push(text(d, "/reason").to_owned());
            row
        })
        .collect()
}

fn risky(r: &Report) -> Markup {
    let rows = event_rows(&r.risky, |d| {
        vec![
            text(d, "/rule").to_owned(),
            text(d, "/severity").to_owned(),
            resource(&d["resource"]),
            text(d, "/actor/arn").to_owned(),
        ]
    });
    table(
        "risky",
        "Risky changes",
        "No risky change in what was read.",
        &["time", "rule", "severity", "resource", "actor", "account/region", "reason"],
        rows,
    )
}

fn remediation(r: &Report) -> Markup {
    let rows = event_rows(&r.remediation, |d| {
        vec![
            text(d, "/rule").to_owned(),
            text(d, "/decision").to_owned(),
            text(d, "/mode").to_owned(),
            resource(&d["resource"]),
        ]
    });
    table(
        "remediation",
        "Remediation decisions",
        "No remediation decision in these events (the replay reports risky changes; decisions come from the remediate function).",
        &["time", "rule", "decision", "mode", "resource", "account/region", "reason"],
        rows,
    )
}
