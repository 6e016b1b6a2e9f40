//! Integrations bound to what they sign (issue 12's acceptance), through the router on a real
//! embedded store: a captured request replays against nothing else; an integration records
//! only at its own stations and reads and completes only its own actions; two integrations may
//! use one id; backdated actions and actions after intake closes are refused; an unknown key id
//! is answered as a bad MAC. Every refusal is checked to leave no trace.

mod support;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use greenloop::catalog::Rules;
use greenloop::credit::credit_pending;
use greenloop::domain::{Pepper, Subject};
use greenloop::http::App;
use greenloop::store::Store;
use greenloop::verify::verify_store;
use serde_json::{json, Value};
use std::sync::Arc;
use support::http_app::{self, KEY_ID, OTHER_KEY_ID, OTHER_SECRET};

const SECRET: &str = "qr-1-integration-secret-0123";
const PEPPER: &[u8] = b"integrations-test-pepper-0123";
/// 2026-11-20 12:00 +08:00: the campaign's last day.
const NOW: i64 = 1_795_147_200;
const HOUR: i64 = 3_600;

struct Api {
    app: App,
    store: Arc<dyn Store>,
    _dir: tempfile::TempDir,
}

/// Station `st-a` belongs to qr-1, `st-b` to qr-2, `st-ab` to both.
async fn api() -> Api {
    let (store, dir) = support::temp_store();
    let store: Arc<dyn Store> = Arc::new(store);
    for (id, owners) in [
        ("st-a", &[KEY_ID][..]),
        ("st-b", &[OTHER_KEY_ID][..]),
        ("st-ab", &[KEY_ID, OTHER_KEY_ID][..]),
    ] {
        http_app::put_station_of(store.as_ref(), id, "Hangzhou", None, owners).await;
    }
    let app = http_app::app(store.clone(), PEPPER, SECRET, NOW);
    Api {
        app,
        store,
        _dir: dir,
    }
}

fn secret_of(key_id: &str) -> &'static str {
    if key_id == KEY_ID {
        SECRET
    } else {
        OTHER_SECRET
    }
}

/// A request signed by `key_id` at [`NOW`].
fn signed(key_id: &str, method: &str, uri: &str, body: &Value) -> Request<Body> {
    signed_at(key_id, method, uri, body, NOW)
}

/// A request signed by `key_id` at `t`.
fn signed_at(key_id: &str, method: &str, uri: &str, body: &Value, t: i64) -> Request<Body> {
    let bytes = if body.is_null() {
        Vec::new()
    } else {
        body.to_string().into_bytes()
    };
    let builder = Request::builder().method(method).uri(uri);
    http_app::signed_as(builder, key_id, secret_of(key_id), t, &bytes)
        .body(Body::from(bytes))
        .unwrap()
}

/// `req` with its signature headers moved onto another method, URI and key id.
fn replayed(
    req: &Request<Body>,
    body: &Value,
    method: &str,
    uri: &str,
    key_id: &str,
) -> Request<Body> {
    let mut b = Request::builder().method(method).uri(uri);
    for (name, value) in req.headers() {
        b = if name == "greenloop-key-id" {
            b.header(name, key_id)
        } else {
            b.header(name, value)
        };
    }
    let bytes = if body.is_null() {
        Vec::new()
    } else {
        body.to_string().into_bytes()
    };
    b.body(Body::from(bytes)).unwrap()
}

impl Api {
    async fn send(&self, req: Request<Body>) -> (StatusCode, Value) {
        http_app::answer(&self.app, req).await
    }

    async fn as_(
        &self,
        key_id: &str,
        method: &str,
        uri: &str,
        body: &Value,
    ) -> (StatusCode, Value) {
        let now = self.app.now();
        self.send(signed_at(key_id, method, uri, body, now)).await
    }

    fn at(&mut self, now: i64) {
        self.app.clock = Arc::new(move || now);
    }

