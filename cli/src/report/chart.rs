//! One insight's chart as inline SVG: calls per minute against the model's expectation and
//! normal band, the insight's minutes shaded, errors drawn for an error-rate insight.

use maud::{html, Markup};
use std::fmt::Write;
use trailsight_core::detect::{minute_time, Chart, ChartPoint, InsightKind};

/// The chart's size, and the margins around the plot area (for the axes' labels), in pixels.
struct Frame {
    width: f64,
    height: f64,
    left: f64,
    right: f64,
    top: f64,
    bottom: f64,
}

const FRAME: Frame = Frame { width: 760.0, height: 220.0, left: 52.0, right: 12.0, top: 10.0, bottom: 30.0 };

/// Maps minutes and counts to the plot area.
struct Scale {
    first: i64,
    minutes: f64,
    top: f64,
}

impl Scale {
    fn of(points: &[ChartPoint]) -> Option<Scale> {
        let (first, last) = (points.first()?.minute, points.last()?.minute);
        let peak = points.iter().map(|p| f64::from(p.calls).max(p.band.expected)).fold(1.0, f64::max);
        // The band's top can be far above anything seen (a quiet API's min_calls): show it up
        // to twice the peak, clipped there.
        let high = points.iter().map(|p| p.band.high).fold(0.0, f64::max);
        let top = peak.max(high.min(2.0 * peak)) * 1.08;
        Some(Scale { first, minutes: (last - first + 1).max(1) as f64, top })
    }

    fn x(&self, minute: f64) -> f64 {
        FRAME.left + (minute - self.first as f64) / self.minutes * (FRAME.width - FRAME.left - FRAME.right)
    }

    fn y(&self, v: f64) -> f64 {
        let v = v.clamp(0.0, self.top);
        FRAME.height - FRAME.bottom - v / self.top * (FRAME.height - FRAME.top - FRAME.bottom)
    }

    /// SVG points of a series, each value at the middle of its minute.
    fn line(&self, points: &[ChartPoint], value: impl Fn(&ChartPoint) -> f64) -> String {
        let mut s = String::with_capacity(points.len() * 12);
        for p in points {
            let _ = write!(s, "{:.1},{:.1} ", self.x(p.minute as f64 + 0.5), self.y(value(p)));
        }
        s
    }
}

fn hhmm(minute: i64) -> String {
    minute_time(minute).get(11..16).unwrap_or_default().to_owned()
}

fn tick(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// The chart of one insight, or a note when there are no points.
pub fn svg(chart: &Chart) -> Markup {
    let points = &chart.points;
    let Some(s) = Scale::of(points) else {
        return html! { p.nochart { "No complete minute was recorded for this insight." } };
    };
    let last = points.last().map_or(chart.start, |p| p.minute + 1);
    let shade_to = chart.end.unwrap_or(last).min(last);
    let band: String = {
        let upper = s.line(points, |p| p.band.high);
        let lower: Vec<&ChartPoint> = points.iter().rev().collect();
        let mut lower_s = String::new();
        for p in lower {
            let _ = write!(lower_s, "{:.1},{:.1} ", s.x(p.minute as f64 + 0.5), s.y(p.band.low));
        }
        format!("{upper}{lower_s}")
    };
    let errors = matches!(chart.kind, InsightKind::ErrorRate(_)) || points.iter().any(|p| p.errors > 0);
    let label = format!(
        "Calls per minute from {} to {}, against the expected calls and the normal band",
        minute_time(points[0].minute),
        minute_time(last)
    );
    let plot_bottom = FRAME.height - FRAME.bottom;
    let ticks = [0.0, s.top / 2.0, s.top / 1.08];
    // Times under the first minute, the Start, the End and the last minute, leaving out any
    // too close to the one before to be read.
    let mut x_ticks: Vec<i64> = vec![];
    for m in [Some(points[0].minute), Some(chart.start), chart.end, Some(last)].into_iter().flatten() {
        if x_ticks.last().is_none_or(|p| s.x(m as f64) - s.x(*p as f64) >= 40.0) {
            x_ticks.push(m);
        }
    }
    html! {
        svg.chart viewBox={ "0 0 " (FRAME.width) " " (FRAME.height) } role="img" aria-label=(label)
            data-points=(points.len()) {
            rect.insight x=(format!("{:.1}", s.x(chart.start as f64))) y=(FRAME.top)
                width=(format!("{:.1}", (s.x(shade_to as f64) - s.x(chart.start as f64)).max(3.0)))
                height=(plot_bottom - FRAME.top) {}
            polygon.band points=(band) {}
            @for t in ticks {
                line.grid x1=(FRAME.left) x2=(FRAME.width - FRAME.right) y1=(format!("{:.1}", s.y(t))) y2=(format!("{:.1}", s.y(t))) {}
                text.ylabel x=(FRAME.left - 4.0) y=(format!("{:.1}", s.y(t) + 4.0)) { (tick(t)) }
            }
            @for m in &x_ticks {
                text.xlabel x=(format!("{:.1}", s.x(*m as f64))) y=(FRAME.height - 10.0) { (hhmm(*m)) }
            }
            polyline.expected points=(s.line(points, |p| p.band.expected)) {}
            polyline.calls points=(s.line(points, |p| f64::from(p.calls))) {}
            @if errors {
                polyline.errors points=(s.line(points, |p| f64::from(p.errors))) {}
            }
        }
    }
}
