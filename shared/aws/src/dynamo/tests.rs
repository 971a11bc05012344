//! Unit tests of the DynamoDB store's pure parts (item sizes, state size).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
use trailsight_core::detect::ApiState;
use trailsight_core::ingest::pipeline::Pipeline;
use trailsight_core::log::count::count_log;
use trailsight_core::log::object_key::{classify, Classified};

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
        let Classified::Log(key) = classify(&name) else { panic!("{name}") };
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
        ("ids".to_owned(), AttributeValue::Bs(vec![Blob::new(vec![0; 8]), Blob::new(vec![1; 8])])),
    ]);
    // Then names plus values: 2+3, 1+4, 3+16
    assert_eq!(item_size(&item), 5 + 5 + 19);
}

#[test]
fn event_ids_pack_into_hour_long_items_and_unpack_unchanged() {
    // Given a file's ids over minutes 100..=104, late ones at 90, and one 70 minutes later
    let mut ids: Vec<(u64, i64)> = (0..500u64).map(|i| (i * 7 + 1, 100 + (i % 5) as i64)).collect();
    ids.extend([(9_001, 90), (9_002, 90), (9_003, 170)]);
    // When packed into items and each unpacked
    let items = pack_ids(&ids);
    let mut back: Vec<(u64, i64)> = items.iter().flat_map(|(first, blob)| unpack_ids(*first, blob).unwrap()).collect();
    // Then there is one item for the first hour and one for the late minute 170
    assert_eq!(items.iter().map(|(first, _)| *first).collect::<Vec<_>>(), vec![90, 170]);
    // And every id comes back with its minute
    back.sort_unstable();
    ids.sort_unstable();
    assert_eq!(back, ids);
    // And each item is 8 bytes per id plus 6 per minute
    assert_eq!(items[0].1.len(), 502 * 8 + 6 * 6);
}

#[test]
fn a_huge_minute_of_event_ids_is_split_across_items() {
    // Given 90,000 ids in one minute (more than one item holds)
    let ids: Vec<(u64, i64)> = (0..90_000u64).map(|i| (i, 5)).collect();
    // When packed
    let items = pack_ids(&ids);
    // Then three items start at that minute, each under DynamoDB's 400 KB, and hold them all
    assert_eq!(items.len(), 3);
    assert!(items.iter().all(|(first, blob)| *first == 5 && blob.len() < 400_000));
    let total: usize = items.iter().map(|(f, b)| unpack_ids(*f, b).unwrap().len()).sum();
    assert_eq!(total, 90_000);
}

#[test]
fn a_malformed_event_id_item_is_refused() {
    // Given a blob that announces more ids than it holds, then it does not unpack
    let mut blob = 0u16.to_be_bytes().to_vec();
    blob.extend_from_slice(&3u32.to_be_bytes());
    blob.extend_from_slice(&7u64.to_be_bytes());
    assert_eq!(unpack_ids(0, &blob), None);
}

/// Unix time of the model tests' commits (2026-01-01).
const NOW: i64 = 1_767_225_600;

fn stream() -> StreamKey {
    ("111122223333".into(), "us-east-1".into())
}

/// A file's commit to `stream()` from `version`: `ids` new eventIDs spread over `minutes`
/// minutes from minute 1000, and a journal entry of one API over those minutes.
fn file_commit(object: &str, version: u64, ids: u64, minutes: i64) -> Commit {
    use trailsight_core::store::journal::JournalSlot;
    let k = stream();
    let entry = JournalEntry {
        delivered: Some(1000 + minutes),
        apis: vec![("ec2.amazonaws.com".into(), "DescribeInstances".into())],
        strings: vec![],
        slots: (0..minutes)
            .map(|m| JournalSlot { api: 0, minute: 1000 + m, calls: 100, errors: 1, ..JournalSlot::default() })
            .collect(),
    };
    Commit {
        object: object.into(),
        streams: BTreeMap::from([(
            k.clone(),
            trailsight_core::store::ports::StreamSnapshot { version, ..Default::default() },
        )]),
        new_ids: BTreeMap::from([(k.clone(), (0..ids).map(|i| (i * 7919 + 1, 1000 + (i as i64 % minutes))).collect())]),
        journal: BTreeMap::from([(k, entry)]),
        ..Commit::default()
    }
}

/// DynamoDB's size of a number attribute value.
fn number_size(v: i64) -> usize {
    v.to_string().len().div_ceil(2) + 1
}

fn units(size: usize, factor: f64) -> f64 {
    factor * (size as f64 / 1024.0).ceil()
}

