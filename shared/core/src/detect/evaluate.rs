//! Evaluating one API after a file: Starts on open minutes, then completing minutes (Ends
//! and learning), with prefix sums for the window tests.

use super::*;
use smallvec::SmallVec;
use tail::{count_sd, count_tail, error_tail};

/// The evaluation of one API in one account and region, after one file.
pub(super) struct Eval<'a> {
    pub(super) api: &'a ApiKey,
    pub(super) t: &'a Thresholds,
    pub(super) config: &'a DetectorConfig,
    pub(super) stream: &'a StreamState,
    pub(super) detected_at: i64,
}

impl Eval<'_> {
    fn warmed_up(&self, minute: i64) -> bool {
        minute - self.stream.first_minute >= self.config.warmup_minutes
    }

    fn baseline_minutes(&self, start: i64) -> i64 {
        (start - self.stream.first_minute).clamp(0, BASELINE_MAX_MINUTES)
    }

    /// Looks for new Starts in the open minutes.
    pub(super) fn starts(&self, s: &mut ApiState, events: &mut Vec<Envelope>) {
        // When the newest minute is still in the warm-up, so are all the others, and there
        // is nothing to test (known from the newest minute alone, without finding the others).
        if !s.window.newest().is_some_and(|m| self.warmed_up(m)) {
            return;
        }
        let open: SmallVec<[i64; 32]> =
            s.window.counts_in(s.window.settled_before, i64::MAX).map(|c| c.minute).collect();
        let (Some(&lo), Some(&hi)) = (open.first(), open.last()) else {
            return;
        };
        // Open minutes come in ascending order: when the newest is still in the warm-up, so
        // are all the others, and there is nothing to test.
        if !self.warmed_up(hi) {
            return;
        }
        let sums = Sums::new(s, lo - HISTORY_MINUTES + 1, hi);
        // Every error window (at most 15 minutes) of every open minute lies within this range:
        // with too few errors in all of it, no error-rate verdict can pass (most APIs, most
        // files). Summed once, when a warmed-up minute first needs it.
        let mut errors_possible = None;
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
            let possible = *errors_possible.get_or_insert_with(|| {
                let near: u64 = s.window.counts_in(lo - 14, hi).map(|c| u64::from(c.errors)).sum();
                near >= u64::from(self.t.min_errors)
            });
            if !possible {
                continue;
            }
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
            let observed = sums.observed(t, *len);
            if observed < f64::from(self.t.min_calls) * MIN_CALLS_SCALE[i] {
                continue;
            }
            // Expected calls are never below the seasonal mean: when even that rules the window
            // out (a busy API at its usual rate), the exact expectation (scheduled spikes of
            // every minute of the range) is not computed.
            if observed < self.t.min_ratio * sums.seasonal_floor(&s.model, t, *len) {
                continue;
            }
            let (observed, expected) = sums.window(&s.model, t, *len);
            if observed < self.t.min_ratio * expected {
                continue;
            }
            let burst = s.model.burst(i, t);
            // Compare like with like: the burst memory of multi-minute windows leaves out the
            // largest minute, and so does this excess.
            let excess = if *len > 1 { sums.robust_excess(&s.model, t, *len) } else { observed - expected };
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
            return Some((first, Verdict { window: *len, expected, observed, p_value: p, reason }));
        }
        None
    }

    fn error_verdicts(&self, s: &ApiState, t: i64) -> Vec<(InsightKind, i64, Verdict)> {
        let mut out = vec![];
        for (i, len) in [(1usize, 5i64), (2, 15)] {
            // Cheap gate first: too few errors of any code in the window.
            let errors: u64 = s.window.counts_in(t - len + 1, t).map(|c| u64::from(c.errors)).sum();
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
                let first = (t - len + 1..=t).find(|m| s.window.sum_errors(*m, 1, &code).1 > 0).unwrap_or(t - len + 1);
                let reason = format!(
                    "{errors} of {calls} {} calls failed with {code} in {len} min up to {} ({:.0}%) where the baseline fraction is {:.2}% (tail probability {p:.1e})",
                    self.api.event_name, minute_time(t), fraction * 100.0, p0 * 100.0
                );
                let expected = p0 * calls as f64;
                out.push((kind, first, Verdict { window: len, expected, observed: errors as f64, p_value: p, reason }));
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
            InsightKind::CallRate => {
                (s.model.baseline_average(), s.window.sum_calls(t, t - start + 1) as f64 / minutes)
            }
            InsightKind::ErrorRate(code) => {
                (s.model.error_average(code), s.window.sum_errors(t, t - start + 1, code).1 as f64 / minutes)
            }
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
        if self.config.record_charts {
            let id = shared_event_id(self.api, &kind, start);
            s.charts.get_or_insert_default().open(id, kind.clone(), start, self.t);
        }
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
    pub(super) fn settle(&self, s: &mut ApiState, before: i64, events: &mut Vec<Envelope>) {
        let mut m = s.window.settled_before;
        // Position in the window (which settling leaves as it is) of the first minute with
        // calls at or after `m`: it only moves forward, so the minutes are walked once, and
        // only near the newest ones (the minute before it is the last with calls before `m`).
        let mut at = s.window.position(m);
        while m < before {
            while s.window.minute_at(at).is_some_and(|d| d < m) {
                at += 1;
            }
            // Minutes from `before` on are not being completed: they count as no data.
            let next_data = s.window.minute_at(at).filter(|d| *d < before);
            let last_before = at.checked_sub(1).and_then(|p| s.window.minute_at(p));
            // Calls within the longest window back from `m`: at `m`, or at the last minute
            // with calls before it.
            let has_recent = next_data == Some(m) || last_before.is_some_and(|d| d > m - HISTORY_MINUTES);
            if !has_recent && s.active.is_empty() {
                // Nothing within the longest window and no insight: jump to the next data.
                let next = next_data.map_or(before, |k| (k - HISTORY_MINUTES + 1).max(m + 1)).min(before);
                let none = MinuteAttributions::default();
                let nothing = || none.by_error();
                s.model.learn(
                    next - 1,
                    0,
                    nothing(),
                    [nothing(), nothing(), nothing()],
                    [0.0; 5],
                    0.0,
                    true,
                    true,
                    None,
                );
                m = next;
                continue;
            }
            let position = (s.window.minute_at(at) == Some(m)).then_some(at);
            self.settle_minute(s, m, position, events);
            m += 1;
        }
        s.window.settled_before = s.window.settled_before.max(before);
    }

    /// Completes minute `m`, whose data (if any) is at `position` in the window.
    fn settle_minute(&self, s: &mut ApiState, m: i64, position: Option<usize>, events: &mut Vec<Envelope>) {
        if s.active.is_empty() && position.is_none() {
            // A quiet minute: the clock and the averages move on; nothing else to learn (the
            // largest window excesses were reached at the minutes with calls).
            let expected = s.model.expected(m);
            let (model, window) = (&s.model, &s.window);
            s.recent.push(m, 0, expected, |g| (window.calls(g), model.expected(g)));
            self.record(Parts::of(s), m, Count::default(), expected);
            s.model.idle(m);
            return;
        }
        let (count, attrs) = position.and_then(|i| s.window.at(i)).unwrap_or_default();
        let mut ended = vec![];
        for (idx, a) in s.active.iter_mut().enumerate() {
            if m < a.attributed_to {
                continue;
            }
            // A minute is "hot" when it alone is beyond the baseline; the insight ends once the
            // window that started it has been back in range for `end_after_minutes` complete
            // minutes, and its End is the minute after the last hot one.
            let len = a.verdict.window.max(1);
            let (value, hot, normal) = self.minute_verdict(&s.model, &s.window, &a.kind, len, m, count, &attrs);
            for (i, list) in [attrs.by_caller(), attrs.by_agent(), attrs.by_error()].into_iter().enumerate() {
                let items: Vec<(&str, u32)> = list.map(|(v, n)| (&**v, n)).collect();
                add_capped(&mut a.attributions[i], &items, 32);
            }
            if count.calls > count.errors {
                add_capped(&mut a.attributions[2], &[("null", count.calls - count.errors)], 32);
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
                let end = if forced { m + 1 } else { (a.last_hot + 1).max(a.start + 1) };
                if forced {
                    a.observed += a.quiet_observed;
                }
                ended.push((idx, end, forced));
            }
        }
        if let Some(log) = s.charts.as_deref_mut() {
            for (idx, end, _) in &ended {
                if let Some(a) = s.active.get(*idx) {
                    log.end(&a.kind, *end);
                }
            }
        }
        self.end_insights(&mut s.active, &mut s.ended, ended, events);
        let rate_active = s.active.iter().any(|a| a.kind == InsightKind::CallRate);
        let errors_active = s.active.iter().any(|a| a.kind != InsightKind::CallRate);
        let x = s.model.expectation(m);
        let (model, window) = (&s.model, &s.window);
        s.recent.push(m, count.calls, x.expected, |g| (window.calls(g), model.expected(g)));
        self.record(Parts { model: &s.model, window: &s.window, charts: &mut s.charts }, m, count, x.expected);
        let excess = s.recent.robust_excesses();
        let local = (s.recent.sums(11).0 - f64::from(count.calls)) / 10.0;
        s.model.learn(
            m,
            count.calls,
            attrs.by_error(),
            [attrs.by_caller(), attrs.by_agent(), attrs.by_error()],
            excess,
            local,
            !rate_active,
            !errors_active,
            Some(x),
        );
    }

    /// Records a complete minute for the charts, when recording (see [`ChartLog`]), with the
    /// expectation and burst memory the minute was judged with.
    fn record(&self, s: Parts<'_>, m: i64, count: Count, expected: f64) {
        if !self.config.record_charts {
            return;
        }
        let Parts { model, window, charts } = s;
        let seen = Seen { minute: m, calls: count.calls, errors: count.errors, expected, burst: model.burst(0, m) };
        let fill = |g: i64| Seen {
            minute: g,
            calls: window.calls(g),
            errors: 0,
            expected: model.expected(g),
            burst: model.burst(0, g),
        };
        charts.get_or_insert_default().push(seen, self.t, fill);
    }

    /// One minute's look at an insight in progress: the value the minute adds, whether the
    /// minute alone is beyond the baseline ("hot"), and whether the window that started the
    /// insight is back in range.
    #[allow(clippy::too_many_arguments)]
    fn minute_verdict(
        &self,
        model: &ApiModel,
        window: &MinuteWindow,
        kind: &InsightKind,
        len: i64,
        m: i64,
        count: Count,
        attrs: &MinuteAttributions<'_>,
    ) -> (f64, bool, bool) {
        match kind {
            InsightKind::CallRate => {
                let e1 = model.expected(m);
                let c = f64::from(count.calls);
                let hot = c > 0.0 && c > (self.t.min_ratio * e1).max(e1 + 3.0 * count_sd(e1, self.t.overdispersion));
                let o = window.sum_calls(m, len) as f64;
                let e = model.expected_sum(m, len);
                let idx = WINDOWS.iter().position(|w| *w == len).unwrap_or(0);
                let floor = f64::from(self.t.min_calls) * MIN_CALLS_SCALE[idx] / 2.0;
                let limit = (self.t.min_ratio * e).max(e + 3.0 * count_sd(e, self.t.overdispersion)).max(floor);
                (c, hot, o <= limit)
            }
            InsightKind::ErrorRate(code) => {
                let p0 = model.error_fraction(code);
                let bar = (self.t.min_error_fraction / 2.0).max(p0 * self.t.error_ratio);
                let e1 = f64::from(attrs.by_error().filter(|x| &**x.0 == code.as_str()).map(|x| x.1).sum::<u32>());
                let hot = e1 > 0.0 && e1 / f64::from(count.calls).max(1.0) > bar;
                let (n, e) = window.sum_errors(m, len, code);
                let normal = (e as f64) < f64::from(self.t.min_errors) / 2.0 || e as f64 / (n as f64).max(1.0) <= bar;
                (e1, hot, normal)
            }
        }
    }

    /// Removes the insights that end at this minute (`ended`: index, End minute, forced),
    /// emitting their End events and remembering when each kind may start again.
    fn end_insights(
        &self,
        active: &mut Vec<ActiveInsight>,
        ended_kinds: &mut Vec<(InsightKind, i64)>,
        ended: Vec<(usize, i64, bool)>,
        events: &mut Vec<Envelope>,
    ) {
        for (idx, end, forced) in ended.into_iter().rev() {
            let a = active.remove(idx);
            events.push(self.end_event(&a, end, forced));
            ended_kinds.retain(|e| e.0 != a.kind);
            // After a forced end, the new level is learned for as long again before any new Start.
            let quiet_until = if forced { end + self.config.max_insight_minutes } else { end };
            ended_kinds.push((a.kind, quiet_until));
        }
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

/// The parts of an [`ApiState`] that recording a minute reads and writes, borrowed apart so
/// the minute's attributions (borrowed from the window) stay usable.
struct Parts<'s> {
    model: &'s ApiModel,
    window: &'s MinuteWindow,
    charts: &'s mut Option<Box<ChartLog>>,
}

impl<'s> Parts<'s> {
    fn of(s: &'s mut ApiState) -> Self {
        Parts { model: &s.model, window: &s.window, charts: &mut s.charts }
    }
}

/// Observed and expected calls per minute over a range, with prefix sums for O(1) windows.
struct Sums {
    lo: i64,
    hi: i64,
    observed: Vec<f64>,
    /// Computed on first use: most APIs never pass the cheap observed-count gate.
    expected: std::cell::OnceCell<Vec<f64>>,
    /// The seasonal mean of each hour of the range, from its first hour (computed on first use).
    seasonal: std::cell::OnceCell<SmallVec<[f64; 4]>>,
}

impl Sums {
    fn new(s: &ApiState, lo: i64, hi: i64) -> Self {
        let n = (hi - lo + 1).max(0) as usize;
        let mut observed = vec![0.0; n + 1];
        for c in s.window.counts_in(lo, hi) {
            if let Some(o) = observed.get_mut((c.minute - lo + 1) as usize) {
                *o = f64::from(c.calls);
            }
        }
        let mut sum = 0.0;
        for o in observed.iter_mut() {
            sum += *o;
            *o = sum;
        }
        Sums { lo, hi, observed, expected: std::cell::OnceCell::new(), seasonal: std::cell::OnceCell::new() }
    }

    fn expected_prefix(&self, model: &ApiModel) -> &[f64] {
        self.expected.get_or_init(|| {
            let mut e = 0.0;
            std::iter::once(0.0)
                .chain(model.expected_range(self.lo, self.hi).into_iter().map(|x| {
                    e += x;
                    e
                }))
                .collect()
        })
    }

    fn bounds(&self, end: i64, len: i64) -> (usize, usize) {
        let max = self.observed.len().saturating_sub(1) as i64;
        ((end - len + 1 - self.lo).clamp(0, max) as usize, (end - self.lo + 1).clamp(0, max) as usize)
    }

    /// Observed calls over `(end - len, end]`, clipped to the range.
    fn observed(&self, end: i64, len: i64) -> f64 {
        let (lo, hi) = self.bounds(end, len);
        self.observed[hi] - self.observed[lo]
    }

    /// Excess over `(end - len, end]` leaving out the minute with the most calls.
    fn robust_excess(&self, model: &ApiModel, end: i64, len: i64) -> f64 {
        let (o, e) = self.window(model, end, len);
        let top = (end - len + 1..=end).map(|m| self.window(model, m, 1)).max_by(|a, b| a.0.total_cmp(&b.0));
        match top {
            Some((c, x)) => (o - c) - (e - x),
            None => o - e,
        }
    }

    /// A lower bound of the expected calls over `(end - len, end]` (clipped to the range) as
    /// [`Sums::window`] computes them: the seasonal mean, the same for every minute of an
    /// hour, summed hour by hour, less a margin for the rounding of the running sums.
    fn seasonal_floor(&self, model: &ApiModel, end: i64, len: i64) -> f64 {
        let first_hour = self.lo.div_euclid(60);
        let hours = self
            .seasonal
            .get_or_init(|| (first_hour..=self.hi.div_euclid(60)).map(|h| model.seasonal(h * 60)).collect());
        let (lo, hi) = self.bounds(end, len);
        let (mut m, last) = (self.lo + lo as i64, self.lo + hi as i64 - 1);
        let mut sum = 0.0;
        while m <= last {
            let hour = m.div_euclid(60);
            let to = ((hour + 1) * 60 - 1).min(last);
            let mean = usize::try_from(hour - first_hour)
                .ok()
                .and_then(|i| hours.get(i).copied())
                .unwrap_or_else(|| model.seasonal(m));
            sum += (to - m + 1) as f64 * mean;
            m = to + 1;
        }
        sum * 0.999 - 0.01
    }

    /// Observed and expected calls over `(end - len, end]`, clipped to the range.
    fn window(&self, model: &ApiModel, end: i64, len: i64) -> (f64, f64) {
        let (lo, hi) = self.bounds(end, len);
        let e = self.expected_prefix(model);
        (self.observed[hi] - self.observed[lo], e[hi] - e[lo])
    }
}

fn averages(list: &[(String, u32)], minutes: f64) -> Attribution {
    list.iter().take(5).map(|(v, n)| (v.clone(), f64::from(*n) / minutes)).collect()
}
