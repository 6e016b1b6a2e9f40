//! The HTTP API's behaviour, driven in-process through the router with tower's `oneshot`, on a
//! real embedded store: signatures and rotation, idempotent intake, every class of bad input
//! (4xx, JSON error, nothing written), crediting and real-time reads, campus scoping, pledges,
//! pickups, concurrent duplicate deliveries, and paged statements, histories and checkpoints.

mod support;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use greenloop::catalog::Rules;
use greenloop::checkpoint::tree::{self, STATEMENT_PAGE};
use greenloop::checkpoint::LogKey;
use greenloop::credit::credit_pending;
use greenloop::http::signature::{sign, Message};
use greenloop::http::{router, App};
use greenloop::proof::{verify_statement, Statement, StatementPage};
use greenloop::store::{Grant, Store};
use greenloop_testkit::TEST_LOG_KEY;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::sync::Arc;
use support::http_app;
use tower::ServiceExt;

const OLD: &str = "old-secret-0123456789";
const NEW: &str = "new-secret-0123456789";
/// 2026-11-05 12:00 +08:00, inside the campaign.
const NOW: i64 = 1_793_851_200;
const PORTAL_A: &str =
    "glk_5a0000000000000a_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const PORTAL_B: &str =
    "glk_5b0000000000000b_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
const AUDITOR: &str =
    "glk_a0000000000000a0_cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc";

struct Api {
    app: App,
    store: Arc<dyn Store>,
    _dir: tempfile::TempDir,
}

async fn api() -> Api {
    let (store, dir) = support::temp_store();
    let store: Arc<dyn Store> = Arc::new(store);
    http_app::put_campuses(
        store.as_ref(),
        &[
            ("sjtu", "Shanghai Jiao Tong University", "x"),
            ("scu", "Sichuan University", "x"),
        ],
    )
    .await;
    http_app::put_stations(
        store.as_ref(),
        &[
            ("st-sjtu", "Shanghai", Some("sjtu")),
            ("st-city", "Shanghai", None),
        ],
    )
    .await;
    http_app::put_api_keys(
        store.as_ref(),
        &[
            (
                PORTAL_A,
                Grant::Campus {
                    campus: "sjtu".into(),
                },
            ),
            (
                PORTAL_B,
                Grant::Campus {
                    campus: "scu".into(),
                },
            ),
            (AUDITOR, Grant::Auditor),
        ],
    )
    .await;
    let app = http_app::app(
        store.clone(),
        b"http-test-pepper-0123",
        &format!("{OLD},{NEW}"),
        NOW,
    );
    Api {
        app,
        store,
        _dir: dir,
    }
}

impl Api {
    async fn send(&self, req: Request<Body>) -> (StatusCode, Value) {
        http_app::answer(&self.app, req).await
    }

    /// A request signed with `secret` at time `t`.
    async fn signed_at(
        &self,
        method: Method,
        path: &str,
        body: &str,
        secret: &str,
        t: i64,
    ) -> (StatusCode, Value) {
        let builder = Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", "application/json");
        let req = http_app::signed(builder, secret, t, body.as_bytes())
            .body(Body::from(body.to_owned()))
            .unwrap();
        self.send(req).await
    }

    async fn post(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        self.signed_at(Method::POST, path, &body.to_string(), NEW, NOW)
            .await
    }

    async fn status_of(&self, id: &str) -> (StatusCode, Value) {
        self.signed_at(Method::GET, &format!("/v1/actions/{id}"), "", NEW, NOW)
            .await
    }

    async fn get(&self, path: &str, key: Option<&str>) -> (StatusCode, Value) {
        let mut req = Request::builder().uri(path);
        if let Some(k) = key {
            req = req.header("authorization", format!("Bearer {k}"));
        }
        self.send(req.body(Body::empty()).unwrap()).await
    }

    async fn put(&self, path: &str, key: &str) -> (StatusCode, Value) {
        let req = Request::builder()
            .method(Method::PUT)
            .uri(path)
            .header("authorization", format!("Bearer {key}"))
            .body(Body::empty())
            .unwrap();
        self.send(req).await
    }

    async fn credit(&self) -> u64 {
        credit_pending(self.store.as_ref(), &Rules::defaults(), 4)
            .await
            .unwrap()
            .credited
    }

