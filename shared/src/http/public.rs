//! What anyone may read without a key (served by the `audit` function), each at a bounded cost:
//!
//! - `GET /v1/log`: the log's public key and the latest signed checkpoint of every chain, one
//!   stored item the checkpoint job keeps. Checkpoints hold only hashes, sizes and times, so
//!   publishing them reveals nothing of any member; they let every visitor of the public page
//!   witness the log (`docs/audit.md` §8).
//! - `GET /v1/log/chains/{chain}/consistency`: that a later checkpoint extends an earlier one,
//!   O(log n) tree nodes read in one batch. A proof between two given sizes never changes, so it
//!   is cacheable for a day.
//! - `GET /v1/packaging`: the nation's packaging figures (boxes collected, reused, baled, the
//!   reuse rate, workbooks, schools), one index query and one batch read of the chain heads.

use super::{position, ApiError};
use crate::checkpoint::tree;
use crate::store::PublicStore;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use greenloop_core::checkpoint::SignedCheckpoint;
use greenloop_core::disposition::Totals;
use greenloop_core::domain::check_id;
use serde::{Deserialize, Serialize};

/// This router's view of the app: its store narrowed to the roles it may use.
type App = super::App<dyn PublicStore>;

/// How long a client may reuse the log's latest checkpoints: the job signs every 5 minutes.
const LOG_MAX_AGE_S: i64 = 30;
/// How long a client may reuse the packaging figures: reports arrive a few a day per station.
const PACKAGING_MAX_AGE_S: i64 = 60;

pub fn routes(app: &super::App) -> Router {
    Router::new()
        .route("/v1/log", get(log))
        .route("/v1/log/chains/{chain}/consistency", get(consistency))
        .route("/v1/packaging", get(packaging))
        .with_state(app.with_store::<dyn PublicStore>(app.store.clone()))
}

/// The public log: the key to pin, if this deployment publishes it, and each chain's latest
/// signed checkpoint in chain order.
#[derive(Serialize, Deserialize)]
pub struct Log {
    pub public_key: Option<String>,
    pub checkpoints: Vec<SignedCheckpoint>,
}

async fn log(State(app): State<App>, headers: HeaderMap) -> Result<Response, ApiError> {
    let body = Log {
        public_key: app.site.log_key.map(|k| k.to_hex()),
        checkpoints: app.store.log_checkpoints().await?,
    };
    super::public_json(&headers, &body, LOG_MAX_AGE_S)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConsistencyQuery {
    first: u64,
    second: Option<u64>,
}

/// Seconds a proof between two given sizes may be cached: it is fixed by the two trees.
const FIXED_PROOF_MAX_AGE_S: u32 = 86_400;

async fn consistency(
    State(app): State<App>,
    chain: Result<Path<String>, PathRejection>,
    q: Result<Query<ConsistencyQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Path(chain) = chain?;
    check_id("chain", &chain)?;
    let Query(q) = q?;
    position("first", Some(q.first))?;
    position("second", q.second)?;
    let proof = tree::consistency(app.store.as_ref(), &chain, q.first, q.second).await?;
    let cache = match q.second {
        Some(_) => format!("public, max-age={FIXED_PROOF_MAX_AGE_S}, immutable"),
        None => "no-cache".to_owned(),
    };
    Ok((
        StatusCode::OK,
        [(header::CACHE_CONTROL, cache)],
        Json(proof),
    )
        .into_response())
}

/// The packaging figures summed over every chain.
#[derive(Serialize, Deserialize)]
pub struct Packaging {
    pub totals: Totals,
    /// Boxes collected and not yet reused or baled.
    pub stock: u64,
    /// Outgoing parcels in recycled boxes, in basis points; absent before any was reported.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reuse_rate_bp: Option<u64>,
}

impl Packaging {
    /// `totals` summed, with what follows from the sum.
    pub fn of<'a>(totals: impl IntoIterator<Item = &'a Totals>) -> Self {
        let mut sum = Totals::default();
        totals.into_iter().for_each(|t| sum.add(t));
        Packaging {
            stock: sum.stock(),
            reuse_rate_bp: sum.reuse_rate_bp(),
            totals: sum,
        }
    }
}

async fn packaging(State(app): State<App>, headers: HeaderMap) -> Result<Response, ApiError> {
    let chains = app.store.disposition_totals().await?;
    let body = Packaging::of(chains.iter().map(|(_, t)| t));
    super::public_json(&headers, &body, PACKAGING_MAX_AGE_S)
}
