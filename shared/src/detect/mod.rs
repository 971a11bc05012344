//! The detector: per-API baselines, and the insight lifecycle (one Start, then one End).
//!
//! Data arrives file by file. Each file adds calls to recent minutes ([`Detector::observe`]);
//! then [`Detector::advance`] evaluates, for every API of the account and region:
//! - **Start** on open and complete minutes alike: a window (1, 5, 15 or 30 minutes) whose
//!   calls, or whose errors of one errorCode, are improbable under the baseline (a tail
//!   probability below `p_value`) and clearly beyond it (ratio and burst-memory gates). Counts
//!   only grow as late records arrive, so an open minute can show a rise but never a false drop.
//! - **End** and **learning** only on complete minutes: a minute is complete once the newest
//!   file of its account and region was delivered `settle_minutes` after it.

mod config;
mod insight;
mod model;
mod tail;
mod window;

pub use config::{ConfigError, DetectorConfig, Overrides, Thresholds};
pub use insight::{minute_time, shared_event_id, Attribution, InsightKind, InsightRecord, Verdict};
pub use model::{ApiModel, WINDOWS};
pub use window::{add_capped, MinuteData, MinuteWindow, Recent, HISTORY_MINUTES, MINUTE_ATTRIBUTION_CAP};

use crate::count::ApiKey;
use crate::events::Envelope;
use rustc_hash::{FxHashMap, FxHashSet};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use tail::{count_sd, count_tail, error_tail};

/// Window multipliers of `min_calls` for the windows of [`WINDOWS`].
const MIN_CALLS_SCALE: [f64; 5] = [1.0, 2.5, 4.0, 4.0, 4.0];
/// Silence after which an account and region warm up again.
const STALE_MINUTES: i64 = 7 * 1440;
/// Baseline period reported in records (7 days).
const BASELINE_MAX_MINUTES: i64 = 10_080;

/// New counts for one API and minute, with attribution strings borrowed from the batch.
#[derive(Debug, Clone, Default)]
pub struct MinuteDelta<'a> {
    /// Minutes since the epoch.
    pub minute: i64,
    /// Calls.
    pub calls: u32,
    /// Calls with an errorCode.
    pub errors: u32,
    /// Errors per code.
    pub by_error: Vec<(&'a str, u32)>,
    /// Calls per caller.
    pub by_caller: Vec<(&'a str, u32)>,
    /// Calls per user agent.
    pub by_agent: Vec<(&'a str, u32)>,
}

/// An insight that has started and not ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActiveInsight {
    /// Call rate or error rate (with its code).
    pub kind: InsightKind,
    /// First minute.
    pub start: i64,
    /// The verdict that started it.
    pub verdict: Verdict,
    /// Baseline average per minute at the start.
    pub baseline_average: f64,
    /// Baseline attributions at the start.
    pub baseline_attributions: [Attribution; 3],
    /// Minutes of baseline at the start.
    pub baseline_minutes: i64,
    /// Calls (or errors) counted over complete minutes up to the current quiet run.
    pub observed: f64,
    /// Calls (or errors) in the current run of quiet minutes.
    pub quiet_observed: f64,
    /// Consecutive normal complete minutes.
    pub quiet: i64,
    /// Last complete minute beyond the baseline on its own.
    #[serde(default)]
    pub last_hot: i64,
    /// Attributions over the insight so far (complete minutes).
    pub attributions: [Vec<(String, u32)>; 3],
    /// Minute up to which attributions were accumulated (exclusive).
    pub attributed_to: i64,
}

/// Everything the detector keeps for one API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiState {
    /// The learned baseline.
    pub model: ApiModel,
    /// Recent minutes.
    pub window: MinuteWindow,
    /// Insights in progress.
    pub active: Vec<ActiveInsight>,
    /// Last End minute per insight kind (no new Start at or before it).
    pub ended: Vec<(InsightKind, i64)>,
    /// Calls and expectations of the newest complete minutes (rebuilt when missing).
    #[serde(skip)]
    pub recent: Recent,
}

