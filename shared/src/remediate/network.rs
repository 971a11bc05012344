//! EC2 step: revoke exactly what the call opened. When the record names the rules it created
//! (`responseElements.securityGroupRuleSet`) or modified (ModifySecurityGroupRules), those
//! rule ids, ingress only, as long as they are live; otherwise (older records) the world-open
//! CIDRs the call added on its protocol and ports. Every other rule stays, including a
//! bastion's intended world-open SSH that this call did not add.

use super::*;
use crate::rules::security_group::{self as sg, OpenPermission};

fn opening(record: &Value) -> Vec<OpenPermission> {
    match record.get("eventName").and_then(Value::as_str) {
        Some("ModifySecurityGroupRules") => sg::modify_opening(record),
        _ => sg::authorize_opening(record),
    }
}

pub(super) async fn security_group<A: Admins>(
    admins: &A,
    config: &RemediationConfig,
    finding: &Finding,
    id: Option<&str>,
    name: Option<&str>,
    record: &Value,
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
                "security group {} carries the exemption tag {}=true",
                live.id, config.exempt_tag
            ),
        ));
    }
    let opening = opening(record);
    let rule_ids: Vec<String> = opening.iter().flat_map(|o| o.rule_ids.iter().cloned()).collect();
    if rule_ids.is_empty() {
        return by_ranges(admins, config, finding, &live.id, before, &live.ingress, &opening).await;
    }
    let rules = admins.rules(&live.id).await.map_err(|e| (e, before.clone()))?;
    let cidrs: Vec<&String> = opening
        .iter()
        .flat_map(|o| o.ipv4.iter().chain(o.ipv6.iter()))
        .collect();
    let egress: Vec<&str> = rules
        .iter()
        .filter(|r| r.egress && rule_ids.contains(&r.id))
        .map(|r| r.id.as_str())
        .collect();
    let targets: Vec<String> = rules
        .iter()
        .filter(|r| !r.egress && rule_ids.contains(&r.id))
        .filter(|r| r.cidr.as_ref().is_some_and(|c| cidrs.contains(&c)))
        .filter(|r| sg::covers_admin_port(&r.protocol, r.from, r.to))
        .map(|r| r.id.clone())
        .collect();
    if targets.is_empty() {
        let why = if egress.is_empty() {
            format!(
                "the rule(s) {} this call opened are gone or no longer open to the world",
                rule_ids.join(", ")
            )
        } else {
            format!("{} is an egress rule: it opens nothing inbound", egress.join(", "))
        };
        return Ok(outcome(finding, Decision::AlreadyFixed, before.clone(), before, why));
    }
    if config.mode == Mode::DryRun {
        return Ok(outcome(
            finding,
            Decision::WouldRemediate,
            before,
            json!({"revokeRuleIds": targets}),
            format!(
                "dry-run: would revoke the rule(s) {} this call opened on {}",
                targets.join(", "),
                live.id
            ),
        ));
    }
    admins
        .revoke_rules(&live.id, &targets)
        .await
        .map_err(|e| (e, before.clone()))?;
    let (_, gone) = read_back(
        admins,
        config,
        async || admins.rules(&live.id).await,
        |rules: &Vec<ports::GroupRule>| !rules.iter().any(|r| targets.contains(&r.id)),
    )
    .await
    .map_err(|e| (e, before.clone()))?;
    let after = admins
        .group(Some(&live.id), None)
        .await
        .map(|g| json!(g.ingress))
        .map_err(|e| (e, before.clone()))?;
    if !gone {
        return Ok(verify_failed(
            finding,
            before,
            after,
            "the rules this call opened are still there",
        ));
    }
    Ok(outcome(
        finding,
        Decision::Remediated,
        before,
        after,
        format!(
            "revoked the rule(s) {} this call opened on {}; other rules kept",
            targets.join(", "),
            live.id
        ),
    ))
}

/// For records without rule ids: revoke the world-open CIDRs the call added, on its protocol
/// and ports, that are still live.
async fn by_ranges<A: Admins>(
    admins: &A,
    config: &RemediationConfig,
    finding: &Finding,
    group_id: &str,
    before: Value,
    ingress: &[ports::Permission],
    opening: &[OpenPermission],
) -> Step {
    let revoke = plan::call_ranges(ingress, opening);
    if revoke.is_empty() {
        return Ok(outcome(
            finding,
            Decision::AlreadyFixed,
            before.clone(),
            before,
            "the world-open ranges this call added are no longer there",
        ));
    }
    if config.mode == Mode::DryRun {
        return Ok(outcome(
            finding,
            Decision::WouldRemediate,
            before,
            json!({"revoke": revoke}),
            format!(
                "dry-run: would revoke {} world-open admin-port range(s) this call added to {group_id}",
                revoke.len()
            ),
        ));
    }
    admins
        .revoke(group_id, &revoke)
        .await
        .map_err(|e| (e, before.clone()))?;
    let (after, gone) = read_back(
        admins,
        config,
        async || admins.group(Some(group_id), None).await,
        |g: &ports::SecurityGroup| plan::call_ranges(&g.ingress, opening).is_empty(),
    )
    .await
    .map_err(|e| (e, before.clone()))?;
    if !gone {
        return Ok(verify_failed(
            finding,
            before,
            json!(after.ingress),
            "the world-open ranges this call added are still there",
        ));
    }
    Ok(outcome(
        finding,
        Decision::Remediated,
        before,
        json!(after.ingress),
        format!(
            "revoked {} world-open admin-port range(s) this call added to {group_id}; other rules kept",
            revoke.len()
        ),
    ))
}
