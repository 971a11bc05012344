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

mod chart;
mod config;
mod evaluate;
mod insight;
mod model;
mod recent;
mod spikes;
mod strings;
mod tail;
mod window;

pub use chart::{Band, Chart, ChartLog, ChartPoint, Seen, CHART_AFTER_MINUTES, CHART_BEFORE_MINUTES};
pub use config::{ConfigError, DetectorConfig, Thresholds};
pub use insight::{minute_time, shared_event_id, Attribution, InsightKind, InsightRecord, Verdict};
pub use model::{ApiModel, Expectation, WINDOWS};
pub use recent::Recent;
pub use spikes::{DaySpike, DaySpikes};
pub use window::{
    add_capped, Attributions, Count, FileValues, MinuteAttributions, MinuteData, MinuteDelta, MinuteWindow, Values,
    HISTORY_MINUTES, MINUTE_ATTRIBUTION_CAP,
};

use crate::api::ApiKey;
use crate::events::Envelope;
use evaluate::Eval;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Window multipliers of `min_calls` for the windows of [`WINDOWS`].
const MIN_CALLS_SCALE: [f64; 5] = [1.0, 2.5, 4.0, 4.0, 4.0];
/// Silence after which an account and region warm up again.
const STALE_MINUTES: i64 = 7 * 1440;
/// Baseline period reported in records (7 days).
const BASELINE_MAX_MINUTES: i64 = 10_080;

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
    /// What the detector saw around insights, when recording (see [`ChartLog`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub charts: Option<Box<ChartLog>>,
}

impl ApiState {
    /// A fresh state learning from `since`.
    pub fn new(since: i64) -> Self {
        ApiState {
            model: ApiModel::new(since),
            window: MinuteWindow::new(since),
            active: vec![],
            ended: vec![],
            recent: Recent::default(),
            charts: None,
        }
    }

    fn is_active(&self, kind: &InsightKind) -> bool {
        self.active.iter().any(|a| &a.kind == kind)
    }

