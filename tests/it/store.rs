//! The DynamoDB store passes the same contract suite as the in-memory and embedded stores,
//! its send lease keeps concurrent deliveries from sending an object's events twice, and its
//! journal (entries, checkpoints, eventIDs written before the commit) loads back as committed.

use trailsight_aws::dynamo::{create_table, DynamoStore};
use trailsight_core::store::contract::{api, commit, stream};
use trailsight_core::store::ports::{BaselineStore, CommitOutcome, ObjectStatus, Turn};
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
    trailsight_core::store::contract::run_all(|| stores.lock().unwrap().pop().unwrap()).await;
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
    let commit = trailsight_core::store::contract::pending_commit("bucket/key/etag");
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

async fn fresh_store(name: &str) -> DynamoStore {
    let sdk = sdk().await;
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    let table = unique(name);
    create_table(&client, &table).await.unwrap();
    DynamoStore::new(client, table)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_load_returns_the_checkpoint_and_the_journal_entries_committed_since() {
    // Given a first commit (a checkpoint, as the stream has none) and a second after a load
    let store = fresh_store("journal").await;
    assert_eq!(store.commit(&commit("o1", 0, 0, 5)).await.unwrap(), CommitOutcome::Committed);
    let first = store.load(&[stream()], &[], &[100]).await.unwrap();
    assert_eq!(first.streams[&stream()].version, 1);
    assert!(first.apis.contains_key(&api("ListUsers")));
    assert!(first.journal.is_empty());
    let second = commit("o2", 1, 1, 3);
    assert_eq!(store.commit(&second).await.unwrap(), CommitOutcome::Committed);
    // When the stream is loaded again
    let snap = store.load(&[stream()], &[], &[100]).await.unwrap();
    // Then it comes back at version 2 as the first checkpoint plus the second file's entry
    assert_eq!(snap.streams[&stream()].version, 2);
    assert_eq!(snap.apis[&api("ListUsers")].value, first.apis[&api("ListUsers")].value);
    assert_eq!(snap.journal[&stream()], vec![second.journal[&stream()].clone()]);
    // And the counts are both files'
    assert_eq!(store.counts(&api("ListUsers"), 0, 1000).await.unwrap(), vec![(100, 8, 2)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_ids_of_a_commit_that_lost_its_race_do_not_hide_later_copies() {
    // Given a committed file (eventID 7 in minute 100), and another whose commit lost the race
    // after writing its own eventIDs (9 in minute 100)
    let store = fresh_store("ids").await;
    store.commit(&commit("o1", 0, 0, 5)).await.unwrap();
    let mut lost = commit("o2", 0, 0, 3);
    lost.new_ids.insert(stream(), vec![(9, 100)]);
    assert_eq!(store.commit(&lost).await.unwrap(), CommitOutcome::Conflict);
    // When the minute's eventIDs are loaded
    let snap = store.load(&[stream()], &[], &[100]).await.unwrap();
    // Then only the committed file's count: a later copy of record 9 is still counted
    assert_eq!(snap.streams[&stream()].seen, vec![(7, 100)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_turn_passes_to_the_next_file_only_once_its_holder_ends_it() {
    // Given a store whose files wait up to two seconds for a turn, and file A holding the turn
    let sdk = sdk().await;
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    let table = unique("turn");
    create_table(&client, &table).await.unwrap();
    let store = DynamoStore::new(client, table).with_turn_wait(std::time::Duration::from_secs(2));
    let streams = [stream()];
    assert_eq!(store.take_turn(&streams, "A").await.unwrap(), Turn::Granted);
    // When file B asks while A holds it, then B waits out its budget without the turn
    let asked = std::time::Instant::now();
    assert_eq!(store.take_turn(&streams, "B").await.unwrap(), Turn::Waited);
    assert!(asked.elapsed() >= std::time::Duration::from_secs(2));
    // When A ends its turn while B waits, then B gets it, and A's late end leaves B's turn alone
    let (b, ()) = tokio::join!(store.take_turn(&streams, "B"), async {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        store.end_turn(&streams, "A").await.unwrap();
    });
    assert_eq!(b.unwrap(), Turn::Granted);
    store.end_turn(&streams, "A").await.unwrap();
    assert_eq!(store.take_turn(&streams, "C").await.unwrap(), Turn::Waited);
    // And a store configured with no wait does not take turns at all
    let off = store.clone().with_turn_wait(std::time::Duration::ZERO);
    assert_eq!(off.take_turn(&streams, "D").await.unwrap(), Turn::Skipped);
}
