//! The brand team's routes (served by the `audit` function), read from the brand figures the
//! checkpoint job keeps ([`crate::checkpoint::brand`]), so they cover checkpointed entries:
//!
//! - `GET /v1/brands`: the team ranking, public, one query of a partition of about 50 items
//!   whatever the ledger holds; cacheable like the campus ranking.
//! - `GET /v1/brands/{brand}/statement`: a page of the brand's statement, with proofs, for a key
//!   granted for that brand (or an auditor's); 403 for another brand's key. Pages are joined
//!   and checked offline with `greenloop proof check` (`docs/audit.md` §7.4).

use super::audit::StatementQuery;
use super::{json, page_limit, position, ApiError};
use crate::checkpoint::brand::{statement_page, STATEMENT_PAGE};
use crate::store::{BrandStore, Grant};
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use greenloop_core::brand::fold::rank;
use greenloop_core::brand::Ranked;
use greenloop_core::domain::check_id;
use serde::Serialize;

/// This router's view of the app: its store narrowed to the roles it may use.
type App = super::App<dyn BrandStore>;

/// How long a client or CDN may reuse the team ranking: the checkpoint job moves it at most
/// every few minutes.
const RANKING_MAX_AGE_S: i64 = 60;

pub fn routes(app: &super::App) -> Router {
    Router::new()
        .route("/v1/brands", get(ranking))
        .route("/v1/brands/{brand}/statement", get(statement))
        .with_state(app.with_store::<dyn BrandStore>(app.store.clone()))
}

/// The team ranking: partner brands, most boxes returned first.
#[derive(Serialize)]
struct TeamView {
    brands: Vec<Ranked>,
}

async fn ranking(State(app): State<App>, headers: HeaderMap) -> Result<Response, ApiError> {
    let brands = rank(app.store.brand_standings().await?);
    super::public_json(&headers, &TeamView { brands }, RANKING_MAX_AGE_S)
}

/// A page of a brand's statement: its figures, its rows (first page), and entries before its
/// own entry number `before`, newest first, each with its inclusion proof.
async fn statement(
    State(app): State<App>,
    brand: Result<Path<String>, PathRejection>,
    q: Result<Query<StatementQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Path(brand) = brand?;
    match app.grant(&headers).await? {
        Grant::Auditor => {}
        Grant::Brand { brand: mine } if mine == brand => {}
        _ => {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!("this key is not granted for brand {brand}"),
            ))
        }
    }
    check_id("brand", &brand)?;
    let Query(q) = q?;
    position("before", q.before)?;
    let limit = page_limit(q.limit, STATEMENT_PAGE, STATEMENT_PAGE)?;
    let page = statement_page(app.store.as_ref(), &brand, q.before, limit).await?;
    Ok(json(StatusCode::OK, &page))
}
