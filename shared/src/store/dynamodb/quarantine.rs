//! The quarantine on DynamoDB. A quarantined action's item moves from its pending-queue
//! partition of the general index to the `QUARANTINE` partition (sorted by action id), with the
//! reason beside its status, in one conditional update; putting it back is the reverse. The
//! action attribute itself is never touched, so an item this version cannot read stays as it was
//! written.

use super::item::{queue_position, s};
use super::{item, sdk_err, DynamoStore};
use crate::store::{
    requeue_check, ActionStatus, Backlog, Quarantine, Quarantined, Requeued, Result, StoreError,
};
use async_trait::async_trait;
use aws_sdk_dynamodb::types::Select;

const PARTITION: &str = "QUARANTINE";

impl DynamoStore {
    pub(super) async fn put_in_quarantine(
        &self,
        id: &str,
        reason: &str,
        message: &str,
    ) -> Result<bool> {
        let q = Quarantined {
            action: id.to_owned(),
            reason: reason.to_owned(),
            message: message.to_owned(),
            at_ms: chrono::Utc::now().timestamp_millis(),
        };
        let status = ActionStatus::Rejected {
            reason: reason.to_owned(),
            message: message.to_owned(),
        };
        let update = self
            .update_action(id, "pending")
            .update_expression(
                "SET #status = :status, #state = :rejected, gsi1pk = :q, gsi1sk = :id, \
                 #quarantine = :quarantine",
            )
            .expression_attribute_names("#quarantine", "quarantine")
            .expression_attribute_values(":status", item::json(&status))
            .expression_attribute_values(":rejected", s("rejected"))
            .expression_attribute_values(":q", s(PARTITION))
            .expression_attribute_values(":id", s(id))
            .expression_attribute_values(":quarantine", item::json(&q));
        self.moved(update).await
    }

    /// Counts a general-index partition's items (paged `Select COUNT` queries).
    async fn count(&self, partition: String) -> Result<u64> {
        let q = self
            .index_query(item::GSI1, item::GSI1PK, partition)
            .select(Select::Count);
        let mut total = 0u64;
        let mut start = None;
        loop {
            let res = q
                .clone()
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(sdk_err)?;
            total += res.count.max(0) as u64;
            match res.last_evaluated_key {
                Some(k) => start = Some(k),
                None => return Ok(total),
            }
        }
    }

    /// The queue's length and the time its oldest action entered it (the smallest queue
    /// position over the chains' partitions), and the quarantine's length. Costs a count of each:
    /// an auditor's or an operator's read, not a request path.
    pub(super) async fn backlog_now(&self) -> Result<Backlog> {
        let mut backlog = Backlog::default();
        for chain in greenloop_core::ledger::chains(self.shards) {
            let bucket = item::pending_partition(&chain);
            backlog.pending += self.count(bucket.clone()).await?;
            let first = self
                .index_query(item::GSI1, item::GSI1PK, bucket)
                .limit(1)
                .send()
                .await
                .map_err(sdk_err)?;
            backlog.note_queued(
                first
                    .items
                    .unwrap_or_default()
                    .first()
                    .and_then(|it| item::get_s(it, item::GSI1SK).ok())
                    .and_then(item::queued_ms),
            );
        }
        backlog.quarantined = self.count(PARTITION.into()).await?;
        Ok(backlog)
    }
}

#[async_trait]
impl Quarantine for DynamoStore {
    async fn quarantined(&self, after: Option<&str>, limit: usize) -> Result<Vec<Quarantined>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let q = self.index_query_after(
            item::GSI1,
            (item::GSI1PK, item::GSI1SK),
            PARTITION.into(),
            after,
        );
        self.query(q, Some(limit))
            .await?
            .iter()
            .map(|it| item::get_json(it, "quarantine"))
            .collect()
    }

    async fn requeue(&self, id: &str) -> Result<Requeued> {
        // Twice at most: a lost race to another requeue is answered from what it wrote.
        for _ in 0..2 {
            let record = self
                .read_record(id)
                .await?
                .ok_or_else(|| StoreError::NotFound(format!("action {id}")))?;
            if let Some(done) = requeue_check(&record.status, id)? {
                return Ok(done);
            }
            let update = self
                .update_action(id, "rejected")
                .update_expression(
                    "SET #status = :status, #state = :pending, gsi1pk = :bucket, \
                     gsi1sk = :position REMOVE #quarantine",
                )
                .expression_attribute_names("#quarantine", "quarantine")
                .expression_attribute_values(":status", item::json(&ActionStatus::Pending))
                .expression_attribute_values(":pending", s("pending"))
                .expression_attribute_values(":bucket", s(self.queue_of(&record.action)))
                .expression_attribute_values(":position", s(queue_position(id)));
            if self.moved(update).await? {
                return Ok(Requeued::Requeued);
            }
        }
        Err(StoreError::Unavailable(format!(
            "action {id} stayed contended"
        )))
    }
}
