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

mod stored;
mod values;

pub use stored::{Attributions, MinuteData};
pub use values::{FileValues, MinuteAttributions, MinuteDelta, Values};

use super::strings::StringTable;
use serde::{Deserialize, Serialize};
use smallvec::SmallVec;
use std::collections::VecDeque;
use std::sync::Arc;

/// Attribution values kept per minute and attribute.
pub const MINUTE_ATTRIBUTION_CAP: usize = 8;
/// Minutes of history kept behind the newest settled minute (the longest window).
pub const HISTORY_MINUTES: i64 = 60;

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
#[serde(from = "stored::WindowRepr", into = "stored::WindowRepr")]
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

impl MinuteWindow {
    /// An empty window whose minutes before `settled_before` count as complete.
    pub fn new(settled_before: i64) -> Self {
        MinuteWindow { settled_before, ..MinuteWindow::default() }
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
                    Some((f, t)) => {
                        MinuteAttributions { lists: [&t.by_error, &t.by_caller, &t.by_agent], strings: &f.strings }
                    }
                    None => MinuteAttributions::default(),
                }
            }
        }
    }

    /// The file numbered `number`.
    fn file(&self, number: u32) -> Option<&Arc<FileValues>> {
        self.files.get(number.checked_sub(self.first_file)? as usize).map(|f| &f.0)
    }

    /// The number of `file` for one more minute referring to it (added when it is not the
    /// newest file held).
    fn file_number(&mut self, file: &Arc<FileValues>) -> u32 {
        match self.files.back_mut() {
            Some((f, refs)) if Arc::ptr_eq(f, file) => *refs += 1,
            _ => self.files.push_back((file.clone(), 1)),
        }
        self.first_file.saturating_add(self.files.len().saturating_sub(1) as u32)
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
        Some((self.minutes.get(position)?.count, self.attributions_of(&self.minutes.get(position)?.at)))
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
        self.minutes.range(lo..hi).map(|x| (&x.count, self.attributions_of(&x.at)))
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
            Some((file, slot)) if d.lists.iter().all(|l| l.len() <= MINUTE_ATTRIBUTION_CAP) => {
                At::File { file: self.file_number(file), slot }
            }
            _ => At::Values(self.push_delta(&d)),
        };
        let count = Count { minute, calls: d.calls, errors: d.errors };
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
            self.values.extend_from_slice(had.get(bounds[a]..bounds[a + 1]).unwrap_or_default());
            for (s, n) in more {
                match self.values.get_mut(from..).and_then(|l| l.iter_mut().find(|e| e.0 == s)) {
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
            x.at = At::Values(Span { start: start as u32, ends });
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
        Span { start: start as u32, ends }
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
            let codes = self.values.get(start..start + usize::from(s.ends[0])).unwrap_or_default();
            errors += codes.iter().filter(|e| e.0 == code).map(|e| u64::from(e.1)).sum::<u64>();
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
mod tests;
