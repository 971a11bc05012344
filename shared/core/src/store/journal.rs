//! The journal: what one file contributed to one account and region, in a form that can be
//! applied again, and checkpoints of a whole account and region.
//!
//! A store may keep a stream's state as a *checkpoint* (every API's state at some commit)
//! plus the *journal entries* committed since, instead of rewriting every touched API's state
//! on every file. Loading restores the checkpoint and replays the entries through the same
//! detector ([`crate::ingest::pipeline::Pipeline::restore`]); the pipeline is deterministic, so the
//! result is exactly the state the original commits produced. An entry holds the file's
//! counts after de-duplication (calls, errors and attributions per API and minute) and its
//! delivery minute: a few KB for a typical file, whatever the size of the APIs' models. The
//! DynamoDB store writes entries and checkpoints this way (docs/ingest.md, "DynamoDB data model").

use crate::api::ApiKey;
use crate::detect::{ApiState, StreamState};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// Calls of one API in one minute, with attribution lists as `(string index, count)`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalSlot {
    /// Index into [`JournalEntry::apis`].
    pub api: u32,
    /// Minutes since the epoch.
    pub minute: i64,
    /// Calls.
    pub calls: u32,
    /// Calls with an errorCode.
    pub errors: u32,
    /// Calls per errorCode.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub by_error: Vec<(u32, u32)>,
    /// Calls per caller.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub by_caller: Vec<(u32, u32)>,
    /// Calls per user agent.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub by_agent: Vec<(u32, u32)>,
}

/// What one file applied to one account and region: its de-duplicated counts, in the order
/// the detector saw them, and its delivery minute.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalEntry {
    /// The file's delivery minute (None for files without a CloudTrail key).
    pub delivered: Option<i64>,
    /// `(eventSource, eventName)` of the APIs the slots name (the account and region are the
    /// stream's).
    pub apis: Vec<(String, String)>,
    /// Attribution strings the slots name.
    pub strings: Vec<String>,
    /// Counts per API and minute, in application order.
    pub slots: Vec<JournalSlot>,
}

impl JournalEntry {
    /// Calls and errors of one API per minute in `[from, to)`, as `(minute, calls, errors)`.
    pub fn counts_of<'a>(
        &'a self,
        event_source: &'a str,
        event_name: &'a str,
        from: i64,
        to: i64,
    ) -> impl Iterator<Item = (i64, u64, u64)> + 'a {
        let index = self.apis.iter().position(|(s, n)| s == event_source && n == event_name);
        self.slots
            .iter()
            .filter(move |s| Some(s.api as usize) == index && s.minute >= from && s.minute < to)
            .map(|s| (s.minute, u64::from(s.calls), u64::from(s.errors)))
    }
}

/// Every API's state of one account and region after some commit, plus the stream's own
/// bookkeeping: what a journaling store restores before replaying the entries after it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Time bookkeeping.
    pub state: Option<StreamState>,
    /// APIs with open minutes or insights in progress.
    pub live: BTreeSet<ApiKey>,
    /// Every API's state.
    pub apis: Vec<(ApiKey, ApiState)>,
}

/// Checkpoint a stream when this many journal entries (files) have been committed since the
/// last one: loads then replay at most this many minus one. Twelve is an hour of deliveries.
pub const CHECKPOINT_EVERY: u64 = 12;

/// Checkpoint a stream whose last checkpoint is older than this (seconds), however few files
/// came since, so a quiet stream's checkpoint never expires before its next one.
pub const CHECKPOINT_MAX_AGE_SECS: i64 = 7 * 86_400;

/// Whether the commit that brings a stream to `entries_since + 1` journal entries past its
/// checkpoint (taken at unix time `checkpoint_at`, None when there is none) should write a
/// new checkpoint.
pub fn checkpoint_due(entries_since: u64, checkpoint_at: Option<i64>, now: i64) -> bool {
    match checkpoint_at {
        None => true,
        Some(at) => entries_since + 1 >= CHECKPOINT_EVERY || now - at > CHECKPOINT_MAX_AGE_SECS,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_is_due_without_one_after_an_hour_of_files_or_after_a_week() {
        // Given the number of entries since the last checkpoint and its age
        // Then a stream without a checkpoint takes one at once
        assert!(checkpoint_due(0, None, 0));
        // And one is taken every twelfth file
        assert!(!checkpoint_due(10, Some(0), 60));
        assert!(checkpoint_due(11, Some(0), 60));
        // And a quiet stream takes one after a week
        assert!(checkpoint_due(1, Some(0), CHECKPOINT_MAX_AGE_SECS + 1));
    }

    #[test]
    fn an_entry_reports_the_counts_of_one_api_in_a_range() {
        // Given an entry with two APIs over two minutes
        let entry = JournalEntry {
            delivered: Some(10),
            apis: vec![("iam".into(), "ListUsers".into()), ("s3".into(), "GetObject".into())],
            strings: vec![],
            slots: vec![
                JournalSlot { api: 0, minute: 5, calls: 3, errors: 1, ..JournalSlot::default() },
                JournalSlot { api: 1, minute: 5, calls: 9, ..JournalSlot::default() },
                JournalSlot { api: 0, minute: 6, calls: 2, ..JournalSlot::default() },
            ],
        };
        // When one API's counts are asked for minute 5 only
        let counts: Vec<_> = entry.counts_of("iam", "ListUsers", 5, 6).collect();
        // Then only its slot in that minute comes back
        assert_eq!(counts, vec![(5, 3, 1)]);
    }
}
