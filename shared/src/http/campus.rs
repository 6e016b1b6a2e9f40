//! Campus queries (the `campus` function): what a university portal shows its members.
//!
//! The ranking of campuses is public. Everything under `/v1/campuses/{campus}/` needs a bearer
//! key granted for that campus: a key for campus A gets 403 on campus B. Reads come straight
//! from the store, so an action is in these numbers as soon as its status says credited.

use super::{json, ApiError};
use crate::store::{Account, CampusDay, CampusStore, CampusTotals, Grant, OpenPledge};
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use greenloop_core::domain::{Campus, MemberId};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// This function's view of the app: its store narrowed to the roles it may use.
type App = super::App<dyn CampusStore>;

/// Most rows a leaderboard or entry list returns.
pub const MAX_ROWS: usize = 100;

pub fn routes(app: &super::App) -> Router {
    Router::new()
        .route("/v1/campuses", get(ranking))
        .route("/v1/campuses/{campus}/summary", get(summary))
        .route("/v1/campuses/{campus}/leaderboard", get(leaderboard))
        .route(
            "/v1/campuses/{campus}/members/{user}",
            get(member).put(affiliate),
        )
        .with_state(app.with_store::<dyn CampusStore>(app.store.clone()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Limit {
    limit: Option<usize>,
}

impl Limit {
    fn get(q: Result<Query<Limit>, QueryRejection>, default: usize) -> Result<usize, ApiError> {
        match q?.0.limit.unwrap_or(default) {
            n @ 1..=MAX_ROWS => Ok(n),
            _ => Err(ApiError::bad_request(
                "bad_limit",
                format!("limit must be 1 to {MAX_ROWS}"),
            )),
        }
    }
}

#[derive(Serialize)]
struct Ranked {
    rank: usize,
    campus: String,
    name: String,
    city: String,
    co2e_g: i64,
    bonus: i64,
    entries: u64,
}

/// Every campus, most CO2e avoided first; public.
async fn ranking(State(app): State<App>) -> Result<Response, ApiError> {
    let totals = app.store.campus_totals().await?;
    let mut rows: Vec<(Campus, CampusTotals)> = app
        .store
        .campuses()
        .await?
        .into_iter()
        .map(|c| {
            let t = totals.iter().find(|t| t.campus == c.id).cloned();
            let t = t.unwrap_or_else(|| CampusTotals {
                campus: c.id.clone(),
                ..CampusTotals::default()
            });
            (c, t)
        })
        .collect();
    rows.sort_by(|a, b| b.1.co2e_g.cmp(&a.1.co2e_g).then(a.0.id.cmp(&b.0.id)));
    let ranked: Vec<Ranked> = rows
        .into_iter()
        .enumerate()
        .map(|(i, (c, t))| Ranked {
            rank: i + 1,
            campus: c.id,
            name: c.name,
            city: c.city,
            co2e_g: t.co2e_g,
            bonus: t.bonus,
            entries: t.entries,
        })
        .collect();
    Ok(json(StatusCode::OK, &ranked))
}

#[derive(Serialize)]
struct Summary {
    campus: String,
    name: String,
    campaign: Totals,
    today: Totals,
    days: Vec<CampusDay>,
}

#[derive(Serialize, Default)]
struct Totals {
    #[serde(skip_serializing_if = "Option::is_none")]
    day: Option<String>,
    bonus: i64,
    co2e_g: i64,
    entries: u64,
}

async fn summary(
    State(app): State<App>,
    campus: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Path(campus) = campus?;
    let c = authorize(&app, &headers, &campus).await?;
    let days = app.store.campus_days(&campus).await?;
    let today = app.rules.rulebook.day_of(app.now()).to_string();
    let mut campaign = Totals::default();
    for d in &days {
        campaign.bonus += d.bonus;
        campaign.co2e_g += d.co2e_g;
        campaign.entries += d.entries;
    }
    let t = days.iter().find(|d| d.day == today);
    let today = Totals {
        bonus: t.map_or(0, |d| d.bonus),
        co2e_g: t.map_or(0, |d| d.co2e_g),
        entries: t.map_or(0, |d| d.entries),
        day: Some(today),
    };
    Ok(json(
        StatusCode::OK,
        &Summary {
            campus: c.id,
            name: c.name,
            campaign,
            today,
            days,
        },
    ))
}

#[derive(Serialize)]
struct Leader {
    rank: usize,
    member: MemberId,
    co2e_g: i64,
    balance: i64,
    entries: u64,
}

async fn leaderboard(
    State(app): State<App>,
    campus: Result<Path<String>, PathRejection>,
    q: Result<Query<Limit>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Path(campus) = campus?;
    authorize(&app, &headers, &campus).await?;
    let limit = Limit::get(q, 10)?;
    let rows: Vec<Leader> = app
        .store
        .leaderboard(&campus, limit)
        .await?
        .into_iter()
        .enumerate()
        .map(|(i, a)| Leader {
            rank: i + 1,
            member: a.member,
            co2e_g: a.co2e_g,
            balance: a.balance,
            entries: a.entries,
        })
        .collect();
    Ok(json(StatusCode::OK, &rows))
}

/// A member's carbon account as their portal shows it.
#[derive(Serialize)]
struct AccountView {
    member: MemberId,
    campus: Option<String>,
    balance: i64,
    co2e_g: i64,
    entries: u64,
    open_pledges: Vec<OpenPledge>,
    /// The newest entries credited to this campus first, exactly as stored on the ledger.
    recent: Vec<Box<RawValue>>,
    /// The `before` of the next page; None once the member's first entry was looked at.
    next: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HistoryQuery {
    before: Option<u64>,
    limit: Option<usize>,
}

/// The one field of a stored entry the history filters on.
#[derive(Deserialize)]
struct CreditedTo {
    campus: Option<String>,
}

/// Store pages one history request reads at most. Entries credited elsewhere (before a
/// transfer) are skipped, so a page may come back short, with `next` to go on from.
const HISTORY_READS: usize = 3;

async fn member(
    State(app): State<App>,
    path: Result<Path<(String, String)>, PathRejection>,
    q: Result<Query<HistoryQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Path((campus, user)) = path?;
    authorize(&app, &headers, &campus).await?;
    let Query(q) = q?;
    let limit = match q.limit.unwrap_or(20) {
        n @ 1..=MAX_ROWS => n,
        _ => {
            return Err(ApiError::bad_request(
                "bad_limit",
                format!("limit must be 1 to {MAX_ROWS}"),
            ))
        }
    };
    let member = super::scan::member(&app, &user)?;
    let account: Account = app
        .store
        .accounts(std::slice::from_ref(&member))
        .await?
        .pop()
        .filter(|a| a.campus.as_deref() == Some(campus.as_str()))
        .ok_or_else(|| ApiError::not_found(format!("member of campus {campus}")))?;
    // The member's entries at other campuses are theirs, not this portal's to show.
    let (mut recent, mut next) = (Vec::new(), q.before);
    for _ in 0..HISTORY_READS {
        let want = limit - recent.len();
        let page = app.store.member_entries(&member, next, want).await?;
        let short = page.len() < want;
        next = page.last().map(|&(n, _)| n).filter(|&n| n > 0 && !short);
        for (_, bytes) in page {
            let credited: CreditedTo = serde_json::from_slice(&bytes).map_err(|e| {
                crate::store::StoreError::Corrupt(format!("an unreadable entry: {e}"))
            })?;
            if credited.campus.as_deref() == Some(campus.as_str()) {
                recent.push(super::raw(bytes)?);
            }
        }
        if next.is_none() || recent.len() == limit {
            break;
        }
    }
    Ok(json(
        StatusCode::OK,
        &AccountView {
            member: account.member,
            campus: account.campus,
            balance: account.balance,
            co2e_g: account.co2e_g,
            entries: account.entries,
            open_pledges: account.open_pledges,
            recent,
            next,
        },
    ))
}

#[derive(Serialize)]
struct Affiliated {
    member: MemberId,
    campus: String,
}

/// Registers a member's affiliation: their later entries count for this campus.
async fn affiliate(
    State(app): State<App>,
    path: Result<Path<(String, String)>, PathRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Path((campus, user)) = path?;
    authorize(&app, &headers, &campus).await?;
    let member = super::scan::member(&app, &user)?;
    app.store.affiliate(&member, &campus).await?;
    tracing::info!("affiliated");
    Ok(json(StatusCode::OK, &Affiliated { member, campus }))
}

/// The campus, if the bearer key was granted for it: 401 without a key, 403 for another scope.
async fn authorize(app: &App, headers: &HeaderMap, campus: &str) -> Result<Campus, ApiError> {
    match app.grant(headers).await? {
        Grant::Campus { campus: c } if c == campus => {}
        _ => {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!("this key is not granted for campus {campus}"),
            ))
        }
    }
    app.store
        .campuses()
        .await?
        .into_iter()
        .find(|c| c.id == campus)
        .ok_or_else(|| ApiError::not_found(format!("campus {campus}")))
}
