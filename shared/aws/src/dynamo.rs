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

/// An item's size as DynamoDB counts it: attribute names plus values.
pub fn item_size(item: &Item) -> usize {
    item.iter().map(|(k, v)| k.len() + value_size(v)).sum()
}

fn value_size(v: &AttributeValue) -> usize {
    match v {
        AttributeValue::S(s) => s.len(),
        AttributeValue::N(n) => n.len().div_ceil(2) + 1,
        AttributeValue::B(b) => b.as_ref().len(),
        AttributeValue::Ss(v) => v.iter().map(String::len).sum(),
        AttributeValue::Ns(v) => v.iter().map(|n| n.len().div_ceil(2) + 1).sum(),
        AttributeValue::Bs(v) => v.iter().map(|b| b.as_ref().len()).sum(),
        AttributeValue::M(m) => 3 + m.iter().map(|(k, v)| 1 + k.len() + value_size(v)).sum::<usize>(),
        AttributeValue::L(l) => 3 + l.iter().map(|v| 1 + value_size(v)).sum::<usize>(),
        _ => 1,
    }
}

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

fn unavailable(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(format!(
        "DynamoDB {what} failed: {e}; check the table exists and the function may use it"
    ))
}

fn sdk_err<E: std::error::Error + 'static, R: std::fmt::Debug>(what: &str, e: SdkError<E, R>) -> StoreError {
    unavailable(what, aws_smithy_types::error::display::DisplayErrorContext(&e))
}

fn corrupt(what: &str, why: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt {
        what: what.to_owned(),
        why: why.to_string(),
    }
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: impl std::fmt::Display) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn stream_pk(k: &StreamKey) -> String {
    format!("S#{}#{}", k.0, k.1)
}

fn api_pk(a: &ApiKey) -> String {
    format!("A#{}#{}#{}#{}", a.account, a.region, a.event_source, a.event_name)
}

fn object_pk(object: &str) -> String {
    format!("O#{object}")
}

/// The eventID item of one minute written by one object: written once, never rewritten (late
/// records of a minute go into their own file's item), read back with a Query per minute.
fn ids_sk(minute: i64, object_digest: &str) -> String {
    format!("{}{object_digest}", ids_prefix(minute))
}

fn ids_prefix(minute: i64) -> String {
    format!("I#{minute:012}#")
}

fn hour_sk(hour: i64) -> String {
    format!("H#{hour:012}")
}

fn key(pk: String, sk: &str) -> Item {
    HashMap::from([("pk".to_owned(), s(pk)), ("sk".to_owned(), s(sk))])
}

fn pack<T: Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    let mut enc = DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
    serde_json::to_writer(&mut enc, value).map_err(|e| corrupt("value to store", e))?;
    enc.finish().map_err(|e| corrupt("value to store", e))
}

fn unpack<T: for<'de> Deserialize<'de>>(what: &str, bytes: &[u8]) -> Result<T, StoreError> {
    let mut json = Vec::new();
    DeflateDecoder::new(bytes)
        .read_to_end(&mut json)
        .map_err(|e| corrupt(what, e))?;
    serde_json::from_slice(&json).map_err(|e| corrupt(what, e))
}

fn get_n(item: &Item, name: &str) -> Option<i64> {
    item.get(name)?.as_n().ok()?.parse().ok()
}

fn get_b<'a>(item: &'a Item, name: &str) -> Option<&'a [u8]> {
    item.get(name)?.as_b().ok().map(Blob::as_ref)
}

fn get_s<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name)?.as_s().ok().map(String::as_str)
}

/// A short, stable digest of an object id, recorded in count items.
fn digest(object: &str) -> String {
    format!("{:032x}", trailsight_core::count::event_id_hash(object))
}

