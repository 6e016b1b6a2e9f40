//! The HTTP API: axum routers that run the same way behind API Gateway (through `lambda_http`)
//! and in `greenloop serve`.
//!
//! - [`scan`]: the `scan` function's signed webhooks that record actions, and action status;
//! - [`campus`]: university portal queries, with campus-scoped API keys, and the public ranking;
//! - [`audit`]: chain heads, entries and derived state for auditors;
//! - [`public`]: what anyone may read: the log's checkpoints and consistency proofs, packaging;
//! - [`pages`]: the public transparency page and the campus dashboard, compiled in.
//!
//! Every answer that is not a success is JSON `{"code", "message"}` with a 4xx status; only a
//! store that cannot be reached gives a 503, and a store holding data this version cannot read
//! a 500 `corrupt` that names the request id. Handlers never panic on input, and a panic anyway
//! becomes a JSON error rather than a dropped connection.

pub mod audit;
pub mod brand;
pub mod campus;
pub mod disposal;
pub mod integer;
pub mod keyring;
pub mod pages;
pub mod public;
pub mod scan;
pub mod signature;

use crate::store::{api_key, Directory, Grant, Store, StoreError};
use axum::body::{Body, Bytes};
use axum::extract::{MatchedPath, Request};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use greenloop_core::catalog::Rules;
use greenloop_core::domain::{Invalid, Pepper};
use greenloop_core::receipt::ReceiptKey;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::Notify;
use tracing::Instrument;

pub use keyring::Keyring;
pub use pages::Site;
pub use signature::Integrations;

/// Largest request body accepted; an intake body is a few hundred bytes.
pub const MAX_BODY: usize = 16 * 1024;
/// Longest path and query accepted (414 `uri_too_long`), in bytes.
pub const MAX_URI: usize = 8 * 1024;
/// Most header bytes accepted, names and values together (431 `headers_too_large`).
pub const MAX_HEADER_BYTES: usize = 16 * 1024;

/// What every handler shares. `S` is the store as the router sees it: the whole [`Store`] when
/// an app is built, narrowed by each function's router to its own role sum
/// ([`crate::store::ScanStore`], [`crate::store::CampusStore`], [`crate::store::AuditStore`]).
pub struct App<S: ?Sized = dyn Store> {
    pub store: Arc<S>,
    /// Key of member pseudonyms; `None` in a function that serves no member (audit), which
    /// then needs no access to it.
    pub pepper: Option<Pepper>,
    /// Webhook senders and their secrets, re-read from SSM when deployed.
    pub keyring: Arc<Keyring>,
    /// The rulebook in force, for "today" and for pledge windows.
    pub rules: Arc<Rules>,
    /// Unix seconds now; tests move it.
    pub clock: Arc<dyn Fn() -> i64 + Send + Sync>,
    /// Woken after an action is recorded, so that in-process crediting starts at once.
    pub recorded: Arc<Notify>,
    /// What the web pages and the public log publish: the log's key, who may embed the portal.
    pub site: Arc<Site>,
    /// The key erasure receipts are signed with; `None` in a function that serves no erasure.
    pub receipts: Option<Arc<ReceiptKey>>,
}

// By hand: a derived `Clone` would ask `S: Clone`, which a trait object is not.
impl<S: ?Sized> Clone for App<S> {
    fn clone(&self) -> Self {
        self.with_store(Arc::clone(&self.store))
    }
}

impl App {
    pub fn new(
        store: Arc<dyn Store>,
        pepper: Pepper,
        integrations: Integrations,
        rules: Rules,
    ) -> Self {
        Self::with_secrets(store, Some(pepper), Keyring::fixed(integrations), rules)
    }

    /// [`App::new`], for a function that may hold no pepper, with secrets that may refresh.
    pub fn with_secrets(
        store: Arc<dyn Store>,
        pepper: Option<Pepper>,
        keyring: Keyring,
        rules: Rules,
    ) -> Self {
        App {
            store,
            pepper,
            keyring: Arc::new(keyring),
            rules: Arc::new(rules),
            clock: Arc::new(|| chrono::Utc::now().timestamp()),
            recorded: Arc::new(Notify::new()),
            site: Arc::new(Site::default()),
            receipts: None,
        }
    }
}

impl<S: ?Sized> App<S> {
    /// The same app over `store`, which is this app's store seen through a narrower role
    /// (`app.with_store::<dyn ScanStore>(app.store.clone())`).
    pub fn with_store<T: ?Sized>(&self, store: Arc<T>) -> App<T> {
        App {
            store,
            pepper: self.pepper.clone(),
            keyring: Arc::clone(&self.keyring),
            rules: Arc::clone(&self.rules),
            clock: Arc::clone(&self.clock),
            recorded: Arc::clone(&self.recorded),
            site: Arc::clone(&self.site),
            receipts: self.receipts.clone(),
        }
    }

    pub fn now(&self) -> i64 {
        (self.clock)()
    }
}

