//! The recent minutes of one API: complete (settled) ones for window sums, and open ones
//! whose counts may still grow as late records arrive.
//!
//! A minute's attribution values (error codes, callers, user agents) are not copied while
//! the minute has data from one file only (the usual case): the minute refers to that file's
//! counts ([`FileValues`], shared by every API of the file). A minute that merges data from
//! several files keeps its values as small indexes into the window's own table of strings,
//! in one array for all such minutes. Either way a minute holds no pointer of its own and
//! nothing to free: dropping old minutes only counts down how many minutes refer to each
//! file, and a file is let go once no minute refers to it or to an older file.

use super::strings::StringTable;
use crate::count::Slot;
use serde::{Deserialize, Serialize};
use smallvec::SmallVec;
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

/// Attribution values kept per minute and attribute.
pub const MINUTE_ATTRIBUTION_CAP: usize = 8;
/// Minutes of history kept behind the newest settled minute (the longest window).
pub const HISTORY_MINUTES: i64 = 60;

/// Attribution values of one minute and their calls, in the stored form of a window.
pub type Attributions = SmallVec<[(Arc<str>, u32); 2]>;

/// Counts of one API in one minute, with capped attributions (the stored form of a minute).
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

/// New counts for one API and minute. Attribution values are `(index into strings, n)`,
/// borrowed from the file they were counted in.
#[derive(Debug, Clone, Copy, Default)]
pub struct MinuteDelta<'a> {
    /// Minutes since the epoch.
    pub minute: i64,
    /// Calls.
    pub calls: u32,
    /// Calls with an errorCode.
    pub errors: u32,
    /// The strings the lists index (shared copies: a window matches them by address first).
    pub strings: &'a [Arc<str>],
    /// Errors per code, calls per caller and calls per user agent.
    pub lists: [&'a [(u32, u32)]; 3],
    /// The file and slot these counts are, when they come whole from a [`FileValues`]: a
    /// window may then refer to them instead of copying the values.
    pub file: Option<(&'a Arc<FileValues>, u32)>,
}

impl<'a> MinuteDelta<'a> {
    /// The counts of slot `slot` of `file`.
    pub fn of_slot(file: &'a Arc<FileValues>, slot: u32) -> Option<Self> {
        let s = file.slots.get(slot as usize)?;
        let t = &s.tally;
        Some(MinuteDelta {
            minute: s.minute,
            calls: t.calls,
            errors: t.errors,
            strings: &file.strings,
            lists: [&t.by_error, &t.by_caller, &t.by_agent],
            file: Some((file, slot)),
        })
    }
}

/// One file's counts and the shared copies of its strings, kept (shared) by the windows whose
/// minutes refer to them.
#[derive(Debug, Default)]
pub struct FileValues {
    /// The strings the slots' attribution lists index.
    pub strings: Vec<Arc<str>>,
    /// The file's (API, minute) slots.
    pub slots: Vec<Slot>,
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

/// The attribution values of one minute, read from its window: `(string, calls)` per error
/// code, caller and user agent, each list capped at [`MINUTE_ATTRIBUTION_CAP`].
#[derive(Debug, Clone, Copy, Default)]
pub struct MinuteAttributions<'a> {
    /// Error codes, callers and user agents, as `(index into strings, calls)`.
    lists: [&'a [(u32, u32)]; 3],
    strings: &'a [Arc<str>],
}

/// One attribute's values of a minute (see [`MinuteAttributions`]).
#[derive(Debug, Clone)]
pub struct Values<'a> {
    items: std::slice::Iter<'a, (u32, u32)>,
    strings: &'a [Arc<str>],
}

impl<'a> Iterator for Values<'a> {
    type Item = (&'a Arc<str>, u32);

    fn next(&mut self) -> Option<Self::Item> {
        for (s, n) in self.items.by_ref() {
            if let Some(v) = self.strings.get(*s as usize) {
                return Some((v, *n));
            }
        }
        None
    }
}

impl<'a> MinuteAttributions<'a> {
    fn values(&self, attribute: usize) -> Values<'a> {
        Values {
            items: self.lists[attribute].iter(),
            strings: self.strings,
        }
    }

    /// Errors per errorCode.
    pub fn by_error(&self) -> Values<'a> {
        self.values(0)
    }

    /// Calls per caller ARN.
    pub fn by_caller(&self) -> Values<'a> {
        self.values(1)
    }

    /// Calls per user agent.
    pub fn by_agent(&self) -> Values<'a> {
        self.values(2)
    }

    /// Errors of the error code `code`.
    fn errors_of(&self, code: &str) -> u64 {
        self.lists[0]
            .iter()
            .filter(|(s, _)| self.strings.get(*s as usize).is_some_and(|x| &**x == code))
            .map(|e| u64::from(e.1))
            .sum()
    }
}

