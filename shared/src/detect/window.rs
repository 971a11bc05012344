//! The recent minutes of one API: complete (settled) ones for window sums, and open ones
//! whose counts may still grow as late records arrive.

use super::MinuteDelta;
use serde::{Deserialize, Serialize};
use smallvec::SmallVec;
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

/// Attribution values kept per minute and attribute.
pub const MINUTE_ATTRIBUTION_CAP: usize = 8;
/// Minutes of history kept behind the newest settled minute (the longest window).
pub const HISTORY_MINUTES: i64 = 60;

/// Attribution values of one minute and their calls. Most minutes of most APIs have one or
/// two callers, agents and error codes: those live inline, without an allocation.
pub type Attributions = SmallVec<[(Arc<str>, u32); 2]>;

/// Counts of one API in one minute, with capped attributions.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MinuteData {
    /// Calls.
    pub calls: u32,
    /// Calls with an errorCode.
    pub errors: u32,
    /// Errors per errorCode.
    #[serde(default, skip_serializing_if = "SmallVec::is_empty")]
    pub by_error: Attributions,
    /// Calls per caller ARN.
    #[serde(default, skip_serializing_if = "SmallVec::is_empty")]
    pub by_caller: Attributions,
    /// Calls per user agent.
    #[serde(default, skip_serializing_if = "SmallVec::is_empty")]
    pub by_agent: Attributions,
}

/// Adds shared `(value, n)` pairs into a capped list, keeping the largest values (a clone of
/// an `Arc<str>` allocates nothing: attribution strings are shared, not copied per minute).
pub fn add_capped_shared(list: &mut Attributions, items: &[(Arc<str>, u32)], cap: usize) {
    for (v, n) in items {
        // Strings are shared: the pointer check usually decides, without reading any string.
        let at = list
            .iter()
            .position(|e| Arc::ptr_eq(&e.0, v))
            .or_else(|| list.iter().position(|e| e.0 == *v));
        if let Some(e) = at.and_then(|i| list.get_mut(i)) {
            e.1 += n;
        } else {
            list.push((v.clone(), *n));
        }
    }
    if list.len() > cap {
        list.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        list.truncate(cap);
    }
}

/// Adds `(value, n)` pairs into a capped list, keeping the largest values.
pub fn add_capped(list: &mut Vec<(String, u32)>, items: &[(&str, u32)], cap: usize) {
    for (v, n) in items {
        if let Some(e) = list.iter_mut().find(|e| e.0 == *v) {
            e.1 += n;
        } else {
            list.push(((*v).to_owned(), *n));
        }
    }
    if list.len() > cap {
        list.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        list.truncate(cap);
    }
}

/// The calls and errors of one minute with data.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Count {
    /// Minutes since the epoch.
    pub minute: i64,
    /// Calls.
    pub calls: u32,
    /// Calls with an errorCode.
    pub errors: u32,
}

/// The capped attributions of one minute with data: its error codes, callers and user
/// agents in one list (each capped at [`MINUTE_ATTRIBUTION_CAP`]). Most minutes have at most
/// four values in all, which live inline: a minute takes under two cache lines, and a
/// detector walks many minutes of many APIs after each file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MinuteAttributions {
    /// Error codes, then callers, then user agents.
    items: SmallVec<[(Arc<str>, u32); 4]>,
    /// Where the error codes end and where the callers end in `items`.
    ends: [u8; 2],
}

impl MinuteAttributions {
    /// From the three lists, each capped as [`add_capped_shared`] does.
    pub fn new(mut by_error: Attributions, mut by_caller: Attributions, mut by_agent: Attributions) -> Self {
        for list in [&mut by_error, &mut by_caller, &mut by_agent] {
            add_capped_shared(list, &[], MINUTE_ATTRIBUTION_CAP);
        }
        let errors = by_error.len();
        let callers = errors + by_caller.len();
        let mut items = SmallVec::with_capacity(callers + by_agent.len());
        for item in by_error.into_iter().chain(by_caller).chain(by_agent) {
            items.push(item);
        }
        MinuteAttributions {
            items,
            ends: [errors as u8, callers as u8],
        }
    }

