//! What wakes the `credit` function: the table's stream, and a scheduled sweep.
//!
//! A stream record carries the action it announces (the item's new image) and the chain it was
//! queued on, so a stream batch is credited straight from its records, grouped by chain, and
//! nothing lists the queue on the hot path. The store's conditions stay the source of truth: a
//! record delivered twice, late or after its action was credited is harmless (the append
//! refuses an action that is not pending), and the sweep (an EventBridge schedule) walks each
//! chain's queue for whatever a lost stream batch left pending.
//!
//! An invocation stops starting appends [`MARGIN`] before Lambda would kill it, and returns
//! cleanly: work left over is the next batch's or the sweep's, not an error.

use crate::credit::{credit_actions, credit_pending_with, Budget, CreditRun};
use crate::store::{reasons, ActionStatus, CreditStore, StoreError};
use aws_lambda_events::event::dynamodb::Event as StreamEvent;
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use greenloop_core::catalog::Rules;
use greenloop_core::domain::Action;
use greenloop_core::ledger::{chain_for_station, chain_name};
use serde::Deserialize;
use std::collections::BTreeMap;
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
    /// `PENDING#<chain>`: the chain intake queued the action on.
    gsi1pk: Option<String>,
    /// Its queue position.
    gsi1sk: Option<String>,
    /// The action, as JSON.
    action: Option<String>,
}

/// An action a stream record shows entering the pending state.
struct Announced {
    id: String,
    /// The record's sequence number, to report it failed.
    seq: String,
    chain: String,
    position: String,
    /// The action as the image holds it, or why it cannot be read; None if the image has no
    /// action at all (a trimmed record): then it is read from the store.
    action: Option<Result<Action, String>>,
}

/// The actions that stream records show entering the pending state, with the chain each was
/// queued on (from its station, for an image without one).
fn announcements(event: &StreamEvent, shards: u32) -> Vec<Announced> {
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
            let action = (image.action.as_deref())
                .map(|json| serde_json::from_str::<Action>(json).map_err(|e| e.to_string()));
            let queued = image
                .gsi1pk
                .as_deref()
                .and_then(|p| p.strip_prefix("PENDING#"));
            let chain = match (queued, &action) {
                (Some(chain), _) => chain.to_owned(),
                (None, Some(Ok(a))) => chain_for_station(&a.station, shards),
                (None, _) => chain_name(0),
            };
            Some(Announced {
                id,
                seq: r.change.sequence_number.clone().unwrap_or_default(),
                chain,
                position: image.gsi1sk.unwrap_or_default(),
                action,
            })
        })
        .collect()
}

/// Keys (`<integration>/<id>`) of the actions that stream records show entering the pending
/// state.
pub fn announced(event: &StreamEvent) -> Vec<String> {
    announcements(event, 1).into_iter().map(|a| a.id).collect()
}

/// Credits what the records announce: unreadable actions quarantined, the rest grouped by
/// chain, each group once, in queue order.
async fn credit_records(
    store: &dyn CreditStore,
    rules: &Rules,
    records: &[Announced],
    budget: &Budget,
) -> Result<CreditRun, StoreError> {
    if budget.expired() {
        return Ok(CreditRun {
            deadline_reached: true,
            ..CreditRun::default()
        });
    }
    let mut by_chain: BTreeMap<String, Vec<(&str, Action)>> = BTreeMap::new();
    let mut quarantined = Vec::new();
    for a in records {
        let action = match &a.action {
            Some(read) => read.clone(),
            None => match store.action(&a.id).await {
                Ok(Some(r)) if r.status == ActionStatus::Pending => Ok(r.action),
                Ok(_) => continue, // credited, quarantined or gone since
                Err(StoreError::Unreadable { error, .. }) => Err(error),
                Err(e) => return Err(e),
            },
        };
        match action {
            Ok(action) => {
                (by_chain.entry(a.chain.clone()).or_default()).push((&a.position, action))
            }
            Err(why) => match store.quarantine(&a.id, reasons::UNREADABLE, &why).await {
                Ok(true) => quarantined.push(a.id.clone()),
                Ok(false) => {}
                // Still pending: the sweep tries again.
                Err(e) => tracing::error!(action = %a.id, error = %e, "could not quarantine"),
            },
        }
    }
    let by_chain = by_chain
        .into_iter()
        .map(|(chain, mut actions)| {
            actions.sort_by(|a, b| a.0.cmp(b.0));
            (chain, actions.into_iter().map(|(_, a)| a).collect())
        })
        .collect();
    let mut run = credit_actions(store, rules, by_chain, budget).await?;
    run.quarantined.extend(quarantined);
    Ok(run)
}

/// The sequence numbers of the records to retry: those whose action is still pending on a
/// chain the run gave up, or on any chain if the run failed as a whole.
async fn failures(
    store: &dyn CreditStore,
    records: &[Announced],
    run: &CreditRun,
    whole: bool,
) -> Vec<String> {
    let mut out = Vec::new();
    for a in records {
        if !whole && !run.stalled.contains_key(&a.chain) {
            continue;
        }
        let failed = match store.action(&a.id).await {
            Ok(Some(r)) => r.status == ActionStatus::Pending,
            Ok(None) => false,
            Err(StoreError::Unreadable { .. }) => false, // the quarantine's
            Err(_) => true,
        };
        if failed {
            out.push(a.seq.clone());
        }
    }
    out
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
/// A stream batch is credited from its records' images, grouped by the chain each action was
/// queued on: nothing lists the queue. A record fails only when crediting its action failed:
/// the rules could not be published, or the action is still pending on a chain the run gave
/// up. One the run did not reach (the deadline came, or another task held its chain that
/// long) stays pending for the sweep, which alarms when it finds any.
pub async fn handle(
    store: &dyn CreditStore,
    rules: &Rules,
    shards: u32,
    event: serde_json::Value,
    deadline: Option<Instant>,
) -> Result<Invocation, StoreError> {
    let mut out = Invocation::default();
    let budget = Budget {
        deadline,
        ..Budget::default()
    };
    if event.get("Records").is_none() {
        out.sweep = true;
        out.run = credit_pending_with(store, rules, shards, &budget).await?;
    } else {
        let batch: StreamEvent = serde_json::from_value(event)
            .map_err(|e| StoreError::Corrupt(format!("unreadable stream event: {e}")))?;
        let records = announcements(&batch, shards);
        out.announced = records.iter().map(|a| a.id.clone()).collect();
        if records.is_empty() {
            return Ok(out); // entries, accounts, heads: crediting's own writes
        }
        let whole = match credit_records(store, rules, &records, &budget).await {
            Ok(run) => {
                out.run = run;
                false
            }
            Err(e) => {
                tracing::error!(error = %e, "crediting failed; batch retried");
                true
            }
        };
        out.failures = failures(store, &records, &out.run, whole).await;
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