/// A minute with data in a [`MinuteWindow`]: its counts and where its values are.
#[derive(Debug, Clone, Copy)]
struct Minute {
    count: Count,
    at: At,
}

/// Where a minute's attribution values are.
#[derive(Debug, Clone, Copy)]
enum At {
    /// A run of [`MinuteWindow`]'s value array (a minute merged from several files).
    Values(Span),
    /// Slot `slot` of the window's file numbered `file` (a minute from one file).
    File { file: u32, slot: u32 },
}

/// Where a minute's values are in [`MinuteWindow`]'s value array.
#[derive(Debug, Clone, Copy, Default)]
struct Span {
    start: u32,
    /// Cumulative ends of the error codes, callers and user agents (the last is the length).
    ends: [u8; 3],
}

impl Span {
    fn range(&self) -> std::ops::Range<usize> {
        let start = self.start as usize;
        start..start + usize::from(self.ends[2])
    }
}

/// Recent minutes of one API: the minutes with data, in ascending order, 32 bytes each
/// (counts, and where the minute's attribution values are: a slot of a file it refers to, or
/// a run of one array of values whose strings are in one table). Minutes arrive mostly in
/// order and leave from the front, so both ends are cheap, and leaving reads only which file
/// each one refers to.
///
/// Stored (serde) as `{"minutes": {minute: MinuteData}, "settled_before": m}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(from = "WindowRepr", into = "WindowRepr")]
pub struct MinuteWindow {
    /// The minutes with data: counts, and where their attribution values are in `values`.
    minutes: VecDeque<Minute>,
    /// `(string index, calls)` of the minutes, each minute's in one run: error codes, then
    /// callers, then user agents. Runs of minutes dropped or rewritten stay until
    /// [`MinuteWindow::compact`], once `values` reaches `compact_at`.
    values: Vec<(u32, u32)>,
    compact_at: usize,
    strings: StringTable,
    /// The files minutes refer to, numbered from `first_file`, oldest first, each with the
    /// number of minutes that refer to it: a file is let go once no minute before it does.
    files: VecDeque<(Arc<FileValues>, u32)>,
    first_file: u32,
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
        let mut w = MinuteWindow::new(r.settled_before);
        for (m, d) in r.minutes {
            let mut strings: Vec<Arc<str>> = vec![];
            let lists = [&d.by_error, &d.by_caller, &d.by_agent].map(|list| {
                list.iter()
                    .map(|(s, n)| {
                        strings.push(s.clone());
                        ((strings.len() - 1) as u32, *n)
                    })
                    .collect::<Vec<_>>()
            });
            w.add(MinuteDelta {
                minute: m,
                calls: d.calls,
                errors: d.errors,
                strings: &strings,
                lists: [&lists[0], &lists[1], &lists[2]],
                file: None,
            });
        }
        w
    }
}

