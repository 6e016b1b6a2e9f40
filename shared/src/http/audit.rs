//! Audit queries (the `audit` function): everything an auditor needs to verify a deployment
//! from outside, with an auditor key.
//!
//! Entries are served exactly as stored, byte for byte, so the auditor re-hashes what the store
//! holds. `greenloop verify --url` reads these routes through the same [`LedgerSource`] the
//! local verifier reads a store through.
//!
//! Checkpoints and proofs ([`crate::checkpoint::tree`]) are served for `greenloop` to check
//! with [`greenloop_core::proof`]; a proof is only given up to the chain's latest checkpoint.
//!
//! [`LedgerSource`]: crate::store::LedgerSource

use super::public::Packaging;
use super::{json, page_limit, position, raw, ApiError};
use crate::checkpoint::tree::{self, TreeError, STATEMENT_PAGE};
use crate::store::{AuditStore, ChainHead, Grant};
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use greenloop_core::checkpoint::SignedCheckpoint;
use greenloop_core::disposition::{StationStock, Totals};
use greenloop_core::domain::{check_id, MemberId};
use greenloop_core::factors::FactorTable;
use greenloop_core::rulebook::Rulebook;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// This function's view of the app: its store narrowed to the roles it may use.
type App = super::App<dyn AuditStore>;

/// Most entries, accounts or checkpoints in one page. A member statement's page is smaller
/// ([`STATEMENT_PAGE`]): each entry comes with its proof. Heads and campus totals are not paged:
/// there is one per chain and one per campus, both fixed by the operator.
pub const MAX_PAGE: usize = 1_000;

pub fn routes(app: &super::App) -> Router {
    Router::new()
        .route("/v1/audit/heads", get(heads))
        .route("/v1/audit/chains/{chain}/entries", get(entries))
        .route("/v1/audit/accounts", get(accounts))
        .route("/v1/audit/campus-totals", get(campus_totals))
        .route("/v1/audit/backlog", get(backlog))
        .route("/v1/audit/rules", get(rules))
        .route("/v1/audit/chains/{chain}/checkpoints", get(checkpoints))
        .route("/v1/audit/chains/{chain}/checkpoint", get(checkpoint))
        .route("/v1/audit/chains/{chain}/inclusion", get(inclusion))
        .route("/v1/audit/chains/{chain}/consistency", get(consistency))
        .route("/v1/audit/members/{member}/statement", get(statement))
        .route("/v1/audit/disposition", get(disposition))
        .route(
            "/v1/audit/disposition/stations/{station}",
            get(station_disposition),
        )
        .with_state(app.with_store::<dyn AuditStore>(app.store.clone()))
}

/// Disposition figures summed over every chain, with each chain's.
#[derive(Serialize, Deserialize)]
pub struct Disposition {
    pub totals: Totals,
    /// Boxes collected and not yet reused or baled.
    pub stock: u64,
    /// Outgoing parcels in recycled boxes, in basis points; absent before any was reported.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reuse_rate_bp: Option<u64>,
    pub chains: Vec<ChainTotals>,
}

#[derive(Serialize, Deserialize)]
pub struct ChainTotals {
    pub chain: String,
    pub totals: Totals,
}

impl Disposition {
    pub fn of(chains: Vec<(String, Totals)>) -> Self {
        let Packaging {
            totals,
            stock,
            reuse_rate_bp,
        } = Packaging::of(chains.iter().map(|(_, t)| t));
        Disposition {
            stock,
            reuse_rate_bp,
            totals,
            chains: chains
                .into_iter()
                .map(|(chain, totals)| ChainTotals { chain, totals })
                .collect(),
        }
    }
}

/// One station's boxes: summed over its chains, and per chain.
#[derive(Serialize, Deserialize)]
pub struct StationDisposition {
    pub station: String,
    pub collected: u64,
    pub reused: u64,
    pub baled_boxes: u64,
    pub baled_g: u64,
    pub stock: u64,
    pub parcels: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reuse_rate_bp: Option<u64>,
    pub chains: Vec<StationStock>,
}

impl StationDisposition {
    pub fn of(station: String, chains: Vec<StationStock>) -> Self {
        let mut t = Totals::default();
        chains.iter().for_each(|c| t.add(&c.totals()));
        StationDisposition {
            station,
            collected: t.collected,
            reused: t.reused,
            baled_boxes: t.baled_boxes,
            baled_g: t.baled_g,
            stock: t.stock(),
            parcels: t.parcels,
            reuse_rate_bp: t.reuse_rate_bp(),
            chains,
        }
    }
}

