//! S3 steps, each scoped to what the triggering call added: its public bucket-policy
//! statements (removed, or narrowed when they name principals beside `*`), its public ACL
//! grants (bucket, object or object version), and the public access block settings it turned
//! off (bucket or account level). Each re-reads live state, acts only to remove access, and
//! reads back to verify; a bucket-policy fix is cross-checked with S3's own verdict.

use super::*;
use crate::rules::{public_access_block, s3_acl, s3_policy};

pub(super) async fn exempt_by_bucket_tag<A: Admins>(
    admins: &A,
    config: &RemediationConfig,
    finding: &Finding,
    bucket: &str,
) -> Result<Option<Outcome>, (AdminError, Value)> {
    let tags = admins.tags(bucket).await.map_err(no_state)?;
    Ok(tag_exempt(&tags, &config.exempt_tag).then(|| {
        outcome(
            finding,
            Decision::Exempt,
            Value::Null,
            Value::Null,
            format!("bucket {bucket} carries the exemption tag {}=true", config.exempt_tag),
        )
    }))
}

pub(super) fn parse_policy(text: &Option<String>) -> Value {
    match text {
        None => Value::Null,
        Some(t) => serde_json::from_str(t).unwrap_or_else(|_| Value::String(t.clone())),
    }
}

fn plan_for(text: &str, introduced: &[Value], before: &Value) -> Result<PolicyPlan, (AdminError, Value)> {
    plan::strip_public_statements(text, introduced).map_err(|e| {
        (
            AdminError::Failed {
                action: "s3:GetBucketPolicy".into(),
                why: e.to_string(),
            },
            before.clone(),
        )
    })
}

fn others_note(others: usize) -> String {
    if others == 0 {
        String::new()
    } else {
        format!("; {others} other public statement(s) were not added by this call and are left for their own trigger")
    }
}

fn verdict(public: Option<bool>) -> &'static str {
    match public {
        Some(true) => "public",
        Some(false) => "not public",
        None => "no policy",
    }
}

pub(super) async fn bucket_policy<A: Admins>(
    admins: &A,
    config: &RemediationConfig,
    finding: &Finding,
    bucket: &str,
    request: &Value,
) -> Step {
    if let Some(exempt) = exempt_by_bucket_tag(admins, config, finding, bucket).await? {
        return Ok(exempt);
    }
    let introduced = s3_policy::policy_document(request)
        .map(|p| plan::introduced_statements(&p))
        .unwrap_or_default();
    let live = admins.policy(bucket).await.map_err(no_state)?;
    let before = parse_policy(&live);
    let Some(text) = live else {
        return Ok(outcome(
            finding,
            Decision::AlreadyFixed,
            before,
            Value::Null,
            "the bucket has no policy any more",
        ));
    };
    let plan = plan_for(&text, &introduced, &before)?;
    let (intended, removed, others) = match &plan {
        PolicyPlan::NotPublic { others_public } => {
            return Ok(outcome(
                finding,
                Decision::AlreadyFixed,
                before.clone(),
                before,
                format!(
                    "none of the public statements this call added is live any more{}",
                    others_note(*others_public)
                ),
            ))
        }
        PolicyPlan::Rewrite {
            policy,
            removed,
            others_public,
            ..
        } => (parse_policy(&Some(policy.clone())), removed.len(), *others_public),
        PolicyPlan::Delete { removed } => (Value::Null, removed.len(), 0),
    };
    if config.mode == Mode::DryRun {
        return Ok(outcome(
            finding,
            Decision::WouldRemediate,
            before,
            intended,
            format!(
                "dry-run: would remove {removed} public statement(s) this call added to the bucket policy{}",
                others_note(others)
            ),
        ));
    }
    let applied = match &plan {
        PolicyPlan::Rewrite { policy, .. } => admins.put_policy(bucket, policy).await,
        _ => admins.delete_policy(bucket).await,
    };
    applied.map_err(|e| (e, before.clone()))?;
    let (after_text, closed) = read_back(
        admins,
        config,
        async || admins.policy(bucket).await,
        |t: &Option<String>| {
            t.as_deref().is_none_or(|t| {
                matches!(
                    plan::strip_public_statements(t, &introduced),
                    Ok(PolicyPlan::NotPublic { .. })
                )
            })
        },
    )
    .await
    .map_err(|e| (e, before.clone()))?;
    let after = parse_policy(&after_text);
    if !closed {
        return Ok(verify_failed(
            finding,
            before,
            after,
            "the public statements this call added are still in the bucket policy after the change",
        ));
    }
    // Cross-check with S3's own verdict on what is left.
    let ours = after_text
        .as_deref()
        .map(|t| serde_json::from_str(t).is_ok_and(|v: Value| s3_policy::is_public(&v)));
    let theirs = admins.policy_status(bucket).await.map_err(|e| (e, before.clone()))?;
    if theirs.unwrap_or(false) != ours.unwrap_or(false) {
        return Ok(verify_failed(
            finding,
            before,
            after,
            &format!(
                "verdicts disagree after the change: S3's GetBucketPolicyStatus says {}, trailsight says {}",
                verdict(theirs),
                verdict(ours)
            ),
        ));
    }
    Ok(outcome(
        finding,
        Decision::Remediated,
        before,
        after,
        format!(
            "removed {removed} public statement(s) this call added to the bucket policy; other statements unchanged{}",
            others_note(others)
        ),
    ))
}

