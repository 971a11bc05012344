//! [`DbInstanceAdmin`] (aws-sdk-rds): whether a DB instance is publicly accessible, with its
//! tags (DescribeDBInstances), and making it private (ModifyDBInstance, applied immediately).

use super::{done, sent, tag_map, AwsAdmins};
use trailsight_core::remediate::ports::{AdminError, DbInstance, DbInstanceAdmin};

impl DbInstanceAdmin for AwsAdmins {
    async fn db_instance(&self, id: &str) -> Result<DbInstance, AdminError> {
        let what = format!("DB instance {id}");
        let out =
            sent("rds:DescribeDBInstances", &what, self.rds.describe_db_instances().db_instance_identifier(id).send())
                .await?;
        let db = out.db_instances().first().ok_or_else(|| AdminError::NotFound(what.clone()))?;
        Ok(DbInstance {
            publicly_accessible: db.publicly_accessible().unwrap_or(false),
            tags: tag_map(db.tag_list().iter().map(|t| (t.key(), t.value()))),
        })
    }

    async fn make_private(&self, id: &str) -> Result<(), AdminError> {
        let call =
            self.rds.modify_db_instance().db_instance_identifier(id).publicly_accessible(false).apply_immediately(true);
        done("rds:ModifyDBInstance", &format!("DB instance {id}"), call.send()).await
    }
}
