//! Portal and auditor keys over HTTP, in-process on a real embedded store: a revoked key is
//! refused on campus and audit routes from the next request on while its siblings still work,
//! an expired key is refused once the app's clock passes its expiry, and a wrong secret, an
//! unknown id and a malformed key all get the very same answer.

mod support;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use greenloop::http::App;
use greenloop::store::api_key::{mint, Minted};
use greenloop::store::{Grant, Store};
use serde_json::Value;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use support::http_app;

/// 2026-11-05 12:00 +08:00, inside the campaign.
const NOW: i64 = 1_793_851_200;
const DAY: i64 = 86_400;
const PEPPER: &[u8] = b"keys-test-pepper-0123";
/// The fixture's webhook integration; these tests send no webhooks.
const WEBHOOK_SECRET: &str = "keys-test-webhook-secret";

struct Api {
    app: App,
    store: Arc<dyn Store>,
    /// What the app's clock reads; a test moves it.
    now: Arc<AtomicI64>,
    _dir: tempfile::TempDir,
}

async fn api() -> Api {
    let (store, dir) = support::temp_store();
    let store: Arc<dyn Store> = Arc::new(store);
    http_app::put_campuses(store.as_ref(), &[("sjtu", "SJTU", "Shanghai")]).await;
    let now = Arc::new(AtomicI64::new(NOW));
    let mut app = http_app::app(store.clone(), PEPPER, WEBHOOK_SECRET, NOW);
    let clock = now.clone();
    app.clock = Arc::new(move || clock.load(Ordering::SeqCst));
    Api {
        app,
        store,
        now,
        _dir: dir,
    }
}

impl Api {
    /// Mints and keeps a key, made now.
    async fn key(&self, grant: Grant, expires_at: Option<i64>) -> Minted {
        let m = mint(grant, self.now.load(Ordering::SeqCst), expires_at).expect("randomness");
        self.store
            .put_api_key(&m.record)
            .await
            .expect("put_api_key");
        m
    }

    /// GET `path` with `Authorization: Bearer <key>`; the status and the JSON body.
    async fn get(&self, path: &str, key: &str) -> (StatusCode, Value) {
        let req = Request::get(path)
            .header("authorization", format!("Bearer {key}"))
            .body(Body::empty())
            .unwrap();
        http_app::answer(&self.app, req).await
    }
}

fn portal() -> Grant {
    Grant::Campus {
        campus: "sjtu".into(),
    }
}

const CAMPUS: &str = "/v1/campuses/sjtu/summary";
const AUDIT: &str = "/v1/audit/heads";

#[tokio::test]
async fn a_revoked_key_is_refused_at_once_while_its_siblings_work() {
    let api = api().await;
    let (p1, p2) = (api.key(portal(), None).await, api.key(portal(), None).await);
    let (a1, a2) = (
        api.key(Grant::Auditor, None).await,
        api.key(Grant::Auditor, None).await,
    );
    for (path, key) in [(CAMPUS, &p1), (CAMPUS, &p2), (AUDIT, &a1), (AUDIT, &a2)] {
        assert_eq!(api.get(path, &key.key).await.0, StatusCode::OK, "{path}");
    }

    for (path, revoked, sibling) in [(CAMPUS, &p1, &p2), (AUDIT, &a1, &a2)] {
        api.store
            .revoke_api_key(&revoked.record.id, NOW + 60)
            .await
            .expect("revoke_api_key");
        let (status, body) = api.get(path, &revoked.key).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}: {body}");
        assert_eq!(body["code"], "key_revoked", "{path}: {body}");
        assert!(
            body["message"]
                .as_str()
                .is_some_and(|m| m.contains(&revoked.record.id)),
            "the holder is told which key: {body}"
        );
        let (status, body) = api.get(path, &sibling.key).await;
        assert_eq!(
            status,
            StatusCode::OK,
            "{path}: a sibling key still works: {body}"
        );
    }
}

#[tokio::test]
async fn an_expired_key_is_refused_from_its_expiry_on() {
    let api = api().await;
    let expires = NOW + 30 * DAY;
    let portal_key = api.key(portal(), Some(expires)).await;
    let auditor_key = api.key(Grant::Auditor, Some(expires)).await;
    let lasting = api.key(Grant::Auditor, None).await;

    api.now.store(expires - 1, Ordering::SeqCst);
    assert_eq!(api.get(CAMPUS, &portal_key.key).await.0, StatusCode::OK);
    assert_eq!(api.get(AUDIT, &auditor_key.key).await.0, StatusCode::OK);

    for t in [expires, expires + 365 * DAY] {
        api.now.store(t, Ordering::SeqCst);
        for (path, key) in [(CAMPUS, &portal_key), (AUDIT, &auditor_key)] {
            let (status, body) = api.get(path, &key.key).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{path} at {t}: {body}");
            assert_eq!(body["code"], "key_expired", "{path} at {t}: {body}");
        }
        assert_eq!(
            api.get(AUDIT, &lasting.key).await.0,
            StatusCode::OK,
            "a key without an expiry lasts"
        );
    }

    // Revoked and expired: revocation is what the holder is told.
    api.store
        .revoke_api_key(&auditor_key.record.id, expires + 1)
        .await
        .expect("revoke_api_key");
    assert_eq!(
        api.get(AUDIT, &auditor_key.key).await.1["code"],
        "key_revoked"
    );
}

#[tokio::test]
async fn a_wrong_secret_an_unknown_id_and_a_malformed_key_get_the_same_answer() {
    let api = api().await;
    let real = api.key(Grant::Auditor, None).await;
    let revoked = api.key(Grant::Auditor, None).await;
    api.store
        .revoke_api_key(&revoked.record.id, NOW)
        .await
        .expect("revoke_api_key");
    let id = &real.record.id;
    let secret = real.key.rsplit('_').next().unwrap();
    let mut flipped = secret.to_owned();
    flipped.replace_range(..1, if secret.starts_with('0') { "1" } else { "0" });

    let refusals = [
        // The right id, a wrong secret: the key exists, but the caller does not hold it.
        format!("glk_{id}_{flipped}"),
        // A revoked key's id with a wrong secret says nothing of the revocation.
        format!("glk_{}_{flipped}", revoked.record.id),
        // An id never minted, well-formed.
        format!("glk_0000000000000000_{secret}"),
        // Malformed: another prefix, a short or upper-case secret, an id alone, junk.
        format!("glx_{id}_{secret}"),
        format!("glk_{id}_{}", &secret[..63]),
        format!("glk_{id}_{}", secret.to_uppercase()),
        format!("glk_{id}"),
        id.clone(),
        "glk_unknown".into(),
    ];
    let mut answers = Vec::new();
    for key in &refusals {
        for path in [CAMPUS, AUDIT] {
            let (status, body) = api.get(path, key).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{key} on {path}: {body}");
            answers.push(body);
        }
    }
    let first = &answers[0];
    assert_eq!(first["code"], "unauthorized");
    assert_eq!(first["message"], "unknown API key");
    for (i, a) in answers.iter().enumerate() {
        assert_eq!(a, first, "refusal {i} differs from the first");
    }
    assert_eq!(
        api.get(AUDIT, &real.key).await.0,
        StatusCode::OK,
        "the real key works"
    );
}
