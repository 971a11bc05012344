//! S3 steps: a public bucket policy (only the public statements go), public ACL grants, and
//! the public access block at bucket or account level. Each re-reads live state, acts only
//! to remove access, and reads back to verify.

use super::*;

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
            format!("bucket {bucket} carries the exemption tag {}", config.exempt_tag),
        )
    }))
}

pub(super) fn parse_policy(text: &Option<String>) -> Value {
    match text {
        None => Value::Null,
        Some(t) => serde_json::from_str(t).unwrap_or_else(|_| Value::String(t.clone())),
    }
}

pub(super) async fn bucket_policy<A: Admins>(
    admins: &A,
    config: &RemediationConfig,
    finding: &Finding,
    bucket: &str,
) -> Step {
    if let Some(exempt) = exempt_by_bucket_tag(admins, config, finding, bucket).await? {
        return Ok(exempt);
    }
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
    let plan = plan::strip_public_statements(&text).map_err(|e| {
        (
            AdminError::Failed {
                action: "s3:GetBucketPolicy".into(),
                why: e.to_string(),
            },
            before.clone(),
        )
    })?;
    let (intended, removed) = match &plan {
        PolicyPlan::NotPublic => {
            return Ok(outcome(
                finding,
                Decision::AlreadyFixed,
                before.clone(),
                before,
                "the live policy is not public",
            ))
        }
        PolicyPlan::Rewrite { policy, removed } => (parse_policy(&Some(policy.clone())), removed.len()),
        PolicyPlan::Delete { removed } => (Value::Null, removed.len()),
    };
    if config.mode == Mode::DryRun {
        return Ok(outcome(
            finding,
            Decision::WouldRemediate,
            before,
            intended,
            format!("dry-run: would remove {removed} public statement(s) from the bucket policy"),
        ));
    }
    let applied = match &plan {
        PolicyPlan::Rewrite { policy, .. } => admins.put_policy(bucket, policy).await,
        _ => admins.delete_policy(bucket).await,
    };
    applied.map_err(|e| (e, before.clone()))?;
    let after_text = admins.policy(bucket).await.map_err(|e| (e, before.clone()))?;
    let after = parse_policy(&after_text);
    if after_text
        .as_deref()
        .is_some_and(|t| serde_json::from_str(t).is_ok_and(|v: Value| rules::s3_policy::is_public(&v)))
    {
        return Ok(verify_failed(
            finding,
            before,
            after,
            "the bucket policy is still public after the change",
        ));
    }
    Ok(outcome(
        finding,
        Decision::Remediated,
        before,
        after,
        format!("removed {removed} public statement(s) from the bucket policy; other statements unchanged"),
    ))
}

pub(super) async fn bucket_acl<A: Admins>(
    admins: &A,
    config: &RemediationConfig,
    finding: &Finding,
    bucket: &str,
    key: Option<&str>,
) -> Step {
    if let Some(exempt) = exempt_by_bucket_tag(admins, config, finding, bucket).await? {
        return Ok(exempt);
    }
    let live = admins.acl(bucket, key).await.map_err(no_state)?;
    let before = json!(live);
    let Some((fixed, removed)) = plan::strip_public_grants(&live) else {
        return Ok(outcome(
            finding,
            Decision::AlreadyFixed,
            before.clone(),
            before,
            "the live ACL grants nothing to the public groups",
        ));
    };
    let what = if key.is_some() { "object ACL" } else { "bucket ACL" };
    if config.mode == Mode::DryRun {
        return Ok(outcome(
            finding,
            Decision::WouldRemediate,
            before,
            json!(fixed),
            format!(
                "dry-run: would remove {} public grant(s) from the {what}",
                removed.len()
            ),
        ));
    }
    admins
        .put_acl(bucket, key, &fixed)
        .await
        .map_err(|e| (e, before.clone()))?;
    let after = admins.acl(bucket, key).await.map_err(|e| (e, before.clone()))?;
    if plan::strip_public_grants(&after).is_some() {
        return Ok(verify_failed(
            finding,
            before,
            json!(after),
            "the ACL still grants the public groups",
        ));
    }
    Ok(outcome(
        finding,
        Decision::Remediated,
        before,
        json!(after),
        format!(
            "removed {} public grant(s) from the {what}; owner and other grants kept",
            removed.len()
        ),
    ))
}

pub(super) async fn bucket_pab<A: Admins>(
    admins: &A,
    config: &RemediationConfig,
    finding: &Finding,
    bucket: &str,
) -> Step {
    if let Some(exempt) = exempt_by_bucket_tag(admins, config, finding, bucket).await? {
        return Ok(exempt);
    }
    public_access_block_on(
        config,
        finding,
        "bucket",
        async || admins.public_access_block(bucket).await,
        async |fix| admins.put_public_access_block(bucket, fix).await,
    )
    .await
}

pub(super) async fn account_pab<A: Admins>(
    admins: &A,
    config: &RemediationConfig,
    finding: &Finding,
    account: &str,
) -> Step {
    public_access_block_on(
        config,
        finding,
        "account",
        async || admins.account_public_access_block(account).await,
        async |fix| admins.put_account_public_access_block(account, fix).await,
    )
    .await
}

/// Turns all four public access block settings on at one `level` (bucket or account): reads
/// the live settings, writes only if one is off, and reads them back to verify.
pub(super) async fn public_access_block_on(
    config: &RemediationConfig,
    finding: &Finding,
    level: &str,
    read: impl AsyncFn() -> Result<Option<PublicAccessBlock>, AdminError>,
    write: impl AsyncFn(&PublicAccessBlock) -> Result<(), AdminError>,
) -> Step {
    let live = read().await.map_err(no_state)?;
    let before = json!(live);
    let Some(fix) = plan::public_access_block_fix(live.as_ref()) else {
        return Ok(outcome(
            finding,
            Decision::AlreadyFixed,
            before.clone(),
            before,
            format!("all four {level} public access block settings are on"),
        ));
    };
    if config.mode == Mode::DryRun {
        return Ok(outcome(
            finding,
            Decision::WouldRemediate,
            before,
            json!(fix),
            format!("dry-run: would turn all four {level} public access block settings on"),
        ));
    }
    write(&fix).await.map_err(|e| (e, before.clone()))?;
    let after = read().await.map_err(|e| (e, before.clone()))?;
    if plan::public_access_block_fix(after.as_ref()).is_some() {
        return Ok(verify_failed(
            finding,
            before,
            json!(after),
            &format!("the {level} public access block is still not fully on"),
        ));
    }
    Ok(outcome(
        finding,
        Decision::Remediated,
        before,
        json!(after),
        format!("turned all four {level} public access block settings on"),
    ))
}
