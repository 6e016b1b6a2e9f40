//! Intake: the signed webhooks that record actions (the `scan` function).
//!
//! Intake only records. It checks the signature (over the whole request, `signature`), which
//! names the integration acting; validates; looks the platform user id up in the pseudonym
//! mapping (drawing a random pseudonym at first sight, `docs/privacy.md`), so the raw id goes
//! no further; and records the action keyed by its integration and source id. Crediting
//! happens later. The answer is 202 with the action's status; a second delivery of the same id
//! and body gets the same answer marked as a replay, and the same id with another body gets 409.
//!
//! An integration acts only within its own bounds: it records only at the stations the registry
//! gives it (403 `station_not_yours`), and reads and completes only its own actions (another's
//! id is 404, as if it did not exist). Intake takes actions dated within the rulebook's grace
//! and closes the grace after the campaign window (422 `stale_action`, `intake_closed`).
//!
//! The same function serves erasure (`POST /v1/members/{user}/erasure`, [`crate::erasure`]):
//! the integration that first brought a person may cut the link to their pseudonym, and gets
//! the signed receipt.

use super::integer::integer;
use super::signature::{Message, KEY_ID_HEADER, SIGNATURE_HEADER, TOLERANCE_S};
use super::{json, parse, read_body, ApiError};
use crate::erasure::{self, Outcome};
use crate::store::{
    action_digest, ActionRecord, ActionStatus, Directory, Pseudonyms, Recorded, ScanStore,
    StoreError,
};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use greenloop_core::domain::{
    action_key, check_id, Action, ActionKind, BoxLot, Invalid, Items, MemberId, Station, Subject,
};
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
        .route("/v1/members/{user}/erasure", post(erase))
        .with_state(app.with_store::<dyn ScanStore>(app.store.clone()))
}

/// An on-site QR-scan drop-off.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScanIn {
    scan_id: String,
    user: String,
    station: String,
    #[serde(deserialize_with = "integer")]
    at: i64,
    items: ItemsIn,
}

/// [`Items`] as a webhook sends them: unknown fields are refused here, where the sender can fix
/// them, though stored items keep what a newer version wrote.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ItemsIn {
    #[serde(deserialize_with = "integer")]
    books: u32,
    boxes: Vec<BoxLotIn>,
    #[serde(deserialize_with = "integer")]
    clothing_g: u64,
    #[serde(deserialize_with = "integer")]
    shoes: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BoxLotIn {
    #[serde(deserialize_with = "greenloop_core::domain::required")]
    brand: Option<String>,
    #[serde(deserialize_with = "integer")]
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
    #[serde(deserialize_with = "integer")]
    at: i64,
    #[serde(deserialize_with = "integer")]
    boxes: u32,
}

/// An old-clothes pickup booking; the weight comes with completion.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AppointmentIn {
    appointment_id: String,
    user: String,
    station: String,
    #[serde(deserialize_with = "integer")]
    at: i64,
}

/// The courier's completion of a pickup.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CompleteIn {
    #[serde(deserialize_with = "integer")]
    clothing_g: u64,
    #[serde(deserialize_with = "integer")]
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
    /// The platform user id; it goes no further than [`subject`], which keys its mapping.
    fn user(&self) -> &str;
    /// The action this body stands for, by `member`, sent by `integration`.
    fn action(self, member: MemberId, integration: &str) -> Action;
}