impl<S: Directory + ?Sized> App<S> {
    /// The grant of the bearer key in `headers`, read from its record on every request, so a
    /// revocation or an expiry holds from the next request on (there is no cache).
    ///
    /// A malformed key, an unknown id and a wrong secret get one and the same 401, so that a
    /// caller cannot tell which ids exist. Only the holder of the whole key learns that it was
    /// revoked or has expired.
    async fn grant(&self, headers: &HeaderMap) -> Result<Grant, ApiError> {
        let key = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "unauthorized",
                    "send an API key as Authorization: Bearer <key>",
                )
            })?
            .trim();
        let unknown = || ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", "unknown API key");
        let id = api_key::key_id(key).ok_or_else(unknown)?;
        let record = self.store.api_key(id).await?.ok_or_else(unknown)?;
        if !record.matches(key) {
            return Err(unknown());
        }
        // The key id is public, so logging it helps spot a leaked key still in use.
        if record.revoked_at.is_some() {
            tracing::warn!(key_id = id, "a revoked API key was used");
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "key_revoked",
                format!("API key {id} was revoked"),
            ));
        }
        if record.expired(self.now()) {
            tracing::info!(key_id = id, "an expired API key was used");
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "key_expired",
                format!("API key {id} has expired"),
            ));
        }
        Ok(record.grant)
    }
}

/// Every router on one app: what `greenloop serve` mounts.
pub fn router(app: App) -> Router {
    mount(
        Router::new()
            .merge(scan::routes(&app))
            .merge(disposal::routes(&app))
            .merge(campus::routes(&app))
            .merge(audit::routes(&app))
            .merge(public::routes(&app))
            .merge(brand::routes(&app))
            .merge(pages::routes(&app.site)),
    )
}

/// Gives `routes` (which already hold their state) `GET /health`, JSON fallbacks, request spans
/// and panic capture: what each function's router and the local server share.
pub fn mount(routes: Router) -> Router {
    routes
        .route("/health", axum::routing::get(health))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        // Panics are caught inside the request span, so a 500 is logged with the request id
        // and carries `x-request-id` like every other answer.
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(panicked))
        .layer(axum::middleware::from_fn(within_limits))
        .layer(axum::middleware::from_fn(request_span))
}

/// Our own limits on the request line and headers, below the HTTP servers' hard ones, so that
/// a client meets these, as JSON errors, wherever the router runs. (API Gateway's own are lower
/// still and answered by API Gateway; `greenloop serve` answers the heads its HTTP server could
/// not parse itself, as JSON too.)
async fn within_limits(req: Request, next: Next) -> Response {
    let uri = req.uri().path_and_query().map_or(0, |p| p.as_str().len());
    if uri > MAX_URI {
        return ApiError::new(
            StatusCode::URI_TOO_LONG,
            "uri_too_long",
            format!("the path and query may be at most {MAX_URI} bytes"),
        )
        .into_response();
    }
    let headers: usize = req
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    if headers > MAX_HEADER_BYTES {
        return ApiError::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "headers_too_large",
            format!("the header fields may be at most {MAX_HEADER_BYTES} bytes"),
        )
        .into_response();
    }
    next.run(req).await
}

async fn health() -> Json<serde_json::Value> {
    Json(serde_json::json!({"status": "ok"}))
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not take that method",
    )
}

fn panicked(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("handler panicked");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "the request could not be handled",
    )
    .into_response()
}

/// Gives each request an id (API Gateway's when there is one) and a span carrying it, the
/// route template (never the path, which may hold a user id) and the outcome.
async fn request_span(req: Request, next: Next) -> Response {
    let id = request_id(&req);
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |p| p.as_str())
        .to_owned();
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %req.method(),
        route,
        action_id = tracing::field::Empty,
    );
    let scoped = id.clone();
    async move {
        let mut res = REQUEST_ID.scope(scoped, next.run(req)).await;
        tracing::info!(status = res.status().as_u16(), "answered");
        if let Ok(v) = HeaderValue::from_str(&id) {
            res.headers_mut().insert("x-request-id", v);
        }
        res
    }
    .instrument(span)
    .await
}

tokio::task_local! {
    /// The request being answered, so that an error built deep in a handler can name it.
    static REQUEST_ID: String;
}

fn request_id(req: &Request) -> String {
    use lambda_http::request::RequestContext;
    if let Some(RequestContext::ApiGatewayV2(ctx)) = req.extensions().get::<RequestContext>() {
        if let Some(id) = &ctx.request_id {
            return id.clone();
        }
    }
    local_request_id()
}

/// A request id unique within this process, for a request API Gateway did not name.
pub fn local_request_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("local-{:x}-{n}", std::process::id())
}

/// A failed request: status, stable code, message.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{} not found", what.into()),
        )
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    code: &'a str,
    message: &'a str,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            code: self.code,
            message: &self.message,
        };
        (self.status, Json(body)).into_response()
    }
}