    /// Nothing recorded, nothing pending, no chain started.
    async fn assert_nothing_written(&self) {
        assert!(self
            .store
            .pending_actions(None, 10)
            .await
            .unwrap()
            .is_empty());
        assert!(self.store.chain_heads().await.unwrap().is_empty());
    }
}

fn scan(id: &str, user: &str, boxes: u32) -> Value {
    json!({
        "scan_id": id,
        "user": user,
        "station": "st-sjtu",
        "at": NOW - 60,
        "items": {"books": 0, "boxes": [{"brand": "brand-01", "count": boxes}], "clothing_g": 0, "shoes": 0}
    })
}

#[tokio::test]
async fn a_scan_is_recorded_credited_and_shown() {
    let api = api().await;
    assert_eq!(
        api.put("/v1/campuses/sjtu/members/alice", PORTAL_A).await.0,
        StatusCode::OK
    );
    let (status, body) = api.post("/v1/scans", &scan("scan-1", "alice", 2)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["action"], "scan-1");
    assert_eq!(body["status"], "pending");
    assert_eq!(body["replay"], false);

    assert_eq!(api.credit().await, 1);
    let (status, body) = api.status_of("scan-1").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "credited");
    // 2 partner boxes: 2 × 10 × 2.
    assert_eq!(body["bonus"], 40);
    let (chain, seq) = (
        body["chain"].as_str().unwrap(),
        body["seq"].as_u64().unwrap(),
    );
    assert_eq!(seq, 0);

    let (_, summary) = api.get("/v1/campuses/sjtu/summary", Some(PORTAL_A)).await;
    assert_eq!(summary["campaign"]["bonus"], 40);
    assert_eq!(summary["campaign"]["entries"], 1);
    assert_eq!(summary["today"]["day"], "2026-11-05");
    assert_eq!(summary["today"]["bonus"], 40);
    assert!(summary["campaign"]["co2e_g"].as_i64().unwrap() > 0);

    let (_, account) = api
        .get("/v1/campuses/sjtu/members/alice", Some(PORTAL_A))
        .await;
    assert_eq!(account["balance"], 40);
    assert_eq!(account["recent"][0]["action"], "scan-1");
    assert_eq!(account["recent"][0]["chain"], chain);
    // The raw user id is nowhere in the answer; the pseudonym is.
    assert!(!account.to_string().contains("alice"));

    let (_, board) = api
        .get("/v1/campuses/sjtu/leaderboard?limit=5", Some(PORTAL_A))
        .await;
    assert_eq!(board["leaders"][0]["member"], account["member"]);
    let now = chrono::Utc::now().timestamp();
    greenloop::credit::ranking::keep(api.store.as_ref(), now, 0)
        .await
        .unwrap();
    let (_, ranking) = api.get("/v1/campuses", None).await;
    assert_eq!(ranking["campuses"][0]["campus"], "sjtu");
    assert_eq!(ranking["campuses"][0]["rank"], 1);
    assert_eq!(ranking["as_of"], now);

    let (_, heads) = api.get("/v1/audit/heads", Some(AUDITOR)).await;
    assert_eq!(heads[0]["chain"], chain);
    assert_eq!(heads[0]["size"], 1);
    let (_, page) = api
        .get(
            &format!("/v1/audit/chains/{chain}/entries?from=0"),
            Some(AUDITOR),
        )
        .await;
    assert_eq!(page["entries"][0]["hash"], heads[0]["hash"]);
    assert_eq!(page["next"], Value::Null);
}

#[tokio::test]
async fn replays_answer_the_same_and_conflicts_answer_409() {
    let api = api().await;
    let first = api.post("/v1/scans", &scan("scan-r", "bob", 1)).await;
    let again = api.post("/v1/scans", &scan("scan-r", "bob", 1)).await;
    assert_eq!(again.0, StatusCode::ACCEPTED);
    assert_eq!(again.1["replay"], true);
    assert_eq!(again.1["status"], first.1["status"]);
    let (status, body) = api.post("/v1/scans", &scan("scan-r", "bob", 3)).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("conflict"))
    );
    assert_eq!(api.credit().await, 1);
    let credited = api.post("/v1/scans", &scan("scan-r", "bob", 1)).await;
    assert_eq!(credited.1["replay"], true);
    assert_eq!(credited.1["status"], "credited");
    assert_eq!(api.credit().await, 0, "a replay credits nothing");
}