/// Published rulebook and factor versions.
#[derive(Serialize, Deserialize)]
pub struct RulesPage {
    pub rulebooks: Vec<Rulebook>,
    pub factors: Vec<FactorTable>,
}

/// A page of a chain's entries; `next` is the seq to ask for next, absent at the end.
#[derive(Serialize, Deserialize)]
pub struct EntriesPage {
    pub chain: String,
    pub entries: Vec<Box<RawValue>>,
    pub next: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EntriesQuery {
    from: Option<u64>,
    limit: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AccountsQuery {
    after: Option<String>,
    limit: Option<usize>,
}

async fn heads(State(app): State<App>, headers: HeaderMap) -> Result<Response, ApiError> {
    auditor(&app, &headers).await?;
    let mut heads: Vec<ChainHead> = app.store.chain_heads().await?;
    heads.sort_by(|a, b| a.chain.cmp(&b.chain));
    Ok(json(StatusCode::OK, &heads))
}

async fn entries(
    State(app): State<App>,
    chain: Result<Path<String>, PathRejection>,
    q: Result<Query<EntriesQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Path(chain) = chain?;
    auditor(&app, &headers).await?;
    let Query(q) = q?;
    check_id("chain", &chain)?;
    position("from", q.from)?;
    let from = q.from.unwrap_or(0);
    let limit = page_limit(q.limit, MAX_PAGE, MAX_PAGE)?;
    let stored = app.store.entries(&chain, from, limit).await?;
    let next = (stored.len() == limit).then_some(from + limit as u64);
    let entries = stored.into_iter().map(raw).collect::<Result<_, _>>()?;
    Ok(json(
        StatusCode::OK,
        &EntriesPage {
            chain,
            entries,
            next,
        },
    ))
}

async fn accounts(
    State(app): State<App>,
    q: Result<Query<AccountsQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    auditor(&app, &headers).await?;
    let Query(q) = q?;
    let after = q.after.as_deref().map(MemberId::parse).transpose()?;
    let limit = page_limit(q.limit, MAX_PAGE, MAX_PAGE)?;
    let page = app.store.account_page(after.as_ref(), limit).await?;
    Ok(json(StatusCode::OK, &page))
}

async fn campus_totals(State(app): State<App>, headers: HeaderMap) -> Result<Response, ApiError> {
    auditor(&app, &headers).await?;
    Ok(json(StatusCode::OK, &app.store.campus_totals().await?))
}

/// The nation's disposition figures, and each chain's: one read per chain.
async fn disposition(State(app): State<App>, headers: HeaderMap) -> Result<Response, ApiError> {
    auditor(&app, &headers).await?;
    let chains = app.store.disposition_totals().await?;
    Ok(json(StatusCode::OK, &Disposition::of(chains)))
}

/// One station's disposition figures: one query.
async fn station_disposition(
    State(app): State<App>,
    station: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    auditor(&app, &headers).await?;
    let Path(station) = station?;
    check_id("station", &station)?;
    let rows = app.store.station_stock(&station).await?;
    if rows.is_empty() && app.store.station(&station).await?.is_none() {
        return Err(ApiError::not_found(format!("station {station}")));
    }
    Ok(json(StatusCode::OK, &StationDisposition::of(station, rows)))
}

/// What waits to be credited and what is quarantined: a ledger that verifies while crediting
/// is stuck must not look healthy.
async fn backlog(State(app): State<App>, headers: HeaderMap) -> Result<Response, ApiError> {
    auditor(&app, &headers).await?;
    let backlog = app.store.backlog().await?.unwrap_or_default();
    Ok(json(StatusCode::OK, &backlog))
}

async fn rules(State(app): State<App>, headers: HeaderMap) -> Result<Response, ApiError> {
    auditor(&app, &headers).await?;
    let catalog = app.store.catalog().await?;
    Ok(json(
        StatusCode::OK,
        &RulesPage {
            rulebooks: catalog.rulebooks().cloned().collect(),
            factors: catalog.factor_tables().cloned().collect(),
        },
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SizeQuery {
    size: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InclusionQuery {
    seq: u64,
    size: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConsistencyQuery {
    first: u64,
    second: Option<u64>,
}

/// A page of a chain's checkpoints; `next` is the `after` to ask for next, absent at the end.
#[derive(Serialize, Deserialize)]
pub struct CheckpointsPage {
    pub chain: String,
    pub checkpoints: Vec<SignedCheckpoint>,
    pub next: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckpointsQuery {
    after: Option<u64>,
    limit: Option<usize>,
}

/// A chain's checkpoints above size `after`, smallest first: one grows by one every few minutes
/// all campaign, so they are paged like entries.
async fn checkpoints(
    State(app): State<App>,
    chain: Result<Path<String>, PathRejection>,
    q: Result<Query<CheckpointsQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let chain = audited_chain(&app, &headers, chain).await?;
    let Query(q) = q?;
    position("after", q.after)?;
    let limit = page_limit(q.limit, MAX_PAGE, MAX_PAGE)?;
    // One more than the page says whether there is a next one.
    let mut checkpoints = app
        .store
        .checkpoint_page(&chain, q.after, limit + 1)
        .await?;
    let next = (checkpoints.len() > limit).then(|| checkpoints[limit - 1].checkpoint.size);
    checkpoints.truncate(limit);
    Ok(json(
        StatusCode::OK,
        &CheckpointsPage {
            chain,
            checkpoints,
            next,
        },
    ))
}

/// The chain's latest checkpoint, or the one at `size`.
async fn checkpoint(
    State(app): State<App>,
    chain: Result<Path<String>, PathRejection>,
    q: Result<Query<SizeQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let chain = audited_chain(&app, &headers, chain).await?;
    let Query(q) = q?;
    position("size", q.size)?;
    match app.store.checkpoint(&chain, q.size).await? {
        Some(c) => Ok(json(StatusCode::OK, &c)),
        None => Err(ApiError::not_found(match q.size {
            Some(size) => format!("checkpoint of chain {chain} at size {size}"),
            None => format!("checkpoint of chain {chain}"),
        })),
    }
}

async fn inclusion(
    State(app): State<App>,
    chain: Result<Path<String>, PathRejection>,
    q: Result<Query<InclusionQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let chain = audited_chain(&app, &headers, chain).await?;
    let Query(q) = q?;
    position("seq", Some(q.seq))?;
    position("size", q.size)?;
    let proof = tree::inclusion(app.store.as_ref(), &chain, q.seq, q.size).await?;
    Ok(json(StatusCode::OK, &proof))
}

async fn consistency(
    State(app): State<App>,
    chain: Result<Path<String>, PathRejection>,
    q: Result<Query<ConsistencyQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let chain = audited_chain(&app, &headers, chain).await?;
    let Query(q) = q?;
    position("first", Some(q.first))?;
    position("second", q.second)?;
    let proof = tree::consistency(app.store.as_ref(), &chain, q.first, q.second).await?;
    Ok(json(StatusCode::OK, &proof))
}

/// A statement page's query, a member's or a brand's: entries before `before`, `limit` a page.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct StatementQuery {
    pub before: Option<u64>,
    pub limit: Option<usize>,
}

/// A page of a member's statement, by pseudonym: the account, and entries with their inclusion
/// proofs, newest first, before the member's own entry number `before`.
async fn statement(
    State(app): State<App>,
    member: Result<Path<String>, PathRejection>,
    q: Result<Query<StatementQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Path(member) = member?;
    auditor(&app, &headers).await?;
    let Query(q) = q?;
    position("before", q.before)?;
    let member = MemberId::parse(&member)?;
    let limit = page_limit(q.limit, STATEMENT_PAGE, STATEMENT_PAGE)?;
    let page = tree::statement_page(app.store.as_ref(), &member, q.before, limit).await?;
    Ok(json(StatusCode::OK, &page))
}

impl From<TreeError> for ApiError {
    fn from(e: TreeError) -> Self {
        match e {
            // Well-formed, but about a leaf or a tree size the tree it names does not have: a
            // conflict with the tree's state, like a size past the latest checkpoint.
            TreeError::Proof(p) => {
                ApiError::new(StatusCode::CONFLICT, "out_of_range", p.to_string())
            }
            TreeError::NotCheckpointed(m) => {
                ApiError::new(StatusCode::CONFLICT, "not_checkpointed", m)
            }
            TreeError::Store(s) => s.into(),
        }
    }
}

/// The chain a checkpoint route names, once the caller is known to be an auditor.
async fn audited_chain(
    app: &App,
    headers: &HeaderMap,
    chain: Result<Path<String>, PathRejection>,
) -> Result<String, ApiError> {
    let Path(chain) = chain?;
    auditor(app, headers).await?;
    check_id("chain", &chain)?;
    Ok(chain)
}

async fn auditor(app: &App, headers: &HeaderMap) -> Result<(), ApiError> {
    match app.grant(headers).await? {
        Grant::Auditor => Ok(()),
        Grant::Campus { .. } | Grant::Brand { .. } => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "audit queries need an auditor key",
        )),
    }
}
