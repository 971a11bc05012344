//! `s3-bucket-acl-public`: remove the grants to the public groups the call made, on the
//! bucket, the object or the object version it named; owner and other grants stay.

use super::driver::{Plan, Remediation, Tags};
use super::plan;
use super::ports::{Acl, AclOf, AdminError, BucketAdmin, Pause};
use super::Decision;
use crate::rules::s3_acl;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// The ACL the call changed and the public grants it made.
#[derive(Debug)]
pub struct BucketAcl {
    bucket: String,
    key: Option<String>,
    version: Option<String>,
    introduced: Vec<(&'static str, String)>,
}

impl BucketAcl {
    /// For the call whose request is `request`, on `bucket` (and object `key`, `version`).
    pub fn new(bucket: &str, key: Option<&str>, version: Option<&str>, request: &Value) -> Self {
        BucketAcl {
            bucket: bucket.to_owned(),
            key: key.map(str::to_owned),
            version: version.map(str::to_owned),
            introduced: s3_acl::public_grants(request),
        }
    }

    fn of(&self) -> AclOf<'_> {
        AclOf { bucket: &self.bucket, key: self.key.as_deref(), version: self.version.as_deref() }
    }

    fn what(&self) -> String {
        match (&self.key, &self.version) {
            (None, _) => "bucket ACL".to_owned(),
            (Some(_), None) => "object ACL".to_owned(),
            (Some(_), Some(v)) => format!("ACL of object version {v}"),
        }
    }
}

/// The bucket's tags and the ACL.
#[derive(Debug)]
pub struct State {
    tags: BTreeMap<String, String>,
    acl: Acl,
}

impl<A: BucketAdmin + Pause + Sync> Remediation<A> for BucketAcl {
    type State = State;
    type Plan = Acl;

    async fn read(&self, admins: &A) -> Result<State, AdminError> {
        Ok(State { tags: admins.tags(&self.bucket).await?, acl: admins.acl(self.of()).await? })
    }

    fn view(&self, state: &State) -> Value {
        json!(state.acl)
    }

    fn tagged<'s>(&self, state: &'s State) -> Option<(&'s Tags, String)> {
        Some((&state.tags, format!("bucket {}", self.bucket)))
    }

    fn plan(&self, state: &State) -> Result<Plan<Acl>, AdminError> {
        Ok(match plan::strip_public_grants(&state.acl, &self.introduced) {
            None => Plan::Leave(
                Decision::AlreadyFixed,
                format!("none of the public grants this call made is live in the {} any more", self.what()),
            ),
            Some((fixed, removed)) => Plan::Change {
                intended: json!(fixed),
                what: format!("remove {} public grant(s) this call made from the {}", removed.len(), self.what()),
                plan: fixed,
            },
        })
    }

    async fn act(&self, admins: &A, fixed: &Acl) -> Result<(), AdminError> {
        admins.put_acl(self.of(), fixed).await
    }

    fn unverified(&self) -> String {
        "the ACL still has the public grants this call made".into()
    }

    fn kept(&self, _plan: &Acl) -> String {
        "; owner and other grants kept".into()
    }
}
