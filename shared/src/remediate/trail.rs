//! CloudTrail step: start logging again on a stopped trail; a deleted trail is reported.

use super::*;

pub(super) async fn trail<A: Admins>(
    admins: &A,
    config: &RemediationConfig,
    finding: &Finding,
    name: &str,
    record: &Value,
) -> Step {
    let event_name = record.get("eventName").and_then(Value::as_str).unwrap_or("");
    let status = match admins.trail_status(name).await {
        Err(AdminError::NotFound(_)) if event_name == "DeleteTrail" => {
            return Ok(outcome(
                finding,
                Decision::NotFound,
                Value::Null,
                Value::Null,
                format!("trail {name} was deleted and cannot be brought back: recreate it (its S3 logs are kept)"),
            ));
        }
        other => other.map_err(no_state)?,
    };
    let before = json!(status);
    if status.is_logging {
        let reason = if matches!(event_name, "UpdateTrail" | "PutEventSelectors") {
            "the trail is logging; review its event selectors, which the call changed (trailsight restores logging, not selectors)"
        } else {
            "the trail is logging again"
        };
        return Ok(outcome(finding, Decision::AlreadyFixed, before.clone(), before, reason));
    }
    if config.mode == Mode::DryRun {
        return Ok(outcome(
            finding,
            Decision::WouldRemediate,
            before,
            json!(TrailStatusView { is_logging: true }),
            format!("dry-run: would start logging on trail {name}"),
        ));
    }
    admins.start_logging(name).await.map_err(|e| (e, before.clone()))?;
    let after = admins.trail_status(name).await.map_err(|e| (e, before.clone()))?;
    if !after.is_logging {
        return Ok(verify_failed(
            finding,
            before,
            json!(after),
            "the trail is still not logging",
        ));
    }
    Ok(outcome(
        finding,
        Decision::Remediated,
        before,
        json!(after),
        format!("started logging on trail {name}"),
    ))
}

#[derive(Serialize)]
pub(super) struct TrailStatusView {
    is_logging: bool,
}
