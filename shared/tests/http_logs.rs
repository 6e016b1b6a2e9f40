//! What the functions log: request ids, route templates and action ids, and never a secret, a
//! signature, an API key or a raw user id. The logs are those production writes
//! (`greenloop::config::json_logs`, with its filter), at the most verbose spec anyone could set:
//! trace everywhere, the Lambda runtime, the AWS SDK and the HTTP stack named at trace too. The
//! code clamps that to debug, and holds those crates at info, where they log no request.
//!
//! Its own test binary with a global subscriber: tracing caches per-callsite interest
//! process-wide, so a thread-local subscriber beside other tests' threads misses spans. Every
//! test here reads the one shared log.

mod support;

use axum::body::Body;
use axum::http::{Method, Request};
use greenloop::config::log_filter;
use greenloop::http::router;
use greenloop::store::{Grant, Store};
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, OnceLock};
use support::http_app;
use tower::ServiceExt;
use tracing::Level;

const SECRET: &str = "log-test-secret-0123";
const PORTAL: &str =
    "glk_10000000000000a9_9e9e9e9e9e9e9e9e9e9e9e9e9e9e9e9e9e9e9e9e9e9e9e9e9e9e9e9e9e9e9e9e";
const USER: &str = "lena-13800138000";
/// 2026-11-05 12:00 +08:00.
const NOW: i64 = 1_793_851_200;
/// The most verbose spec: what `RUST_LOG` could say.
const LOUDEST: &str = "trace,lambda_runtime=trace,lambda_runtime_api_client=trace,\
    lambda_http=trace,aws_smithy_runtime=trace,hyper=trace,hyper_util=trace,h2=trace,tower=trace";

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

impl Logs {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

/// The process's log: production's subscriber at [`LOUDEST`], installed once.
fn logs() -> &'static Logs {
    static LOGS: OnceLock<Logs> = OnceLock::new();
    LOGS.get_or_init(|| {
        use tracing_subscriber::util::SubscriberInitExt;
        let logs = Logs::default();
        let sink = logs.clone();
        greenloop::config::json_logs(Some(LOUDEST), move || sink.clone()).init();
        logs
    })
}

/// A store with campus `sjtu`, its station and the portal's key, and the app on it.
async fn app() -> (greenloop::http::App, tempfile::TempDir) {
    let (store, dir) = support::temp_store();
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
    (app, dir)
}

