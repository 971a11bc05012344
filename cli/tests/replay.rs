//! End-to-end tests of `trailsight replay`: the real binary on real and broken log files.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Runs the binary; every JSON event line it prints must match its published schema.
fn trailsight(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_trailsight")).args(args).output().expect("run trailsight");
    for line in String::from_utf8_lossy(&out.stdout).lines().filter(|l| l.starts_with('{')) {
        let event: serde_json::Value = serde_json::from_str(line).unwrap();
        if let Err(why) = trailsight_core::schemas::check_json(&event) {
            panic!("{why}");
        }
    }
    out
}

/// The summary line, checked against its schema.
fn summary(out: &Output) -> serde_json::Value {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last = stderr.lines().last().unwrap_or_default();
    let summary: serde_json::Value = serde_json::from_str(last)
        .unwrap_or_else(|e| panic!("last stderr line is not the JSON summary ({e}): {stderr}"));
    if let Err(why) = trailsight_core::schemas::check_summary(&summary) {
        panic!("{why}");
    }
    summary
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

const NAME_A: &str = "111122223333_CloudTrail_us-east-1_20240102T0005Z_aaaaaaaaaaaaaaaa.json.gz";
const NAME_B: &str = "111122223333_CloudTrail_us-east-1_20240102T0010Z_bbbbbbbbbbbbbbbb.json.gz";

fn record(id: &str) -> String {
    format!(
        r#"{{"eventTime":"2024-01-02T00:01:00Z","eventSource":"iam.amazonaws.com","eventName":"ListUsers","awsRegion":"us-east-1","recipientAccountId":"111122223333","eventID":"{id}"}}"#
    )
}

#[test]
fn replay_of_the_real_dataset_matches_an_independent_count_per_api() {
    // Given the real CloudTrail files and an independent count made by a Python script
    let fixtures = root().join("tests/fixtures/grycap");
    let script = root().join("tests/scripts/count_events.py");
    let py = Command::new("python3").arg(&script).arg(&fixtures).output().expect("python3 is needed for this test");
    assert!(py.status.success(), "{}", String::from_utf8_lossy(&py.stderr));
    let expected: serde_json::Value = serde_json::from_slice(&py.stdout).unwrap();
    // When trailsight replays them with a table of every API
    let out = trailsight(&["replay", fixtures.to_str().unwrap(), "--top", "100000"]);
    // Then it succeeds and its per-API counts equal the independent ones
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let mut ours = BTreeMap::new();
    for line in stderr.lines().skip(1) {
        let cols: Vec<&str> = line.split_whitespace().collect();
        if cols.len() == 6 {
            ours.insert(cols[2..].join("|"), (cols[0].parse::<u64>().unwrap(), cols[1].parse::<u64>().unwrap()));
        }
    }
    let theirs: BTreeMap<String, (u64, u64)> = expected["apis"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), (v[0].as_u64().unwrap(), v[1].as_u64().unwrap())))
        .collect();
    assert_eq!(ours, theirs);
    let s = summary(&out);
    assert_eq!(s["records"], expected["records"]);
    assert_eq!(s["duplicates"], expected["duplicates"]);
    assert_eq!(s["files"], 1068);
}

#[test]
fn real_dataset_opsworks_polling_is_an_insight() {
    // Given the real dataset, where one user polled DescribeStacks ~58 times an hour on 2018-04-25
    let out = trailsight(&["replay", root().join("tests/fixtures/grycap").to_str().unwrap()]);
    // Then an insight on opsworks DescribeStacks starts that day
    let stdout = String::from_utf8_lossy(&out.stdout);
    let starts: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|e| {
            e["detail-type"] == "AWS Insight via CloudTrail" && e["detail"]["insightDetails"]["state"] == "Start"
        })
        .collect();
    assert!(starts.iter().any(|e| e["detail"]["insightDetails"]["eventName"] == "DescribeStacks"
        && e["detail"]["eventTime"].as_str().unwrap().starts_with("2018-04-25")));
    // And every line is an EventBridge-shaped event from source trailsight
    for e in &starts {
        assert_eq!(e["source"], "trailsight");
        assert_eq!(e["version"], "0");
    }
}

