//! In-memory fakes of the remediation ports: live state held in maps, every write recorded,
//! and any action can be made to fail with AccessDenied.

use super::ports::{
    AccountAdmin, Acl, AdminError, BucketAdmin, Permission, PublicAccessBlock, SecurityGroup, SecurityGroupAdmin,
    TrailAdmin, TrailStatus,
};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, MutexGuard};

/// A bucket's remediable state.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Bucket {
    /// Policy text.
    pub policy: Option<String>,
    /// Bucket ACL.
    pub acl: Acl,
    /// Object ACLs by key.
    pub object_acls: BTreeMap<String, Acl>,
    /// Public access block.
    pub pab: Option<PublicAccessBlock>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Default)]
struct State {
    buckets: BTreeMap<String, Bucket>,
    accounts: BTreeMap<String, PublicAccessBlock>,
    groups: BTreeMap<String, SecurityGroup>,
    trails: BTreeMap<String, bool>,
}

/// Every admin port in memory.
#[derive(Debug, Default)]
pub struct MemoryAdmins {
    state: Mutex<State>,
    denied: Mutex<BTreeSet<String>>,
    writes: Mutex<Vec<String>>,
}

impl MemoryAdmins {
    fn state(&self) -> Result<MutexGuard<'_, State>, AdminError> {
        self.state.lock().map_err(|_| AdminError::Failed {
            action: "memory".into(),
            why: "poisoned".into(),
        })
    }

    fn write(&self, action: &str) -> Result<(), AdminError> {
        if self.denied.lock().is_ok_and(|d| d.contains(action)) {
            return Err(AdminError::AccessDenied {
                action: action.to_owned(),
                why: "denied by the test".into(),
            });
        }
        if let Ok(mut w) = self.writes.lock() {
            w.push(action.to_owned());
        }
        Ok(())
    }

    /// Makes `action` (e.g. `s3:PutBucketPolicy`) fail with AccessDenied.
    pub fn deny(&self, action: &str) {
        if let Ok(mut d) = self.denied.lock() {
            d.insert(action.to_owned());
        }
    }

    /// The write actions made so far, in order.
    pub fn writes(&self) -> Vec<String> {
        self.writes.lock().map(|w| w.clone()).unwrap_or_default()
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

    /// A group as it stands.
    pub fn group_state(&self, id: &str) -> Option<SecurityGroup> {
        self.state().ok()?.groups.get(id).cloned()
    }

    /// Sets a trail's logging status.
    pub fn set_trail(&self, name: &str, logging: bool) {
        if let Ok(mut s) = self.state() {
            s.trails.insert(name.to_owned(), logging);
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
        let b = s
            .buckets
            .get_mut(name)
            .ok_or_else(|| AdminError::NotFound(format!("bucket {name}")))?;
        Ok(f(b))
    }
}

impl BucketAdmin for MemoryAdmins {
    async fn policy(&self, bucket: &str) -> Result<Option<String>, AdminError> {
        self.with_bucket(bucket, |b| b.policy.clone())
    }
    async fn put_policy(&self, bucket: &str, policy: &str) -> Result<(), AdminError> {
        self.write("s3:PutBucketPolicy")?;
        self.with_bucket(bucket, |b| b.policy = Some(policy.to_owned()))
    }
    async fn delete_policy(&self, bucket: &str) -> Result<(), AdminError> {
        self.write("s3:DeleteBucketPolicy")?;
        self.with_bucket(bucket, |b| b.policy = None)
    }
    async fn acl(&self, bucket: &str, key: Option<&str>) -> Result<Acl, AdminError> {
        let acl = self.with_bucket(bucket, |b| match key {
            None => Some(b.acl.clone()),
            Some(k) => b.object_acls.get(k).cloned(),
        })?;
        acl.ok_or_else(|| AdminError::NotFound(format!("object {bucket}/{}", key.unwrap_or(""))))
    }
    async fn put_acl(&self, bucket: &str, key: Option<&str>, acl: &Acl) -> Result<(), AdminError> {
        self.write(if key.is_some() {
            "s3:PutObjectAcl"
        } else {
            "s3:PutBucketAcl"
        })?;
        self.with_bucket(bucket, |b| match key {
            None => b.acl = acl.clone(),
            Some(k) => {
                b.object_acls.insert(k.to_owned(), acl.clone());
            }
        })
    }
    async fn public_access_block(&self, bucket: &str) -> Result<Option<PublicAccessBlock>, AdminError> {
        self.with_bucket(bucket, |b| b.pab)
    }
    async fn put_public_access_block(&self, bucket: &str, pab: &PublicAccessBlock) -> Result<(), AdminError> {
        self.write("s3:PutBucketPublicAccessBlock")?;
        self.with_bucket(bucket, |b| b.pab = Some(*pab))
    }
    async fn tags(&self, bucket: &str) -> Result<BTreeMap<String, String>, AdminError> {
        self.with_bucket(bucket, |b| b.tags.clone())
    }
}

impl AccountAdmin for MemoryAdmins {
    async fn account_public_access_block(&self, account: &str) -> Result<Option<PublicAccessBlock>, AdminError> {
        Ok(self.state()?.accounts.get(account).copied())
    }
    async fn put_account_public_access_block(&self, account: &str, pab: &PublicAccessBlock) -> Result<(), AdminError> {
        self.write("s3:PutAccountPublicAccessBlock")?;
        self.state()?.accounts.insert(account.to_owned(), *pab);
        Ok(())
    }
}

impl SecurityGroupAdmin for MemoryAdmins {
    async fn group(&self, id: Option<&str>, name: Option<&str>) -> Result<SecurityGroup, AdminError> {
        let s = self.state()?;
        let found = match id {
            Some(id) => s.groups.get(id).cloned(),
            None => s.groups.values().find(|g| Some(g.name.as_str()) == name).cloned(),
        };
        found.ok_or_else(|| AdminError::NotFound(format!("security group {}", id.or(name).unwrap_or("?"))))
    }
    async fn revoke(&self, group_id: &str, permissions: &[Permission]) -> Result<(), AdminError> {
        self.write("ec2:RevokeSecurityGroupIngress")?;
        let mut s = self.state()?;
        let g = s
            .groups
            .get_mut(group_id)
            .ok_or_else(|| AdminError::NotFound(format!("security group {group_id}")))?;
        for r in permissions {
            for p in g
                .ingress
                .iter_mut()
                .filter(|p| p.protocol == r.protocol && p.from == r.from && p.to == r.to)
            {
                p.ipv4.retain(|c| !r.ipv4.contains(c));
                p.ipv6.retain(|c| !r.ipv6.contains(c));
            }
        }
        g.ingress
            .retain(|p| !(p.ipv4.is_empty() && p.ipv6.is_empty() && p.others.is_empty()));
        Ok(())
    }
}

impl TrailAdmin for MemoryAdmins {
    async fn trail_status(&self, trail: &str) -> Result<TrailStatus, AdminError> {
        let s = self.state()?;
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
