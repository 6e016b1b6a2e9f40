//! What wakes the `credit` function: the table's stream, and a scheduled sweep.
//!
//! The stream tells crediting that actions became pending; the store's pending list stays the
//! source of truth, so a record delivered twice, late or never is harmless: a retried or
//! overlapping invocation credits nothing twice, and the sweep (an EventBridge schedule)
//! credits whatever a lost stream batch left pending.
//!
//! An invocation stops starting appends [`MARGIN`] before Lambda would kill it, and returns
//! cleanly: work left over is the next batch's or the sweep's, not an error.

use crate::credit::{credit_pending_with, Budget, CreditRun};
use crate::store::{ActionStatus, CreditStore, StoreError};
use aws_lambda_events::event::dynamodb::Event as StreamEvent;
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use greenloop_core::catalog::Rules;
use greenloop_core::ledger::chain_for_station;
use serde::Deserialize;
use std::time::{Duration, Instant};

/// What one invocation did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Invocation {
    /// Action ids that stream records announced as pending.
    pub announced: Vec<String>,
    /// Whether this was the scheduled sweep.
    pub sweep: bool,
    pub run: CreditRun,
    /// Sequence numbers of the stream records whose crediting failed: still pending on a chain
    /// the run gave up, or not known. The partial batch response, from which Lambda retries the
    /// batch (bisecting it, up to the event source's retry limit, then to its on-failure
    /// destination). A record merely not reached before the deadline is not one.
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

/// Keys (`<integration>/<id>`) of the actions that stream records show entering the pending
/// state.
pub fn announced(event: &StreamEvent) -> Vec<String> {
    announcements(event).into_iter().map(|(id, _)| id).collect()
}

/// How long before an invocation's deadline crediting stops starting appends: longer than one
/// append with the SDK's own retries takes.
pub const MARGIN: Duration = Duration::from_secs(10);

/// The instant to stop at, from Lambda's deadline (Unix milliseconds) less [`MARGIN`].
pub fn stop_at(deadline_ms: u64) -> Instant {
    let now_ms = chrono::Utc::now().timestamp_millis().max(0) as u64;
    let left = Duration::from_millis(deadline_ms.saturating_sub(now_ms));
    Instant::now() + left.saturating_sub(MARGIN)
}

/// Handles one invocation: a stream batch (`Records`) or anything else, taken as the sweep,
/// crediting until `deadline`.
///
/// A stream record fails only when crediting its action failed: the listing failed, or the
/// action is still pending on a chain the run gave up. One the run did not reach (the index
/// lags the table, or the deadline came) stays pending for the sweep, which alarms when it
/// finds any.
pub async fn handle(
    store: &dyn CreditStore,
    rules: &Rules,
    shards: u32,
    event: serde_json::Value,
    deadline: Option<Instant>,
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
    let budget = Budget {
        deadline,
        ..Budget::default()
    };
    let listed = match credit_pending_with(store, rules, shards, &budget).await {
        Ok(run) => {
            out.run = run;
            true
        }
        Err(e) if !out.sweep => {
            tracing::error!(error = %e, "crediting failed; batch retried");
            false
        }
        Err(e) => return Err(e),
    };
    // With the queue listed and no chain given up, crediting failed for no record: nothing to
    // read back.
    let suspect = if listed && out.run.stalled.is_empty() {
        Vec::new()
    } else {
        records
    };
    for (id, seq) in suspect {
        let failed = match store.action(&id).await {
            Ok(Some(r)) if r.status == ActionStatus::Pending => {
                !listed
                    || out
                        .run
                        .stalled
                        .contains_key(&chain_for_station(&r.action.station, shards))
            }
            Ok(_) => false,
            Err(StoreError::Unreadable { .. }) => false, // the quarantine's
            Err(_) => true,
        };
        if failed {
            out.failures.push(seq);
        }
    }
    if out.sweep && out.run.credited > 0 {
        // The stream should have credited these: CloudWatch alarms on this line.
        tracing::warn!(credited = out.run.credited, "sweep found pending actions");
    }
    // The public ranking: after crediting, at most every FRESH_S; at every sweep, whatever its
    // age, so the last burst of a day and a newly registered campus show within a sweep. A
    // failure leaves the old one in place and fails no record.
    let max_age = match (out.sweep, out.run.credited) {
        (true, _) => Some(0),
        (false, 0) => None,
        (false, _) => Some(super::ranking::FRESH_S),
    };
    if let Some(max_age) = max_age {
        let now = chrono::Utc::now().timestamp();
        if let Err(e) = super::ranking::keep(store, now, max_age).await {
            tracing::warn!(error = %e, "the public ranking was not refreshed");
        }
    }
    let oldest_pending_age_s = out.run.oldest_queued_ms.map_or(0, |t| {
        (chrono::Utc::now().timestamp_millis() - t).max(0) / 1000
    });
    tracing::info!(
        announced = out.announced.len(),
        sweep = out.sweep,
        credited = out.run.credited,
        quarantined = out.run.quarantined.len(),
        stalled = out.run.stalled.len(),
        deadline_reached = out.run.deadline_reached,
        oldest_pending_age_s,
        failures = out.failures.len(),
        "credit invocation"
    );
    Ok(out)
}