/// A scan by [`USER`], its body and its signature header's value.
fn scan(id: &str) -> (String, [(&'static str, String); 2]) {
    let body = format!(
        r#"{{"scan_id":"{id}","user":"{USER}","station":"st-sjtu","at":{},"items":{{"books":1,"boxes":[],"clothing_g":0,"shoes":0}}}}"#,
        NOW - 60
    );
    let headers = http_app::signature_headers(SECRET, "POST", "/v1/scans", NOW, body.as_bytes());
    (body, headers)
}

/// A POST of `body` to `path` with its signature headers.
fn signed_post(path: &str, body: String, headers: [(&'static str, String); 2]) -> Request<Body> {
    let [key_id, signature] = headers;
    Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(key_id.0, key_id.1)
        .header(signature.0, signature.1)
        .body(Body::from(body))
        .unwrap()
}

/// Asserts that `text` holds none of the request's secrets: the user id, the webhook secret, the
/// signature's MAC, the portal key and the key's secret half alone.
fn assert_no_secret(text: &str, signature: &str) {
    let mac = signature.split("v2=").nth(1).unwrap();
    let portal_secret = PORTAL.rsplit('_').next().unwrap();
    for secret in [USER, SECRET, mac, PORTAL, portal_secret] {
        assert!(!text.contains(secret), "logs leak {secret}: {text}");
    }
}

#[tokio::test]
async fn logs_carry_ids_but_no_secret_signature_key_or_user_id() {
    let logs = logs();
    let (app, _dir) = app().await;
    let send = |req: Request<Body>| router(app.clone()).oneshot(req);

    let member_path = format!("/v1/campuses/sjtu/members/{USER}");
    let put = Request::builder()
        .method(Method::PUT)
        .uri(&member_path)
        .header("authorization", format!("Bearer {PORTAL}"))
        .body(Body::empty())
        .unwrap();
    assert!(send(put).await.unwrap().status().is_success());
    let (body, [key_id, signature]) = scan("scan-log");
    let post = signed_post("/v1/scans", body, [key_id, signature.clone()]);
    assert_eq!(send(post).await.unwrap().status(), 202);

    let text = logs.text();
    assert!(text.contains("\"action_id\":\"scan-log\""), "{text}");
    assert!(text.contains("\"request_id\":\"local-"), "{text}");
    assert!(
        text.contains("/v1/campuses/{campus}/members/{user}"),
        "{text}"
    );
    assert_no_secret(&text, &signature.1);
}

// ------------------------------------------------------------------ through the Lambda runtime

/// The Lambda Runtime API, faked: hands out `events` in turn (then none), and passes each
/// invocation's answer (request id, body) on.
#[derive(Clone)]
struct RuntimeApi {
    events: Arc<Mutex<VecDeque<(String, Value)>>>,
    answers: tokio::sync::mpsc::UnboundedSender<(String, Value)>,
}

async fn next_event(
    axum::extract::State(api): axum::extract::State<RuntimeApi>,
) -> axum::response::Response {
    let next = api.events.lock().unwrap().pop_front();
    let Some((id, event)) = next else {
        // No more invocations: the runtime long-polls until the test ends.
        return std::future::pending().await;
    };
    let deadline = (chrono::Utc::now().timestamp_millis() + 60_000).to_string();
    axum::response::Response::builder()
        .header("lambda-runtime-aws-request-id", id)
        .header("lambda-runtime-deadline-ms", deadline)
        .header(
            "lambda-runtime-invoked-function-arn",
            "arn:aws:lambda:us-east-1:123456789012:function:campus",
        )
        .header("content-type", "application/json")
        .body(Body::from(event.to_string()))
        .unwrap()
}

async fn answer(
    axum::extract::State(api): axum::extract::State<RuntimeApi>,
    axum::extract::Path(id): axum::extract::Path<String>,
    body: axum::body::Bytes,
) -> axum::http::StatusCode {
    let body = serde_json::from_slice(&body).unwrap_or_else(|_| json!({"unreadable": true}));
    api.answers.send((id, body)).unwrap();
    axum::http::StatusCode::ACCEPTED
}

/// An API Gateway HTTP API event (payload format 2.0), as Lambda delivers it.
fn api_event(
    method: &str,
    route: &str,
    path: &str,
    request_id: &str,
    headers: Value,
    body: Option<&str>,
) -> Value {
    json!({
        "version": "2.0",
        "routeKey": format!("{method} {route}"),
        "rawPath": path,
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "k7q2zx9m1d",
            "domainName": "k7q2zx9m1d.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "k7q2zx9m1d",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1",
                     "sourceIp": "203.0.113.24", "userAgent": "integration/1.0"},
            "requestId": request_id,
            "routeKey": format!("{method} {route}"),
            "stage": "$default",
            "time": "05/Nov/2026:04:00:00 +0000",
            "timeEpoch": NOW * 1000
        },
        "body": body,
        "isBase64Encoded": false
    })
}

#[tokio::test]
async fn the_lambda_runtime_logs_no_event_at_the_loudest_level() {
    let logs = logs();
    let (app, _dir) = app().await;

    let (answers_tx, mut answers) = tokio::sync::mpsc::unbounded_channel();
    let member_path = format!("/v1/campuses/sjtu/members/{USER}");
    let put = api_event(
        "PUT",
        "/v1/campuses/{campus}/members/{user}",
        &member_path,
        "apigw-put-1",
        json!({"authorization": format!("Bearer {PORTAL}")}),
        None,
    );
    let (body, [key_id, signature]) = scan("scan-lambda");
    let post = api_event(
        "POST",
        "/v1/scans",
        "/v1/scans",
        "apigw-post-1",
        json!({key_id.0: key_id.1, signature.0: &signature.1, "content-type": "application/json"}),
        Some(&body),
    );
    let api = RuntimeApi {
        events: Arc::new(Mutex::new(VecDeque::from([
            ("invoke-1".to_owned(), put),
            ("invoke-2".to_owned(), post),
        ]))),
        answers: answers_tx,
    };
    let runtime_api = axum::Router::new()
        .route(
            "/2018-06-01/runtime/invocation/next",
            axum::routing::get(next_event),
        )
        .route(
            "/2018-06-01/runtime/invocation/{id}/response",
            axum::routing::post(answer),
        )
        .route(
            "/2018-06-01/runtime/invocation/{id}/error",
            axum::routing::post(answer),
        )
        .with_state(api);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, runtime_api).await });

    // What Lambda gives a function's process; this binary's only test that reads them.
    std::env::set_var("AWS_LAMBDA_RUNTIME_API", address.to_string());
    std::env::set_var("AWS_LAMBDA_FUNCTION_NAME", "campus");
    std::env::set_var("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256");
    std::env::set_var("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST");
    let collect = async {
        let mut statuses = std::collections::BTreeMap::new();
        for _ in 0..2 {
            let wait = std::time::Duration::from_secs(30);
            let (id, body) = tokio::time::timeout(wait, answers.recv())
                .await
                .expect("the function answers")
                .unwrap();
            statuses.insert(id, body["statusCode"].clone());
        }
        statuses
    };
    // The function runs until both answers are in, then is dropped (its future is not Send).
    let statuses = tokio::select! {
        stopped = lambda_http::run(router(app)) => panic!("the runtime stopped: {stopped:?}"),
        statuses = collect => statuses,
    };
    server.abort();
    assert_eq!(statuses["invoke-1"], 200, "{statuses:?}");
    assert_eq!(statuses["invoke-2"], 202, "{statuses:?}");

    let text = logs.text();
    // The function's own lines went through this subscriber, with API Gateway's request ids.
    assert!(text.contains("\"request_id\":\"apigw-put-1\""), "{text}");
    assert!(text.contains("\"action_id\":\"scan-lambda\""), "{text}");
    assert_no_secret(&text, &signature.1);
}