impl Delivery for ScanIn {
    fn user(&self) -> &str {
        &self.user
    }
    fn action(self, member: MemberId, integration: &str) -> Action {
        Action {
            id: self.scan_id,
            integration: integration.to_owned(),
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
    fn action(self, member: MemberId, integration: &str) -> Action {
        Action {
            id: self.pledge_id,
            integration: integration.to_owned(),
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
    fn action(self, member: MemberId, integration: &str) -> Action {
        Action {
            id: self.appointment_id,
            integration: integration.to_owned(),
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
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let (integration, bytes) = signed(&app, &method, &uri, &headers, body).await?;
    let request: T = parse(&bytes)?;
    let subject = subject(&app, request.user())?;
    // Checked in full before the person is looked up: a refused delivery writes nothing, not
    // even a first sight's mapping.
    let mut action = request.action(MemberId::random([0; 32]), &integration);
    admit(&app, &action).await?;
    action.member = match app.store.mapping(&subject).await? {
        Some(m) => m.member,
        None => {
            // First sight, or a person erased since. A delivery again of an action recorded
            // before the erasure is answered from its record, and draws no pseudonym.
            let recorded = app
                .store
                .action(&action.key())
                .await
                .map_err(|e| own_id(e, &action.id))?;
            if let Some(record) = recorded {
                return again(&app, record, action).await;
            }
            app.store.member_or_new(&subject, &integration).await?
        }
    };
    record(&app, action).await
}

/// A delivery of an action recorded under a member who has been erased since: the same action
/// but for its member is a replay, anything else the conflict it would always have been.
async fn again(
    app: &App,
    record: ActionRecord,
    mut delivered: Action,
) -> Result<Response, ApiError> {
    delivered.member = record.action.member.clone();
    if action_digest(&delivered) != record.digest {
        return Err(StoreError::Conflict(delivered.id).into());
    }
    answer(
        app,
        Recorded {
            record,
            replay: true,
        },
    )
    .await
}

async fn complete(
    State(app): State<App>,
    id: Result<Path<String>, axum::extract::rejection::PathRejection>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let Path(id) = id?;
    let (integration, bytes) = signed(&app, &method, &uri, &headers, body).await?;
    check_id("appointment", &id)?;
    tracing::Span::current().record("action_id", id.as_str());
    let c: CompleteIn = parse(&bytes)?;
    in_time(&app, c.at)?;
    let key = action_key(&integration, &id);
    let recorded = app
        .store
        .complete_pickup(&key, c.clothing_g, c.at)
        .await
        .map_err(|e| own_id(e, &id))?;
    answer(&app, recorded).await
}

async fn status(
    State(app): State<App>,
    id: Result<Path<String>, axum::extract::rejection::PathRejection>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let Path(id) = id?;
    let (integration, _) = signed(&app, &method, &uri, &headers, body).await?;
    check_id("action", &id)?;
    tracing::Span::current().record("action_id", id.as_str());
    let record = match app.store.action(&action_key(&integration, &id)).await {
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
        other => other
            .map_err(|e| own_id(e, &id))?
            .ok_or_else(|| ApiError::not_found(format!("action {id}")))?,
    };
    let view = view(&app, &record.action, record.status, None).await?;
    Ok(json(StatusCode::OK, &view))
}

/// An erasure request: the integration's own id for it, under which a retry gets the same
/// receipt.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ErasureIn {
    request: String,
}

/// Erases the link from a user to their member pseudonym (`docs/privacy.md`), at the request
/// of the integration that first brought them: 201 with the signed receipt, 200 with the same
/// receipt for the same request again, 404 `not_found` when nothing leads from the user
/// to a member this integration may erase.
async fn erase(
    State(app): State<App>,
    user: Result<Path<String>, axum::extract::rejection::PathRejection>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let Path(user) = user?;
    let (integration, bytes) = signed(&app, &method, &uri, &headers, body).await?;
    let asked: ErasureIn = parse(&bytes)?;
    check_id("request", &asked.request)?;
    let subject = subject(&app, &user)?;
    let key = app.receipts.as_deref().ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "this function serves no erasure",
        )
    })?;
    let outcome = erasure::erase(
        app.store.as_ref(),
        key,
        &subject,
        &integration,
        &asked.request,
        app.now(),
    )
    .await?;
    let (status, receipt) =
        match outcome {
            Outcome::Erased(r) => (StatusCode::CREATED, r),
            Outcome::Replay(r) => (StatusCode::OK, r),
            Outcome::Unknown => return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                "no member of this integration's is known by this user id (never seen, or erased)",
            )),
        };
    tracing::info!(replay = status == StatusCode::OK, "erased");
    Ok(json(status, &receipt))
}

/// A store error about the action keyed `<integration>/<id>`, said with the sender's own id.
fn own_id(e: StoreError, id: &str) -> ApiError {
    match e {
        StoreError::NotFound(_) => ApiError::not_found(format!("action {id}")),
        StoreError::Conflict(_) => StoreError::Conflict(id.to_owned()).into(),
        // A well-formed completion that the recorded action's kind contradicts: the state of
        // the action, not the request, is what is wrong.
        StoreError::Invalid(i) if i.code == "not_a_pickup" => {
            ApiError::new(StatusCode::CONFLICT, i.code, i.message)
        }
        other => other.into(),
    }
}

