//! The detector: per-API baselines, and the insight lifecycle (one Start, then one End).
//!
//! Data arrives file by file. Each file adds calls to recent minutes ([`Detector::observe`]);
//! then [`Detector::advance`] evaluates, for every API of the account and region:
//! - **Start** on open and complete minutes alike: a window (1, 5, 15 or 30 minutes) whose
//!   calls, or whose errors of one errorCode, are improbable under the baseline (a tail
//!   probability below `p_value`) and clearly beyond it (ratio and burst-memory gates). Counts
//!   only grow as late records arrive, so an open minute can show a rise but never a false drop.
//! - **End** and **learning** only on complete minutes: a minute is complete once the newest
//!   file of its account and region was delivered `settle_minutes` after it.

mod config;
mod evaluate;
mod insight;
mod model;
mod tail;
mod window;

pub use config::{ConfigError, DetectorConfig, Overrides, Thresholds};
pub use insight::{minute_time, shared_event_id, Attribution, InsightKind, InsightRecord, Verdict};
pub use model::{ApiModel, WINDOWS};
pub use window::{
    add_capped, add_capped_shared, MinuteData, MinuteWindow, Recent, HISTORY_MINUTES, MINUTE_ATTRIBUTION_CAP,
};

use crate::count::ApiKey;
use crate::events::Envelope;
use evaluate::Eval;
use rustc_hash::{FxHashMap, FxHashSet};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Window multipliers of `min_calls` for the windows of [`WINDOWS`].
const MIN_CALLS_SCALE: [f64; 5] = [1.0, 2.5, 4.0, 4.0, 4.0];
/// Silence after which an account and region warm up again.
const STALE_MINUTES: i64 = 7 * 1440;
/// Baseline period reported in records (7 days).
const BASELINE_MAX_MINUTES: i64 = 10_080;

/// New counts for one API and minute, with attribution strings borrowed from the batch.
#[derive(Debug, Clone, Default)]
pub struct MinuteDelta {
    /// Minutes since the epoch.
    pub minute: i64,
    /// Calls.
    pub calls: u32,
    /// Calls with an errorCode.
    pub errors: u32,
    /// Errors per code.
    pub by_error: Vec<(std::sync::Arc<str>, u32)>,
    /// Calls per caller.
    pub by_caller: Vec<(std::sync::Arc<str>, u32)>,
    /// Calls per user agent.
    pub by_agent: Vec<(std::sync::Arc<str>, u32)>,
}

/// An insight that has started and not ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActiveInsight {
    /// Call rate or error rate (with its code).
    pub kind: InsightKind,
    /// First minute.
    pub start: i64,
    /// The verdict that started it.
    pub verdict: Verdict,
    /// Baseline average per minute at the start.
    pub baseline_average: f64,
    /// Baseline attributions at the start.
    pub baseline_attributions: [Attribution; 3],
    /// Minutes of baseline at the start.
    pub baseline_minutes: i64,
    /// Calls (or errors) counted over complete minutes up to the current quiet run.
    pub observed: f64,
    /// Calls (or errors) in the current run of quiet minutes.
    pub quiet_observed: f64,
    /// Consecutive normal complete minutes.
    pub quiet: i64,
    /// Last complete minute beyond the baseline on its own.
    #[serde(default)]
    pub last_hot: i64,
    /// Attributions over the insight so far (complete minutes).
    pub attributions: [Vec<(String, u32)>; 3],
    /// Minute up to which attributions were accumulated (exclusive).
    pub attributed_to: i64,
}

/// Everything the detector keeps for one API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiState {
    /// The learned baseline.
    pub model: ApiModel,
    /// Recent minutes.
    pub window: MinuteWindow,
    /// Insights in progress.
    pub active: Vec<ActiveInsight>,
    /// Last End minute per insight kind (no new Start at or before it).
    pub ended: Vec<(InsightKind, i64)>,
    /// Calls and expectations of the newest complete minutes (rebuilt when missing).
    #[serde(skip)]
    pub recent: Recent,
}

impl ApiState {
    /// A fresh state learning from `since`.
    pub fn new(since: i64) -> Self {
        ApiState {
            model: ApiModel::new(since),
            window: MinuteWindow {
                settled_before: since,
                ..MinuteWindow::default()
            },
            active: vec![],
            ended: vec![],
            recent: Recent::default(),
        }
    }

    fn is_active(&self, kind: &InsightKind) -> bool {
        self.active.iter().any(|a| &a.kind == kind)
    }

    fn last_end(&self, kind: &InsightKind) -> i64 {
        self.ended
            .iter()
            .filter(|e| &e.0 == kind)
            .map(|e| e.1)
            .max()
            .unwrap_or(i64::MIN)
    }
}

/// Time bookkeeping of one account and region.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StreamState {
    /// First minute any data was seen (history starts here).
    pub first_minute: i64,
    /// Newest delivery minute (or newest event minute + 5 without delivery times).
    pub watermark: i64,
    /// Newest event minute seen.
    pub newest_event: i64,
}

/// The detector for all APIs of all accounts and regions.
#[derive(Debug)]
pub struct Detector {
    config: DetectorConfig,
    /// Per account, then region (nested so lookups by `&str` allocate nothing).
    streams: BTreeMap<String, BTreeMap<String, StreamState>>,
    apis: FxHashMap<ApiKey, ApiState>,
    live: BTreeMap<String, BTreeMap<String, BTreeSet<ApiKey>>>,
    /// APIs with new data since their last Start evaluation.
    dirty: FxHashSet<ApiKey>,
}

impl Detector {
    /// A detector with no history.
    pub fn new(config: DetectorConfig) -> Self {
        Detector {
            config,
            streams: BTreeMap::new(),
            apis: FxHashMap::default(),
            live: BTreeMap::new(),
            dirty: FxHashSet::default(),
        }
    }

