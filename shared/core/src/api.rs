//! The key of one API as trailsight tracks it: account, region, service and operation.

/// An API as trailsight tracks it: one account, region, service and operation.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct ApiKey {
    /// Account id (`recipientAccountId`, else `userIdentity.accountId`, else the key's account).
    pub account: String,
    /// Region (`awsRegion`, else the key's region).
    pub region: String,
    /// `eventSource`, e.g. `iam.amazonaws.com`.
    pub event_source: String,
    /// `eventName`, e.g. `ListUsers`.
    pub event_name: String,
}

impl std::fmt::Display for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}/{}/{}", self.account, self.region, self.event_source, self.event_name)
    }
}
