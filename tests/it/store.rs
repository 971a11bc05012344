//! The DynamoDB store passes the same contract suite as the in-memory and embedded stores.

use trailsight_aws::dynamo::{create_table, DynamoStore};
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