    /// The state of one API, if it has been seen.
    pub fn api(&self, key: &ApiKey) -> Option<&ApiState> {
        self.apis.get(key)
    }

    /// An account and region's time bookkeeping and live APIs.
    pub fn stream(&self, key: &(String, String)) -> (Option<&StreamState>, BTreeSet<ApiKey>) {
        (
            self.streams.get(&key.0).and_then(|r| r.get(&key.1)),
            self.live
                .get(&key.0)
                .and_then(|r| r.get(&key.1))
                .cloned()
                .unwrap_or_default(),
        )
    }

    /// Puts back a stream's state loaded from a store.
    pub fn restore_stream(&mut self, key: (String, String), state: Option<StreamState>, live: BTreeSet<ApiKey>) {
        if let Some(state) = state {
            self.streams
                .entry(key.0.clone())
                .or_default()
                .insert(key.1.clone(), state);
        }
        if !live.is_empty() {
            self.live.entry(key.0).or_default().insert(key.1, live);
        }
    }

    /// Puts back an API's state loaded from a store.
    pub fn restore_api(&mut self, key: ApiKey, state: ApiState) {
        self.apis.insert(key, state);
    }

    /// Adds one minute's new counts of one API. The delta's attribution lists move into a
    /// minute seen for the first time (the usual case) instead of being copied.
    pub fn observe(&mut self, api: &ApiKey, d: MinuteDelta) {
        let regions = match self.streams.get_mut(&api.account) {
            Some(r) => r,
            None => self.streams.entry(api.account.clone()).or_default(),
        };
        let stream = match regions.get_mut(&api.region) {
            Some(s) => s,
            None => regions.entry(api.region.clone()).or_insert_with(|| StreamState {
                first_minute: d.minute,
                watermark: i64::MIN,
                newest_event: d.minute,
            }),
        };
        if d.minute - stream.newest_event > STALE_MINUTES {
            // After a week of silence the history is stale: warm up again.
            stream.first_minute = d.minute;
        }
        stream.first_minute = stream.first_minute.min(d.minute);
        stream.newest_event = stream.newest_event.max(d.minute);
        let first = stream.first_minute;
        let state = match self.apis.get_mut(api) {
            Some(s) => s,
            None => self
                .apis
                .entry(api.clone())
                .or_insert_with(|| ApiState::new(first.min(d.minute))),
        };
        match state.window.minutes.entry(d.minute) {
            std::collections::btree_map::Entry::Vacant(v) => {
                let cap = |mut list: Vec<(std::sync::Arc<str>, u32)>| {
                    add_capped_shared(&mut list, &[], MINUTE_ATTRIBUTION_CAP);
                    list
                };
                v.insert(MinuteData {
                    calls: d.calls,
                    errors: d.errors,
                    by_error: cap(d.by_error),
                    by_caller: cap(d.by_caller),
                    by_agent: cap(d.by_agent),
                });
            }
            std::collections::btree_map::Entry::Occupied(mut o) => {
                let m = o.get_mut();
                m.calls += d.calls;
                m.errors += d.errors;
                add_capped_shared(&mut m.by_error, &d.by_error, MINUTE_ATTRIBUTION_CAP);
                add_capped_shared(&mut m.by_caller, &d.by_caller, MINUTE_ATTRIBUTION_CAP);
                add_capped_shared(&mut m.by_agent, &d.by_agent, MINUTE_ATTRIBUTION_CAP);
            }
        }
        // An API already marked dirty since the last evaluation is already live: the live set
        // (ordered, compared by strings) is searched once per API and file, not per minute.
        if !self.dirty.contains(api) {
            self.dirty.insert(api.clone());
            let live = match self.live.get_mut(&api.account) {
                Some(r) => r,
                None => self.live.entry(api.account.clone()).or_default(),
            };
            let set = match live.get_mut(&api.region) {
                Some(s) => s,
                None => live.entry(api.region.clone()).or_default(),
            };
            if !set.contains(api) {
                set.insert(api.clone());
            }
        }
    }

    /// Evaluates every live API of one account and region after a file; `delivered` is the
    /// file's delivery minute. Returns the insight events (Starts and Ends).
    pub fn advance(&mut self, account: &str, region: &str, delivered: Option<i64>) -> Vec<Envelope> {
        let Some(stream) = self.streams.get_mut(account).and_then(|r| r.get_mut(region)) else {
            return vec![];
        };
        let mark = delivered.unwrap_or(stream.newest_event + 5);
        stream.watermark = stream.watermark.max(mark);
        let stream = stream.clone();
        let settle_before = stream.watermark - self.config.settle_minutes;
        let Some(live) = self.live.get_mut(account).and_then(|r| r.get_mut(region)) else {
            return vec![];
        };
        let mut events = vec![];
        let mut done = vec![];
        for api in live.iter() {
            let Some(state) = self.apis.get_mut(api) else {
                done.push(api.clone());
                continue;
            };
            let t = self.config.thresholds(&api.event_source, &api.event_name);
            let eval = Eval {
                api,
                t: &t,
                config: &self.config,
                stream: &stream,
                detected_at: stream.watermark,
            };
            // Only new data can raise a window: APIs without any are not re-tested for a Start.
            if self.dirty.remove(api) && t.enabled {
                eval.starts(state, &mut events);
            }
            eval.settle(state, settle_before, &mut events);
            state.window.trim();
            let open = state
                .window
                .minutes
                .range(state.window.settled_before..)
                .next()
                .is_some();
            if !open && state.active.is_empty() {
                done.push(api.clone());
            }
        }
        for api in done {
            live.remove(&api);
        }
        events
    }
}

#[cfg(test)]
mod tests;