fn is_conditional_failure<E: ProvideErrorMetadata, R>(e: &SdkError<E, R>) -> bool {
    matches!(e, SdkError::ServiceError(se) if se.err().code() == Some("ConditionalCheckFailedException"))
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

    /// Counts one request and the capacity the service reported for it.
    fn meter<'a>(&self, write: bool, caps: impl IntoIterator<Item = &'a ConsumedCapacity>) {
        let total: f64 = caps.into_iter().filter_map(ConsumedCapacity::capacity_units).sum();
        if let Ok(mut u) = self.usage.lock() {
            u.requests += 1;
            if write {
                u.write_units += total;
            } else {
                u.read_units += total;
            }
        }
    }

    /// Adds the write units DynamoDB charges for writing `item` (1 per KB, `factor` 2 in a
    /// transaction).
    fn model_write(&self, item: &Item, factor: f64) {
        if let Ok(mut u) = self.usage.lock() {
            u.modelled_write_units += factor * (item_size(item) as f64 / 1024.0).ceil().max(1.0);
        }
    }

    /// Adds the read units of strongly consistent reads of `items` (1 per 4 KB each; a key
    /// that finds nothing still costs 1).
    fn model_reads(&self, items: &[Item], missing: usize) {
        if let Ok(mut u) = self.usage.lock() {
            let found: f64 = items
                .iter()
                .map(|i| (item_size(i) as f64 / 4096.0).ceil().max(1.0))
                .sum();
            u.modelled_read_units += found + missing as f64;
        }
    }

    /// Requests and units since the last call (for metrics and the cost benchmark).
    pub fn take_usage(&self) -> Usage {
        self.usage
            .lock()
            .map(|mut u| std::mem::take(&mut *u))
            .unwrap_or_default()
    }

    /// Reads items by key with consistent reads, in batches, until none is left unprocessed.
    async fn batch_get(&self, keys: Vec<Item>) -> Result<Vec<Item>, StoreError> {
        let mut out = Vec::new();
        for chunk in keys.chunks(BATCH_GET) {
            let mut pending = chunk.to_vec();
            let mut round = 0u32;
            while !pending.is_empty() {
                let request_len = pending.len();
                let request = KeysAndAttributes::builder()
                    .set_keys(Some(std::mem::take(&mut pending)))
                    .consistent_read(true)
                    .build()
                    .map_err(|e| unavailable("BatchGetItem", e))?;
                let resp = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, request)
                    .return_consumed_capacity(ReturnConsumedCapacity::Total)
                    .send()
                    .await
                    .map_err(|e| sdk_err("BatchGetItem", e))?;
                self.meter(false, resp.consumed_capacity());
                let asked = request_len;
                let items = resp
                    .responses()
                    .and_then(|r| r.get(&self.table))
                    .map(Vec::as_slice)
                    .unwrap_or(&[]);
                let left = resp
                    .unprocessed_keys()
                    .and_then(|u| u.get(&self.table))
                    .map_or(0, |k| k.keys().len());
                self.model_reads(items, asked.saturating_sub(items.len() + left));
                out.extend(items.iter().cloned());
                if let Some(left) = resp.unprocessed_keys().and_then(|u| u.get(&self.table)) {
                    pending = left.keys().to_vec();
                }
                if !pending.is_empty() {
                    round += 1;
                    backoff(round).await;
                }
            }
        }
        Ok(out)
    }

    async fn ledger(&self, object: &str) -> Result<Option<Item>, StoreError> {
        let resp = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(object_pk(object), "LEDGER")))
            .consistent_read(true)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(|e| sdk_err("GetItem", e))?;
        self.meter(false, resp.consumed_capacity());
        match resp.item() {
            Some(item) => self.model_reads(std::slice::from_ref(item), 0),
            None => self.model_reads(&[], 1),
        }
        Ok(resp.item().cloned())
    }

    /// The payload of a committed object (reassembled from its chunks if it has them).
    async fn payload(&self, object: &str, ledger: &Item) -> Result<Payload, StoreError> {
        let parts = get_n(ledger, "parts").unwrap_or(0);
        let attempt = get_s(ledger, "payload").ok_or_else(|| corrupt(object, "ledger entry names no payload"))?;
        let keys = (0..parts)
            .map(|i| key(object_pk(object), &format!("P#{attempt}#{i:04}")))
            .collect();
        let mut items = self.batch_get(keys).await?;
        items.sort_by(|a, b| get_s(a, "sk").cmp(&get_s(b, "sk")));
        if items.len() != usize::try_from(parts).unwrap_or(usize::MAX) {
            return Err(corrupt(
                object,
                format!("{parts} payload chunks expected, {} found", items.len()),
            ));
        }
        let mut bytes = Vec::new();
        for item in &items {
            bytes.extend_from_slice(get_b(item, "data").ok_or_else(|| corrupt(object, "payload chunk without data"))?);
        }
        unpack(object, &bytes)
    }

    async fn put_api(&self, api: &ApiKey, version: u64, state: &ApiState) -> Result<(), StoreError> {
        let mut item = key(api_pk(api), "STATE");
        item.insert("state".into(), AttributeValue::B(Blob::new(pack(state)?)));
        item.insert("version".into(), n(version));
        self.model_write(&item, 1.0);
        match self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk) OR version < :v")
            .expression_attribute_values(":v", n(version))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
        {
            Ok(out) => {
                self.meter(true, out.consumed_capacity());
                Ok(())
            }
            Err(e) if is_conditional_failure(&e) => Ok(()), // already rolled forward
            Err(e) => Err(sdk_err("PutItem", e)),
        }
    }

    /// Adds one object's counts to one API-hour item, unless that object was added before.
    async fn add_counts(
        &self,
        api: &ApiKey,
        hour: i64,
        counts: Vec<MinuteOfHour>,
        object_digest: String,
        expires: i64,
    ) -> Result<(), StoreError> {
        let mut expr = Vec::new();
        let mut values = HashMap::new();
        for (m, calls, errors) in counts {
            expr.push(format!("c{m} :c{m}, e{m} :e{m}"));
            values.insert(format!(":c{m}"), n(calls));
            values.insert(format!(":e{m}"), n(errors));
        }
        values.insert(":o".into(), AttributeValue::Ss(vec![object_digest.clone()]));
        values.insert(":od".into(), s(object_digest));
        values.insert(":x".into(), n(expires));
        let update = format!("ADD {}, objs :o SET expires = :x", expr.join(", "));
        match self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(api_pk(api), &hour_sk(hour * 60))))
            .update_expression(update)
            .condition_expression("attribute_not_exists(objs) OR NOT contains(objs, :od)")
            .set_expression_attribute_values(Some(values))
            .return_values(ReturnValue::AllNew)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
        {
            Ok(out) => {
                self.meter(true, out.consumed_capacity());
                self.model_write(out.attributes().unwrap_or(&Item::new()), 1.0);
                Ok(())
            }
            Err(e) if is_conditional_failure(&e) => Ok(()), // counted before
            Err(e) => Err(sdk_err("UpdateItem (counts)", e)),
        }
    }

    /// Puts one object's eventIDs of one minute (idempotent: a retry writes the same item).
    async fn put_ids(
        &self,
        stream: &StreamKey,
        minute: i64,
        object_digest: &str,
        ids: Vec<Blob>,
        expires: i64,
    ) -> Result<(), StoreError> {
        let mut item = key(stream_pk(stream), &ids_sk(minute, object_digest));
        item.insert("ids".into(), AttributeValue::Bs(ids));
        item.insert("expires".into(), n(expires));
        self.model_write(&item, 1.0);
        let out = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(|e| sdk_err("PutItem (event ids)", e))?;
        self.meter(true, out.consumed_capacity());
        Ok(())
    }

    /// Every item of partition `pk` whose sort key matches `sk_condition` (a consistent,
    /// paginated Query, metered). `what` names the request in errors.
    async fn query_all(
        &self,
        what: &'static str,
        pk: String,
        sk_condition: &str,
        values: &[(&str, String)],
    ) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let mut query = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression(format!("pk = :pk AND {sk_condition}"))
                .expression_attribute_values(":pk", s(pk.clone()))
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .return_consumed_capacity(ReturnConsumedCapacity::Total);
            for (name, value) in values {
                query = query.expression_attribute_values(*name, s(value.clone()));
            }
            let resp = query.send().await.map_err(|e| sdk_err(what, e))?;
            self.meter(false, resp.consumed_capacity());
            if let Ok(mut u) = self.usage.lock() {
                let bytes: usize = resp.items().iter().map(item_size).sum();
                u.modelled_read_units += (bytes as f64 / 4096.0).ceil().max(1.0);
            }
            items.extend(resp.items().iter().cloned());
            match resp.last_evaluated_key() {
                Some(k) if !k.is_empty() => start = Some(k.clone()),
                _ => break,
            }
        }
        Ok(items)
    }

    /// The eventIDs of one stream and minute, from every object's item.
    async fn minute_ids(&self, stream: &StreamKey, minute: i64) -> Result<Vec<(u64, i64)>, StoreError> {
        let items = self
            .query_all(
                "Query (event ids)",
                stream_pk(stream),
                "begins_with(sk, :m)",
                &[(":m", ids_prefix(minute))],
            )
            .await?;
        let blobs = items
            .iter()
            .filter_map(|item| item.get("ids").and_then(|v| v.as_bs().ok()))
            .flatten();
        Ok(blobs
            .filter_map(|blob| <[u8; 8]>::try_from(blob.as_ref()).ok())
            .map(|bytes| (u64::from_be_bytes(bytes), minute))
            .collect())
    }

    /// The eventIDs seen in the given minutes of the given streams (queries run 16 at a time).
    async fn load_ids(
        &self,
        streams: &[StreamKey],
        minutes: &[i64],
    ) -> Result<BTreeMap<StreamKey, Vec<(u64, i64)>>, StoreError> {
        let mut queries = Vec::with_capacity(streams.len() * minutes.len());
        let mut owners = Vec::with_capacity(streams.len() * minutes.len());
        for st in streams {
            for m in minutes {
                queries.push(self.minute_ids(st, *m));
                owners.push(st);
            }
        }
        let results: Vec<Vec<(u64, i64)>> = stream::iter(queries).buffered(CONCURRENCY).try_collect().await?;
        let mut out: BTreeMap<StreamKey, Vec<(u64, i64)>> = BTreeMap::new();
        for (st, ids) in owners.into_iter().zip(results) {
            out.entry(st.clone()).or_default().extend(ids);
        }
        Ok(out)
    }

    /// Finishes a committed object's writes (idempotent; see the module docs).
    async fn roll_forward(&self, object: &str, payload: &Payload) -> Result<(), StoreError> {
        let mut puts = Vec::with_capacity(payload.apis.len());
        for (api, version, state) in &payload.apis {
            puts.push(self.put_api(api, *version, state));
        }
        stream::iter(puts)
            .buffer_unordered(CONCURRENCY)
            .try_collect::<Vec<()>>()
            .await?;

        let object_digest = digest(object);
        let expires = now_secs() + COUNTS_TTL_SECS;
        let mut hours: BTreeMap<(&ApiKey, i64), Vec<MinuteOfHour>> = BTreeMap::new();
        for c in &payload.counts {
            hours.entry((&c.api, c.minute.div_euclid(60))).or_default().push((
                c.minute.rem_euclid(60),
                c.calls,
                c.errors,
            ));
        }
        let mut adds = Vec::with_capacity(hours.len());
        for ((api, hour), counts) in hours {
            adds.push(self.add_counts(api, hour, counts, object_digest.clone(), expires));
        }
        stream::iter(adds)
            .buffer_unordered(CONCURRENCY)
            .try_collect::<Vec<()>>()
            .await?;

        let ids_expire = now_secs() + IDS_TTL_SECS;
        let mut by_minute: BTreeMap<(&StreamKey, i64), Vec<Blob>> = BTreeMap::new();
        for (stream, ids) in &payload.ids {
            for (id, minute) in ids {
                // Ids are 64-bit (see `event_id_hash`): 8 bytes each.
                by_minute
                    .entry((stream, *minute))
                    .or_default()
                    .push(Blob::new(id.to_be_bytes().to_vec()));
            }
        }
        let mut id_writes = Vec::with_capacity(by_minute.len());
        for ((stream, minute), blobs) in by_minute {
            id_writes.push(self.put_ids(stream, minute, &object_digest, blobs, ids_expire));
        }
        stream::iter(id_writes)
            .buffer_unordered(CONCURRENCY)
            .try_collect::<Vec<()>>()
            .await?;

        for st in &payload.streams {
            match self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key(stream_pk(st), "STATE")))
                .update_expression("REMOVE pending")
                .condition_expression("pending = :o")
                .expression_attribute_values(":o", s(object))
                .return_values(ReturnValue::AllNew)
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .send()
                .await
            {
                Ok(out) => {
                    self.meter(true, out.consumed_capacity());
                    self.model_write(out.attributes().unwrap_or(&Item::new()), 1.0);
                }
                Err(e) if is_conditional_failure(&e) => {}
                Err(e) => return Err(sdk_err("UpdateItem (stream)", e)),
            }
        }
        Ok(())
    }

    /// Finishes the roll-forward of `object` if its ledger entry still has a payload.
    async fn finish(&self, object: &str) -> Result<(), StoreError> {
        if let Some(ledger) = self.ledger(object).await? {
            if get_s(&ledger, "status") == Some("pending") {
                let payload = self.payload(object, &ledger).await?;
                self.roll_forward(object, &payload).await?;
            }
        }
        Ok(())
    }

    async fn load_streams(
        &self,
        streams: &[StreamKey],
    ) -> Result<BTreeMap<StreamKey, (Item, Option<String>)>, StoreError> {
        let items = self
            .batch_get(streams.iter().map(|k| key(stream_pk(k), "STATE")).collect())
            .await?;
        let mut by_pk: HashMap<String, Item> = items
            .into_iter()
            .filter_map(|i| get_s(&i, "pk").map(str::to_owned).map(|pk| (pk, i)))
            .collect();
        Ok(streams
            .iter()
            .filter_map(|k| {
                let item = by_pk.remove(&stream_pk(k))?;
                let pending = get_s(&item, "pending").map(str::to_owned);
                Some((k.clone(), (item, pending)))
            })
            .collect())
    }
}