    fn last_end(&self, kind: &InsightKind) -> i64 {
        self.ended.iter().filter(|e| &e.0 == kind).map(|e| e.1).max().unwrap_or(i64::MIN)
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

/// A handle on one API of a [`Detector`], so the per-minute calls of a file look the API
/// up once (see [`Detector::api_id`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiId(usize);

/// An API's state and the detector's bookkeeping for it.
#[derive(Debug)]
struct Entry {
    key: ApiKey,
    /// Index of its account and region in `Detector::streams`.
    stream: usize,
    /// None until the API's first calls (or a restore).
    state: Option<ApiState>,
    /// New data since the last Start evaluation.
    dirty: bool,
    /// Known to be in its stream's live set (false when unknown, e.g. after a restore).
    live: bool,
}

/// One account and region: its time bookkeeping and the APIs evaluated after each file.
#[derive(Debug, Default)]
struct Stream {
    state: Option<StreamState>,
    /// APIs with open minutes or active insights, in key order (the order of their events).
    live: BTreeMap<ApiKey, usize>,
}

/// The detector for all APIs of all accounts and regions.
#[derive(Debug)]
pub struct Detector {
    config: DetectorConfig,
    /// Index into `streams` per account, then region (nested so lookups by `&str` allocate nothing).
    stream_ids: BTreeMap<String, BTreeMap<String, usize>>,
    streams: Vec<Stream>,
    /// Index into `apis` per API.
    ids: FxHashMap<ApiKey, usize>,
    apis: Vec<Entry>,
}

impl Detector {
    /// A detector with no history.
    pub fn new(config: DetectorConfig) -> Self {
        Detector {
            config,
            stream_ids: BTreeMap::new(),
            streams: Vec::new(),
            ids: FxHashMap::default(),
            apis: Vec::new(),
        }
    }

    /// The state of one API, if it has been seen.
    pub fn api(&self, key: &ApiKey) -> Option<&ApiState> {
        self.ids.get(key).and_then(|i| self.apis[*i].state.as_ref())
    }

    /// Every API that has a state, in no particular order.
    pub fn api_states(&self) -> impl Iterator<Item = (&ApiKey, &ApiState)> + '_ {
        self.apis.iter().filter_map(|e| e.state.as_ref().map(|s| (&e.key, s)))
    }

    fn find_stream(&self, account: &str, region: &str) -> Option<usize> {
        self.stream_ids.get(account).and_then(|r| r.get(region)).copied()
    }

    fn stream_id(&mut self, account: &str, region: &str) -> usize {
        if let Some(i) = self.find_stream(account, region) {
            return i;
        }
        let i = self.streams.len();
        self.streams.push(Stream::default());
        self.stream_ids.entry(account.to_owned()).or_default().insert(region.to_owned(), i);
        i
    }

    /// The handle of an API (created on first use), for [`Detector::observe_id`].
    pub fn api_id(&mut self, api: &ApiKey) -> ApiId {
        if let Some(i) = self.ids.get(api) {
            return ApiId(*i);
        }
        let stream = self.stream_id(&api.account, &api.region);
        let i = self.apis.len();
        self.apis.push(Entry { key: api.clone(), stream, state: None, dirty: false, live: false });
        self.ids.insert(api.clone(), i);
        ApiId(i)
    }

    /// An account and region's time bookkeeping and live APIs.
    pub fn stream(&self, key: &(String, String)) -> (Option<&StreamState>, BTreeSet<ApiKey>) {
        match self.find_stream(&key.0, &key.1).map(|i| &self.streams[i]) {
            Some(s) => (s.state.as_ref(), s.live.keys().cloned().collect()),
            None => (None, BTreeSet::new()),
        }
    }

    /// Puts back a stream's state loaded from a store.
    pub fn restore_stream(&mut self, key: (String, String), state: Option<StreamState>, live: BTreeSet<ApiKey>) {
        let sid = self.stream_id(&key.0, &key.1);
        if let Some(state) = state {
            self.streams[sid].state = Some(state);
        }
        if !live.is_empty() {
            let ids: BTreeMap<ApiKey, usize> = live
                .into_iter()
                .map(|api| {
                    let id = self.api_id(&api).0;
                    (api, id)
                })
                .collect();
            self.streams[sid].live = ids;
        }
    }

    /// Puts back an API's state loaded from a store.
    pub fn restore_api(&mut self, key: ApiKey, state: ApiState) {
        let ApiId(i) = self.api_id(&key);
        let entry = &mut self.apis[i];
        entry.state = Some(state);
        entry.dirty = false;
        entry.live = false;
    }

    /// Adds one minute's new counts of one API (see [`Detector::observe_id`]).
    pub fn observe(&mut self, api: &ApiKey, d: MinuteDelta) {
        let id = self.api_id(api);
        self.observe_id(id, d);
    }

    /// Adds one minute's new counts of one API.
    pub fn observe_id(&mut self, ApiId(id): ApiId, d: MinuteDelta) {
        let Some(entry) = self.apis.get_mut(id) else {
            return;
        };
        let Some(stream) = self.streams.get_mut(entry.stream) else {
            return;
        };
        let ss = stream.state.get_or_insert(StreamState {
            first_minute: d.minute,
            watermark: i64::MIN,
            newest_event: d.minute,
        });
        if d.minute - ss.newest_event > STALE_MINUTES {
            // After a week of silence the history is stale: warm up again.
            ss.first_minute = d.minute;
        }
        ss.first_minute = ss.first_minute.min(d.minute);
        ss.newest_event = ss.newest_event.max(d.minute);
        let first = ss.first_minute;
        entry.dirty = true;
        let state = entry.state.get_or_insert_with(|| ApiState::new(first.min(d.minute)));
        state.window.add(d);
        // An API known to be live is not looked up again: the live set (ordered, compared by
        // strings) is searched only when the API may have left it.
        if !entry.live {
            entry.live = true;
            if !stream.live.contains_key(&entry.key) {
                stream.live.insert(entry.key.clone(), id);
            }
        }
    }

    /// Evaluates every live API of one account and region after a file; `delivered` is the
    /// file's delivery minute. Returns the insight events (Starts and Ends).
    pub fn advance(&mut self, account: &str, region: &str, delivered: Option<i64>) -> Vec<Envelope> {
        let Some(stream) = self.find_stream(account, region).and_then(|i| self.streams.get_mut(i)) else {
            return vec![];
        };
        let Some(ss) = stream.state.as_mut() else {
            return vec![];
        };
        let mark = delivered.unwrap_or(ss.newest_event + 5);
        ss.watermark = ss.watermark.max(mark);
        let ss = ss.clone();
        let settle_before = ss.watermark - self.config.settle_minutes;
        let mut events = vec![];
        let mut done = vec![];
        for (api, &id) in stream.live.iter() {
            let Some(entry) = self.apis.get_mut(id) else {
                done.push(api.clone());
                continue;
            };
            let dirty = std::mem::take(&mut entry.dirty);
            let Some(state) = entry.state.as_mut() else {
                done.push(api.clone());
                continue;
            };
            let t = self.config.thresholds(&api.event_source, &api.event_name);
            let eval = Eval { api, t: &t, config: &self.config, stream: &ss, detected_at: ss.watermark };
            // Only new data can raise a window: APIs without any are not re-tested for a Start.
            if dirty && t.enabled {
                eval.starts(state, &mut events);
            }
            let active = state.active.len();
            eval.settle(state, settle_before, &mut events);
            // A file that ends an insight may also hold the minutes of the next one: test them
            // now, so its Start is detected at this file's delivery, not the next file's.
            if dirty && t.enabled && state.active.len() < active {
                eval.starts(state, &mut events);
            }
            state.window.trim();
            let open = state.window.has_from(state.window.settled_before);
            if !open && state.active.is_empty() {
                entry.live = false;
                done.push(api.clone());
            }
        }
        for api in done {
            stream.live.remove(&api);
        }
        events
    }
}

#[cfg(test)]
mod tests;
