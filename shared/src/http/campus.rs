//! Campus queries (the `campus` function): what a university portal shows its members.
//!
//! The ranking of campuses is public, and costs one store read: crediting keeps it
//! (`crate::credit::ranking`), at most a few seconds behind, and says when it was computed.
//! Everything under `/v1/campuses/{campus}/` needs a bearer key granted for that campus: a key
//! for campus A gets 403 on campus B. Those reads come straight from the store, so an action is
//! in them as soon as its status says credited.
//!
//! A member's campus is theirs: a portal enrols a member who has none, and only the member,
//! through the integration that authenticated them (`PUT /v1/members/{user}/campus`, signed),
//! or an operator moves them to another.

use super::{json, page_limit, parse, position, ApiError};
use crate::store::{
    Account, Affiliated, CampusDay, CampusStore, Consent, Grant, OpenPledge, StoreError, PORTAL,
};
use axum::body::Body;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use axum::routing::{get, put};
use axum::Router;
use greenloop_core::domain::{check_id, Campus, MemberId};
use greenloop_core::ranking::{BoardCursor, CampaignDay, RankedCampus, Standing};
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
        .route("/v1/members/{user}/campus", put(transfer))
        .with_state(app.with_store::<dyn CampusStore>(app.store.clone()))
}

/// How long a client or CDN may reuse the public ranking: crediting keeps it at most
/// [`crate::credit::ranking::FRESH_S`] behind, so caching it as long costs nothing in freshness.
const RANKING_MAX_AGE_S: i64 = crate::credit::ranking::FRESH_S;

/// Every campus, most CO2e avoided first; public. One store read whatever the number of
/// campuses: the ranking crediting keeps. Answers 304 to a matching `If-None-Match`.
async fn ranking(State(app): State<App>, headers: HeaderMap) -> Result<Response, ApiError> {
    let ranking = app.store.ranking().await?;
    let (as_of, campuses, days) = match ranking {
        Some(r) => (Some(r.as_of), r.campuses, r.days),
        None => (None, Vec::new(), Vec::new()),
    };
    let body = RankingView {
        as_of,
        campuses,
        days,
    };
    super::public_json(&headers, &body, RANKING_MAX_AGE_S)
}

/// The public ranking: `as_of` (Unix seconds) is when it was computed, absent before the
/// first computation; `days` sums the campuses' rows per campaign day.
#[derive(Serialize)]
struct RankingView {
    as_of: Option<i64>,
    campuses: Vec<RankedCampus>,
    /// The campaign per day, summed over the campuses: the public page's chart.
    days: Vec<CampaignDay>,
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
    rank: u64,
    member: MemberId,
    co2e_g: i64,
    balance: i64,
    entries: u64,
}

