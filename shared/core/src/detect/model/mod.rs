//! The baseline model of one API: what its normal per-minute call count and error fraction are.
//!
//! What it learns, from complete minutes only (never from minutes inside an insight):
//! - **Seasonality**: the mean calls per minute for each hour of the week (168 values) and for
//!   each hour of the day (24 values, a fallback until a weekly hour has been seen), updated
//!   once per hour by exponential smoothing.
//! - **Scheduled spikes**: excess calls at a minute of the hour (hourly jobs, forgotten within
//!   about a day) and at a minute of the day (nightly jobs and batches, forgotten over about a
//!   week). The expectation for a minute adds these to the seasonal mean.
//! - **Burst memory**: for each window (1, 5, 15, 30, 60 minutes), the largest excess over the
//!   expectation seen recently, decaying with a half-life of 7 days (for windows of several
//!   minutes, leaving out the single largest minute, which scheduled spikes explain). Benign bursts that recur
//!   at varying times (weekday deploys) are then not anomalous unless clearly larger.
//! - **Errors**: the decayed fraction of calls that fail, per errorCode.
//! - **Baseline statistics**: the 7-day average calls (and errors) per minute and the top
//!   callers, user agents and error codes, for the Insights record.
//!
//! The state is a few KB, so it can live in one DynamoDB item per API.

mod hour_cache;
mod top;

use super::spikes::{DaySpike, DaySpikes};
use hour_cache::HourCache;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use top::{bump, NULL};

/// The windows (minutes) over which counts are tested.
pub const WINDOWS: [i64; 5] = [1, 5, 15, 30, 60];
const HOURS_PER_WEEK: usize = 168;

/// The learned baseline of one API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiModel {
    /// Mean calls per minute per hour of the week (index 0 = Monday 00:00 UTC).
    pub week: Vec<f32>,
    /// Times each weekly hour has been learned (saturating).
    pub week_n: Vec<u8>,
    /// Mean calls per minute per hour of the day.
    pub day: Vec<f32>,
    /// Times each daily hour has been learned (saturating).
    pub day_n: Vec<u8>,
    /// Excess calls per minute of the hour (hourly jobs).
    pub hour_spikes: Vec<f32>,
    /// Distinct hours each minute-of-hour spike was seen in (saturating); it counts from the
    /// second on, so a one-off jump is not taken for an hourly job.
    #[serde(default)]
    pub hour_spike_hits: Vec<u8>,
    /// Excess calls at minutes of the day (nightly jobs, batches).
    pub day_spikes: DaySpikes,
    /// Largest recent excess per window of [`WINDOWS`].
    pub burst: [f32; 5],
    /// Minute `burst` was last decayed to.
    pub burst_at: i64,
    /// Largest excess per window since `pending_since`, folded into `burst` once a day, so
    /// an episode in progress (a slow ramp) never raises its own bar.
    #[serde(default)]
    pub pending: [f32; 5],
    /// Start of the current pending day.
    #[serde(default)]
    pub pending_since: i64,
    /// The hour being accumulated, and its calls so far.
    pub hour: i64,
    /// Calls in `hour` so far.
    pub hour_calls: u64,
    /// Decayed calls and minutes for the 7-day baseline average.
    pub avg_calls: f64,
    /// Decayed errors (all codes).
    pub avg_errors: f64,
    /// Decayed minutes.
    pub avg_minutes: f64,
    /// Decayed errors per code (top codes only). Values are shared with the minutes they
    /// were learned from, so a lookup usually matches by pointer (stored as plain strings).
    pub errors_by_code: Vec<(Arc<str>, f64)>,
    /// Decayed top callers, user agents and error codes (`null` for no error), shared as
    /// `errors_by_code`.
    pub attributions: [Vec<(Arc<str>, f64)>; 3],
    /// Minute the decayed sums were last brought to.
    pub avg_at: i64,
    /// First minute learned.
    pub since: i64,
    /// The seasonal mean of the last hour asked for (derived, not stored).
    #[serde(skip)]
    seasonal_hour: HourCache,
}