    /// What a refused request must not have changed: no stored action under either
    /// integration, nothing queued, and `user`'s account untouched (each test's refusals use
    /// a user with no accepted action).
    async fn no_trace(&self, id: &str, user: &str) {
        for key_id in [KEY_ID, OTHER_KEY_ID] {
            let key = format!("{key_id}/{id}");
            assert!(
                self.store.action(&key).await.unwrap().is_none(),
                "{key} stored"
            );
        }
        let pending = self.store.pending_actions(None, 100).await.unwrap();
        assert!(
            pending.iter().all(|p| !p.id.ends_with(&format!("/{id}"))),
            "{id} queued"
        );
        // A refused delivery draws no pseudonym; a user seen before has nothing credited.
        let subject = Subject::of(&Pepper::new(PEPPER.to_vec()).unwrap(), user);
        if let Some(m) = self.store.mapping(&subject).await.unwrap() {
            let account = self.store.accounts(&[m.member]).await.unwrap().remove(0);
            assert_eq!(
                (account.entries, account.balance, account.co2e_g),
                (0, 0, 0)
            );
        }
    }

    async fn credit(&self) {
        credit_pending(self.store.as_ref(), &Rules::defaults(), 4)
            .await
            .unwrap();
    }
}

fn scan(id: &str, user: &str, station: &str, at: i64) -> Value {
    json!({
        "scan_id": id, "user": user, "station": station, "at": at,
        "items": {"books": 0, "boxes": [{"brand": null, "count": 2}], "clothing_g": 0, "shoes": 0}
    })
}

fn booking(id: &str, user: &str, station: &str) -> Value {
    json!({"appointment_id": id, "user": user, "station": station, "at": NOW - HOUR})
}

#[tokio::test]
async fn a_captured_completion_replays_against_no_other_appointment() {
    let api = api().await;
    for id in ["ap-1", "ap-2"] {
        let (status, _) = api
            .as_(
                KEY_ID,
                "POST",
                "/v1/appointments",
                &booking(id, "mei", "st-a"),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED);
    }
    let done = json!({"clothing_g": 3000, "at": NOW - 60});
    let captured = signed(KEY_ID, "POST", "/v1/appointments/ap-1/complete", &done);
    // Before v2 the MAC covered only the body, which names no appointment: this credited ap-2.
    for (method, uri, key_id) in [
        ("POST", "/v1/appointments/ap-2/complete", KEY_ID),
        ("POST", "/v1/appointments/ap-1/complete?ap=2", KEY_ID),
        ("PUT", "/v1/appointments/ap-1/complete", KEY_ID),
        ("POST", "/v1/appointments/ap-1/complete", OTHER_KEY_ID),
    ] {
        let (status, body) = api
            .send(replayed(&captured, &done, method, uri, key_id))
            .await;
        assert!(
            status == StatusCode::UNAUTHORIZED || status == StatusCode::METHOD_NOT_ALLOWED,
            "{method} {uri} as {key_id}: {status} {body}"
        );
    }
    let (_, ap2) = api
        .as_(KEY_ID, "GET", "/v1/actions/ap-2", &Value::Null)
        .await;
    assert_eq!(
        ap2["status"], "booked",
        "ap-2 was not completed by the replay"
    );
    // The captured request itself still works, once.
    let (status, _) = api.send(captured).await;
    assert_eq!(status, StatusCode::ACCEPTED);
}

#[tokio::test]
async fn a_signed_status_read_names_its_action() {
    let api = api().await;
    for id in ["s-1", "s-2"] {
        api.as_(
            KEY_ID,
            "POST",
            "/v1/scans",
            &scan(id, "mei", "st-a", NOW - 60),
        )
        .await;
    }
    // Before v2 a signed empty body read any id.
    let captured = signed(KEY_ID, "GET", "/v1/actions/s-1", &Value::Null);
    let (status, body) = api
        .send(replayed(
            &captured,
            &Value::Null,
            "GET",
            "/v1/actions/s-2",
            KEY_ID,
        ))
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("bad_signature"))
    );
}

