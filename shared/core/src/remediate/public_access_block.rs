//! `s3-public-access-block-removed`: turn back on the settings the call turned off (all four
//! for a deletion), at bucket or account level, leaving the others as they are. An account-wide
//! fix that would also close an exempt bucket is left for review.

use super::driver::{Plan, Remediation, Tags};
use super::plan;
use super::ports::{AdminError, BlockLevel, BucketAdmin, Pause, PublicAccessBlock, PublicAccessBlockAdmin};
use super::{Decision, Exemptions, RemediationConfig};
use crate::rules::public_access_block::{settings_off, SETTINGS};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// The block the call changed and the settings it turned off.
#[derive(Debug)]
pub struct PublicAccessBlockOn {
    level: BlockLevel,
    off: Vec<&'static str>,
}

impl PublicAccessBlockOn {
    /// For the call `record` at `level`.
    pub fn new(level: BlockLevel, record: &Value) -> Self {
        let name = record.get("eventName").and_then(Value::as_str).unwrap_or("");
        let off = if name.starts_with("Delete") {
            SETTINGS.to_vec()
        } else {
            record.pointer("/requestParameters/PublicAccessBlockConfiguration").map(settings_off).unwrap_or_default()
        };
        PublicAccessBlockOn { level, off }
    }

    fn level(&self) -> &'static str {
        match self.level {
            BlockLevel::Bucket(_) => "bucket",
            BlockLevel::Account(_) => "account",
        }
    }
}

/// The block as it stands, and the bucket's tags (bucket level).
#[derive(Debug)]
pub struct State {
    tags: BTreeMap<String, String>,
    block: Option<PublicAccessBlock>,
}

/// The account's buckets that are exempt (by tag or name pattern).
async fn exempt_buckets<A: BucketAdmin>(admins: &A, exemptions: &Exemptions) -> Result<Vec<String>, AdminError> {
    let mut exempt = vec![];
    for bucket in admins.buckets().await? {
        if exemptions.pattern(&bucket).is_some() {
            exempt.push(bucket);
            continue;
        }
        match admins.tags(&bucket).await {
            Ok(tags) if exemptions.tagged(&tags) => exempt.push(bucket),
            Ok(_) | Err(AdminError::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(exempt)
}

impl<A: BucketAdmin + PublicAccessBlockAdmin + Pause + Sync> Remediation<A> for PublicAccessBlockOn {
    type State = State;
    type Plan = PublicAccessBlock;

    async fn read(&self, admins: &A) -> Result<State, AdminError> {
        let tags = match &self.level {
            BlockLevel::Bucket(b) => admins.tags(b).await?,
            BlockLevel::Account(_) => BTreeMap::new(),
        };
        Ok(State { tags, block: admins.public_access_block(&self.level).await? })
    }

    fn view(&self, state: &State) -> Value {
        json!(state.block)
    }

    /// Only a bucket's own change is exempted by the bucket's tag; an account-wide fix leaves
    /// exempt buckets out in its plan.
    fn tagged<'s>(&self, state: &'s State) -> Option<(&'s Tags, String)> {
        match &self.level {
            BlockLevel::Bucket(b) => Some((&state.tags, format!("bucket {b}"))),
            BlockLevel::Account(_) => None,
        }
    }

    fn plan(&self, state: &State) -> Result<Plan<PublicAccessBlock>, AdminError> {
        let settings = self.off.join(", ");
        let Some(fix) = plan::public_access_block_fix(state.block.as_ref(), &self.off) else {
            let why =
                format!("the {} public access block settings this call turned off ({settings}) are on", self.level());
            return Ok(Plan::Leave(Decision::AlreadyFixed, why));
        };
        Ok(Plan::Change {
            plan: fix,
            intended: json!(fix),
            what: format!("turn the {} public access block settings {settings} back on", self.level()),
        })
    }

    /// An account-wide fix would also close the buckets exempt by tag or name: left to a person.
    async fn review(&self, admins: &A, config: &RemediationConfig) -> Result<Option<String>, AdminError> {
        let BlockLevel::Account(_) = self.level else { return Ok(None) };
        let exempt = exempt_buckets(admins, &config.exempt).await?;
        Ok((!exempt.is_empty()).then(|| {
            format!(
                "turning {} back on for the whole account would also close the exempt bucket(s) {}: not applied, review it",
                self.off.join(", "),
                exempt.join(", ")
            )
        }))
    }

    async fn act(&self, admins: &A, fix: &PublicAccessBlock) -> Result<(), AdminError> {
        admins.put_public_access_block(&self.level, fix).await
    }

    fn unverified(&self) -> String {
        format!("the {} public access block settings {} are still not on", self.level(), self.off.join(", "))
    }

    fn kept(&self, _plan: &PublicAccessBlock) -> String {
        "; the others unchanged".into()
    }
}