impl ApiModel {
    /// An empty model that starts learning at minute `since`.
    pub fn new(since: i64) -> Self {
        ApiModel {
            week: vec![0.0; HOURS_PER_WEEK],
            week_n: vec![0; HOURS_PER_WEEK],
            day: vec![0.0; 24],
            day_n: vec![0; 24],
            hour_spikes: vec![0.0; 60],
            hour_spike_hits: vec![0; 60],
            day_spikes: DaySpikes::default(),
            burst: [0.0; 5],
            burst_at: since,
            pending: [0.0; 5],
            pending_since: since,
            hour: since.div_euclid(60),
            hour_calls: 0,
            avg_calls: 0.0,
            avg_errors: 0.0,
            avg_minutes: 0.0,
            errors_by_code: Vec::new(),
            attributions: [Vec::new(), Vec::new(), Vec::new()],
            avg_at: since,
            since,
            seasonal_hour: HourCache::default(),
        }
    }

    /// The seasonal mean calls per minute at minute `t`, before scheduled spikes.
    pub fn seasonal(&self, t: i64) -> f64 {
        let hour = t.div_euclid(60);
        let mean = match self.seasonal_hour.get(hour) {
            Some(kept) => kept,
            None => {
                let how = hour_of_week(hour);
                let hod = hour.rem_euclid(24) as usize;
                let weekly = (self.week_n[how] > 0).then(|| f64::from(self.week[how]));
                let daily = (self.day_n[hod] > 0).then(|| f64::from(self.day[hod]));
                let mean = match (weekly, daily) {
                    (Some(w), Some(d)) => Some(w.max(0.5 * d)),
                    (None, Some(d)) => Some(d),
                    (Some(w), None) => Some(w),
                    (None, None) => None,
                };
                self.seasonal_hour.set(hour, mean);
                mean
            }
        };
        // Without a learned mean for the hour, the running level (it changes with every
        // minute learned, so only the lack of a mean is kept).
        mean.unwrap_or_else(|| if self.avg_minutes > 0.0 { self.avg_calls / self.avg_minutes } else { 0.0 })
    }

    /// Expected calls in minute `t`: the seasonal mean plus learned scheduled spikes.
    pub fn expected(&self, t: i64) -> f64 {
        self.expectation(t).expected
    }

    /// [`ApiModel::seasonal`] and [`ApiModel::expected`] of minute `t`, the seasonal mean
    /// computed once.
    pub fn expectation(&self, t: i64) -> Expectation {
        let moh = t.rem_euclid(60) as usize;
        let mod_ = t.rem_euclid(1440) as u16;
        let today = t.div_euclid(1440) as i32;
        let day_spike = self
            .day_spikes
            .at(mod_)
            .filter(|s| s.days_seen >= 2)
            .map(|s| f64::from(s.excess) * f64::from(MOD_DECAY_PER_DAY).powi((today - s.day).max(0)))
            .fold(0.0, f64::max);
        let hour_spike = match self.hour_spike_hits.get(moh) {
            Some(h) if *h >= 2 => f64::from(self.hour_spikes[moh]),
            _ => 0.0,
        };
        let seasonal = self.seasonal(t);
        Expectation { seasonal, expected: (seasonal + hour_spike + day_spike).max(0.002) }
    }

