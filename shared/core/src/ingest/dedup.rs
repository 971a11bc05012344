//! The window of eventIDs already counted, so a record delivered twice counts once.
//!
//! CloudTrail may deliver one record in more than one file, and the same file may be
//! delivered (or replayed) twice. IDs are kept by event minute and forgotten once they are
//! older than [`IdWindow::retention_minutes`] behind the newest minute seen; duplicates arrive
//! minutes apart, so a day of retention keeps the counts exact at a bounded memory cost.

use rustc_hash::{FxHashMap, FxHashSet};

/// Default retention: one day of event time.
pub const DEFAULT_RETENTION_MINUTES: i64 = 24 * 60;

/// A set of recently seen event ids, one small set per event minute: a record delivered
/// twice is the same record, with the same eventTime, so its id is looked up among the ids of
/// its own minute only. The sets of the minutes being delivered stay in cache, and expiring a
/// minute drops its set whole.
#[derive(Debug, Clone)]
pub struct IdWindow {
    by_minute: FxHashMap<i64, FxHashSet<u64>>,
    /// Ids in the newest minute's set when it was last inserted into: a new minute's set
    /// starts at about this size instead of growing through rehashes.
    typical: usize,
    /// Oldest minute that may still hold ids.
    oldest: i64,
    newest: i64,
    len: usize,
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
            by_minute: FxHashMap::default(),
            typical: 0,
            oldest: i64::MAX,
            newest: i64::MIN,
            len: 0,
            retention_minutes,
        }
    }

    /// Records `id` seen at `minute`; returns false when it had been seen already.
    pub fn insert(&mut self, id: u64, minute: i64) -> bool {
        let typical = self.typical;
        let ids = self
            .by_minute
            .entry(minute)
            .or_insert_with(|| FxHashSet::with_capacity_and_hasher(typical, Default::default()));
        if !ids.insert(id) {
            return false;
        }
        if minute >= self.newest {
            self.typical = ids.len();
        }
        self.len += 1;
        self.oldest = self.oldest.min(minute);
        self.newest = self.newest.max(minute);
        true
    }

    /// Whether `id` is in the window at `minute`.
    pub fn contains(&self, id: u64, minute: i64) -> bool {
        self.by_minute.get(&minute).is_some_and(|s| s.contains(&id))
    }

    /// Forgets ids older than the retention behind the newest minute.
    pub fn expire(&mut self) {
        let horizon = self.newest.saturating_sub(self.retention_minutes);
        if horizon <= self.oldest {
            return;
        }
        if horizon.saturating_sub(self.oldest) > 4 * self.by_minute.len() as i64 {
            // A long jump in time: one pass over the minutes held.
            let mut dropped = 0;
            self.by_minute.retain(|m, ids| {
                let keep = *m >= horizon;
                if !keep {
                    dropped += ids.len();
                }
                keep
            });
            self.len -= dropped;
        } else {
            for m in self.oldest..horizon {
                if let Some(ids) = self.by_minute.remove(&m) {
                    self.len -= ids.len();
                }
            }
        }
        self.oldest = horizon;
    }

    /// Number of ids held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no id is held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
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
    fn expiry_after_a_long_silence_keeps_only_the_recent_minutes() {
        // Given ids over two hours, then one a year later
        let mut w = IdWindow::new(60);
        for m in 0..120 {
            w.insert(m as u64, m);
        }
        w.expire();
        assert_eq!(w.len(), 61);
        w.insert(999, 525_600);
        // When expired
        w.expire();
        // Then only the newest id is held
        assert_eq!(w.len(), 1);
        assert!(w.contains(999, 525_600));
        assert!(w.insert(5, 5), "a forgotten id counts again");
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
        assert!(!w.contains(1, 0));
        assert!(w.contains(2, 61));
        assert_eq!(w.len(), 1);
    }
}
