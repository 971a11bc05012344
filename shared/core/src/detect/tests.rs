//! Behaviour of the detector on simulated traffic delivered in 5-minute files.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;

const DAY: i64 = 1440;
/// 2024-01-01 (a Monday) in minutes since the epoch.
const MONDAY: i64 = 28_401_120;

fn api(name: &str) -> ApiKey {
    ApiKey {
        account: "111122223333".into(),
        region: "us-east-1".into(),
        event_source: "iam.amazonaws.com".into(),
        event_name: name.into(),
    }
}

/// Feeds `calls(minute) -> (calls, errors)` for `[from, to)` in 5-minute files, the way
/// CloudTrail delivers them; `late` moves that fraction of each minute into the next file.
fn run(
    d: &mut Detector,
    key: &ApiKey,
    from: i64,
    to: i64,
    late: f64,
    calls: impl Fn(i64) -> (u32, u32),
) -> Vec<Envelope> {
    let mut events = vec![];
    let mut carry: Vec<(i64, u32, u32)> = vec![];
    let mut file_start = from;
    while file_start < to {
        let file_end = file_start + 5;
        for (m, c, e) in carry.drain(..) {
            feed(d, key, m, c, e);
        }
        for m in file_start..file_end {
            let (c, e) = calls(m);
            let held = (f64::from(c) * late).floor() as u32;
            let held_e = held.min(e);
            feed(d, key, m, c - held, e - held_e);
            if held > 0 {
                carry.push((m, held, held_e));
            }
        }
        events.extend(d.advance(&key.account, &key.region, Some(file_end + 1)));
        file_start = file_end;
    }
    events
}

fn feed(d: &mut Detector, key: &ApiKey, m: i64, calls: u32, errors: u32) {
    if calls == 0 {
        return;
    }
    let strings: Vec<std::sync::Arc<str>> =
        vec!["AccessDenied".into(), "arn:aws:iam::111122223333:user/ci".into(), "aws-cli/2".into()];
    let by_error = [(0, errors)];
    d.observe(
        key,
        MinuteDelta {
            minute: m,
            calls,
            errors,
            strings: &strings,
            lists: [if errors > 0 { &by_error } else { &[] }, &[(1, calls)], &[(2, calls)]],
            file: None,
        },
    );
}

