//! In-memory fakes of the remediation ports: live state held in maps, every write recorded,
//! any action can be made to fail with AccessDenied, and reads can lag behind writes (as an
//! eventually consistent service's do). [`MemoryLedger`] is the in-memory claims and
//! seen-changes ledger.

use super::ports::{
    Acl, AclOf, AdminError, BlockLevel, BucketAdmin, Cidrs, Claim, GroupRule, Pause, Permission, Place,
    PublicAccessBlock, PublicAccessBlockAdmin, RemediationLedger, Scoped, SecurityGroup, SecurityGroupAdmin,
    SeenChange, Targets, TrailAdmin, TrailConfig, TrailStatus, CLAIM_LEASE_SECONDS,
};
use std::collections::{BTreeMap, BTreeSet};

mod exposure;
use std::sync::{Mutex, MutexGuard};

/// A bucket's remediable state.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Bucket {
    /// Policy text.
    pub policy: Option<String>,
    /// S3's verdict on the policy, when a test wants it to differ from trailsight's own.
    pub policy_public: Option<bool>,
    /// Bucket ACL.
    pub acl: Acl,
    /// Object ACLs by key (`key` for the current version, `key#version` for one version).
    pub object_acls: BTreeMap<String, Acl>,
    /// Public access block.
    pub pab: Option<PublicAccessBlock>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default)]
struct State {
    buckets: BTreeMap<String, Bucket>,
    accounts: BTreeMap<String, PublicAccessBlock>,
    groups: BTreeMap<String, SecurityGroup>,
    rules: BTreeMap<String, Vec<GroupRule>>,
    trails: BTreeMap<String, bool>,
    trail_configs: BTreeMap<String, TrailConfig>,
    exposure: exposure::Exposure,
}

/// Every admin port in memory.
#[derive(Debug, Default)]
pub struct MemoryAdmins {
    state: Mutex<State>,
    /// Reads after a write see the state before it this many times.
    lag: Mutex<usize>,
    stale: Mutex<Option<(State, usize)>>,
    denied: Mutex<BTreeSet<String>>,
    writes: Mutex<Vec<String>>,
    pauses: Mutex<usize>,
    scopes: Mutex<Vec<(String, String, Option<String>)>>,
}

fn poisoned() -> AdminError {
    AdminError::Failed { action: "memory".into(), why: "poisoned".into() }
}

fn object_slot(key: &str, version: Option<&str>) -> String {
    match version {
        Some(v) => format!("{key}#{v}"),
        None => key.to_owned(),
    }
}

