//! [`TrailAdmin`] (aws-sdk-cloudtrail): what a trail records, whether it logs, and restarting
//! it.

use super::{done, sent, AwsAdmins};
use trailsight_core::remediate::ports::{AdminError, TrailAdmin, TrailConfig, TrailStatus};

impl TrailAdmin for AwsAdmins {
    async fn trail_config(&self, trail: &str) -> Result<TrailConfig, AdminError> {
        let what = format!("trail {trail}");
        let out = sent("cloudtrail:GetTrail", &what, self.cloudtrail.get_trail().name(trail).send()).await?;
        let t = out.trail().ok_or_else(|| AdminError::NotFound(what.clone()))?;
        let selectors =
            sent("cloudtrail:GetEventSelectors", &what, self.cloudtrail.get_event_selectors().trail_name(trail).send())
                .await?;
        let selectors = if selectors.advanced_event_selectors().is_empty() {
            let basic: Vec<serde_json::Value> = selectors
                .event_selectors()
                .iter()
                .map(|s| {
                    serde_json::json!({
                        "readWriteType": s.read_write_type().map(|t| t.as_str()).unwrap_or("All"),
                        "includeManagementEvents": s.include_management_events().unwrap_or(true),
                    })
                })
                .collect();
            serde_json::json!({ "eventSelectors": basic })
        } else {
            let advanced: Vec<serde_json::Value> = selectors
                .advanced_event_selectors()
                .iter()
                .map(|s| {
                    let fields: Vec<serde_json::Value> = s
                        .field_selectors()
                        .iter()
                        .map(|f| serde_json::json!({"field": f.field(), "equals": f.equals()}))
                        .collect();
                    serde_json::json!({ "fieldSelectors": fields })
                })
                .collect();
            serde_json::json!({ "advancedEventSelectors": advanced })
        };
        Ok(TrailConfig {
            multi_region: t.is_multi_region_trail().unwrap_or(false),
            global_service_events: t.include_global_service_events().unwrap_or(false),
            bucket: t.s3_bucket_name().unwrap_or("").to_owned(),
            selectors,
        })
    }

    async fn trail_status(&self, trail: &str) -> Result<TrailStatus, AdminError> {
        let call = self.cloudtrail.get_trail_status().name(trail);
        let out = sent("cloudtrail:GetTrailStatus", &format!("trail {trail}"), call.send()).await?;
        Ok(TrailStatus { is_logging: out.is_logging().unwrap_or(false) })
    }

    async fn start_logging(&self, trail: &str) -> Result<(), AdminError> {
        done("cloudtrail:StartLogging", &format!("trail {trail}"), self.cloudtrail.start_logging().name(trail).send())
            .await
    }
}