async fn backoff(round: u32) {
    let base = 25u64.saturating_mul(1 << round.min(6));
    let jitter = rand::random::<u64>() % base.max(1);
    tokio::time::sleep(std::time::Duration::from_millis(base / 2 + jitter)).await;
}

fn txn_error(e: SdkError<TransactWriteItemsError>) -> Result<CommitOutcome, StoreError> {
    if let SdkError::ServiceError(se) = &e {
        if let TransactWriteItemsError::TransactionCanceledException(c) = se.err() {
            let codes: Vec<&str> = c
                .cancellation_reasons()
                .iter()
                .map(|r| r.code().unwrap_or("None"))
                .collect();
            // The ledger put is the first item: failing its condition means a duplicate.
            if codes.first() == Some(&"ConditionalCheckFailed") {
                return Ok(CommitOutcome::AlreadyCommitted);
            }
            if codes
                .iter()
                .any(|c| *c == "ConditionalCheckFailed" || *c == "TransactionConflict")
            {
                return Ok(CommitOutcome::Conflict);
            }
            return Err(unavailable("TransactWriteItems", format!("cancelled: {codes:?}")));
        }
        if se.err().code() == Some("TransactionConflictException") {
            return Ok(CommitOutcome::Conflict);
        }
    }
    Err(sdk_err("TransactWriteItems", e))
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
            self.model_write(&item, 1.0);
            let out = self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(item))
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .send()
                .await
                .map_err(|e| sdk_err("PutItem (payload)", e))?;
            self.meter(true, out.consumed_capacity());
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
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(object_pk(object), "LEDGER")))
            .update_expression("SET #s = :done")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#s", "status")
            .expression_attribute_values(":done", s("done"))
            .return_values(ReturnValue::AllNew)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(|e| sdk_err("UpdateItem (ledger)", e))?;
        self.meter(true, out.consumed_capacity());
        self.model_write(out.attributes().unwrap_or(&Item::new()), 1.0);
        Ok(())
    }

    async fn mark_delivered(&self, object: &str, ids: &[String]) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(object_pk(object), "LEDGER")))
            .update_expression("ADD delivered :ids")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":ids", AttributeValue::Ss(ids.to_vec()))
            .return_values(ReturnValue::AllNew)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(|e| sdk_err("UpdateItem (ledger)", e))?;
        self.meter(true, out.consumed_capacity());
        self.model_write(out.attributes().unwrap_or(&Item::new()), 1.0);
        Ok(())
    }

    async fn claim_send(&self, object: &str) -> Result<bool, StoreError> {
        match self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(object_pk(object), "LEDGER")))
            .update_expression("SET lease = :until")
            .condition_expression("#s = :pending AND (attribute_not_exists(lease) OR lease < :now)")
            .expression_attribute_names("#s", "status")
            .expression_attribute_values(":pending", s("pending"))
            .expression_attribute_values(":now", n(now_millis()))
            .expression_attribute_values(":until", n(self.lease_until()))
            .return_values(ReturnValue::AllNew)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
        {
            Ok(out) => {
                self.meter(true, out.consumed_capacity());
                self.model_write(out.attributes().unwrap_or(&Item::new()), 1.0);
                Ok(true)
            }
            Err(e) if is_conditional_failure(&e) => Ok(false),
            Err(e) => Err(sdk_err("UpdateItem (ledger lease)", e)),
        }
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

