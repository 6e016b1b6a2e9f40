//! The `checkpoint` function: on a schedule, extends each chain's Merkle tree with the entries
//! appended since its last checkpoint and signs the new roots (see
//! `greenloop::checkpoint::tree`). It holds the log's signing key, read from SSM at init.

use greenloop::checkpoint::tree;
use greenloop::config;
use greenloop::store::TreeStore;
use lambda_runtime::{service_fn, LambdaEvent};
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    config::init_json_logs();
    // Only the roles the checkpoint function has (docs/permissions.md).
    let store: Arc<dyn TreeStore> = config::store().await?;
    let key = Arc::new(config::log_key().await?);
    config::warm_up(store.as_ref()).await;
    lambda_runtime::run(service_fn(|_: LambdaEvent<serde_json::Value>| {
        let (store, key) = (store.clone(), key.clone());
        async move {
            let now = chrono::Utc::now().timestamp();
            let published = tree::publish_all(store.as_ref(), &key, now).await?;
            for p in published.iter().filter(|p| p.entries > 0) {
                let c = &p.checkpoint.checkpoint;
                tracing::info!(chain = %c.chain, size = c.size, root = %c.root, added = p.entries, "checkpoint signed");
            }
            Ok::<_, lambda_runtime::Error>(serde_json::json!({"chains": published.len()}))
        }
    }))
    .await
}
