//! What the detector saw of an API around each insight, minute by minute, for people to look
//! at (the HTML report): calls, errors, the model's expectation and the normal band.
//!
//! Recording is off unless [`DetectorConfig::record_charts`](super::DetectorConfig) is set (the
//! CLI sets it for `--report` and `--store`; the Lambdas never do, so their stored state is
//! unchanged). When on, each API keeps its last few hours of complete minutes; an insight's
//! Start opens a chart with the [`CHART_BEFORE_MINUTES`] before it, every minute completed
//! during the insight and for [`CHART_AFTER_MINUTES`] after its End is added, then the chart
//! is finished. Each minute is
//! recorded when it completes, with the expectation the model had for it then, so the chart
//! shows exactly what the detector judged.

use super::config::Thresholds;
use super::insight::InsightKind;
use super::tail::count_tail;
use serde::{Deserialize, Serialize};
use statrs::distribution::{DiscreteCDF, NegativeBinomial, Poisson};
use std::collections::VecDeque;

/// Complete minutes before an insight's Start that its chart shows.
pub const CHART_BEFORE_MINUTES: usize = 180;
/// Complete minutes after an insight's End that its chart shows.
pub const CHART_AFTER_MINUTES: i64 = 60;
/// Complete minutes an API keeps: the hours before a Start, and the minutes still open when it
/// is detected (the settle time, and a file's span).
const KEPT_MINUTES: usize = CHART_BEFORE_MINUTES + 60;
/// Finished charts an API keeps until they are taken (the oldest are dropped first).
const MAX_FINISHED: usize = 64;

/// The model's normal range for one minute's calls.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Band {
    /// Expected calls (seasonal mean plus learned scheduled spikes).
    pub expected: f64,
    /// Fewer calls than this are improbably low (the lower tail at `p_value`).
    pub low: f64,
    /// The fewest calls that alone make the minute anomalous: beyond the tail probability,
    /// `min_calls`, `min_ratio` and the burst memory at once.
    pub high: f64,
}

impl Thresholds {
    /// The normal band of one minute whose expected calls are `expected` and whose 1-minute
    /// burst memory is `burst`, under these thresholds.
    pub fn band(&self, expected: f64, burst: f64) -> Band {
        self.gated(expected, burst, self.tail_bounds(expected))
    }

    /// The band's tail bounds for an expectation: the lower `p_value` quantile, and the fewest
    /// calls whose upper tail probability is below `p_value` (the detector's own test).
    fn tail_bounds(&self, expected: f64) -> (f64, f64) {
        let mean = expected.max(1e-6);
        let p = self.p_value;
        let quantile = |q: f64| -> Option<u64> {
            if self.overdispersion <= 0.0 {
                Poisson::new(mean).ok().map(|d| d.inverse_cdf(q))
            } else {
                let r = 1.0 / (self.overdispersion * self.overdispersion);
                NegativeBinomial::new(r, r / (r + mean)).ok().map(|d| d.inverse_cdf(q))
            }
        };
        let mut tail = quantile(1.0 - p).map_or(mean.ceil(), |k| (k + 1) as f64).max(1.0);
        // inverse_cdf is exact up to rounding near 1 - p: step to the first count the
        // detector's test rejects.
        for _ in 0..64 {
            if tail > 1.0 && count_tail(tail - 1.0, mean, self.overdispersion) < p {
                tail -= 1.0;
            } else if count_tail(tail, mean, self.overdispersion) >= p {
                tail += 1.0;
            } else {
                break;
            }
        }
        (quantile(p).map_or(0.0, |k| k as f64), tail)
    }

    /// The band from its tail bounds and the other gates of a 1-minute Start.
    fn gated(&self, expected: f64, burst: f64, (low, tail): (f64, f64)) -> Band {
        let ratio = (self.min_ratio * expected).ceil();
        let burst = (expected + self.burst_margin * burst).floor() + 1.0;
        let high = tail.max(f64::from(self.min_calls)).max(ratio).max(burst);
        Band { expected, low, high }
    }
}

