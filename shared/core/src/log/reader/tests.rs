//! Unit tests of the streaming reader on good and bad input.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
use std::io::Write;

fn gz(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn rec(id: &str, name: &str) -> String {
    format!(
        r#"{{"eventVersion":"1.08","userIdentity":{{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/alice","accountId":"111122223333"}},"eventTime":"2024-01-02T03:04:05Z","eventSource":"ec2.amazonaws.com","eventName":"{name}","awsRegion":"us-east-1","sourceIPAddress":"1.2.3.4","userAgent":"aws-cli/2","requestParameters":null,"responseElements":null,"eventID":"{id}","readOnly":true,"eventType":"AwsApiCall","recipientAccountId":"111122223333"}}"#
    )
}

fn doc(records: &[String]) -> String {
    format!(r#"{{"Records":[{}]}}"#, records.join(","))
}

struct Out {
    ok: Vec<(String, Option<String>)>,
    rejected: Vec<RecordRejection>,
}

fn read(bytes: &[u8]) -> (Result<ReadSummary, ReadError>, Out) {
    let mut out = Out { ok: vec![], rejected: vec![] };
    let r = read_log(bytes, |r| match r {
        Ok(rec) => out.ok.push((rec.event_name.to_string(), rec.event_id.map(|c| c.to_string()))),
        Err(rej) => out.rejected.push(rej),
    });
    (r, out)
}

#[test]
fn gzipped_records_are_read_in_order_with_their_fields() {
    // Given a gzipped log with two records
    let bytes = gz(doc(&[rec("a", "DescribeInstances"), rec("b", "RunInstances")]).as_bytes());
    // When it is read
    let mut seen = vec![];
    let summary = read_log(&bytes[..], |r| {
        let r = r.unwrap();
        seen.push((
            r.event_name.to_string(),
            r.minute,
            r.account.map(|a| a.to_string()),
            r.caller.map(|c| c.to_string()),
            r.read_only,
        ));
    })
    .unwrap();
    // Then both records arrive with the fields detection needs
    assert_eq!(summary.records, 2);
    assert_eq!(seen[0].0, "DescribeInstances");
    assert_eq!(seen[1].0, "RunInstances");
    assert_eq!(seen[0].1, parse_event_minute("2024-01-02T03:04:00Z").unwrap());
    assert_eq!(seen[0].2.as_deref(), Some("111122223333"));
    assert_eq!(seen[0].3.as_deref(), Some("arn:aws:iam::111122223333:user/alice"));
    assert_eq!(seen[0].4, Some(true));
}

#[test]
fn plain_json_is_accepted_too() {
    let (r, out) = read(doc(&[rec("a", "X")]).as_bytes());
    assert_eq!(r.unwrap().records, 1);
    assert_eq!(out.ok.len(), 1);
}

#[test]
fn records_larger_than_the_buffer_window_are_read_across_refills() {
    // Given many records and one record bigger than the initial buffer
    let big = format!(
        r#"{{"eventTime":"2024-01-02T03:04:05Z","eventSource":"s3.amazonaws.com","eventName":"Big","requestParameters":{{"x":"{}"}}}}"#,
        "y".repeat(INITIAL_BUFFER * 2)
    );
    let mut records: Vec<String> = (0..5000).map(|i| rec(&format!("id{i}"), "N")).collect();
    records.insert(2500, big);
    let bytes = gz(doc(&records).as_bytes());
    // When read
    let (r, out) = read(&bytes);
    // Then every record is seen, the big one in its place
    assert_eq!(r.unwrap().records, 5001);
    assert_eq!(out.ok[2500].0, "Big");
}

#[test]
fn escaped_strings_and_braces_inside_strings_do_not_confuse_the_reader() {
    let tricky = r#"{"eventTime":"2024-01-02T03:04:05Z","eventSource":"s3.amazonaws.com","eventName":"Put\"Obj}ect{","userAgent":"a \\\" } ] ["}"#;
    let (r, out) = read(doc(&[tricky.to_owned(), rec("b", "Next")]).as_bytes());
    assert_eq!(r.unwrap().records, 2);
    assert_eq!(out.ok[0].0, "Put\"Obj}ect{");
    assert_eq!(out.ok[1].0, "Next");
}

/// `text` as bytes, with every `@` turned into the byte 0xFF (never valid in UTF-8).
fn with_invalid_utf8(text: &str) -> Vec<u8> {
    text.bytes().map(|b| if b == b'@' { 0xff } else { b }).collect()
}

#[test]
fn invalid_utf8_in_a_skipped_field_does_not_reject_the_record() {
    // Given a record whose requestParameters hold a byte that is not UTF-8
    let odd = rec("b", "Second").replace(r#""requestParameters":null"#, r#""requestParameters":{"k":"@x"}"#);
    let bytes = with_invalid_utf8(&doc(&[rec("a", "First"), odd]));
    // When it is read
    let (r, out) = read(&bytes);
    // Then both records count: the wanted fields are valid on their own
    assert_eq!(r.unwrap().records, 2);
    assert_eq!(out.ok[1].0, "Second");
}

#[test]
fn invalid_utf8_in_a_wanted_field_rejects_only_that_record() {
    // Given a record whose eventName is not UTF-8
    let bytes = with_invalid_utf8(&doc(&[rec("a", "Bad@"), rec("b", "Good")]));
    // When it is read
    let (r, out) = read(&bytes);
    // Then that record is rejected with the field named, and the other one counts
    assert_eq!(r.unwrap().records, 1);
    assert_eq!(out.ok[0].0, "Good");
    assert!(out.rejected[0].reason.contains("eventName is not a valid JSON string"), "{:?}", out.rejected);
}

#[test]
fn records_missing_required_fields_are_rejected_and_the_rest_is_read() {
    // Given records missing eventTime, eventSource, eventName, with a bad time, or not objects
    let records = vec![
        rec("a", "Good1"),
        r#"{"eventSource":"s3.amazonaws.com","eventName":"NoTime"}"#.to_owned(),
        r#"{"eventTime":"2024-01-02T03:04:05Z","eventName":"NoSource"}"#.to_owned(),
        r#"{"eventTime":"2024-01-02T03:04:05Z","eventSource":"s3.amazonaws.com"}"#.to_owned(),
        r#"{"eventTime":"yesterday","eventSource":"s3.amazonaws.com","eventName":"BadTime"}"#.to_owned(),
        r#"{"eventTime":"2024-01-02T03:04:05Z","eventSource":7,"eventName":"WrongType"}"#.to_owned(),
        "null".to_owned(),
        rec("b", "Good2"),
    ];
    // When read
    let (r, out) = read(doc(&records).as_bytes());
    // Then the good ones are read and each bad one is rejected with a reason
    let s = r.unwrap();
    assert_eq!((s.records, s.rejected), (2, 6));
    let reasons: Vec<&str> = out.rejected.iter().map(|r| r.reason.as_str()).collect();
    assert!(reasons[0].contains("eventTime"));
    assert!(reasons[1].contains("eventSource"));
    assert!(reasons[2].contains("eventName"));
    assert!(reasons[3].contains("unparseable eventTime"));
    assert!(reasons[4].contains("invalid record JSON"));
    assert!(reasons[5].contains("not a JSON object"));
    assert_eq!(out.rejected[1].index, 2);
}

#[test]
fn null_and_missing_optional_fields_are_normal() {
    let r = r#"{"eventVersion":"1.01","userIdentity":null,"eventTime":"2014-09-26T12:00:00Z","eventSource":"ec2.amazonaws.com","eventName":"X","awsRegion":null,"errorCode":null,"readOnly":"false"}"#;
    let mut got = None;
    read_log(doc(&[r.to_owned()]).as_bytes(), |x| {
        let x = x.unwrap();
        got = Some((x.aws_region.is_none(), x.error_code.is_none(), x.caller.is_none(), x.read_only));
    })
    .unwrap();
    assert_eq!(got, Some((true, true, true, Some(false))));
}

#[test]
fn corrupt_gzip_is_a_file_error() {
    // Given a gzip stream with its middle overwritten
    let mut bytes = gz(doc(&(0..200).map(|i| rec(&i.to_string(), "X")).collect::<Vec<_>>()).as_bytes());
    let mid = bytes.len() / 2;
    for b in &mut bytes[mid..mid + 64] {
        *b ^= 0x55;
    }
    // When read
    let (r, _) = read(&bytes);
    // Then the file is rejected with a gzip error that says what to do
    let e = r.unwrap_err();
    assert!(matches!(e, ReadError::Gzip { .. } | ReadError::Truncated { .. } | ReadError::Syntax { .. }), "{e}");
}

#[test]
fn truncated_gzip_is_a_file_error() {
    let bytes = gz(doc(&(0..200).map(|i| rec(&i.to_string(), "X")).collect::<Vec<_>>()).as_bytes());
    let (r, _) = read(&bytes[..bytes.len() / 2]);
    let e = r.unwrap_err();
    assert!(matches!(e, ReadError::Gzip { .. }), "{e}");
    assert!(e.to_string().contains("re-deliver"));
}

#[test]
fn truncated_json_is_a_file_error_with_the_offset() {
    let text = doc(&[rec("a", "X"), rec("b", "Y")]);
    let cut = &text.as_bytes()[..text.len() - 40];
    let (r, _) = read(cut);
    match r.unwrap_err() {
        ReadError::Truncated { offset, .. } => assert_eq!(offset, cut.len() as u64),
        e => panic!("{e}"),
    }
}

#[test]
fn missing_closing_brackets_are_truncation() {
    let text = format!(r#"{{"Records":[{}"#, rec("a", "X"));
    assert!(matches!(read(text.as_bytes()).0.unwrap_err(), ReadError::Truncated { .. }));
}

#[test]
fn document_without_records_is_not_cloudtrail() {
    for text in [r#"{}"#, r#"{"foo":[1,2,{"a":"}"}],"bar":null}"#, r#"{"records":[]}"#] {
        assert!(matches!(read(text.as_bytes()).0.unwrap_err(), ReadError::NoRecords), "{text}");
    }
}

#[test]
fn empty_and_non_json_objects_are_rejected() {
    assert!(matches!(read(b"").0.unwrap_err(), ReadError::Empty));
    assert!(matches!(read(b"   ").0.unwrap_err(), ReadError::Empty));
    assert!(matches!(read(b"PK\x03\x04 zip file").0.unwrap_err(), ReadError::Syntax { offset: 0, .. }));
    assert!(matches!(read(b"[1,2]").0.unwrap_err(), ReadError::Syntax { .. }));
    assert!(matches!(read(br#"{"Records":{}}"#).0.unwrap_err(), ReadError::Syntax { .. }));
    assert!(matches!(read(br#"{"Records":[]} trailing"#).0.unwrap_err(), ReadError::Syntax { .. }));
}

#[test]
fn empty_records_array_is_a_valid_empty_log() {
    let (r, _) = read(br#"{"Records":[]}"#);
    assert_eq!(r.unwrap().records, 0);
}

#[test]
fn other_top_level_keys_are_skipped() {
    let text = format!(r#"{{"meta":{{"x":["]"]}},"Records":[{}],"z":1}}"#, rec("a", "X"));
    assert_eq!(read(text.as_bytes()).0.unwrap().records, 1);
}

#[test]
fn every_event_version_from_1_0_to_1_11_parses() {
    for v in ["1.0", "1.01", "1.02", "1.03", "1.04", "1.05", "1.06", "1.07", "1.08", "1.09", "1.10", "1.11"] {
        let r = rec("a", "X").replace("1.08", v);
        assert_eq!(read(doc(&[r]).as_bytes()).0.unwrap().records, 1, "{v}");
    }
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn the_word_scan_finds_string_ends_like_a_byte_scan(
            body in proptest::collection::vec(prop_oneof![Just(b'"'), Just(b'\\'), Just(b'a'), any::<u8>()], 0..200),
            from in 0usize..8,
        ) {
            // A byte-by-byte reference: the first unescaped quote at or after `from`.
            let mut i = from;
            let mut escaped = false;
            let expected = loop {
                match body.get(i) {
                    None => break None,
                    Some(b'"') => break Some((i + 1, escaped)),
                    Some(b'\\') => { escaped = true; i += 2; }
                    Some(_) => i += 1,
                }
            };
            prop_assert_eq!(super::super::string_end_escaped(&body, from), expected);
        }

        #[test]
        fn any_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = read(&bytes);
        }

        #[test]
        fn any_prefix_of_a_valid_log_never_panics_and_never_overcounts(cut in 0usize..2000) {
            let text = doc(&(0..8).map(|i| rec(&i.to_string(), "X")).collect::<Vec<_>>());
            let cut = cut.min(text.len());
            let (r, out) = read(&text.as_bytes()[..cut]);
            prop_assert!(out.ok.len() <= 8);
            if cut < text.len() { prop_assert!(r.is_err()); }
        }
    }
}