/// A page of a leaderboard; `next` (absent on the last page) is the `after` of the next one.
#[derive(Serialize)]
struct Leaders {
    leaders: Vec<Leader>,
    next: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BoardQuery {
    limit: Option<usize>,
    after: Option<String>,
}

/// Members by CO2e avoided, then by pseudonym, a page at a time: one ordered store read per
/// page, however many members tie.
async fn leaderboard(
    State(app): State<App>,
    campus: Result<Path<String>, PathRejection>,
    q: Result<Query<BoardQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Path(campus) = campus?;
    let Query(q) = q?;
    authorize(&app, &headers, &campus).await?;
    let limit = page_limit(q.limit, 10, MAX_ROWS)?;
    let after = q
        .after
        .as_deref()
        .map(BoardCursor::parse)
        .transpose()
        .map_err(|e| ApiError::bad_request(e.code, e.message))?;
    let first_rank = after.as_ref().map_or(1, |c| c.rank + 1);
    let rows = app
        .store
        .leaderboard(&campus, after.as_ref().map(|c| &c.standing), limit + 1)
        .await?;
    let more = rows.len() > limit;
    let leaders: Vec<Leader> = rows
        .into_iter()
        .take(limit)
        .zip(first_rank..)
        .map(|(a, rank)| Leader {
            rank,
            member: a.member,
            co2e_g: a.co2e_g,
            balance: a.balance,
            entries: a.entries,
        })
        .collect();
    let next = leaders.last().filter(|_| more).map(|l| {
        BoardCursor {
            rank: l.rank,
            standing: Standing {
                co2e_g: l.co2e_g,
                member: l.member.clone(),
            },
        }
        .to_string()
    });
    Ok(json(StatusCode::OK, &Leaders { leaders, next }))
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

/// The one field of a stored entry the history filters on: a credit entry's campus, or for a
/// correction (format 2.2) the campus of the entry it corrects, where its grams count.
#[derive(Deserialize)]
struct CreditedTo {
    campus: Option<String>,
    corrects: Option<Box<CreditedTo>>,
}

impl CreditedTo {
    fn campus(&self) -> Option<&str> {
        match &self.corrects {
            Some(entry) => entry.campus(),
            None => self.campus.as_deref(),
        }
    }
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
    position("before", q.before)?;
    let limit = page_limit(q.limit, 20, MAX_ROWS)?;
    let not_found = || ApiError::not_found(format!("member of campus {campus}"));
    let member = super::scan::known_member(&app, &user)
        .await?
        .ok_or_else(not_found)?;
    let account: Account = app
        .store
        .accounts(std::slice::from_ref(&member))
        .await?
        .pop()
        .filter(|a| a.campus.as_deref() == Some(campus.as_str()))
        .ok_or_else(not_found)?;
    // The member's entries at other campuses are theirs, not this portal's to show.
    let (mut recent, mut next) = (Vec::new(), q.before);
    for _ in 0..HISTORY_READS {
        let want = limit - recent.len();
        let page = app.store.member_entries(&member, next, want).await?;
        let short = page.len() < want;
        next = page.last().map(|&(n, _)| n).filter(|&n| n > 0 && !short);
        for (_, bytes) in page {
            let credited: CreditedTo = serde_json::from_slice(&bytes)
                .map_err(|e| StoreError::Corrupt(format!("an unreadable entry: {e}")))?;
            if credited.campus() == Some(campus.as_str()) {
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

/// An affiliation as answered: `status` is `joined`, `unchanged` or `moved` (then `from` names
/// the campus left).
#[derive(Serialize)]
struct AffiliationView {
    member: MemberId,
    campus: String,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    from: Option<String>,
}

/// A portal enrols a member: only one with no campus yet. A member of another campus stays
/// there (409 `affiliated_elsewhere`); moving takes the member's consent ([`transfer`]).
async fn affiliate(
    State(app): State<App>,
    path: Result<Path<(String, String)>, PathRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Path((campus, user)) = path?;
    authorize(&app, &headers, &campus).await?;
    let member = first_sight(&app, &user, &campus, PORTAL).await?;
    let done = app
        .store
        .affiliate(&member, &campus, Consent::Enrol)
        .await?;
    affiliated(member, campus, done)
}

/// The member's campus, set by the integration that authenticated them in its app: a signed
/// webhook (the same signature as intake), so a member can move between campuses, which no
/// portal can do for them.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TransferIn {
    campus: String,
}

async fn transfer(
    State(app): State<App>,
    user: Result<Path<String>, PathRejection>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let Path(user) = user?;
    let (integration, bytes) = super::scan::signed(&app, &method, &uri, &headers, body).await?;
    let TransferIn { campus } = parse(&bytes)?;
    check_id("campus", &campus)?;
    let member = first_sight(&app, &user, &campus, &integration).await?;
    let done = app
        .store
        .affiliate(&member, &campus, Consent::Transfer)
        .await?;
    tracing::info!(integration, "member's campus set by their integration");
    affiliated(member, campus, done)
}

/// The member `user` stands for, drawn at first sight only if `campus` exists: an enrolment
/// the store would refuse writes nothing, not even a mapping.
async fn first_sight(
    app: &App,
    user: &str,
    campus: &str,
    origin: &str,
) -> Result<MemberId, ApiError> {
    let subject = super::scan::subject(app, user)?;
    if let Some(known) = app.store.mapping(&subject).await? {
        return Ok(known.member);
    }
    if !app.store.campuses().await?.iter().any(|c| c.id == campus) {
        return Err(ApiError::not_found(format!("campus {campus}")));
    }
    Ok(app.store.member_or_new(&subject, origin).await?)
}

fn affiliated(member: MemberId, campus: String, done: Affiliated) -> Result<Response, ApiError> {
    let (status, from) = match done {
        Affiliated::Joined => ("joined", None),
        Affiliated::Unchanged => ("unchanged", None),
        Affiliated::Moved { from } => ("moved", Some(from)),
        Affiliated::Elsewhere => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "affiliated_elsewhere",
                "this member is affiliated with another campus; only the member can move, \
                 through their app",
            ))
        }
    };
    tracing::info!(status, "affiliated");
    Ok(json(
        StatusCode::OK,
        &AffiliationView {
            member,
            campus,
            status,
            from,
        },
    ))
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
