//! The calls and expected calls of an API's newest complete minutes, with running sums, so
//! every window's sums and its busiest minute are found in constant time as minutes settle.

use super::{HISTORY_MINUTES, WINDOWS};

/// The windows of [`WINDOWS`] longer than one minute, whose busiest minute is tracked.
const LONG_WINDOWS: [usize; 4] = [WINDOWS[1] as usize, WINDOWS[2] as usize, WINDOWS[3] as usize, WINDOWS[4] as usize];

/// Calls and expected calls of the last [`HISTORY_MINUTES`] complete minutes, for window sums.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Recent {
    /// Minute of the newest entry.
    pub newest: i64,
    /// `(calls, expected)` per minute, oldest first. Up to twice the history is kept, so the
    /// newest minutes are one contiguous slice and old ones are dropped in bulk.
    minutes: Vec<(f64, f64)>,
    /// Running sums of `(calls, expected)` over the minutes kept, up to and including each
    /// one (parallel to `minutes`), so any window's sums are one subtraction. Apart from the
    /// values, so the window starts read after each minute (5, 15, 30 and 60 minutes back)
    /// take 16 bytes each.
    sums: Vec<(f64, f64)>,
    /// The minutes that no newer minute equals or exceeds in calls, oldest first (so their
    /// calls strictly decrease): the busiest minute of the newest `len` minutes, the newest of
    /// equals, is the first of them within those minutes. Each with its values, so neither
    /// keeping them nor reading a window's busiest minute reads the older minutes.
    peaks: Vec<Peak>,
    /// For each of [`LONG_WINDOWS`], the position in `peaks` of the newest window's busiest
    /// minute: the first peak within it. Windows only move forward, so each moves over a peak
    /// once instead of searching the peaks at every minute.
    heads: [usize; 4],
}

/// A minute of [`Recent::peaks`]: its position in `minutes` and its `(calls, expected)`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Peak {
    at: usize,
    values: (f64, f64),
}

impl Recent {
    /// Appends minute `m`; minutes missing before it are filled by `fill(minute) -> (calls, expected)`.
    pub fn push(&mut self, m: i64, calls: u32, expected: f64, fill: impl Fn(i64) -> (u32, f64)) {
        let mut fill_from = self.newest + 1;
        if self.minutes.is_empty() || m - self.newest > HISTORY_MINUTES || m <= self.newest {
            self.minutes.clear();
            self.sums.clear();
            self.peaks.clear();
            self.heads = [0; 4];
            fill_from = m - HISTORY_MINUTES + 1;
        }
        for g in fill_from..m {
            let (c, x) = fill(g);
            self.append(f64::from(c), x);
        }
        self.append(f64::from(calls), expected);
        let history = HISTORY_MINUTES as usize;
        if self.minutes.len() > 2 * history {
            let cut = self.minutes.len() - history;
            let (bc, be) = self.sums.get(cut - 1).copied().unwrap_or((0.0, 0.0));
            self.minutes.drain(..cut);
            self.sums.drain(..cut);
            let before = self.peaks.len();
            self.peaks.retain(|p| p.at >= cut);
            // Windows start after `cut`, so their heads are past every peak dropped.
            let dropped = before - self.peaks.len();
            for h in &mut self.heads {
                *h = h.saturating_sub(dropped);
            }
            for p in &mut self.peaks {
                p.at -= cut;
            }
            // Keep the running sums small, so differences stay exact to the last bits.
            for e in &mut self.sums {
                e.0 -= bc;
                e.1 -= be;
            }
        }
        self.newest = m;
    }

