//! [`BaselineStore`] on one DynamoDB table (`pk`, `sk` strings; TTL attribute `expires`).
//!
//! Items (README, "DynamoDB data model"):
//!
//! | pk | sk | attributes |
//! |---|---|---|
//! | `S#{account}#{region}` | `STATE` | `state` (deflated JSON), `version`, `pending` (object id while a commit rolls forward) |
//! | `S#{account}#{region}` | `I#{minute}#{object}` | `ids`: the 64-bit eventIDs one object added in that minute (a binary set), `expires` |
//! | `A#{account}#{region}#{source}#{name}` | `STATE` | `state` (deflated JSON of the API's model), `version` |
//! | `A#...` | `H#{hour}` | `c{m}`/`e{m}` calls and errors in minute `m` of the hour, `objs` (objects applied), `expires` |
//! | `O#{object}` | `LEDGER` | `status` (`pending` or `done`), `payload` (the attempt whose payload committed), `parts`, `lease`, `delivered`, `expires` |
//! | `O#{object}` | `P#{attempt}#{n}` | `data`: the commit's payload (deflated JSON: API states, counts, eventIDs, events), in 350 KB chunks, `expires` |
//!
//! A commit first puts its payload under a fresh attempt id (plain puts: harmless if the commit
//! never happens, they expire), then makes one `TransactWriteItems` of small items: the ledger
//! item (only if absent) naming that attempt, and each stream item (only at the loaded
//! version), marked `pending`. The stream's version serialises every commit touching its APIs. Then the
//! change *rolls forward* from the payload: API states are put only if their stored version
//! is older, counts are added only if the hour item has not seen the object, and the stream's
//! `pending` mark is removed. Each step is idempotent, so whoever finds a `pending` mark (a
//! retry, or a concurrent load) finishes the roll-forward first: a crash between the steps
//! loses nothing and doubles nothing.

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConsumedCapacity, KeysAndAttributes, Put, ReturnConsumedCapacity, ReturnValue, TransactWriteItem,
};
use aws_sdk_dynamodb::Client;
use flate2::read::DeflateDecoder;
use flate2::write::DeflateEncoder;
use futures_util::stream::{self, StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Read;
use trailsight_core::count::ApiKey;
use trailsight_core::detect::ApiState;
use trailsight_core::events::Envelope;
use trailsight_core::ports::{
    BaselineStore, Commit, CommitOutcome, MinuteCount, ObjectStatus, Snapshot, StoreError, StreamKey, StreamSnapshot,
    Versioned,
};

type Item = HashMap<String, AttributeValue>;
/// Minute within the hour (0-59), calls, errors.
type MinuteOfHour = (i64, u64, u64);

/// Ledger entries are kept this long (duplicate deliveries come within hours).
pub const LEDGER_TTL_SECS: i64 = 30 * 86_400;
/// Payloads are kept this long: longer than SQS keeps a message (14 days), so a delivery
/// redriven from the DLQ can still finish its commit. TTL deletion costs nothing.
pub const PAYLOAD_TTL_SECS: i64 = 15 * 86_400;
/// Hourly count items are kept this long.
pub const COUNTS_TTL_SECS: i64 = 35 * 86_400;
/// How long a committer owns its object's pending events before another invocation may
/// resend them (longer than an invocation can run: the default Lambda timeout is 15 minutes
/// at most, trailsight's template sets 60 seconds).
pub const DEFAULT_LEASE: std::time::Duration = std::time::Duration::from_secs(90);
/// EventID items are kept this long (duplicates arrive within minutes).
pub const IDS_TTL_SECS: i64 = 2 * 86_400;
/// Payload bytes per item (DynamoDB's item limit is 400 KB).
const CHUNK: usize = 350_000;
/// Single-item writes in flight during a roll-forward.
const CONCURRENCY: usize = 16;
/// Keys per BatchGetItem request (the service limit).
const BATCH_GET: usize = 100;

/// Requests and capacity units: as DynamoDB reported them (`ReturnConsumedCapacity`) and as
/// modelled from item sizes by DynamoDB's on-demand rules (emulators may report fixed units).
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Usage {
    /// Requests made.
    pub requests: u64,
    /// Read units reported.
    pub read_units: f64,
    /// Write units reported.
    pub write_units: f64,
    /// Read units by the size model.
    pub modelled_read_units: f64,
    /// Write units by the size model.
    pub modelled_write_units: f64,
}

mod items;
mod read;
mod table;
mod usage;
mod write;

pub use items::item_size;
use items::*;
pub use table::create_table;
use write::{backoff, txn_error};

/// The DynamoDB store.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
    /// Requests and capacity units since the last [`DynamoStore::take_usage`].
    usage: std::sync::Arc<std::sync::Mutex<Usage>>,
    /// Test hook: commits that "crash" right after their transaction (see [`Self::crash_after_commits`]).
    crashes: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    /// How long a committer (or a resender) owns an object's pending events.
    lease: std::time::Duration,
}

