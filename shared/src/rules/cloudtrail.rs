//! Is CloudTrail logging being stopped? StopLogging and DeleteTrail; PutEventSelectors that
//! leave no selector logging management events; UpdateTrail that stops logging the
//! management events of global services (IAM, STS, CloudFront).

use serde_json::Value;

/// Why a PutEventSelectors request stops management events, if it does.
pub fn selectors_stop_management(request: &Value) -> Option<String> {
    if let Some(Value::Array(selectors)) = request.get("eventSelectors") {
        let any = selectors.iter().any(|s| match s.get("includeManagementEvents") {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(t)) => t.eq_ignore_ascii_case("true"),
            None => true, // the API's default is to include management events
            _ => false,
        });
        return (!any).then(|| "no event selector includes management events".to_owned());
    }
    if let Some(Value::Array(advanced)) = request.get("advancedEventSelectors") {
        let management = advanced.iter().any(|s| {
            s.get("fieldSelectors").and_then(Value::as_array).is_some_and(|fields| {
                fields.iter().any(|f| {
                    f.get("field").and_then(Value::as_str) == Some("eventCategory")
                        && f.get("equals")
                            .and_then(Value::as_array)
                            .is_some_and(|e| e.iter().any(|v| v.as_str() == Some("Management")))
                })
            })
        });
        return (!management).then(|| "no advanced event selector selects eventCategory Management".to_owned());
    }
    None
}

/// Why an UpdateTrail request stops management events, if it does.
pub fn update_stops_management(request: &Value) -> Option<String> {
    match request.get("includeGlobalServiceEvents") {
        Some(Value::Bool(false)) => Some(
            "includeGlobalServiceEvents set to false: IAM, STS and CloudFront management events stop being logged"
                .to_owned(),
        ),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => {
            Some("includeGlobalServiceEvents set to false".to_owned())
        }
        _ => None,
    }
}
