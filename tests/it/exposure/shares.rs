//! Shared snapshots and images, DB instances and network ACL entries on moto, with AccessDenied.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_public_snapshot_loses_the_group_all_and_keeps_the_partner_account() {
    // Given a snapshot shared with everyone and with a partner account
    let (env, targets, _, _) = setup().await;
    let ec2 = aws_sdk_ec2::Client::new(&env.sdk);
    let volume = ec2.create_volume().availability_zone("us-east-1a").size(1).send().await.unwrap();
    let snapshot = ec2.create_snapshot().volume_id(volume.volume_id().unwrap()).send().await.unwrap();
    let id = snapshot.snapshot_id().unwrap().to_owned();
    ec2.modify_snapshot_attribute()
        .snapshot_id(&id)
        .attribute(aws_sdk_ec2::types::SnapshotAttributeName::CreateVolumePermission)
        .operation_type(aws_sdk_ec2::types::OperationType::Add)
        .group_names("all")
        .user_ids("444455556666")
        .send()
        .await
        .unwrap();
    let event = call(
        "ec2.amazonaws.com",
        "ModifySnapshotAttribute",
        json!({"snapshotId": id, "attributeType": "CREATE_VOLUME_PERMISSION", "createVolumePermission": {"add": {"items": [{"group": "all"}, {"userId": "444455556666"}]}}}),
    );
    // When it is remediated
    decided(&env, &targets, &enforce(), &event, "remediated").await;
    // Then only the partner's share is left
    let live = ec2
        .describe_snapshot_attribute()
        .snapshot_id(&id)
        .attribute(aws_sdk_ec2::types::SnapshotAttributeName::CreateVolumePermission)
        .send()
        .await
        .unwrap();
    let perms = live.create_volume_permissions();
    assert!(perms.iter().all(|p| p.group().is_none()), "{perms:?}");
    assert!(perms.iter().any(|p| p.user_id() == Some("444455556666")), "{perms:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_public_image_loses_the_group_all_and_keeps_the_partner_account() {
    // Given an AMI made from an instance, launchable by everyone and by a partner account
    let (env, targets, _, _) = setup().await;
    let ec2 = aws_sdk_ec2::Client::new(&env.sdk);
    let base = ec2.describe_images().owners("amazon").send().await.unwrap();
    let base = base.images()[0].image_id().unwrap().to_owned();
    let run = ec2.run_instances().image_id(base).min_count(1).max_count(1).send().await.unwrap();
    let instance = run.instances()[0].instance_id().unwrap().to_owned();
    let image = ec2.create_image().instance_id(instance).name(unique("golden")).send().await.unwrap().image_id.unwrap();
    ec2.modify_image_attribute()
        .image_id(&image)
        .launch_permission(
            aws_sdk_ec2::types::LaunchPermissionModifications::builder()
                .add(
                    aws_sdk_ec2::types::LaunchPermission::builder()
                        .group(aws_sdk_ec2::types::PermissionGroup::All)
                        .build(),
                )
                .add(aws_sdk_ec2::types::LaunchPermission::builder().user_id("444455556666").build())
                .build(),
        )
        .send()
        .await
        .unwrap();
    let event = call(
        "ec2.amazonaws.com",
        "ModifyImageAttribute",
        json!({"imageId": image, "launchPermission": {"add": {"items": [{"group": "all"}]}}, "attributeType": "launchPermission"}),
    );
    // When it is remediated
    decided(&env, &targets, &enforce(), &event, "remediated").await;
    // Then only the partner may launch it
    let live = ec2
        .describe_image_attribute()
        .image_id(&image)
        .attribute(aws_sdk_ec2::types::ImageAttributeName::LaunchPermission)
        .send()
        .await
        .unwrap();
    let perms = live.launch_permissions();
    assert!(perms.iter().all(|p| p.group().is_none()), "{perms:?}");
    assert!(perms.iter().any(|p| p.user_id() == Some("444455556666")), "{perms:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_public_db_snapshot_is_unshared_and_a_public_instance_made_private_once_chosen() {
    // Given a public DB instance and a snapshot of it shared with everyone and a partner
    let (env, targets, _, _) = setup().await;
    let rds = aws_sdk_rds::Client::new(&env.sdk);
    let db = unique("db");
    rds.create_db_instance()
        .db_instance_identifier(&db)
        .db_instance_class("db.t3.micro")
        .engine("postgres")
        .master_username("admin1")
        .master_user_password("password-123")
        .allocated_storage(20)
        .publicly_accessible(true)
        .send()
        .await
        .unwrap();
    let snap = unique("snap");
    rds.create_db_snapshot().db_instance_identifier(&db).db_snapshot_identifier(&snap).send().await.unwrap();
    rds.modify_db_snapshot_attribute()
        .db_snapshot_identifier(&snap)
        .attribute_name("restore")
        .values_to_add("all")
        .values_to_add("444455556666")
        .send()
        .await
        .unwrap();
    let shared = call(
        "rds.amazonaws.com",
        "ModifyDBSnapshotAttribute",
        json!({"dBSnapshotIdentifier": snap, "attributeName": "restore", "valuesToAdd": ["all"]}),
    );
    let opened = call(
        "rds.amazonaws.com",
        "ModifyDBInstance",
        json!({"dBInstanceIdentifier": db, "publiclyAccessible": true, "applyImmediately": true}),
    );
    // When both are remediated (the instance first with the default rules, then chosen)
    decided(&env, &targets, &enforce(), &shared, "remediated").await;
    decided(&env, &targets, &enforce(), &opened, "would-remediate").await;
    let all = RemediationConfig { rules: RuleSelection::All, ..enforce() };
    let again =
        call("rds.amazonaws.com", "ModifyDBInstance", json!({"dBInstanceIdentifier": db, "publiclyAccessible": true}));
    decided(&env, &targets, &all, &again, "remediated").await;
    // Then the snapshot keeps only the partner, and the instance is private
    let attrs = rds.describe_db_snapshot_attributes().db_snapshot_identifier(&snap).send().await.unwrap();
    let values: Vec<String> = attrs
        .db_snapshot_attributes_result()
        .map(|r| r.db_snapshot_attributes())
        .unwrap_or_default()
        .iter()
        .filter(|a| a.attribute_name() == Some("restore"))
        .flat_map(|a| a.attribute_values().to_vec())
        .collect();
    assert_eq!(values, vec!["444455556666".to_owned()]);
    let live = rds.describe_db_instances().db_instance_identifier(&db).send().await.unwrap();
    assert_eq!(live.db_instances()[0].publicly_accessible(), Some(false));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_network_acl_entry_the_call_made_is_deleted_and_the_others_kept() {
    // Given an ACL with SSH from the world (the call's entry) and HTTPS from the world
    let (env, targets, _, _) = setup().await;
    let ec2 = aws_sdk_ec2::Client::new(&env.sdk);
    let vpc = ec2.create_vpc().cidr_block("10.0.0.0/16").send().await.unwrap();
    let acl = ec2.create_network_acl().vpc_id(vpc.vpc().unwrap().vpc_id().unwrap()).send().await.unwrap();
    let acl_id = acl.network_acl().unwrap().network_acl_id().unwrap().to_owned();
    for (n, port) in [(90, 22), (100, 443)] {
        ec2.create_network_acl_entry()
            .network_acl_id(&acl_id)
            .rule_number(n)
            .protocol("6")
            .rule_action(aws_sdk_ec2::types::RuleAction::Allow)
            .egress(false)
            .cidr_block("0.0.0.0/0")
            .port_range(aws_sdk_ec2::types::PortRange::builder().from(port).to(port).build())
            .send()
            .await
            .unwrap();
    }
    let event = call(
        "ec2.amazonaws.com",
        "CreateNetworkAclEntry",
        json!({"networkAclId": acl_id, "ruleNumber": 90, "egress": false, "ruleAction": "allow", "aclProtocol": "6", "portRange": {"from": 22, "to": 22}, "cidrBlock": "0.0.0.0/0", "icmpTypeCode": {}}),
    );
    // When it is remediated
    decided(&env, &targets, &enforce(), &event, "remediated").await;
    // Then entry 90 is gone and entry 100 stays
    let live = ec2.describe_network_acls().network_acl_ids(&acl_id).send().await.unwrap();
    let numbers: Vec<i32> = live.network_acls()[0]
        .entries()
        .iter()
        .filter(|e| e.egress() == Some(false))
        .filter_map(|e| e.rule_number())
        .collect();
    assert!(!numbers.contains(&90) && numbers.contains(&100), "{numbers:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_denied_on_a_snapshot_is_failed_and_leaves_it_shared() {
    // Given a public snapshot and a function that may not modify snapshot attributes
    let (env, _, sink, ledger) = setup().await;
    let ec2 = aws_sdk_ec2::Client::new(&env.sdk);
    let volume = ec2.create_volume().availability_zone("us-east-1a").size(1).send().await.unwrap();
    let id = ec2.create_snapshot().volume_id(volume.volume_id().unwrap()).send().await.unwrap().snapshot_id.unwrap();
    ec2.modify_snapshot_attribute()
        .snapshot_id(&id)
        .attribute(aws_sdk_ec2::types::SnapshotAttributeName::CreateVolumePermission)
        .operation_type(aws_sdk_ec2::types::OperationType::Add)
        .group_names("all")
        .send()
        .await
        .unwrap();
    let denied = Denying::new(AwsAdmins::from_config(&env.sdk, true), "ec2:ModifySnapshotAttribute");
    let event = call(
        "ec2.amazonaws.com",
        "ModifySnapshotAttribute",
        json!({"snapshotId": id, "createVolumePermission": {"add": {"items": [{"group": "all"}]}}}),
    );
    // When it is remediated
    let result = handle(&denied, &ledger, &sink, &enforce(), &event).await;
    // Then the invocation fails, a subscriber sees the failure naming the action, and it is still shared
    assert!(matches!(result, Err(HandlerError::Failed(_))), "{result:?}");
    let received = env.receive(1).await;
    assert_eq!(received[0]["detail"]["decision"], "failed");
    assert!(received[0]["detail"]["error"].as_str().is_some_and(|e| e.contains("ec2:ModifySnapshotAttribute")));
    let live = ec2
        .describe_snapshot_attribute()
        .snapshot_id(&id)
        .attribute(aws_sdk_ec2::types::SnapshotAttributeName::CreateVolumePermission)
        .send()
        .await
        .unwrap();
    assert!(live.create_volume_permissions().iter().any(|p| p.group().is_some()));
}