/// Everything a commit changes besides the streams: what a roll-forward writes.
#[derive(Debug, Serialize, Deserialize)]
struct Payload {
    streams: Vec<StreamKey>,
    apis: Vec<(ApiKey, u64, ApiState)>,
    counts: Vec<MinuteCount>,
    events: Vec<Envelope>,
    /// New eventIDs per stream, with their minute.
    ids: Vec<(StreamKey, Vec<(u64, i64)>)>,
}

/// The stored part of a stream snapshot (its version is an attribute; its eventIDs live in
/// per-minute items, so the stream item stays small however busy the account).
#[derive(Debug, Serialize, Deserialize)]
struct StoredStream {
    state: Option<trailsight_core::detect::StreamState>,
    live: BTreeSet<ApiKey>,
}

impl DynamoStore {
    /// A store on `table`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoStore {
            client,
            table: table.into(),
            usage: std::sync::Arc::default(),
            crashes: std::sync::Arc::default(),
            lease: DEFAULT_LEASE,
        }
    }

    /// Changes the send lease (default [`DEFAULT_LEASE`]; set it to the function's timeout).
    pub fn with_send_lease(mut self, lease: std::time::Duration) -> Self {
        self.lease = lease;
        self
    }

    fn lease_until(&self) -> i64 {
        now_millis().saturating_add(i64::try_from(self.lease.as_millis()).unwrap_or(i64::MAX))
    }

    /// Test hook: the next `n` commits fail right after their transaction, before the
    /// roll-forward, as when the function dies there. Used by the crash-recovery tests.
    #[doc(hidden)]
    pub fn crash_after_commits(&self, n: usize) {
        self.crashes.store(n, std::sync::atomic::Ordering::SeqCst);
    }

    /// A store with its own client.
    pub fn from_config(config: &aws_config::SdkConfig, table: impl Into<String>) -> Self {
        Self::new(Client::new(config), table)
    }
}

impl BaselineStore for DynamoStore {
    async fn status(&self, object: &str) -> Result<ObjectStatus, StoreError> {
        let Some(ledger) = self.ledger(object).await? else {
            return Ok(ObjectStatus::New);
        };
        if get_s(&ledger, "status") == Some("done") {
            return Ok(ObjectStatus::Done);
        }
        let payload = self.payload(object, &ledger).await?;
        self.roll_forward(object, &payload).await?;
        let delivered: BTreeSet<&str> = ledger
            .get("delivered")
            .and_then(|v| v.as_ss().ok())
            .map(|ids| ids.iter().map(String::as_str).collect())
            .unwrap_or_default();
        Ok(ObjectStatus::Pending(
            payload
                .events
                .into_iter()
                .filter(|e| !delivered.contains(e.id.as_str()))
                .collect(),
        ))
    }