pub(super) async fn bucket_acl<A: Admins>(
    admins: &A,
    config: &RemediationConfig,
    finding: &Finding,
    bucket: &str,
    key: Option<&str>,
    version: Option<&str>,
    request: &Value,
) -> Step {
    if let Some(exempt) = exempt_by_bucket_tag(admins, config, finding, bucket).await? {
        return Ok(exempt);
    }
    let introduced = s3_acl::public_grants(request);
    let live = admins.acl(bucket, key, version).await.map_err(no_state)?;
    let before = json!(live);
    let what = match (key, version) {
        (None, _) => "bucket ACL".to_owned(),
        (Some(_), None) => "object ACL".to_owned(),
        (Some(_), Some(v)) => format!("ACL of object version {v}"),
    };
    let Some((fixed, removed)) = plan::strip_public_grants(&live, &introduced) else {
        return Ok(outcome(
            finding,
            Decision::AlreadyFixed,
            before.clone(),
            before,
            format!("none of the public grants this call made is live in the {what} any more"),
        ));
    };
    if config.mode == Mode::DryRun {
        return Ok(outcome(
            finding,
            Decision::WouldRemediate,
            before,
            json!(fixed),
            format!(
                "dry-run: would remove {} public grant(s) this call made from the {what}",
                removed.len()
            ),
        ));
    }
    admins
        .put_acl(bucket, key, version, &fixed)
        .await
        .map_err(|e| (e, before.clone()))?;
    let (after, closed) = read_back(
        admins,
        config,
        async || admins.acl(bucket, key, version).await,
        |a| plan::strip_public_grants(a, &introduced).is_none(),
    )
    .await
    .map_err(|e| (e, before.clone()))?;
    if !closed {
        return Ok(verify_failed(
            finding,
            before,
            json!(after),
            "the ACL still has the public grants this call made",
        ));
    }
    Ok(outcome(
        finding,
        Decision::Remediated,
        before,
        json!(after),
        format!(
            "removed {} public grant(s) this call made from the {what}; owner and other grants kept",
            removed.len()
        ),
    ))
}

/// The public access block settings the call turned off: all four for a deletion.
fn turned_off(record: &Value) -> Vec<&'static str> {
    let name = record.get("eventName").and_then(Value::as_str).unwrap_or("");
    if name.starts_with("Delete") {
        return public_access_block::SETTINGS.to_vec();
    }
    record
        .pointer("/requestParameters/PublicAccessBlockConfiguration")
        .map(public_access_block::settings_off)
        .unwrap_or_default()
}

