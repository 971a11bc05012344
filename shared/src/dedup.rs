//! The window of eventIDs already counted, so a record delivered twice counts once.
//!
//! CloudTrail may deliver one record in more than one file, and the same file may be
//! delivered (or replayed) twice. IDs are kept by event minute and forgotten once they are
//! older than [`IdWindow::retention_minutes`] behind the newest minute seen; duplicates arrive
//! minutes apart, so a day of retention keeps the counts exact at a bounded memory cost.

use rustc_hash::FxHashSet;
use std::collections::BTreeMap;

/// Default retention: one day of event time.
pub const DEFAULT_RETENTION_MINUTES: i64 = 24 * 60;

/// A set of recently seen event ids.
#[derive(Debug, Clone)]
pub struct IdWindow {
    ids: FxHashSet<u64>,
    by_minute: BTreeMap<i64, Vec<u64>>,
    /// Ids of the minute being filled, moved into `by_minute` when the minute changes
    /// (records come mostly in time order: one map operation per minute, not per record).
    pending: (i64, Vec<u64>),
    newest: i64,
    /// How far behind the newest minute ids are kept.
    pub retention_minutes: i64,
}

impl Default for IdWindow {
    fn default() -> Self {
        IdWindow::new(DEFAULT_RETENTION_MINUTES)
    }
}

impl IdWindow {
    /// An empty window keeping ids for `retention_minutes` of event time.
    pub fn new(retention_minutes: i64) -> Self {
        IdWindow {
            ids: FxHashSet::default(),
            by_minute: BTreeMap::new(),
            pending: (i64::MIN, Vec::new()),
            newest: i64::MIN,
            retention_minutes,
        }
    }

    /// Records `id` seen at `minute`; returns false when it had been seen already.
    pub fn insert(&mut self, id: u64, minute: i64) -> bool {
        if !self.ids.insert(id) {
            return false;
        }
        if self.pending.0 != minute {
            self.flush();
            self.pending.0 = minute;
        }
        self.pending.1.push(id);
        if minute > self.newest {
            self.newest = minute;
        }
        true
    }

    /// Whether `id` is in the window.
    pub fn contains(&self, id: u64) -> bool {
        self.ids.contains(&id)
    }

    fn flush(&mut self) {
        if !self.pending.1.is_empty() {
            let ids = std::mem::take(&mut self.pending.1);
            self.by_minute.entry(self.pending.0).or_default().extend(ids);
        }
    }

    /// Forgets ids older than the retention behind the newest minute.
    pub fn expire(&mut self) {
        self.flush();
        let horizon = self.newest.saturating_sub(self.retention_minutes);
        while let Some(entry) = self.by_minute.first_entry() {
            if *entry.key() >= horizon {
                break;
            }
            for id in entry.remove() {
                self.ids.remove(&id);
            }
        }
    }

    /// Number of ids held.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether no id is held.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_seen_twice_is_a_duplicate() {
        let mut w = IdWindow::default();
        assert!(w.insert(7, 100));
        assert!(!w.insert(7, 100));
    }

    #[test]
    fn ids_older_than_the_retention_are_forgotten() {
        // Given an id at minute 0 and a newer one past the retention
        let mut w = IdWindow::new(60);
        w.insert(1, 0);
        w.insert(2, 61);
        // When expired
        w.expire();
        // Then only the recent one is kept
        assert!(!w.contains(1));
        assert!(w.contains(2));
        assert_eq!(w.len(), 1);
    }
}
