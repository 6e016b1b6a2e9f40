//! What wakes the `credit` function: the table's stream, and a scheduled sweep.
//!
//! The stream tells crediting that actions became pending; the store's pending list stays the
//! source of truth, so a record delivered twice, late or never is harmless: a retried or
//! overlapping invocation credits nothing twice, and the sweep (an EventBridge schedule)
//! credits whatever a lost stream batch left pending.

use crate::catalog::Rules;
use crate::credit::{credit_pending, CreditRun};
use crate::store::{Store, StoreError};
use aws_lambda_events::event::dynamodb::Event as StreamEvent;
use serde::Deserialize;

/// What one invocation did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Invocation {
    /// Stream records that announced a pending action.
    pub announced: Vec<String>,
    /// Whether this was the scheduled sweep.
    pub sweep: bool,
    pub run: CreditRun,
}

/// The fields of an item image the trigger reads.
#[derive(Deserialize)]
struct Image {
    pk: String,
    state: Option<String>,
}

/// Action ids that stream records show entering the pending state.
pub fn announced(event: &StreamEvent) -> Vec<String> {
    event
        .records
        .iter()
        .filter(|r| r.event_name == "INSERT" || r.event_name == "MODIFY")
        .filter_map(|r| serde_dynamo::from_item::<_, Image>(r.change.new_image.clone()).ok())
        .filter(|i| i.state.as_deref() == Some("pending"))
        .filter_map(|i| i.pk.strip_prefix("ACTION#").map(str::to_owned))
        .collect()
}

/// Handles one invocation: a stream batch (`Records`) or anything else, taken as the sweep.
pub async fn handle(
    store: &dyn Store,
    rules: &Rules,
    shards: u32,
    event: serde_json::Value,
) -> Result<Invocation, StoreError> {
    let mut out = Invocation::default();
    if event.get("Records").is_some() {
        let batch: StreamEvent = serde_json::from_value(event)
            .map_err(|e| StoreError::Corrupt(format!("unreadable stream event: {e}")))?;
        out.announced = announced(&batch);
        if out.announced.is_empty() {
            return Ok(out); // entries, accounts, heads: crediting's own writes
        }
    } else {
        out.sweep = true;
    }
    out.run = credit_pending(store, rules, shards).await?;
    tracing::info!(
        announced = out.announced.len(),
        sweep = out.sweep,
        credited = out.run.credited,
        "credit invocation"
    );
    Ok(out)
}
