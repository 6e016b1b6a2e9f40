//! Intake: the signed webhooks that record actions (the `scan` function).
//!
//! Intake only records. It checks the signature, validates, turns the platform user id into the
//! member pseudonym at once, and records the action keyed by its source id; crediting happens
//! later. The answer is 202 with the action's status; a second delivery of the same id and body
//! gets the same answer marked as a replay, and the same id with another body gets 409.

use super::signature::{Refusal, KEY_ID_HEADER, SIGNATURE_HEADER, TOLERANCE_S};
use super::{json, parse, read_body, ApiError};
use crate::store::{ActionStatus, Recorded, ScanStore, StoreError};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use greenloop_core::domain::{check_id, Action, ActionKind, BoxLot, Invalid, Items, MemberId};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// This function's view of the app: its store narrowed to the roles it may use.
type App = super::App<dyn ScanStore>;

pub fn routes(app: &super::App) -> Router {
    Router::new()
        .route("/v1/scans", post(intake::<ScanIn>))
        .route("/v1/pledges", post(intake::<PledgeIn>))
        .route("/v1/appointments", post(intake::<AppointmentIn>))
        .route("/v1/appointments/{id}/complete", post(complete))
        .route("/v1/actions/{id}", get(status))
        .with_state(app.with_store::<dyn ScanStore>(app.store.clone()))
}

/// An on-site QR-scan drop-off.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScanIn {
    scan_id: String,
    user: String,
    station: String,
    at: i64,
    items: ItemsIn,
}

/// [`Items`] as a webhook sends them: unknown fields are refused here, where the sender can fix
/// them, though stored items keep what a newer version wrote.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ItemsIn {
    books: u32,
    boxes: Vec<BoxLotIn>,
    clothing_g: u64,
    shoes: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BoxLotIn {
    #[serde(deserialize_with = "greenloop_core::domain::required")]
    brand: Option<String>,
    count: u32,
}

impl From<ItemsIn> for Items {
    fn from(i: ItemsIn) -> Self {
        Items {
            books: i.books,
            boxes: i
                .boxes
                .into_iter()
                .map(|b| BoxLot {
                    brand: b.brand,
                    count: b.count,
                })
                .collect(),
            clothing_g: i.clothing_g,
            shoes: i.shoes,
        }
    }
}

/// A return pledge made in the app: boxes to bring to a station.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PledgeIn {
    pledge_id: String,
    user: String,
    station: String,
    at: i64,
    boxes: u32,
}

/// An old-clothes pickup booking; the weight comes with completion.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AppointmentIn {
    appointment_id: String,
    user: String,
    station: String,
    at: i64,
}

/// The courier's completion of a pickup.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CompleteIn {
    clothing_g: u64,
    at: i64,
}

/// An action's status as intake answers it.
#[derive(Serialize)]
pub struct ActionView {
    pub action: String,
    /// Absent only for a quarantined action whose stored item this version cannot read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<ActionKind>,
    #[serde(flatten)]
    pub status: ActionStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replay: Option<bool>,
    /// For a credited in-window pledge: how many of its boxes have come back.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pledge: Option<PledgeView>,
}

#[derive(Serialize)]
pub struct PledgeView {
    pub boxes: u64,
    pub returned: u64,
    pub fulfilled: bool,
}

/// A webhook body that records one action.
trait Delivery: DeserializeOwned {
    /// The platform user id; it goes no further than [`member`], which makes it the pseudonym.
    fn user(&self) -> &str;
    /// The action this body stands for, by `member`.
    fn action(self, member: MemberId) -> Action;
}

impl Delivery for ScanIn {
    fn user(&self) -> &str {
        &self.user
    }
    fn action(self, member: MemberId) -> Action {
        Action {
            id: self.scan_id,
            kind: ActionKind::Scan,
            member,
            station: self.station,
            at: self.at,
            items: self.items.into(),
        }
    }
}

impl Delivery for PledgeIn {
    fn user(&self) -> &str {
        &self.user
    }
    /// The pledged boxes are the action's items, of no brand.
    fn action(self, member: MemberId) -> Action {
        Action {
            id: self.pledge_id,
            kind: ActionKind::Pledge,
            member,
            station: self.station,
            at: self.at,
            items: Items {
                boxes: vec![BoxLot {
                    brand: None,
                    count: self.boxes,
                }],
                ..Items::default()
            },
        }
    }
}

impl Delivery for AppointmentIn {
    fn user(&self) -> &str {
        &self.user
    }
    /// No items yet: a booking, weighed at completion.
    fn action(self, member: MemberId) -> Action {
        Action {
            id: self.appointment_id,
            kind: ActionKind::Pickup,
            member,
            station: self.station,
            at: self.at,
            items: Items::default(),
        }
    }
}

/// Every intake route: a signed body of type `T`, recorded as its action.
async fn intake<T: Delivery>(
    State(app): State<App>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = signed(&app, &headers, body).await?;
    let request: T = parse(&bytes)?;
    let member = member(&app, request.user())?;
    record(&app, request.action(member)).await
}