impl ApiState {
    /// A fresh state learning from `since`.
    pub fn new(since: i64) -> Self {
        ApiState {
            model: ApiModel::new(since),
            window: MinuteWindow {
                settled_before: since,
                ..MinuteWindow::default()
            },
            active: vec![],
            ended: vec![],
            recent: Recent::default(),
        }
    }

    fn is_active(&self, kind: &InsightKind) -> bool {
        self.active.iter().any(|a| &a.kind == kind)
    }

    fn last_end(&self, kind: &InsightKind) -> i64 {
        self.ended
            .iter()
            .filter(|e| &e.0 == kind)
            .map(|e| e.1)
            .max()
            .unwrap_or(i64::MIN)
    }
}

/// Time bookkeeping of one account and region.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StreamState {
    /// First minute any data was seen (history starts here).
    pub first_minute: i64,
    /// Newest delivery minute (or newest event minute + 5 without delivery times).
    pub watermark: i64,
    /// Newest event minute seen.
    pub newest_event: i64,
}

/// The detector for all APIs of all accounts and regions.
#[derive(Debug)]
pub struct Detector {
    config: DetectorConfig,
    /// Per account, then region (nested so lookups by `&str` allocate nothing).
    streams: BTreeMap<String, BTreeMap<String, StreamState>>,
    apis: FxHashMap<ApiKey, ApiState>,
    live: BTreeMap<String, BTreeMap<String, BTreeSet<ApiKey>>>,
    /// APIs with new data since their last Start evaluation.
    dirty: FxHashSet<ApiKey>,
}

impl Detector {
    /// A detector with no history.
    pub fn new(config: DetectorConfig) -> Self {
        Detector {
            config,
            streams: BTreeMap::new(),
            apis: FxHashMap::default(),
            live: BTreeMap::new(),
            dirty: FxHashSet::default(),
        }
    }

    /// The state of one API, if it has been seen.
    pub fn api(&self, key: &ApiKey) -> Option<&ApiState> {
        self.apis.get(key)
    }

    /// An account and region's time bookkeeping and live APIs.
    pub fn stream(&self, key: &(String, String)) -> (Option<&StreamState>, BTreeSet<ApiKey>) {
        (
            self.streams.get(&key.0).and_then(|r| r.get(&key.1)),
            self.live
                .get(&key.0)
                .and_then(|r| r.get(&key.1))
                .cloned()
                .unwrap_or_default(),
        )
    }

    /// Puts back a stream's state loaded from a store.
    pub fn restore_stream(&mut self, key: (String, String), state: Option<StreamState>, live: BTreeSet<ApiKey>) {
        if let Some(state) = state {
            self.streams
                .entry(key.0.clone())
                .or_default()
                .insert(key.1.clone(), state);
        }
        if !live.is_empty() {
            self.live.entry(key.0).or_default().insert(key.1, live);
        }
    }

    /// Puts back an API's state loaded from a store.
    pub fn restore_api(&mut self, key: ApiKey, state: ApiState) {
        self.apis.insert(key, state);
    }