    /// From three lists of `(string id, n)` whose strings `resolve` gives (ids it does not
    /// know are left out), each capped as [`MinuteAttributions::new`] does.
    pub fn resolve(lists: [&[(u32, u32)]; 3], resolve: impl Fn(u32) -> Option<Arc<str>>) -> Self {
        if lists.iter().any(|l| l.len() > MINUTE_ATTRIBUTION_CAP) {
            let [e, c, a] = lists.map(|l| l.iter().filter_map(|(id, n)| Some((resolve(*id)?, *n))).collect());
            return MinuteAttributions::new(e, c, a);
        }
        // Each list within the cap (nearly always): the values go in as they are.
        let mut items = SmallVec::with_capacity(lists.iter().map(|l| l.len()).sum());
        let mut ends = [0u8; 2];
        for (i, list) in lists.iter().enumerate() {
            for (id, n) in list.iter() {
                if let Some(s) = resolve(*id) {
                    items.push((s, *n));
                }
            }
            if let Some(end) = ends.get_mut(i) {
                *end = items.len() as u8;
            }
        }
        MinuteAttributions { items, ends }
    }

    /// Errors per errorCode.
    pub fn by_error(&self) -> &[(Arc<str>, u32)] {
        self.items.get(..usize::from(self.ends[0])).unwrap_or_default()
    }

    /// Calls per caller ARN.
    pub fn by_caller(&self) -> &[(Arc<str>, u32)] {
        self.items
            .get(usize::from(self.ends[0])..usize::from(self.ends[1]))
            .unwrap_or_default()
    }

    /// Calls per user agent.
    pub fn by_agent(&self) -> &[(Arc<str>, u32)] {
        self.items.get(usize::from(self.ends[1])..).unwrap_or_default()
    }

    /// The three lists, moved out.
    fn into_lists(self) -> (Attributions, Attributions, Attributions) {
        let [errors, callers] = self.ends.map(usize::from);
        let mut items = self.items.into_iter();
        let by_error = items.by_ref().take(errors).collect();
        let by_caller = items.by_ref().take(callers.saturating_sub(errors)).collect();
        (by_error, by_caller, items.collect())
    }

    /// Adds another minute's lists, capped as [`add_capped_shared`] does.
    fn add(&mut self, more: &MinuteAttributions) {
        let (mut e, mut c, mut a) = std::mem::take(self).into_lists();
        add_capped_shared(&mut e, more.by_error(), MINUTE_ATTRIBUTION_CAP);
        add_capped_shared(&mut c, more.by_caller(), MINUTE_ATTRIBUTION_CAP);
        add_capped_shared(&mut a, more.by_agent(), MINUTE_ATTRIBUTION_CAP);
        *self = MinuteAttributions::new(e, c, a);
    }
}

/// Recent minutes of one API: the minutes with data, in ascending order, as two parallel
/// arrays. Window sums walk the small counts array only (16 bytes a minute, contiguous);
/// attributions are read for single minutes and for Insights records. Minutes arrive mostly
/// in order and leave from the front, so both ends are cheap.
///
/// Stored (serde) as `{"minutes": {minute: MinuteData}, "settled_before": m}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(from = "WindowRepr", into = "WindowRepr")]
pub struct MinuteWindow {
    counts: VecDeque<Count>,
    attributions: VecDeque<MinuteAttributions>,
    /// Every minute before this one is complete and has been learned.
    pub settled_before: i64,
}

/// The stored form of a [`MinuteWindow`].
#[derive(Serialize, Deserialize)]
struct WindowRepr {
    minutes: BTreeMap<i64, MinuteData>,
    settled_before: i64,
}

impl From<WindowRepr> for MinuteWindow {
    fn from(r: WindowRepr) -> Self {
        let mut w = MinuteWindow {
            settled_before: r.settled_before,
            ..MinuteWindow::default()
        };
        for (m, d) in r.minutes {
            w.counts.push_back(Count {
                minute: m,
                calls: d.calls,
                errors: d.errors,
            });
            w.attributions
                .push_back(MinuteAttributions::new(d.by_error, d.by_caller, d.by_agent));
        }
        w
    }
}

impl From<MinuteWindow> for WindowRepr {
    fn from(w: MinuteWindow) -> Self {
        let minutes = w
            .counts
            .into_iter()
            .zip(w.attributions)
            .map(|(c, a)| {
                let (by_error, by_caller, by_agent) = a.into_lists();
                let d = MinuteData {
                    calls: c.calls,
                    errors: c.errors,
                    by_error,
                    by_caller,
                    by_agent,
                };
                (c.minute, d)
            })
            .collect();
        WindowRepr {
            minutes,
            settled_before: w.settled_before,
        }
    }
}

impl MinuteWindow {
    /// An empty window whose minutes before `settled_before` count as complete.
    pub fn new(settled_before: i64) -> Self {
        MinuteWindow {
            settled_before,
            ..MinuteWindow::default()
        }
    }

