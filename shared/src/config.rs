//! Configuration from the environment, shared by the Lambda functions and `greenloop serve`.
//!
//! | variable | meaning |
//! |---|---|
//! | `GREENLOOP_PEPPER` | secret key of member pseudonyms, at least 16 bytes (required) |
//! | `GREENLOOP_WEBHOOK_SECRETS` | `key-id=secret[,secret][;key-id=...]`, for intake |
//! | `GREENLOOP_TABLE` | DynamoDB table; when set, the store is DynamoDB (endpoint and region from the standard AWS configuration, e.g. `AWS_ENDPOINT_URL_DYNAMODB`) |
//! | `GREENLOOP_DATA` | otherwise, data directory of the embedded store (default `greenloop-data`) |
//! | `GREENLOOP_SHARDS` | number of ledger chains crediting spreads over (default 4) |
//!
//! Secrets are read here and nowhere else; they are never logged.

use crate::catalog::Rules;
use crate::domain::Pepper;
use crate::http::{App, Integrations};
use crate::store::dynamodb::DynamoStore;
use crate::store::embedded::EmbeddedStore;
use crate::store::Store;
use std::path::PathBuf;
use std::sync::Arc;

/// Chains crediting spreads over unless configured.
pub const DEFAULT_SHARDS: u32 = 4;

/// A configuration problem, said in one line.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

pub fn pepper() -> Result<Pepper, ConfigError> {
    let p =
        var("GREENLOOP_PEPPER").ok_or_else(|| ConfigError("GREENLOOP_PEPPER is not set".into()))?;
    Pepper::new(p.into_bytes()).map_err(|e| ConfigError(format!("GREENLOOP_PEPPER: {e}")))
}

pub fn integrations() -> Result<Integrations, ConfigError> {
    Integrations::parse(&var("GREENLOOP_WEBHOOK_SECRETS").unwrap_or_default())
        .map_err(|e| ConfigError(format!("GREENLOOP_WEBHOOK_SECRETS: {e}")))
}

pub fn shards() -> Result<u32, ConfigError> {
    match var("GREENLOOP_SHARDS") {
        None => Ok(DEFAULT_SHARDS),
        Some(s) => s
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=100).contains(n))
            .ok_or_else(|| ConfigError("GREENLOOP_SHARDS must be 1 to 100".into())),
    }
}

pub fn data_dir() -> PathBuf {
    var("GREENLOOP_DATA").map_or_else(|| PathBuf::from("greenloop-data"), PathBuf::from)
}

/// The DynamoDB table the environment names, if any.
pub fn table() -> Option<String> {
    var("GREENLOOP_TABLE")
}

/// The store the environment names: DynamoDB when `GREENLOOP_TABLE` is set, else embedded.
pub async fn store() -> Result<Arc<dyn Store>, ConfigError> {
    if let Some(table) = table() {
        return Ok(Arc::new(DynamoStore::from_env(table).await));
    }
    let store = EmbeddedStore::open(&data_dir()).map_err(|e| ConfigError(e.to_string()))?;
    Ok(Arc::new(store))
}

/// Everything an HTTP function needs, from the environment.
pub async fn app() -> Result<App, ConfigError> {
    Ok(App::new(
        store().await?,
        pepper()?,
        integrations()?,
        Rules::defaults(),
    ))
}

/// JSON logs, one object per line, as Lambda's JSON log format expects; the level comes from
/// `RUST_LOG`, else Lambda's `AWS_LAMBDA_LOG_LEVEL`, else `info`. Spans' fields (request id,
/// route, action id) are on every line.
pub fn init_json_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        let level = var("AWS_LAMBDA_LOG_LEVEL").unwrap_or_else(|| "info".into());
        tracing_subscriber::EnvFilter::try_new(level.to_lowercase())
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"))
    });
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_span_list(false)
        .without_time()
        .with_target(false)
        .init();
}
