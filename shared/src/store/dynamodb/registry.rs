//! The registry on DynamoDB: campuses, stations and API key records, read by every function and
//! written by the operator.

use super::item::{from_item, n, s, to_item};
use super::{is_condition_failed, item, sdk_err, DynamoStore};
use crate::store::{key_exists, ApiKey, Campuses, Directory, Grant, Registry, Result, StoreError};
use async_trait::async_trait;
use aws_sdk_dynamodb::types::ReturnValue;
use greenloop_core::domain::{Campus, Station};

#[async_trait]
impl Campuses for DynamoStore {
    async fn campuses(&self) -> Result<Vec<Campus>> {
        let q = self.index_query(item::GSI1, item::GSI1PK, "CAMPUSES".into());
        self.query(q, None)
            .await?
            .into_iter()
            .map(|it| from_item(it, "campus"))
            .collect()
    }
}

#[async_trait]
impl Directory for DynamoStore {
    async fn station(&self, id: &str) -> Result<Option<Station>> {
        self.get(item::station(id))
            .await?
            .map(|it| from_item(it, "station"))
            .transpose()
    }

    async fn api_key(&self, id: &str) -> Result<Option<ApiKey>> {
        self.get(item::api_key(id))
            .await?
            .map(|it| from_item(it, "API key"))
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

    async fn put_api_key(&self, key: &ApiKey) -> Result<()> {
        key.validate()?;
        if let Grant::Campus { campus } = &key.grant {
            if self.get(item::campus(campus)).await?.is_none() {
                return Err(StoreError::NotFound(format!("campus {campus}")));
            }
        }
        let mut keys = item::api_key(&key.id);
        keys.insert(item::GSI1PK.into(), s(item::KEYS_PARTITION));
        keys.insert(item::GSI1SK.into(), s(key.id.as_str()));
        if self.put_new(to_item(key, keys)).await? {
            Ok(())
        } else {
            Err(key_exists(&key.id))
        }
    }

    async fn revoke_api_key(&self, id: &str, at: i64) -> Result<ApiKey> {
        // One conditional update: it sets the time only where there is none, so two operators
        // revoking at once agree on the first, and it answers the record as it now is.
        let res = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(item::api_key(id)))
            .condition_expression("attribute_exists(pk)")
            .update_expression("SET revoked_at = if_not_exists(revoked_at, :at)")
            .expression_attribute_values(":at", n(at))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match res {
            Ok(out) => from_item(out.attributes.unwrap_or_default(), "API key"),
            Err(e) if is_condition_failed(&e) => Err(StoreError::NotFound(format!("API key {id}"))),
            Err(e) => Err(sdk_err(e)),
        }
    }

    async fn api_keys(&self) -> Result<Vec<ApiKey>> {
        let q = self.index_query(item::GSI1, item::GSI1PK, item::KEYS_PARTITION.into());
        self.query(q, None)
            .await?
            .into_iter()
            .map(|it| from_item(it, "API key"))
            .collect()
    }
}