pub(super) async fn bucket_pab<A: Admins>(
    admins: &A,
    config: &RemediationConfig,
    finding: &Finding,
    bucket: &str,
    record: &Value,
) -> Step {
    if let Some(exempt) = exempt_by_bucket_tag(admins, config, finding, bucket).await? {
        return Ok(exempt);
    }
    let off = turned_off(record);
    let live = admins.public_access_block(bucket).await.map_err(no_state)?;
    public_access_block_on(
        admins,
        config,
        finding,
        "bucket",
        &off,
        live,
        async || admins.public_access_block(bucket).await,
        async |fix| admins.put_public_access_block(bucket, fix).await,
    )
    .await
}

/// The account's buckets that are exempt (by tag or name pattern).
async fn exempt_buckets<A: Admins>(admins: &A, config: &RemediationConfig) -> Result<Vec<String>, AdminError> {
    let mut exempt = vec![];
    for bucket in admins.buckets().await? {
        if config.exempt_resources.iter().any(|p| glob(p, &bucket)) {
            exempt.push(bucket);
            continue;
        }
        match admins.tags(&bucket).await {
            Ok(tags) if tag_exempt(&tags, &config.exempt_tag) => exempt.push(bucket),
            Ok(_) | Err(AdminError::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(exempt)
}

pub(super) async fn account_pab<A: Admins>(
    admins: &A,
    config: &RemediationConfig,
    finding: &Finding,
    account: &str,
    record: &Value,
) -> Step {
    let off = turned_off(record);
    let live = admins.account_public_access_block(account).await.map_err(no_state)?;
    if plan::public_access_block_fix(live.as_ref(), &off).is_some() {
        let exempt = exempt_buckets(admins, config).await.map_err(|e| (e, json!(live)))?;
        if !exempt.is_empty() {
            return Ok(outcome(
                finding,
                Decision::NeedsReview,
                json!(live),
                Value::Null,
                format!(
                    "turning {} back on for the whole account would also close the exempt bucket(s) {}: not applied, review it",
                    off.join(", "),
                    exempt.join(", ")
                ),
            ));
        }
    }
    public_access_block_on(
        admins,
        config,
        finding,
        "account",
        &off,
        live,
        async || admins.account_public_access_block(account).await,
        async |fix| admins.put_account_public_access_block(account, fix).await,
    )
    .await
}

/// Turns back on, at one `level` (bucket or account), the public access block settings the
/// call turned off: from the live settings, writes only if one of them is still off, and reads
/// back to verify.
#[allow(clippy::too_many_arguments)]
pub(super) async fn public_access_block_on<A: Admins>(
    admins: &A,
    config: &RemediationConfig,
    finding: &Finding,
    level: &str,
    off: &[&str],
    live: Option<PublicAccessBlock>,
    read: impl AsyncFn() -> Result<Option<PublicAccessBlock>, AdminError>,
    write: impl AsyncFn(&PublicAccessBlock) -> Result<(), AdminError>,
) -> Step {
    let before = json!(live);
    let settings = off.join(", ");
    let Some(fix) = plan::public_access_block_fix(live.as_ref(), off) else {
        return Ok(outcome(
            finding,
            Decision::AlreadyFixed,
            before.clone(),
            before,
            format!("the {level} public access block settings this call turned off ({settings}) are on"),
        ));
    };
    if config.mode == Mode::DryRun {
        return Ok(outcome(
            finding,
            Decision::WouldRemediate,
            before,
            json!(fix),
            format!("dry-run: would turn the {level} public access block settings {settings} back on"),
        ));
    }
    write(&fix).await.map_err(|e| (e, before.clone()))?;
    let (after, closed) = read_back(admins, config, read, |a: &Option<PublicAccessBlock>| {
        plan::public_access_block_fix(a.as_ref(), off).is_none()
    })
    .await
    .map_err(|e| (e, before.clone()))?;
    if !closed {
        return Ok(verify_failed(
            finding,
            before,
            json!(after),
            &format!("the {level} public access block settings {settings} are still not on"),
        ));
    }
    Ok(outcome(
        finding,
        Decision::Remediated,
        before,
        json!(after),
        format!("turned the {level} public access block settings {settings} back on; the others unchanged"),
    ))
}
