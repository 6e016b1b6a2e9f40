//! The `credit` function: triggered by the table's stream, it credits every pending action.
//!
//! The stream records only wake it; the store's pending list is the source of truth, so a
//! retried or overlapping invocation credits nothing twice.

use aws_lambda_events::event::dynamodb::Event;
use greenloop::catalog::Rules;
use greenloop::{config, credit};
use lambda_runtime::{service_fn, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    config::init_json_logs();
    let store = config::store().await?;
    let shards = config::shards()?;
    let rules = Rules::defaults();
    lambda_runtime::run(service_fn(|_wake: LambdaEvent<Event>| {
        let (store, rules) = (store.clone(), rules.clone());
        async move {
            credit::credit_pending(store.as_ref(), &rules, shards).await?;
            Ok::<_, lambda_runtime::Error>(())
        }
    }))
    .await
}