#[test]
fn bad_files_are_reported_and_the_rest_is_still_processed() {
    // Given a folder with a good file, a corrupt gzip, a truncated JSON, a non-CloudTrail JSON,
    // a digest file and a stray object
    let dir = tempfile::tempdir().unwrap();
    let good = format!(r#"{{"Records":[{},{}]}}"#, record("1"), record("2"));
    std::fs::write(dir.path().join(NAME_A), gz(good.as_bytes())).unwrap();
    let mut corrupt = gz(good.as_bytes());
    let n = corrupt.len();
    corrupt.truncate(n / 2);
    std::fs::write(dir.path().join(NAME_B), corrupt).unwrap();
    std::fs::write(
        dir.path().join("111122223333_CloudTrail_us-east-1_20240102T0015Z_cccccccccccccccc.json"),
        &good[..good.len() - 5],
    )
    .unwrap();
    std::fs::write(
        dir.path().join("111122223333_CloudTrail_us-east-1_20240102T0020Z_dddddddddddddddd.json"),
        br#"{"hello":"world"}"#,
    )
    .unwrap();
    std::fs::write(
        dir.path().join("111122223333_CloudTrail-Digest_us-east-1_trail_us-east-1_20240102T002000Z.json.gz"),
        b"x",
    )
    .unwrap();
    std::fs::write(dir.path().join("notes.txt"), b"x").unwrap();
    // When replayed
    let out = trailsight(&["replay", dir.path().to_str().unwrap()]);
    // Then it exits 3, counts only the good file, and names each bad one with what was wrong
    assert_eq!(out.status.code(), Some(3));
    let s = summary(&out);
    assert_eq!((s["files"].as_u64(), s["records"].as_u64()), (Some(1), Some(2)));
    assert_eq!(s["rejected_files"], 3);
    assert_eq!(s["skipped_objects"], 2);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("0010Z_bbbbbbbbbbbbbbbb") && stderr.contains("gzip"), "{stderr}");
    assert!(stderr.contains("truncated"), "{stderr}");
    assert!(stderr.contains("no \"Records\" array"), "{stderr}");
}

