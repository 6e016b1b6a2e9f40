//! The registry on DynamoDB: campuses, stations and API key grants, read by every function and
//! written by the operator, and a member's affiliation, the portal's one write.

use super::item::{from_item, get_json, n, s, to_item, AccountSet};
use super::{item, sdk_err, DynamoStore};
use crate::store::{Affiliation, Directory, Grant, Registry, Result, StoreError};
use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use greenloop_core::domain::{Campus, MemberId, Station};
use greenloop_core::ledger::{Digest, ZERO};
use std::collections::HashMap;

#[async_trait]
impl Directory for DynamoStore {
    async fn campuses(&self) -> Result<Vec<Campus>> {
        let q = self.index_query(item::GSI1, item::GSI1PK, "CAMPUSES".into());
        self.query(q, None)
            .await?
            .into_iter()
            .map(|it| from_item(it, "campus"))
            .collect()
    }

    async fn station(&self, id: &str) -> Result<Option<Station>> {
        self.get(item::station(id))
            .await?
            .map(|it| from_item(it, "station"))
            .transpose()
    }

    async fn api_key(&self, key_hash: &Digest) -> Result<Option<Grant>> {
        self.get(item::api_key(&key_hash.to_string()))
            .await?
            .map(|it| get_json(&it, "grant"))
            .transpose()
    }
}

#[async_trait]
impl Registry for DynamoStore {
    async fn put_campus(&self, campus: &Campus) -> Result<()> {
        greenloop_core::domain::check_id("campus", &campus.id)?;
        let mut keys = item::campus(&campus.id);
        keys.insert(item::GSI1PK.into(), s("CAMPUSES"));
        keys.insert(item::GSI1SK.into(), s(campus.id.as_str()));
        self.put_plain(to_item(campus, keys)).await
    }

    async fn put_station(&self, station: &Station) -> Result<()> {
        station.validate()?;
        self.put_plain(to_item(station, item::station(&station.id)))
            .await
    }

    async fn put_api_key(&self, key_hash: &Digest, grant: &Grant) -> Result<()> {
        if let Grant::Campus { campus } = grant {
            if self.get(item::campus(campus)).await?.is_none() {
                return Err(StoreError::NotFound(format!("campus {campus}")));
            }
        }
        let mut it = item::api_key(&key_hash.to_string());
        it.insert("grant".into(), item::json(grant));
        self.put_plain(it).await
    }
}

#[async_trait]
impl Affiliation for DynamoStore {
    async fn affiliate(&self, member: &MemberId, campus: &str) -> Result<()> {
        use aws_sdk_dynamodb::types::{ConditionCheck, TransactWriteItem};
        let check = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(item::campus(campus)))
            .condition_expression("attribute_exists(pk)")
            .build()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        // A fresh account gets its zero totals here, so it reads back whole.
        let update = AccountSet::new(member.as_str())
            .set("campus", s(campus))
            .set(item::BOARD_PK, s(item::board(campus)))
            .init("balance", n(0))
            .init("co2e_g", n(0))
            .init("entries", n(0))
            .init("head", s(ZERO.to_string()))
            .init("days", AttributeValue::M(HashMap::new()))
            .into_update(&self.table)
            .build()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let res = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().condition_check(check).build())
            .transact_items(TransactWriteItem::builder().update(update).build())
            .send()
            .await;
        match res {
            Ok(_) => Ok(()),
            Err(e) => {
                use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
                let campus_missing = match e.as_service_error() {
                    Some(TransactWriteItemsError::TransactionCanceledException(c)) => {
                        c.cancellation_reasons().first().and_then(|r| r.code())
                            == Some("ConditionalCheckFailed")
                    }
                    _ => false,
                };
                if campus_missing {
                    Err(StoreError::NotFound(format!("campus {campus}")))
                } else {
                    Err(sdk_err(e))
                }
            }
        }
    }
}