    /// [`ApiModel::expected`] of every minute of `[from, to]` (equal values), with one pass
    /// over the scheduled daily spikes instead of one per minute.
    pub fn expected_range(&self, from: i64, to: i64) -> Vec<f64> {
        let n = usize::try_from(to - from + 1).unwrap_or(0);
        let mut day_spike = vec![0.0f64; n];
        for s in self.day_spikes.iter().filter(|s| s.days_seen >= 2) {
            // The first minute of the range at this minute of the day, then every day after.
            let mut t = from + (i64::from(s.at) - from.rem_euclid(1440)).rem_euclid(1440);
            while t <= to {
                let today = t.div_euclid(1440) as i32;
                let v = f64::from(s.excess) * f64::from(MOD_DECAY_PER_DAY).powi((today - s.day).max(0));
                if let Some(d) = day_spike.get_mut((t - from) as usize) {
                    *d = d.max(v);
                }
                t += 1440;
            }
        }
        (from..=to)
            .zip(day_spike)
            .map(|(t, day)| {
                let moh = t.rem_euclid(60) as usize;
                let hour_spike = match self.hour_spike_hits.get(moh) {
                    Some(h) if *h >= 2 => f64::from(self.hour_spikes[moh]),
                    _ => 0.0,
                };
                (self.seasonal(t) + hour_spike + day).max(0.002)
            })
            .collect()
    }

    /// Expected calls over the window `(end - len, end]`.
    pub fn expected_sum(&self, end: i64, len: i64) -> f64 {
        (end - len + 1..=end).map(|t| self.expected(t)).sum()
    }

    /// Burst memory of window index `w`, decayed to minute `t`.
    pub fn burst(&self, w: usize, t: i64) -> f64 {
        f64::from(self.burst[w]) * decay(t - self.burst_at, BURST_HALF_LIFE_MINUTES)
    }

    /// Baseline (7-day decayed) average calls per minute.
    pub fn baseline_average(&self) -> f64 {
        if self.avg_minutes > 0.0 {
            self.avg_calls / self.avg_minutes
        } else {
            0.0
        }
    }

    /// Baseline fraction of calls failing with `code`, smoothed toward a small prior.
    pub fn error_fraction(&self, code: &str) -> f64 {
        let errors = self.errors_by_code.iter().find(|e| &*e.0 == code).map_or(0.0, |e| e.1);
        (errors + 0.05) / (self.avg_calls + 50.0)
    }

    /// Baseline average errors of `code` per minute.
    pub fn error_average(&self, code: &str) -> f64 {
        let errors = self.errors_by_code.iter().find(|e| &*e.0 == code).map_or(0.0, |e| e.1);
        if self.avg_minutes > 0.0 {
            errors / self.avg_minutes
        } else {
            0.0
        }
    }

