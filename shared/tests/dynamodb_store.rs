//! The store behaviour suite (`greenloop_testkit`) against the DynamoDB store on AWS's
//! DynamoDB Local, which the harness installs and starts by itself: one fresh table per case.

mod support;

use greenloop::store::dynamodb::DynamoStore;
use greenloop::store::Store;
use greenloop_testkit as suite;
use std::sync::Arc;
use support::dynamodb_local;

/// Distinct actions in the invariants cases.
const ACTIONS: usize = 2_000;

async fn fresh(prefix: &str) -> DynamoStore {
    let store = DynamoStore::new(
        dynamodb_local::client().await,
        dynamodb_local::unique_table(prefix),
    );
    store.create_table().await.expect("create the table");
    store
}

greenloop_testkit::store_cases!(|case| (fresh(case).await, ()));

/// Thousands of actions, 10% delivered twice at once, on one chain and on several.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn invariants_hold_on_one_chain() {
    let store: Arc<dyn Store> = Arc::new(fresh("inv1").await);
    suite::invariants_hold_under_concurrent_duplicated_delivery(store, ACTIONS, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn invariants_hold_on_eight_chains() {
    let store: Arc<dyn Store> = Arc::new(fresh("inv8").await);
    suite::invariants_hold_under_concurrent_duplicated_delivery(store, ACTIONS, 8).await;
}
