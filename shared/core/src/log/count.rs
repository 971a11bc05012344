//! Counting one log file: calls, errors and attributions per (account, region, API, minute).
//!
//! A [`FileCounter`] takes the records of one file as the reader hands them out and builds a
//! [`FileBatch`]: owned, compact tallies with interned strings, plus one small [`RecordRef`]
//! per record so that the pipeline can remove duplicates (same `eventID` seen in another file
//! or twice in this one) exactly, without re-reading the file. A batch is merged whole or not
//! at all, so a file rejected half-way never contributes.

use crate::api::ApiKey;
use crate::log::object_key::LogKey;
use crate::log::reader::Record;
use rustc_hash::FxHashMap;
use smallvec::SmallVec;
use std::hash::{Hash, Hasher};

/// Index of a string in a batch's string table.
pub type StrId = u32;

/// `(string, count)` pairs of one attribute in one slot. Most slots have one or two values
/// per attribute: those live inline in the slot, so a batch's slots are one contiguous array
/// that the merge (on another thread) reads without chasing a pointer per list.
pub type TallyList = SmallVec<[(StrId, u32); 2]>;

/// Counts for one API in one minute of one file. Attribution lists are `(string, count)`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MinuteTally {
    /// Calls (successful or not).
    pub calls: u32,
    /// Calls that returned an errorCode.
    pub errors: u32,
    /// Calls per errorCode.
    pub by_error: TallyList,
    /// Calls per caller (userIdentity ARN or invoking service).
    pub by_caller: TallyList,
    /// Calls per user agent.
    pub by_agent: TallyList,
}

/// The id of `s` in the table `strings` (indexed by `ids`), added when new.
#[inline]
fn intern_in(strings: &mut Vec<String>, ids: &mut FxHashMap<String, StrId>, s: &str) -> StrId {
    if let Some(&id) = ids.get(s) {
        return id;
    }
    let id = strings.len() as StrId;
    strings.push(s.to_owned());
    ids.insert(s.to_owned(), id);
    id
}

/// Sentinel for "no value" in a [`RecordRef`].
pub const NONE: StrId = StrId::MAX;

/// What one record contributed, so a duplicate can be taken back out exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordRef {
    /// 64-bit identity of the eventID ([`event_id_hash`]).
    pub id: u64,
    /// Index into [`FileBatch::slots`].
    pub slot: u32,
    /// errorCode string id, or [`NONE`].
    pub error: StrId,
    /// Caller string id, or [`NONE`].
    pub caller: StrId,
    /// User agent string id, or [`NONE`].
    pub agent: StrId,
}

/// One (API, minute) slot of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    /// Index into [`FileBatch::apis`].
    pub api: u32,
    /// Minutes since the Unix epoch.
    pub minute: i64,
    /// The counts.
    pub tally: MinuteTally,
}

/// A record that one of the rules concerns, kept whole for the rule engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// 64-bit identity of its eventID (0 when it has none).
    pub id: u64,
    /// The record's JSON text.
    pub raw: String,
}

/// Everything one file contributes, ready to be merged.
#[derive(Debug, Clone, Default)]
pub struct FileBatch {
    /// The file's name or key.
    pub file: String,
    /// The APIs seen in the file.
    pub apis: Vec<ApiKey>,
    /// The string table for attributions.
    pub strings: Vec<String>,
    /// Counts per (API, minute).
    pub slots: Vec<Slot>,
    /// One entry per record that has an eventID, in file order.
    pub refs: Vec<RecordRef>,
    /// Records accepted.
    pub records: u64,
    /// Records rejected, with the first few reasons.
    pub rejected: u64,
    /// Up to [`MAX_REASONS`] rejection reasons.
    pub rejection_reasons: Vec<String>,
    /// Records the risky-change rules need to look at.
    pub candidates: Vec<Candidate>,
    /// Decompressed bytes.
    pub bytes: u64,
}

/// How many rejection reasons a batch keeps.
pub const MAX_REASONS: usize = 5;

