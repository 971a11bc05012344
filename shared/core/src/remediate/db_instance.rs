//! `rds-instance-public`: turn PubliclyAccessible off. Clients outside the VPC lose access, so
//! the rule is outside `REMEDIATE_RULES`'s default.

use super::driver::{Plan, Remediation, Tags};
use super::ports::{AdminError, DbInstance, DbInstanceAdmin, Pause};
use serde_json::{json, Value};

/// A DB instance made public.
#[derive(Debug)]
pub struct PublicDbInstance {
    /// Its identifier.
    pub id: String,
}

impl<A: DbInstanceAdmin + Pause + Sync> Remediation<A> for PublicDbInstance {
    type State = DbInstance;
    type Plan = ();

    async fn read(&self, admins: &A) -> Result<DbInstance, AdminError> {
        admins.db_instance(&self.id).await
    }

    fn view(&self, state: &DbInstance) -> Value {
        json!({"publiclyAccessible": state.publicly_accessible})
    }

    fn tagged<'s>(&self, state: &'s DbInstance) -> Option<(&'s Tags, String)> {
        Some((&state.tags, format!("DB instance {}", self.id)))
    }

    fn plan(&self, state: &DbInstance) -> Result<Plan<()>, AdminError> {
        Ok(Plan::flag_off(
            state.publicly_accessible,
            format!("DB instance {} is no longer publicly accessible", self.id),
            json!({"publiclyAccessible": false}),
            format!("turn PubliclyAccessible off on DB instance {}", self.id),
        ))
    }

    async fn act(&self, admins: &A, _plan: &()) -> Result<(), AdminError> {
        admins.make_private(&self.id).await
    }

    fn unverified(&self) -> String {
        format!("DB instance {} is still publicly accessible after the change", self.id)
    }
}
