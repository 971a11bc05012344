//! The handler with in-memory admins and sink.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
use trailsight_core::remediate::memory::{MemoryAdmins, MemoryLedger};
use trailsight_core::remediate::Mode;
use trailsight_core::store::memory::MemorySink;

fn stop_logging() -> Value {
    json!({
        "detail-type": "AWS API Call via CloudTrail", "source": "aws.cloudtrail",
        "detail": {"eventSource": "cloudtrail.amazonaws.com", "eventName": "StopLogging", "eventID": "e1",
                   "eventTime": "2024-01-02T03:04:05Z", "awsRegion": "us-east-1", "recipientAccountId": "111122223333",
                   "requestParameters": {"name": "main"}}
    })
}

fn enforce() -> RemediationConfig {
    RemediationConfig { mode: Mode::Enforce, ..RemediationConfig::default() }
}

#[test]
fn each_decision_is_sent_as_a_remediation_event() {
    // Given a stopped trail
    let (admins, sink) = (MemoryAdmins::default(), MemorySink::default());
    admins.set_trail("main", false);
    // When the trigger is handled
    let out =
        pollster::block_on(handle(&admins, &MemoryLedger::default(), &sink, &enforce(), &stop_logging())).unwrap();
    // Then one remediation event says remediated
    assert_eq!(out["decisions"][0]["decision"], "remediated");
    let events = sink.events();
    assert_eq!(events.len(), 1);
    assert_eq!((events[0].source.as_str(), events[0].detail_type.as_str()), ("trailsight", "Trailsight Remediation"));
}

#[test]
fn access_denied_sends_a_failed_event_then_fails_the_invocation() {
    // Given the function may not start logging
    let (admins, sink) = (MemoryAdmins::default(), MemorySink::default());
    admins.set_trail("main", false);
    admins.deny("cloudtrail:StartLogging");
    // When handled
    let r = pollster::block_on(handle(&admins, &MemoryLedger::default(), &sink, &enforce(), &stop_logging()));
    // Then the failed decision was reported and the invocation fails
    assert!(matches!(r, Err(HandlerError::Failed(_))));
    assert_eq!(sink.events()[0].detail["decision"], "failed");
}

#[test]
fn undeliverable_decision_events_fail_the_invocation() {
    let (admins, sink) = (MemoryAdmins::default(), MemorySink::default());
    admins.set_trail("main", false);
    sink.fail_next(1);
    let r = pollster::block_on(handle(
        &admins,
        &MemoryLedger::default(),
        &sink,
        &RemediationConfig::default(),
        &stop_logging(),
    ));
    assert!(matches!(r, Err(HandlerError::Sink(_))));
}

#[test]
fn a_malformed_trigger_fails_naming_what_is_missing() {
    let (admins, sink) = (MemoryAdmins::default(), MemorySink::default());
    let r = pollster::block_on(handle(
        &admins,
        &MemoryLedger::default(),
        &sink,
        &enforce(),
        &json!({"detail-type": "AWS API Call via CloudTrail"}),
    ));
    let msg = r.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(msg.contains("detail"), "{msg}");
}