/// Builds a [`FileBatch`] from the records of one file.
#[derive(Debug)]
pub struct FileCounter<F: Fn(&str, &str) -> bool> {
    batch: FileBatch,
    default_account: String,
    default_region: String,
    strings: FxHashMap<String, StrId>,
    /// Accounts, regions, event sources and names, apart from the attribution strings: the
    /// batch's string table then holds only what minutes name.
    key_strings: Vec<String>,
    key_ids: FxHashMap<String, StrId>,
    /// The last account and region interned: nearly every record of a file repeats them, and
    /// comparing with the last one is cheaper than hashing.
    last: [(String, StrId); 2],
    apis: FxHashMap<(StrId, StrId, StrId, StrId), u32>,
    /// Per API of the batch, whether the rules look at it (asked once per API, not per record).
    candidate_apis: Vec<bool>,
    slots: FxHashMap<(u32, i64), u32>,
    is_candidate: F,
}

impl<F: Fn(&str, &str) -> bool> FileCounter<F> {
    /// A counter for one file; `key` gives the fallback account and region, and
    /// `is_candidate(eventSource, eventName)` says which records to keep whole for the rules.
    pub fn new(file: &str, key: Option<&LogKey>, is_candidate: F) -> Self {
        FileCounter {
            batch: FileBatch { file: file.to_owned(), ..FileBatch::default() },
            default_account: key.map(|k| k.account.clone()).unwrap_or_else(|| "unknown".to_owned()),
            default_region: key.map(|k| k.region.clone()).unwrap_or_else(|| "unknown".to_owned()),
            strings: FxHashMap::default(),
            key_strings: Vec::new(),
            key_ids: FxHashMap::default(),
            last: [(String::new(), NONE), (String::new(), NONE)],
            apis: FxHashMap::default(),
            candidate_apis: Vec::new(),
            slots: FxHashMap::default(),
            is_candidate,
        }
    }

    fn intern(&mut self, s: &str) -> StrId {
        intern_in(&mut self.batch.strings, &mut self.strings, s)
    }

    /// The id of a part of an API's key (account, region, event source or name).
    fn intern_key(&mut self, s: &str) -> StrId {
        intern_in(&mut self.key_strings, &mut self.key_ids, s)
    }

    /// [`FileCounter::intern_key`] through the one-entry cache `which` (0 account, 1 region).
    fn intern_repeated(&mut self, which: usize, s: &str) -> StrId {
        if self.last[which].1 != NONE && self.last[which].0 == s {
            return self.last[which].1;
        }
        let id = self.intern_key(s);
        self.last[which] = (s.to_owned(), id);
        id
    }

    /// Counts one accepted record.
    pub fn add(&mut self, rec: &Record<'_>) {
        self.batch.records += 1;
        let account = match rec.account.as_deref() {
            Some(a) if !a.is_empty() => self.intern_repeated(0, a),
            _ => {
                let fallback = self.default_account.clone();
                self.intern_repeated(0, &fallback)
            }
        };
        let region = match rec.aws_region.as_deref() {
            Some(r) if !r.is_empty() => self.intern_repeated(1, r),
            _ => {
                let fallback = self.default_region.clone();
                self.intern_repeated(1, &fallback)
            }
        };
        let source = self.intern_key(&rec.event_source);
        let name = self.intern_key(&rec.event_name);
        let api = match self.apis.get(&(account, region, source, name)) {
            Some(&a) => a,
            None => {
                let a = self.batch.apis.len() as u32;
                let s = &self.key_strings;
                self.batch.apis.push(ApiKey {
                    account: s[account as usize].clone(),
                    region: s[region as usize].clone(),
                    event_source: s[source as usize].clone(),
                    event_name: s[name as usize].clone(),
                });
                self.apis.insert((account, region, source, name), a);
                self.candidate_apis.push((self.is_candidate)(&rec.event_source, &rec.event_name));
                a
            }
        };
        let slot = match self.slots.get(&(api, rec.minute)) {
            Some(&s) => s,
            None => {
                let s = self.batch.slots.len() as u32;
                self.batch.slots.push(Slot { api, minute: rec.minute, tally: MinuteTally::default() });
                self.slots.insert((api, rec.minute), s);
                s
            }
        };
        let error = rec.error_code.as_deref().map_or(NONE, |e| self.intern(e));
        let caller = rec.caller.as_deref().map_or(NONE, |c| self.intern(c));
        let agent = rec.user_agent.as_deref().map_or(NONE, |u| self.intern(u));
        tally_add(&mut self.batch.slots[slot as usize].tally, error, caller, agent, 1);
        let id = rec.event_id.as_deref().map(event_id_hash);
        if let Some(id) = id {
            self.batch.refs.push(RecordRef { id, slot, error, caller, agent });
        }
        if self.candidate_apis.get(api as usize).copied().unwrap_or(false) {
            self.batch
                .candidates
                .push(Candidate { id: id.unwrap_or(0), raw: String::from_utf8_lossy(rec.raw).into_owned() });
        }
    }