#[test]
fn a_modelled_commit_writes_its_event_ids_head_journal_entry_and_ledger_at_their_item_sizes() {
    // Given a file's commit with 500 new eventIDs over 5 minutes and a journal entry, no events
    let object = "s3://trail/AWSLogs/111122223333/CloudTrail/us-east-1/f.json.gz#etag";
    let commit = file_commit(object, 3, 500, 5);
    // When its writes are modelled, no checkpoint being due
    let writes = modelled_commit_writes(&commit, |_| false, NOW).unwrap();
    // Then the stream's partition holds the eventID item (a plain put), the head and the
    // journal entry (transactional: twice the units), sized as DynamoDB counts them
    let pk = "S#111122223333#us-east-1";
    let key_size = 2 + pk.len() + 2;
    let ids_item = key_size + 2 + 12 + 1 + 32 + 1 + 3 // sk: I#{minute}#{digest}#{part}
        + 3 + 500 * 8 + 5 * 6 // ids: 8 bytes per id, 6 per minute
        + 6 + object.len() + 7 + number_size(NOW + IDS_TTL_SECS);
    let head_item = key_size + "HEAD".len() + 3 + number_size(4);
    let entry_item = key_size
        + "J#000000000004#D000".len()
        + 4
        + pack(&commit.journal[&stream()]).unwrap().len()
        + 5
        + number_size(1)
        + 6
        + object.len()
        + 7
        + number_size(NOW + JOURNAL_TTL_SECS);
    let stream_writes = writes.iter().find(|w| w.pk == pk).unwrap();
    assert_eq!(stream_writes.items, 3);
    assert_eq!(stream_writes.write_units, units(ids_item, 1.0) + units(head_item, 2.0) + units(entry_item, 2.0));
    assert_eq!(units(ids_item, 1.0), 5.0, "4,000 bytes of ids and the key: 5 KB started");
    // And the object's partition holds its ledger entry only (under 1 KB, transactional)
    let ledger = writes.iter().find(|w| w.pk == format!("O#{object}")).unwrap();
    assert_eq!((ledger.items, ledger.write_units), (1, 2.0));
    assert_eq!(writes.len(), 2);
}

#[test]
fn a_due_checkpoint_adds_its_parts_to_the_streams_partition() {
    // Given the same commit, modelled without and with a checkpoint due
    let commit = file_commit("o", 11, 100, 5);
    let without = modelled_commit_writes(&commit, |_| false, NOW).unwrap();
    let with = modelled_commit_writes(&commit, |_| true, NOW).unwrap();
    // Then the checkpoint adds one item to the stream's partition, a plain put at its size
    let checkpoint = pack(&commit.checkpoint(&stream())).unwrap();
    let part = 2
        + 24
        + 2
        + "J#000000000012#K0000000000000000#000".len()
        + 4
        + checkpoint.len()
        + 7
        + number_size(NOW + JOURNAL_TTL_SECS);
    assert_eq!(with[0].items, without[0].items + 1);
    // (the head also names the checkpoint, still under 1 KB)
    assert_eq!(with[0].write_units, without[0].write_units + units(part, 1.0));
}

#[test]
fn the_table_model_checkpoints_every_twelfth_commit_and_loads_read_what_the_store_would() {
    // Given a stream's files committed one after another, all with events in minutes 1000-1004
    let mut table = TableModel::new();
    let pk = "S#111122223333#us-east-1";
    let mut items_written = vec![];
    for seq in 0..13u64 {
        let consumed = table.commit(&file_commit(&format!("o{seq}"), seq, 600, 5), NOW).unwrap();
        items_written.push(consumed.partitions.iter().find(|p| p.pk == pk).unwrap().items);
    }
    // Then the first commit and the thirteenth write a checkpoint (4 items), the others not (3)
    let mut expected = vec![3u32; 13];
    expected[0] = 4;
    expected[12] = 4;
    assert_eq!(items_written, expected);
    // When the next file of those minutes loads
    let load = table.load(&[stream()], &[1000, 1001, 1002, 1003, 1004]);
    // Then it reads the head, one Query of the checkpoint and the entry since, one eventID
    // Query, and the ledger items of the twelve objects whose entries it did not load
    assert_eq!(load.round_trips, 4);
    let reads: Vec<(&str, f64)> = load.partitions.iter().map(|p| (p.pk.as_str(), p.read_units)).collect();
    assert_eq!(reads.len(), 13);
    assert!(reads[1..].iter().all(|(pk, units)| pk.starts_with("O#o") && *units == 1.0));
    // (13 eventID items of 4.8 KB each: 16 units; the checkpoint and one entry: 1)
    assert_eq!(reads[0], (pk, 1.0 + 1.0 + 16.0));
    // And a ledger read finds the committed object's item (1 unit), a new one's nothing (1)
    assert_eq!(table.status("o3").read_units(), 1.0);
    assert_eq!(table.status("new").read_units(), 1.0);
    // And a free turn costs one read, one put and one delete
    let turn = table.take_turn(&[stream()], "o13", NOW);
    assert_eq!((turn.read_units(), turn.write_units()), (1.0, 1.0));
    assert_eq!(table.end_turn(&[stream()]).write_units(), 1.0);
}