/// Creates the table as the SAM template does (for tests and local emulators).
pub async fn create_table(client: &Client, table: &str) -> Result<(), StoreError> {
    use aws_sdk_dynamodb::types::{AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType};
    let attr = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .map_err(|e| unavailable("CreateTable", e))
    };
    let key_el = |name: &str, kind| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
            .map_err(|e| unavailable("CreateTable", e))
    };
    client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr("pk")?)
        .attribute_definitions(attr("sk")?)
        .key_schema(key_el("pk", KeyType::Hash)?)
        .key_schema(key_el("sk", KeyType::Range)?)
        .send()
        .await
        .map_err(|e| sdk_err("CreateTable", e))?;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use trailsight_core::count::count_log;
    use trailsight_core::key::{classify, Classified};
    use trailsight_core::pipeline::Pipeline;

    /// Three days of one busy API (~20 calls a minute, 40 callers, 6 user agents, two error
    /// codes), in hourly files.
    fn busy_api_state() -> ApiState {
        let mut pipeline = Pipeline::new(trailsight_core::detect::DetectorConfig::default());
        let mut id = 0u64;
        for hour in 0..72i64 {
            let mut recs = Vec::new();
            for m in 0..60 {
                let minute = hour * 60 + m;
                for k in 0..(15 + (minute * 7) % 11) {
                    id += 1;
                    let error = match id % 50 {
                        0 => r#","errorCode":"AccessDenied""#,
                        1 => r#","errorCode":"ThrottlingException""#,
                        _ => "",
                    };
                    recs.push(format!(
                        r#"{{"eventTime":"2024-01-{:02}T{:02}:{:02}:05Z","eventSource":"ec2.amazonaws.com","eventName":"DescribeInstances","awsRegion":"us-east-1","recipientAccountId":"111122223333","eventID":"e-{id}","userIdentity":{{"arn":"arn:aws:sts::111122223333:assumed-role/app-{}/i-{}"}},"userAgent":"agent-{}"{error}}}"#,
                        1 + minute / 1440,
                        minute / 60 % 24,
                        minute % 60,
                        k % 40,
                        k,
                        k % 6
                    ));
                }
            }
            let end = hour * 60 + 60;
            let name = format!(
                "111122223333_CloudTrail_us-east-1_202401{:02}T{:02}00Z_{:016}.json",
                1 + end / 1440,
                end / 60 % 24,
                hour
            );
            let Classified::Log(key) = classify(&name) else {
                panic!("{name}")
            };
            let text = format!(r#"{{"Records":[{}]}}"#, recs.join(","));
            let batch = count_log(text.as_bytes(), &name, Some(&key), false).unwrap();
            pipeline.apply(Some(&key), batch);
        }
        let api = ApiKey {
            account: "111122223333".into(),
            region: "us-east-1".into(),
            event_source: "ec2.amazonaws.com".into(),
            event_name: "DescribeInstances".into(),
        };
        pipeline.api_state(&api).cloned().unwrap()
    }

    #[test]
    fn a_busy_apis_stored_state_stays_within_a_few_kilobytes() {
        // Given three days of a busy API with many callers
        let state = busy_api_state();
        // When packed as the store writes it
        let bytes = pack(&state).unwrap();
        // Then it stays compact (each write of it costs one write unit per KB), and reads back
        assert!(bytes.len() < 6 * 1024, "stored API state is {} bytes", bytes.len());
        // (map order may differ between runs, so the bytes are compared by size only)
        let back: ApiState = unpack("api", &bytes).unwrap();
        assert!(pack(&back).unwrap().len().abs_diff(bytes.len()) < 256);
    }

    #[test]
    fn item_size_counts_names_and_values_as_dynamodb_does() {
        // Given an item with a string, a number and a binary set
        let item: Item = HashMap::from([
            ("pk".to_owned(), s("abc")),
            ("n".to_owned(), n(12345)),
            (
                "ids".to_owned(),
                AttributeValue::Bs(vec![Blob::new(vec![0; 8]), Blob::new(vec![1; 8])]),
            ),
        ]);
        // Then names plus values: 2+3, 1+4, 3+16
        assert_eq!(item_size(&item), 5 + 5 + 19);
    }
}