    /// Adds one minute's new counts of one API.
    pub fn observe(&mut self, api: &ApiKey, d: &MinuteDelta<'_>) {
        let regions = match self.streams.get_mut(&api.account) {
            Some(r) => r,
            None => self.streams.entry(api.account.clone()).or_default(),
        };
        let stream = match regions.get_mut(&api.region) {
            Some(s) => s,
            None => regions.entry(api.region.clone()).or_insert_with(|| StreamState {
                first_minute: d.minute,
                watermark: i64::MIN,
                newest_event: d.minute,
            }),
        };
        if d.minute - stream.newest_event > STALE_MINUTES {
            // After a week of silence the history is stale: warm up again.
            stream.first_minute = d.minute;
        }
        stream.first_minute = stream.first_minute.min(d.minute);
        stream.newest_event = stream.newest_event.max(d.minute);
        let first = stream.first_minute;
        let state = match self.apis.get_mut(api) {
            Some(s) => s,
            None => self
                .apis
                .entry(api.clone())
                .or_insert_with(|| ApiState::new(first.min(d.minute))),
        };
        let m = state.window.minutes.entry(d.minute).or_default();
        m.calls += d.calls;
        m.errors += d.errors;
        add_capped(&mut m.by_error, &d.by_error, MINUTE_ATTRIBUTION_CAP);
        add_capped(&mut m.by_caller, &d.by_caller, MINUTE_ATTRIBUTION_CAP);
        add_capped(&mut m.by_agent, &d.by_agent, MINUTE_ATTRIBUTION_CAP);
        let live = match self.live.get_mut(&api.account) {
            Some(r) => r,
            None => self.live.entry(api.account.clone()).or_default(),
        };
        let set = match live.get_mut(&api.region) {
            Some(s) => s,
            None => live.entry(api.region.clone()).or_default(),
        };
        if !set.contains(api) {
            set.insert(api.clone());
        }
        if !self.dirty.contains(api) {
            self.dirty.insert(api.clone());
        }
    }

    /// Evaluates every live API of one account and region after a file; `delivered` is the
    /// file's delivery minute. Returns the insight events (Starts and Ends).
    pub fn advance(&mut self, account: &str, region: &str, delivered: Option<i64>) -> Vec<Envelope> {
        let Some(stream) = self.streams.get_mut(account).and_then(|r| r.get_mut(region)) else {
            return vec![];
        };
        let mark = delivered.unwrap_or(stream.newest_event + 5);
        stream.watermark = stream.watermark.max(mark);
        let stream = stream.clone();
        let settle_before = stream.watermark - self.config.settle_minutes;
        let Some(live) = self.live.get_mut(account).and_then(|r| r.get_mut(region)) else {
            return vec![];
        };
        let mut events = vec![];
        let mut done = vec![];
        for api in live.iter() {
            let Some(state) = self.apis.get_mut(api) else {
                done.push(api.clone());
                continue;
            };
            let t = self.config.thresholds(&api.event_source, &api.event_name);
            let eval = Eval {
                api,
                t: &t,
                config: &self.config,
                stream: &stream,
                detected_at: stream.watermark,
            };
            // Only new data can raise a window: APIs without any are not re-tested for a Start.
            if self.dirty.remove(api) && t.enabled {
                eval.starts(state, &mut events);
            }
            eval.settle(state, settle_before, &mut events);
            state.window.trim();
            let open = state
                .window
                .minutes
                .range(state.window.settled_before..)
                .next()
                .is_some();
            if !open && state.active.is_empty() {
                done.push(api.clone());
            }
        }
        for api in done {
            live.remove(&api);
        }
        events
    }
}

struct Eval<'a> {
    api: &'a ApiKey,
    t: &'a Thresholds,
    config: &'a DetectorConfig,
    stream: &'a StreamState,
    detected_at: i64,
}

