//! A size model of the table: what each operation of the store writes and reads, item by item
//! and per partition key, without DynamoDB. `bench-org` runs an organization's files through
//! the handler with the in-memory store and feeds every operation to a [`TableModel`], to
//! report items and capacity units per partition key per second.
//!
//! The model is built from the store's own code: commits from the same item builder the
//! store sends (`plan`), loads from the same key ranges its Queries read (`read`), turns from
//! the same turn item. Units follow DynamoDB's on-demand rules, as the store's own metering
//! does: 1 write unit per KB started (2 in a transaction, an update charged on the item's new
//! size, a delete 1), 1 read unit per 4 KB started of a strongly consistent read (per item for
//! a get, per page of up to 1 MB for a Query), a read that finds nothing 1. Items never expire
//! in the model (the shortest TTL, the eventID items', is two days); a turn is always found free
//! (one read, one put, one delete), as it is for a stream with one file at a time.

use super::*;

/// Items and units one operation spends in one partition key.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PartitionUnits {
    /// The partition key (`S#{account}#{region}` or `O#{object}`).
    pub pk: String,
    /// Items written: put, updated or deleted.
    pub items: u32,
    /// Write units.
    pub write_units: f64,
    /// Read units.
    pub read_units: f64,
}

/// What one operation of the store costs in the table.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Consumed {
    /// Requests one after another (requests the store sends together count once): what the
    /// operation waits for the network.
    pub round_trips: u32,
    /// Requests in all.
    pub requests: u32,
    /// Per partition key, in the order first touched.
    pub partitions: Vec<PartitionUnits>,
}

impl Consumed {
    fn partition(&mut self, pk: &str) -> &mut PartitionUnits {
        let i = match self.partitions.iter().position(|p| p.pk == pk) {
            Some(i) => i,
            None => {
                self.partitions.push(PartitionUnits { pk: pk.to_owned(), ..PartitionUnits::default() });
                self.partitions.len() - 1
            }
        };
        &mut self.partitions[i]
    }

    fn write(&mut self, pk: &str, units: f64) {
        let p = self.partition(pk);
        p.items += 1;
        p.write_units += units;
    }

    fn read(&mut self, pk: &str, units: f64) {
        self.partition(pk).read_units += units;
    }

    /// `requests` requests sent together, at most [`CONCURRENCY`] at a time.
    fn requests(&mut self, requests: usize) {
        let n = u32::try_from(requests).unwrap_or(u32::MAX);
        self.requests = self.requests.saturating_add(n);
        self.round_trips = self.round_trips.saturating_add(n.div_ceil(CONCURRENCY as u32));
    }

    /// Adds another operation's consumption (run after this one).
    pub fn add(&mut self, other: &Consumed) {
        self.round_trips += other.round_trips;
        self.requests += other.requests;
        for p in &other.partitions {
            let mine = self.partition(&p.pk);
            mine.items += p.items;
            mine.write_units += p.write_units;
            mine.read_units += p.read_units;
        }
    }

    /// Write units over every partition.
    pub fn write_units(&self) -> f64 {
        self.partitions.iter().map(|p| p.write_units).sum()
    }

    /// Read units over every partition.
    pub fn read_units(&self) -> f64 {
        self.partitions.iter().map(|p| p.read_units).sum()
    }
}

/// The attempt id the model writes checkpoints under (as long as a real one).
const MODEL_ATTEMPT: &str = "0000000000000000";
/// A Query returns at most this many bytes of items per page (each page is billed apart).
const QUERY_PAGE: usize = 1 << 20;

/// One item a commit writes, with what the model keeps of it.
#[derive(Debug, Clone)]
struct Written {
    pk: String,
    sk: String,
    size: usize,
    /// 1 for a plain put, 2 in the transaction.
    factor: f64,
    /// The `object` attribute (journal entries and eventID items).
    object: Option<String>,
    /// The minutes an eventID item holds ids of.
    minutes: Vec<i64>,
}

impl Written {
    fn new(item: &Item, factor: f64) -> Self {
        let sk = get_s(item, "sk").unwrap_or_default().to_owned();
        let minutes = match (sk.strip_prefix("I#").and_then(|r| r.split('#').next()), get_b(item, "ids")) {
            (Some(first), Some(blob)) => {
                let first = first.parse::<i64>().unwrap_or(0);
                let mut minutes: Vec<i64> =
                    unpack_ids(first, blob).unwrap_or_default().into_iter().map(|(_, m)| m).collect();
                minutes.dedup();
                minutes
            }
            _ => vec![],
        };
        Written {
            pk: get_s(item, "pk").unwrap_or_default().to_owned(),
            sk,
            size: item_size(item),
            factor,
            object: get_s(item, "object").map(str::to_owned),
            minutes,
        }
    }
}

/// A commit as the store would write it, ready to be recorded in a [`TableModel`].
#[derive(Debug, Clone)]
pub struct PlannedCommit {
    items: Vec<Written>,
    /// Per stream: the new sequence number and whether it took a checkpoint.
    heads: Vec<(StreamKey, u64, bool)>,
    /// The store's requests: the eventID puts, each checkpoint's puts, the transaction.
    batches: Vec<usize>,
}

