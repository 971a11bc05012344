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

#[test]
fn event_ids_pack_into_hour_long_items_and_unpack_unchanged() {
    // Given a file's ids over minutes 100..=104, late ones at 90, and one 70 minutes later
    let mut ids: Vec<(u64, i64)> = (0..500u64).map(|i| (i * 7 + 1, 100 + (i % 5) as i64)).collect();
    ids.extend([(9_001, 90), (9_002, 90), (9_003, 170)]);
    // When packed into items and each unpacked
    let items = pack_ids(&ids);
    let mut back: Vec<(u64, i64)> = items
        .iter()
        .flat_map(|(first, blob)| unpack_ids(*first, blob).unwrap())
        .collect();
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
