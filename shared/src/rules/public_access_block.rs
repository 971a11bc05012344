//! Is Block Public Access being removed? Deleting it (bucket or account level), or a
//! configuration that sets any of its four settings to `false`. A call that only turns
//! settings on never fires, and neither does a setting the configuration leaves out: the
//! rule reports, and remediation turns back on, exactly the settings the call turned off.

use serde_json::Value;

/// The four settings of a public access block.
pub const SETTINGS: [&str; 4] = [
    "BlockPublicAcls",
    "IgnorePublicAcls",
    "BlockPublicPolicy",
    "RestrictPublicBuckets",
];

fn off(v: Option<&Value>) -> bool {
    match v {
        Some(Value::Bool(b)) => !*b,
        Some(Value::String(s)) => s.trim().eq_ignore_ascii_case("false"),
        _ => false,
    }
}

/// The settings a configuration turns off (set to `false`); empty when it only turns
/// settings on.
pub fn settings_off(config: &Value) -> Vec<&'static str> {
    SETTINGS.into_iter().filter(|s| off(config.get(*s))).collect()
}
