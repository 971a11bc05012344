//! [`SecurityGroupAdmin`] (aws-sdk-ec2): security groups, their rules, and revoking world-open
//! ingress.

use super::{admin_error, done, sent, AwsAdmins};
use aws_sdk_ec2::types::{IpPermission, IpRange, Ipv6Range};
use trailsight_core::remediate::ports::{
    AdminError, Cidrs, GroupRule, Permission, Ports, SecurityGroup, SecurityGroupAdmin,
};

/// A protocol and ports as EC2 gives them (no protocol reads as all, `-1`).
fn ports(protocol: Option<&str>, from: Option<i32>, to: Option<i32>) -> Ports {
    Ports::new(protocol.unwrap_or("-1"), from.map(i64::from), to.map(i64::from))
}

fn permission_from(p: &IpPermission) -> Permission {
    Permission {
        ports: ports(p.ip_protocol(), p.from_port(), p.to_port()),
        cidrs: Cidrs {
            v4: p.ip_ranges().iter().filter_map(|r| r.cidr_ip().map(str::to_owned)).collect(),
            v6: p.ipv6_ranges().iter().filter_map(|r| r.cidr_ipv6().map(str::to_owned)).collect(),
        },
        others: p
            .user_id_group_pairs()
            .iter()
            .filter_map(|g| g.group_id().map(str::to_owned))
            .chain(p.prefix_list_ids().iter().filter_map(|l| l.prefix_list_id().map(str::to_owned)))
            .collect(),
    }
}

fn permission_to(p: &Permission) -> IpPermission {
    let port = |v: Option<i64>| v.and_then(|v| i32::try_from(v).ok());
    IpPermission::builder()
        .ip_protocol(&p.ports.protocol)
        .set_from_port(port(p.ports.from))
        .set_to_port(port(p.ports.to))
        .set_ip_ranges(Some(p.cidrs.v4.iter().map(|c| IpRange::builder().cidr_ip(c).build()).collect()))
        .set_ipv6_ranges(Some(p.cidrs.v6.iter().map(|c| Ipv6Range::builder().cidr_ipv6(c).build()).collect()))
        .build()
}

impl SecurityGroupAdmin for AwsAdmins {
    async fn group(&self, id: Option<&str>, name: Option<&str>) -> Result<SecurityGroup, AdminError> {
        let what = format!("security group {}", id.or(name).unwrap_or("?"));
        let req = self.ec2.describe_security_groups();
        let req = match (id, name) {
            (Some(id), _) => req.group_ids(id),
            (None, Some(name)) => req.group_names(name),
            (None, None) => return Err(AdminError::NotFound(what)),
        };
        let out = req.send().await.map_err(|e| admin_error("ec2:DescribeSecurityGroups", &what, e))?;
        let g = out.security_groups().first().ok_or_else(|| AdminError::NotFound(what.clone()))?;
        Ok(SecurityGroup {
            id: g.group_id().unwrap_or("").to_owned(),
            name: g.group_name().unwrap_or("").to_owned(),
            tags: g
                .tags()
                .iter()
                .filter_map(|t| Some((t.key()?.to_owned(), t.value().unwrap_or("").to_owned())))
                .collect(),
            ingress: g.ip_permissions().iter().map(permission_from).collect(),
        })
    }

    async fn rules(&self, group_id: &str) -> Result<Vec<GroupRule>, AdminError> {
        let what = format!("security group {group_id}");
        let filter = aws_sdk_ec2::types::Filter::builder().name("group-id").values(group_id).build();
        let pages = self.ec2.describe_security_group_rules().filters(filter).into_paginator().items().send();
        let rules = sent("ec2:DescribeSecurityGroupRules", &what, pages.try_collect()).await?;
        Ok(rules.iter().map(group_rule_from).collect())
    }

    async fn revoke_rules(&self, group_id: &str, rule_ids: &[String]) -> Result<(), AdminError> {
        let call = self.ec2.revoke_security_group_ingress().group_id(group_id);
        let call = call.set_security_group_rule_ids(Some(rule_ids.to_vec()));
        done("ec2:RevokeSecurityGroupIngress", &format!("security group {group_id}"), call.send()).await
    }

    async fn revoke(&self, group_id: &str, permissions: &[Permission]) -> Result<(), AdminError> {
        let permissions = permissions.iter().map(permission_to).collect();
        let call = self.ec2.revoke_security_group_ingress().group_id(group_id).set_ip_permissions(Some(permissions));
        done("ec2:RevokeSecurityGroupIngress", &format!("security group {group_id}"), call.send()).await
    }
}

fn group_rule_from(r: &aws_sdk_ec2::types::SecurityGroupRule) -> GroupRule {
    GroupRule {
        id: r.security_group_rule_id().unwrap_or("").to_owned(),
        egress: r.is_egress().unwrap_or(false),
        ports: ports(r.ip_protocol(), r.from_port(), r.to_port()),
        cidr: r.cidr_ipv4().or(r.cidr_ipv6()).map(str::to_owned),
    }
}
