//! Disposition through the router on a real embedded store: a station's signed report is
//! entered on its chain (201), answered again as a replay (200) and refused with another body
//! (409); an integration reports only for its own stations (403); what breaks the mass balance
//! is 422 with the rule's code; every refusal leaves no trace; the audit routes read the
//! figures back with an auditor key only; and the ledger verifies, balance included.

mod support;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use greenloop::catalog::Rules;
use greenloop::credit::credit_pending;
use greenloop::http::App;
use greenloop::store::{Grant, Store};
use greenloop::verify::verify_store;
use serde_json::{json, Value};
use std::sync::Arc;
use support::http_app::{self, KEY_ID, OTHER_KEY_ID, OTHER_SECRET};

const SECRET: &str = "qr-1-integration-secret-0123";
const PEPPER: &[u8] = b"disposition-test-pepper-0123";
/// 2026-11-20 12:00 +08:00.
const NOW: i64 = 1_795_147_200;
const AUDITOR: &str =
    "glk_5a0000000000000a_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const PORTAL: &str =
    "glk_5b0000000000000b_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

struct Api {
    app: App,
    store: Arc<dyn Store>,
    _dir: tempfile::TempDir,
}

/// Station `st-a` belongs to qr-1, `st-b` to qr-2; 12 boxes dropped at `st-a`, 4 at `st-b`,
/// credited.
async fn api() -> Api {
    let (store, dir) = support::temp_store();
    let store: Arc<dyn Store> = Arc::new(store);
    http_app::put_campuses(store.as_ref(), &[("sjtu", "SJTU", "Shanghai")]).await;
    http_app::put_station_of(store.as_ref(), "st-a", "Shanghai", None, &[KEY_ID]).await;
    http_app::put_station_of(store.as_ref(), "st-b", "Shanghai", None, &[OTHER_KEY_ID]).await;
    http_app::put_api_keys(
        store.as_ref(),
        &[
            (AUDITOR, Grant::Auditor),
            (
                PORTAL,
                Grant::Campus {
                    campus: "sjtu".into(),
                },
            ),
        ],
    )
    .await;
    let app = http_app::app(store.clone(), PEPPER, SECRET, NOW);
    for (key_id, station, n) in [(KEY_ID, "st-a", 12), (OTHER_KEY_ID, "st-b", 4)] {
        let scan = json!({
            "scan_id": format!("scan-{station}"), "user": "alice", "station": station,
            "at": NOW - 3_600,
            "items": {"books": 0, "boxes": [{"brand": "brand-01", "count": n}], "clothing_g": 0, "shoes": 0},
        });
        let (status, body) =
            http_app::answer(&app, signed(key_id, "POST", "/v1/scans", &scan)).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    }
    credit_pending(store.as_ref(), &Rules::defaults(), 4)
        .await
        .unwrap();
    Api {
        app,
        store,
        _dir: dir,
    }
}

fn signed(key_id: &str, method: &str, uri: &str, body: &Value) -> Request<Body> {
    let bytes = body.to_string().into_bytes();
    let secret = if key_id == KEY_ID {
        SECRET
    } else {
        OTHER_SECRET
    };
    let builder = Request::builder().method(method).uri(uri);
    http_app::signed_as(builder, key_id, secret, NOW, &bytes)
        .body(Body::from(bytes))
        .unwrap()
}

fn report(id: &str, station: &str, report: Value) -> Value {
    json!({"report_id": id, "station": station, "at": NOW, "report": report})
}

async fn post(api: &Api, key_id: &str, body: &Value) -> (StatusCode, Value) {
    http_app::answer(&api.app, signed(key_id, "POST", "/v1/disposition", body)).await
}

/// Chain heads and both stations' stock: what a refused report must leave as it was.
async fn trace(api: &Api) -> String {
    let s = api.store.as_ref();
    format!(
        "{:?} {:?} {:?} {:?}",
        s.chain_heads().await.unwrap(),
        s.station_stock("st-a").await.unwrap(),
        s.station_stock("st-b").await.unwrap(),
        s.disposition_totals().await.unwrap()
    )
}

