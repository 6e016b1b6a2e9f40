//! The app fixture of the router tests (`http_api`, `http_logs`, `openapi`): what a test
//! registers in its store, an `App` on a fixed clock, webhook signatures, and answer bodies.
#![allow(dead_code)] // each test binary uses only part of it

use axum::body::Bytes;
use axum::http::request;
use axum::response::Response;
use greenloop::catalog::Rules;
use greenloop::domain::{Campus, Pepper, Station};
use greenloop::http::signature::sign;
use greenloop::http::{App, Integrations};
use greenloop::store::{ApiKey, Grant, Store};
use http_body_util::BodyExt;
use std::sync::Arc;

/// The one webhook integration the fixture configures.
pub const KEY_ID: &str = "qr-1";

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

/// Registers stations, as `(id, city, campus)`.
pub async fn put_stations(store: &dyn Store, stations: &[(&str, &str, Option<&str>)]) {
    for (id, city, campus) in stations {
        let station = Station {
            id: (*id).into(),
            city: (*city).into(),
            campus: campus.map(Into::into),
        };
        store.put_station(&station).await.unwrap();
    }
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
/// with `secrets` (comma-separated: during a rotation, each of them).
pub fn app(store: Arc<dyn Store>, pepper: &[u8], secrets: &str, now: i64) -> App {
    let pepper = Pepper::new(pepper.to_vec()).unwrap();
    let integrations = Integrations::parse(&format!("{KEY_ID}={secrets}")).unwrap();
    let mut app = App::new(store, pepper, integrations, Rules::defaults());
    app.clock = Arc::new(move || now);
    app
}

/// The headers that sign `body` as integration [`KEY_ID`] with `secret` at `t`.
pub fn signature_headers(secret: &str, t: i64, body: &[u8]) -> [(&'static str, String); 2] {
    [
        ("greenloop-key-id", KEY_ID.to_owned()),
        ("greenloop-signature", sign(secret.as_bytes(), t, body)),
    ]
}

/// `builder` with [`signature_headers`].
pub fn signed(builder: request::Builder, secret: &str, t: i64, body: &[u8]) -> request::Builder {
    signature_headers(secret, t, body)
        .into_iter()
        .fold(builder, |b, (name, value)| b.header(name, value))
}

/// The whole body of an answer.
pub async fn body_bytes(res: Response) -> Bytes {
    res.into_body().collect().await.unwrap().to_bytes()
}
