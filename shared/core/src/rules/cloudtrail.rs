//! Is CloudTrail logging being stopped or hollowed out? StopLogging and DeleteTrail stop it;
//! a trail can also keep "logging" while it records less: event selectors that keep no
//! management events or only read events, a trail made single-region, global service events
//! turned off, or its logs sent to another bucket.

use super::{Call, Events, Finding, Resource, Rule, RuleId, Severity};
use serde_json::Value;

/// `cloudtrail-logging-stopped`: a trail stopped, deleted, or made to record less.
pub const RULE: Rule = Rule::new(RuleId::CloudtrailLoggingStopped, Severity::High, EVENTS, check);
const EVENTS: Events =
    &[("cloudtrail.amazonaws.com", &["StopLogging", "DeleteTrail", "UpdateTrail", "PutEventSelectors"])];

fn check(call: &Call<'_>) -> Vec<Finding> {
    let req = call.request;
    let trail = req.get("name").or_else(|| req.get("trailName")).and_then(Value::as_str).unwrap_or("").to_owned();
    let (why, critical) = match call.name {
        "StopLogging" => ("StopLogging: the trail stops recording API calls".to_owned(), true),
        "DeleteTrail" => ("DeleteTrail: the trail and its logging are gone".to_owned(), true),
        name => {
            let weakenings = weakenings(name, req);
            if weakenings.is_empty() {
                return vec![];
            }
            let reasons: Vec<String> = weakenings.iter().map(Weakening::reason).collect();
            (reasons.join("; "), false)
        }
    };
    let mut f = RULE.finding(Resource::Trail { name: trail }, why);
    if critical {
        f.severity = Severity::Critical;
    }
    vec![f]
}

/// One way a call makes a trail record less, as it can be checked on the live trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Weakening {
    /// No selector logs management events.
    NoManagementEvents,
    /// The selectors that log management events keep only read events.
    ReadOnlyManagementEvents,
    /// The trail records one region only.
    SingleRegion,
    /// IAM, STS and CloudFront events are no longer logged.
    NoGlobalServiceEvents,
    /// The logs now go to this bucket.
    Bucket(String),
}

impl Weakening {
    /// One sentence for the event's reason.
    pub fn reason(&self) -> String {
        match self {
            Weakening::NoManagementEvents => "no event selector includes management events".to_owned(),
            Weakening::ReadOnlyManagementEvents => {
                "the event selectors keep only read events: write (changing) calls stop being logged".to_owned()
            }
            Weakening::SingleRegion => {
                "isMultiRegionTrail set to false: calls in every other region stop being logged".to_owned()
            }
            Weakening::NoGlobalServiceEvents => {
                "includeGlobalServiceEvents set to false: IAM, STS and CloudFront management events stop being logged"
                    .to_owned()
            }
            Weakening::Bucket(b) => format!("log files now delivered to bucket {b}"),
        }
    }
}

fn is_false(v: Option<&Value>) -> bool {
    match v {
        Some(Value::Bool(b)) => !*b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("false"),
        _ => false,
    }
}

fn field_equals(selector: &Value, field: &str, value: &str) -> bool {
    selector.get("fieldSelectors").and_then(Value::as_array).is_some_and(|fields| {
        fields.iter().any(|f| {
            f.get("field").and_then(Value::as_str) == Some(field)
                && f.get("equals")
                    .and_then(Value::as_array)
                    .is_some_and(|e| e.iter().any(|v| v.as_str().is_some_and(|s| s.eq_ignore_ascii_case(value))))
        })
    })
}

/// How a set of event selectors (basic `eventSelectors` or `advancedEventSelectors`, as a
/// request or GetEventSelectors gives them) hides management events, if it does.
pub fn selectors_weakening(selectors: &Value) -> Option<Weakening> {
    if let Some(Value::Array(basic)) = selectors.get("eventSelectors").or_else(|| selectors.get("EventSelectors")) {
        let management: Vec<&Value> = basic
            .iter()
            .filter(|s| {
                match s.get("includeManagementEvents").or_else(|| s.get("IncludeManagementEvents")) {
                    Some(Value::Bool(b)) => *b,
                    Some(Value::String(t)) => t.eq_ignore_ascii_case("true"),
                    None => true, // the API's default is to include management events
                    _ => false,
                }
            })
            .collect();
        if management.is_empty() {
            return Some(Weakening::NoManagementEvents);
        }
        let read_only = management.iter().all(|s| {
            s.get("readWriteType")
                .or_else(|| s.get("ReadWriteType"))
                .and_then(Value::as_str)
                .is_some_and(|t| t.eq_ignore_ascii_case("ReadOnly"))
        });
        return read_only.then_some(Weakening::ReadOnlyManagementEvents);
    }
    if let Some(Value::Array(advanced)) =
        selectors.get("advancedEventSelectors").or_else(|| selectors.get("AdvancedEventSelectors"))
    {
        let management: Vec<&Value> =
            advanced.iter().filter(|s| field_equals(s, "eventCategory", "Management")).collect();
        if management.is_empty() {
            return Some(Weakening::NoManagementEvents);
        }
        let read_only = management.iter().all(|s| field_equals(s, "readOnly", "true"));
        return read_only.then_some(Weakening::ReadOnlyManagementEvents);
    }
    None
}

/// The ways an UpdateTrail or PutEventSelectors request makes the trail record less.
pub fn weakenings(event_name: &str, request: &Value) -> Vec<Weakening> {
    match event_name {
        "PutEventSelectors" => selectors_weakening(request).into_iter().collect(),
        "UpdateTrail" => {
            let mut out = vec![];
            if is_false(request.get("isMultiRegionTrail")) {
                out.push(Weakening::SingleRegion);
            }
            if is_false(request.get("includeGlobalServiceEvents")) {
                out.push(Weakening::NoGlobalServiceEvents);
            }
            if let Some(b) = request.get("s3BucketName").and_then(Value::as_str) {
                out.push(Weakening::Bucket(b.to_owned()));
            }
            out
        }
        _ => vec![],
    }
}
