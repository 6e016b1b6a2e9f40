//! API Gateway HTTP API events (payload format 2.0), as the Lambda functions receive them.
//!
//! Each fixture in `tests/fixtures/apigw-v2/` is a realistic event. It is read with
//! `lambda_http::request::from_str`, exactly what the runtime does with an invocation, and sent
//! through the routers built the way the `scan`, `campus` and `audit` binaries build them
//! (`greenloop::http::mount(<group>::routes(&app))`). Signed fixtures hold the placeholder
//! [`PLACEHOLDER`] in `greenloop-signature`, which the test fills in, since a signature
//! carries its timestamp. Every answer must carry API Gateway's request id as `x-request-id`.

use axum::http::{HeaderValue, StatusCode};
use greenloop::catalog::Rules;
use greenloop::credit::credit_pending;
use greenloop::domain::{Campus, Pepper, Station};
use greenloop::http::signature::{sign, Message};
use greenloop::http::{audit, campus, mount, scan, App, Integrations};
use greenloop::store::embedded::EmbeddedStore;
use greenloop::store::{ApiKey, Grant, Store};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use tower::ServiceExt;

/// 2026-11-07 12:00:00 +08:00, the fixtures' `requestContext.timeEpoch`.
const NOW: i64 = 1_794_024_000;
const SECRET: &str = "qr-secret-0123456789abcdef";
const PLACEHOLDER: &str = "{{GREENLOOP_SIGNATURE}}";
/// The bearer keys the fixtures carry.
const CAMPUS_A_KEY: &str =
    "glk_ca0000000000000a_0001000100010001000100010001000100010001000100010001000100010001";
const AUDITOR_KEY: &str =
    "glk_a0000000000000d1_0004000400040004000400040004000400040004000400040004000400040004";

/// Every fixture, and whether the test signs it.
const FIXTURES: [(&str, bool); 8] = [
    ("scan_signed.json", true),
    ("pledge_base64.json", true),
    ("action_status_signed.json", true),
    ("scan_bad_signature.json", false),
    ("campus_summary.json", false),
    ("campus_leaderboard_bad_limit.json", false),
    ("audit_heads.json", false),
    ("unknown_route.json", false),
];

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/apigw-v2")
}

fn event_json(name: &str) -> Value {
    let text = std::fs::read_to_string(dir().join(name)).expect("fixture readable");
    serde_json::from_str(&text).expect("fixture is JSON")
}

/// The fixture as the Lambda runtime hands it to a function, signed now when it asks to be.
fn request(name: &str) -> (lambda_http::Request, String) {
    let text = std::fs::read_to_string(dir().join(name)).expect("fixture readable");
    let mut req = lambda_http::request::from_str(&text)
        .unwrap_or_else(|e| panic!("{name} is an API Gateway event: {e}"));
    let signed = FIXTURES.iter().any(|&(n, s)| n == name && s);
    let placeholder = req
        .headers()
        .get("greenloop-signature")
        .is_some_and(|v| v == PLACEHOLDER);
    assert_eq!(
        placeholder, signed,
        "{name}: a signed fixture holds the signature placeholder, and only those"
    );
    if signed {
        // The MAC covers the request as the sender put it on the wire: the path and query are
        // the event's raw ones, which is what the function sees; the body as the function
        // receives it (decoded from base64 if it was).
        let event = event_json(name);
        assert_eq!(req.uri().path(), event["rawPath"], "{name}");
        let query = req.uri().query().unwrap_or("");
        assert_eq!(
            query,
            event["rawQueryString"].as_str().unwrap_or(""),
            "{name}"
        );
        let key_id = req.headers()["greenloop-key-id"]
            .to_str()
            .unwrap()
            .to_owned();
        let message = Message {
            method: req.method().as_str(),
            path: req.uri().path(),
            query,
            key_id: &key_id,
            body: req.body().as_ref(),
        };
        let sig = sign(SECRET.as_bytes(), &message, NOW);
        req.headers_mut().insert(
            "greenloop-signature",
            HeaderValue::from_str(&sig).expect("a header value"),
        );
    }
    let id = event_json(name)["requestContext"]["requestId"]
        .as_str()
        .expect("a request id")
        .to_owned();
    (req, id)
}

struct Functions {
    scan: axum::Router,
    campus: axum::Router,
    audit: axum::Router,
    store: Arc<dyn Store>,
    _dir: tempfile::TempDir,
}