    /// Learns one complete minute. `learn_rate` is false inside a call-rate insight and
    /// `learn_errors` false inside an error-rate insight, so anomalies don't become normal.
    /// `known` is the minute's [`ApiModel::expectation`] taken just before, when the caller
    /// has it: it is reused unless closing an hour or decaying the averages changed it.
    #[allow(clippy::too_many_arguments)]
    pub fn learn<'v, V>(
        &mut self,
        t: i64,
        calls: u32,
        by_error: V,
        attributions: [V; 3],
        window_excess: [f64; 5],
        local: f64,
        learn_rate: bool,
        learn_errors: bool,
        known: Option<Expectation>,
    ) where
        V: Iterator<Item = (&'v Arc<str>, u32)> + Clone,
    {
        let rolled = self.roll_hours(t);
        let decayed = self.decay_averages(t);
        // Nothing else below changes the expectation before it is read.
        let x = match known {
            Some(x) if !rolled && !decayed => x,
            _ => self.expectation(t),
        };
        let c = f64::from(calls);
        // Burst memory learns every minute, insights included (a burst that recurs, such as a
        // deploy bigger than any before, fires once, not every time), but a day late: the
        // day's largest excesses are folded in the next day, so an episode in progress never
        // raises its own bar.
        for (p, ex) in self.pending.iter_mut().zip(window_excess) {
            *p = p.max(ex.max(0.0) as f32);
        }
        if t - self.pending_since >= 1440 {
            self.fold_pending(t);
        }
        if learn_rate {
            let base = x.seasonal;
            // The seasonal mean is that of ordinary minutes: scheduled spikes are learned apart.
            let spike = (x.expected - base).max(0.0);
            self.hour_calls += (c - spike).max(0.0).round() as u64;
            let moh = t.rem_euclid(60) as usize;
            // A spike stands out from the seasonal mean and from the minutes just before it
            // (`local`), so the first hour of a new daily regime is not taken for a job.
            let reference = base.max(local);
            let excess = c - reference;
            if excess >= 3.0 && excess >= reference {
                if self.hour_spikes[moh] < 1.0 {
                    self.hour_spike_hits.resize(60, 0);
                    self.hour_spike_hits[moh] = 0;
                }
                if let Some(h) = self.hour_spike_hits.get_mut(moh) {
                    *h = h.saturating_add(1);
                }
                self.hour_spikes[moh] = self.hour_spikes[moh].max(excess as f32);
                self.note_day_spike(t, excess as f32);
            }
            self.avg_calls += c;
            for (a, list) in attributions.iter().enumerate().take(2) {
                for (v, n) in list.clone() {
                    bump(&mut self.attributions[a], v, f64::from(n));
                }
            }
            let errors: u32 = by_error.clone().map(|e| e.1).sum();
            if calls > errors {
                bump(&mut self.attributions[2], &NULL, f64::from(calls - errors));
            }
        } else {
            // Keep the hour's mean unbiased by the anomaly: count it as expected.
            self.hour_calls += x.seasonal.round() as u64;
        }
        if learn_errors {
            for (code, n) in by_error {
                self.avg_errors += f64::from(n);
                bump(&mut self.errors_by_code, code, f64::from(n));
                bump(&mut self.attributions[2], code, f64::from(n));
            }
        }
    }

    /// Learns a complete minute without calls (cheaper than [`ApiModel::learn`]).
    pub fn idle(&mut self, t: i64) {
        self.roll_hours(t);
        self.decay_averages(t);
        if t - self.pending_since >= 1440 {
            self.fold_pending(t);
        }
    }

    fn fold_pending(&mut self, t: i64) {
        let k = decay(t - self.burst_at, BURST_HALF_LIFE_MINUTES) as f32;
        self.burst_at = t;
        for (b, p) in self.burst.iter_mut().zip(self.pending.iter_mut()) {
            *b = (*b * k).max(*p);
            *p = 0.0;
        }
        self.pending_since = t;
    }

    fn note_day_spike(&mut self, t: i64, excess: f32) {
        let at = t.rem_euclid(1440) as u16;
        let day = t.div_euclid(1440) as i32;
        if let Some(s) = self.day_spikes.first_at_mut(at) {
            let decayed = s.excess * MOD_DECAY_PER_DAY.powi((day - s.day).max(0));
            s.excess = decayed.max(excess);
            if s.day != day {
                s.days_seen = s.days_seen.saturating_add(1);
            }
            s.day = day;
            return;
        }
        self.day_spikes.push(DaySpike { at, excess, day, days_seen: 1 });
        if self.day_spikes.len() > MAX_DAY_SPIKES {
            let weight = |s: &DaySpike| s.excess * MOD_DECAY_PER_DAY.powi((day - s.day).max(0));
            if let Some((i, _)) = self.day_spikes.iter().enumerate().min_by(|a, b| weight(a.1).total_cmp(&weight(b.1)))
            {
                self.day_spikes.swap_remove(i);
            }
        }
    }

    /// Closes every hour before `t`'s hour, learning its mean (zero for hours with no calls).
    /// Returns whether it closed any (and so changed expectations).
    fn roll_hours(&mut self, t: i64) -> bool {
        let now = t.div_euclid(60);
        if now <= self.hour {
            return false;
        }
        let mut h = self.hour;
        // Closing more than two weeks of empty hours teaches nothing more than two weeks.
        if now - h > 2 * HOURS_PER_WEEK as i64 {
            self.close_hour(h);
            h = now - 2 * HOURS_PER_WEEK as i64;
        }
        while h < now {
            self.close_hour(h);
            h += 1;
        }
        self.hour = now;
        true
    }

    fn close_hour(&mut self, h: i64) {
        self.seasonal_hour.clear();
        let mean = self.hour_calls as f32 / 60.0;
        self.hour_calls = 0;
        let how = hour_of_week(h);
        let hod = h.rem_euclid(24) as usize;
        smooth(&mut self.week[how], &mut self.week_n[how], mean, ALPHA_WEEK);
        smooth(&mut self.day[hod], &mut self.day_n[hod], mean, ALPHA_DAY);
        for s in &mut self.hour_spikes {
            *s *= MOH_DECAY_PER_HOUR;
        }
    }

    /// Brings the decayed sums to minute `t` (at most hourly). Returns whether it changed them
    /// (and so possibly the seasonal mean of an API not yet learned for the hour).
    fn decay_averages(&mut self, t: i64) -> bool {
        let dt = t - self.avg_at;
        // Decay is multiplicative, so applying it hourly equals applying it every minute; the
        // sums are at most an hour stale against a 7-day time constant.
        if dt < 60 {
            return false;
        }
        let k = (-(dt as f64) / BASELINE_TAU_MINUTES).exp();
        self.avg_calls *= k;
        self.avg_errors *= k;
        self.avg_minutes = self.avg_minutes * k + minutes_decayed(dt);
        for list in self.attributions.iter_mut().chain(std::iter::once(&mut self.errors_by_code)) {
            for e in list.iter_mut() {
                e.1 *= k;
            }
        }
        self.avg_at = t;
        true
    }

    /// Decayed top values of one attribute (0 caller, 1 agent, 2 error code) as averages per minute.
    pub fn baseline_attributions(&self, attribute: usize) -> Vec<(String, f64)> {
        let minutes = self.avg_minutes.max(1.0);
        let mut v: Vec<(String, f64)> =
            self.attributions[attribute].iter().map(|(s, n)| (s.to_string(), n / minutes)).collect();
        v.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        v.truncate(5);
        v
    }
}