    /// Records one rejected record.
    pub fn reject(&mut self, reason: String) {
        self.batch.rejected += 1;
        if self.batch.rejection_reasons.len() < MAX_REASONS {
            self.batch.rejection_reasons.push(reason);
        }
    }

    /// The finished batch.
    pub fn finish(mut self, bytes: u64) -> FileBatch {
        self.batch.bytes = bytes;
        self.batch
    }
}

/// Reads and counts one whole log object. On a file-level error nothing of it is kept.
///
/// With `rules` false no record is kept for the risky-change rules (to measure their cost).
pub fn count_log<R: std::io::Read>(
    input: R,
    file: &str,
    key: Option<&LogKey>,
    rules: bool,
) -> Result<FileBatch, crate::log::reader::ReadError> {
    let mut counter = FileCounter::new(file, key, |s: &str, n: &str| rules && crate::rules::concerns(s, n));
    let summary = crate::log::reader::read_log(input, |r| match r {
        Ok(rec) => counter.add(&rec),
        Err(rej) => counter.reject(format!("record #{} at byte {}: {}", rej.index, rej.offset, rej.reason)),
    })?;
    Ok(counter.finish(summary.bytes))
}

/// Adds (or with a negative `delta`, removes) one call to a tally.
pub fn tally_add(t: &mut MinuteTally, error: StrId, caller: StrId, agent: StrId, delta: i32) {
    t.calls = t.calls.saturating_add_signed(delta);
    if error != NONE {
        t.errors = t.errors.saturating_add_signed(delta);
        bump(&mut t.by_error, error, delta);
    }
    if caller != NONE {
        bump(&mut t.by_caller, caller, delta);
    }
    if agent != NONE {
        bump(&mut t.by_agent, agent, delta);
    }
}

fn bump(list: &mut TallyList, id: StrId, delta: i32) {
    if let Some(e) = list.iter_mut().find(|e| e.0 == id) {
        e.1 = e.1.saturating_add_signed(delta);
        if e.1 == 0 {
            list.retain(|e| e.1 > 0);
        }
    } else if delta > 0 {
        list.push((id, delta as u32));
    }
}

