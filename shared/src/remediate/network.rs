//! EC2 step: revoke exactly the world-open rules on administration and database ports, as
//! they stand live (IPv4 and IPv6), leaving every other rule.

use super::*;

pub(super) async fn security_group<A: Admins>(
    admins: &A,
    config: &RemediationConfig,
    finding: &Finding,
    id: Option<&str>,
    name: Option<&str>,
) -> Step {
    let live = admins.group(id, name).await.map_err(no_state)?;
    let before = json!(live.ingress);
    if tag_exempt(&live.tags, &config.exempt_tag) {
        return Ok(outcome(
            finding,
            Decision::Exempt,
            before,
            Value::Null,
            format!(
                "security group {} carries the exemption tag {}",
                live.id, config.exempt_tag
            ),
        ));
    }
    let revoke = plan::world_open_admin(&live.ingress);
    if revoke.is_empty() {
        return Ok(outcome(
            finding,
            Decision::AlreadyFixed,
            before.clone(),
            before,
            "no admin port is open to the world any more",
        ));
    }
    if config.mode == Mode::DryRun {
        return Ok(outcome(
            finding,
            Decision::WouldRemediate,
            before,
            json!({"revoke": revoke}),
            format!(
                "dry-run: would revoke {} world-open admin-port rule(s) from {}",
                revoke.len(),
                live.id
            ),
        ));
    }
    admins
        .revoke(&live.id, &revoke)
        .await
        .map_err(|e| (e, before.clone()))?;
    let after = admins
        .group(Some(&live.id), None)
        .await
        .map_err(|e| (e, before.clone()))?;
    if !plan::world_open_admin(&after.ingress).is_empty() {
        return Ok(verify_failed(
            finding,
            before,
            json!(after.ingress),
            "admin ports are still open to the world",
        ));
    }
    Ok(outcome(
        finding,
        Decision::Remediated,
        before,
        json!(after.ingress),
        format!(
            "revoked {} world-open admin-port rule(s) from {}; other rules kept",
            revoke.len(),
            live.id
        ),
    ))
}