    async fn load(&self, streams: &[StreamKey], apis: &[ApiKey], minutes: &[i64]) -> Result<Snapshot, StoreError> {
        let mut loaded = self.load_streams(streams).await?;
        let pending: BTreeSet<String> = loaded.values().filter_map(|(_, p)| p.clone()).collect();
        if !pending.is_empty() {
            for object in &pending {
                tracing::info!(object, "finishing another delivery's commit before loading");
                self.finish(object).await?;
            }
            loaded = self.load_streams(streams).await?;
        }
        let mut snap = Snapshot::default();
        let mut ids = self.load_ids(streams, minutes).await?;
        for k in streams {
            let value = match loaded.get(k) {
                None => StreamSnapshot::default(),
                Some((item, _)) => {
                    let what = stream_pk(k);
                    let bytes = get_b(item, "state").ok_or_else(|| corrupt(&what, "no state"))?;
                    let stored: StoredStream = unpack(&what, bytes)?;
                    StreamSnapshot {
                        state: stored.state,
                        live: stored.live,
                        seen: ids.remove(k).unwrap_or_default(),
                        version: get_n(item, "version").and_then(|v| u64::try_from(v).ok()).unwrap_or(0),
                    }
                }
            };
            snap.streams.insert(k.clone(), value);
        }
        let by_pk: HashMap<String, &ApiKey> = apis.iter().map(|a| (api_pk(a), a)).collect();
        let items = self
            .batch_get(by_pk.keys().map(|pk| key(pk.clone(), "STATE")).collect())
            .await?;
        for item in items {
            let Some(api) = get_s(&item, "pk").and_then(|pk| by_pk.get(pk)) else {
                continue;
            };
            let what = api_pk(api);
            let bytes = get_b(&item, "state").ok_or_else(|| corrupt(&what, "no state"))?;
            let value: ApiState = unpack(&what, bytes)?;
            let version = get_n(&item, "version").and_then(|v| u64::try_from(v).ok()).unwrap_or(0);
            snap.apis.insert((*api).clone(), Versioned { value, version });
        }
        Ok(snap)
    }

