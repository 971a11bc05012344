//! The JSON Schemas (draft 2020-12) of what trailsight emits, from `schemas/`: the `detail` of
//! each detail-type and the CLI's summary line. Subscribers validate against them or generate
//! bindings from them; with the `testing` feature, [`check`] validates an event against its
//! schema, and every test that produces events calls it, so the schemas cannot drift.

use crate::events::{DETAIL_TYPE_INSIGHT, DETAIL_TYPE_REMEDIATION, DETAIL_TYPE_RISKY_CHANGE};

/// The schema of the detail of `AWS Insight via CloudTrail` events.
pub const INSIGHT: &str = include_str!("../../../schemas/insight.schema.json");
/// The schema of the detail of `Trailsight Risky Change` events.
pub const RISKY_CHANGE: &str = include_str!("../../../schemas/risky-change.schema.json");
/// The schema of the detail of `Trailsight Remediation` events.
pub const REMEDIATION: &str = include_str!("../../../schemas/remediation.schema.json");
/// The schema of `trailsight replay`'s summary line.
pub const SUMMARY: &str = include_str!("../../../schemas/summary.schema.json");

/// The schema of a detail-type's detail.
pub fn for_detail_type(detail_type: &str) -> Option<&'static str> {
    match detail_type {
        DETAIL_TYPE_INSIGHT => Some(INSIGHT),
        DETAIL_TYPE_RISKY_CHANGE => Some(RISKY_CHANGE),
        DETAIL_TYPE_REMEDIATION => Some(REMEDIATION),
        _ => None,
    }
}

#[cfg(any(test, feature = "testing"))]
mod check {
    use super::*;
    use crate::events::Envelope;
    use serde_json::Value;
    use std::collections::HashMap;
    use std::sync::OnceLock;

    fn validators() -> &'static HashMap<&'static str, Result<jsonschema::Validator, String>> {
        static V: OnceLock<HashMap<&'static str, Result<jsonschema::Validator, String>>> = OnceLock::new();
        V.get_or_init(|| {
            [INSIGHT, RISKY_CHANGE, REMEDIATION, SUMMARY]
                .into_iter()
                .map(|text| {
                    let v = serde_json::from_str::<Value>(text)
                        .map_err(|e| e.to_string())
                        .and_then(|schema| jsonschema::draft202012::new(&schema).map_err(|e| e.to_string()));
                    (text, v)
                })
                .collect()
        })
    }

    fn validate(schema: &'static str, what: &str, value: &Value) -> Result<(), String> {
        let v = validators()
            .get(schema)
            .ok_or_else(|| format!("no validator for {what}"))?
            .as_ref()
            .map_err(|e| format!("the schema of {what} is invalid: {e}"))?;
        let errors: Vec<String> = v.iter_errors(value).map(|e| format!("{} at {}", e, e.instance_path)).collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(format!("{what} does not match its schema: {}", errors.join("; ")))
        }
    }

    /// Validates an event: source `trailsight` and its detail against its detail-type's schema.
    pub fn check(e: &Envelope) -> Result<(), String> {
        if e.source != "trailsight" && e.source != "trailsight.test" {
            return Err(format!("event {} has source {:?}, not trailsight", e.id, e.source));
        }
        let schema = for_detail_type(&e.detail_type)
            .ok_or_else(|| format!("event {} has an unknown detail-type {:?}", e.id, e.detail_type))?;
        validate(schema, &e.detail_type, &e.detail)
    }

    /// Validates an event as JSON, as a subscriber receives it: its source, detail-type and
    /// detail (the envelope's other members are EventBridge's).
    pub fn check_json(event: &Value) -> Result<(), String> {
        let text = |k: &str| event.get(k).and_then(Value::as_str).unwrap_or("");
        if text("source") != "trailsight" && text("source") != "trailsight.test" {
            return Err(format!("event has source {:?}, not trailsight: {event}", text("source")));
        }
        let schema =
            for_detail_type(text("detail-type")).ok_or_else(|| format!("event has an unknown detail-type: {event}"))?;
        validate(schema, text("detail-type"), event.get("detail").unwrap_or(&Value::Null))
    }

    /// Validates a summary line.
    pub fn check_summary(summary: &Value) -> Result<(), String> {
        validate(SUMMARY, "the summary line", summary)
    }
}

#[cfg(any(test, feature = "testing"))]
pub use check::{check, check_json, check_summary};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_schema_is_a_valid_draft_2020_12_schema_describing_every_field() {
        for text in [INSIGHT, RISKY_CHANGE, REMEDIATION, SUMMARY] {
            // Given a schema
            let schema: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
            // Then it compiles, and every property it names is described
            assert!(jsonschema::draft202012::new(&schema).is_ok(), "{text}");
            let mut missing = vec![];
            undescribed(&schema, "", &mut missing);
            assert!(missing.is_empty(), "properties without a description: {missing:?}");
        }
    }

    fn undescribed(v: &serde_json::Value, path: &str, out: &mut Vec<String>) {
        if let Some(props) = v.get("properties").and_then(serde_json::Value::as_object) {
            for (k, p) in props {
                if p.get("description").is_none() {
                    out.push(format!("{path}/{k}"));
                }
                undescribed(p, &format!("{path}/{k}"), out);
            }
        }
        if let Some(items) = v.get("items") {
            undescribed(items, &format!("{path}[]"), out);
        }
    }
}