/// One complete minute of an API as the detector recorded it (stored as a compact row: an
/// API keeps a few hundred).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(into = "SeenRow", from = "SeenRow")]
pub struct Seen {
    /// Minute since the epoch.
    pub minute: i64,
    /// Calls.
    pub calls: u32,
    /// Failed calls.
    pub errors: u32,
    /// Expected calls the model had for the minute when it completed.
    pub expected: f64,
    /// The model's 1-minute burst memory then.
    pub burst: f64,
}

/// `[minute, calls, errors, expected, burst]`.
type SeenRow = (i64, u32, u32, f32, f32);

impl From<Seen> for SeenRow {
    fn from(s: Seen) -> Self {
        (s.minute, s.calls, s.errors, s.expected as f32, s.burst as f32)
    }
}

impl From<SeenRow> for Seen {
    fn from((minute, calls, errors, expected, burst): SeenRow) -> Self {
        Seen { minute, calls, errors, expected: f64::from(expected), burst: f64::from(burst) }
    }
}

/// One minute of a chart (stored as a compact row).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(into = "PointRow", from = "PointRow")]
pub struct ChartPoint {
    /// Minute since the epoch.
    pub minute: i64,
    /// Calls.
    pub calls: u32,
    /// Failed calls.
    pub errors: u32,
    /// The band the model had for the minute.
    pub band: Band,
    /// The tail bound inside `band.high` (kept so equal expectations reuse it; not stored).
    tail: f64,
}

/// `[minute, calls, errors, expected, low, high]`.
type PointRow = (i64, u32, u32, f32, f64, f64);

impl From<ChartPoint> for PointRow {
    fn from(p: ChartPoint) -> Self {
        (p.minute, p.calls, p.errors, p.band.expected as f32, p.band.low, p.band.high)
    }
}

impl From<PointRow> for ChartPoint {
    fn from((minute, calls, errors, expected, low, high): PointRow) -> Self {
        let band = Band { expected: f64::from(expected), low, high };
        ChartPoint::new(minute, calls, errors, band)
    }
}

impl ChartPoint {
    /// A point of `calls` and `errors` in `minute`, against `band`.
    pub fn new(minute: i64, calls: u32, errors: u32, band: Band) -> Self {
        ChartPoint { minute, calls, errors, band, tail: 0.0 }
    }
}

/// The minutes around one insight.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Chart {
    /// The insight's `sharedEventID`.
    pub shared_event_id: String,
    /// Call rate or error rate.
    pub kind: InsightKind,
    /// The insight's first minute.
    pub start: i64,
    /// Its End minute (exclusive), once ended.
    pub end: Option<i64>,
    /// Complete minutes, oldest first, without gaps.
    pub points: Vec<ChartPoint>,
}

/// An API's recent minutes and its charts (see the module header).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChartLog {
    /// The newest complete minutes, oldest first.
    recent: VecDeque<Seen>,
    /// Charts of insights in progress or ended less than [`CHART_AFTER_MINUTES`] ago.
    open: Vec<Chart>,
    /// Finished charts not yet taken.
    finished: Vec<Chart>,
}

impl ChartLog {
    /// The newest minute recorded.
    pub fn newest(&self) -> Option<i64> {
        self.recent.back().map(|s| s.minute)
    }

    /// Records a complete minute. Minutes between the newest recorded and this one (quiet
    /// minutes the detector skipped) are recorded first, as `fill(minute)` gives them.
    pub fn push(&mut self, seen: Seen, thresholds: &Thresholds, fill: impl Fn(i64) -> Seen) {
        if let Some(newest) = self.newest() {
            if seen.minute <= newest {
                return;
            }
            // The skipped minutes an open chart shows, and the ones kept for the next chart.
            let before = CHART_BEFORE_MINUTES as i64;
            let charted_from = self.open.iter().map(|c| c.start - before).min().unwrap_or(i64::MAX);
            let charted_to = self
                .open
                .iter()
                .map(|c| c.end.map_or(seen.minute, |e| e + CHART_AFTER_MINUTES))
                .max()
                .unwrap_or(i64::MIN)
                .min(seen.minute);
            let charted = (newest + 1).max(charted_from)..charted_to;
            let kept = (newest + 1).max(seen.minute - KEPT_MINUTES as i64)..seen.minute;
            let minutes = if charted.is_empty() || kept.start <= charted.start {
                (kept.start..kept.start).chain(kept)
            } else {
                (charted.start..charted.end).chain(kept.start.max(charted.end)..kept.end)
            };
            for m in minutes {
                self.record(fill(m), thresholds);
            }
        }
        self.record(seen, thresholds);
    }