async fn functions() -> Functions {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store: Arc<dyn Store> = Arc::new(EmbeddedStore::open(dir.path()).expect("open"));
    store
        .put_campus(&Campus {
            id: "campus-a".into(),
            name: "Campus A University".into(),
            city: "Hangzhou".into(),
        })
        .await
        .unwrap();
    store
        .put_station(&Station {
            id: "st-0001".into(),
            city: "Hangzhou".into(),
            campus: Some("campus-a".into()),
            integrations: vec!["qr-1".into()],
        })
        .await
        .unwrap();
    for (key, grant) in [
        (
            CAMPUS_A_KEY,
            Grant::Campus {
                campus: "campus-a".into(),
            },
        ),
        (AUDITOR_KEY, Grant::Auditor),
    ] {
        let record = ApiKey::of_key(key, grant, 0, None).expect("a well-formed key");
        store.put_api_key(&record).await.unwrap();
    }
    let mut app = App::new(
        store.clone(),
        Pepper::new(b"lambda-fixture-pepper-0123456789".to_vec()).unwrap(),
        Integrations::parse(&format!("qr-1={SECRET}")).unwrap(),
        Rules::defaults(),
    );
    app.clock = Arc::new(|| NOW);
    Functions {
        scan: mount(scan::routes(&app)),
        campus: mount(campus::routes(&app)),
        audit: mount(audit::routes(&app)),
        store,
        _dir: dir,
    }
}

/// Invokes `function` with fixture `name`; checks the answer is JSON and carries the event's
/// request id.
async fn invoke(function: &axum::Router, name: &str) -> (StatusCode, Value) {
    let (req, request_id) = request(name);
    let res = function
        .clone()
        .oneshot(req)
        .await
        .expect("the router answers");
    let status = res.status();
    assert_eq!(
        res.headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok()),
        Some(request_id.as_str()),
        "{name}: x-request-id is API Gateway's requestContext.requestId"
    );
    assert_eq!(
        res.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/json"),
        "{name}: JSON answer"
    );
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    let body: Value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("{name}: JSON body: {e}: {bytes:?}"));
    (status, body)
}

#[tokio::test]
async fn a_signed_scan_is_recorded_replayed_and_read_back() {
    let f = functions().await;
    let (status, body) = invoke(&f.scan, "scan_signed.json").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(
        body,
        json!({"action": "fx-scan-0001", "kind": "scan", "status": "pending", "replay": false})
    );
    // The platform retries the same event: a replay, nothing recorded twice.
    let (status, body) = invoke(&f.scan, "scan_signed.json").await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(body["replay"], true);

    let (status, body) = invoke(&f.scan, "action_status_signed.json").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({"action": "fx-scan-0001", "kind": "scan", "status": "pending"})
    );
    credit_pending(f.store.as_ref(), &Rules::defaults(), 4)
        .await
        .unwrap();
    let (status, body) = invoke(&f.scan, "action_status_signed.json").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "credited");
    // 2 boxes of partner brand-07 × 10 × 200% + 1 book × 3.
    assert_eq!(body["bonus"], 43);
    assert!(body["chain"].as_str().unwrap().starts_with("shard-"));
}

#[tokio::test]
async fn a_base64_body_is_decoded_before_the_signature_check() {
    let event = event_json("pledge_base64.json");
    assert_eq!(event["isBase64Encoded"], true);
    let encoded = event["body"].as_str().unwrap();
    assert!(
        serde_json::from_str::<Value>(encoded).is_err(),
        "the fixture's body really is base64"
    );
    let (req, _) = request("pledge_base64.json");
    let decoded: Value = serde_json::from_slice(req.body().as_ref()).expect("decoded JSON");
    assert_eq!(decoded["pledge_id"], "fx-pledge-0001");
    assert_eq!(
        event["headers"]["content-length"],
        req.body().len().to_string(),
        "content-length is the decoded length"
    );

    let f = functions().await;
    let (status, body) = invoke(&f.scan, "pledge_base64.json").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(
        body,
        json!({"action": "fx-pledge-0001", "kind": "pledge", "status": "pending", "replay": false})
    );
    let recorded = f
        .store
        .action("qr-1/fx-pledge-0001")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(recorded.action.items.box_count(), 3);
}

#[tokio::test]
async fn a_bad_signature_is_refused_and_nothing_is_recorded() {
    let f = functions().await;
    let (status, body) = invoke(&f.scan, "scan_bad_signature.json").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["code"], "bad_signature");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
    assert!(f.store.action("qr-1/fx-scan-0002").await.unwrap().is_none());
}