async fn refused(api: &Api, key_id: &str, body: &Value, status: StatusCode, code: &str) {
    let before = trace(api).await;
    let (got, answer) = post(api, key_id, body).await;
    assert_eq!(
        (got, answer["code"].as_str()),
        (status, Some(code)),
        "{answer}"
    );
    assert_eq!(trace(api).await, before, "a refused report wrote something");
}

async fn audit(api: &Api, key: &str, uri: &str) -> (StatusCode, Value) {
    let req = Request::builder()
        .uri(uri)
        .header("authorization", format!("Bearer {key}"))
        .body(Body::empty())
        .unwrap();
    http_app::answer(&api.app, req).await
}

#[tokio::test]
async fn a_report_is_entered_once_and_answered_again() {
    let api = api().await;
    let body = report(
        "out-1",
        "st-a",
        json!({"kind": "outgoing", "parcels": 20, "reused_boxes": 9}),
    );
    let (status, first) = post(&api, KEY_ID, &body).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    assert_eq!(
        (
            &first["kind"],
            &first["boxes"],
            &first["stock_before"],
            &first["replay"]
        ),
        (&json!("outgoing"), &json!(9), &json!(12), &json!(false))
    );
    let (status, again) = post(&api, KEY_ID, &body).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (&again["seq"], &again["hash"], &again["replay"]),
        (&first["seq"], &first["hash"], &json!(true))
    );
    // Counts are JSON Schema integers: 20.0 is 20, so the same report again, a replay.
    let written_as_floats = report(
        "out-1",
        "st-a",
        json!({"kind": "outgoing", "parcels": 20.0, "reused_boxes": 9.0}),
    );
    let (status, floats) = post(&api, KEY_ID, &written_as_floats).await;
    assert_eq!(
        (status, &floats["hash"], &floats["replay"]),
        (StatusCode::OK, &first["hash"], &json!(true))
    );
    let fractional = report(
        "out-2",
        "st-a",
        json!({"kind": "outgoing", "parcels": 20.5, "reused_boxes": 0}),
    );
    refused(
        &api,
        KEY_ID,
        &fractional,
        StatusCode::BAD_REQUEST,
        "invalid_field",
    )
    .await;
    let other = report(
        "out-1",
        "st-a",
        json!({"kind": "outgoing", "parcels": 20, "reused_boxes": 8}),
    );
    refused(&api, KEY_ID, &other, StatusCode::CONFLICT, "conflict").await;
    // Ids are the integration's own: another platform may use the same one.
    let theirs = report(
        "out-1",
        "st-b",
        json!({"kind": "outgoing", "parcels": 4, "reused_boxes": 2}),
    );
    assert_eq!(
        post(&api, OTHER_KEY_ID, &theirs).await.0,
        StatusCode::CREATED
    );
    let verdict = verify_store(api.store.as_ref(), |_| {}).await.unwrap();
    assert!(verdict.is_ok(), "{:?}", verdict.problems);
}