impl MemoryAdmins {
    fn state(&self) -> Result<MutexGuard<'_, State>, AdminError> {
        self.state.lock().map_err(|_| poisoned())
    }

    /// The state a read sees: the one before the last write while reads lag, else the live one.
    fn view(&self) -> Result<State, AdminError> {
        let mut stale = self.stale.lock().map_err(|_| poisoned())?;
        if let Some((old, left)) = stale.as_mut() {
            if *left > 0 {
                *left -= 1;
                return Ok(old.clone());
            }
        }
        *stale = None;
        Ok(self.state()?.clone())
    }

    fn write(&self, action: &str) -> Result<(), AdminError> {
        if self.denied.lock().is_ok_and(|d| d.contains(action)) {
            return Err(AdminError::AccessDenied { action: action.to_owned(), why: "denied by the test".into() });
        }
        if let Ok(mut w) = self.writes.lock() {
            w.push(action.to_owned());
        }
        let lag = self.lag.lock().map(|l| *l).unwrap_or(0);
        if lag > 0 {
            let before = self.state()?.clone();
            *self.stale.lock().map_err(|_| poisoned())? = Some((before, lag));
        }
        Ok(())
    }

    /// Makes `action` (e.g. `s3:PutBucketPolicy`) fail with AccessDenied.
    pub fn deny(&self, action: &str) {
        if let Ok(mut d) = self.denied.lock() {
            d.insert(action.to_owned());
        }
    }

    /// Makes the `reads` reads after each write see the state before it.
    pub fn lag_reads(&self, reads: usize) {
        if let Ok(mut l) = self.lag.lock() {
            *l = reads;
        }
    }

    /// The write actions made so far, in order.
    pub fn writes(&self) -> Vec<String> {
        self.writes.lock().map(|w| w.clone()).unwrap_or_default()
    }

    /// The scopes remediation asked admins for: (account, region, role ARN).
    pub fn scopes(&self) -> Vec<(String, String, Option<String>)> {
        self.scopes.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// How many times remediation paused.
    pub fn pauses(&self) -> usize {
        self.pauses.lock().map(|p| *p).unwrap_or(0)
    }

    /// Sets a bucket.
    pub fn set_bucket(&self, name: &str, bucket: Bucket) {
        if let Ok(mut s) = self.state() {
            s.buckets.insert(name.to_owned(), bucket);
        }
    }

    /// A bucket as it stands.
    pub fn bucket(&self, name: &str) -> Option<Bucket> {
        self.state().ok()?.buckets.get(name).cloned()
    }

    /// Sets a security group.
    pub fn set_group(&self, group: SecurityGroup) {
        if let Ok(mut s) = self.state() {
            s.groups.insert(group.id.clone(), group);
        }
    }

    /// Sets a security group's rules with their ids (its ingress permissions follow them).
    pub fn set_group_rules(&self, group_id: &str, rules: Vec<GroupRule>) {
        if let Ok(mut s) = self.state() {
            let ingress = rules
                .iter()
                .filter(|r| !r.egress)
                .map(|r| Permission {
                    ports: r.ports.clone(),
                    cidrs: Cidrs::one(r.cidr.clone().unwrap_or_default()),
                    others: vec![],
                })
                .collect();
            if let Some(g) = s.groups.get_mut(group_id) {
                g.ingress = ingress;
            }
            s.rules.insert(group_id.to_owned(), rules);
        }
    }

    /// A group as it stands.
    pub fn group_state(&self, id: &str) -> Option<SecurityGroup> {
        self.state().ok()?.groups.get(id).cloned()
    }

    /// A group's rules as they stand.
    pub fn group_rules(&self, id: &str) -> Vec<GroupRule> {
        self.state().ok().and_then(|s| s.rules.get(id).cloned()).unwrap_or_default()
    }

    /// Sets a trail's logging status.
    pub fn set_trail(&self, name: &str, logging: bool) {
        if let Ok(mut s) = self.state() {
            s.trails.insert(name.to_owned(), logging);
        }
    }

    /// Sets what a trail records.
    pub fn set_trail_config(&self, name: &str, config: TrailConfig) {
        if let Ok(mut s) = self.state() {
            s.trail_configs.insert(name.to_owned(), config);
        }
    }

    /// Sets an account's public access block.
    pub fn set_account_pab(&self, account: &str, pab: PublicAccessBlock) {
        if let Ok(mut s) = self.state() {
            s.accounts.insert(account.to_owned(), pab);
        }
    }

    /// An account's public access block.
    pub fn account_pab(&self, account: &str) -> Option<PublicAccessBlock> {
        self.state().ok()?.accounts.get(account).copied()
    }

    fn with_bucket<T>(&self, name: &str, f: impl FnOnce(&mut Bucket) -> T) -> Result<T, AdminError> {
        let mut s = self.state()?;
        let b = s.buckets.get_mut(name).ok_or_else(|| AdminError::NotFound(format!("bucket {name}")))?;
        Ok(f(b))
    }

    fn read_bucket<T>(&self, name: &str, f: impl FnOnce(&Bucket) -> T) -> Result<T, AdminError> {
        let s = self.view()?;
        let b = s.buckets.get(name).ok_or_else(|| AdminError::NotFound(format!("bucket {name}")))?;
        Ok(f(b))
    }
}