/// The seasonal mean and the expected calls of one minute.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Expectation {
    /// [`ApiModel::seasonal`].
    pub seasonal: f64,
    /// [`ApiModel::expected`].
    pub expected: f64,
}

/// Half-life of the largest recent excesses ([`ApiModel`]'s `burst`): a week.
const BURST_HALF_LIFE_MINUTES: f64 = 10080.0;
/// Time constant of the decayed baseline sums: a week.
const BASELINE_TAU_MINUTES: f64 = 10080.0;

/// Sum over the `dt` newest minutes of exp(-age / tau): the decayed count of minutes.
fn minutes_decayed(dt: i64) -> f64 {
    let q = (-1.0 / BASELINE_TAU_MINUTES).exp();
    (1.0 - q.powf(dt as f64)) / (1.0 - q)
}

fn decay(dt: i64, half_life: f64) -> f64 {
    if dt <= 0 {
        1.0
    } else {
        0.5f64.powf(dt as f64 / half_life)
    }
}

/// Learning weights of an hour's mean in the weekly and the daily profile.
const ALPHA_WEEK: f32 = 0.5;
const ALPHA_DAY: f32 = 0.3;
/// Decay per hour of the minute-of-hour spikes, and per day of the day spikes.
const MOH_DECAY_PER_HOUR: f32 = 0.85;
const MOD_DECAY_PER_DAY: f32 = 0.8;
/// Day spikes kept at most.
const MAX_DAY_SPIKES: usize = 48;

fn smooth(v: &mut f32, n: &mut u8, x: f32, alpha: f32) {
    if *n == 0 {
        *v = x;
    } else {
        *v += alpha * (x - *v);
    }
    *n = n.saturating_add(1);
}

/// Hour of the week, 0 = Monday 00:00 UTC (the epoch was a Thursday).
fn hour_of_week(hour: i64) -> usize {
    (hour + 72).rem_euclid(HOURS_PER_WEEK as i64) as usize
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