#[tokio::test]
async fn an_integration_records_only_at_its_own_stations() {
    let api = api().await;
    let (status, body) = api
        .as_(
            OTHER_KEY_ID,
            "POST",
            "/v1/scans",
            &scan("s-1", "mei", "st-a", NOW - 60),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("station_not_yours"))
    );
    assert!(body["message"].as_str().is_some_and(|m| m.contains("st-a")));
    api.no_trace("s-1", "mei").await;
    for route in ["/v1/pledges", "/v1/appointments"] {
        let body = match route {
            "/v1/pledges" => {
                json!({"pledge_id": "p-1", "user": "mei", "station": "st-a", "at": NOW, "boxes": 1})
            }
            _ => booking("p-1", "mei", "st-a"),
        };
        let (status, _) = api.as_(OTHER_KEY_ID, "POST", route, &body).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{route}");
        api.no_trace("p-1", "mei").await;
    }
    // Its own station and a shared one take it.
    for station in ["st-b", "st-ab"] {
        let (status, _) = api
            .as_(
                OTHER_KEY_ID,
                "POST",
                "/v1/scans",
                &scan(&format!("s-{station}"), "mei", station, NOW - 60),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{station}");
    }
}

#[tokio::test]
async fn an_integration_reads_and_completes_only_its_own_actions() {
    let api = api().await;
    api.as_(
        KEY_ID,
        "POST",
        "/v1/appointments",
        &booking("ap-1", "mei", "st-ab"),
    )
    .await;
    api.as_(
        KEY_ID,
        "POST",
        "/v1/scans",
        &scan("s-1", "mei", "st-a", NOW - 60),
    )
    .await;
    // qr-2 sees neither, exactly as an id that does not exist anywhere.
    let (_, missing) = api
        .as_(OTHER_KEY_ID, "GET", "/v1/actions/nowhere", &Value::Null)
        .await;
    for id in ["ap-1", "s-1"] {
        let (status, body) = api
            .as_(
                OTHER_KEY_ID,
                "GET",
                &format!("/v1/actions/{id}"),
                &Value::Null,
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body["code"], missing["code"]);
        assert_eq!(body["message"], json!(format!("action {id} not found")));
    }
    let done = json!({"clothing_g": 3000, "at": NOW - 60});
    let (status, _) = api
        .as_(
            OTHER_KEY_ID,
            "POST",
            "/v1/appointments/ap-1/complete",
            &done,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, ap) = api
        .as_(KEY_ID, "GET", "/v1/actions/ap-1", &Value::Null)
        .await;
    assert_eq!(ap["status"], "booked", "still waiting for its own courier");
}

#[tokio::test]
async fn two_integrations_may_use_one_id_and_both_are_credited() {
    let api = api().await;
    let a = scan("100234", "mei", "st-a", NOW - 60);
    let b = json!({"pledge_id": "100234", "user": "lin", "station": "st-b", "at": NOW - 30, "boxes": 3});
    assert_eq!(
        api.as_(KEY_ID, "POST", "/v1/scans", &a).await.0,
        StatusCode::ACCEPTED
    );
    let (status, body) = api.as_(OTHER_KEY_ID, "POST", "/v1/pledges", &b).await;
    assert_eq!(
        (status, body["replay"].as_bool()),
        (StatusCode::ACCEPTED, Some(false)),
        "{body}"
    );
    api.credit().await;
    let (_, sa) = api
        .as_(KEY_ID, "GET", "/v1/actions/100234", &Value::Null)
        .await;
    let (_, sb) = api
        .as_(OTHER_KEY_ID, "GET", "/v1/actions/100234", &Value::Null)
        .await;
    assert_eq!(
        (sa["status"].as_str(), sa["kind"].as_str()),
        (Some("credited"), Some("scan"))
    );
    assert_eq!(
        (sb["status"].as_str(), sb["kind"].as_str()),
        (Some("credited"), Some("pledge"))
    );
    assert_eq!(
        (sa["bonus"].as_i64(), sb["bonus"].as_i64()),
        (Some(20), Some(6))
    );
    // Each entry names its integration, so an auditor can total each one.
    let mut by_integration = std::collections::BTreeMap::new();
    let source: &dyn greenloop::store::LedgerSource = api.store.as_ref();
    for head in source.chain_heads().await.unwrap() {
        for stored in source.entries(&head.chain, 0, 100).await.unwrap() {
            let e: Value = serde_json::from_slice(&stored).unwrap();
            *by_integration
                .entry(e["integration"].as_str().unwrap().to_owned())
                .or_insert(0) += e["bonus"].as_i64().unwrap();
        }
    }
    assert_eq!(
        by_integration,
        [(KEY_ID.to_owned(), 20), (OTHER_KEY_ID.to_owned(), 6)].into()
    );
    let report = verify_store(api.store.as_ref(), |_| {}).await.unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
}

