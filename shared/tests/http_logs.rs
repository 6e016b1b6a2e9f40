//! What the HTTP layer logs: request ids, route templates and action ids, and never a secret,
//! a signature, an API key or a raw user id.
//!
//! Its own test binary with a global subscriber: tracing caches per-callsite interest
//! process-wide, so a thread-local subscriber beside other tests' threads misses spans.

mod support;

use axum::body::Body;
use axum::http::{Method, Request};
use greenloop::http::router;
use greenloop::store::{Grant, Store};
use std::sync::{Arc, Mutex};
use support::http_app;
use tower::ServiceExt;

const SECRET: &str = "log-test-secret-0123";
const PORTAL: &str =
    "glk_10000000000000a9_9e9e9e9e9e9e9e9e9e9e9e9e9e9e9e9e9e9e9e9e9e9e9e9e9e9e9e9e9e9e9e9e";
const USER: &str = "lena-13800138000";
/// 2026-11-05 12:00 +08:00.
const NOW: i64 = 1_793_851_200;

/// A log sink the test can read back.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn logs_carry_ids_but_no_secret_signature_key_or_user_id() {
    let logs = Logs::default();
    let sink = logs.clone();
    tracing_subscriber::fmt()
        .json()
        .with_current_span(true)
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(move || sink.clone())
        .init();

    let (store, _dir) = support::temp_store();
    let store: Arc<dyn Store> = Arc::new(store);
    http_app::put_campuses(
        store.as_ref(),
        &[("sjtu", "Shanghai Jiao Tong University", "Shanghai")],
    )
    .await;
    http_app::put_stations(store.as_ref(), &[("st-sjtu", "Shanghai", Some("sjtu"))]).await;
    let grant = Grant::Campus {
        campus: "sjtu".into(),
    };
    http_app::put_api_keys(store.as_ref(), &[(PORTAL, grant)]).await;
    let app = http_app::app(store, b"log-test-pepper-0123", SECRET, NOW);
    let send = |req: Request<Body>| router(app.clone()).oneshot(req);

    let member_path = format!("/v1/campuses/sjtu/members/{USER}");
    let put = Request::builder()
        .method(Method::PUT)
        .uri(&member_path)
        .header("authorization", format!("Bearer {PORTAL}"))
        .body(Body::empty())
        .unwrap();
    assert!(send(put).await.unwrap().status().is_success());
    let body = format!(
        r#"{{"scan_id":"scan-log","user":"{USER}","station":"st-sjtu","at":{},"items":{{"books":1,"boxes":[],"clothing_g":0,"shoes":0}}}}"#,
        NOW - 60
    );
    let [key_id, signature] =
        http_app::signature_headers(SECRET, "POST", "/v1/scans", NOW, body.as_bytes());
    let post = Request::builder()
        .method(Method::POST)
        .uri("/v1/scans")
        .header(key_id.0, key_id.1)
        .header(signature.0, &signature.1)
        .body(Body::from(body))
        .unwrap();
    assert_eq!(send(post).await.unwrap().status(), 202);

    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(text.contains("\"action_id\":\"scan-log\""), "{text}");
    assert!(text.contains("\"request_id\":\"local-"), "{text}");
    assert!(
        text.contains("/v1/campuses/{campus}/members/{user}"),
        "{text}"
    );
    let mac = signature.1.split("v2=").nth(1).unwrap();
    // The key's secret half, alone as well as inside the whole key.
    let portal_secret = PORTAL.rsplit('_').next().unwrap();
    for secret in [USER, SECRET, mac, PORTAL, portal_secret] {
        assert!(!text.contains(secret), "logs leak {secret}: {text}");
    }
}
