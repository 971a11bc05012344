//! Item plumbing: keys, attribute values, (de)compression, sizes as DynamoDB counts them,
//! and the errors the store reports.

use super::*;

pub(super) fn unavailable(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(format!("DynamoDB {what} failed: {e}; check the table exists and the function may use it"))
}

pub(super) fn sdk_err<E: std::error::Error + 'static, R: std::fmt::Debug>(what: &str, e: SdkError<E, R>) -> StoreError {
    unavailable(what, aws_smithy_types::error::display::DisplayErrorContext(&e))
}

/// A ledger entry that should exist (its object was committed) is gone.
pub(super) fn missing_ledger(object: &str) -> StoreError {
    corrupt(object, "its ledger entry is missing after its commit; was the table item deleted by hand?")
}

pub(super) fn corrupt(what: &str, why: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt { what: what.to_owned(), why: why.to_string() }
}

/// A request's `ExpressionAttributeNames` from (placeholder, name) pairs; none when empty.
pub(crate) fn expression_names(names: &[(&str, &str)]) -> Option<HashMap<String, String>> {
    (!names.is_empty()).then(|| names.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect())
}

pub(super) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub(super) fn n(v: impl std::fmt::Display) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

pub(super) fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

pub(super) fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

pub(super) fn stream_pk(k: &StreamKey) -> String {
    format!("S#{}#{}", k.0, k.1)
}

pub(super) fn object_pk(object: &str) -> String {
    format!("O#{object}")
}

/// Part `part` of journal entry `seq` of a stream.
pub(super) fn entry_sk(seq: u64, part: usize) -> String {
    format!("{}D{part:03}", journal_prefix(seq))
}

/// Part `part` of the checkpoint taken at `seq` by commit attempt `attempt`.
pub(super) fn checkpoint_sk(seq: u64, attempt: &str, part: usize) -> String {
    format!("{}K{attempt}#{part:03}", journal_prefix(seq))
}

/// Every journal item (entry or checkpoint part) of sequence number `seq` starts with this.
pub(super) fn journal_prefix(seq: u64) -> String {
    format!("J#{seq:012}#")
}

/// Part `part` of an object's events.
pub(super) fn events_sk(part: usize) -> String {
    format!("E#{part:03}")
}

/// A put for a transaction, with an optional condition.
pub(super) fn put_if(table: &str, item: Item, condition: Option<&str>) -> Result<TransactWriteItem, StoreError> {
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .set_condition_expression(condition.map(str::to_owned))
        .build()
        .map_err(|e| unavailable("TransactWriteItems", e))?;
    Ok(TransactWriteItem::builder().put(put).build())
}

/// The head update of a commit: `seq` moves from `version` (which must still be there) to
/// `version + 1`, naming the checkpoint `(attempt, parts, time)` written for it, if any.
pub(super) fn head_update(
    table: &str,
    stream: &StreamKey,
    version: u64,
    checkpoint: Option<(&str, usize, i64)>,
) -> Result<TransactWriteItem, StoreError> {
    let seq = version + 1;
    let mut update = "SET seq = :seq".to_owned();
    let mut values = HashMap::from([(":seq".to_owned(), n(seq))]);
    if let Some((attempt, parts, at)) = checkpoint {
        update.push_str(", cp = :seq, cpa = :cpa, cpn = :cpn, cpt = :cpt");
        values.insert(":cpa".into(), s(attempt));
        values.insert(":cpn".into(), n(parts));
        values.insert(":cpt".into(), n(at));
    }
    let condition = if version == 0 {
        "attribute_not_exists(pk)"
    } else {
        values.insert(":v".into(), n(version));
        "seq = :v"
    };
    let update = Update::builder()
        .table_name(table)
        .set_key(Some(key(stream_pk(stream), "HEAD")))
        .update_expression(update)
        .condition_expression(condition)
        .set_expression_attribute_values(Some(values))
        .build()
        .map_err(|e| unavailable("TransactWriteItems", e))?;
    Ok(TransactWriteItem::builder().update(update).build())
}

/// The head item as a commit leaves it, for its size: its key, `seq`, and the checkpoint
/// `(attempt, parts, time)` the update names, if any (the attributes [`head_update`] sets).
pub(super) fn head_item(stream: &StreamKey, seq: u64, checkpoint: Option<(&str, usize, i64)>) -> Item {
    let mut item = key(stream_pk(stream), "HEAD");
    item.insert("seq".into(), n(seq));
    if let Some((attempt, parts, at)) = checkpoint {
        item.insert("cp".into(), n(seq));
        item.insert("cpa".into(), s(attempt));
        item.insert("cpn".into(), n(parts));
        item.insert("cpt".into(), n(at));
    }
    item
}

/// The turn item `holder` puts to take `stream`'s turn until `until` (milliseconds).
pub(super) fn turn_item(stream: &StreamKey, holder: &str, until: i64, expires: i64) -> Item {
    let mut item = key(stream_pk(stream), "TURN");
    item.insert("holder".into(), s(holder));
    item.insert("until".into(), n(until));
    item.insert("expires".into(), n(expires));
    item
}

/// Write units DynamoDB charges for writing an item of `size` bytes: 1 per KB started, times
/// `factor` (2 in a transaction).
pub(super) fn write_units(size: usize, factor: f64) -> f64 {
    factor * (size as f64 / 1024.0).ceil().max(1.0)
}