    fn append(&mut self, c: f64, x: f64) {
        let (pc, pe) = self.sums.last().copied().unwrap_or((0.0, 0.0));
        while self.peaks.last().is_some_and(|p| p.values.0 <= c) {
            self.peaks.pop();
        }
        self.peaks.push(Peak { at: self.minutes.len(), values: (c, x) });
        self.minutes.push((c, x));
        self.sums.push((pc + c, pe + x));
        // Each window's first peak within it: at or after its old one (unless that one was
        // just popped: then the new minute), and never past the new minute.
        let n = self.minutes.len();
        let newest = self.peaks.len() - 1;
        for (h, len) in self.heads.iter_mut().zip(LONG_WINDOWS) {
            *h = (*h).min(newest);
            while self.peaks.get(*h).is_some_and(|p| p.at + len < n) {
                *h += 1;
            }
        }
    }

    /// How many of the newest minutes windows may cover: the history, or fewer before it fills.
    fn span(&self) -> usize {
        self.minutes.len().min(HISTORY_MINUTES as usize)
    }

    /// Observed and expected calls over the newest `len` minutes (at most the history).
    pub fn sums(&self, len: i64) -> (f64, f64) {
        let len = usize::try_from(len).unwrap_or(0).min(self.span());
        let n = self.sums.len();
        let Some(hi) = n.checked_sub(1).and_then(|i| self.sums.get(i)) else {
            return (0.0, 0.0);
        };
        let lo = (n - len).checked_sub(1).and_then(|i| self.sums.get(i)).copied().unwrap_or((0.0, 0.0));
        (hi.0 - lo.0, hi.1 - lo.1)
    }

