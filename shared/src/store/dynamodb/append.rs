//! A chain's writer on DynamoDB: its claim on the chain (on the head item), and a credited
//! batch as one `TransactWriteItems`, and what a cancelled one means.
//!
//! The transaction is conditioned on the chain head's size and hash, on each account's head,
//! and on each action still being pending. DynamoDB reports, per item, which condition failed
//! (`CancellationReasons`), so a moved head or account (retry) is told apart from an action
//! someone else credited first (skip it).

use super::item::{self, n, read_head, s, AccountSet, Item, MEMBER_N, MEMBER_PK};
use super::{sdk_err, DynamoStore};
use crate::store::{AppendError, ChainHead, Claim, CreditBatch, StoreError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    Put, ReturnValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};
use greenloop_core::disposition::Totals;
use greenloop_core::ledger::ZERO;
use greenloop_core::ranking::Standing;
use std::collections::HashMap;

/// DynamoDB's limit on items in one transaction.
pub const MAX_ITEMS: usize = 100;

/// What each transaction item stands for, to read cancellation reasons back.
enum Part {
    Head,
    Entry,
    Account(greenloop_core::domain::MemberId),
    Action(String),
    CampusDay,
    Stock,
}

/// The attributes of a chain's claim on its head item.
const HOLDER: &str = "holder";
const UNTIL: &str = "until";