#[tokio::test]
async fn the_installed_filter_is_debug_for_ours_and_info_for_the_runtime() {
    let logs = logs();
    tracing::debug!(target: "greenloop::probe", "probe: ours at debug");
    tracing::trace!(target: "greenloop::probe", "probe: ours at trace");
    tracing::info!(target: "lambda_runtime::probe", "probe: runtime at info");
    tracing::debug!(target: "lambda_runtime::probe", "probe: runtime at debug");
    tracing::debug!(target: "aws_smithy_runtime::probe", "probe: sdk at debug");
    let text = logs.text();
    assert!(text.contains("probe: ours at debug"), "{text}");
    assert!(text.contains("probe: runtime at info"), "{text}");
    for quiet in [
        "probe: ours at trace",
        "probe: runtime at debug",
        "probe: sdk at debug",
    ] {
        assert!(!text.contains(quiet), "{quiet}: {text}");
    }
}

// ------------------------------------------------------------------ the filter itself

/// The most verbose level `filter` lets `target` log at, if any.
fn loudest(filter: &tracing_subscriber::filter::Targets, target: &str) -> Option<Level> {
    [
        Level::TRACE,
        Level::DEBUG,
        Level::INFO,
        Level::WARN,
        Level::ERROR,
    ]
    .into_iter()
    .find(|l| filter.would_enable(target, l))
}

#[test]
fn trace_is_clamped_to_debug_and_the_runtime_sdk_and_http_stack_held_at_info() {
    for spec in ["trace", "TRACE", "debug", "DEBUG"] {
        let f = log_filter(Some(spec));
        assert_eq!(loudest(&f, "greenloop::http"), Some(Level::DEBUG), "{spec}");
        assert_eq!(loudest(&f, "greenloop_core"), Some(Level::DEBUG), "{spec}");
        for quiet in [
            "lambda_runtime::layers::api_response",
            "lambda_runtime_api_client",
            "lambda_http::request",
            "aws_config",
            "aws_sdk_dynamodb",
            "aws_sdk_ssm",
            "aws_smithy_runtime::client::orchestrator",
            "aws_smithy_http_client",
            "hyper::proto::h1",
            "hyper_util::client::legacy",
            "h2::codec",
            "tower::buffer",
            "tower_http::trace",
            "rustls::client",
            "reqwest::connect",
        ] {
            assert_eq!(loudest(&f, quiet), Some(Level::INFO), "{spec}: {quiet}");
        }
    }
}

