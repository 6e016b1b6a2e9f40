//! Creating the table: keys, the indexes, the stream and the time to live of
//! `docs/table-design.md`.

use super::item;
use super::{sdk_err, DynamoStore};
use crate::store::{Result, StoreError};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType,
    TimeToLiveSpecification,
};

impl DynamoStore {
    /// Creates the table with its indexes and stream, and waits until it is active. A deployed
    /// template must declare the same keys and indexes.
    pub async fn create_table(&self) -> Result<()> {
        let attr = |name: &str, t: ScalarAttributeType| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(t)
                .build()
                .expect("complete")
        };
        let key = |name: &str, t: KeyType| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(t)
                .build()
                .expect("complete")
        };
        let index = |name: &str, pk: &str, sk: &str, projection: Projection| {
            GlobalSecondaryIndex::builder()
                .index_name(name)
                .key_schema(key(pk, KeyType::Hash))
                .key_schema(key(sk, KeyType::Range))
                .projection(projection)
                .build()
                .expect("complete")
        };
        let all = Projection::builder()
            .projection_type(ProjectionType::All)
            .build();
        let json_only = Projection::builder()
            .projection_type(ProjectionType::Include)
            .non_key_attributes("json")
            .build();
        let board_columns = Projection::builder()
            .projection_type(ProjectionType::Include)
            .set_non_key_attributes(Some(item::BOARD_COLUMNS.map(String::from).to_vec()))
            .build();
        let keys_only = Projection::builder()
            .projection_type(ProjectionType::KeysOnly)
            .build();
        use ScalarAttributeType::{N, S};
        self.client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attr(item::PK, S))
            .attribute_definitions(attr(item::SK, S))
            .attribute_definitions(attr(item::GSI1PK, S))
            .attribute_definitions(attr(item::GSI1SK, S))
            .attribute_definitions(attr(item::BOARD_PK, S))
            .attribute_definitions(attr(item::BOARD_SK, S))
            .attribute_definitions(attr(item::MEMBER_PK, S))
            .attribute_definitions(attr(item::MEMBER_N, N))
            .attribute_definitions(attr(item::ACCOUNTS_PK, S))
            .attribute_definitions(attr(item::ACCOUNTS_SK, S))
            .key_schema(key(item::PK, KeyType::Hash))
            .key_schema(key(item::SK, KeyType::Range))
            .global_secondary_indexes(index(item::GSI1, item::GSI1PK, item::GSI1SK, all))
            .global_secondary_indexes(index(
                item::BOARD,
                item::BOARD_PK,
                item::BOARD_SK,
                board_columns,
            ))
            .global_secondary_indexes(index(
                item::ACCOUNTS,
                item::ACCOUNTS_PK,
                item::ACCOUNTS_SK,
                keys_only,
            ))
            .global_secondary_indexes(index(
                item::MEMBER,
                item::MEMBER_PK,
                item::MEMBER_N,
                json_only,
            ))
            .stream_specification(
                StreamSpecification::builder()
                    .stream_enabled(true)
                    .stream_view_type(StreamViewType::NewImage)
                    .build()
                    .expect("complete"),
            )
            .send()
            .await
            .map_err(sdk_err)?;
        for _ in 0..600 {
            let t = self
                .client
                .describe_table()
                .table_name(&self.table)
                .send()
                .await
                .map_err(sdk_err)?;
            let active =
                t.table().and_then(|t| t.table_status()).map(|s| s.as_str()) == Some("ACTIVE");
            if active {
                return self.expire_receipts().await;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        Err(StoreError::Unavailable(format!(
            "table {} never became active",
            self.table
        )))
    }

    /// Turns on the table's time to live on [`item::DROP_AFTER`], which only erasure receipts
    /// carry (the template's `TimeToLiveSpecification`).
    async fn expire_receipts(&self) -> Result<()> {
        self.client
            .update_time_to_live()
            .table_name(&self.table)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .attribute_name(item::DROP_AFTER)
                    .enabled(true)
                    .build()
                    .expect("complete"),
            )
            .send()
            .await
            .map_err(sdk_err)?;
        Ok(())
    }
}