    fn record(&mut self, seen: Seen, thresholds: &Thresholds) {
        if self.recent.len() >= KEPT_MINUTES {
            self.recent.pop_front();
        }
        self.recent.push_back(seen);
        if self.open.is_empty() {
            return;
        }
        let previous = self.open.first().and_then(|c| c.points.last().copied());
        let point = point(seen, thresholds, previous);
        for chart in &mut self.open {
            if seen.minute >= chart.start - CHART_BEFORE_MINUTES as i64 {
                chart.points.push(point);
            }
        }
        let (done, open): (Vec<Chart>, Vec<Chart>) = std::mem::take(&mut self.open)
            .into_iter()
            .partition(|c| c.end.is_some_and(|e| seen.minute + 1 >= e + CHART_AFTER_MINUTES));
        self.open = open;
        for chart in done {
            self.finish(chart);
        }
    }

    fn finish(&mut self, chart: Chart) {
        if self.finished.len() >= MAX_FINISHED {
            self.finished.remove(0);
        }
        self.finished.push(chart);
    }

    /// Opens the chart of an insight that starts at `start`, with the recorded minutes of the
    /// hours before it.
    pub fn open(&mut self, shared_event_id: String, kind: InsightKind, start: i64, thresholds: &Thresholds) {
        let mut last = None;
        let from = start - CHART_BEFORE_MINUTES as i64;
        let points = self
            .recent
            .iter()
            .filter(|s| s.minute >= from)
            .map(|s| {
                let p = point(*s, thresholds, last);
                last = Some(p);
                p
            })
            .collect();
        self.open.push(Chart { shared_event_id, kind, start, end: None, points });
    }

    /// Marks the open chart of `kind` as ended at `end`.
    pub fn end(&mut self, kind: &InsightKind, end: i64) {
        if let Some(c) = self.open.iter_mut().find(|c| &c.kind == kind && c.end.is_none()) {
            c.end = Some(end);
        }
    }

    /// Every chart, finished or still open.
    pub fn charts(&self) -> impl Iterator<Item = &Chart> + '_ {
        self.finished.iter().chain(self.open.iter())
    }
}