    /// Index of the first minute at or after `m`.
    fn index(&self, m: i64) -> usize {
        let n = self.counts.len();
        let (Some(first), Some(last)) = (self.counts.front(), self.counts.back()) else {
            return 0;
        };
        // New minutes usually come after every minute held.
        if last.minute < m {
            return n;
        }
        if m <= first.minute {
            return 0;
        }
        // Minutes are distinct and ascending, so at most `last - m + 1` of them are at or
        // after `m` and at most `m - first` before it: lookups (mostly of recent minutes)
        // search only that span.
        let span = |d: i64| usize::try_from(d).unwrap_or(usize::MAX);
        let mut lo = n.saturating_sub(span(last.minute - m + 1));
        let mut hi = n.min(span(m - first.minute));
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.counts[mid].minute < m {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    /// Position of the first minute at or after `m` (for [`MinuteWindow::at`]).
    pub fn position(&self, m: i64) -> usize {
        self.index(m)
    }

    /// The minute at `position`.
    pub fn minute_at(&self, position: usize) -> Option<i64> {
        self.counts.get(position).map(|c| c.minute)
    }

    /// The counts and attributions of the minute at `position`.
    pub fn at(&self, position: usize) -> Option<(Count, &MinuteAttributions)> {
        Some((*self.counts.get(position)?, self.attributions.get(position)?))
    }

    /// Minutes with data.
    pub fn len(&self) -> usize {
        self.counts.len()
    }

    /// Whether no minute has data.
    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }

    /// Whether some minute at or after `m` has data.
    pub fn has_from(&self, m: i64) -> bool {
        self.counts.back().is_some_and(|c| c.minute >= m)
    }

    /// The counts and attributions of minute `m`, when it has data.
    pub fn get(&self, m: i64) -> Option<(Count, &MinuteAttributions)> {
        let i = self.index(m);
        match (self.counts.get(i), self.attributions.get(i)) {
            (Some(c), Some(a)) if c.minute == m => Some((*c, a)),
            _ => None,
        }
    }

    /// The minutes with data in `[from, to]`, ascending.
    pub fn counts_in(&self, from: i64, to: i64) -> impl Iterator<Item = &Count> + '_ {
        let lo = self.index(from);
        let hi = self.index(to.saturating_add(1)).max(lo);
        self.counts.range(lo..hi)
    }

