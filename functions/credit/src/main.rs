//! The `credit` function: woken by the table's stream and by a scheduled sweep, it credits
//! every pending action (see `greenloop::credit::trigger`) and answers a stream batch with the
//! records to retry. It holds no secret.

use greenloop::catalog::Rules;
use greenloop::config;
use greenloop::credit::trigger;
use greenloop::store::CreditStore;
use lambda_runtime::{service_fn, LambdaEvent};
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    config::init_json_logs();
    // Only the roles the credit function has (docs/permissions.md).
    let store: Arc<dyn CreditStore> = config::store().await?;
    let shards = config::shards()?;
    let rules = Rules::defaults();
    config::warm_up(store.as_ref()).await;
    lambda_runtime::run(service_fn(|event: LambdaEvent<serde_json::Value>| {
        let (store, rules) = (store.clone(), rules.clone());
        async move {
            let stop = trigger::stop_at(event.context.deadline);
            let done =
                trigger::handle(store.as_ref(), &rules, shards, event.payload, Some(stop)).await?;
            Ok::<_, lambda_runtime::Error>(done.response())
        }
    }))
    .await
}
