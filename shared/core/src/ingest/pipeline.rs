//! The pipeline: merges counted files in delivery order, removes duplicates, runs detection
//! and the risky-change rules, and collects the events to emit.
//!
//! The same pipeline runs in `trailsight replay` and (through the store port) in the ingest
//! Lambda. Files are read and counted in parallel ([`crate::log::count::FileCounter`]); merging is
//! sequential and cheap: it grows with the distinct APIs and minutes of a file, plus one
//! hash-set probe per record for de-duplication.

use crate::api::ApiKey;
use crate::detect::{ApiId, ApiState, Detector, DetectorConfig, FileValues, MinuteDelta};
use crate::events::Envelope;
use crate::ingest::dedup::IdWindow;
use crate::log::count::{tally_add, FileBatch, StrId};
use crate::log::object_key::LogKey;
use crate::rules;
use crate::store::journal::{JournalEntry, JournalSlot};
use crate::store::ports::{MinuteCount, Snapshot, StreamKey, StreamSnapshot};
use rustc_hash::{FxHashMap, FxHashSet};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// Counters of a run: the replay's summary line, and the ingest function's metrics and backfill
/// summary (which also count deliveries: duplicates, events sent, failures).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, derive_more::AddAssign)]
pub struct Stats {
    /// Log files read and merged.
    pub files: u64,
    /// Records counted (duplicates excluded).
    pub records: u64,
    /// Records dropped because their eventID had been counted already.
    pub duplicates: u64,
    /// Files rejected as a whole.
    pub rejected_files: u64,
    /// Records rejected on their own.
    pub rejected_records: u64,
    /// Objects skipped (digests, Insights files, other objects).
    pub skipped_objects: u64,
    /// Insight Start events emitted.
    pub insights_started: u64,
    /// Insight End events emitted.
    pub insights_ended: u64,
    /// Risky-change events emitted.
    pub risky_changes: u64,
    /// Deliveries of an object already ingested (nothing read).
    pub duplicate_deliveries: u64,
    /// Events sent (new, or resent after a failed delivery).
    pub events_sent: u64,
    /// Objects whose ingest failed (retried later).
    pub failed_objects: u64,
}

impl Stats {
    /// Adds another part of the run (one file's counters) to these.
    pub fn add(&mut self, other: &Stats) {
        *self += other.clone();
    }
}

/// Calls and errors of one API over the whole run (for `--top`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApiTotals {
    /// Calls.
    pub calls: u64,
    /// Calls that returned an error.
    pub errors: u64,
}

/// Which stages run after counting. All of them in production; fewer only to measure their cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stages {
    /// Run the detector.
    pub detect: bool,
    /// Run the risky-change rules.
    pub rules: bool,
}

impl Default for Stages {
    fn default() -> Self {
        Stages { detect: true, rules: true }
    }
}

/// The in-order merge of counted files.
#[derive(Debug)]
pub struct Pipeline {
    stages: Stages,
    /// What the risky-change rules need to know (the exemption tag key).
    rule_settings: rules::RuleSettings,
    /// What the last `apply` changed, when tracking is on (store-backed runs).
    changes: Option<Changes>,
    seen: IdWindow,
    detector: Detector,
    /// Totals per API, with the API's detector handle (one lookup per API and file serves both).
    totals: FxHashMap<ApiKey, (ApiTotals, Option<ApiId>)>,
    stats: Stats,
    /// Attribution strings shared across files, so a caller seen in every file is one
    /// allocation and minutes compare its entries by pointer.
    strings: Interner,
}

impl Pipeline {
    /// A pipeline with the given detection settings and an empty state.
    pub fn new(config: DetectorConfig) -> Self {
        Self::with_stages(config, Stages::default())
    }

    /// A pipeline running only the given stages.
    pub fn with_stages(config: DetectorConfig, stages: Stages) -> Self {
        Pipeline {
            stages,
            rule_settings: rules::RuleSettings { exempt_tag_key: config.exempt_tag_key.clone() },
            changes: None,
            seen: IdWindow::default(),
            detector: Detector::new(config),
            totals: FxHashMap::default(),
            stats: Stats::default(),
            strings: Interner::default(),
        }
    }

    /// A pipeline over state loaded from a store, tracking what each file changes.
    pub fn restore(config: DetectorConfig, snapshot: &Snapshot) -> Self {
        let mut p = Self::new(config);
        p.changes = Some(Changes::default());
        for (key, s) in &snapshot.streams {
            p.detector.restore_stream(key.clone(), s.state.clone(), s.live.clone());
            for (id, minute) in &s.seen {
                p.seen.insert(*id, *minute);
            }
        }
        for (key, v) in &snapshot.apis {
            p.detector.restore_api(key.clone(), v.value.clone());
        }
        for (stream, entries) in &snapshot.journal {
            for entry in entries {
                p.replay(stream, entry);
            }
        }
        p
    }

