//! `ec2-security-group-open-admin-port`: revoke exactly what the call opened. When the record
//! names the rules it created (`responseElements.securityGroupRuleSet`) or modified
//! (ModifySecurityGroupRules), those rule ids, ingress only, while they are live; otherwise
//! (older records) the world-open CIDRs the call added on its protocol and ports. Every other
//! rule stays, including a bastion's intended world-open SSH that this call did not add.

use super::driver::{Plan, Remediation, Tags};
use super::plan;
use super::ports::{AdminError, GroupRule, Pause, Permission, SecurityGroup, SecurityGroupAdmin};
use super::Decision;
use crate::rules::security_group::{self as sg, OpenPermission};
use serde_json::{json, Value};

/// The group and what the call opened on it.
#[derive(Debug)]
pub struct OpenedGroup {
    id: Option<String>,
    name: Option<String>,
    opening: Vec<OpenPermission>,
    rule_ids: Vec<String>,
}

impl OpenedGroup {
    /// For the call `record` on the group `id` (or `name`).
    pub fn new(id: Option<&str>, name: Option<&str>, record: &Value) -> Self {
        let opening = match record.get("eventName").and_then(Value::as_str) {
            Some("ModifySecurityGroupRules") => sg::modify_opening(record),
            _ => sg::authorize_opening(record),
        };
        let rule_ids = opening.iter().flat_map(|o| o.rule_ids.iter().cloned()).collect();
        OpenedGroup { id: id.map(str::to_owned), name: name.map(str::to_owned), opening, rule_ids }
    }

    /// The live ingress rules the call opened and that are still open to the world.
    fn live_targets(&self, rules: &[GroupRule]) -> Vec<String> {
        let cidrs: Vec<&String> = self.opening.iter().flat_map(|o| o.cidrs.iter()).collect();
        rules
            .iter()
            .filter(|r| !r.egress && self.rule_ids.contains(&r.id))
            .filter(|r| r.cidr.as_ref().is_some_and(|c| cidrs.contains(&c)))
            .filter(|r| r.ports.cover_admin_port())
            .map(|r| r.id.clone())
            .collect()
    }
}

/// The group, and its rules when the call named rule ids.
#[derive(Debug)]
pub struct State {
    group: SecurityGroup,
    rules: Vec<GroupRule>,
}

/// What to revoke on a group (its id, then the rules or ranges).
pub type Planned = (String, Revoke);

/// What to revoke.
#[derive(Debug)]
pub enum Revoke {
    /// These rule ids.
    Rules(Vec<String>),
    /// These CIDRs of these permissions.
    Ranges(Vec<Permission>),
}

impl<A: SecurityGroupAdmin + Pause + Sync> Remediation<A> for OpenedGroup {
    type State = State;
    type Plan = Planned;

    async fn read(&self, admins: &A) -> Result<State, AdminError> {
        let group = admins.group(self.id.as_deref(), self.name.as_deref()).await?;
        let rules = if self.rule_ids.is_empty() { vec![] } else { admins.rules(&group.id).await? };
        Ok(State { group, rules })
    }

    fn view(&self, state: &State) -> Value {
        json!(state.group.ingress)
    }

    fn tagged<'s>(&self, state: &'s State) -> Option<(&'s Tags, String)> {
        Some((&state.group.tags, format!("security group {}", state.group.id)))
    }

    fn plan(&self, state: &State) -> Result<Plan<Planned>, AdminError> {
        let id = &state.group.id;
        if self.rule_ids.is_empty() {
            let revoke = plan::call_ranges(&state.group.ingress, &self.opening);
            if revoke.is_empty() {
                let why = "the world-open ranges this call added are no longer there".to_owned();
                return Ok(Plan::Leave(Decision::AlreadyFixed, why));
            }
            return Ok(Plan::Change {
                intended: json!({ "revoke": revoke }),
                what: format!("revoke {} world-open admin-port range(s) this call added to {id}", revoke.len()),
                plan: (id.clone(), Revoke::Ranges(revoke)),
            });
        }
        let targets = self.live_targets(&state.rules);
        if targets.is_empty() {
            let egress: Vec<&str> = state
                .rules
                .iter()
                .filter(|r| r.egress && self.rule_ids.contains(&r.id))
                .map(|r| r.id.as_str())
                .collect();
            let why = if egress.is_empty() {
                format!(
                    "the rule(s) {} this call opened are gone or no longer open to the world",
                    self.rule_ids.join(", ")
                )
            } else {
                format!("{} is an egress rule: it opens nothing inbound", egress.join(", "))
            };
            return Ok(Plan::Leave(Decision::AlreadyFixed, why));
        }
        Ok(Plan::Change {
            intended: json!({ "revokeRuleIds": targets }),
            what: format!("revoke the rule(s) {} this call opened on {id}", targets.join(", ")),
            plan: (id.clone(), Revoke::Rules(targets)),
        })
    }

    async fn act(&self, admins: &A, (group, revoke): &Planned) -> Result<(), AdminError> {
        match revoke {
            Revoke::Rules(ids) => admins.revoke_rules(group, ids).await,
            Revoke::Ranges(perms) => admins.revoke(group, perms).await,
        }
    }

    fn unverified(&self) -> String {
        "what this call opened is still there".into()
    }

    fn kept(&self, _plan: &Planned) -> String {
        "; other rules kept".into()
    }
}