impl Eval<'_> {
    fn warmed_up(&self, minute: i64) -> bool {
        minute - self.stream.first_minute >= self.config.warmup_minutes
    }

    fn baseline_minutes(&self, start: i64) -> i64 {
        (start - self.stream.first_minute).clamp(0, BASELINE_MAX_MINUTES)
    }

    /// Looks for new Starts in the open minutes.
    fn starts(&self, s: &mut ApiState, events: &mut Vec<Envelope>) {
        let open: Vec<i64> = s
            .window
            .minutes
            .range(s.window.settled_before..)
            .map(|(m, _)| *m)
            .collect();
        let (Some(&lo), Some(&hi)) = (open.first(), open.last()) else {
            return;
        };
        let sums = Sums::new(s, lo - HISTORY_MINUTES + 1, hi);
        for t in open {
            if !self.warmed_up(t) {
                continue;
            }
            if !s.is_active(&InsightKind::CallRate) {
                if let Some((start, verdict)) = self.call_rate_verdict(s, &sums, t) {
                    if start > s.last_end(&InsightKind::CallRate) {
                        self.start(s, InsightKind::CallRate, start, t, verdict, events);
                    }
                }
            }
            // Errors that come with an anomalous call rate are part of that insight (an intruder's
            // AccessDenied while enumerating): an error-rate insight is for a normal call rate.
            let rate_anomalous = s.is_active(&InsightKind::CallRate);
            for (kind, start, verdict) in self.error_verdicts(s, t) {
                if !rate_anomalous && !s.is_active(&kind) && start > s.last_end(&kind) {
                    self.start(s, kind, start, t, verdict, events);
                }
            }
        }
    }

    fn call_rate_verdict(&self, s: &ApiState, sums: &Sums, t: i64) -> Option<(i64, Verdict)> {
        for (i, len) in WINDOWS.iter().enumerate() {
            if sums.observed(t, *len) < f64::from(self.t.min_calls) * MIN_CALLS_SCALE[i] {
                continue;
            }
            let (observed, expected) = sums.window(&s.model, t, *len);
            if observed < self.t.min_ratio * expected {
                continue;
            }
            let burst = s.model.burst(i, t);
            // Compare like with like: the burst memory of multi-minute windows leaves out the
            // largest minute, and so does this excess.
            let excess = if *len > 1 {
                sums.robust_excess(&s.model, t, *len)
            } else {
                observed - expected
            };
            if excess <= self.t.burst_margin * burst {
                continue;
            }
            let p = count_tail(observed, expected, self.t.overdispersion);
            if p >= self.t.p_value {
                continue;
            }
            let first = (t - len + 1..=t)
                .find(|m| {
                    let (c, e) = sums.window(&s.model, *m, 1);
                    c > 0.0 && c >= self.t.min_ratio * e
                })
                .unwrap_or(t - len + 1);
            let reason = format!(
                "{} had {} calls in {} min up to {} where its baseline for that time expects {:.1} ({:.1}x, tail probability {:.1e}); its largest recent burst was {:.0} calls above normal",
                self.api.event_name, observed, len, minute_time(t), expected, observed / expected.max(1e-9), p, burst
            );
            return Some((
                first,
                Verdict {
                    window: *len,
                    expected,
                    observed,
                    p_value: p,
                    reason,
                },
            ));
        }
        None
    }

    fn error_verdicts(&self, s: &ApiState, t: i64) -> Vec<(InsightKind, i64, Verdict)> {
        let mut out = vec![];
        for (i, len) in [(1usize, 5i64), (2, 15)] {
            // Cheap gate first: too few errors of any code in the window.
            let errors: u64 = s
                .window
                .minutes
                .range(t - len + 1..=t)
                .map(|(_, d)| u64::from(d.errors))
                .sum();
            if errors < u64::from(self.t.min_errors) * (i as u64) {
                continue;
            }
            for code in s.window.codes(t, len) {
                let kind = InsightKind::ErrorRate(code.clone());
                if out.iter().any(|(k, _, _)| k == &kind) {
                    continue;
                }
                let (calls, errors) = s.window.sum_errors(t, len, &code);
                if errors < u64::from(self.t.min_errors) * (i as u64) || calls == 0 {
                    continue;
                }
                let fraction = errors as f64 / calls as f64;
                let p0 = s.model.error_fraction(&code);
                if fraction < self.t.min_error_fraction || fraction < self.t.error_ratio * p0 {
                    continue;
                }
                let p = error_tail(errors, calls, (p0 * 1.5 + 0.002).min(1.0));
                if p >= self.t.p_value {
                    continue;
                }
                let first = (t - len + 1..=t)
                    .find(|m| s.window.sum_errors(*m, 1, &code).1 > 0)
                    .unwrap_or(t - len + 1);
                let reason = format!(
                    "{errors} of {calls} {} calls failed with {code} in {len} min up to {} ({:.0}%) where the baseline fraction is {:.2}% (tail probability {p:.1e})",
                    self.api.event_name, minute_time(t), fraction * 100.0, p0 * 100.0
                );
                let expected = p0 * calls as f64;
                out.push((
                    kind,
                    first,
                    Verdict {
                        window: len,
                        expected,
                        observed: errors as f64,
                        p_value: p,
                        reason,
                    },
                ));
            }
        }
        out
    }

    fn start(
        &self,
        s: &mut ApiState,
        kind: InsightKind,
        start: i64,
        t: i64,
        verdict: Verdict,
        events: &mut Vec<Envelope>,
    ) {
        let minutes = (t - start + 1).max(1) as f64;
        let (baseline_average, insight_average) = match &kind {
            InsightKind::CallRate => (
                s.model.baseline_average(),
                s.window.sum_calls(t, t - start + 1) as f64 / minutes,
            ),
            InsightKind::ErrorRate(code) => (
                s.model.error_average(code),
                s.window.sum_errors(t, t - start + 1, code).1 as f64 / minutes,
            ),
        };
        let baseline_attributions = [0, 1, 2].map(|a| s.model.baseline_attributions(a));
        let insight_attributions = [0, 1, 2].map(|a| averages(&s.window.attributions(start, t, a), minutes));
        let record = InsightRecord {
            api: self.api,
            kind: &kind,
            state: "Start",
            start,
            at: start,
            baseline_average,
            insight_average,
            baseline_minutes: self.baseline_minutes(start),
            insight_attributions,
            baseline_attributions: baseline_attributions.clone(),
            verdict: &verdict,
            detected_at: self.detected_at,
        };
        events.push(record.envelope());
        let settled_to = s.window.settled_before.max(start);
        let attributions = [0, 1, 2].map(|a| s.window.attributions(start, settled_to - 1, a));
        let observed = match &kind {
            InsightKind::CallRate => s.window.sum_calls(settled_to - 1, settled_to - start) as f64,
            InsightKind::ErrorRate(code) => s.window.sum_errors(settled_to - 1, settled_to - start, code).1 as f64,
        };
        s.active.push(ActiveInsight {
            kind,
            start,
            verdict,
            baseline_average,
            baseline_attributions,
            baseline_minutes: self.baseline_minutes(start),
            observed,
            quiet_observed: 0.0,
            quiet: 0,
            last_hot: start,
            attributions,
            attributed_to: settled_to,
        });
    }

    /// Completes every minute before `before`: Ends, then learning.
    fn settle(&self, s: &mut ApiState, before: i64, events: &mut Vec<Envelope>) {
        let mut m = s.window.settled_before;
        while m < before {
            let has_recent = s.window.minutes.range(m - HISTORY_MINUTES + 1..=m).next().is_some();
            if !has_recent && s.active.is_empty() {
                // Nothing within the longest window and no insight: jump to the next data.
                let next = s
                    .window
                    .minutes
                    .range(m..)
                    .next()
                    .map_or(before, |(k, _)| (*k - HISTORY_MINUTES + 1).max(m + 1))
                    .min(before);
                s.model
                    .learn(next - 1, 0, &[], [&[], &[], &[]], [0.0; 5], 0.0, true, true);
                m = next;
                continue;
            }
            self.settle_minute(s, m, events);
            m += 1;
        }
        s.window.settled_before = s.window.settled_before.max(before);
    }

    fn settle_minute(&self, s: &mut ApiState, m: i64, events: &mut Vec<Envelope>) {
        if s.active.is_empty() && !s.window.minutes.contains_key(&m) {
            // A quiet minute: the clock and the averages move on; nothing else to learn (the
            // largest window excesses were reached at the minutes with calls).
            let expected = s.model.expected(m);
            let (model, window) = (&s.model, &s.window);
            s.recent.push(m, 0, expected, |g| (window.calls(g), model.expected(g)));
            s.model.idle(m);
            return;
        }
        let empty = MinuteData::default();
        let data = s.window.minutes.get(&m).unwrap_or(&empty);
        let mut ended = vec![];
        for (idx, a) in s.active.iter_mut().enumerate() {
            if m < a.attributed_to {
                continue;
            }
            // A minute is "hot" when it alone is beyond the baseline; the insight ends once the
            // window that started it has been back in range for `end_after_minutes` complete
            // minutes, and its End is the minute after the last hot one.
            let len = a.verdict.window.max(1);
            let (value, hot, normal) = match &a.kind {
                InsightKind::CallRate => {
                    let e1 = s.model.expected(m);
                    let c = f64::from(data.calls);
                    let hot =
                        c > 0.0 && c > (self.t.min_ratio * e1).max(e1 + 3.0 * count_sd(e1, self.t.overdispersion));
                    let o = s.window.sum_calls(m, len) as f64;
                    let e = s.model.expected_sum(m, len);
                    let idx = WINDOWS.iter().position(|w| *w == len).unwrap_or(0);
                    let floor = f64::from(self.t.min_calls) * MIN_CALLS_SCALE[idx] / 2.0;
                    let limit = (self.t.min_ratio * e)
                        .max(e + 3.0 * count_sd(e, self.t.overdispersion))
                        .max(floor);
                    (c, hot, o <= limit)
                }
                InsightKind::ErrorRate(code) => {
                    let p0 = s.model.error_fraction(code);
                    let bar = (self.t.min_error_fraction / 2.0).max(p0 * self.t.error_ratio);
                    let e1 = f64::from(data.by_error.iter().filter(|x| &x.0 == code).map(|x| x.1).sum::<u32>());
                    let hot = e1 > 0.0 && e1 / f64::from(data.calls).max(1.0) > bar;
                    let (n, e) = s.window.sum_errors(m, len, code);
                    let normal =
                        (e as f64) < f64::from(self.t.min_errors) / 2.0 || e as f64 / (n as f64).max(1.0) <= bar;
                    (e1, hot, normal)
                }
            };
            for (i, list) in [&data.by_caller, &data.by_agent, &data.by_error].iter().enumerate() {
                let items: Vec<(&str, u32)> = list.iter().map(|(v, n)| (v.as_str(), *n)).collect();
                add_capped(&mut a.attributions[i], &items, 32);
            }
            if data.calls > data.errors {
                add_capped(&mut a.attributions[2], &[("null", data.calls - data.errors)], 32);
            }
            a.attributed_to = m + 1;
            a.quiet_observed += value;
            if hot {
                a.last_hot = m;
                a.observed += a.quiet_observed;
                a.quiet_observed = 0.0;
            }
            a.quiet = if normal { a.quiet + 1 } else { 0 };
            let too_long = m + 1 - a.start >= self.config.max_insight_minutes;
            if a.quiet >= self.config.end_after_minutes || too_long {
                let forced = too_long && a.quiet < self.config.end_after_minutes;
                let end = if forced {
                    m + 1
                } else {
                    (a.last_hot + 1).max(a.start + 1)
                };
                if forced {
                    a.observed += a.quiet_observed;
                }
                ended.push((idx, end, forced));
            }
        }
        for (idx, end, forced) in ended.into_iter().rev() {
            let a = s.active.remove(idx);
            events.push(self.end_event(&a, end, forced));
            s.ended.retain(|e| e.0 != a.kind);
            // After a forced end, the new level is learned for as long again before any new Start.
            let quiet_until = if forced {
                end + self.config.max_insight_minutes
            } else {
                end
            };
            s.ended.push((a.kind, quiet_until));
        }
        let rate_active = s.active.iter().any(|a| a.kind == InsightKind::CallRate);
        let errors_active = s.active.iter().any(|a| a.kind != InsightKind::CallRate);
        let expected = s.model.expected(m);
        let (model, window) = (&s.model, &s.window);
        s.recent
            .push(m, data.calls, expected, |g| (window.calls(g), model.expected(g)));
        let excess = s.recent.robust_excesses(WINDOWS);
        let local = (s.recent.sums(11).0 - f64::from(data.calls)) / 10.0;
        s.model.learn(
            m,
            data.calls,
            &data.by_error,
            [&data.by_caller, &data.by_agent, &data.by_error],
            excess,
            local,
            !rate_active,
            !errors_active,
        );
    }

    fn end_event(&self, a: &ActiveInsight, end: i64, forced: bool) -> Envelope {
        let minutes = (end - a.start).max(1) as f64;
        let mut verdict = a.verdict.clone();
        verdict.reason = if forced {
            format!(
                "{} stayed above its baseline for {} min; trailsight ends the insight and learns the new level",
                self.api.event_name,
                end - a.start
            )
        } else {
            format!(
                "{} returned to its baseline: {} consecutive complete minutes within the normal range",
                self.api.event_name, self.config.end_after_minutes
            )
        };
        let insight_attributions = [0, 1, 2].map(|i| {
            let mut list = a.attributions[i].clone();
            list.sort_by(|x, y| y.1.cmp(&x.1).then_with(|| x.0.cmp(&y.0)));
            averages(&list, minutes)
        });
        InsightRecord {
            api: self.api,
            kind: &a.kind,
            state: "End",
            start: a.start,
            at: end,
            baseline_average: a.baseline_average,
            insight_average: a.observed / minutes,
            baseline_minutes: a.baseline_minutes,
            insight_attributions,
            baseline_attributions: a.baseline_attributions.clone(),
            verdict: &verdict,
            detected_at: self.detected_at,
        }
        .envelope()
    }
}

