//! What one commit writes, as items, before any request is made: its eventID items, the parts
//! of the checkpoints that are due, and the writes of its transaction. The store sends them
//! ([`DynamoStore`]'s `commit`) and the size model prices them ([`super::model`]): one builder,
//! so the model cannot drift from what the store writes.

use super::*;
use std::borrow::Cow;

/// One write of the commit transaction.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum TxnWrite {
    /// A put, only if `condition` holds (when there is one).
    Put {
        /// The whole item.
        item: Item,
        /// Its condition expression.
        condition: Option<&'static str>,
    },
    /// The head update of `stream`: `seq` from `version` (which must still be there) to
    /// `version + 1`, naming the checkpoint `(attempt, parts, time)` written for it, if any.
    Head {
        /// The stream.
        stream: StreamKey,
        /// The version loaded.
        version: u64,
        /// The checkpoint the head names from now on, when this commit wrote one.
        checkpoint: Option<(String, usize, i64)>,
    },
}

impl TxnWrite {
    /// The item as the write leaves it, for its size: a put's item; the head's key and the
    /// attributes the update sets (a few numbers and short strings: always under 1 KB).
    pub(super) fn item(&self) -> Cow<'_, Item> {
        match self {
            TxnWrite::Put { item, .. } => Cow::Borrowed(item),
            TxnWrite::Head { stream, version, checkpoint } => {
                Cow::Owned(head_item(stream, version + 1, checkpoint.as_ref().map(|(a, p, t)| (a.as_str(), *p, *t))))
            }
        }
    }

    /// The write as a request item of a `TransactWriteItems` on `table`.
    pub(super) fn request(&self, table: &str) -> Result<TransactWriteItem, StoreError> {
        match self {
            TxnWrite::Put { item, condition } => put_if(table, item.clone(), *condition),
            TxnWrite::Head { stream, version, checkpoint } => {
                head_update(table, stream, *version, checkpoint.as_ref().map(|(a, p, t)| (a.as_str(), *p, *t)))
            }
        }
    }
}

/// Everything one commit writes, in the order the store writes it.
#[derive(Debug)]
pub(super) struct CommitPlan<'c> {
    /// 1. The new eventIDs: plain puts (ignored by loads until the ledger entry exists).
    pub ids: Vec<Item>,
    /// 2. The parts of each due checkpoint, by stream: plain puts under a fresh attempt id
    ///    (used only once the head names the attempt).
    pub checkpoints: BTreeMap<&'c StreamKey, Vec<Item>>,
    /// 3. One transaction: the ledger entry first (its failed condition is how a duplicate
    ///    shows), the events, each stream's head and journal entry.
    pub transaction: Vec<TxnWrite>,
}

/// The items `commit` writes. A stream gets a checkpoint when the commit carries no journal
/// entry for it (only its states say what changed) or when `due(stream, loaded version)`;
/// `attempt` names the checkpoints, `now` (seconds) sets the TTLs and `lease_until`
/// (milliseconds) the send lease of a commit with events.
pub(super) fn plan_commit<'c>(
    commit: &'c Commit,
    due: impl Fn(&StreamKey, u64) -> bool,
    attempt: &str,
    now: i64,
    lease_until: i64,
) -> Result<CommitPlan<'c>, StoreError> {
    let ids = ids_items(&commit.object, &commit.new_ids, now + IDS_TTL_SECS);
    let mut checkpoints = BTreeMap::new();
    for (k, snap) in &commit.streams {
        if commit.journal.contains_key(k) && !due(k, snap.version) {
            continue;
        }
        let parts = checkpoint_items(k, snap.version + 1, attempt, &commit.checkpoint(k), now)?;
        checkpoints.insert(k, parts);
    }
    let transaction = transaction_writes(commit, &checkpoints, attempt, now, lease_until)?;
    Ok(CommitPlan { ids, checkpoints, transaction })
}

