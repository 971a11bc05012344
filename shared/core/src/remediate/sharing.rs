//! `ebs-snapshot-public`, `ami-public`, `rds-snapshot-public`: remove the group `all` from
//! the snapshot's or image's permissions, keeping every named account's share.

use super::driver::{Plan, Remediation, Tags};
use super::ports::{AdminError, Pause, SharedKind, Sharing, SharingAdmin};
use serde_json::{json, Value};

/// One snapshot or image shared with everyone.
#[derive(Debug)]
pub struct PublicShare {
    /// Which kind.
    pub kind: SharedKind,
    /// Its id.
    pub id: String,
}

impl<A: SharingAdmin + Pause + Sync> Remediation<A> for PublicShare {
    type State = Sharing;
    type Plan = ();

    async fn read(&self, admins: &A) -> Result<Sharing, AdminError> {
        admins.sharing(self.kind, &self.id).await
    }

    fn view(&self, state: &Sharing) -> Value {
        json!({"public": state.public, "accounts": state.accounts})
    }

    fn tagged<'s>(&self, state: &'s Sharing) -> Option<(&'s Tags, String)> {
        Some((&state.tags, self.id.clone()))
    }

    fn plan(&self, state: &Sharing) -> Result<Plan<()>, AdminError> {
        Ok(Plan::flag_off(
            state.public,
            format!("{} is no longer shared with all accounts", self.id),
            json!({"public": false, "accounts": state.accounts}),
            format!("remove the group all from the permissions of {}", self.id),
        ))
    }

    async fn act(&self, admins: &A, _plan: &()) -> Result<(), AdminError> {
        admins.unshare_public(self.kind, &self.id).await
    }

    fn unverified(&self) -> String {
        format!("{} is still shared with all accounts after the change", self.id)
    }

    fn kept(&self, _plan: &()) -> String {
        "; shares with named accounts kept".into()
    }
}