#[tokio::test]
async fn both_rotation_secrets_sign_and_others_do_not() {
    let api = api().await;
    for (i, secret) in [OLD, NEW].into_iter().enumerate() {
        let body = scan(&format!("rot-{i}"), "carol", 1).to_string();
        let (status, _) = api
            .signed_at(Method::POST, "/v1/scans", &body, secret, NOW)
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "secret {i}");
    }
    let body = scan("rot-x", "carol", 1).to_string();
    let (status, err) = api
        .signed_at(Method::POST, "/v1/scans", &body, "retired-secret-0123", NOW)
        .await;
    assert_eq!(
        (status, err["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("bad_signature"))
    );
}

#[tokio::test]
async fn bad_input_gets_a_4xx_json_error_and_writes_nothing() {
    let api = api().await;
    let good = scan("scan-bad", "dave", 1);
    let mut cases: Vec<(&str, String, StatusCode, &str)> = vec![
        (
            "malformed JSON",
            "{\"scan_id\": ".into(),
            StatusCode::BAD_REQUEST,
            "malformed_json",
        ),
        (
            "not an object",
            "[1,2]".into(),
            StatusCode::BAD_REQUEST,
            "invalid_field",
        ),
        (
            "empty body",
            String::new(),
            StatusCode::BAD_REQUEST,
            "malformed_json",
        ),
    ];
    let mut variant = |name: &'static str, f: &dyn Fn(&mut Value), status, code| {
        let mut v = good.clone();
        f(&mut v);
        cases.push((name, v.to_string(), status, code));
    };
    variant(
        "missing field",
        &|v| {
            v.as_object_mut().unwrap().remove("user");
        },
        StatusCode::BAD_REQUEST,
        "invalid_field",
    );
    variant(
        "unknown field",
        &|v| v["extra"] = json!(1),
        StatusCode::BAD_REQUEST,
        "invalid_field",
    );
    variant(
        "unknown item field",
        &|v| v["items"]["cans"] = json!(1),
        StatusCode::BAD_REQUEST,
        "invalid_field",
    );
    variant(
        "wrong type",
        &|v| v["at"] = json!("yesterday"),
        StatusCode::BAD_REQUEST,
        "invalid_field",
    );
    variant(
        "negative count",
        &|v| v["items"]["boxes"][0]["count"] = json!(-2),
        StatusCode::BAD_REQUEST,
        "invalid_field",
    );
    variant(
        "fractional count",
        &|v| v["items"]["books"] = json!(1.5),
        StatusCode::BAD_REQUEST,
        "invalid_field",
    );
    variant(
        "huge count",
        &|v| v["items"]["books"] = json!(1u64 << 40),
        StatusCode::BAD_REQUEST,
        "invalid_field",
    );
    variant(
        "absurd count",
        &|v| v["items"]["boxes"][0]["count"] = json!(5000),
        StatusCode::UNPROCESSABLE_ENTITY,
        "too_much",
    );
    variant(
        "no items",
        &|v| v["items"]["boxes"] = json!([]),
        StatusCode::UNPROCESSABLE_ENTITY,
        "no_items",
    );
    variant(
        "unknown station",
        &|v| v["station"] = json!("st-nowhere"),
        StatusCode::UNPROCESSABLE_ENTITY,
        "unknown_station",
    );
    variant(
        "bad id",
        &|v| v["scan_id"] = json!("has space"),
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_id",
    );
    variant(
        "empty user",
        &|v| v["user"] = json!(""),
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_user",
    );
    variant(
        "future time",
        &|v| v["at"] = json!(NOW + 3600),
        StatusCode::UNPROCESSABLE_ENTITY,
        "future_time",
    );
    variant(
        "negative time",
        &|v| v["at"] = json!(-1),
        StatusCode::UNPROCESSABLE_ENTITY,
        "bad_time",
    );
    cases.push((
        "oversized body",
        format!("{{\"pad\": \"{}\"}}", "x".repeat(20_000)),
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
    ));
    for (name, body, status, code) in cases {
        let (got, err) = api
            .signed_at(Method::POST, "/v1/scans", &body, NEW, NOW)
            .await;
        assert_eq!(
            (got, err["code"].as_str()),
            (status, Some(code)),
            "{name}: {err}"
        );
        api.assert_nothing_written().await;
    }
    let pledge =
        json!({"pledge_id": "p-bad", "user": "dave", "station": "st-city", "at": NOW, "boxes": 0});
    let (status, err) = api.post("/v1/pledges", &pledge).await;
    assert_eq!(
        (status, err["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("empty_lot"))
    );
    let complete = json!({"clothing_g": 1000, "at": NOW});
    let (status, _) = api.post("/v1/appointments/none/complete", &complete).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    api.assert_nothing_written().await;
}

#[tokio::test]
async fn bad_stale_or_missing_signatures_are_refused() {
    let api = api().await;
    let body = scan("scan-sig", "erin", 1).to_string();
    for (t, code) in [
        (NOW - 301, "stale_signature"),
        (NOW + 301, "stale_signature"),
    ] {
        let (status, err) = api
            .signed_at(Method::POST, "/v1/scans", &body, NEW, t)
            .await;
        assert_eq!(
            (status, err["code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some(code))
        );
    }
    let bare = |headers: &[(&str, &str)]| {
        let mut req = Request::builder().method(Method::POST).uri("/v1/scans");
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        req.body(Body::from(body.clone())).unwrap()
    };
    let message = |key_id, body| Message::new("POST", "/v1/scans", key_id, body);
    let unknown = sign(NEW.as_bytes(), &message("qr-9", body.as_bytes()), NOW);
    for (headers, code) in [
        (vec![], "missing_key_id"),
        (vec![("greenloop-key-id", "qr-1")], "missing_signature"),
        (
            vec![
                ("greenloop-key-id", "qr-1"),
                ("greenloop-signature", "v1=abc"),
            ],
            "malformed_signature",
        ),
        (
            vec![
                ("greenloop-key-id", "qr-9"),
                ("greenloop-signature", unknown.as_str()),
            ],
            // The same answer as a wrong MAC: it does not say which key ids exist.
            "bad_signature",
        ),
    ] {
        let (status, err) = api.send(bare(&headers)).await;
        assert_eq!(
            (status, err["code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some(code))
        );
    }
    // A signature for another body does not carry over.
    let (status, _) = api
        .send(bare(&[
            ("greenloop-key-id", "qr-1"),
            (
                "greenloop-signature",
                &sign(NEW.as_bytes(), &message("qr-1", b"{}"), NOW),
            ),
        ]))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    api.assert_nothing_written().await;
}

#[tokio::test]
async fn keys_are_scoped_to_one_campus() {
    let api = api().await;
    let path = "/v1/campuses/sjtu/summary";
    assert_eq!(api.get(path, Some(PORTAL_A)).await.0, StatusCode::OK);
    for (key, status) in [
        (Some(PORTAL_B), StatusCode::FORBIDDEN),
        (Some(AUDITOR), StatusCode::FORBIDDEN),
        (Some("glk_unknown"), StatusCode::UNAUTHORIZED),
        (None, StatusCode::UNAUTHORIZED),
    ] {
        assert_eq!(api.get(path, key).await.0, status, "{key:?}");
    }
    assert_eq!(
        api.put("/v1/campuses/sjtu/members/frank", PORTAL_B).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        api.get("/v1/audit/heads", Some(PORTAL_A)).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        api.get("/v1/audit/heads", None).await.0,
        StatusCode::UNAUTHORIZED
    );
    // A member of another campus is not visible through this one.
    api.put("/v1/campuses/scu/members/gina", PORTAL_B).await;
    assert_eq!(
        api.get("/v1/campuses/sjtu/members/gina", Some(PORTAL_A))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    for (path, code) in [
        ("/v1/campuses/sjtu/leaderboard?limit=0", "bad_limit"),
        ("/v1/campuses/sjtu/leaderboard?limit=x", "bad_query"),
        ("/v1/campuses/sjtu/leaderboard?top=3", "bad_query"),
    ] {
        let (status, err) = api.get(path, Some(PORTAL_A)).await;
        assert_eq!(
            (status, err["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some(code)),
            "{path}"
        );
    }
    assert_eq!(api.get("/v1/nowhere", None).await.0, StatusCode::NOT_FOUND);
    let req = Request::builder()
        .method(Method::DELETE)
        .uri("/v1/scans")
        .body(Body::empty())
        .unwrap();
    assert_eq!(api.send(req).await.0, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn pledges_are_fulfilled_by_later_drop_offs() {
    let api = api().await;
    let pledge = json!({"pledge_id": "pledge-1", "user": "hana", "station": "st-city", "at": NOW - 3600, "boxes": 3});
    assert_eq!(
        api.post("/v1/pledges", &pledge).await.0,
        StatusCode::ACCEPTED
    );
    api.credit().await;
    let (_, p) = api.status_of("pledge-1").await;
    assert_eq!(p["bonus"], 6, "2 points per pledged box");
    assert_eq!(
        p["pledge"],
        json!({"boxes": 3, "returned": 0, "fulfilled": false})
    );
    api.post("/v1/scans", &scan("drop-1", "hana", 2)).await;
    api.credit().await;
    let (_, p) = api.status_of("pledge-1").await;
    assert_eq!(
        p["pledge"],
        json!({"boxes": 3, "returned": 2, "fulfilled": false})
    );
    // Another member's boxes do not return hana's pledge.
    api.post("/v1/scans", &scan("drop-other", "ivan", 5)).await;
    api.credit().await;
    assert_eq!(api.status_of("pledge-1").await.1["pledge"]["returned"], 2);
    api.post("/v1/scans", &scan("drop-2", "hana", 4)).await;
    api.credit().await;
    let (_, p) = api.status_of("pledge-1").await;
    assert_eq!(
        p["pledge"],
        json!({"boxes": 3, "returned": 3, "fulfilled": true})
    );
}

#[tokio::test]
async fn pickups_are_booked_then_completed_with_a_weight() {
    let api = api().await;
    let booking =
        json!({"appointment_id": "appt-1", "user": "jin", "station": "st-city", "at": NOW - 7200});
    let (status, b) = api.post("/v1/appointments", &booking).await;
    assert_eq!(
        (status, b["status"].as_str()),
        (StatusCode::ACCEPTED, Some("booked"))
    );
    assert_eq!(api.credit().await, 0, "a booking earns nothing yet");
    let done = json!({"clothing_g": 2500, "at": NOW - 600});
    let (status, c) = api.post("/v1/appointments/appt-1/complete", &done).await;
    assert_eq!(
        (status, c["status"].as_str()),
        (StatusCode::ACCEPTED, Some("pending"))
    );
    let again = api.post("/v1/appointments/appt-1/complete", &done).await;
    assert_eq!(again.1["replay"], true);
    let other = json!({"clothing_g": 9000, "at": NOW - 600});
    assert_eq!(
        api.post("/v1/appointments/appt-1/complete", &other).await.0,
        StatusCode::CONFLICT
    );
    assert_eq!(api.credit().await, 1);
    let (_, s) = api.status_of("appt-1").await;
    // floor(2500 g × 5 points per kg / 1000).
    assert_eq!(
        (s["status"].as_str(), s["bonus"].as_i64()),
        (Some("credited"), Some(12))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_duplicate_deliveries_credit_once() {
    let api = api().await;
    let body = scan("scan-dup", "kai", 3).to_string();
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let (app, body) = (api.app.clone(), body.clone());
        tasks.push(tokio::spawn(async move {
            let builder = Request::builder().method(Method::POST).uri("/v1/scans");
            let req = http_app::signed(builder, NEW, NOW, body.as_bytes())
                .body(Body::from(body))
                .unwrap();
            let res = router(app).oneshot(req).await.unwrap();
            let status = res.status();
            let bytes = http_app::body_bytes(res).await;
            let v: Value = serde_json::from_slice(&bytes).unwrap();
            (status, v["replay"].as_bool())
        }));
    }
    let mut fresh = 0;
    for t in tasks {
        let (status, replay) = t.await.unwrap();
        assert_eq!(status, StatusCode::ACCEPTED);
        fresh += usize::from(replay == Some(false));
    }
    assert_eq!(fresh, 1, "exactly one delivery is new");
    // Two crediting stages race over the same pending action.
    let (a, b) = tokio::join!(api.credit(), api.credit());
    assert_eq!(a + b, 1, "credited exactly once");
    let heads = api.store.chain_heads().await.unwrap();
    assert_eq!(heads.iter().map(|h| h.size).sum::<u64>(), 1);
    let report = greenloop::verify::verify_store(api.store.as_ref(), |_| {})
        .await
        .unwrap();
    assert!(report.is_ok(), "{:?}", report.first_problem());
}

impl Api {
    /// Records `n` scans of `user`, ids `{prefix}-0` on, and credits them.
    async fn credited_scans(&self, prefix: &str, user: &str, n: usize) {
        for i in 0..n {
            let (status, body) = self
                .post("/v1/scans", &scan(&format!("{prefix}-{i}"), user, 1))
                .await;
            assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        }
        assert_eq!(self.credit().await, n as u64);
    }

    /// Signs every chain as it stands.
    async fn publish(&self, time: i64) {
        let key = LogKey::from_hex(TEST_LOG_KEY).unwrap();
        tree::publish_all(self.store.as_ref(), &key, time)
            .await
            .unwrap();
    }

    /// A member's statement pages from the newest on, `limit` entries each (None: the default),
    /// calling `between` after each page.
    async fn statement_pages(
        &self,
        member: &str,
        limit: Option<usize>,
        mut between: impl AsyncFnMut(&StatementPage),
    ) -> Vec<StatementPage> {
        let mut pages: Vec<StatementPage> = Vec::new();
        let mut query: Vec<String> = limit.map(|l| format!("limit={l}")).into_iter().collect();
        loop {
            let path = format!("/v1/audit/members/{member}/statement?{}", query.join("&"));
            let (status, body) = self.get(&path, Some(AUDITOR)).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            let page: StatementPage = serde_json::from_value(body).unwrap();
            between(&page).await;
            let next = page.next;
            pages.push(page);
            let Some(before) = next else { return pages };
            query.retain(|q| !q.starts_with("before="));
            query.push(format!("before={before}"));
        }
    }
}

/// A statement of more entries than a page: the pages join to the member's whole history, each
/// entry once and none left out, and the joined statement verifies against the signed log.
#[tokio::test]
async fn a_long_statement_comes_in_pages_that_join_to_the_whole() {
    let api = api().await;
    api.put("/v1/campuses/sjtu/members/lena", PORTAL_A).await;
    let over = STATEMENT_PAGE + 5;
    api.credited_scans("long", "lena", over).await;
    api.publish(1_800_000_000).await;
    let (_, account) = api
        .get("/v1/campuses/sjtu/members/lena", Some(PORTAL_A))
        .await;
    let member = account["member"].as_str().unwrap().to_owned();
    let public = LogKey::from_hex(TEST_LOG_KEY).unwrap().public();

    for limit in [None, Some(7), Some(STATEMENT_PAGE)] {
        let pages = api.statement_pages(&member, limit, async |_| {}).await;
        let per = limit.unwrap_or(STATEMENT_PAGE);
        let sizes: Vec<usize> = pages.iter().map(|p| p.proofs.len()).collect();
        let mut want = vec![per; over / per];
        want.extend(Some(over % per).filter(|&r| r > 0));
        assert_eq!(sizes, want, "pages of {per}");
        for p in &pages {
            assert_eq!(p.entries, over as u64, "every page carries the account");
            assert_eq!(
                p.checkpoints.len(),
                1,
                "and the checkpoint its proofs are in"
            );
        }
        let statement = Statement::join(pages).unwrap();
        let places: BTreeSet<(String, u64)> = statement
            .proofs
            .iter()
            .map(|p| (p.chain.clone(), p.seq))
            .collect();
        assert_eq!(places.len(), over, "no entry twice");
        let v = verify_statement(&public, &statement).expect("the joined statement verifies");
        assert_eq!(v.entries, over as u64, "none left out");
    }

    // A page of more than the maximum is refused, not cut.
    let (status, err) = api
        .get(
            &format!(
                "/v1/audit/members/{member}/statement?limit={}",
                STATEMENT_PAGE + 1
            ),
            Some(AUDITOR),
        )
        .await;
    assert_eq!(
        (status, err["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("bad_limit"))
    );
}

/// Crediting and signing go on while an auditor pages: later pages stay below the first
/// page's account, their proofs name the newer checkpoint, and the joined statement verifies.
#[tokio::test]
async fn a_statement_read_while_the_log_grows_still_joins() {
    let api = api().await;
    api.put("/v1/campuses/sjtu/members/milo", PORTAL_A).await;
    api.credited_scans("grow", "milo", 12).await;
    api.publish(1_800_000_000).await;
    let (_, account) = api
        .get("/v1/campuses/sjtu/members/milo", Some(PORTAL_A))
        .await;
    let member = account["member"].as_str().unwrap().to_owned();
    let mut grown = false;
    let pages = api
        .statement_pages(&member, Some(5), async |_| {
            if !grown {
                grown = true;
                api.credited_scans("more", "milo", 3).await;
                api.publish(1_800_000_300).await;
            }
        })
        .await;
    assert_eq!(pages.len(), 3);
    assert_eq!(pages[0].entries, 12);
    assert_eq!(pages[1].entries, 15, "the account grew between pages");
    let sizes: Vec<u64> = pages
        .iter()
        .map(|p| p.checkpoints[0].checkpoint.size)
        .collect();
    assert_eq!(
        sizes[1],
        sizes[0] + 3,
        "later pages use the newer checkpoint"
    );
    let statement = Statement::join(pages).unwrap();
    assert_eq!(statement.checkpoints.len(), 2);
    let public = LogKey::from_hex(TEST_LOG_KEY).unwrap().public();
    let v = verify_statement(&public, &statement).expect("the joined statement verifies");
    assert_eq!(v.entries, 12, "as of the first page's account");
}

/// A campus's portal shows the member's history at that campus only: entries credited while
/// they belonged to another campus are left out, in bounded pages that go on with `next`.
#[tokio::test]
async fn a_campus_sees_only_the_history_credited_to_it() {
    let api = api().await;
    api.put("/v1/campuses/sjtu/members/nora", PORTAL_A).await;
    api.credited_scans("at-a", "nora", 30).await;
    let (_, at_a) = api
        .get("/v1/campuses/sjtu/members/nora?limit=100", Some(PORTAL_A))
        .await;
    assert_eq!(at_a["recent"].as_array().unwrap().len(), 30);
    assert_eq!(at_a["next"], Value::Null);

    // scu's portal cannot take her; she moves to scu herself, and earns two entries there.
    let (status, refused) = api.put("/v1/campuses/scu/members/nora", PORTAL_B).await;
    assert_eq!(
        (status, refused["code"].as_str()),
        (StatusCode::CONFLICT, Some("affiliated_elsewhere"))
    );
    let body = json!({"campus": "scu"}).to_string();
    let (status, moved) = api
        .signed_at(Method::PUT, "/v1/members/nora/campus", &body, NEW, NOW)
        .await;
    assert_eq!(
        (status, moved["from"].as_str()),
        (StatusCode::OK, Some("sjtu"))
    );
    api.credited_scans("at-b", "nora", 2).await;
    let (status, _) = api
        .get("/v1/campuses/sjtu/members/nora", Some(PORTAL_A))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "no longer sjtu's member");

    let (_, all) = api
        .get("/v1/campuses/scu/members/nora?limit=100", Some(PORTAL_B))
        .await;
    assert_eq!(all["entries"], 32, "the account counts every entry");
    let recent = all["recent"].as_array().unwrap();
    let actions: Vec<&str> = recent
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["at-b-1", "at-b-0"], "only scu's, newest first");
    assert!(recent.iter().all(|e| e["campus"] == "scu"));
    assert_eq!(all["next"], Value::Null, "3 reads of 100 cover all 32");

    // Small pages: a request reads at most 3 store pages, so it may come back short, or
    // empty, with `next` to go on from; only `next: null` ends the history.
    let mut seen: Vec<String> = Vec::new();
    let mut before: Option<u64> = None;
    let mut requests = 0;
    loop {
        let q = before.map_or(String::new(), |b| format!("&before={b}"));
        let (status, page) = api
            .get(
                &format!("/v1/campuses/scu/members/nora?limit=5{q}"),
                Some(PORTAL_B),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        requests += 1;
        for e in page["recent"].as_array().unwrap() {
            assert_eq!(e["campus"], "scu");
            seen.push(e["action"].as_str().unwrap().to_owned());
        }
        match page["next"].as_u64() {
            Some(next) => {
                assert!(before.is_none_or(|b| next < b), "next moves back");
                before = Some(next);
            }
            None => break,
        }
    }
    assert_eq!(seen, ["at-b-1", "at-b-0"], "each entry once");
    // 32 entries, at most 15 looked at per request.
    assert!(
        requests >= 3,
        "the work per request is bounded: {requests} requests"
    );
}

/// A chain's checkpoints come in pages by size: joined, they are every checkpoint once.
#[tokio::test]
async fn checkpoints_come_in_pages() {
    let api = api().await;
    api.credited_scans("ck", "olga", 25).await;
    let key = LogKey::from_hex(TEST_LOG_KEY).unwrap();
    let chain = api.store.chain_heads().await.unwrap()[0].chain.clone();
    // Signing every 3 entries, then the end: sizes 3, 6, ..., 24 and 25.
    tree::publish_paged(api.store.as_ref(), &key, &chain, 1_800_000_000, 1, 3)
        .await
        .unwrap();
    let all = api.store.checkpoints(&chain).await.unwrap();
    assert_eq!(all.len(), 9);

    let mut joined: Vec<Value> = Vec::new();
    let mut after: Option<u64> = None;
    loop {
        let q = after.map_or(String::new(), |a| format!("&after={a}"));
        let (status, page) = api
            .get(
                &format!("/v1/audit/chains/{chain}/checkpoints?limit=4{q}"),
                Some(AUDITOR),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let got = page["checkpoints"].as_array().unwrap();
        assert!(got.len() <= 4);
        joined.extend(got.iter().cloned());
        match page["next"].as_u64() {
            Some(next) => {
                assert_eq!(Some(next), got.last().map(|c| c["size"].as_u64().unwrap()));
                after = Some(next);
            }
            None => break,
        }
    }
    assert_eq!(
        joined,
        serde_json::to_value(&all)
            .unwrap()
            .as_array()
            .unwrap()
            .clone()
    );
    let (status, err) = api
        .get(
            &format!("/v1/audit/chains/{chain}/checkpoints?limit=1001"),
            Some(AUDITOR),
        )
        .await;
    assert_eq!(
        (status, err["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("bad_limit"))
    );
}

#[tokio::test]
async fn integers_may_be_written_as_integral_floats_and_are_one_delivery() {
    let api = api().await;
    let pledge = |id: &str, boxes: &str, at: &str| {
        format!(
            r#"{{"pledge_id":"{id}","user":"dora","station":"st-sjtu","at":{at},"boxes":{boxes}}}"#
        )
    };
    let at = (NOW - 60).to_string();
    let api = &api;
    let post = |body: String| async move {
        api.signed_at(Method::POST, "/v1/pledges", &body, NEW, NOW)
            .await
    };
    let (status, first) = post(pledge("p-1", "2", &at)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{first}");
    assert_eq!(first["replay"], false);
    // JSON Schema's integers: the same typed action, so a replay, not a conflict.
    for (boxes, at) in [
        ("2.0", format!("{at}.0")),
        ("2e0", at.clone()),
        ("0.2e1", at.clone()),
    ] {
        let (status, again) = post(pledge("p-1", boxes, &at)).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{boxes}: {again}");
        assert_eq!(again["replay"], true, "{boxes}");
    }
    let (status, other) = post(pledge("p-1", "3.0", &at)).await;
    assert_eq!(
        (status, other["code"].as_str()),
        (StatusCode::CONFLICT, Some("conflict"))
    );
    // A fraction is not an integer, and a float out of range is refused like the integer.
    for (boxes, code, want) in [
        ("2.5", "invalid_field", StatusCode::BAD_REQUEST),
        ("1e10", "invalid_field", StatusCode::BAD_REQUEST),
        ("1e4", "too_much", StatusCode::UNPROCESSABLE_ENTITY),
    ] {
        let (status, body) = post(pledge("p-2", boxes, &at)).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (want, Some(code)),
            "{boxes}: {body}"
        );
    }
    assert_eq!(api.credit().await, 1, "one pledge recorded");
}

#[tokio::test]
async fn a_user_id_is_counted_in_characters_as_the_spec_counts_it() {
    let api = api().await;
    // "é" is two bytes: 128 of them are 256 bytes, and one user id.
    let user = "%C3%A9".repeat(128);
    let path = format!("/v1/campuses/sjtu/members/{user}");
    assert_eq!(api.put(&path, PORTAL_A).await.0, StatusCode::OK);
    let (status, body) = api.put(&format!("{path}%C3%A9"), PORTAL_A).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_user"))
    );
    let (status, body) = api
        .put("/v1/campuses/sjtu/members/a%C2%85b", PORTAL_A)
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_user")),
        "U+0085 is a control character"
    );
}