impl BucketAdmin for MemoryAdmins {
    async fn policy(&self, bucket: &str) -> Result<Option<String>, AdminError> {
        self.read_bucket(bucket, |b| b.policy.clone())
    }
    async fn put_policy(&self, bucket: &str, policy: &str) -> Result<(), AdminError> {
        self.write("s3:PutBucketPolicy")?;
        self.with_bucket(bucket, |b| b.policy = Some(policy.to_owned()))
    }
    async fn delete_policy(&self, bucket: &str) -> Result<(), AdminError> {
        self.write("s3:DeleteBucketPolicy")?;
        self.with_bucket(bucket, |b| b.policy = None)
    }
    async fn policy_status(&self, bucket: &str) -> Result<Option<bool>, AdminError> {
        self.read_bucket(bucket, |b| {
            b.policy.as_ref().map(|p| {
                b.policy_public.unwrap_or_else(|| serde_json::from_str(p).is_ok_and(|v| crate::policy::is_public(&v)))
            })
        })
    }
    async fn acl(&self, of: AclOf<'_>) -> Result<Acl, AdminError> {
        let AclOf { bucket, key, version } = of;
        let acl = self.read_bucket(bucket, |b| match key {
            None => Some(b.acl.clone()),
            Some(k) => b.object_acls.get(&object_slot(k, version)).cloned(),
        })?;
        acl.ok_or_else(|| AdminError::NotFound(format!("object {bucket}/{}", key.unwrap_or(""))))
    }
    async fn put_acl(&self, of: AclOf<'_>, acl: &Acl) -> Result<(), AdminError> {
        let AclOf { bucket, key, version } = of;
        self.write(match (key, version) {
            (None, _) => "s3:PutBucketAcl",
            (Some(_), None) => "s3:PutObjectAcl",
            (Some(_), Some(_)) => "s3:PutObjectVersionAcl",
        })?;
        self.with_bucket(bucket, |b| match key {
            None => b.acl = acl.clone(),
            Some(k) => {
                b.object_acls.insert(object_slot(k, version), acl.clone());
            }
        })
    }
    async fn buckets(&self) -> Result<Vec<String>, AdminError> {
        Ok(self.view()?.buckets.keys().cloned().collect())
    }
    async fn tags(&self, bucket: &str) -> Result<BTreeMap<String, String>, AdminError> {
        self.read_bucket(bucket, |b| b.tags.clone())
    }
}

impl PublicAccessBlockAdmin for MemoryAdmins {
    async fn public_access_block(&self, level: &BlockLevel) -> Result<Option<PublicAccessBlock>, AdminError> {
        match level {
            BlockLevel::Bucket(bucket) => self.read_bucket(bucket, |b| b.pab),
            BlockLevel::Account(account) => Ok(self.view()?.accounts.get(account).copied()),
        }
    }
    async fn put_public_access_block(&self, level: &BlockLevel, pab: &PublicAccessBlock) -> Result<(), AdminError> {
        match level {
            BlockLevel::Bucket(bucket) => {
                self.write("s3:PutBucketPublicAccessBlock")?;
                self.with_bucket(bucket, |b| b.pab = Some(*pab))
            }
            BlockLevel::Account(account) => {
                self.write("s3:PutAccountPublicAccessBlock")?;
                self.state()?.accounts.insert(account.to_owned(), *pab);
                Ok(())
            }
        }
    }
}

impl SecurityGroupAdmin for MemoryAdmins {
    async fn group(&self, id: Option<&str>, name: Option<&str>) -> Result<SecurityGroup, AdminError> {
        let s = self.view()?;
        let found = match id {
            Some(id) => s.groups.get(id).cloned(),
            None => s.groups.values().find(|g| Some(g.name.as_str()) == name).cloned(),
        };
        found.ok_or_else(|| AdminError::NotFound(format!("security group {}", id.or(name).unwrap_or("?"))))
    }
    async fn revoke(&self, group_id: &str, permissions: &[Permission]) -> Result<(), AdminError> {
        self.write("ec2:RevokeSecurityGroupIngress")?;
        let mut s = self.state()?;
        let g = s.groups.get_mut(group_id).ok_or_else(|| AdminError::NotFound(format!("security group {group_id}")))?;
        for r in permissions {
            for p in g.ingress.iter_mut().filter(|p| p.ports == r.ports) {
                p.cidrs.remove(&r.cidrs);
            }
        }
        g.ingress.retain(|p| !(p.cidrs.is_empty() && p.others.is_empty()));
        Ok(())
    }
    async fn rules(&self, group_id: &str) -> Result<Vec<GroupRule>, AdminError> {
        let s = self.view()?;
        if !s.groups.contains_key(group_id) {
            return Err(AdminError::NotFound(format!("security group {group_id}")));
        }
        Ok(s.rules.get(group_id).cloned().unwrap_or_default())
    }
    async fn revoke_rules(&self, group_id: &str, rule_ids: &[String]) -> Result<(), AdminError> {
        self.write("ec2:RevokeSecurityGroupIngress")?;
        let s = self.state()?;
        let rules = s.rules.get(group_id).cloned().unwrap_or_default();
        if let Some(missing) = rule_ids.iter().find(|id| !rules.iter().any(|r| &r.id == *id && !r.egress)) {
            return Err(AdminError::Failed {
                action: "ec2:RevokeSecurityGroupIngress".into(),
                why: format!("InvalidSecurityGroupRuleId.NotFound: {missing}"),
            });
        }
        let kept: Vec<GroupRule> = rules.into_iter().filter(|r| !rule_ids.contains(&r.id)).collect();
        drop(s);
        self.set_group_rules(group_id, kept);
        Ok(())
    }
}