impl From<Invalid> for ApiError {
    fn from(e: Invalid) -> Self {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e.code, e.message)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Invalid(i) => i.into(),
            StoreError::Conflict(id) => ApiError::new(
                StatusCode::CONFLICT,
                "conflict",
                format!("action {id} was already recorded with a different body"),
            ),
            StoreError::NotFound(what) => ApiError::not_found(what),
            // Retrying does not fix unreadable data, so this is not a 503: an operator must
            // look, and the request id leads them to the logged error.
            StoreError::Corrupt(_) => {
                tracing::error!(error = %e, "store holds unreadable data");
                let id = REQUEST_ID
                    .try_with(String::clone)
                    .unwrap_or_else(|_| "unknown".into());
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "corrupt",
                    format!(
                        "the store holds data this service cannot read; retrying will not help. \
                         Report request {id}"
                    ),
                )
            }
            // One action's item, written by another version or damaged: the rest of the service
            // works, and crediting has quarantined it for the operator.
            StoreError::Unreadable { id, .. } => ApiError::new(
                StatusCode::CONFLICT,
                "unreadable_action",
                format!(
                    "action {id} is stored in a form this version cannot read; it is set aside \
                     for the operator"
                ),
            ),
            StoreError::Refused { code, .. } => {
                tracing::error!(error = %e, "store refused a write");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    code,
                    "the store refused the write; retrying will not help",
                )
            }
            StoreError::Unavailable(_) => {
                tracing::error!(error = %e, "store failed");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "the store is unavailable; retry later",
                )
            }
        }
    }
}

impl From<axum::extract::rejection::QueryRejection> for ApiError {
    fn from(e: axum::extract::rejection::QueryRejection) -> Self {
        ApiError::bad_request("bad_query", e.body_text())
    }
}

impl From<axum::extract::rejection::PathRejection> for ApiError {
    fn from(e: axum::extract::rejection::PathRejection) -> Self {
        ApiError::bad_request("bad_path", e.body_text())
    }
}

/// A page size: `limit`, or `default` when absent, if it is 1 to `max`; else 400 `bad_limit`.
pub fn page_limit(limit: Option<usize>, default: usize, max: usize) -> Result<usize, ApiError> {
    match limit.unwrap_or(default) {
        n if (1..=max).contains(&n) => Ok(n),
        _ => Err(ApiError::bad_request(
            "bad_limit",
            format!("limit must be 1 to {max}"),
        )),
    }
}

/// A `seq`, size or member entry number from the query, at most 2^53 - 1 (the spec's
/// `maximum`, the largest integer every JSON reader holds exactly, and the largest an entry may
/// carry); else 400 `bad_query`.
pub fn position(name: &str, value: Option<u64>) -> Result<(), ApiError> {
    match value {
        Some(v) if v > greenloop_core::domain::MAX_SAFE_INT => Err(ApiError::bad_request(
            "bad_query",
            format!(
                "{name} must be at most {}",
                greenloop_core::domain::MAX_SAFE_INT
            ),
        )),
        _ => Ok(()),
    }
}

/// Reads a body of at most [`MAX_BODY`] bytes.
pub async fn read_body(body: Body) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, MAX_BODY).await.map_err(|_| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("the body is over {MAX_BODY} bytes, or was cut off"),
        )
    })
}

/// Parses a JSON body into `T`, which refuses unknown fields.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| {
        let code = if e.is_data() {
            "invalid_field"
        } else {
            "malformed_json"
        };
        ApiError::bad_request(code, format!("body: {e}"))
    })
}

/// A public, cacheable answer: 200 with `body`, an ETag of its bytes and `max-age`; 304 to a
/// matching `If-None-Match`.
pub fn public_json<T: Serialize>(
    headers: &HeaderMap,
    body: &T,
    max_age_s: i64,
) -> Result<Response, ApiError> {
    let bytes =
        serde_json::to_vec(body).map_err(|e| StoreError::Corrupt(format!("public answer: {e}")))?;
    let etag = format!(
        "\"{}\"",
        &hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes))[..32]
    );
    let cache = [
        (header::ETAG, etag.clone()),
        (
            header::CACHE_CONTROL,
            format!("public, max-age={max_age_s}"),
        ),
    ];
    if if_none_match(headers, &etag) {
        return Ok((StatusCode::NOT_MODIFIED, cache).into_response());
    }
    Ok((
        StatusCode::OK,
        cache,
        [(header::CONTENT_TYPE, "application/json".to_owned())],
        bytes,
    )
        .into_response())
}

/// Whether `If-None-Match` names `etag` (RFC 9110 §13.1.2: weak comparison, a list, or `*`).
pub(crate) fn if_none_match(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim())
        .any(|t| t == "*" || t.strip_prefix("W/").unwrap_or(t) == etag)
}

/// JSON of any serializable value with a status.
pub fn json<T: Serialize>(status: StatusCode, value: &T) -> Response {
    (status, Json(value)).into_response()
}

/// A stored entry as JSON embedded byte for byte, so clients can re-hash what they receive.
pub fn raw(bytes: Vec<u8>) -> Result<Box<serde_json::value::RawValue>, ApiError> {
    String::from_utf8(bytes)
        .ok()
        .and_then(|s| serde_json::value::RawValue::from_string(s).ok())
        .ok_or_else(|| StoreError::Corrupt("a stored entry is not JSON".into()).into())
}