impl DynamoStore {
    /// [`crate::store::Crediting::claim_chain`]: one conditional update of the head item that
    /// answers with the head.
    pub(super) async fn claim(
        &self,
        chain: &str,
        holder: &str,
        now_ms: i64,
        until_ms: i64,
    ) -> Result<Claim, StoreError> {
        let res = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(item::head(chain)))
            .update_expression("SET #chain = :chain, #holder = :holder, #until = :until")
            .condition_expression(
                "attribute_not_exists(#until) OR #until <= :now OR #holder = :holder",
            )
            .expression_attribute_names("#chain", "chain")
            .expression_attribute_names("#holder", HOLDER)
            .expression_attribute_names("#until", UNTIL)
            .expression_attribute_values(":chain", s(chain))
            .expression_attribute_values(":holder", s(holder))
            .expression_attribute_values(":until", n(until_ms))
            .expression_attribute_values(":now", n(now_ms))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match res {
            Ok(out) => Ok(Claim::Held(read_head(&out.attributes.unwrap_or_default())?)),
            Err(e) => match e.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(c)) => {
                    let held = match c.item() {
                        Some(it) => Some(it.clone()),
                        None => self.get(item::head(chain)).await?,
                    };
                    let until_ms = held
                        .and_then(|it| item::get_n::<i64>(&it, UNTIL).ok())
                        .unwrap_or(now_ms);
                    Ok(Claim::Busy { until_ms })
                }
                _ => Err(sdk_err(e)),
            },
        }
    }

    /// [`crate::store::Crediting::release_chain`]: removes the claim if it is still `holder`'s.
    pub(super) async fn release(&self, chain: &str, holder: &str) -> Result<(), StoreError> {
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(item::head(chain)))
            .update_expression("REMOVE #holder, #until")
            .condition_expression("#holder = :holder")
            .expression_attribute_names("#holder", HOLDER)
            .expression_attribute_names("#until", UNTIL)
            .expression_attribute_values(":holder", s(holder));
        self.moved(update).await.map(|_| ())
    }

    pub(super) async fn transact_append(&self, batch: &CreditBatch) -> Result<(), AppendError> {
        let (items, parts) = self.batch_items(batch)?;
        if items.len() > MAX_ITEMS {
            return Err(StoreError::Refused {
                code: crate::store::reasons::REFUSED_BY_STORE,
                message: format!(
                    "a batch of {} items is over DynamoDB's {MAX_ITEMS} per transaction",
                    items.len()
                ),
            }
            .into());
        }
        let res = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        let err = match res {
            Ok(_) => return Ok(()),
            Err(e) => e,
        };
        if let Some(TransactWriteItemsError::TransactionCanceledException(c)) =
            err.as_service_error()
        {
            let reasons = c.cancellation_reasons();
            let failed =
                |i: usize| reasons.get(i).and_then(|r| r.code()) == Some("ConditionalCheckFailed");
            // Actions someone else credited first come before a moved head: drop them all.
            let gone: Vec<String> = parts
                .iter()
                .enumerate()
                .filter_map(|(i, p)| match p {
                    Part::Action(id) if failed(i) => Some(id.clone()),
                    _ => None,
                })
                .collect();
            if !gone.is_empty() {
                return Err(AppendError::NotPending(gone));
            }
            if let Some(i) = (0..parts.len()).find(|&i| failed(i)) {
                return Err(match &parts[i] {
                    Part::Account(m) => AppendError::AccountMoved(m.clone()),
                    _ => AppendError::HeadMoved(batch.expected.chain.clone()),
                });
            }
            // An item the store will not take as it is (one over 400 KB): retrying cannot help.
            if let Some(refused) = reasons
                .iter()
                .find_map(|r| super::refusal(r.code(), r.message().unwrap_or("no message")))
            {
                return Err(refused.into());
            }
            // Another transaction touched the same items at the same moment: re-plan and retry.
            if reasons
                .iter()
                .any(|r| r.code() == Some("TransactionConflict"))
            {
                return Err(AppendError::HeadMoved(batch.expected.chain.clone()));
            }
        }
        Err(sdk_err(err).into())
    }

    fn batch_items(
        &self,
        batch: &CreditBatch,
    ) -> Result<(Vec<TransactWriteItem>, Vec<Part>), StoreError> {
        let chain = batch.expected.chain.as_str();
        let mut items = Vec::new();
        let mut parts = Vec::new();

        // The head, conditioned on what the batch was planned from, with the boxes its drop-offs
        // brought added to the chain's disposition totals.
        let totals = Totals {
            collected: batch.collected_boxes(),
            ..Totals::default()
        };
        for it in self.head_items(
            &batch.expected,
            &batch.new_head(),
            &totals,
            batch.release.as_deref(),
        )? {
            items.push(it);
            parts.push(Part::Head);
        }

        // Entries, each carrying its place in its member's own sequence.
        let mut next: HashMap<&str, u64> = HashMap::new();
        for u in &batch.accounts {
            let in_batch = batch
                .stored()
                .filter(|(_, member, _)| **member == u.account.member)
                .count() as u64;
            next.insert(u.account.member.as_str(), u.account.entries - in_batch);
        }
        // Credit entries, then corrections (which credit no action).
        for (seq, member, json) in batch.stored() {
            let k = next
                .get_mut(member.as_str())
                .ok_or_else(|| StoreError::Corrupt(format!("entry {seq} has no account update")))?;
            let mut it = item::entry(chain, seq);
            it.insert("json".into(), s(String::from_utf8(json).expect("JSON")));
            it.insert(MEMBER_PK.into(), s(member.as_str()));
            it.insert(MEMBER_N.into(), n(*k));
            *k += 1;
            let put = self
                .put(it)
                .condition_expression("attribute_not_exists(pk)");
            items.push(put_item(put)?);
            parts.push(Part::Entry);
        }

        // Accounts: ledger totals, and the leaderboard key made of them; the affiliation is the
        // member's and stays as stored.
        for u in &batch.accounts {
            let a = &u.account;
            let mut up = AccountSet::new(a.member.as_str())
                .set("balance", n(a.balance))
                .set("co2e_g", n(a.co2e_g))
                .set("entries", n(a.entries))
                .set("head", s(a.head.to_string()))
                .set("days", to_av(&a.days)?)
                .set("day_items", to_av(&a.day_items)?)
                .set("open_pledges", to_av(&a.open_pledges)?)
                .set(item::BOARD_SK, s(Standing::of(a).sort_key()))
                .into_update(&self.table)
                .expression_attribute_values(":expected", s(u.expected_head.to_string()));
            up = if u.expected_head == ZERO {
                up.condition_expression("attribute_not_exists(#head) OR #head = :expected")
            } else {
                up.condition_expression("#head = :expected")
            };
            items.push(update_item(up)?);
            parts.push(Part::Account(a.member.clone()));
        }

        // Each action: credited, and out of the pending queue.
        for e in &batch.entries {
            let status = crate::store::ActionStatus::Credited {
                chain: chain.to_owned(),
                seq: e.seq,
                bonus: e.bonus,
            };
            let up = self
                .update(item::action(&e.action_key()))
                .update_expression(
                    "SET #status = :status, #state = :credited REMOVE gsi1pk, gsi1sk",
                )
                .condition_expression("#state = :pending")
                .expression_attribute_names("#status", "status")
                .expression_attribute_names("#state", "state")
                .expression_attribute_values(":status", item::json(&status))
                .expression_attribute_values(":credited", s("credited"))
                .expression_attribute_values(":pending", s("pending"));
            items.push(update_item(up)?);
            parts.push(Part::Action(e.action_key()));
        }

        // Per-day campus totals: this chain's own rows, added to.
        for d in &batch.campuses {
            let up = self
                .update(item::campus_day(&d.campus, &d.day, chain))
                .update_expression(
                    "SET #campus = :campus, #day = :day ADD #bonus :bonus, #co2e :co2e, #entries :entries",
                )
                .expression_attribute_names("#campus", "campus")
                .expression_attribute_names("#day", "day")
                .expression_attribute_names("#bonus", "bonus")
                .expression_attribute_names("#co2e", "co2e_g")
                .expression_attribute_names("#entries", "entries")
                .expression_attribute_values(":campus", s(d.campus.as_str()))
                .expression_attribute_values(":day", s(d.day.as_str()))
                .expression_attribute_values(":bonus", n(d.bonus))
                .expression_attribute_values(":co2e", n(d.co2e_g))
                .expression_attribute_values(":entries", n(d.entries));
            items.push(update_item(up)?);
            parts.push(Part::CampusDay);
        }
        // Each station's stock on this chain: the boxes its accepted drop-offs brought.
        for (station, boxes) in &batch.collected {
            let up = self
                .update(item::stock_key(station, chain))
                .update_expression("SET #station = :station, #chain = :chain ADD #collected :boxes")
                .expression_attribute_names("#station", "station")
                .expression_attribute_names("#chain", "chain")
                .expression_attribute_names("#collected", "collected")
                .expression_attribute_values(":station", s(station.as_str()))
                .expression_attribute_values(":chain", s(chain))
                .expression_attribute_values(":boxes", n(*boxes));
            items.push(update_item(up)?);
            parts.push(Part::Stock);
        }
        Ok((items, parts))
    }

    /// What moves a chain's head in an append (credit batch or disposition report): an update,
    /// not a put, so a writer's claim stays, of the size and hash, adding `totals` to the chain's
    /// disposition totals; conditioned on the head as read (no `size`: a new chain); ending the
    /// claim if `release` names its holder (and only if it still holds it: else the append fails
    /// as if the head moved). A chain's first append also puts its listing.
    pub(super) fn head_items(
        &self,
        expected: &ChainHead,
        new: &ChainHead,
        totals: &Totals,
        release: Option<&str>,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        let chain = expected.chain.as_str();
        let (head, adds) = item::add_totals(self.update(item::head(chain)), totals);
        let set = format!("SET #chain = :chain, #size = :new_size, #hash = :new_hash{adds}");
        let mut head = head
            .update_expression(match release {
                Some(_) => format!("{set} REMOVE #holder, #until"),
                None => set,
            })
            .expression_attribute_names("#chain", "chain")
            .expression_attribute_names("#size", "size")
            .expression_attribute_names("#hash", "hash")
            .expression_attribute_values(":chain", s(chain))
            .expression_attribute_values(":new_size", n(new.size))
            .expression_attribute_values(":new_hash", s(new.hash.to_string()));
        let mut condition = if expected.size == 0 {
            "attribute_not_exists(#size)".to_owned()
        } else {
            head = head
                .expression_attribute_values(":size", n(expected.size))
                .expression_attribute_values(":hash", s(expected.hash.to_string()));
            "#size = :size AND #hash = :hash".to_owned()
        };
        if let Some(holder) = release {
            condition += " AND #holder = :holder";
            head = head
                .expression_attribute_names("#holder", HOLDER)
                .expression_attribute_names("#until", UNTIL)
                .expression_attribute_values(":holder", s(holder));
        }
        let mut items = vec![update_item(head.condition_expression(condition))?];
        if expected.size == 0 {
            let listed = self
                .put(item::chain_listing(chain))
                .condition_expression("attribute_not_exists(pk)");
            items.push(put_item(listed)?);
        }
        Ok(items)
    }

    pub(super) fn put(&self, item: Item) -> aws_sdk_dynamodb::types::builders::PutBuilder {
        Put::builder().table_name(&self.table).set_item(Some(item))
    }

    pub(super) fn update(&self, key: Item) -> aws_sdk_dynamodb::types::builders::UpdateBuilder {
        Update::builder().table_name(&self.table).set_key(Some(key))
    }
}

