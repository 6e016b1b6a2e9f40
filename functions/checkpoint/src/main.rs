//! The `checkpoint` function: on a schedule, extends each chain's Merkle tree with the entries
//! appended since its last checkpoint and signs the new roots (see
//! `greenloop::checkpoint::tree`), then folds the newly checkpointed entries into the brand
//! figures (`greenloop::checkpoint::brand`). It holds the log's signing key, read from SSM at
//! init.

use greenloop::checkpoint::{brand, tree};
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
            let folded = brand::fold_all(store.as_ref()).await?;
            for f in &folded {
                match &f.stopped {
                    Some(why) => tracing::error!(chain = %f.chain, seq = f.to.seq, why = %why, "brand figures stopped short"),
                    None if f.shares > 0 => tracing::info!(chain = %f.chain, shares = f.shares, "brand figures folded"),
                    None => {}
                }
            }
            let stopped = folded.iter().filter(|f| f.stopped.is_some()).count();
            Ok::<_, lambda_runtime::Error>(
                serde_json::json!({"chains": published.len(), "brand_folds_stopped": stopped}),
            )
        }
    }))
    .await
}