async fn complete(
    State(app): State<App>,
    id: Result<Path<String>, axum::extract::rejection::PathRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let Path(id) = id?;
    let bytes = signed(&app, &headers, body).await?;
    check_id("appointment", &id)?;
    tracing::Span::current().record("action_id", id.as_str());
    let c: CompleteIn = parse(&bytes)?;
    not_in_future(&app, c.at)?;
    let recorded = app.store.complete_pickup(&id, c.clothing_g, c.at).await?;
    answer(&app, recorded).await
}

async fn status(
    State(app): State<App>,
    id: Result<Path<String>, axum::extract::rejection::PathRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let Path(id) = id?;
    signed(&app, &headers, body).await?;
    check_id("action", &id)?;
    tracing::Span::current().record("action_id", id.as_str());
    let record = match app.store.action(&id).await {
        // Set aside by crediting: its sender sees why, though this version cannot read the rest.
        Err(StoreError::Unreadable {
            status: Some(status @ ActionStatus::Rejected { .. }),
            ..
        }) => {
            let view = ActionView {
                action: id,
                kind: None,
                status,
                replay: None,
                pledge: None,
            };
            return Ok(json(StatusCode::OK, &view));
        }
        other => other?.ok_or_else(|| ApiError::not_found(format!("action {id}")))?,
    };
    let view = view(&app, &record.action, record.status, None).await?;
    Ok(json(StatusCode::OK, &view))
}

/// Reads the body and checks its signature against the sender's secrets.
async fn signed(app: &App, headers: &HeaderMap, body: Body) -> Result<axum::body::Bytes, ApiError> {
    let bytes = read_body(body).await?;
    let text = |h: &str| headers.get(h).and_then(|v| v.to_str().ok());
    app.integrations
        .verify(
            text(KEY_ID_HEADER),
            text(SIGNATURE_HEADER),
            &bytes,
            app.now(),
        )
        .map_err(|r: Refusal| ApiError::new(StatusCode::UNAUTHORIZED, r.code(), r.message()))?;
    Ok(bytes)
}

/// The member pseudonym of a platform user id; the raw id goes no further than this.
pub(super) fn member<S: ?Sized>(app: &super::App<S>, user: &str) -> Result<MemberId, ApiError> {
    if user.is_empty() || user.len() > 128 || user.chars().any(char::is_control) {
        return Err(Invalid::new(
            "invalid_user",
            "user must be 1-128 bytes without control characters",
        )
        .into());
    }
    let pepper = app.pepper.as_ref().ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "this function serves no member",
        )
    })?;
    Ok(MemberId::pseudonym(pepper, user))
}

fn not_in_future(app: &App, at: i64) -> Result<(), ApiError> {
    if at > app.now() + TOLERANCE_S {
        return Err(Invalid::new("future_time", "at is in the future").into());
    }
    Ok(())
}

/// Validates an action against the registry and records it idempotently.
async fn record(app: &App, action: Action) -> Result<Response, ApiError> {
    action.validate()?;
    tracing::Span::current().record("action_id", action.id.as_str());
    not_in_future(app, action.at)?;
    if app.store.station(&action.station).await?.is_none() {
        return Err(Invalid::new(
            "unknown_station",
            format!("station {} is not registered", action.station),
        )
        .into());
    }
    let recorded = app.store.record_action(&action).await?;
    answer(app, recorded).await
}

async fn answer(app: &App, recorded: Recorded) -> Result<Response, ApiError> {
    if !recorded.replay && recorded.record.status == ActionStatus::Pending {
        app.recorded.notify_one();
    }
    tracing::info!(replay = recorded.replay, "recorded");
    let view = view(
        app,
        &recorded.record.action,
        recorded.record.status,
        Some(recorded.replay),
    )
    .await?;
    Ok(json(StatusCode::ACCEPTED, &view))
}

async fn view(
    app: &App,
    action: &Action,
    status: ActionStatus,
    replay: Option<bool>,
) -> Result<ActionView, ApiError> {
    let credited = matches!(status, ActionStatus::Credited { .. });
    let pledge = if action.kind == ActionKind::Pledge
        && credited
        && app.rules.rulebook.in_window(action.at)
    {
        let account = app
            .store
            .accounts(std::slice::from_ref(&action.member))
            .await?
            .pop();
        let boxes = action.items.box_count();
        let open = account.and_then(|a| a.open_pledges.into_iter().find(|p| p.action == action.id));
        Some(match open {
            Some(p) => PledgeView {
                boxes,
                returned: p.returned,
                fulfilled: false,
            },
            None => PledgeView {
                boxes,
                returned: boxes,
                fulfilled: true,
            },
        })
    } else {
        None
    };
    Ok(ActionView {
        action: action.id.clone(),
        kind: Some(action.kind),
        status,
        replay,
        pledge,
    })
}
