//! A large report for the browser check (`make report-check`): the insights of a replay's
//! events, with the charts its store kept, repeated until there are N, each copy under
//! its own `sharedEventID`; risky changes and remediation decisions once.
//!
//! `cargo run -p trailsight-cli --example report_many -- EVENTS STORE OUT N`
use std::collections::BTreeMap;
use std::path::Path;
use trailsight_cli::report::{read_events, write, Report};
use trailsight_cli::store::RedbStore;
use trailsight_core::events::DETAIL_TYPE_INSIGHT;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [events, store, out, n] = args.as_slice() else {
        return Err("usage: report_many EVENTS STORE OUT N".into());
    };
    let n: usize = n.parse()?;
    let events = read_events(Path::new(events))?;
    let store = RedbStore::open(Path::new(store))?;
    let charts = store.charts()?;
    let (insights, others): (Vec<_>, Vec<_>) = events.into_iter().partition(|e| e.detail_type == DETAIL_TYPE_INSIGHT);
    let starts = insights.iter().filter(|e| e.state() == Some("Start")).count();
    if starts == 0 {
        return Err("the events hold no insight to repeat".into());
    }
    let mut all = others;
    let mut all_charts = BTreeMap::new();
    for copy in 0..n.div_ceil(starts) {
        for e in &insights {
            let id = e.detail["sharedEventID"].as_str().unwrap_or_default().to_owned();
            let new_id = format!("{id}-{copy}");
            let mut e = e.clone();
            e.detail["sharedEventID"] = serde_json::Value::String(new_id.clone());
            if let Some(chart) = charts.get(&id) {
                let mut chart = chart.clone();
                chart.shared_event_id = new_id.clone();
                all_charts.insert(new_id, chart);
            }
            all.push(e);
        }
    }
    let mut report = Report::build(store.scope()?, &all, all_charts);
    report.insights.truncate(n);
    write(&report, Path::new(out))?;
    eprintln!("report_many: wrote {out} ({} insights)", report.insights.len());
    Ok(())
}