    /// Applies a journal entry committed earlier (see [`crate::store::journal`]): the detector sees
    /// the same minutes and the same delivery time as when the file was applied, so its state
    /// ends up the same. Its events were emitted then and are dropped; counters are untouched.
    fn replay(&mut self, stream: &StreamKey, entry: &JournalEntry) {
        self.strings.prune();
        let shared: Vec<Arc<str>> = entry.strings.iter().map(|s| self.strings.get(s)).collect();
        let mut ids: Vec<Option<ApiId>> = vec![None; entry.apis.len()];
        for slot in &entry.slots {
            let Some(cached) = ids.get_mut(slot.api as usize) else {
                continue;
            };
            let id = match cached {
                Some(id) => *id,
                None => {
                    let (source, name) = &entry.apis[slot.api as usize];
                    let key = ApiKey {
                        account: stream.0.clone(),
                        region: stream.1.clone(),
                        event_source: source.clone(),
                        event_name: name.clone(),
                    };
                    *cached.insert(self.detector.api_id(&key))
                }
            };
            let delta = MinuteDelta {
                minute: slot.minute,
                calls: slot.calls,
                errors: slot.errors,
                strings: &shared,
                lists: [&slot.by_error, &slot.by_caller, &slot.by_agent],
                file: None,
            };
            self.detector.observe_id(id, delta);
        }
        drop(self.detector.advance(&stream.0, &stream.1, entry.delivered));
    }

