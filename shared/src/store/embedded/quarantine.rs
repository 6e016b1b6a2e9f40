//! The quarantine on the embedded store: a table of quarantined actions beside the queue.
//!
//! Quarantining rewrites only the action's status and queue place, and keeps whatever else is
//! stored byte for byte, so an item this version cannot read is set aside as it is, for a newer
//! version or an operator to read.

use super::{encode, get_kept, now_ms, Bare, EmbeddedStore, ACTIONS, PENDING, QUARANTINE};
use crate::store::{
    requeue_check, ActionStatus, Backlog, Quarantine, Quarantined, Requeued, Result, StoreError,
};
use async_trait::async_trait;
use redb::{ReadableTable, ReadableTableMetadata};
use serde_json::{json, Value};
use std::ops::Bound;

/// Quarantines `id` if it is pending, in the caller's write transaction.
pub(super) fn put(
    txn: &redb::WriteTransaction,
    id: &str,
    reason: &str,
    message: &str,
) -> Result<bool> {
    let mut actions = txn.open_table(ACTIONS)?;
    let Some(bytes) = actions.get(id)?.map(|v| v.value().to_vec()) else {
        return Err(StoreError::NotFound(format!("action {id}")));
    };
    let rejected = ActionStatus::Rejected {
        reason: reason.to_owned(),
        message: message.to_owned(),
    };
    let mut pending = txn.open_table(PENDING)?;
    let kept: Value = match serde_json::from_slice::<Value>(&bytes) {
        Ok(mut v) => {
            let bare: Option<Bare> = serde_json::from_value(v.clone()).ok();
            let status = bare.as_ref().and_then(|b| b.record.status.clone());
            if status.is_some_and(|s| s != ActionStatus::Pending) {
                return Ok(false);
            }
            match bare.and_then(|b| b.pending) {
                Some(key) => {
                    pending.remove(key)?;
                }
                None => remove_by_id(&mut pending, id)?,
            }
            v["record"]["status"] = serde_json::to_value(&rejected).expect("status");
            v["pending"] = Value::Null;
            v
        }
        // Not even JSON: keep the bytes as text beside the new status.
        Err(_) => {
            remove_by_id(&mut pending, id)?;
            json!({
                "record": {"status": rejected, "unreadable": String::from_utf8_lossy(&bytes)},
                "pending": null,
            })
        }
    };
    actions.insert(id, encode(&kept).as_slice())?;
    let q = Quarantined {
        action: id.to_owned(),
        reason: reason.to_owned(),
        message: message.to_owned(),
        at_ms: now_ms(),
    };
    txn.open_table(QUARANTINE)?
        .insert(id, encode(&q).as_slice())?;
    Ok(true)
}

/// Finds an action's queue row when its own item no longer says where it is (rare: only for
/// an item that is not JSON), by walking the queue.
fn remove_by_id(pending: &mut redb::Table<u64, &str>, id: &str) -> Result<()> {
    let mut key = None;
    for row in pending.iter()? {
        let (k, v) = row?;
        if v.value() == id {
            key = Some(k.value());
            break;
        }
    }
    if let Some(k) = key {
        pending.remove(k)?;
    }
    Ok(())
}

impl EmbeddedStore {
    /// The queue's length and oldest entry, and the quarantine's length: each O(1) or one read.
    pub(super) fn backlog_now(&self) -> Result<Backlog> {
        let txn = self.read()?;
        let pending = txn.open_table(PENDING)?;
        let actions = txn.open_table(ACTIONS)?;
        let oldest_pending_ms = match pending.first()? {
            Some((_, id)) => match get_kept(&actions, id.value()) {
                Ok(k) => k.and_then(|k| k.queued_ms),
                Err(_) => None, // an unreadable item: the quarantine will take it
            },
            None => None,
        };
        Ok(Backlog {
            pending: pending.len()?,
            oldest_pending_ms,
            quarantined: txn.open_table(QUARANTINE)?.len()?,
        })
    }
}

#[async_trait]
impl Quarantine for EmbeddedStore {
    async fn quarantined(&self, after: Option<&str>, limit: usize) -> Result<Vec<Quarantined>> {
        let txn = self.read()?;
        let t = txn.open_table(QUARANTINE)?;
        let from = after.map_or(Bound::Unbounded, Bound::Excluded);
        let mut out = Vec::new();
        for row in t.range::<&str>((from, Bound::Unbounded))?.take(limit) {
            out.push(super::decode(row?.1.value())?);
        }
        Ok(out)
    }

    async fn requeue(&self, id: &str) -> Result<Requeued> {
        self.write(|txn| -> Result<Requeued> {
            let mut actions = txn.open_table(ACTIONS)?;
            let mut kept = get_kept(&actions, id)?
                .ok_or_else(|| StoreError::NotFound(format!("action {id}")))?;
            if let Some(done) = requeue_check(&kept.record.status, id)? {
                return Ok(done);
            }
            kept.record.status = ActionStatus::Pending;
            kept.pending = Some(super::enqueue(txn, id)?);
            kept.queued_ms = Some(now_ms());
            actions.insert(id, encode(&kept).as_slice())?;
            txn.open_table(QUARANTINE)?.remove(id)?;
            Ok(Requeued::Requeued)
        })
    }
}