/// Read units of a strongly consistent read of `size` bytes (one item, or one page of a
/// Query): 1 per 4 KB started, and 1 for a read that finds nothing.
pub(super) fn read_units(size: usize) -> f64 {
    (size as f64 / 4096.0).ceil().max(1.0)
}

/// Minutes one eventID item spans at most, from its first minute: a load for minute `m`
/// reads the items that start within this many minutes before it.
pub(super) const IDS_SPAN: i64 = 60;
/// EventIDs per item at most (8 bytes each: 320 KB, under DynamoDB's 400 KB).
const IDS_PER_ITEM: usize = 40_000;

/// Part `part` of the eventIDs one object added to a stream, starting at minute `first`:
/// written once, read back by range Queries over the first minutes.
pub(super) fn ids_sk(first: i64, object_digest: &str, part: usize) -> String {
    format!("{}{object_digest}#{part:03}", ids_prefix(first))
}

pub(super) fn ids_prefix(minute: i64) -> String {
    format!("I#{minute:012}#")
}

/// One stream's new eventIDs as items: `(first minute, blob)`, each spanning at most
/// [`IDS_SPAN`] minutes and [`IDS_PER_ITEM`] ids. A blob is, per minute, its offset from the
/// first minute (u16), its number of ids (u32) and the ids (u64 each), big-endian.
pub(super) fn pack_ids(ids: &[(u64, i64)]) -> Vec<(i64, Vec<u8>)> {
    let mut sorted = ids.to_vec();
    sorted.sort_by_key(|&(id, minute)| (minute, id));
    let mut items: Vec<(i64, Vec<u8>, usize)> = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let minute = sorted[i].1;
        let run = sorted[i..].iter().take_while(|(_, m)| *m == minute).count();
        let mut taken = 0;
        while taken < run {
            let fits = matches!(items.last(), Some((first, _, n)) if minute - first < IDS_SPAN && *n < IDS_PER_ITEM);
            if !fits {
                items.push((minute, Vec::new(), 0));
            }
            let Some((first, blob, n)) = items.last_mut() else {
                break;
            };
            let count = (run - taken).min(IDS_PER_ITEM - *n);
            blob.extend_from_slice(&u16::try_from(minute - *first).unwrap_or(u16::MAX).to_be_bytes());
            blob.extend_from_slice(&u32::try_from(count).unwrap_or(u32::MAX).to_be_bytes());
            for (id, _) in &sorted[i + taken..i + taken + count] {
                blob.extend_from_slice(&id.to_be_bytes());
            }
            *n += count;
            taken += count;
        }
        i += run;
    }
    items.into_iter().map(|(first, blob, _)| (first, blob)).collect()
}

/// The `(id, minute)`s of an eventID item written by [`pack_ids`]; `None` if the blob is
/// malformed.
pub(super) fn unpack_ids(first: i64, blob: &[u8]) -> Option<Vec<(u64, i64)>> {
    let mut out = Vec::with_capacity(blob.len() / 8);
    let mut rest = blob;
    while !rest.is_empty() {
        let (head, tail) = rest.split_at_checked(6)?;
        let offset = u16::from_be_bytes(head.get(..2)?.try_into().ok()?);
        let count = u32::from_be_bytes(head.get(2..6)?.try_into().ok()?) as usize;
        let (ids, tail) = tail.split_at_checked(count.checked_mul(8)?)?;
        let minute = first + i64::from(offset);
        out.extend(ids.chunks_exact(8).filter_map(|c| Some((u64::from_be_bytes(c.try_into().ok()?), minute))));
        rest = tail;
    }
    Some(out)
}

pub(super) fn key(pk: String, sk: &str) -> Item {
    HashMap::from([("pk".to_owned(), s(pk)), ("sk".to_owned(), s(sk))])
}

pub(super) fn pack<T: Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    // Written once, read a dozen times, billed per KB: worth the default level's effort.
    let mut enc = DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    serde_json::to_writer(&mut enc, value).map_err(|e| corrupt("value to store", e))?;
    enc.finish().map_err(|e| corrupt("value to store", e))
}

pub(super) fn unpack<T: for<'de> Deserialize<'de>>(what: &str, bytes: &[u8]) -> Result<T, StoreError> {
    let mut json = Vec::new();
    DeflateDecoder::new(bytes).read_to_end(&mut json).map_err(|e| corrupt(what, e))?;
    serde_json::from_slice(&json).map_err(|e| corrupt(what, e))
}

pub(super) fn get_n(item: &Item, name: &str) -> Option<i64> {
    item.get(name)?.as_n().ok()?.parse().ok()
}

pub(super) fn get_b<'a>(item: &'a Item, name: &str) -> Option<&'a [u8]> {
    item.get(name)?.as_b().ok().map(Blob::as_ref)
}

pub(super) fn get_s<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name)?.as_s().ok().map(String::as_str)
}

/// A short, stable digest of an object id, recorded in count items.
pub(super) fn digest(object: &str) -> String {
    format!("{:032x}", trailsight_core::log::count::event_id_hash(object))
}

pub(super) fn is_conditional_failure<E: ProvideErrorMetadata, R>(e: &SdkError<E, R>) -> bool {
    matches!(e, SdkError::ServiceError(se) if se.err().code() == Some("ConditionalCheckFailedException"))
}

/// An item's size as DynamoDB counts it: attribute names plus values.
pub fn item_size(item: &Item) -> usize {
    item.iter().map(|(k, v)| k.len() + value_size(v)).sum()
}

pub(super) fn value_size(v: &AttributeValue) -> usize {
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