#[tokio::test]
async fn a_campus_portal_reads_its_summary_with_a_bearer_key() {
    let f = functions().await;
    invoke(&f.scan, "scan_signed.json").await;
    credit_pending(f.store.as_ref(), &Rules::defaults(), 4)
        .await
        .unwrap();
    let (status, body) = invoke(&f.campus, "campus_summary.json").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["campus"], "campus-a");
    assert_eq!(body["name"], "Campus A University");
    assert_eq!(body["today"]["day"], "2026-11-07");
    // The scanning member never affiliated: nothing counts for the campus yet.
    assert_eq!(
        body["campaign"],
        json!({"bonus": 0, "co2e_g": 0, "entries": 0})
    );
    assert_eq!(body["days"], json!([]));

    // The query string reaches the router: limit=0 is refused.
    let (status, body) = invoke(&f.campus, "campus_leaderboard_bad_limit.json").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["code"], "bad_limit");

    // Each function mounts only its own routes.
    let (status, body) = invoke(&f.scan, "campus_summary.json").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["code"], "not_found");
    let (status, _) = invoke(&f.audit, "scan_signed.json").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_auditor_reads_the_chain_heads() {
    let f = functions().await;
    let (status, body) = invoke(&f.audit, "audit_heads.json").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let before: u64 = body
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["size"].as_u64().unwrap())
        .sum();
    assert_eq!(before, 0, "nothing credited yet");

    invoke(&f.scan, "scan_signed.json").await;
    credit_pending(f.store.as_ref(), &Rules::defaults(), 4)
        .await
        .unwrap();
    let (status, body) = invoke(&f.audit, "audit_heads.json").await;
    assert_eq!(status, StatusCode::OK);
    let heads: Vec<&Value> = body
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["size"] != 0)
        .collect();
    assert_eq!(heads.len(), 1, "{body}");
    assert_eq!(heads[0]["size"], 1);
    let hash = heads[0]["hash"].as_str().unwrap();
    assert!(hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_ne!(hash, "0".repeat(64));
}

#[tokio::test]
async fn an_unknown_route_is_a_json_404_in_every_function() {
    let f = functions().await;
    for function in [&f.scan, &f.campus, &f.audit] {
        let (status, body) = invoke(function, "unknown_route.json").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body["code"], "not_found");
        assert_eq!(body["message"], "no such route");
    }
}

#[test]
fn the_fixtures_are_api_gateway_v2_events() {
    let on_disk: BTreeSet<String> = std::fs::read_dir(dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    let listed: BTreeSet<String> = FIXTURES.iter().map(|(n, _)| (*n).to_owned()).collect();
    assert_eq!(
        on_disk, listed,
        "every fixture on disk is listed, and exists"
    );

    let mut ids = BTreeSet::new();
    for (name, _) in FIXTURES {
        let e = event_json(name);
        let ctx = &e["requestContext"];
        assert_eq!(e["version"], "2.0", "{name}");
        assert_eq!(e["routeKey"], ctx["routeKey"], "{name}");
        assert_eq!(e["rawPath"], ctx["http"]["path"], "{name}");
        assert_eq!(ctx["stage"], "$default", "{name}");
        assert_eq!(ctx["timeEpoch"], NOW * 1000, "{name}");
        assert!(e["rawQueryString"].is_string(), "{name}");
        assert!(e["isBase64Encoded"].is_boolean(), "{name}");
        let method = ctx["http"]["method"].as_str().unwrap();
        let route = e["routeKey"].as_str().unwrap();
        assert!(
            route == "$default" || route.starts_with(&format!("{method} /v1/")),
            "{name}: route key {route}"
        );
        for k in e["headers"].as_object().unwrap().keys() {
            assert_eq!(
                *k,
                k.to_ascii_lowercase(),
                "{name}: API Gateway lowercases headers"
            );
        }
        assert!(
            ids.insert(ctx["requestId"].as_str().unwrap().to_owned()),
            "{name}: request ids are distinct"
        );
        let (req, _) = request(name);
        assert_eq!(req.method().as_str(), method, "{name}");
        assert_eq!(req.uri().path(), e["rawPath"], "{name}");
        if let Some(len) = e["headers"]["content-length"].as_str() {
            assert_eq!(len, req.body().len().to_string(), "{name}: content-length");
        }
    }
}