impl From<MinuteWindow> for WindowRepr {
    fn from(w: MinuteWindow) -> Self {
        let minutes = (0..w.len())
            .filter_map(|i| w.at(i))
            .map(|(c, a)| {
                let list = |v: Values| v.map(|(s, n)| (s.clone(), n)).collect();
                let d = MinuteData {
                    calls: c.calls,
                    errors: c.errors,
                    by_error: list(a.by_error()),
                    by_caller: list(a.by_caller()),
                    by_agent: list(a.by_agent()),
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

/// Two windows are equal when they hold the same minutes with the same values, however
/// their arrays happen to be laid out.
impl PartialEq for MinuteWindow {
    fn eq(&self, other: &Self) -> bool {
        let texts = |v: Values| v.map(|(s, n)| (s.clone(), n)).collect::<Vec<_>>();
        self.settled_before == other.settled_before
            && self
                .minutes
                .iter()
                .map(|x| x.count)
                .eq(other.minutes.iter().map(|x| x.count))
            && (0..self.len()).all(|i| match (self.at(i), other.at(i)) {
                (Some((_, a)), Some((_, b))) => {
                    texts(a.by_error()) == texts(b.by_error())
                        && texts(a.by_caller()) == texts(b.by_caller())
                        && texts(a.by_agent()) == texts(b.by_agent())
                }
                _ => false,
            })
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
        let n = self.minutes.len();
        let (Some(first), Some(last)) = (self.minutes.front(), self.minutes.back()) else {
            return 0;
        };
        let (first, last) = (&first.count, &last.count);
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
            if self.minutes[mid].count.minute < m {
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
        self.minutes.get(position).map(|x| x.count.minute)
    }

    fn attributions_of(&self, at: &At) -> MinuteAttributions<'_> {
        match *at {
            At::Values(span) => {
                let run = self.values.get(span.range()).unwrap_or_default();
                let (e, c) = (usize::from(span.ends[0]), usize::from(span.ends[1]));
                MinuteAttributions {
                    lists: [
                        run.get(..e).unwrap_or_default(),
                        run.get(e..c).unwrap_or_default(),
                        run.get(c..).unwrap_or_default(),
                    ],
                    strings: self.strings.as_slice(),
                }
            }
            At::File { file, slot } => {
                let file = self.file(file);
                match file.and_then(|f| Some((f, &f.slots.get(slot as usize)?.tally))) {
                    Some((f, t)) => MinuteAttributions {
                        lists: [&t.by_error, &t.by_caller, &t.by_agent],
                        strings: &f.strings,
                    },
                    None => MinuteAttributions::default(),
                }
            }
        }
    }

    /// The file numbered `number`.
    fn file(&self, number: u32) -> Option<&Arc<FileValues>> {
        self.files
            .get(number.checked_sub(self.first_file)? as usize)
            .map(|f| &f.0)
    }

    /// The number of `file` for one more minute referring to it (added when it is not the
    /// newest file held).
    fn file_number(&mut self, file: &Arc<FileValues>) -> u32 {
        match self.files.back_mut() {
            Some((f, refs)) if Arc::ptr_eq(f, file) => *refs += 1,
            _ => self.files.push_back((file.clone(), 1)),
        }
        self.first_file
            .saturating_add(self.files.len().saturating_sub(1) as u32)
    }

    /// One minute fewer refers to file `number`; the oldest files no minute refers to are let go.
    fn unrefer(&mut self, number: u32) {
        let i = number.checked_sub(self.first_file).map(|i| i as usize);
        if let Some((_, refs)) = i.and_then(|i| self.files.get_mut(i)) {
            *refs = refs.saturating_sub(1);
        }
        self.release_files();
    }

    /// Lets go of the oldest files that no minute refers to.
    fn release_files(&mut self) {
        while self.files.front().is_some_and(|f| f.1 == 0) {
            self.files.pop_front();
            self.first_file += 1;
        }
    }

    /// The counts and attributions of the minute at `position`.
    pub fn at(&self, position: usize) -> Option<(Count, MinuteAttributions<'_>)> {
        Some((
            self.minutes.get(position)?.count,
            self.attributions_of(&self.minutes.get(position)?.at),
        ))
    }

    /// Minutes with data.
    pub fn len(&self) -> usize {
        self.minutes.len()
    }

    /// Whether no minute has data.
    pub fn is_empty(&self) -> bool {
        self.minutes.is_empty()
    }

    /// The newest minute with data.
    pub fn newest(&self) -> Option<i64> {
        self.minutes.back().map(|x| x.count.minute)
    }

    /// Whether some minute at or after `m` has data.
    pub fn has_from(&self, m: i64) -> bool {
        self.minutes.back().is_some_and(|x| x.count.minute >= m)
    }

    /// The counts and attributions of minute `m`, when it has data.
    pub fn get(&self, m: i64) -> Option<(Count, MinuteAttributions<'_>)> {
        let i = self.index(m);
        self.at(i).filter(|(c, _)| c.minute == m)
    }

    /// The minutes with data in `[from, to]`, ascending.
    pub fn counts_in(&self, from: i64, to: i64) -> impl Iterator<Item = &Count> + '_ {
        let lo = self.index(from);
        let hi = self.index(to.saturating_add(1)).max(lo);
        self.minutes.range(lo..hi).map(|x| &x.count)
    }

    fn attributed_in(&self, from: i64, to: i64) -> impl Iterator<Item = (&Count, MinuteAttributions<'_>)> + '_ {
        let lo = self.index(from);
        let hi = self.index(to.saturating_add(1)).max(lo);
        self.minutes
            .range(lo..hi)
            .map(|x| (&x.count, self.attributions_of(&x.at)))
    }

    /// Adds new counts to minute `d.minute`; its attribution values are merged per attribute,
    /// each list capped at [`MINUTE_ATTRIBUTION_CAP`] (the values with most calls kept).
    pub fn add(&mut self, d: MinuteDelta) {
        let minute = d.minute;
        let i = self.index(minute);
        if let Some(x) = self.minutes.get_mut(i).filter(|x| x.count.minute == minute) {
            x.count.calls += d.calls;
            x.count.errors += d.errors;
            let old = x.at;
            self.merge(i, old, &d);
            return;
        }
        // A new minute (the usual case): it refers to its file's values when it can, or they
        // go straight to the end of `values`.
        let at = match d.file {
            Some((file, slot)) if d.lists.iter().all(|l| l.len() <= MINUTE_ATTRIBUTION_CAP) => At::File {
                file: self.file_number(file),
                slot,
            },
            _ => At::Values(self.push_delta(&d)),
        };
        let count = Count {
            minute,
            calls: d.calls,
            errors: d.errors,
        };
        // A new minute usually comes after every minute held.
        if i == self.minutes.len() {
            self.minutes.push_back(Minute { count, at });
        } else {
            self.minutes.insert(i, Minute { count, at });
        }
    }

    /// Merges a delta's values into the minute at `i`, whose values are at `old`: a minute with
    /// data from several files keeps its values in `values` (its first file's copied first).
    /// Per attribute: the minute's values, then the delta's (capped on their own) added to
    /// them, then capped.
    #[inline(never)]
    fn merge(&mut self, i: usize, old: At, d: &MinuteDelta) {
        // The minute's values so far, in this window's string indexes.
        let mut had: SmallVec<[(u32, u32); 24]> = SmallVec::new();
        let mut bounds = [0usize; 4];
        match old {
            At::Values(span) => {
                had.extend_from_slice(self.values.get(span.range()).unwrap_or_default());
                bounds = [0, usize::from(span.ends[0]), usize::from(span.ends[1]), had.len()];
                if span.range().end == self.values.len() {
                    // The minute's run is the newest: rewritten in place, leaving nothing dead.
                    self.values.truncate(span.range().start);
                }
            }
            At::File { file: number, slot } => {
                let file = self.file(number).cloned();
                let Some(first) = file.as_ref().and_then(|f| MinuteDelta::of_slot(f, slot)) else {
                    return;
                };
                for (a, items) in first.lists.iter().enumerate() {
                    for (s, n) in items.iter() {
                        if let Some(s) = first.strings.get(*s as usize) {
                            had.push((self.strings.intern(s), *n));
                        }
                    }
                    bounds[a + 1] = had.len();
                }
                self.unrefer(number);
            }
        }
        let start = self.values.len();
        let mut ends = [0u8; 3];
        for (a, (end, items)) in ends.iter_mut().zip(d.lists).enumerate() {
            let mut more: SmallVec<[(u32, u32); 8]> = SmallVec::new();
            for (s, n) in items {
                if let Some(s) = d.strings.get(*s as usize) {
                    more.push((self.strings.intern(s), *n));
                }
            }
            self.cap(&mut more);
            let from = self.values.len();
            self.values
                .extend_from_slice(had.get(bounds[a]..bounds[a + 1]).unwrap_or_default());
            for (s, n) in more {
                match self
                    .values
                    .get_mut(from..)
                    .and_then(|l| l.iter_mut().find(|e| e.0 == s))
                {
                    Some(e) => e.1 += n,
                    None => self.values.push((s, n)),
                }
            }
            if self.values.len() - from > MINUTE_ATTRIBUTION_CAP {
                let strings = &self.strings;
                if let Some(list) = self.values.get_mut(from..) {
                    list.sort_by(|a, b| strings.by_calls(a, b));
                }
                self.values.truncate(from + MINUTE_ATTRIBUTION_CAP);
            }
            *end = (self.values.len() - start) as u8;
        }
        if let Some(x) = self.minutes.get_mut(i) {
            x.at = At::Values(Span {
                start: start as u32,
                ends,
            });
        }
    }

    /// Appends a new minute's values from a delta, each list capped, returning where they are.
    fn push_delta(&mut self, d: &MinuteDelta) -> Span {
        let start = self.values.len();
        self.values.reserve(d.lists.iter().map(|l| l.len()).sum());
        let mut ends = [0u8; 3];
        for (end, items) in ends.iter_mut().zip(d.lists) {
            let from = self.values.len();
            for (s, n) in items {
                if let Some(s) = d.strings.get(*s as usize) {
                    let id = self.strings.intern(s);
                    self.values.push((id, *n));
                }
            }
            if self.values.len() - from > MINUTE_ATTRIBUTION_CAP {
                let strings = &self.strings;
                if let Some(list) = self.values.get_mut(from..) {
                    list.sort_by(|a, b| strings.by_calls(a, b));
                }
                self.values.truncate(from + MINUTE_ATTRIBUTION_CAP);
            }
            *end = (self.values.len() - start) as u8;
        }
        Span {
            start: start as u32,
            ends,
        }
    }

    /// Keeps the [`MINUTE_ATTRIBUTION_CAP`] values with most calls (ties by text).
    fn cap<A: smallvec::Array<Item = (u32, u32)>>(&self, list: &mut SmallVec<A>) {
        if list.len() > MINUTE_ATTRIBUTION_CAP {
            list.sort_by(|a, b| self.strings.by_calls(a, b));
            list.truncate(MINUTE_ATTRIBUTION_CAP);
        }
    }

    /// Rewrites `values` with only the live minutes' runs, in minute order, and the string
    /// table with only the strings they use. Called once `values` has grown fourfold since
    /// the last time, so its cost is spread over the values written in between.
    fn compact(&mut self) {
        // As large as before: the live values grow into it until the next compaction, without a copy.
        let mut values = Vec::with_capacity(self.values.len());
        let mut remap = vec![u32::MAX; self.strings.len()];
        let mut table = StringTable::default();
        let spans = self.minutes.iter_mut().filter_map(|x| match &mut x.at {
            At::Values(span) => Some(span),
            At::File { .. } => None,
        });
        for span in spans {
            let start = values.len();
            for (s, n) in self.values.get(span.range()).unwrap_or_default() {
                let Some(r) = remap.get_mut(*s as usize) else {
                    continue;
                };
                if *r == u32::MAX {
                    if let Some(text) = self.strings.as_slice().get(*s as usize) {
                        *r = table.push(text.clone());
                    }
                }
                values.push((*r, *n));
            }
            span.start = start as u32;
        }
        self.compact_at = 4 * values.len() + 256;
        self.values = values;
        self.strings = table;
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
        let code_text = code;
        let code = self.strings.find(code);
        let lo = self.index(end - len + 1);
        let hi = self.index(end.saturating_add(1)).max(lo);
        for Minute { count: c, at } in self.minutes.range(lo..hi) {
            calls += u64::from(c.calls);
            let s = match at {
                At::Values(s) => s,
                At::File { .. } => {
                    errors += self.attributions_of(at).errors_of(code_text);
                    continue;
                }
            };
            let Some(code) = code else {
                continue;
            };
            let start = s.start as usize;
            let codes = self
                .values
                .get(start..start + usize::from(s.ends[0]))
                .unwrap_or_default();
            errors += codes
                .iter()
                .filter(|e| e.0 == code)
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
            let items: Vec<(&str, u32)> = list.map(|(v, n)| (&**v, n)).collect();
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
        if n == 0 {
            return;
        }
        // Nothing in a minute needs dropping: this only moves the front, and reads only
        // which files the minutes dropped refer to.
        if self.minutes.len() == n {
            self.minutes.clear();
            self.values.clear();
            if self.strings.is_large() {
                self.strings = StringTable::default();
            }
            self.files.clear();
            self.first_file = 0;
            return;
        }
        for x in self.minutes.drain(..n) {
            if let At::File { file, .. } = x.at {
                let i = file.checked_sub(self.first_file).map(|i| i as usize);
                if let Some((_, refs)) = i.and_then(|i| self.files.get_mut(i)) {
                    *refs = refs.saturating_sub(1);
                }
            }
        }
        self.release_files();
        if self.values.len() >= self.compact_at {
            self.compact();
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    /// A file's strings and one minute's three lists of `(index, calls)` into them.
    struct Delta {
        strings: Vec<Arc<str>>,
        lists: [Vec<(u32, u32)>; 3],
    }

    impl Delta {
        fn new(lists: [&[(&str, u32)]; 3]) -> Self {
            let mut strings: Vec<Arc<str>> = vec![];
            let lists = lists.map(|l| {
                l.iter()
                    .map(|(s, n)| {
                        let i = strings.iter().position(|x| &**x == *s).unwrap_or_else(|| {
                            strings.push(Arc::from(*s));
                            strings.len() - 1
                        });
                        (i as u32, *n)
                    })
                    .collect()
            });
            Delta { strings, lists }
        }

        fn at(&self, minute: i64, calls: u32, errors: u32) -> MinuteDelta<'_> {
            MinuteDelta {
                minute,
                calls,
                errors,
                strings: &self.strings,
                lists: [&self.lists[0], &self.lists[1], &self.lists[2]],
                file: None,
            }
        }
    }

    fn named(prefix: &str, counts: &[u32]) -> Vec<(String, u32)> {
        counts
            .iter()
            .enumerate()
            .map(|(i, n)| (format!("{prefix}{i}"), *n))
            .collect()
    }

    fn borrowed(list: &[(String, u32)]) -> Vec<(&str, u32)> {
        list.iter().map(|(s, n)| (s.as_str(), *n)).collect()
    }

    fn texts(v: Values) -> Vec<(String, u32)> {
        v.map(|(s, n)| (s.to_string(), n)).collect()
    }

    #[test]
    fn a_minute_keeps_its_three_attributes_apart_and_capped_when_deltas_merge() {
        // Given a minute with one error code, nine callers (one over the cap) and two agents
        let first = [
            named("code", &[3]),
            named("caller", &[1, 2, 3, 4, 5, 6, 7, 8, 9]),
            named("agent", &[10, 10]),
        ];
        let d1 = Delta::new([&borrowed(&first[0]), &borrowed(&first[1]), &borrowed(&first[2])]);
        let mut w = MinuteWindow::new(0);
        w.add(d1.at(7, 20, 3));
        // When a later file adds a second code, more calls of a known caller and a new agent
        let more = [
            named("code", &[0, 4]),
            named("caller", &[0, 0, 0, 0, 0, 0, 0, 0, 40]),
            named("agent", &[0, 0, 5]),
        ];
        let d2 = Delta::new([&borrowed(&more[0]), &borrowed(&more[1]), &borrowed(&more[2])]);
        w.add(d2.at(7, 20, 4));
        // Then each attribute is merged and capped on its own, as capped lists of strings are
        let expect: Vec<Vec<(String, u32)>> = first
            .iter()
            .zip(&more)
            .map(|(a, b)| {
                let (mut l, mut m) = (vec![], vec![]);
                add_capped(&mut l, &borrowed(a), MINUTE_ATTRIBUTION_CAP);
                add_capped(&mut m, &borrowed(b), MINUTE_ATTRIBUTION_CAP);
                add_capped(&mut l, &borrowed(&m), MINUTE_ATTRIBUTION_CAP);
                l
            })
            .collect();
        let Some((count, a)) = w.get(7) else {
            panic!("minute 7 has data");
        };
        assert_eq!((count.calls, count.errors), (40, 7));
        assert_eq!(texts(a.by_error()), expect[0]);
        assert_eq!(texts(a.by_caller()), expect[1]);
        assert_eq!(texts(a.by_agent()), expect[2]);
        assert_eq!(a.by_caller().count(), MINUTE_ATTRIBUTION_CAP);
        // And the stored form gives the same minute back
        let back: MinuteWindow = serde_json::from_str(&serde_json::to_string(&w).unwrap()).unwrap();
        assert_eq!(back, w);
    }

    #[test]
    fn a_value_loaded_from_a_store_merges_with_the_same_text_from_a_new_file() {
        // Given a window loaded from its stored form (its strings are copies of their own)
        for callers in [2usize, 40] {
            let names: Vec<String> = (0..callers).map(|i| format!("arn:aws:iam::1:user/u{i}")).collect();
            let list: Vec<(&str, u32)> = names.iter().map(|s| (s.as_str(), 1)).collect();
            let d = Delta::new([
                &[("AccessDenied", 1)],
                &list[..MINUTE_ATTRIBUTION_CAP.min(callers)],
                &[],
            ]);
            let mut w = MinuteWindow::new(0);
            w.add(d.at(5, 2, 1));
            let more: Vec<(&str, u32)> = list[MINUTE_ATTRIBUTION_CAP.min(callers)..].to_vec();
            let d = Delta::new([&[], &more, &[]]);
            w.add(d.at(6, 2, 0));
            let mut w: MinuteWindow = serde_json::from_str(&serde_json::to_string(&w).unwrap()).unwrap();
            // When a new file brings the same code and caller as other copies
            let again = Delta::new([&[("AccessDenied", 2)], &[(names[0].as_str(), 2)], &[]]);
            w.add(again.at(5, 2, 2));
            // Then they add to the values held, not beside them
            let (c, a) = w.get(5).unwrap();
            assert_eq!((c.calls, c.errors), (4, 3));
            assert_eq!(texts(a.by_error()), vec![("AccessDenied".to_owned(), 3)]);
            assert_eq!(texts(a.by_caller())[0], (names[0].clone(), 3), "{callers} callers");
            assert_eq!(w.sum_errors(6, 2, "AccessDenied"), (6, 3));
            assert_eq!(w.sum_errors(6, 2, "Throttling"), (6, 0));
        }
    }

    #[test]
    fn old_minutes_leave_no_values_or_strings_behind() {
        // Given an API whose every minute has a caller never seen before
        let mut w = MinuteWindow::new(0);
        for m in 0..2_000 {
            let caller = format!("arn:aws:sts::1:assumed-role/job/session-{m}");
            let d = Delta::new([&[], &[(caller.as_str(), 1)], &[("aws-sdk-go", 1)]]);
            w.add(d.at(m, 1, 0));
            // When its minutes settle and old ones are dropped
            w.settled_before = m - 5;
            w.trim();
        }
        // Then what is kept stays proportional to the minutes held
        assert_eq!(w.len(), 66);
        assert!(w.values.len() <= 4 * (2 * 66) + 256, "{} values", w.values.len());
        assert!(w.strings.len() <= 4 * 66 + 256, "{} strings", w.strings.len());
        // And every minute held still has its own values
        for m in 1_934..2_000 {
            let (_, a) = w.get(m).unwrap();
            let caller = format!("arn:aws:sts::1:assumed-role/job/session-{m}");
            assert_eq!(texts(a.by_caller()), vec![(caller, 1)]);
            assert_eq!(texts(a.by_agent()), vec![("aws-sdk-go".to_owned(), 1)]);
        }
    }

    /// A slot of a test file: minute, calls, errors, and the codes, callers and agents.
    type TestSlot = (i64, u32, u32, [Vec<(String, u32)>; 3]);

    /// One file of the given slots, as the pipeline shares it with the windows (strings
    /// shared across files through `interned`).
    fn file_of(interned: &mut Vec<Arc<str>>, slots: &[TestSlot]) -> Arc<FileValues> {
        let mut strings: Vec<Arc<str>> = vec![];
        let mut index = |s: &str| -> u32 {
            let shared = match interned.iter().find(|x| &***x == s) {
                Some(x) => x.clone(),
                None => {
                    interned.push(Arc::from(s));
                    interned[interned.len() - 1].clone()
                }
            };
            match strings.iter().position(|x| Arc::ptr_eq(x, &shared)) {
                Some(i) => i as u32,
                None => {
                    strings.push(shared);
                    (strings.len() - 1) as u32
                }
            }
        };
        let slots = slots
            .iter()
            .map(|(minute, calls, errors, lists)| {
                let [e, c, a] = lists.clone().map(|l| l.iter().map(|(s, n)| (index(s), *n)).collect());
                Slot {
                    api: 0,
                    minute: *minute,
                    tally: crate::count::MinuteTally {
                        calls: *calls,
                        errors: *errors,
                        by_error: e,
                        by_caller: c,
                        by_agent: a,
                    },
                }
            })
            .collect();
        Arc::new(FileValues { strings, slots })
    }

    /// Sum of the references to files, and whether the oldest file held is referred to.
    fn file_references(w: &MinuteWindow) -> (usize, usize, bool) {
        let held: u32 = w.files.iter().map(|f| f.1).sum();
        let minutes = w.minutes.iter().filter(|x| matches!(x.at, At::File { .. })).count();
        (held as usize, minutes, w.files.front().is_none_or(|f| f.1 > 0))
    }

    #[test]
    fn a_minute_from_one_file_reads_its_values_from_the_file_until_another_file_adds_to_it() {
        // Given a file with two minutes of one API
        let mut interned = vec![];
        let lists = |caller: &str, n: u32| {
            [
                vec![("AccessDenied".to_owned(), 1)],
                vec![(caller.to_owned(), n)],
                vec![("cli".to_owned(), n)],
            ]
        };
        let f1 = file_of(&mut interned, &[(7, 3, 1, lists("a", 3)), (8, 2, 1, lists("b", 2))]);
        let mut w = MinuteWindow::new(0);
        w.add(MinuteDelta::of_slot(&f1, 0).unwrap());
        w.add(MinuteDelta::of_slot(&f1, 1).unwrap());
        // Then both minutes refer to the file (one reference each), without copying values
        assert!(w.minutes.iter().all(|x| matches!(x.at, At::File { .. })));
        assert_eq!((w.values.len(), w.strings.len(), w.files.len()), (0, 0, 1));
        assert_eq!(Arc::strong_count(&f1), 2);
        let (_, a) = w.get(7).unwrap();
        assert_eq!(texts(a.by_caller()), vec![("a".to_owned(), 3)]);
        assert_eq!(w.sum_errors(8, 2, "AccessDenied"), (5, 2));
        // When a later file adds to minute 8
        let f2 = file_of(&mut interned, &[(8, 4, 0, [vec![], vec![("b".to_owned(), 4)], vec![]])]);
        w.add(MinuteDelta::of_slot(&f2, 0).unwrap());
        // Then minute 8 holds the merged values itself and no longer refers to either file
        let (c, a) = w.get(8).unwrap();
        assert_eq!((c.calls, c.errors), (6, 1));
        assert_eq!(texts(a.by_caller()), vec![("b".to_owned(), 6)]);
        assert_eq!(texts(a.by_agent()), vec![("cli".to_owned(), 2)]);
        assert_eq!(w.sum_errors(8, 2, "AccessDenied"), (9, 2));
        assert_eq!(file_references(&w), (1, 1, true));
        // And once minute 7 leaves the window, the first file is let go
        w.settled_before = 7 + HISTORY_MINUTES + 1;
        w.trim();
        assert_eq!(w.len(), 1);
        assert!(w.files.is_empty());
        assert_eq!((Arc::strong_count(&f1), Arc::strong_count(&f2)), (1, 1));
    }

    proptest::proptest! {
        /// Windows that refer to their files' values and windows that copy every value hold
        /// the same minutes, sums, codes and attributions, whatever the order of the files,
        /// the overlap of their minutes, the lengths of the lists (over the cap too) and the
        /// trims between them; and a window holds exactly the files its minutes refer to.
        #[test]
        fn referring_to_files_reads_the_same_as_copying_every_value(
            files in proptest::collection::vec(
                proptest::collection::vec(
                    (0i64..40, proptest::collection::vec((0usize..3, 0u8..12, 1u32..5), 0..30)),
                    1..6,
                ),
                1..40,
            ),
            trims in proptest::collection::vec(proptest::option::of(0i64..120), 40),
        ) {
            let names = ["AccessDenied", "arn:aws:iam::1:user/u", "agent/"];
            let mut interned = vec![];
            let mut by_ref = MinuteWindow::new(0);
            let mut by_copy = MinuteWindow::new(0);
            for (k, slots) in files.iter().enumerate() {
                let slots: Vec<_> = slots
                    .iter()
                    .map(|(minute, values)| {
                        let mut lists: [Vec<(String, u32)>; 3] = Default::default();
                        for (a, v, n) in values {
                            let text = format!("{}{v}", names[*a]);
                            match lists[*a].iter_mut().find(|e| e.0 == text) {
                                Some(e) => e.1 += n,
                                None => lists[*a].push((text, *n)),
                            }
                        }
                        let errors = lists[0].iter().map(|e| e.1).sum::<u32>();
                        let calls = errors + lists[1].iter().map(|e| e.1).sum::<u32>() + 1;
                        (*minute, calls, errors, lists)
                    })
                    .collect();
                let file = file_of(&mut interned, &slots);
                for slot in 0..file.slots.len() as u32 {
                    let d = MinuteDelta::of_slot(&file, slot).unwrap();
                    by_ref.add(d);
                    by_copy.add(MinuteDelta { file: None, ..d });
                }
                if let Some(Some(to)) = trims.get(k) {
                    for w in [&mut by_ref, &mut by_copy] {
                        w.settled_before = w.settled_before.max(*to);
                        w.trim();
                    }
                }
                proptest::prop_assert!(by_ref == by_copy);
                let (held, minutes, oldest_used) = file_references(&by_ref);
                proptest::prop_assert_eq!(held, minutes);
                proptest::prop_assert!(oldest_used);
            }
            for end in [10, 39, 60] {
                for code in (0..12).map(|v| format!("AccessDenied{v}")) {
                    proptest::prop_assert_eq!(by_ref.sum_errors(end, 30, &code), by_copy.sum_errors(end, 30, &code));
                }
                proptest::prop_assert_eq!(by_ref.codes(end, 30), by_copy.codes(end, 30));
                for a in 0..3 {
                    proptest::prop_assert_eq!(by_ref.attributions(end - 30, end, a), by_copy.attributions(end - 30, end, a));
                }
            }
        }
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
