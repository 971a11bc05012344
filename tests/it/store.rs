//! The DynamoDB store passes the same contract suite as the in-memory and embedded stores,
//! and its send lease keeps concurrent deliveries from sending an object's events twice.

use trailsight_aws::dynamo::{create_table, DynamoStore};
use trailsight_core::ports::{BaselineStore, CommitOutcome, ObjectStatus};
use trailsight_it::{sdk, unique};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_store_passes_the_store_contract() {
    // Given one fresh table per contract check
    let sdk = sdk().await;
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    let mut stores = Vec::new();
    for _ in 0..8 {
        let table = unique("contract");
        create_table(&client, &table).await.unwrap();
        stores.push(DynamoStore::new(client.clone(), table));
    }
    let stores = std::sync::Mutex::new(stores);
    // When the shared suite runs, then every check holds
    trailsight_core::contract::run_all(|| stores.lock().unwrap().pop().unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_committing_invocation_holds_the_send_lease_until_it_ends() {
    // Given a DynamoDB store with an eight-second send lease, and an object committed with one event
    let sdk = sdk().await;
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    let table = unique("lease");
    create_table(&client, &table).await.unwrap();
    let lease = std::time::Duration::from_secs(8);
    let store = DynamoStore::new(client, table).with_send_lease(lease);
    let commit = trailsight_core::contract::pending_commit("bucket/key/etag");
    let committed_at = std::time::Instant::now();
    assert_eq!(store.commit(&commit).await.unwrap(), CommitOutcome::Committed);
    // When a concurrent delivery tries to claim the pending events at once, then it may not.
    // (The emulator shares two cores with the other tests: a request can take seconds, so a
    // claim is only required to fail when the clock shows it came within the lease.)
    let early = store.claim_send(&commit.object).await.unwrap();
    if committed_at.elapsed() < lease {
        assert!(!early, "a claim within the lease of the commit must fail");
    }
    // When the lease has run out (the committing invocation has timed out), then one claim wins
    tokio::time::sleep(lease + std::time::Duration::from_millis(200)).await;
    let claimed_at = std::time::Instant::now();
    assert!(store.claim_send(&commit.object).await.unwrap());
    let again = store.claim_send(&commit.object).await.unwrap();
    if claimed_at.elapsed() < lease {
        assert!(!again, "a second claim within the new lease must fail");
    }
    // And once the events are marked sent, nobody sends them again
    store.mark_sent(&commit.object).await.unwrap();
    assert_eq!(store.status(&commit.object).await.unwrap(), ObjectStatus::Done);
    assert!(!store.claim_send(&commit.object).await.unwrap());
}
