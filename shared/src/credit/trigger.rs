//! What wakes the `credit` function: the table's stream, and a scheduled sweep.
//!
//! The stream tells crediting that actions became pending; the store's pending list stays the
//! source of truth, so a record delivered twice, late or never is harmless: a retried or
//! overlapping invocation credits nothing twice, and the sweep (an EventBridge schedule)
//! credits whatever a lost stream batch left pending.

use crate::credit::{credit_pending, CreditRun};
use crate::store::{ActionStatus, CreditStore, StoreError};
use aws_lambda_events::event::dynamodb::Event as StreamEvent;
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use greenloop_core::catalog::Rules;
use serde::Deserialize;

/// What one invocation did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Invocation {
    /// Action ids that stream records announced as pending.
    pub announced: Vec<String>,
    /// Whether this was the scheduled sweep.
    pub sweep: bool,
    pub run: CreditRun,
    /// Sequence numbers of the stream records whose action is still pending afterwards: the
    /// partial batch response, from which Lambda retries the batch (bisecting it, up to the
    /// event source's retry limit, then to its on-failure destination).
    pub failures: Vec<String>,
}

impl Invocation {
    /// The answer to a stream batch (`ReportBatchItemFailures`).
    pub fn response(&self) -> DynamoDbEventResponse {
        let mut out = DynamoDbEventResponse::default();
        out.batch_item_failures = self
            .failures
            .iter()
            .map(|seq| {
                let mut f = DynamoDbBatchItemFailure::default();
                f.item_identifier = Some(seq.clone());
                f
            })
            .collect();
        out
    }
}

/// The fields of an item image the trigger reads.
#[derive(Deserialize)]
struct Image {
    pk: String,
    state: Option<String>,
}

/// (action id, record sequence number) of each stream record showing an action enter the
/// pending state.
fn announcements(event: &StreamEvent) -> Vec<(String, String)> {
    event
        .records
        .iter()
        .filter(|r| r.event_name == "INSERT" || r.event_name == "MODIFY")
        .filter_map(|r| {
            let image: Image = serde_dynamo::from_item(r.change.new_image.clone()).ok()?;
            if image.state.as_deref() != Some("pending") {
                return None;
            }
            let id = image.pk.strip_prefix("ACTION#")?.to_owned();
            Some((id, r.change.sequence_number.clone().unwrap_or_default()))
        })
        .collect()
}

/// Action ids that stream records show entering the pending state.
pub fn announced(event: &StreamEvent) -> Vec<String> {
    announcements(event).into_iter().map(|(id, _)| id).collect()
}

/// Handles one invocation: a stream batch (`Records`) or anything else, taken as the sweep.
///
/// A stream batch is done when each action it announced is no longer pending: the pending
/// index lags the table, so a run can miss an action its own record announced, and a failed
/// run leaves them all. Those records are reported as failures rather than left to the sweep.
pub async fn handle(
    store: &dyn CreditStore,
    rules: &Rules,
    shards: u32,
    event: serde_json::Value,
) -> Result<Invocation, StoreError> {
    let mut out = Invocation::default();
    let mut records = Vec::new();
    if event.get("Records").is_some() {
        let batch: StreamEvent = serde_json::from_value(event)
            .map_err(|e| StoreError::Corrupt(format!("unreadable stream event: {e}")))?;
        records = announcements(&batch);
        out.announced = records.iter().map(|(id, _)| id.clone()).collect();
        if records.is_empty() {
            return Ok(out); // entries, accounts, heads: crediting's own writes
        }
    } else {
        out.sweep = true;
    }
    match credit_pending(store, rules, shards).await {
        Ok(run) => out.run = run,
        Err(e) if !out.sweep => tracing::error!(error = %e, "crediting failed; batch retried"),
        Err(e) => return Err(e),
    }
    for (id, seq) in records {
        let pending = match store.action(&id).await {
            Ok(Some(r)) => r.status == ActionStatus::Pending,
            Ok(None) => false, // cannot happen for a recorded action; nothing to retry
            Err(_) => true,
        };
        if pending {
            out.failures.push(seq);
        }
    }
    if out.sweep && out.run.credited > 0 {
        // The stream should have credited these: CloudWatch alarms on this line.
        tracing::warn!(credited = out.run.credited, "sweep found pending actions");
    }
    tracing::info!(
        announced = out.announced.len(),
        sweep = out.sweep,
        credited = out.run.credited,
        failures = out.failures.len(),
        "credit invocation"
    );
    Ok(out)
}
