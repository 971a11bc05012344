//! Risky-change rules (TEMPORARY STUB so the workspace compiles; the real engine replaces this file).
use serde_json::Value;
#[derive(Debug)]
pub struct Finding;
pub fn concerns(_s: &str, _n: &str) -> bool {
    false
}
pub fn evaluate(_r: &Value) -> Vec<Finding> {
    vec![]
}
pub fn risky_change_event(_r: &Value, _f: &Finding) -> crate::events::Envelope {
    crate::events::Envelope::new("", "", "", "", "", vec![], Value::Null)
}