#[tokio::test]
async fn backdated_actions_and_late_ones_are_refused() {
    let mut api = api().await;
    // On 20 November, 1-19 November are out of reach: 19 × 200 points were mintable before.
    let first = NOW - 19 * 24 * HOUR;
    let (status, body) = api
        .as_(
            KEY_ID,
            "POST",
            "/v1/scans",
            &scan("old-1", "mei", "st-a", first),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("stale_action"))
    );
    api.no_trace("old-1", "mei").await;
    let mei = Subject::of(&Pepper::new(PEPPER.to_vec()).unwrap(), "mei");
    assert_eq!(
        api.store.mapping(&mei).await.unwrap(),
        None,
        "no first sight"
    );
    let edge = NOW - 48 * HOUR;
    let (status, _) = api
        .as_(
            KEY_ID,
            "POST",
            "/v1/scans",
            &scan("edge-1", "mei", "st-a", edge - 1),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = api
        .as_(
            KEY_ID,
            "POST",
            "/v1/scans",
            &scan("edge-2", "mei", "st-a", edge),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "exactly the grace is taken");
    // A completion is held to the grace too.
    api.as_(
        KEY_ID,
        "POST",
        "/v1/appointments",
        &booking("ap-1", "lin", "st-a"),
    )
    .await;
    let stale = json!({"clothing_g": 3000, "at": edge - 1});
    let (status, body) = api
        .as_(KEY_ID, "POST", "/v1/appointments/ap-1/complete", &stale)
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("stale_action"))
    );

    // Window end (20 Nov 23:59:59 +08:00) + 48 h: intake is closed, even for in-window times.
    let closes = 1_795_190_399 + 48 * HOUR;
    api.at(closes);
    let (status, _) = api
        .as_(
            KEY_ID,
            "POST",
            "/v1/scans",
            &scan("late-0", "kai", "st-a", closes - 60),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "the last second of intake");
    api.at(closes + 1);
    let (status, body) = api
        .as_(
            KEY_ID,
            "POST",
            "/v1/scans",
            &scan("late-1", "mei", "st-a", closes - 60),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("intake_closed"))
    );
    api.no_trace("late-1", "mei").await;
    let done = json!({"clothing_g": 3000, "at": closes});
    let (status, body) = api
        .as_(KEY_ID, "POST", "/v1/appointments/ap-1/complete", &done)
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("intake_closed"))
    );
}

#[tokio::test]
async fn an_unknown_key_id_and_a_bad_mac_get_one_answer() {
    let api = api().await;
    let body = scan("s-1", "mei", "st-a", NOW - 60);
    let good = signed(KEY_ID, "POST", "/v1/scans", &body);
    let unknown = replayed(&good, &body, "POST", "/v1/scans", "qr-nobody");
    let (s1, b1) = api.send(unknown).await;
    let mut bad_mac = replayed(&good, &body, "POST", "/v1/scans", KEY_ID);
    let sig = bad_mac.headers()["greenloop-signature"]
        .to_str()
        .unwrap()
        .to_owned();
    let flipped = format!("{}0", &sig[..sig.len() - 1]);
    let flipped = if flipped == sig {
        format!("{}1", &sig[..sig.len() - 1])
    } else {
        flipped
    };
    bad_mac
        .headers_mut()
        .insert("greenloop-signature", flipped.parse().unwrap());
    let (s2, b2) = api.send(bad_mac).await;
    assert_eq!((s1, &b1), (s2, &b2));
    assert_eq!(
        (s1, b1["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("bad_signature"))
    );
    api.no_trace("s-1", "mei").await;
}