#[test]
fn a_directive_naming_a_quiet_crate_is_held_at_info_too() {
    let f = log_filter(Some(
        "info,lambda_runtime=trace,aws_smithy_runtime::client=trace,hyper_util=debug,lambda=trace,greenloop=trace",
    ));
    for quiet in [
        "lambda_runtime",
        "lambda_runtime::layers::api_response",
        "aws_smithy_runtime::client::orchestrator",
        "hyper_util::client::legacy",
        "lambda_http",
    ] {
        assert_eq!(loudest(&f, quiet), Some(Level::INFO), "{quiet}");
    }
    assert_eq!(loudest(&f, "greenloop::credit"), Some(Level::DEBUG));
    assert_eq!(loudest(&f, "lambda_other"), Some(Level::DEBUG));
}

#[test]
fn quieter_levels_stay_quieter() {
    let f = log_filter(Some("warn"));
    assert_eq!(loudest(&f, "greenloop"), Some(Level::WARN));
    assert_eq!(loudest(&f, "lambda_runtime"), Some(Level::WARN));
    let f = log_filter(Some("error,aws_smithy_runtime=off"));
    assert_eq!(loudest(&f, "aws_smithy_runtime::client"), None);
    assert_eq!(loudest(&f, "aws_config"), Some(Level::ERROR));
    // Only our crate named: everything else is off, the quiet crates included.
    let f = log_filter(Some("greenloop=debug"));
    assert_eq!(loudest(&f, "greenloop::http"), Some(Level::DEBUG));
    assert_eq!(loudest(&f, "lambda_runtime"), None);
    assert_eq!(loudest(&f, "hyper"), None);
}

#[test]
fn no_spec_or_an_unreadable_one_is_info() {
    for spec in [None, Some("greenloop=loud"), Some(" ")] {
        let f = log_filter(spec);
        assert_eq!(loudest(&f, "greenloop"), Some(Level::INFO), "{spec:?}");
        assert_eq!(loudest(&f, "lambda_runtime"), Some(Level::INFO), "{spec:?}");
    }
}

/// Erasure through the signed route: afterwards the logs hold neither the user id nor the
/// subject (the key of the person's mapping, the one link from the user id to the pseudonym),
/// the store no longer maps it, the database file never held the user id, and the pseudonymous
/// entry stays in the ledger.
#[tokio::test]
async fn after_erasure_nothing_stored_or_logged_links_the_user_id_to_the_pseudonym() {
    use greenloop::domain::{Pepper, Subject};
    let logs = logs();
    let (app, dir) = app().await;
    let send = |req: Request<Body>| router(app.clone()).oneshot(req);
    let (body, [key_id, signature]) = scan("scan-erase");
    let post = signed_post("/v1/scans", body, [key_id, signature.clone()]);
    assert_eq!(send(post).await.unwrap().status(), 202);
    greenloop::credit::credit_pending(
        app.store.as_ref(),
        &greenloop::catalog::Rules::defaults(),
        4,
    )
    .await
    .unwrap();
    let subject = Subject::of(
        &Pepper::new(b"log-test-pepper-0123".to_vec()).unwrap(),
        USER,
    );
    let member = app.store.mapping(&subject).await.unwrap().unwrap().member;
    let file_holds = |needle: &str| {
        let file = std::fs::read(dir.path().join(greenloop::store::embedded::FILE_NAME)).unwrap();
        file.windows(needle.len()).any(|w| w == needle.as_bytes())
    };
    assert!(
        file_holds(subject.as_str()),
        "the mapping is in the file before"
    );

    let path = format!("/v1/members/{USER}/erasure");
    let body = r#"{"request":"erase-log-1"}"#;
    let [key_id, signature] =
        http_app::signature_headers(SECRET, "POST", &path, NOW, body.as_bytes());
    let erase = signed_post(&path, body.to_owned(), [key_id, signature.clone()]);
    assert_eq!(send(erase).await.unwrap().status(), 201);
    assert_eq!(app.store.mapping(&subject).await.unwrap(), None);
    let account = app.store.accounts(&[member]).await.unwrap().remove(0);
    assert_eq!(account.entries, 1, "the pseudonymous entry stays");

    let text = logs.text();
    assert!(text.contains("\"erased\""), "{text}");
    assert_no_secret(&text, &signature.1);
    assert!(
        !text.contains(subject.as_str()),
        "logs name the subject: {text}"
    );
    // The user id was never written. The subject's deleted row may outlive the erasure in the
    // file's free pages until redb reuses them (docs/privacy.md, "Other copies"): the embedded
    // store is for local runs; the store answers for it as erased.
    assert!(!file_holds(USER), "the database file holds the user id");
}