    /// Every API state the pipeline holds (loaded, replayed or created by its files).
    pub fn api_states(&self) -> impl Iterator<Item = (&ApiKey, &ApiState)> + '_ {
        self.detector.api_states()
    }

    /// What the last [`Pipeline::apply`] changed (only after [`Pipeline::restore`]).
    pub fn changes(&self) -> Option<&Changes> {
        self.changes.as_ref()
    }

    /// The detector's state of one API.
    pub fn api_state(&self, key: &ApiKey) -> Option<&ApiState> {
        self.detector.api(key)
    }

    /// A stream's state, live APIs, and the eventIDs to remember for it.
    pub fn stream_snapshot(&self, key: &StreamKey, loaded: Option<&StreamSnapshot>) -> StreamSnapshot {
        let (state, live) = self.detector.stream(key);
        let mut seen: Vec<(u64, i64)> = loaded.map(|s| s.seen.clone()).unwrap_or_default();
        if let Some(new) = self.changes.as_ref().and_then(|c| c.new_ids.get(key)) {
            seen.extend(new.iter().copied());
        }
        let newest = seen.iter().map(|s| s.1).max().unwrap_or(0);
        seen.retain(|s| s.1 >= newest - self.seen.retention_minutes);
        StreamSnapshot { state: state.cloned(), live, seen, version: loaded.map_or(0, |s| s.version) }
    }

    /// The run's counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Mutable counters, for callers that count skipped or rejected objects.
    pub fn stats_mut(&mut self) -> &mut Stats {
        &mut self.stats
    }

    /// Calls and errors per API so far.
    pub fn totals(&self) -> impl Iterator<Item = (&ApiKey, &ApiTotals)> + '_ {
        self.totals.iter().map(|(k, (t, _))| (k, t))
    }

    /// The detector, for inspection.
    pub fn detector(&self) -> &Detector {
        &self.detector
    }

    /// Records what a file changes (its minute counts, APIs, streams and journal entries) for
    /// the store's commit, when the pipeline keeps changes.
    fn record_changes(&mut self, key: Option<&LogKey>, batch: &FileBatch) {
        let Some(c) = self.changes.as_mut() else {
            return;
        };
        for slot in batch.slots.iter().filter(|s| s.tally.calls > 0) {
            let api = &batch.apis[slot.api as usize];
            c.apis.insert(api.clone());
            c.streams.insert((api.account.clone(), api.region.clone()));
            c.counts.push(MinuteCount {
                api: api.clone(),
                minute: slot.minute,
                calls: u64::from(slot.tally.calls),
                errors: u64::from(slot.tally.errors),
            });
        }
        if let Some(k) = key {
            c.streams.insert((k.account.clone(), k.region.clone()));
        }
        c.journal = journal_entries(key, batch);
    }

    /// The risky-change events of a file's candidate records; a candidate counts once, as the
    /// first copy whose id was new in this file (`fresh`).
    fn risky_changes(&mut self, batch: &FileBatch, fresh: &mut FxHashSet<u64>) -> Vec<Envelope> {
        let mut events = Vec::new();
        for c in &batch.candidates {
            if c.id != 0 && !fresh.remove(&c.id) {
                continue;
            }
            let Ok(record) = serde_json::from_str::<serde_json::Value>(&c.raw) else {
                continue;
            };
            for finding in rules::evaluate_with(&record, &self.rule_settings) {
                events.push(rules::risky_change_event(&record, &finding));
                self.stats.risky_changes += 1;
            }
        }
        events
    }

    /// Merges one whole file and returns the events it causes, in time order.
    ///
    /// `key` is the file's parsed key when it has one: its delivery time drives the detector's
    /// notion of which minutes are complete.
    pub fn apply(&mut self, key: Option<&LogKey>, mut batch: FileBatch) -> Vec<Envelope> {
        if let Some(c) = self.changes.as_mut() {
            *c = Changes::default();
        }
        let (duplicates, mut fresh) = self.remove_duplicates(&mut batch);
        self.record_changes(key, &batch);
        self.stats.files += 1;
        self.stats.records += batch.records.saturating_sub(duplicates);
        self.stats.duplicates += duplicates;
        self.stats.rejected_records += batch.rejected;

        let mut events = if self.stages.rules { self.risky_changes(&batch, &mut fresh) } else { Vec::new() };

        // Accounts and regions of the file, gathered per API (few) rather than per slot (many).
        let mut streams: BTreeSet<(&str, &str)> = BTreeSet::new();
        // The file's strings, shared by every minute that names them (one allocation each).
        let shared: Vec<Arc<str>> = if self.stages.detect {
            self.strings.prune();
            batch.strings.iter().map(|s| self.strings.get(s)).collect()
        } else {
            vec![]
        };
        // Calls and errors per API of the file, then one lookup per API (not per minute) for
        // its totals and its detector handle.
        let mut sums = vec![(0u64, 0u64); batch.apis.len()];
        for slot in batch.slots.iter().filter(|s| s.tally.calls > 0) {
            if let Some(s) = sums.get_mut(slot.api as usize) {
                s.0 += u64::from(slot.tally.calls);
                s.1 += u64::from(slot.tally.errors);
            }
        }
        let mut ids: Vec<Option<ApiId>> = vec![None; batch.apis.len()];
        for ((api, (calls, errors)), id) in batch.apis.iter().zip(&sums).zip(ids.iter_mut()) {
            if *calls == 0 {
                continue;
            }
            let entry = match self.totals.get_mut(api) {
                Some(e) => e,
                None => self.totals.entry(api.clone()).or_default(),
            };
            entry.0.calls += calls;
            entry.0.errors += errors;
            if self.stages.detect {
                *id = Some(*entry.1.get_or_insert_with(|| self.detector.api_id(api)));
            }
        }
        if self.stages.detect {
            // The file's counts, kept by the windows whose minutes refer to them.
            let file = Arc::new(FileValues { strings: shared, slots: std::mem::take(&mut batch.slots) });
            for (i, slot) in file.slots.iter().enumerate().filter(|(_, s)| s.tally.calls > 0) {
                let delta = MinuteDelta::of_slot(&file, i as u32);
                if let (Some(Some(id)), Some(delta)) = (ids.get(slot.api as usize), delta) {
                    self.detector.observe_id(*id, delta);
                }
            }
            streams.extend(batch.apis.iter().map(|a| (a.account.as_str(), a.region.as_str())));
            if let Some(k) = key {
                streams.insert((k.account.as_str(), k.region.as_str()));
            }
        }
        let delivered = key.map(|k| k.delivered.timestamp().div_euclid(60));
        for (account, region) in streams {
            let insights = self.detector.advance(account, region, delivered);
            for e in &insights {
                match e.state() {
                    Some("Start") => self.stats.insights_started += 1,
                    Some("End") => self.stats.insights_ended += 1,
                    _ => {}
                }
            }
            events.extend(insights);
        }
        events.sort_by(|a, b| a.time.cmp(&b.time));
        self.seen.expire();
        events
    }

    /// Takes duplicate records back out of the batch. Returns how many there were, and the
    /// ids of rule candidates that were new (so each is evaluated once).
    fn remove_duplicates(&mut self, batch: &mut FileBatch) -> (u64, FxHashSet<u64>) {
        let candidates: FxHashSet<u64> = batch.candidates.iter().map(|c| c.id).filter(|&id| id != 0).collect();
        let mut fresh = FxHashSet::default();
        let mut duplicates = 0;
        for r in &batch.refs {
            let slot = &mut batch.slots[r.slot as usize];
            if self.seen.insert(r.id, slot.minute) {
                if candidates.contains(&r.id) {
                    fresh.insert(r.id);
                }
                if let Some(c) = self.changes.as_mut() {
                    let api = &batch.apis[slot.api as usize];
                    let key = (api.account.clone(), api.region.clone());
                    c.new_ids.entry(key).or_default().push((r.id, slot.minute));
                }
            } else {
                duplicates += 1;
                tally_add(&mut slot.tally, r.error, r.caller, r.agent, -1);
            }
        }
        (duplicates, fresh)
    }
}