#[test]
fn duplicate_delivery_does_not_double_count() {
    // Given the same records delivered in two files
    let dir = tempfile::tempdir().unwrap();
    let doc = format!(r#"{{"Records":[{},{}]}}"#, record("1"), record("2"));
    std::fs::write(dir.path().join(NAME_A), gz(doc.as_bytes())).unwrap();
    std::fs::write(dir.path().join(NAME_B), gz(doc.as_bytes())).unwrap();
    // When replayed
    let out = trailsight(&["replay", dir.path().to_str().unwrap()]);
    // Then each record counts once
    let s = summary(&out);
    assert_eq!((s["records"].as_u64(), s["duplicates"].as_u64()), (Some(2), Some(2)));
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn rejected_records_exit_3_but_the_file_counts() {
    let dir = tempfile::tempdir().unwrap();
    let doc = format!(r#"{{"Records":[{},{{"eventSource":"x"}}]}}"#, record("1"));
    std::fs::write(dir.path().join(NAME_A), gz(doc.as_bytes())).unwrap();
    let out = trailsight(&["replay", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3));
    let s = summary(&out);
    assert_eq!((s["records"].as_u64(), s["rejected_records"].as_u64()), (Some(1), Some(1)));
}

#[test]
fn output_file_receives_the_events_and_stdout_stays_empty() {
    let dir = tempfile::tempdir().unwrap();
    let out_file = dir.path().join("events.jsonl");
    let out = trailsight(&[
        "replay",
        root().join("tests/fixtures/grycap").to_str().unwrap(),
        "--output",
        out_file.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty());
    let text = std::fs::read_to_string(out_file).unwrap();
    assert!(text.lines().count() > 0);
    let s = summary(&out);
    assert_eq!(
        text.lines().count() as u64,
        s["insights_started"].as_u64().unwrap()
            + s["insights_ended"].as_u64().unwrap()
            + s["risky_changes"].as_u64().unwrap()
    );
}

#[test]
fn bad_usage_exits_2() {
    assert_eq!(trailsight(&["replay"]).status.code(), Some(2));
    assert_eq!(trailsight(&["replay", "/no/such/path"]).status.code(), Some(2));
    assert_eq!(trailsight(&["replay", ".", "--top", "many"]).status.code(), Some(2));
}

#[test]
fn help_explains_every_option_with_an_example() {
    let out = trailsight(&["replay", "--help"]);
    let text = String::from_utf8_lossy(&out.stdout);
    for opt in ["--output", "--top", "--config", "--threads", "--stages", "Examples:", "Exit status"] {
        assert!(text.contains(opt), "{opt} missing from --help");
    }
}

#[test]
fn replay_with_a_store_is_incremental_and_skips_processed_files() {
    // Given an embedded store filled by a replay of part of the dataset
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("state.redb");
    let fixtures = root().join("tests/fixtures/grycap");
    let part = fixtures.join("dynamodb");
    let first = trailsight(&["replay", part.to_str().unwrap(), "--store", store.to_str().unwrap()]);
    assert_eq!(first.status.code(), Some(0), "{}", String::from_utf8_lossy(&first.stderr));
    let first = summary(&first);
    // When the whole dataset is replayed into the same store, and then again
    let second = summary(&trailsight(&["replay", fixtures.to_str().unwrap(), "--store", store.to_str().unwrap()]));
    let third = summary(&trailsight(&["replay", fixtures.to_str().unwrap(), "--store", store.to_str().unwrap()]));
    // Then the second run reads only the new files, the third none, and no record counts twice
    assert_eq!(second["already_processed"], first["files"]);
    let all = summary(&trailsight(&["replay", fixtures.to_str().unwrap()]));
    assert_eq!(
        first["records"].as_u64().unwrap() + second["records"].as_u64().unwrap(),
        all["records"].as_u64().unwrap()
    );
    assert_eq!(third["files"], 0);
    assert_eq!(third["records"], 0);
}

#[test]
fn a_path_without_log_files_warns_and_exits_non_zero() {
    // Given a folder with only a digest file and a text file
    let dir = tempfile::tempdir().unwrap();
    let digest = dir.path().join("111122223333_CloudTrail-Digest_us-east-1_trail_us-east-1_20240102T0005Z.json.gz");
    std::fs::write(&digest, gz(b"{}")).unwrap();
    std::fs::write(dir.path().join("notes.txt"), "hello").unwrap();
    // When replayed
    let out = trailsight(&["replay", dir.path().to_str().unwrap()]);
    // Then stderr warns that nothing was replayed, naming the path, and the exit status is 4
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(stderr.contains("no CloudTrail log files in"), "{stderr}");
    assert!(stderr.contains(dir.path().to_str().unwrap()), "{stderr}");
}

#[test]
fn a_named_file_that_is_not_a_log_file_warns_and_the_rest_is_replayed() {
    // Given a real log file and, named beside it, a file that is not a CloudTrail log
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join(NAME_A);
    std::fs::write(&log, gz(format!(r#"{{"Records":[{}]}}"#, record("a1")).as_bytes())).unwrap();
    let other = dir.path().join("export.csv");
    std::fs::write(&other, "a,b\n").unwrap();
    // When both are replayed
    let out = trailsight(&["replay", log.to_str().unwrap(), other.to_str().unwrap()]);
    // Then the other file is named in a warning, the log is counted, and the exit status is 3
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("export.csv is not a CloudTrail log file"), "{stderr}");
    assert_eq!(summary(&out)["records"], 1);
}

#[test]
fn a_file_that_ends_an_insight_also_starts_the_next_one() {
    // Given the real dataset, where the file delivered at 2018-05-02T19:10Z holds 12
    // DescribeLoadBalancers calls at 19:08Z and ends the insight that started at 13:53Z
    let fixtures = root().join("tests/fixtures/grycap");
    // When it is replayed
    let out = trailsight(&["replay", fixtures.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let start = stdout
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|e| {
            e["detail"]["insightDetails"]["eventName"] == "DescribeLoadBalancers"
                && e["detail"]["insightDetails"]["state"] == "Start"
                && e["detail"]["eventTime"] == "2018-05-02T19:08:00Z"
        })
        .unwrap_or_else(|| panic!("no Start for the 19:08 burst: {stdout}"));
    // Then its Start is detected with that file, not with the next one 19 hours later
    let detected = start["detail"]["trailsight"]["detectedAt"].as_str().unwrap();
    assert!(detected.starts_with("2018-05-02T19:"), "detected at {detected}");
}

#[test]
fn the_table_format_prints_one_readable_line_per_event_and_json_stays_byte_identical() {
    // Given the real dataset
    let data = root().join("tests/fixtures/grycap");
    let data = data.to_str().unwrap();
    // When it is replayed piped (JSON), with --format json, and with --format table
    let piped = trailsight(&["replay", data]);
    let json = trailsight(&["replay", data, "--format", "json"]);
    let table = trailsight(&["replay", data, "--format", "table"]);
    // Then --format json is the piped output byte for byte
    assert_eq!(piped.stdout, json.stdout);
    // And the table has a header and one line per event, saying when, what, where and why
    let events = String::from_utf8_lossy(&piped.stdout).lines().count();
    let text = String::from_utf8_lossy(&table.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), events + 1, "{text}");
    assert!(lines[0].starts_with("time") && lines[0].contains("why"), "{text}");
    assert!(lines.iter().any(|l| l.contains("calls start") && l.contains("974349055189/")), "{text}");
    assert!(
        lines.iter().any(|l| l.contains("risky high") && l.contains("ec2-security-group-open-admin-port")),
        "{text}"
    );
    // And the summary is the same line
    let without_time = |out: &Output| {
        let mut s = summary(out);
        s["seconds"] = serde_json::Value::Null;
        s
    };
    assert_eq!(without_time(&table), without_time(&piped));
}

#[test]
fn only_and_min_severity_filter_the_printed_events() {
    // Given the real dataset, which has insights and high risky changes
    let data = root().join("tests/fixtures/grycap");
    let data = data.to_str().unwrap();
    // When only risky changes are printed, and then only critical ones
    let risky = trailsight(&["replay", data, "--only", "risky"]);
    let critical = trailsight(&["replay", data, "--min-severity", "critical", "--only", "risky"]);
    // Then every printed event is a risky change, and none is below critical
    let risky_lines: Vec<serde_json::Value> =
        String::from_utf8_lossy(&risky.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(!risky_lines.is_empty());
    assert!(risky_lines.iter().all(|e| e["detail-type"] == "Trailsight Risky Change"));
    assert!(String::from_utf8_lossy(&critical.stdout).lines().all(|l| l.contains("\"severity\":\"critical\"")));
    // And the summary still counts everything found
    assert_eq!(summary(&risky)["risky_changes"].as_u64(), Some(risky_lines.len() as u64));
    assert!(summary(&risky)["insights_started"].as_u64().unwrap_or(0) > 0);
}

/// Counts of insight sections and of charts in a report.
fn sections_and_charts(html: &str) -> (usize, usize) {
    (html.matches("<section class=\"insight\"").count(), html.matches("<svg class=\"chart\"").count())
}

#[test]
fn replay_with_a_report_charts_every_insight_and_prints_the_same_events() {
    // Given the real dataset
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.html");
    let fixtures = root().join("tests/fixtures/grycap");
    let fixtures = fixtures.to_str().unwrap();
    // When it is replayed with and without --report
    let plain = trailsight(&["replay", fixtures, "--format", "json"]);
    let with = trailsight(&["replay", fixtures, "--format", "json", "--report", report.to_str().unwrap()]);
    // Then the events are byte-identical
    assert_eq!(with.status.code(), Some(0), "{}", String::from_utf8_lossy(&with.stderr));
    assert_eq!(plain.stdout, with.stdout);
    // And the report has one section and one chart per insight, and says what was read
    let html = std::fs::read_to_string(&report).unwrap();
    let started = summary(&with)["insights_started"].as_u64().unwrap() as usize;
    assert!(started > 0);
    assert_eq!(sections_and_charts(&html), (started, started));
    assert!(html.contains("1068 log files, 17600 records"), "the header names what was read");
    assert!(html.contains("<strong>13</strong> risky changes"));
}

#[test]
fn a_report_from_emitted_events_uses_the_charts_the_store_kept_across_replays() {
    // Given two replays into one store (part of the dataset, then all of it), their events
    // kept as JSON lines
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("state.redb");
    let events = dir.path().join("events.jsonl");
    let fixtures = root().join("tests/fixtures/grycap");
    let part = fixtures.join("dynamodb");
    let mut lines = vec![];
    for path in [&part, &fixtures] {
        let out =
            trailsight(&["replay", path.to_str().unwrap(), "--store", store.to_str().unwrap(), "--format", "json"]);
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        lines.extend_from_slice(&out.stdout);
    }
    std::fs::write(&events, &lines).unwrap();
    let started = String::from_utf8_lossy(&lines).matches("\"state\":\"Start\"").count();
    // When a report is made from the events and the store
    let report = dir.path().join("report.html");
    let out = trailsight(&[
        "report",
        events.to_str().unwrap(),
        "--store",
        store.to_str().unwrap(),
        "-o",
        report.to_str().unwrap(),
    ]);
    // Then every insight has its chart, and the header counts both replays' files
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(started > 0);
    assert_eq!(sections_and_charts(&html), (started, started));
    assert!(html.contains("1068 log files, 17600 records"), "scope of both replays");
}

#[test]
fn a_report_of_a_file_that_is_not_events_fails_naming_the_line() {
    // Given a file of log records, not events
    let dir = tempfile::tempdir().unwrap();
    let bogus = dir.path().join("records.jsonl");
    std::fs::write(&bogus, format!("{}\n", record("e1"))).unwrap();
    // When a report is asked of it
    let out = trailsight(&["report", bogus.to_str().unwrap(), "-o", dir.path().join("r.html").to_str().unwrap()]);
    // Then it fails with the file, the line and what was expected
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("records.jsonl:1: not a trailsight event"), "{err}");
}
