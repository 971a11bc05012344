//! CloudTrail step: start logging again on a stopped trail (a deleted trail is reported). A
//! call that leaves the trail logging but recording less (selectors that hide management or
//! write events, single-region, no global service events, another bucket) is checked on the
//! live trail: still so is `needs-review` (trailsight does not rewrite a trail's
//! configuration), never `already-fixed`.

use super::*;
use crate::rules::cloudtrail::{self as ct, Weakening};

/// Whether a weakening the call made is still live on the trail.
fn still_live(w: &Weakening, live: &ports::TrailConfig) -> bool {
    match w {
        Weakening::NoManagementEvents | Weakening::ReadOnlyManagementEvents => {
            ct::selectors_weakening(&live.selectors).as_ref() == Some(w)
        }
        Weakening::SingleRegion => !live.multi_region,
        Weakening::NoGlobalServiceEvents => !live.global_service_events,
        Weakening::Bucket(b) => live.bucket == *b,
    }
}

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
    let weakenings = ct::weakenings(event_name, record.get("requestParameters").unwrap_or(&Value::Null));
    if status.is_logging {
        if weakenings.is_empty() {
            return Ok(outcome(
                finding,
                Decision::AlreadyFixed,
                before.clone(),
                before,
                "the trail is logging again",
            ));
        }
        let live = admins.trail_config(name).await.map_err(|e| (e, before.clone()))?;
        let live_json = json!(live);
        let left: Vec<String> = weakenings
            .iter()
            .filter(|w| still_live(w, &live))
            .map(Weakening::reason)
            .collect();
        if left.is_empty() {
            return Ok(outcome(
                finding,
                Decision::AlreadyFixed,
                live_json.clone(),
                live_json,
                "the trail logs and records what this call had removed again",
            ));
        }
        return Ok(outcome(
            finding,
            Decision::NeedsReview,
            live_json.clone(),
            live_json,
            format!(
                "trail {name} still logs but records less: {}; trailsight restores logging, not a trail's configuration: review it",
                left.join("; ")
            ),
        ));
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
    let (after, logging) = read_back(
        admins,
        config,
        async || admins.trail_status(name).await,
        |s: &ports::TrailStatus| s.is_logging,
    )
    .await
    .map_err(|e| (e, before.clone()))?;
    if !logging {
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
