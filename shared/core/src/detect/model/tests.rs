//! Tests of the baseline model: the kept seasonal mean, daily cycles, nightly jobs,
//! expectations over ranges, the stored form of its top values, and its size.

use super::*;

fn none<'a>() -> std::iter::Empty<(&'a Arc<str>, u32)> {
    std::iter::empty()
}

/// A list of shared values as [`ApiModel::learn`] reads them.
fn values(list: &[(Arc<str>, u32)]) -> impl Iterator<Item = (&Arc<str>, u32)> + Clone {
    list.iter().map(|(s, n)| (s, *n))
}

fn feed(m: &mut ApiModel, from: i64, to: i64, f: impl Fn(i64) -> u32) {
    for t in from..to {
        let local = (t - 10..t).map(|u| f64::from(f(u))).sum::<f64>() / 10.0;
        m.learn(t, f(t), none(), [none(), none(), none()], [0.0; 5], local, true, true, None);
    }
}

#[test]
fn a_kept_seasonal_mean_is_dropped_when_an_hour_closes() {
    // Given a model that learned two quiet days, whose mean for the next hour was read
    let day = 1440;
    let mut m = ApiModel::new(0);
    feed(&mut m, 0, 2 * day, |_| 2);
    let hour = 2 * day + 60;
    let before = m.seasonal(hour);
    // When that hour is learned busy, another hour closes, and the mean is read again
    feed(&mut m, 2 * day, 2 * day + 121, |t| if (hour..hour + 60).contains(&t) { 40 } else { 2 });
    let after = m.seasonal(hour);
    // Then it reflects the busy hour, exactly as a model without any kept mean computes it
    assert!(after > before, "{before} -> {after}");
    let fresh: ApiModel = serde_json::from_str(&serde_json::to_string(&m).unwrap()).unwrap();
    assert_eq!(after.to_bits(), fresh.seasonal(hour).to_bits());
    assert_eq!(m.expected_range(hour, hour + 59), fresh.expected_range(hour, hour + 59));
}

#[test]
fn hour_of_week_starts_on_monday() {
    // 1970-01-05 was a Monday
    assert_eq!(hour_of_week(4 * 24), 0);
    assert_eq!(hour_of_week(4 * 24 + 24 * 7 - 1), 167);
}

#[test]
fn model_learns_a_daily_cycle() {
    // Given a week of an API busy by day (20/min) and quiet by night (1/min)
    let mut m = ApiModel::new(0);
    let busy = |t: i64| {
        if (9..18).contains(&(t.div_euclid(60) % 24)) {
            20
        } else {
            1
        }
    };
    feed(&mut m, 0, 7 * 1440, busy);
    // Then the next day's expectation follows the cycle
    let day8 = 7 * 1440;
    assert!((m.expected(day8 + 12 * 60 + 30) - 20.0).abs() < 2.0);
    assert!(m.expected(day8 + 3 * 60 + 30) < 2.0);
}

#[test]
fn nightly_job_at_a_fixed_minute_is_expected() {
    // Given a job adding 60 calls at 02:15 every night
    let mut m = ApiModel::new(0);
    feed(&mut m, 0, 3 * 1440, |t| if t.rem_euclid(1440) == 2 * 60 + 15 { 62 } else { 2 });
    // Then 02:15 tomorrow expects it and 02:16 does not
    let next = 3 * 1440 + 2 * 60;
    assert!(m.expected(next + 15) > 40.0);
    assert!(m.expected(next + 16) < 6.0);
}

#[test]
fn expectations_of_a_range_equal_those_of_each_minute() {
    // Given a model that learned nightly and hourly jobs over three days
    let mut m = ApiModel::new(0);
    feed(&mut m, 0, 3 * 1440, |t| match (t.rem_euclid(1440), t.rem_euclid(60)) {
        (135, _) | (1439, _) => 80,
        (_, 7) => 30,
        _ => 2,
    });
    // When the expectations of ranges across midnight and the job minutes are taken at once
    for (from, to) in [(3 * 1440 - 100, 3 * 1440 + 200), (3 * 1440 + 130, 3 * 1440 + 140), (5, 5)] {
        let range = m.expected_range(from, to);
        // Then each equals the minute's own expectation, bit for bit
        let each: Vec<f64> = (from..=to).map(|t| m.expected(t)).collect();
        assert_eq!(range, each);
    }
    assert!(m.expected(3 * 1440 + 135) > 40.0);
}

#[test]
fn shared_attribution_values_are_stored_as_plain_strings_and_read_back() {
    // Given a model that learned a caller and an error code from shared strings
    let mut m = ApiModel::new(0);
    let caller: Arc<str> = Arc::from("arn:aws:iam::1:user/ci");
    let code: Arc<str> = Arc::from("AccessDenied");
    let by_error = [(code.clone(), 1)];
    let callers = [(caller.clone(), 3)];
    let learn = |m: &mut ApiModel, t: i64| {
        m.learn(
            t,
            3,
            values(&by_error),
            [values(&callers), values(&[]), values(&by_error)],
            [0.0; 5],
            0.0,
            true,
            true,
            None,
        );
    };
    learn(&mut m, 5);
    // When it is stored
    let json = serde_json::to_string(&m).unwrap_or_default();
    // Then the values are plain strings, as before they were shared
    assert!(json.contains(r#""errors_by_code":[["AccessDenied",1.0]]"#), "{json}");
    assert!(json.contains(r#"[["arn:aws:iam::1:user/ci",3.0]]"#), "{json}");
    // And what is read back equals the model, and matches new values by content
    let mut back: ApiModel = serde_json::from_str(&json).unwrap_or_else(|_| ApiModel::new(1));
    assert_eq!(back, m);
    learn(&mut back, 6);
    learn(&mut m, 6);
    assert_eq!(back, m);
    assert_eq!(back.attributions[0].len(), 1);
}

#[test]
fn state_stays_compact() {
    let mut m = ApiModel::new(0);
    feed(&mut m, 0, 2 * 1440, |t| (t % 7) as u32);
    let bytes = serde_json::to_vec(&m).map(|v| v.len()).unwrap_or(usize::MAX);
    assert!(bytes < 8 * 1024, "{bytes} bytes");
}
