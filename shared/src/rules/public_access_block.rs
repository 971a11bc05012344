//! Is Block Public Access being removed? Deleting it, or setting any of its four settings
//! off, at bucket or account level. A setting left out of a configuration is off.

use serde_json::Value;

/// The four settings of a public access block.
pub const SETTINGS: [&str; 4] = [
    "BlockPublicAcls",
    "IgnorePublicAcls",
    "BlockPublicPolicy",
    "RestrictPublicBuckets",
];

fn on(v: Option<&Value>) -> bool {
    match v {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

/// The settings a configuration turns (or leaves) off; empty when all four are on.
pub fn settings_off(config: &Value) -> Vec<&'static str> {
    SETTINGS.into_iter().filter(|s| !on(config.get(*s))).collect()
}