/// Reads the body and checks the signature over the whole request; returns the integration
/// that signed it (its key id) and the body.
pub(super) async fn signed<S: ?Sized>(
    app: &super::App<S>,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Body,
) -> Result<(String, axum::body::Bytes), ApiError> {
    let bytes = read_body(body).await?;
    let text = |h: &str| headers.get(h).and_then(|v| v.to_str().ok());
    let message = Message {
        method: method.as_str(),
        path: uri.path(),
        query: uri.query().unwrap_or(""),
        key_id: text(KEY_ID_HEADER).unwrap_or(""),
        body: &bytes,
    };
    let keys = app.keyring.current().await;
    let integration = keys
        .verify(text(SIGNATURE_HEADER), message, app.now())
        .map_err(|r| ApiError::new(StatusCode::UNAUTHORIZED, r.code(), r.message()))?
        .to_owned();
    Ok((integration, bytes))
}

/// The subject of a platform user id: the key of their pseudonym mapping. The raw id goes no
/// further than this.
pub(super) fn subject<S: ?Sized>(app: &super::App<S>, user: &str) -> Result<Subject, ApiError> {
    // Counted in characters, as the spec's `maxLength` counts them.
    if user.is_empty() || user.chars().count() > 128 || user.chars().any(char::is_control) {
        return Err(Invalid::new(
            "invalid_user",
            "user must be 1-128 characters, none of them control characters",
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
    Ok(Subject::of(pepper, user))
}

/// The member a platform user id stands for, if the person was seen and not erased.
pub(super) async fn known_member<S: Pseudonyms + ?Sized>(
    app: &super::App<S>,
    user: &str,
) -> Result<Option<MemberId>, ApiError> {
    let subject = subject(app, user)?;
    Ok(app.store.mapping(&subject).await?.map(|m| m.member))
}

/// An action's time as intake takes it: not in the future (beyond the clock tolerance), not
/// older than the rulebook's grace, and not after intake has closed.
fn in_time(app: &App, at: i64) -> Result<(), ApiError> {
    let now = app.now();
    if at > now + TOLERANCE_S {
        return Err(Invalid::new("future_time", "at is in the future").into());
    }
    app.rules.rulebook.admits(at, now)?;
    Ok(())
}

/// The station, if it is registered and `integration` may send `what` (actions, reports) there:
/// else 422 `unknown_station`, or 403 `station_not_yours`.
pub(super) async fn own_station<S: Directory + ?Sized>(
    store: &S,
    station: &str,
    integration: &str,
    what: &str,
) -> Result<Station, ApiError> {
    let Some(found) = store.station(station).await? else {
        return Err(Invalid::new(
            "unknown_station",
            format!("station {station} is not registered"),
        )
        .into());
    };
    if !found.accepts(integration) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "station_not_yours",
            format!("station {station} does not take {what} from this integration"),
        ));
    }
    Ok(found)
}

/// Validates an action against the rulebook and the registry.
async fn admit(app: &App, action: &Action) -> Result<(), ApiError> {
    action.validate()?;
    tracing::Span::current().record("action_id", action.id.as_str());
    in_time(app, action.at)?;
    own_station(
        app.store.as_ref(),
        &action.station,
        &action.integration,
        "actions",
    )
    .await?;
    Ok(())
}

/// Records an admitted action idempotently.
async fn record(app: &App, action: Action) -> Result<Response, ApiError> {
    let recorded = app
        .store
        .record_action(&action)
        .await
        .map_err(|e| own_id(e, &action.id))?;
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
    let pledge =
        if action.kind == ActionKind::Pledge && credited && app.rules.rulebook.in_window(action.at)
        {
            let account = app
                .store
                .accounts(std::slice::from_ref(&action.member))
                .await?
                .pop();
            let boxes = action.items.box_count();
            let key = action.key();
            let open = account.and_then(|a| a.open_pledges.into_iter().find(|p| p.action == key));
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