/// What one file changed: the streams and APIs to write back, the counts to add and the
/// eventIDs to remember.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Changes {
    /// Accounts and regions the file touched.
    pub streams: BTreeSet<StreamKey>,
    /// APIs the file had calls for.
    pub apis: BTreeSet<ApiKey>,
    /// Calls and errors per API and minute (duplicates removed).
    pub counts: Vec<MinuteCount>,
    /// New eventIDs per stream.
    pub new_ids: BTreeMap<StreamKey, Vec<(u64, i64)>>,
    /// What the file applied to each stream it advanced (see [`crate::store::journal`]).
    pub journal: BTreeMap<StreamKey, JournalEntry>,
}

/// The journal entries of a de-duplicated batch: one per stream the file advances (its APIs'
/// accounts and regions and the key's, even without calls left), holding its slots with
/// calls, in batch order (the order [`Pipeline::apply`] observes them).
fn journal_entries(key: Option<&LogKey>, batch: &FileBatch) -> BTreeMap<StreamKey, JournalEntry> {
    let delivered = key.map(|k| k.delivered.timestamp().div_euclid(60));
    let mut out: BTreeMap<StreamKey, JournalEntry> = batch
        .apis
        .iter()
        .map(|a| (a.account.clone(), a.region.clone()))
        .chain(key.map(|k| (k.account.clone(), k.region.clone())))
        .map(|s| (s, JournalEntry { delivered, ..JournalEntry::default() }))
        .collect();
    // Per stream: batch API index -> entry API index, batch string id -> entry string index.
    let mut api_maps: BTreeMap<StreamKey, FxHashMap<u32, u32>> = BTreeMap::new();
    let mut string_maps: BTreeMap<StreamKey, FxHashMap<StrId, u32>> = BTreeMap::new();
    for slot in batch.slots.iter().filter(|s| s.tally.calls > 0) {
        let Some(api) = batch.apis.get(slot.api as usize) else {
            continue;
        };
        let stream = (api.account.clone(), api.region.clone());
        let Some(entry) = out.get_mut(&stream) else {
            continue;
        };
        let apis = api_maps.entry(stream.clone()).or_default();
        let index = *apis.entry(slot.api).or_insert_with(|| {
            entry.apis.push((api.event_source.clone(), api.event_name.clone()));
            (entry.apis.len() - 1) as u32
        });
        let strings = string_maps.entry(stream).or_default();
        let mut map = |list: &[(StrId, u32)]| -> Vec<(u32, u32)> {
            list.iter()
                .filter_map(|(id, n)| {
                    let text = batch.strings.get(*id as usize)?;
                    let i = *strings.entry(*id).or_insert_with(|| {
                        entry.strings.push(text.clone());
                        (entry.strings.len() - 1) as u32
                    });
                    Some((i, *n))
                })
                .collect()
        };
        let (by_error, by_caller, by_agent) =
            (map(&slot.tally.by_error), map(&slot.tally.by_caller), map(&slot.tally.by_agent));
        entry.slots.push(JournalSlot {
            api: index,
            minute: slot.minute,
            calls: slot.tally.calls,
            errors: slot.tally.errors,
            by_error,
            by_caller,
            by_agent,
        });
    }
    out
}

/// A set of shared strings. Entries nobody else holds any more are dropped once the set has
/// doubled since the last pruning, so it stays proportional to the strings in use.
#[derive(Debug, Default)]
struct Interner {
    set: FxHashSet<Arc<str>>,
    prune_at: usize,
}

impl Interner {
    const MIN_PRUNE: usize = 4096;

    /// The shared copy of `s`.
    fn get(&mut self, s: &str) -> Arc<str> {
        if let Some(a) = self.set.get(s) {
            return a.clone();
        }
        let a: Arc<str> = Arc::from(s);
        self.set.insert(a.clone());
        a
    }

    /// Drops the strings only the set holds, when it has grown enough to be worth a pass.
    fn prune(&mut self) {
        if self.set.len() < self.prune_at.max(Self::MIN_PRUNE) {
            return;
        }
        self.set.retain(|a| Arc::strong_count(a) > 1);
        self.prune_at = 2 * self.set.len();
    }
}