#[tokio::test]
async fn what_breaks_the_balance_or_the_bounds_is_refused_and_writes_nothing() {
    let api = api().await;
    let out = |n: u64| {
        report(
            "out-1",
            "st-a",
            json!({"kind": "outgoing", "parcels": 40, "reused_boxes": n}),
        )
    };
    refused(
        &api,
        KEY_ID,
        &out(13),
        StatusCode::UNPROCESSABLE_ENTITY,
        "over_stock",
    )
    .await;
    // Another integration's station: 403, whatever the body.
    refused(
        &api,
        OTHER_KEY_ID,
        &out(1),
        StatusCode::FORBIDDEN,
        "station_not_yours",
    )
    .await;
    let more = report(
        "out-2",
        "st-a",
        json!({"kind": "outgoing", "parcels": 1, "reused_boxes": 2}),
    );
    refused(
        &api,
        KEY_ID,
        &more,
        StatusCode::UNPROCESSABLE_ENTITY,
        "reused_over_parcels",
    )
    .await;
    let bale = |id: &str, g: u64| {
        report(
            id,
            "st-a",
            json!({"kind": "baled", "baled_g": g, "mill": "mill-1", "ticket": "T-1"}),
        )
    };
    assert_eq!(
        post(&api, KEY_ID, &bale("b-1", 3_000)).await.0,
        StatusCode::CREATED
    );
    refused(
        &api,
        KEY_ID,
        &bale("b-2", 300),
        StatusCode::UNPROCESSABLE_ENTITY,
        "ticket_used",
    )
    .await;
    let batch = |wb: u64| {
        report(
            "w-1",
            "st-a",
            json!({"kind": "workbooks", "batch": "B-1", "mill": "mill-1", "workbooks": wb, "draws": [{"ticket": "T-1", "pulp_g": 3_000}]}),
        )
    };
    refused(
        &api,
        KEY_ID,
        &batch(55),
        StatusCode::UNPROCESSABLE_ENTITY,
        "workbooks_over_pulp",
    )
    .await;
    assert_eq!(post(&api, KEY_ID, &batch(54)).await.0, StatusCode::CREATED);
    let give = |id: &str, n: u64| {
        report(
            id,
            "st-a",
            json!({"kind": "donation", "batch": "B-1", "mill": "mill-1", "workbooks": n, "school": "school-1", "organisation": "cfpa", "receipt": id}),
        )
    };
    refused(
        &api,
        KEY_ID,
        &give("g-1", 55),
        StatusCode::UNPROCESSABLE_ENTITY,
        "over_batch",
    )
    .await;
    assert_eq!(
        post(&api, KEY_ID, &give("g-1", 54)).await.0,
        StatusCode::CREATED
    );
    // Not a report at all, unknown fields, unsigned.
    let odd = report("x-1", "st-a", json!({"kind": "landfill", "kg": 3}));
    refused(&api, KEY_ID, &odd, StatusCode::BAD_REQUEST, "invalid_field").await;
    let extra = report(
        "x-2",
        "st-a",
        json!({"kind": "outgoing", "parcels": 1, "reused_boxes": 0, "co2e_g": 9}),
    );
    refused(
        &api,
        KEY_ID,
        &extra,
        StatusCode::BAD_REQUEST,
        "invalid_field",
    )
    .await;
    let unsigned = Request::builder()
        .method("POST")
        .uri("/v1/disposition")
        .body(Body::from(out(1).to_string()))
        .unwrap();
    assert_eq!(
        http_app::answer(&api.app, unsigned).await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn the_audit_routes_read_the_figures_with_an_auditor_key() {
    let api = api().await;
    let body = report(
        "out-1",
        "st-a",
        json!({"kind": "outgoing", "parcels": 20, "reused_boxes": 9}),
    );
    assert_eq!(post(&api, KEY_ID, &body).await.0, StatusCode::CREATED);
    let (status, national) = audit(&api, AUDITOR, "/v1/audit/disposition").await;
    assert_eq!(status, StatusCode::OK, "{national}");
    assert_eq!(
        (
            &national["totals"]["collected"],
            &national["totals"]["reused"],
            &national["stock"],
            &national["reuse_rate_bp"]
        ),
        (&json!(16), &json!(9), &json!(7), &json!(4_500))
    );
    let (status, station) = audit(&api, AUDITOR, "/v1/audit/disposition/stations/st-a").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (&station["collected"], &station["stock"]),
        (&json!(12), &json!(3))
    );
    assert_eq!(
        audit(&api, AUDITOR, "/v1/audit/disposition/stations/st-zz")
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        audit(&api, PORTAL, "/v1/audit/disposition").await.0,
        StatusCode::FORBIDDEN
    );
}