    fn attributed_in(&self, from: i64, to: i64) -> impl Iterator<Item = (&Count, &MinuteAttributions)> + '_ {
        let lo = self.index(from);
        let hi = self.index(to.saturating_add(1)).max(lo);
        self.counts.range(lo..hi).zip(self.attributions.range(lo..hi))
    }

    /// Adds new counts to minute `d.minute`: the attribution lists move in when the minute is
    /// new, and are merged (capped) when it had data already.
    pub fn add(&mut self, d: MinuteDelta) {
        let minute = d.minute;
        let i = self.index(minute);
        if let (Some(c), Some(a)) = (self.counts.get_mut(i), self.attributions.get_mut(i)) {
            if c.minute == minute {
                c.calls += d.calls;
                c.errors += d.errors;
                a.add(&d.attributions);
                return;
            }
        }
        let count = Count {
            minute,
            calls: d.calls,
            errors: d.errors,
        };
        let attributions = d.attributions;
        // A new minute usually comes after every minute held.
        if i == self.counts.len() {
            self.counts.push_back(count);
            self.attributions.push_back(attributions);
        } else {
            self.counts.insert(i, count);
            self.attributions.insert(i, attributions);
        }
    }

    /// Counts in minute `m` (zero when nothing was seen).
    pub fn calls(&self, m: i64) -> u32 {
        self.get(m).map_or(0, |(c, _)| c.calls)
    }

    /// Sum of calls over `(end - len, end]`.
    pub fn sum_calls(&self, end: i64, len: i64) -> u64 {
        if len <= 0 {
            return 0;
        }
        self.counts_in(end - len + 1, end).map(|c| u64::from(c.calls)).sum()
    }

    /// Sum of calls, and errors of `code`, over `(end - len, end]`.
    pub fn sum_errors(&self, end: i64, len: i64, code: &str) -> (u64, u64) {
        let mut calls = 0;
        let mut errors = 0;
        if len <= 0 {
            return (0, 0);
        }
        for (c, a) in self.attributed_in(end - len + 1, end) {
            calls += u64::from(c.calls);
            errors += a
                .by_error()
                .iter()
                .filter(|e| &*e.0 == code)
                .map(|e| u64::from(e.1))
                .sum::<u64>();
        }
        (calls, errors)
    }

    /// Error codes seen over `(end - len, end]`.
    pub fn codes(&self, end: i64, len: i64) -> Vec<String> {
        let mut codes: Vec<String> = Vec::new();
        if len <= 0 {
            return codes;
        }
        for (_, a) in self.attributed_in(end - len + 1, end) {
            for (c, _) in a.by_error() {
                if !codes.iter().any(|x| x.as_str() == &**c) {
                    codes.push(c.to_string());
                }
            }
        }
        codes
    }

    /// Attribution totals over `[from, to]` for one attribute (0 caller, 1 agent, 2 error code).
    pub fn attributions(&self, from: i64, to: i64, attribute: usize) -> Vec<(String, u32)> {
        let mut out: Vec<(String, u32)> = Vec::new();
        if from > to {
            return out;
        }
        for (_, a) in self.attributed_in(from, to) {
            let list = match attribute {
                0 => a.by_caller(),
                1 => a.by_agent(),
                _ => a.by_error(),
            };
            let items: Vec<(&str, u32)> = list.iter().map(|(v, n)| (&**v, *n)).collect();
            add_capped(&mut out, &items, 64);
        }
        if attribute == 2 {
            // Calls without an error are attributed to the string "null", as CloudTrail Insights does.
            let calls: u32 = self.counts_in(from, to).map(|c| c.calls.saturating_sub(c.errors)).sum();
            if calls > 0 {
                add_capped(&mut out, &[("null", calls)], 64);
            }
        }
        out.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        out
    }

    /// Forgets minutes older than the history needed behind `settled_before`.
    pub fn trim(&mut self) {
        let keep_from = self.settled_before - HISTORY_MINUTES;
        let n = self.index(keep_from);
        self.counts.drain(..n);
        self.attributions.drain(..n);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    fn list(prefix: &str, counts: &[u32]) -> Attributions {
        counts
            .iter()
            .enumerate()
            .map(|(i, n)| (Arc::from(format!("{prefix}{i}")), *n))
            .collect()
    }

    #[test]
    fn a_minute_keeps_its_three_attributes_apart_and_capped_when_deltas_merge() {
        // Given a minute with one error code, nine callers (one over the cap) and two agents
        let delta = |errors: &[u32], callers: &[u32], agents: &[u32]| MinuteDelta {
            minute: 7,
            calls: 20,
            errors: errors.iter().sum(),
            attributions: MinuteAttributions::new(list("code", errors), list("caller", callers), list("agent", agents)),
        };
        let mut w = MinuteWindow::new(0);
        w.add(delta(&[3], &[1, 2, 3, 4, 5, 6, 7, 8, 9], &[10, 10]));
        // When a later file adds a second code, more calls of a known caller and a new agent
        w.add(delta(&[0, 4], &[0, 0, 0, 0, 0, 0, 0, 0, 40], &[0, 0, 5]));
        // Then each attribute is merged and capped on its own, as separate capped lists are
        let mut expect = [
            list("code", &[3]),
            list("caller", &[1, 2, 3, 4, 5, 6, 7, 8, 9]),
            list("agent", &[10, 10]),
        ];
        for (l, more) in expect.iter_mut().zip([
            list("code", &[0, 4]),
            list("caller", &[0, 0, 0, 0, 0, 0, 0, 0, 40]),
            list("agent", &[0, 0, 5]),
        ]) {
            add_capped_shared(l, &[], MINUTE_ATTRIBUTION_CAP);
            add_capped_shared(l, &more, MINUTE_ATTRIBUTION_CAP);
        }
        let Some((count, a)) = w.get(7) else {
            panic!("minute 7 has data");
        };
        assert_eq!((count.calls, count.errors), (40, 7));
        assert_eq!(a.by_error(), &expect[0][..]);
        assert_eq!(a.by_caller(), &expect[1][..]);
        assert_eq!(a.by_agent(), &expect[2][..]);
        assert_eq!(a.by_caller().len(), MINUTE_ATTRIBUTION_CAP);
        // And the stored form gives the same minute back
        let back: MinuteWindow = serde_json::from_str(&serde_json::to_string(&w).unwrap()).unwrap();
        assert_eq!(back, w);
    }

    #[test]
    fn capped_lists_keep_the_largest_values() {
        let mut l = vec![];
        add_capped(&mut l, &[("a", 1), ("b", 5), ("c", 3)], 2);
        assert_eq!(l, vec![("b".to_owned(), 5), ("c".to_owned(), 3)]);
    }

    #[test]
    fn window_sums_cover_exactly_the_last_minutes() {
        let mut w = MinuteWindow::default();
        for m in (0..10).rev() {
            w.add(MinuteDelta {
                minute: m,
                calls: 1,
                ..MinuteDelta::default()
            });
        }
        assert_eq!(w.sum_calls(9, 5), 5);
        assert_eq!(w.sum_calls(2, 5), 3);
        w.settled_before = 100;
        w.trim();
        assert_eq!(w.len(), 0);
    }
}
