//! Recording actions on DynamoDB: a conditional put keyed by the action's key (integration and
//! id), so a delivery is recorded once forever, and the pickup's completion as a conditional
//! update.

use super::item::{queue_position, s};
use super::{item, DynamoStore};
use crate::store::{
    action_digest, completion, ActionRecord, ActionStatus, Completion, Intake, Recorded, Result,
    StoreError,
};
use async_trait::async_trait;
use greenloop_core::domain::{Action, ActionKind};

#[async_trait]
impl Intake for DynamoStore {
    async fn record_action(&self, action: &Action) -> Result<Recorded> {
        action.validate()?;
        let digest = action_digest(action);
        let booking = action.kind == ActionKind::Pickup && action.items.is_empty();
        let status = if booking {
            ActionStatus::Booked
        } else {
            ActionStatus::Pending
        };
        let key = action.key();
        let mut it = item::action(&key);
        it.insert("action".into(), item::json(action));
        it.insert("digest".into(), s(digest.to_string()));
        it.insert("status".into(), item::json(&status));
        it.insert(
            "state".into(),
            s(if booking { "booked" } else { "pending" }),
        );
        if !booking {
            it.insert(item::GSI1PK.into(), s(self.queue_of(action)));
            it.insert(item::GSI1SK.into(), s(queue_position(&key)));
        }
        if self.put_new(it).await? {
            return Ok(Recorded {
                record: ActionRecord {
                    action: action.clone(),
                    digest,
                    status,
                },
                replay: false,
            });
        }
        let record = self
            .read_record(&key)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("action {key} vanished")))?;
        if record.digest != digest {
            return Err(StoreError::Conflict(key));
        }
        Ok(Recorded {
            record,
            replay: true,
        })
    }

    async fn complete_pickup(&self, id: &str, clothing_g: u64, at: i64) -> Result<Recorded> {
        // Twice at most: a lost race to another completion is answered from what it wrote.
        for _ in 0..2 {
            let record = self
                .read_record(id)
                .await?
                .ok_or_else(|| StoreError::NotFound(format!("appointment {id}")))?;
            let done = match completion(&record, id, clothing_g, at)? {
                Completion::Replay => {
                    return Ok(Recorded {
                        record,
                        replay: true,
                    })
                }
                Completion::Complete(done) => done,
            };
            let update = self
                .update_action(id, "booked")
                .update_expression(
                    "SET #action = :action, #status = :status, #state = :pending, \
                     gsi1pk = :bucket, gsi1sk = :position",
                )
                .expression_attribute_names("#action", "action")
                .expression_attribute_values(":action", item::json(&done))
                .expression_attribute_values(":status", item::json(&ActionStatus::Pending))
                .expression_attribute_values(":pending", s("pending"))
                .expression_attribute_values(":bucket", s(self.queue_of(&done)))
                .expression_attribute_values(":position", s(queue_position(id)));
            if self.moved(update).await? {
                return Ok(Recorded {
                    record: ActionRecord {
                        action: done,
                        digest: record.digest,
                        status: ActionStatus::Pending,
                    },
                    replay: false,
                });
            }
        }
        Err(StoreError::Unavailable(format!(
            "appointment {id} stayed contended"
        )))
    }

    async fn action(&self, id: &str) -> Result<Option<ActionRecord>> {
        self.read_record(id).await
    }
}
