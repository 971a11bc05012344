//! The distinct attribution strings of one API's recent minutes, each with a small index, so
//! minutes store indexes instead of pointers. The strings are the file's shared copies, so a
//! lookup usually matches by address before reading any text.

use rustc_hash::FxHashMap;
use std::cmp::Ordering;
use std::sync::Arc;

/// Tables larger than this are searched through a hash map instead of a scan.
const SMALL_TABLE: usize = 16;

/// The distinct attribution strings of one window, each with its index.
#[derive(Debug, Clone, Default)]
pub(super) struct StringTable {
    strings: Vec<Arc<str>>,
    /// The address of each string's bytes: small tables are searched by identity in this
    /// dense array (eight to a cache line) before any string is read.
    addrs: Vec<usize>,
    /// Index by content, once the table is larger than [`SMALL_TABLE`].
    by_text: FxHashMap<Arc<str>, u32>,
}

impl StringTable {
    /// The index of `s`, added when new.
    pub(super) fn intern(&mut self, s: &Arc<str>) -> u32 {
        let addr = s.as_ptr() as usize;
        if !self.is_large() {
            if let Some(i) = self.addrs.iter().position(|a| *a == addr) {
                return i as u32;
            }
            let same = self.strings.iter().position(|x| x.len() == s.len() && **x == **s);
            if let Some(i) = same {
                // The same text in another copy (one loaded from a store): keep the shared
                // copy, so later lookups match by address.
                if let (Some(x), Some(a)) = (self.strings.get_mut(i), self.addrs.get_mut(i)) {
                    *x = s.clone();
                    *a = addr;
                }
                return i as u32;
            }
        } else if let Some(i) = self.by_text.get(&**s) {
            return *i;
        }
        self.push(s.clone())
    }

    /// Adds a string known to be new, returning its index.
    pub(super) fn push(&mut self, s: Arc<str>) -> u32 {
        let i = self.strings.len() as u32;
        self.addrs.push(s.as_ptr() as usize);
        self.strings.push(s.clone());
        if self.is_large() {
            if self.by_text.is_empty() {
                self.by_text = self.strings.iter().cloned().zip(0..).collect();
            } else {
                self.by_text.insert(s, i);
            }
        }
        i
    }

    /// The index of the text `s`, when the table has it.
    pub(super) fn find(&self, s: &str) -> Option<u32> {
        if self.is_large() {
            self.by_text.get(s).copied()
        } else {
            self.strings.iter().position(|x| &**x == s).map(|i| i as u32)
        }
    }

    /// The strings, by index.
    pub(super) fn as_slice(&self) -> &[Arc<str>] {
        &self.strings
    }

    /// Strings held.
    pub(super) fn len(&self) -> usize {
        self.strings.len()
    }

    /// Whether the table is searched through its hash map.
    pub(super) fn is_large(&self) -> bool {
        self.strings.len() > SMALL_TABLE
    }

    fn text(&self, i: u32) -> &str {
        self.strings.get(i as usize).map_or("", |s| s)
    }

    /// Orders two values `(index, calls)` for capping: more calls first, then by text.
    pub(super) fn by_calls(&self, a: &(u32, u32), b: &(u32, u32)) -> Ordering {
        b.1.cmp(&a.1).then_with(|| self.text(a.0).cmp(self.text(b.0)))
    }
}