fn to_av<T: serde::Serialize>(
    v: &T,
) -> Result<aws_sdk_dynamodb::types::AttributeValue, StoreError> {
    serde_dynamo::to_attribute_value(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

pub(super) fn put_item(
    b: aws_sdk_dynamodb::types::builders::PutBuilder,
) -> Result<TransactWriteItem, StoreError> {
    let put = b.build().map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(TransactWriteItem::builder().put(put).build())
}

pub(super) fn update_item(
    b: aws_sdk_dynamodb::types::builders::UpdateBuilder,
) -> Result<TransactWriteItem, StoreError> {
    let up = b.build().map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(TransactWriteItem::builder().update(up).build())
}

/// The codes of a cancelled transaction's reasons, in item order (`None` for an item that
/// passed), when it was cancelled because an item moved since it was read
/// (`ConditionalCheckFailed`, `TransactionConflict`): read again and retry. Any other failure is
/// the error.
pub(super) fn moved_items<R>(
    e: aws_sdk_dynamodb::error::SdkError<TransactWriteItemsError, R>,
) -> Result<Vec<Option<String>>, StoreError>
where
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let codes: Vec<Option<String>> = match e.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(c)) => c
            .cancellation_reasons()
            .iter()
            .map(|r| r.code().map(str::to_owned))
            .collect(),
        _ => return Err(sdk_err(e)),
    };
    let moved = |c: &Option<String>| {
        matches!(
            c.as_deref(),
            Some("ConditionalCheckFailed" | "TransactionConflict")
        )
    };
    if codes.iter().any(moved) {
        Ok(codes)
    } else {
        Err(sdk_err(e))
    }
}

/// The pause before try `attempt + 1` of a transaction that met a moved item: jittered, from
/// about 5 ms doubling to about 320 ms.
pub(super) async fn pause(attempt: u32) {
    let ceiling = std::time::Duration::from_millis(5u64 << attempt.min(6));
    tokio::time::sleep(ceiling.mul_f64(0.5 + rand::random::<f64>() / 2.0)).await;
}