/// Observed and expected calls per minute over a range, with prefix sums for O(1) windows.
struct Sums {
    lo: i64,
    hi: i64,
    observed: Vec<f64>,
    /// Computed on first use: most APIs never pass the cheap observed-count gate.
    expected: std::cell::OnceCell<Vec<f64>>,
}

impl Sums {
    fn new(s: &ApiState, lo: i64, hi: i64) -> Self {
        let n = (hi - lo + 1).max(0) as usize;
        let mut observed = vec![0.0; n + 1];
        for (m, d) in s.window.minutes.range(lo..=hi) {
            observed[(m - lo + 1) as usize] = f64::from(d.calls);
        }
        for i in 1..observed.len() {
            observed[i] += observed[i - 1];
        }
        Sums {
            lo,
            hi,
            observed,
            expected: std::cell::OnceCell::new(),
        }
    }

    fn expected_prefix(&self, model: &ApiModel) -> &[f64] {
        self.expected.get_or_init(|| {
            let mut e = 0.0;
            std::iter::once(0.0)
                .chain((self.lo..=self.hi).map(|m| {
                    e += model.expected(m);
                    e
                }))
                .collect()
        })
    }

    fn bounds(&self, end: i64, len: i64) -> (usize, usize) {
        let max = self.observed.len().saturating_sub(1) as i64;
        (
            (end - len + 1 - self.lo).clamp(0, max) as usize,
            (end - self.lo + 1).clamp(0, max) as usize,
        )
    }

