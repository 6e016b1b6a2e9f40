//! Which store a command works on: the embedded file in `--data` (the default), or a DynamoDB
//! table named by `--table` (endpoint and region from the standard AWS configuration, such as
//! `AWS_ENDPOINT_URL_DYNAMODB` for DynamoDB Local).

use greenloop::store::dynamodb::DynamoStore;
use greenloop::store::embedded::EmbeddedStore;
use greenloop::store::{Store, StoreError};
use std::path::Path;
use std::sync::Arc;

pub enum Backend {
    Embedded(EmbeddedStore),
    Dynamo(DynamoStore),
}

impl Backend {
    /// Opens the store; `existing` refuses to start an empty embedded ledger.
    pub async fn open(data: &Path, table: Option<&str>, existing: bool) -> Result<Self, String> {
        if let Some(table) = table {
            // Queued per chain: as many chains as the deployment's functions spread over.
            let shards = greenloop::config::shards().map_err(|e| e.to_string())?;
            let store = DynamoStore::from_env(table).await.with_shards(shards);
            return Ok(Backend::Dynamo(store));
        }
        let shards = greenloop::config::shards().map_err(|e| e.to_string())?;
        let store = if existing {
            EmbeddedStore::open_existing(data).map_err(|e| match e {
                StoreError::NotFound(_) => format!(
                    "no ledger in {} (run `greenloop demo` first, or pass --data DIR)",
                    data.display()
                ),
                other => other.to_string(),
            })?
        } else {
            EmbeddedStore::open(data).map_err(|e| e.to_string())?
        };
        // Disposition reports go on the chains crediting spreads the stations over.
        Ok(Backend::Embedded(store.with_shards(shards)))
    }

    /// The same store queueing actions over `shards` chains, for a command given its own count.
    pub fn with_shards(self, shards: u32) -> Self {
        match self {
            Backend::Dynamo(s) => Backend::Dynamo(s.with_shards(shards)),
            Backend::Embedded(s) => Backend::Embedded(s.with_shards(shards)),
        }
    }

    pub fn store(&self) -> &dyn Store {
        match self {
            Backend::Embedded(s) => s,
            Backend::Dynamo(s) => s,
        }
    }

    pub fn into_shared(self) -> Arc<dyn Store> {
        match self {
            Backend::Embedded(s) => Arc::new(s),
            Backend::Dynamo(s) => Arc::new(s),
        }
    }

    /// Bulk loading: the embedded store skips fsync until the end; DynamoDB has nothing to skip.
    pub fn set_bulk(&self, bulk: bool) -> Result<(), String> {
        match self {
            Backend::Embedded(s) => s.set_bulk(bulk).map_err(|e| e.to_string()),
            Backend::Dynamo(_) => Ok(()),
        }
    }

    /// Where the data is, for people.
    pub fn location(&self) -> String {
        match self {
            Backend::Embedded(s) => s.path().display().to_string(),
            Backend::Dynamo(s) => format!("DynamoDB table {}", s.table()),
        }
    }
}