impl PlannedCommit {
    /// Plans `commit` with the store's item builder; `due` says which streams take a
    /// checkpoint (besides those the commit carries no journal entry for).
    fn new(commit: &Commit, due: impl Fn(&StreamKey, u64) -> bool, now: i64) -> Result<Self, StoreError> {
        let lease_until =
            now.saturating_mul(1000).saturating_add(i64::try_from(DEFAULT_LEASE.as_millis()).unwrap_or(i64::MAX));
        let plan = plan_commit(commit, due, MODEL_ATTEMPT, now, lease_until)?;
        let mut items: Vec<Written> = plan.ids.iter().map(|i| Written::new(i, 1.0)).collect();
        let mut batches = vec![plan.ids.len()];
        for parts in plan.checkpoints.values() {
            items.extend(parts.iter().map(|i| Written::new(i, 1.0)));
            batches.push(parts.len());
        }
        let mut heads = Vec::new();
        for write in &plan.transaction {
            items.push(Written::new(&write.item(), 2.0));
            if let plan::TxnWrite::Head { stream, version, checkpoint } = write {
                heads.push((stream.clone(), version + 1, checkpoint.is_some()));
            }
        }
        batches.push(usize::from(!plan.transaction.is_empty()));
        Ok(PlannedCommit { items, heads, batches })
    }

    /// What writing it costs, per partition key.
    fn consumed(&self) -> Consumed {
        let mut c = Consumed::default();
        for &n in self.batches.iter().filter(|n| **n > 0) {
            c.requests(n);
        }
        for w in &self.items {
            c.write(&w.pk, write_units(w.size, w.factor));
        }
        c
    }
}

/// The items and write units `commit` writes, per partition key, built with the store's own
/// item builder: its eventID items (plain puts, 1 unit per KB), the parts of a checkpoint for
/// each stream where `checkpoint_due` (or that the commit carries no journal entry for), and
/// the transaction (ledger, events, heads, journal entries: 2 units per KB). `now` (seconds)
/// is the commit's time, as in the TTLs it writes.
pub fn modelled_commit_writes(
    commit: &Commit,
    checkpoint_due: impl Fn(&StreamKey) -> bool,
    now: i64,
) -> Result<Vec<PartitionUnits>, StoreError> {
    Ok(PlannedCommit::new(commit, |k, _| checkpoint_due(k), now)?.consumed().partitions)
}

/// What the model keeps of a stored item.
#[derive(Debug, Clone)]
struct Stored {
    size: usize,
    object: Option<String>,
    minutes: Vec<i64>,
}

/// The table as a sequence of commits leaves it, sizes only, and what each operation of the
/// store would read and write in it ([`Consumed`]). Operations must be recorded in the order
/// they happen; a commit is recorded only when it was written.
#[derive(Debug, Default)]
pub struct TableModel {
    /// Partition key → sort key → item.
    items: HashMap<String, BTreeMap<String, Stored>>,
    /// Each stream's head: what its loads read and its commits check.
    heads: HashMap<StreamKey, Head>,
}

impl TableModel {
    /// An empty table.
    pub fn new() -> Self {
        TableModel::default()
    }

    fn size(&self, pk: &str, sk: &str) -> Option<usize> {
        self.items.get(pk)?.get(sk).map(|s| s.size)
    }

    /// The read units of one consistent get of `pk`/`sk` (1 when absent).
    fn get_units(&self, pk: &str, sk: &str) -> f64 {
        read_units(self.size(pk, sk).unwrap_or(0))
    }

    /// One consistent Query of `pk` between two sort keys: its read units (per page) and
    /// pages, and the stored items it returns.
    fn query(&self, pk: &str, from: &str, to: &str) -> (f64, usize, Vec<&Stored>) {
        let found: Vec<&Stored> = self
            .items
            .get(pk)
            .map(|p| {
                p.range::<str, _>((std::ops::Bound::Included(from), std::ops::Bound::Included(to)))
                    .map(|(_, s)| s)
                    .collect()
            })
            .unwrap_or_default();
        let (mut units, mut pages, mut page) = (0.0, 0usize, 0usize);
        for s in &found {
            if page > 0 && page + s.size > QUERY_PAGE {
                units += read_units(page);
                pages += 1;
                page = 0;
            }
            page += s.size;
        }
        units += read_units(page);
        pages += 1;
        (units, pages, found)
    }

    /// `status`: one consistent GetItem of the object's ledger item.
    pub fn status(&self, object: &str) -> Consumed {
        let mut c = Consumed::default();
        let pk = object_pk(object);
        c.read(&pk, self.get_units(&pk, "LEDGER"));
        c.requests(1);
        c
    }

