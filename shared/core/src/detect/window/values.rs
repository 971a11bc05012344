//! What a window takes in and gives out: a file's counts of one API and minute
//! ([`MinuteDelta`], [`FileValues`]), and a minute's attribution values as read
//! ([`MinuteAttributions`], [`Values`]).

use crate::log::count::Slot;
use std::sync::Arc;

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

/// The attribution values of one minute, read from its window: `(string, calls)` per error
/// code, caller and user agent, each list capped at [`MINUTE_ATTRIBUTION_CAP`].
#[derive(Debug, Clone, Copy, Default)]
pub struct MinuteAttributions<'a> {
    /// Error codes, callers and user agents, as `(index into strings, calls)`.
    pub(super) lists: [&'a [(u32, u32)]; 3],
    /// The strings they index.
    pub(super) strings: &'a [Arc<str>],
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
        Values { items: self.lists[attribute].iter(), strings: self.strings }
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
    pub(super) fn errors_of(&self, code: &str) -> u64 {
        self.lists[0]
            .iter()
            .filter(|(s, _)| self.strings.get(*s as usize).is_some_and(|x| &**x == code))
            .map(|e| u64::from(e.1))
            .sum()
    }
}
