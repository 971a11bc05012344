//! `cloudtrail-logging-stopped`: start logging again on a stopped trail (a deleted trail is
//! reported). A call that leaves the trail logging but recording less (selectors that hide
//! management or write events, single-region, no global service events, another bucket) is
//! checked on the live trail: still so is `needs-review` (trailsight does not rewrite a trail's
//! configuration), never `already-fixed`.

use super::driver::{Plan, Remediation, Tags};
use super::ports::{AdminError, Pause, TrailAdmin, TrailConfig, TrailStatus};
use super::Decision;
use crate::rules::cloudtrail::{self as ct, Weakening};
use serde_json::{json, Value};

/// The trail and how the call weakened it.
#[derive(Debug)]
pub struct StoppedTrail {
    name: String,
    deleted: bool,
    weakenings: Vec<Weakening>,
}

impl StoppedTrail {
    /// For the call `record` on trail `name`.
    pub fn new(name: &str, record: &Value) -> Self {
        let event = record.get("eventName").and_then(Value::as_str).unwrap_or("");
        StoppedTrail {
            name: name.to_owned(),
            deleted: event == "DeleteTrail",
            weakenings: ct::weakenings(event, record.get("requestParameters").unwrap_or(&Value::Null)),
        }
    }
}

/// Whether a weakening the call made is still live on the trail.
fn still_live(w: &Weakening, live: &TrailConfig) -> bool {
    match w {
        Weakening::NoManagementEvents | Weakening::ReadOnlyManagementEvents => {
            ct::selectors_weakening(&live.selectors).as_ref() == Some(w)
        }
        Weakening::SingleRegion => !live.multi_region,
        Weakening::NoGlobalServiceEvents => !live.global_service_events,
        Weakening::Bucket(b) => live.bucket == *b,
    }
}

/// The trail's status, and what it records when it logs and the call weakened it.
#[derive(Debug)]
pub struct State {
    status: TrailStatus,
    config: Option<TrailConfig>,
}

impl<A: TrailAdmin + Pause + Sync> Remediation<A> for StoppedTrail {
    type State = State;
    type Plan = ();

    async fn read(&self, admins: &A) -> Result<State, AdminError> {
        let status = admins.trail_status(&self.name).await?;
        let config = if status.is_logging && !self.weakenings.is_empty() {
            Some(admins.trail_config(&self.name).await?)
        } else {
            None
        };
        Ok(State { status, config })
    }

    fn view(&self, state: &State) -> Value {
        match &state.config {
            Some(c) => json!(c),
            None => json!(state.status),
        }
    }

    fn tagged<'s>(&self, _state: &'s State) -> Option<(&'s Tags, String)> {
        None
    }

    fn plan(&self, state: &State) -> Result<Plan<()>, AdminError> {
        if !state.status.is_logging {
            return Ok(Plan::Change {
                plan: (),
                intended: json!({ "is_logging": true }),
                what: format!("start logging on trail {}", self.name),
            });
        }
        let Some(live) = &state.config else {
            return Ok(Plan::Leave(Decision::AlreadyFixed, "the trail is logging again".into()));
        };
        let left: Vec<String> = self.weakenings.iter().filter(|w| still_live(w, live)).map(Weakening::reason).collect();
        Ok(if left.is_empty() {
            Plan::Leave(Decision::AlreadyFixed, "the trail logs and records what this call had removed again".into())
        } else {
            Plan::Leave(
                Decision::NeedsReview,
                format!(
                    "trail {} still logs but records less: {}; trailsight restores logging, not a trail's configuration: review it",
                    self.name,
                    left.join("; ")
                ),
            )
        })
    }

    async fn act(&self, admins: &A, _plan: &()) -> Result<(), AdminError> {
        admins.start_logging(&self.name).await
    }

    fn verified(&self, state: &State) -> bool {
        state.status.is_logging
    }

    fn unverified(&self) -> String {
        "the trail is still not logging".into()
    }

    fn not_found(&self, what: &str) -> String {
        if self.deleted {
            format!("trail {} was deleted and cannot be brought back: recreate it (its S3 logs are kept)", self.name)
        } else {
            format!("{what} does not exist any more")
        }
    }
}