/// A commit's eventID items: per stream, one per hour-long run of minutes (usually one per
/// file; see [`pack_ids`]).
fn ids_items(object: &str, new_ids: &BTreeMap<StreamKey, Vec<(u64, i64)>>, expires: i64) -> Vec<Item> {
    let object_digest = digest(object);
    let mut items = Vec::new();
    for (stream, ids) in new_ids {
        for (part, (first, blob)) in pack_ids(ids).into_iter().enumerate() {
            let mut item = key(stream_pk(stream), &ids_sk(first, &object_digest, part));
            item.insert("ids".into(), AttributeValue::B(Blob::new(blob)));
            item.insert("object".into(), s(object));
            item.insert("expires".into(), n(expires));
            items.push(item);
        }
    }
    items
}

/// The parts (of at most [`CHUNK`] bytes) of `stream`'s checkpoint taken at `seq` by commit
/// attempt `attempt`.
fn checkpoint_items(
    stream: &StreamKey,
    seq: u64,
    attempt: &str,
    checkpoint: &Checkpoint,
    now: i64,
) -> Result<Vec<Item>, StoreError> {
    let bytes = pack(checkpoint)?;
    Ok(bytes
        .chunks(CHUNK)
        .enumerate()
        .map(|(i, part)| {
            let mut item = key(stream_pk(stream), &checkpoint_sk(seq, attempt, i));
            item.insert("data".into(), AttributeValue::B(Blob::new(part.to_vec())));
            item.insert("expires".into(), n(now + JOURNAL_TTL_SECS));
            item
        })
        .collect())
}

/// The transaction's writes: the ledger entry (only if absent), the events, and per stream
/// the head (at its loaded version) and the journal entry.
fn transaction_writes(
    commit: &Commit,
    checkpoints: &BTreeMap<&StreamKey, Vec<Item>>,
    attempt: &str,
    now: i64,
    lease_until: i64,
) -> Result<Vec<TxnWrite>, StoreError> {
    let mut ledger = key(object_pk(&commit.object), "LEDGER");
    ledger.insert("expires".into(), n(now + LEDGER_TTL_SECS));
    let events = if commit.events.is_empty() {
        ledger.insert("status".into(), s("done"));
        vec![]
    } else {
        let bytes = pack(&commit.events)?;
        let parts: Vec<Vec<u8>> = bytes.chunks(CHUNK).map(<[u8]>::to_vec).collect();
        ledger.insert("status".into(), s("pending"));
        ledger.insert("lease".into(), n(lease_until));
        ledger.insert("eparts".into(), n(parts.len()));
        parts
    };
    let mut writes = vec![TxnWrite::Put { item: ledger, condition: Some("attribute_not_exists(pk)") }];
    for (i, part) in events.into_iter().enumerate() {
        let mut item = key(object_pk(&commit.object), &events_sk(i));
        item.insert("data".into(), AttributeValue::B(Blob::new(part)));
        item.insert("expires".into(), n(now + EVENTS_TTL_SECS));
        writes.push(TxnWrite::Put { item, condition: None });
    }
    for (k, snap) in &commit.streams {
        let seq = snap.version + 1;
        writes.push(TxnWrite::Head {
            stream: k.clone(),
            version: snap.version,
            checkpoint: checkpoints.get(k).map(|parts| (attempt.to_owned(), parts.len().max(1), now)),
        });
        if let Some(entry) = commit.journal.get(k) {
            let bytes = pack(entry)?;
            let parts: Vec<&[u8]> = bytes.chunks(CHUNK).collect();
            for (i, part) in parts.iter().enumerate() {
                let mut item = key(stream_pk(k), &entry_sk(seq, i));
                item.insert("data".into(), AttributeValue::B(Blob::new(part.to_vec())));
                item.insert("parts".into(), n(parts.len()));
                item.insert("object".into(), s(commit.object.clone()));
                item.insert("expires".into(), n(now + JOURNAL_TTL_SECS));
                writes.push(TxnWrite::Put { item, condition: None });
            }
        }
    }
    Ok(writes)
}