/// A point, reusing the tail bounds of the previous point when the expectation is the same
/// (it changes once an hour outside scheduled spikes; the tail bounds are the costly part).
fn point(seen: Seen, thresholds: &Thresholds, previous: Option<ChartPoint>) -> ChartPoint {
    let bounds = match previous {
        Some(p) if p.tail >= 1.0 && p.band.expected.to_bits() == seen.expected.to_bits() => (p.band.low, p.tail),
        _ => thresholds.tail_bounds(seen.expected),
    };
    ChartPoint {
        minute: seen.minute,
        calls: seen.calls,
        errors: seen.errors,
        band: thresholds.gated(seen.expected, seen.burst, bounds),
        tail: bounds.1,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn seen(minute: i64, calls: u32) -> Seen {
        Seen { minute, calls, errors: 0, expected: 5.0, burst: 0.0 }
    }

    #[test]
    fn band_high_is_the_fewest_calls_the_detector_rejects_on_their_own() {
        // Given default thresholds and an API expecting 5 calls a minute
        let t = Thresholds::default();
        // When its band is asked for
        let b = t.band(5.0, 0.0);
        // Then `high` fails the tail test and one call fewer passes it (min_calls and the
        // ratio are lower here), and the expectation is inside the band
        assert!(count_tail(b.high, 5.0, t.overdispersion) < t.p_value);
        assert!(count_tail(b.high - 1.0, 5.0, t.overdispersion) >= t.p_value);
        assert!(b.low <= 5.0 && 5.0 < b.high);
    }

    #[test]
    fn band_high_respects_min_calls_and_burst_memory() {
        // Given an API that expects almost nothing but once burst 40 calls above normal
        let t = Thresholds::default();
        // When the band is asked for with and without that burst memory
        let quiet = t.band(0.01, 0.0);
        let bursty = t.band(0.01, 40.0);
        // Then min_calls bounds the quiet one and the burst gate the other
        assert_eq!(quiet.high, f64::from(t.min_calls));
        assert_eq!(bursty.high, (0.01f64 + 80.0).floor() + 1.0);
    }

    #[test]
    fn a_chart_holds_the_hours_before_the_insight_and_the_hour_after_its_end() {
        // Given an API with 200 recorded minutes, then an insight from minute 200 to 210
        let t = Thresholds::default();
        let mut log = ChartLog::default();
        for m in 0..200 {
            log.push(seen(m, 5), &t, |g| seen(g, 0));
        }
        log.open("id".into(), InsightKind::CallRate, 200, &t);
        for m in 200..210 {
            log.push(seen(m, 50), &t, |g| seen(g, 0));
        }
        log.end(&InsightKind::CallRate, 210);
        // When the minutes after the End complete, some skipped as quiet
        log.push(seen(230, 5), &t, |g| seen(g, 0));
        log.push(seen(300, 5), &t, |g| seen(g, 0));
        // Then the chart is finished, gap-free, from 180 minutes before to 60 after
        let charts: Vec<&Chart> = log.charts().collect();
        assert_eq!(charts.len(), 1);
        let c = charts[0];
        assert_eq!(c.end, Some(210));
        assert_eq!(c.points.first().map(|p| p.minute), Some(20));
        assert_eq!(c.points.last().map(|p| p.minute), Some(269));
        assert!(c.points.windows(2).all(|w| w[1].minute == w[0].minute + 1));
        assert!(c.points.iter().filter(|p| p.calls == 50).all(|p| f64::from(p.calls) >= p.band.high));
    }

    #[test]
    fn a_start_detected_after_days_of_silence_charts_only_the_hours_before_it() {
        // Given an API last seen ten days before an insight that starts at minute 14_600
        let t = Thresholds::default();
        let mut log = ChartLog::default();
        log.push(seen(199, 5), &t, |g| seen(g, 0));
        log.open("id".into(), InsightKind::CallRate, 14_600, &t);
        // When the minutes up to the insight complete
        log.push(seen(14_601, 50), &t, |g| seen(g, 0));
        // Then the chart starts three hours before the insight, without gaps
        let c = log.charts().next().unwrap();
        assert_eq!(c.points.first().map(|p| p.minute), Some(14_600 - 180));
        assert_eq!(c.points.last().map(|p| p.minute), Some(14_601));
        assert!(c.points.windows(2).all(|w| w[1].minute == w[0].minute + 1));
    }

    #[test]
    fn days_of_silence_after_an_insight_add_only_the_hour_after_its_end() {
        // Given an insight that ended at minute 210, then nothing for ten days
        let t = Thresholds::default();
        let mut log = ChartLog::default();
        log.push(seen(199, 5), &t, |g| seen(g, 0));
        log.open("id".into(), InsightKind::CallRate, 200, &t);
        log.push(seen(205, 50), &t, |g| seen(g, 0));
        log.end(&InsightKind::CallRate, 210);
        // When the next minute with calls completes
        log.push(seen(14_600, 5), &t, |g| seen(g, 0));
        // Then the chart ends an hour after the End and the log keeps only its recent hours
        let c = log.charts().next().unwrap();
        assert_eq!(c.points.last().map(|p| p.minute), Some(269));
        assert!(c.points.windows(2).all(|w| w[1].minute == w[0].minute + 1));
        assert!(log.recent.len() <= KEPT_MINUTES);
        assert_eq!(log.newest(), Some(14_600));
    }
}
