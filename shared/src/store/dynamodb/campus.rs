//! What a campus reads and sets on DynamoDB: per-day totals, leaderboards, the public ranking,
//! and affiliations.
//!
//! A leaderboard is one query of the `leaders` index, whose sort key is the member's standing
//! (`board_sk`, CO2e descending then member), from just after the last row of the previous
//! page. Ties cost nothing: 20,000 members at 0 are one ordered read like any other.

use super::item::{self, get_json, n, read_account, s, AccountSet};
use super::{sdk_err, DynamoStore};
use crate::store::{
    Account, Affiliated, Affiliation, CampusDay, CampusQueries, Consent, PublicRanking, Result,
    StoreError,
};
use async_trait::async_trait;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, TransactWriteItem};
use greenloop_core::domain::MemberId;
use greenloop_core::ledger::ZERO;
use greenloop_core::ranking::{BoardRow, Ranking, Standing};
use std::collections::HashMap;

/// Reads of an account an affiliation retries when crediting moves it in between.
const AFFILIATE_TRIES: usize = 8;

#[async_trait]
impl CampusQueries for DynamoStore {
    async fn campus_days(&self, campus: &str) -> Result<Vec<CampusDay>> {
        let q = self
            .partition_query(format!("CAMPUS#{campus}"))
            .key_condition_expression("pk = :pk AND begins_with(sk, :day)")
            .expression_attribute_values(":day", s("DAY#"));
        // One row per (day, chain): summed per day, in day order.
        let mut days: std::collections::BTreeMap<String, CampusDay> = Default::default();
        for it in self.query(q, None).await? {
            let row: CampusDay = item::from_item(it, "campus day")?;
            (days.entry(row.day.clone()))
                .or_insert_with(|| CampusDay::empty(&row.campus, &row.day))
                .add(&row);
        }
        Ok(days.into_values().collect())
    }

    async fn leaderboard(
        &self,
        campus: &str,
        after: Option<&Standing>,
        limit: usize,
    ) -> Result<Vec<BoardRow>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let after = after.map(Standing::sort_key);
        let q = self.index_query_after(
            item::BOARD,
            (item::BOARD_PK, item::BOARD_SK),
            item::board(campus),
            after.as_deref(),
        );
        // The index holds the board's columns ([`item::BOARD_COLUMNS`]) and its keys.
        self.query(q, Some(limit))
            .await?
            .into_iter()
            .map(|it| item::from_item(it, "leaderboard row"))
            .collect()
    }
}

#[async_trait]
impl PublicRanking for DynamoStore {
    async fn ranking(&self) -> Result<Option<Ranking>> {
        self.get(item::ranking())
            .await?
            .map(|it| get_json(&it, "doc"))
            .transpose()
    }
}

impl DynamoStore {
    /// [`crate::store::Crediting::put_ranking`]: a put conditioned on the stored one being no
    /// newer.
    pub(super) async fn keep_ranking(&self, ranking: &Ranking) -> Result<bool> {
        let mut it = item::ranking();
        it.insert("as_of".into(), n(ranking.as_of));
        it.insert("doc".into(), item::json(ranking));
        let res = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(it))
            .condition_expression("attribute_not_exists(pk) OR as_of <= :as_of")
            .expression_attribute_values(":as_of", n(ranking.as_of))
            .send()
            .await;
        match res {
            Ok(_) => Ok(true),
            Err(e) if super::is_condition_failed(&e) => Ok(false),
            Err(e) => Err(sdk_err(e)),
        }
    }
}

#[async_trait]
impl Affiliation for DynamoStore {
    /// Reads the account, decides, then writes conditioned on the account being as read (its
    /// campus and CO2e, which the board key is made of), in one transaction with a check that
    /// the campus exists. Crediting in between fails the condition, and the read is repeated.
    async fn affiliate(
        &self,
        member: &MemberId,
        campus: &str,
        consent: Consent,
    ) -> Result<Affiliated> {
        for _ in 0..AFFILIATE_TRIES {
            let seen = self.get(item::account(member.as_str())).await?;
            let account = seen.map(read_account).transpose()?;
            let was = account.as_ref().and_then(|a| a.campus.clone());
            let done = consent.decide(was.clone(), campus);
            if matches!(done, Affiliated::Unchanged | Affiliated::Elsewhere) {
                return Ok(done);
            }
            let current = account
                .clone()
                .unwrap_or_else(|| Account::new(member.clone()));
            let mut set = AccountSet::new(member.as_str())
                .set("campus", s(campus))
                .set(item::BOARD_PK, s(item::board(campus)))
                .set(item::BOARD_SK, s(Standing::of(&current).sort_key()));
            if account.is_none() {
                // A fresh account gets its zero totals here, so it reads back whole.
                set = set
                    .init("balance", n(0))
                    .init("co2e_g", n(0))
                    .init("entries", n(0))
                    .init("head", s(ZERO.to_string()))
                    .init("days", AttributeValue::M(HashMap::new()));
            }
            // The account as read: absent, or its campus and CO2e unchanged.
            let seen = "#seen = :seen";
            let update = set.into_update(&self.table);
            let update = match (&account, &was) {
                (None, _) => update.condition_expression("attribute_not_exists(pk)"),
                (Some(_), None) => update
                    .condition_expression(format!(
                        "(attribute_not_exists(#campus) OR attribute_type(#campus, :null)) AND {seen}"
                    ))
                    .expression_attribute_values(":null", s("NULL")),
                (Some(_), Some(w)) => update
                    .condition_expression(format!("#campus = :was AND {seen}"))
                    .expression_attribute_values(":was", s(w.as_str())),
            };
            let update = match account {
                Some(_) => update
                    .expression_attribute_names("#seen", "co2e_g")
                    .expression_attribute_values(":seen", n(current.co2e_g)),
                None => update,
            }
            .build()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            let check = ConditionCheck::builder()
                .table_name(&self.table)
                .set_key(Some(item::campus(campus)))
                .condition_expression("attribute_exists(pk)")
                .build()
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            let res = self
                .client
                .transact_write_items()
                .transact_items(TransactWriteItem::builder().condition_check(check).build())
                .transact_items(TransactWriteItem::builder().update(update).build())
                .send()
                .await;
            let Err(e) = res else { return Ok(done) };
            let failed: Vec<bool> = match e.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(c)) => c
                    .cancellation_reasons()
                    .iter()
                    .map(|r| r.code() == Some("ConditionalCheckFailed"))
                    .collect(),
                _ => return Err(sdk_err(e)),
            };
            match failed.as_slice() {
                [true, ..] => return Err(StoreError::NotFound(format!("campus {campus}"))),
                [_, true] => continue, // the account moved since it was read
                _ => return Err(sdk_err(e)),
            }
        }
        Err(StoreError::Unavailable(format!(
            "member {}'s account changed under {AFFILIATE_TRIES} affiliation attempts",
            member.as_str()
        )))
    }
}
