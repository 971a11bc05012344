//! [`NetworkAclAdmin`] (aws-sdk-ec2): a network ACL's entries and tags (DescribeNetworkAcls),
//! and deleting one entry (DeleteNetworkAclEntry).

use super::{admin_error, done, error_code, tag_map, AwsAdmins};
use aws_sdk_ec2::types::NetworkAclEntry;
use trailsight_core::remediate::ports::{AclEntry, AdminError, NetworkAcl, NetworkAclAdmin, Ports};

fn entry_from(e: &NetworkAclEntry) -> AclEntry {
    let ports = e.port_range();
    AclEntry {
        rule_number: e.rule_number().map(i64::from).unwrap_or_default(),
        egress: e.egress().unwrap_or(false),
        action: e.rule_action().map(|a| a.as_str().to_owned()).unwrap_or_default(),
        ports: Ports::new(
            e.protocol().unwrap_or("-1"),
            ports.and_then(|p| p.from()).map(i64::from),
            ports.and_then(|p| p.to()).map(i64::from),
        ),
        cidr: e.cidr_block().or(e.ipv6_cidr_block()).unwrap_or("").to_owned(),
    }
}

impl NetworkAclAdmin for AwsAdmins {
    async fn network_acl(&self, id: &str) -> Result<NetworkAcl, AdminError> {
        let what = format!("network ACL {id}");
        let out = match self.ec2.describe_network_acls().network_acl_ids(id).send().await {
            Ok(out) => out,
            // moto answers a missing ACL with the route table's code (AWS: InvalidNetworkAclID.NotFound).
            Err(e) if error_code(&e) == Some("InvalidRouteTableID.NotFound") => return Err(AdminError::NotFound(what)),
            Err(e) => return Err(admin_error("ec2:DescribeNetworkAcls", &what, e)),
        };
        let acl = out.network_acls().first().ok_or_else(|| AdminError::NotFound(what.clone()))?;
        Ok(NetworkAcl {
            entries: acl.entries().iter().map(entry_from).collect(),
            tags: tag_map(acl.tags().iter().map(|t| (t.key(), t.value()))),
        })
    }

    async fn delete_acl_entry(&self, id: &str, entry: &AclEntry) -> Result<(), AdminError> {
        let what = format!("network ACL {id}");
        let rule = i32::try_from(entry.rule_number).map_err(|_| AdminError::Failed {
            action: "ec2:DeleteNetworkAclEntry".into(),
            why: format!("rule number {} is out of range", entry.rule_number),
        })?;
        let call = self.ec2.delete_network_acl_entry().network_acl_id(id).rule_number(rule).egress(entry.egress);
        done("ec2:DeleteNetworkAclEntry", &what, call.send()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ec2::types::{PortRange, RuleAction};

    #[test]
    fn entries_keep_ports_and_either_cidr() {
        let v4 = NetworkAclEntry::builder()
            .rule_number(100)
            .egress(false)
            .rule_action(RuleAction::Allow)
            .protocol("6")
            .port_range(PortRange::builder().from(22).to(22).build())
            .cidr_block("0.0.0.0/0")
            .build();
        assert_eq!(
            entry_from(&v4),
            AclEntry {
                rule_number: 100,
                egress: false,
                action: "allow".into(),
                ports: Ports::new("6", Some(22), Some(22)),
                cidr: "0.0.0.0/0".into(),
            }
        );
        let v6 = NetworkAclEntry::builder()
            .rule_number(32767)
            .egress(true)
            .rule_action(RuleAction::Deny)
            .protocol("-1")
            .ipv6_cidr_block("::/0")
            .build();
        let e = entry_from(&v6);
        assert_eq!((e.egress, e.action.as_str(), e.ports.from, e.cidr.as_str()), (true, "deny", None, "::/0"));
    }
}