fn states(events: &[Envelope]) -> Vec<(String, String)> {
    events
        .iter()
        .map(|e| {
            (
                e.state().unwrap_or("").to_owned(),
                e.detail["insightDetails"]["insightType"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

/// Business-hours traffic: 30/min by day on weekdays, 3/min at night and at weekends.
fn office(m: i64) -> u32 {
    let hour = (m - MONDAY).rem_euclid(DAY) / 60;
    let weekday = (m - MONDAY).rem_euclid(7 * DAY) / DAY < 5;
    let wobble = ((m * 7919) % 5) as u32;
    if weekday && (9..18).contains(&hour) {
        28 + wobble
    } else {
        2 + wobble % 3
    }
}

#[test]
fn steady_daily_cycle_produces_no_insight() {
    // Given ten days of business-hours traffic
    let mut d = Detector::new(DetectorConfig::default());
    // When it is replayed file by file
    let events = run(&mut d, &api("ListUsers"), MONDAY, MONDAY + 10 * DAY, 0.03, |m| (office(m), 0));
    // Then nothing fires
    assert_eq!(states(&events), vec![]);
}

#[test]
fn burst_after_history_starts_once_and_ends_once_with_the_same_shared_id() {
    // Given a week of history, then 15 minutes of 10x traffic at night
    let mut d = Detector::new(DetectorConfig::default());
    let key = api("ListUsers");
    let burst = MONDAY + 8 * DAY + 3 * 60;
    let events = run(&mut d, &key, MONDAY, MONDAY + 9 * DAY, 0.03, |m| {
        if (burst..burst + 15).contains(&m) {
            (office(m) + 60, 0)
        } else {
            (office(m), 0)
        }
    });
    // Then exactly one Start and one End are emitted, sharing one sharedEventID
    assert_eq!(
        states(&events),
        vec![("Start".into(), "ApiCallRateInsight".into()), ("End".into(), "ApiCallRateInsight".into())]
    );
    let (s, e) = (&events[0].detail, &events[1].detail);
    assert_eq!(s["sharedEventID"], e["sharedEventID"]);
    assert_ne!(s["eventID"], e["eventID"]);
    // And the Start names the burst's first minute and explains itself
    assert_eq!(s["eventTime"], minute_time(burst));
    assert!(s["trailsight"]["reason"].as_str().unwrap().contains("ListUsers"));
    assert!(s["trailsight"]["observed"].as_f64().unwrap() > s["trailsight"]["expected"].as_f64().unwrap());
    // And the End carries the duration and baseline duration
    let stats = &e["insightDetails"]["insightContext"]["statistics"];
    assert_eq!(stats["insightDuration"], 15);
    assert_eq!(stats["baselineDuration"], 10_080);
}

#[test]
fn new_account_does_not_flood_starts_during_warm_up() {
    // Given a brand-new account whose first hours include bursts
    let mut d = Detector::new(DetectorConfig::default());
    let events =
        run(&mut d, &api("GetObject"), MONDAY, MONDAY + 12 * 60, 0.0, |m| if m % 97 < 3 { (200, 0) } else { (1, 0) });
    // Then no Start is emitted before the warm-up has passed
    assert!(states(&events).is_empty());
}

#[test]
fn burst_on_an_api_called_a_few_times_a_day_is_an_insight() {
    // Given an API called about four times a day for a week
    let mut d = Detector::new(DetectorConfig::default());
    let key = api("CreateAccessKey");
    let burst = MONDAY + 8 * DAY + 14 * 60;
    let events = run(&mut d, &key, MONDAY, MONDAY + 9 * DAY, 0.0, |m| {
        if (burst..burst + 5).contains(&m) {
            (40, 0)
        } else if (m - MONDAY) % 360 == 17 {
            (1, 0)
        } else {
            (0, 0)
        }
    });
    // Then 40 calls a minute starts an insight
    let s = states(&events);
    assert_eq!(s.first(), Some(&("Start".to_owned(), "ApiCallRateInsight".to_owned())), "{s:?}");
    assert_eq!(s.iter().filter(|x| x.0 == "Start").count(), 1);
}

#[test]
fn access_denied_storm_at_a_normal_call_rate_is_an_error_rate_insight() {
    // Given a busy API whose calls stay normal while half of them fail for 20 minutes
    let mut d = Detector::new(DetectorConfig::default());
    let key = api("GetRole");
    let storm = MONDAY + 8 * DAY + 11 * 60;
    let events = run(&mut d, &key, MONDAY, MONDAY + 9 * DAY, 0.03, |m| {
        let c = office(m);
        if (storm..storm + 20).contains(&m) {
            (c, c / 2)
        } else {
            (c, u32::from(m % 50 == 0))
        }
    });
    // Then one error-rate insight starts and ends, naming the errorCode, and no call-rate one
    assert_eq!(
        states(&events),
        vec![("Start".into(), "ApiErrorRateInsight".into()), ("End".into(), "ApiErrorRateInsight".into())]
    );
    assert_eq!(events[0].detail["insightDetails"]["errorCode"], "AccessDenied");
}

#[test]
fn late_records_never_end_an_insight_early_or_start_one_on_a_partial_minute() {
    // Given a sustained burst whose records arrive 40% late
    let mut d = Detector::new(DetectorConfig::default());
    let key = api("ListRoles");
    let burst = MONDAY + 8 * DAY + 2 * 60;
    let events = run(&mut d, &key, MONDAY, MONDAY + 9 * DAY, 0.4, |m| {
        if (burst..burst + 40).contains(&m) {
            (office(m) + 50, 0)
        } else {
            (office(m), 0)
        }
    });
    // Then the insight still lasts the whole burst
    assert_eq!(states(&events).len(), 2);
    assert_eq!(events[1].detail["insightDetails"]["insightContext"]["statistics"]["insightDuration"], 40);
}

#[test]
fn repeated_computation_emits_the_same_ids() {
    // Given the same traffic replayed twice by two detectors
    let traffic = |m: i64| {
        if (MONDAY + 8 * DAY + 100..MONDAY + 8 * DAY + 110).contains(&m) {
            (300, 0)
        } else {
            (office(m), 0)
        }
    };
    let a = run(&mut Detector::new(DetectorConfig::default()), &api("X"), MONDAY, MONDAY + 9 * DAY, 0.0, traffic);
    let b = run(&mut Detector::new(DetectorConfig::default()), &api("X"), MONDAY, MONDAY + 9 * DAY, 0.0, traffic);
    // Then the events and their ids are identical
    assert!(!a.is_empty());
    assert_eq!(a, b);
}

#[test]
fn opted_out_api_never_fires() {
    let config = DetectorConfig::from_toml("[api.\"iam.amazonaws.com:X\"]\nenabled = false").unwrap();
    let mut d = Detector::new(config);
    let events = run(&mut d, &api("X"), MONDAY, MONDAY + 9 * DAY, 0.0, |m| {
        if m > MONDAY + 8 * DAY {
            (500, 0)
        } else {
            (office(m), 0)
        }
    });
    assert!(events.is_empty());
}

#[test]
fn insight_record_has_the_cloudtrail_insights_fields() {
    let mut d = Detector::new(DetectorConfig::default());
    let events = run(&mut d, &api("ListUsers"), MONDAY, MONDAY + 9 * DAY, 0.0, |m| {
        if (MONDAY + 8 * DAY..MONDAY + 8 * DAY + 10).contains(&m) {
            (400, 0)
        } else {
            (office(m), 0)
        }
    });
    let e = &events[0];
    assert_eq!(e.detail_type, "AWS Insight via CloudTrail");
    assert_eq!(e.source, "trailsight");
    let r = &e.detail;
    for f in [
        "eventVersion",
        "eventTime",
        "awsRegion",
        "eventID",
        "eventType",
        "recipientAccountId",
        "sharedEventID",
        "insightDetails",
        "eventCategory",
    ] {
        assert!(r.get(f).is_some(), "{f}");
    }
    assert_eq!(r["eventType"], "AwsCloudTrailInsight");
    assert_eq!(r["eventCategory"], "Insight");
    let ctx = &r["insightDetails"]["insightContext"];
    assert!(ctx["statistics"]["baseline"]["average"].is_number());
    assert!(ctx["statistics"]["insight"]["average"].is_number());
    let attrs: Vec<&str> =
        ctx["attributions"].as_array().unwrap().iter().map(|a| a["attribute"].as_str().unwrap()).collect();
    assert_eq!(attrs, vec!["userIdentityArn", "userAgent", "errorCode"]);
    assert_eq!(ctx["attributions"][2]["insight"][0]["value"], "null");
}

#[test]
fn recording_charts_changes_no_event_and_charts_each_insight_as_judged() {
    // Given the night burst of a week-old API, replayed once without and once with charts
    let key = api("ListUsers");
    let burst = MONDAY + 8 * DAY + 3 * 60;
    let traffic = |m: i64| {
        if (burst..burst + 15).contains(&m) {
            (office(m) + 60, 0)
        } else {
            (office(m), 0)
        }
    };
    let mut plain = Detector::new(DetectorConfig::default());
    let without = run(&mut plain, &key, MONDAY, MONDAY + 9 * DAY, 0.03, traffic);
    let mut recording = Detector::new(DetectorConfig { record_charts: true, ..DetectorConfig::default() });
    // When the second replay records charts
    let with = run(&mut recording, &key, MONDAY, MONDAY + 9 * DAY, 0.03, traffic);
    // Then the events are the same
    assert_eq!(without, with);
    // And the insight has one chart under its sharedEventID: three hours before, the burst,
    // an hour after its End, every minute once
    let log = recording.api(&key).and_then(|s| s.charts.as_deref()).unwrap();
    let charts: Vec<&Chart> = log.charts().collect();
    assert_eq!(charts.len(), 1);
    let c = charts[0];
    assert_eq!(Some(c.shared_event_id.as_str()), with[0].detail["sharedEventID"].as_str());
    assert_eq!(c.start, burst);
    assert_eq!(c.end, Some(burst + 15));
    let first = c.points.first().unwrap().minute;
    let last = c.points.last().unwrap().minute;
    assert_eq!((first, last), (burst - 180, burst + 15 + CHART_AFTER_MINUTES - 1));
    assert!(c.points.windows(2).all(|w| w[1].minute == w[0].minute + 1));
    // And the chart shows the burst above the band and the hours before within it
    let inside: Vec<&ChartPoint> = c.points.iter().filter(|p| (burst..burst + 15).contains(&p.minute)).collect();
    assert!(inside.iter().all(|p| f64::from(p.calls) >= p.band.high), "{inside:?}");
    let before = c.points.iter().filter(|p| p.minute < burst);
    assert!(before.clone().all(|p| f64::from(p.calls) < p.band.high));
    assert!(before.clone().all(|p| p.band.low <= p.band.expected && p.band.expected < p.band.high));
    // And the state without recording carries no chart
    assert!(plain.api(&key).unwrap().charts.is_none());
}