    /// `take_turn` of a free turn: per stream one consistent GetItem of the (absent) turn item
    /// and one conditional put of it.
    pub fn take_turn(&self, streams: &[StreamKey], holder: &str, now: i64) -> Consumed {
        let mut c = Consumed::default();
        for stream in streams {
            let pk = stream_pk(stream);
            c.read(&pk, self.get_units(&pk, "TURN"));
            let until = now
                .saturating_mul(1000)
                .saturating_add(i64::try_from(super::TURN_HOLD.as_millis()).unwrap_or(i64::MAX));
            let item = turn_item(stream, holder, until, now + turn::TURN_TTL_SECS);
            c.write(&pk, write_units(item_size(&item), 1.0));
            // The get, then the put.
            c.requests(1);
            c.requests(1);
        }
        c
    }

    /// `end_turn`: per stream one conditional DeleteItem of the turn item (1 unit).
    pub fn end_turn(&self, streams: &[StreamKey]) -> Consumed {
        let mut c = Consumed::default();
        for stream in streams {
            c.write(&stream_pk(stream), 1.0);
            c.requests(1);
        }
        c
    }

    /// `load` of `streams` for a file with events in `minutes`: the heads (one BatchGetItem),
    /// per stream one Query of its checkpoint and the journal entries since, the eventID
    /// Queries of the file's minutes, and the ledger items of the objects that wrote ids in
    /// those minutes whose journal entries were not loaded (one BatchGetItem).
    pub fn load(&self, streams: &[StreamKey], minutes: &[i64]) -> Consumed {
        let mut c = Consumed::default();
        if streams.is_empty() {
            return c;
        }
        for k in streams {
            let pk = stream_pk(k);
            c.read(&pk, self.get_units(&pk, "HEAD"));
        }
        c.requests(streams.len().div_ceil(BATCH_GET));
        let mut known: BTreeSet<&str> = BTreeSet::new();
        for k in streams {
            let Some(head) = self.heads.get(k).filter(|h| h.seq > 0) else {
                continue;
            };
            let pk = stream_pk(k);
            let (from, to) = journal_range(head.seq, head.checkpoint.as_ref().map(|(cp, _, _)| *cp));
            let (units, pages, found) = self.query(&pk, &from, &to);
            c.read(&pk, units);
            for _ in 0..pages {
                c.requests(1);
            }
            known.extend(found.iter().filter_map(|s| s.object.as_deref()));
        }
        let wanted: BTreeSet<i64> = minutes.iter().copied().collect();
        let runs = minute_runs(&wanted);
        let mut objects: BTreeSet<&str> = BTreeSet::new();
        let mut queries = 0;
        for k in streams {
            let pk = stream_pk(k);
            for (from, to) in &runs {
                let (first, last) = ids_range(*from, *to);
                let (units, pages, found) = self.query(&pk, &first, &last);
                c.read(&pk, units);
                queries += pages;
                objects.extend(
                    found
                        .iter()
                        .filter(|s| s.minutes.iter().any(|m| wanted.contains(m)))
                        .filter_map(|s| s.object.as_deref())
                        .filter(|o| !known.contains(o)),
                );
            }
        }
        if queries > 0 {
            c.requests(queries);
        }
        if !objects.is_empty() {
            for o in &objects {
                let pk = object_pk(o);
                c.read(&pk, self.get_units(&pk, "LEDGER"));
            }
            c.requests(objects.len().div_ceil(BATCH_GET));
        }
        c
    }

    /// Plans `commit` as the store would write it now: a stream takes a checkpoint by the
    /// store's own rule, from the head its last load saw (here: the model's head).
    pub fn plan(&self, commit: &Commit, now: i64) -> Result<PlannedCommit, StoreError> {
        PlannedCommit::new(commit, |k, version| checkpoint_due_after(self.heads.get(k), version, now), now)
    }

    /// Records a planned commit that was written (its transaction succeeded): its items are
    /// stored and its heads move. Returns what writing it cost.
    pub fn record(&mut self, planned: &PlannedCommit, now: i64) -> Consumed {
        for w in &planned.items {
            self.items
                .entry(w.pk.clone())
                .or_default()
                .insert(w.sk.clone(), Stored { size: w.size, object: w.object.clone(), minutes: w.minutes.clone() });
        }
        for (stream, seq, checkpointed) in &planned.heads {
            let head = self.heads.entry(stream.clone()).or_default();
            head.seq = *seq;
            if *checkpointed {
                head.checkpoint = Some((*seq, now, MODEL_ATTEMPT.to_owned()));
            }
        }
        planned.consumed()
    }

    /// Plans and records a commit that was written.
    pub fn commit(&mut self, commit: &Commit, now: i64) -> Result<Consumed, StoreError> {
        let planned = self.plan(commit, now)?;
        Ok(self.record(&planned, now))
    }

    /// `mark_sent`, `mark_delivered` or `claim_send`: one conditional UpdateItem of the
    /// object's ledger item, charged on its size.
    pub fn ledger_update(&self, object: &str) -> Consumed {
        let mut c = Consumed::default();
        let pk = object_pk(object);
        c.write(&pk, write_units(self.size(&pk, "LEDGER").unwrap_or(0), 1.0));
        c.requests(1);
        c
    }
}
