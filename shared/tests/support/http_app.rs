//! The app fixture of the router tests (`http_api`, `http_logs`, `openapi`): what a test
//! registers in its store, an `App` on a fixed clock, webhook signatures, and answer bodies.
#![allow(dead_code)] // each test binary uses only part of it

use axum::body::Body;
use axum::body::Bytes;
use axum::http::request;
use axum::http::{Request, StatusCode};
use axum::response::Response;
use greenloop::catalog::Rules;
use greenloop::domain::{Campus, Pepper, Station};
use greenloop::http::signature::{sign, Message};
use greenloop::http::{router, App, Integrations};
use greenloop::receipt::ReceiptKey;
use greenloop::store::{ApiKey, Grant, Store};
use http_body_util::BodyExt;
use serde_json::Value;
use std::sync::Arc;
use tower::ServiceExt;

/// The webhook integration the fixture's requests sign as, and owner of its stations.
pub const KEY_ID: &str = "qr-1";
/// A second integration, another platform: it owns no station unless a test gives it one.
pub const OTHER_KEY_ID: &str = "qr-2";
pub const OTHER_SECRET: &str = "qr-2-other-platform-secret-0123";

/// Registers campuses, as `(id, name, city)`.
pub async fn put_campuses(store: &dyn Store, campuses: &[(&str, &str, &str)]) {
    for (id, name, city) in campuses {
        let campus = Campus {
            id: (*id).into(),
            name: (*name).into(),
            city: (*city).into(),
        };
        store.put_campus(&campus).await.unwrap();
    }
}

/// Registers stations of integration [`KEY_ID`], as `(id, city, campus)`.
pub async fn put_stations(store: &dyn Store, stations: &[(&str, &str, Option<&str>)]) {
    for (id, city, campus) in stations {
        put_station_of(store, id, city, *campus, &[KEY_ID]).await;
    }
}

/// Registers one station, owned by `integrations`.
pub async fn put_station_of(
    store: &dyn Store,
    id: &str,
    city: &str,
    campus: Option<&str>,
    integrations: &[&str],
) {
    let station = Station {
        id: id.into(),
        city: city.into(),
        campus: campus.map(Into::into),
        integrations: integrations.iter().map(|&i| i.into()).collect(),
    };
    store.put_station(&station).await.unwrap();
}

/// Keeps fixed API keys (`glk_<id>_<secret>`), each as the record a store keeps for it: made at
/// time 0, never expiring.
pub async fn put_api_keys(store: &dyn Store, keys: &[(&str, Grant)]) {
    for (key, grant) in keys {
        let record = ApiKey::of_key(key, grant.clone(), 0, None)
            .unwrap_or_else(|| panic!("{key:?} is not a well-formed API key"));
        store.put_api_key(&record).await.unwrap();
    }
}

/// The app on `store` with the default rules, answering at `now`; integration [`KEY_ID`] signs
/// with `secrets` (comma-separated: during a rotation, each of them), [`OTHER_KEY_ID`] with
/// [`OTHER_SECRET`].
pub fn app(store: Arc<dyn Store>, pepper: &[u8], secrets: &str, now: i64) -> App {
    let pepper = Pepper::new(pepper.to_vec()).unwrap();
    let integrations =
        Integrations::parse(&format!("{KEY_ID}={secrets};{OTHER_KEY_ID}={OTHER_SECRET}")).unwrap();
    let mut app = App::new(store, pepper, integrations, Rules::defaults());
    app.clock = Arc::new(move || now);
    app.receipts = Some(Arc::new(ReceiptKey::from_hex(RECEIPT_KEY).unwrap()));
    app
}

/// The seed the test apps sign erasure receipts with.
pub const RECEIPT_KEY: &str = "7265636569707473207369676e656420627920746865207465737420617070ff";

/// The headers that sign `method` `uri` (path and query) with `body` as integration
/// `key_id` with `secret` at `t`.
pub fn signature_headers_as(
    key_id: &str,
    secret: &str,
    method: &str,
    uri: &str,
    t: i64,
    body: &[u8],
) -> [(&'static str, String); 2] {
    let message = Message::new(method, uri, key_id, body);
    [
        ("greenloop-key-id", key_id.to_owned()),
        ("greenloop-signature", sign(secret.as_bytes(), &message, t)),
    ]
}

/// [`signature_headers_as`] integration [`KEY_ID`].
pub fn signature_headers(
    secret: &str,
    method: &str,
    uri: &str,
    t: i64,
    body: &[u8],
) -> [(&'static str, String); 2] {
    signature_headers_as(KEY_ID, secret, method, uri, t, body)
}

/// `builder` (whose method and URI are set) signed by integration [`KEY_ID`].
pub fn signed(builder: request::Builder, secret: &str, t: i64, body: &[u8]) -> request::Builder {
    signed_as(builder, KEY_ID, secret, t, body)
}

/// `builder` (whose method and URI are set) signed by integration `key_id`.
pub fn signed_as(
    builder: request::Builder,
    key_id: &str,
    secret: &str,
    t: i64,
    body: &[u8],
) -> request::Builder {
    let method = builder.method_ref().expect("a method").as_str().to_owned();
    let uri = builder.uri_ref().expect("a uri").to_string();
    signature_headers_as(key_id, secret, &method, &uri, t, body)
        .into_iter()
        .fold(builder, |b, (name, value)| b.header(name, value))
}

/// `req` through every router of `app`: the status and the JSON body. Every answer must be
/// JSON, and every error `{"code", "message"}`.
pub async fn answer(app: &App, req: Request<Body>) -> (StatusCode, Value) {
    let res = router(app.clone()).oneshot(req).await.unwrap();
    let status = res.status();
    let bytes = body_bytes(res).await;
    let body: Value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| panic!("{status}: body is not JSON: {bytes:?}"));
    if !status.is_success() {
        assert!(
            body["code"].is_string() && body["message"].is_string(),
            "{status}: error body {body}"
        );
    }
    (status, body)
}

/// The whole body of an answer.
pub async fn body_bytes(res: Response) -> Bytes {
    res.into_body().collect().await.unwrap().to_bytes()
}