    /// The excess of observed over expected calls for every window of [`WINDOWS`], the
    /// window's busiest minute left out for windows of several minutes (so a one-minute
    /// scheduled spike shapes the 1-minute burst memory only): window sums come from the
    /// running sums, and each window's busiest minute (the newest of equals) is its head
    /// among the peaks.
    pub fn robust_excesses(&self) -> [f64; 5] {
        let mut out = [0.0; 5];
        let (short, long) = out.split_at_mut(1);
        if self.span() >= 1 {
            short[0] = self.minutes.last().map_or(0.0, |e| e.0 - e.1);
        }
        for ((slot, len), head) in long.iter_mut().zip(LONG_WINDOWS).zip(self.heads) {
            if len > self.span() {
                // Fewer minutes than the window: no excess for it (nor for longer ones).
                break;
            }
            let (top, top_e) = self.peaks.get(head).map_or((f64::MIN, 0.0), |p| p.values);
            let (o, e) = self.sums(len as i64);
            *slot = (o - top) - (e - top_e);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The excess of the newest `len` minutes, its busiest minute (the first of equals
    /// found from the newest) left out when `len` > 1: the reference for the one-pass excesses.
    fn robust_excess(r: &Recent, len: i64) -> f64 {
        let (o, e) = r.sums(len);
        if len <= 1 {
            return o - e;
        }
        let from = r.minutes.len() - usize::try_from(len).unwrap_or(0).min(r.span());
        match r.minutes[from..].iter().rev().max_by(|a, b| a.0.total_cmp(&b.0)) {
            Some(m) => (o - m.0) - (e - m.1),
            None => o - e,
        }
    }

    #[test]
    fn one_pass_excesses_equal_the_per_window_ones() {
        let mut r = Recent::default();
        for m in 0..70 {
            r.push(m, (m * 7 % 13) as u32, 3.0, |_| (0, 3.0));
        }
        let all = r.robust_excesses();
        for (i, len) in [1, 5, 15, 30, 60].into_iter().enumerate() {
            assert!((all[i] - robust_excess(&r, len)).abs() < 1e-9, "{len}");
        }
    }

    #[test]
    fn busiest_minute_of_each_window_is_the_newest_of_equals_across_trims_and_gaps() {
        // Given minutes with many ties in calls but different expectations, pushed past the
        // point where old minutes are dropped, with a gap filled in between
        let calls = |m: i64| ((m * 37 + 11) % 9) as u32;
        let expected = |m: i64| 1.0 + (m % 5) as f64 * 0.25;
        let mut r = Recent::default();
        let mut pushed: Vec<(f64, f64)> = Vec::new();
        for m in (100..400).filter(|m| !(250..270).contains(m)) {
            r.push(m, calls(m), expected(m), |g| (calls(g), expected(g)));
            pushed = (m - 59..=m).map(|g| (f64::from(calls(g)), expected(g))).collect();
            // When every window's excess is taken in one pass
            let all = r.robust_excesses();
            // Then each equals the excess with the window's busiest minute, the newest of
            // equals, left out, bit for bit
            for (slot, len) in WINDOWS.into_iter().enumerate() {
                let window = &pushed[pushed.len() - len as usize..];
                let (o, e) = r.sums(len);
                let want = if len == 1 {
                    window[0].0 - window[0].1
                } else {
                    let mut top = (f64::MIN, 0.0);
                    for w in window.iter().rev() {
                        if w.0 > top.0 {
                            top = *w;
                        }
                    }
                    (o - top.0) - (e - top.1)
                };
                assert_eq!(all[slot].to_bits(), want.to_bits(), "minute {m}, window {len}");
            }
        }
        assert_eq!(pushed.len(), 60);
    }

    proptest::proptest! {
        #[test]
        fn each_windows_busiest_minute_matches_a_search_of_the_window(
            steps in proptest::collection::vec((0i64..4, 0u32..6), 1..400)
        ) {
            // Given minutes pushed mostly one after the other, with ties in calls, gaps (some
            // longer than the history), and now and then a minute again (which starts over)
            let fill = |g: i64| (u32::try_from(g.rem_euclid(3)).unwrap_or(0), 1.0 + g.rem_euclid(4) as f64 * 0.5);
            let mut r = Recent::default();
            let mut known: std::collections::BTreeMap<i64, (f64, f64)> = Default::default();
            let mut m = 1000i64;
            for (k, &(step, calls)) in steps.iter().enumerate() {
                m += match step {
                    0 if k % 7 == 0 => 0,
                    3 if k % 5 == 0 => 61,
                    3 => 2,
                    _ => 1,
                };
                let expected = 0.5 + f64::from(calls % 4);
                let newest = known.keys().next_back().copied();
                if newest.is_none_or(|n| m - n > HISTORY_MINUTES || m <= n) {
                    known.clear();
                }
                let from = known.keys().next_back().map_or(m - HISTORY_MINUTES + 1, |n| n + 1);
                for g in from..m {
                    let (c, x) = fill(g);
                    known.insert(g, (f64::from(c), x));
                }
                known.insert(m, (f64::from(calls), expected));
                r.push(m, calls, expected, fill);
                // When every window's excess is taken in one pass
                let all = r.robust_excesses();
                // Then each leaves out the window's busiest minute, the newest of equals
                for (slot, len) in WINDOWS.into_iter().enumerate().skip(1) {
                    let mut top = (f64::MIN, 0.0);
                    for (_, w) in known.range(m - len + 1..=m).rev() {
                        if w.0 > top.0 {
                            top = *w;
                        }
                    }
                    let (o, e) = r.sums(len);
                    let want = (o - top.0) - (e - top.1);
                    proptest::prop_assert_eq!(all[slot].to_bits(), want.to_bits(), "minute {}, window {}", m, len);
                }
            }
        }
    }

    #[test]
    fn no_history_means_no_excess_and_old_minutes_fall_out() {
        // Given no minutes yet, then no window has an excess
        let mut r = Recent::default();
        assert_eq!(r.robust_excesses(), [0.0; 5]);
        // When 200 minutes are pushed, the last 60 at 10 calls against 2 expected
        for m in 0..200 {
            let calls = if m >= 140 { 10 } else { 1000 };
            r.push(m, calls, 2.0, |_| (0, 2.0));
        }
        // Then only those 60 count: the 60-minute excess leaves out one top minute
        let all = r.robust_excesses();
        assert_eq!(all[0], 8.0);
        assert!((all[4] - 59.0 * 8.0).abs() < 1e-9, "{all:?}");
        assert_eq!(r.sums(60), (600.0, 120.0));
    }
}