/// A 64-bit identity for an eventID: the two halves of the UUID folded
/// together when it is one, else a hash. 64 bits keep the stored id sets small; ids are only
/// compared within one account, region and minute, where a collision is vanishingly rare
/// (about 1 in 10^12 for 5,000 events in a minute).
pub fn event_id_hash(id: &str) -> u64 {
    if let Ok(u) = uuid::Uuid::try_parse(id) {
        let v = u.as_u128();
        return (v >> 64) as u64 ^ v as u64;
    }
    let mut h = std::collections::hash_map::DefaultHasher::new();
    id.hash(&mut h);
    h.finish()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::log::reader::read_log;

    const LOG: &str = r#"{"Records":[
      {"eventTime":"2024-01-02T03:04:05Z","eventSource":"ec2.amazonaws.com","eventName":"RunInstances","awsRegion":"us-east-1","recipientAccountId":"111122223333","eventID":"00000000-0000-0000-0000-000000000001","userIdentity":{"arn":"arn:aws:iam::111122223333:user/a"},"userAgent":"cli"},
      {"eventTime":"2024-01-02T03:04:59Z","eventSource":"ec2.amazonaws.com","eventName":"RunInstances","awsRegion":"us-east-1","recipientAccountId":"111122223333","eventID":"00000000-0000-0000-0000-000000000002","errorCode":"Client.UnauthorizedOperation","userIdentity":{"arn":"arn:aws:iam::111122223333:user/b"},"userAgent":"cli"},
      {"eventTime":"2024-01-02T03:05:00Z","eventSource":"ec2.amazonaws.com","eventName":"RunInstances","eventID":"x-3","userIdentity":{"accountId":"444455556666"}},
      {"eventTime":"2024-01-02T03:05:00Z","eventSource":"s3.amazonaws.com","eventName":"PutBucketPolicy","awsRegion":"us-east-1","recipientAccountId":"111122223333"}
    ]}"#;

    fn count(text: &str) -> FileBatch {
        let mut c = FileCounter::new("f", None, |_s: &str, n: &str| n == "PutBucketPolicy");
        read_log(text.as_bytes(), |r| match r {
            Ok(r) => c.add(&r),
            Err(e) => c.reject(e.reason),
        })
        .unwrap();
        c.finish(0)
    }

    #[test]
    fn the_string_table_holds_only_the_values_minutes_name() {
        // Given a file whose records name accounts, regions and APIs as well as callers,
        // user agents and error codes
        let b = count(LOG);
        // Then the string table holds the attribution values alone (the merge shares each of
        // them across files), and every one of them is named by some minute
        let mut table: Vec<&str> = b.strings.iter().map(String::as_str).collect();
        table.sort_unstable();
        assert_eq!(
            table,
            [
                "Client.UnauthorizedOperation",
                "arn:aws:iam::111122223333:user/a",
                "arn:aws:iam::111122223333:user/b",
                "cli"
            ]
        );
        // And the API keys still carry their own parts
        assert_eq!(b.apis[b.slots[0].api as usize].event_source, "ec2.amazonaws.com");
    }

    #[test]
    fn calls_and_errors_are_counted_per_api_and_minute() {
        // Given a file with two calls in one minute (one failed) and others elsewhere
        let b = count(LOG);
        // Then the first minute has two calls, one error, two callers
        let first = &b.slots[0];
        assert_eq!(b.apis[first.api as usize].event_name, "RunInstances");
        assert_eq!((first.tally.calls, first.tally.errors), (2, 1));
        assert_eq!(first.tally.by_caller.len(), 2);
        assert_eq!(b.strings[first.tally.by_error[0].0 as usize], "Client.UnauthorizedOperation");
        assert_eq!(first.tally.by_agent[..], [(first.tally.by_agent[0].0, 2)]);
        // And a record without recipientAccountId falls back to userIdentity.accountId and the default region
        assert_eq!(b.apis[b.slots[1].api as usize].account, "444455556666");
        assert_eq!(b.apis[b.slots[1].api as usize].region, "unknown");
        // And records without an eventID are counted but carry no ref
        assert_eq!(b.records, 4);
        assert_eq!(b.refs.len(), 3);
        // And only the rule-relevant record is kept whole
        assert_eq!(b.candidates.len(), 1);
        assert!(b.candidates[0].raw.contains("PutBucketPolicy"));
    }

    #[test]
    fn removing_a_record_restores_the_tally_exactly() {
        // Given a tally with one call added twice
        let mut t = MinuteTally::default();
        tally_add(&mut t, 1, 2, 3, 1);
        let once = t.clone();
        tally_add(&mut t, 1, 2, 3, 1);
        // When one is removed
        tally_add(&mut t, 1, 2, 3, -1);
        // Then it is as if it had been added once
        assert_eq!(t, once);
        tally_add(&mut t, 1, 2, 3, -1);
        assert_eq!(t, MinuteTally::default());
    }

    #[test]
    fn uuid_event_ids_map_to_their_value_and_others_to_distinct_hashes() {
        assert_eq!(event_id_hash("00000000-0000-0000-0000-000000000002"), 2);
        assert_ne!(event_id_hash("x-3"), event_id_hash("x-4"));
    }
}