impl TrailAdmin for MemoryAdmins {
    async fn trail_config(&self, trail: &str) -> Result<TrailConfig, AdminError> {
        let name = trail.rsplit('/').next().unwrap_or(trail);
        let s = self.view()?;
        if !s.trails.contains_key(name) {
            return Err(AdminError::NotFound(format!("trail {trail}")));
        }
        Ok(s.trail_configs.get(name).cloned().unwrap_or_else(|| TrailConfig {
            multi_region: true,
            global_service_events: true,
            bucket: "trail-bucket".into(),
            selectors: serde_json::json!({"EventSelectors": [{"ReadWriteType": "All", "IncludeManagementEvents": true}]}),
        }))
    }
    async fn trail_status(&self, trail: &str) -> Result<TrailStatus, AdminError> {
        let s = self.view()?;
        let name = trail.rsplit('/').next().unwrap_or(trail);
        s.trails
            .get(name)
            .map(|l| TrailStatus { is_logging: *l })
            .ok_or_else(|| AdminError::NotFound(format!("trail {trail}")))
    }
    async fn start_logging(&self, trail: &str) -> Result<(), AdminError> {
        self.write("cloudtrail:StartLogging")?;
        let name = trail.rsplit('/').next().unwrap_or(trail).to_owned();
        let mut s = self.state()?;
        match s.trails.get_mut(&name) {
            Some(l) => {
                *l = true;
                Ok(())
            }
            None => Err(AdminError::NotFound(format!("trail {trail}"))),
        }
    }
}

impl Targets for MemoryAdmins {
    type Admins = MemoryAdmins;
    async fn admins<'a>(&'a self, place: Place<'a>) -> Result<Scoped<'a, MemoryAdmins>, AdminError> {
        if let Ok(mut s) = self.scopes.lock() {
            s.push((place.account.to_owned(), place.region.to_owned(), place.role_arn.map(str::to_owned)));
        }
        Ok(Scoped::Borrowed(self))
    }
}

impl Pause for MemoryAdmins {
    async fn pause(&self, _duration: std::time::Duration) {
        if let Ok(mut p) = self.pauses.lock() {
            *p += 1;
        }
    }
}

#[derive(Debug, Clone)]
struct ClaimState {
    decision: String,
    lease_until: i64,
}

/// The remediation ledger in memory.
#[derive(Debug, Default)]
pub struct MemoryLedger {
    claims: Mutex<BTreeMap<(String, String), ClaimState>>,
    changes: Mutex<BTreeMap<String, SeenChange>>,
}

impl MemoryLedger {
    /// The decision recorded for one (eventID, rule), if any.
    pub fn decision(&self, event_id: &str, rule: &str) -> Option<String> {
        self.claims.lock().ok()?.get(&(event_id.to_owned(), rule.to_owned())).map(|c| c.decision.clone())
    }
}

impl RemediationLedger for MemoryLedger {
    async fn claim(&self, event_id: &str, rule: &str, now: i64) -> Result<Claim, AdminError> {
        let mut claims = self.claims.lock().map_err(|_| poisoned())?;
        let key = (event_id.to_owned(), rule.to_owned());
        if let Some(c) = claims.get(&key) {
            let open = c.decision == "failed" || (c.decision == "running" && c.lease_until < now);
            if !open {
                return Ok(Claim::Taken(c.decision.clone()));
            }
        }
        claims.insert(key, ClaimState { decision: "running".into(), lease_until: now + CLAIM_LEASE_SECONDS });
        Ok(Claim::Won)
    }

    async fn finish(&self, event_id: &str, rule: &str, decision: &str, _now: i64) -> Result<(), AdminError> {
        self.claims.lock().map_err(|_| poisoned())?.insert(
            (event_id.to_owned(), rule.to_owned()),
            ClaimState { decision: decision.to_owned(), lease_until: 0 },
        );
        Ok(())
    }

    async fn observe(
        &self,
        resource: &str,
        change: &SeenChange,
        exempt: bool,
        _now: i64,
    ) -> Result<Option<SeenChange>, AdminError> {
        let mut changes = self.changes.lock().map_err(|_| poisoned())?;
        match changes.get(resource) {
            Some(latest) if latest.time > change.time => Ok(Some(latest.clone())),
            _ => {
                if exempt {
                    changes.insert(resource.to_owned(), change.clone());
                }
                Ok(None)
            }
        }
    }
}