    async fn commit(&self, commit: &Commit) -> Result<CommitOutcome, StoreError> {
        let payload = Payload {
            streams: commit.streams.keys().cloned().collect(),
            apis: commit
                .apis
                .iter()
                .map(|(k, v)| (k.clone(), v.version + 1, v.value.clone()))
                .collect(),
            counts: commit.counts.clone(),
            events: commit.events.clone(),
            ids: commit.new_ids.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        };
        let bytes = pack(&payload)?;
        let pk = object_pk(&commit.object);
        let mut ledger = key(pk.clone(), "LEDGER");
        ledger.insert("status".into(), s("pending"));
        ledger.insert("lease".into(), n(self.lease_until()));
        ledger.insert("expires".into(), n(now_secs() + LEDGER_TTL_SECS));
        // The payload first, under this attempt's own id (concurrent attempts of the same
        // object never overwrite each other's): harmless if the commit never happens.
        let attempt = format!("{:016x}", rand::random::<u64>());
        let chunks: Vec<&[u8]> = bytes.chunks(CHUNK).collect();
        for (i, chunk) in chunks.iter().enumerate() {
            let mut item = key(pk.clone(), &format!("P#{attempt}#{i:04}"));
            item.insert("data".into(), AttributeValue::B(Blob::new(chunk.to_vec())));
            item.insert("expires".into(), n(now_secs() + PAYLOAD_TTL_SECS));
            self.put_plain("PutItem (payload)", item).await?;
        }
        ledger.insert("payload".into(), s(attempt));
        ledger.insert("parts".into(), n(chunks.len()));
        let mut items = vec![TransactWriteItem::builder()
            .put(
                Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(ledger))
                    .condition_expression("attribute_not_exists(pk)")
                    .build()
                    .map_err(|e| unavailable("TransactWriteItems", e))?,
            )
            .build()];
        for (k, snap) in &commit.streams {
            let mut item = key(stream_pk(k), "STATE");
            let stored = StoredStream {
                state: snap.state.clone(),
                live: snap.live.clone(),
            };
            item.insert("state".into(), AttributeValue::B(Blob::new(pack(&stored)?)));
            item.insert("version".into(), n(snap.version + 1));
            item.insert("pending".into(), s(commit.object.clone()));
            let put = Put::builder().table_name(&self.table).set_item(Some(item));
            let put = if snap.version == 0 {
                put.condition_expression("attribute_not_exists(pk)")
            } else {
                put.condition_expression("version = :v")
                    .expression_attribute_values(":v", n(snap.version))
            };
            items.push(
                TransactWriteItem::builder()
                    .put(put.build().map_err(|e| unavailable("TransactWriteItems", e))?)
                    .build(),
            );
        }
        for item in &items {
            if let Some(put) = item.put() {
                self.model_write(put.item(), 2.0);
            }
        }
        if items.len() > 100 {
            return Err(StoreError::Unavailable(format!(
                "one file touches {} account/region streams; a DynamoDB transaction holds at most 99",
                items.len() - 1
            )));
        }
        match self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
        {
            Ok(out) => self.meter(true, out.consumed_capacity()),
            Err(e) => match txn_error(e)? {
                CommitOutcome::Committed => {}
                other => return Ok(other),
            },
        }
        let crash = self
            .crashes
            .fetch_update(
                std::sync::atomic::Ordering::SeqCst,
                std::sync::atomic::Ordering::SeqCst,
                |n| n.checked_sub(1),
            )
            .is_ok();
        if crash {
            return Err(StoreError::Unavailable(
                "injected crash between commit and roll-forward".into(),
            ));
        }
        self.roll_forward(&commit.object, &payload).await?;
        Ok(CommitOutcome::Committed)
    }

    async fn mark_sent(&self, object: &str) -> Result<(), StoreError> {
        let updated = self
            .update_if(
                "UpdateItem (ledger)",
                key(object_pk(object), "LEDGER"),
                "SET #s = :done",
                "attribute_exists(pk)",
                &[("#s", "status")],
                HashMap::from([(":done".to_owned(), s("done"))]),
            )
            .await?;
        updated.then_some(()).ok_or_else(|| missing_ledger(object))
    }

    async fn mark_delivered(&self, object: &str, ids: &[String]) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        let updated = self
            .update_if(
                "UpdateItem (ledger)",
                key(object_pk(object), "LEDGER"),
                "ADD delivered :ids",
                "attribute_exists(pk)",
                &[],
                HashMap::from([(":ids".to_owned(), AttributeValue::Ss(ids.to_vec()))]),
            )
            .await?;
        updated.then_some(()).ok_or_else(|| missing_ledger(object))
    }

    async fn claim_send(&self, object: &str) -> Result<bool, StoreError> {
        // Fails (false) once the events are sent, or while they were claimed less than a lease ago.
        self.update_if(
            "UpdateItem (ledger lease)",
            key(object_pk(object), "LEDGER"),
            "SET lease = :until",
            "#s = :pending AND (attribute_not_exists(lease) OR lease < :now)",
            &[("#s", "status")],
            HashMap::from([
                (":pending".to_owned(), s("pending")),
                (":now".to_owned(), n(now_millis())),
                (":until".to_owned(), n(self.lease_until())),
            ]),
        )
        .await
    }

    fn consumed(&self) -> (f64, f64) {
        let u = self.take_usage();
        // What the service reported; the size model where it reports nothing (emulators).
        let read = if u.read_units > 0.0 {
            u.read_units
        } else {
            u.modelled_read_units
        };
        let write = if u.write_units > 0.0 {
            u.write_units
        } else {
            u.modelled_write_units
        };
        (read, write)
    }

    async fn counts(&self, api: &ApiKey, from: i64, to: i64) -> Result<Vec<(i64, u64, u64)>, StoreError> {
        if to <= from {
            return Ok(vec![]);
        }
        let items = self
            .query_all(
                "Query (counts)",
                api_pk(api),
                "sk BETWEEN :a AND :b",
                &[
                    (":a", hour_sk(from.div_euclid(60) * 60)),
                    (":b", hour_sk((to - 1).div_euclid(60) * 60)),
                ],
            )
            .await?;
        let mut out = Vec::new();
        for item in &items {
            let Some(hour) = get_s(item, "sk").and_then(|sk| sk.strip_prefix("H#")?.parse::<i64>().ok()) else {
                continue;
            };
            for m in 0..60 {
                let minute = hour + m;
                let calls = get_n(item, &format!("c{m}")).unwrap_or(0);
                let errors = get_n(item, &format!("e{m}")).unwrap_or(0);
                if (calls > 0 || errors > 0) && minute >= from && minute < to {
                    out.push((minute, calls.unsigned_abs(), errors.unsigned_abs()));
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests;