    /// Observed calls over `(end - len, end]`, clipped to the range.
    fn observed(&self, end: i64, len: i64) -> f64 {
        let (lo, hi) = self.bounds(end, len);
        self.observed[hi] - self.observed[lo]
    }

    /// Excess over `(end - len, end]` leaving out the minute with the most calls.
    fn robust_excess(&self, model: &ApiModel, end: i64, len: i64) -> f64 {
        let (o, e) = self.window(model, end, len);
        let top = (end - len + 1..=end)
            .map(|m| self.window(model, m, 1))
            .max_by(|a, b| a.0.total_cmp(&b.0));
        match top {
            Some((c, x)) => (o - c) - (e - x),
            None => o - e,
        }
    }

    /// Observed and expected calls over `(end - len, end]`, clipped to the range.
    fn window(&self, model: &ApiModel, end: i64, len: i64) -> (f64, f64) {
        let (lo, hi) = self.bounds(end, len);
        let e = self.expected_prefix(model);
        (self.observed[hi] - self.observed[lo], e[hi] - e[lo])
    }
}

fn averages(list: &[(String, u32)], minutes: f64) -> Attribution {
    list.iter()
        .take(5)
        .map(|(v, n)| (v.clone(), f64::from(*n) / minutes))
        .collect()
}

#[cfg(test)]
mod tests;
