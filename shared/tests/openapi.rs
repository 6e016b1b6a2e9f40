//! `docs/openapi.yaml` against the real router.
//!
//! One scenario drives every route in-process (embedded store in a temporary directory, a fixed
//! clock inside the campaign) through successes and every reachable error, and validates each
//! answer against the schema the spec declares for its (path, method, status). An answer whose
//! status the spec does not list fails the test, and so does a documented status that the
//! scenario never produced, except 500: no real route panics, so a test route mounted the same
//! way checks that answer. Two more tests ([`lint`]) compare the routes mounted in
//! `shared/src/http` with the spec's paths, and lint the spec for what the API promises
//! everywhere (closed objects, the shared `Error`, request ids).
//!
//! The spec and its validator are in `openapi/spec.rs`, the harness in `openapi/harness.rs`, the
//! scenario's two halves in `openapi/before_crediting.rs` and `openapi/after_crediting.rs`, its
//! checkpoint and proof routes in `openapi/proofs.rs`, the brand routes in `openapi/brands.rs`, the public log, packaging and pages in `openapi/public.rs`, erasure in `openapi/erasure.rs`, revoked and expired bearer keys in
//! `openapi/keys.rs`.

mod support;

#[path = "openapi/after_crediting.rs"]
mod after_crediting;
#[path = "openapi/before_crediting.rs"]
mod before_crediting;
#[path = "openapi/brands.rs"]
mod brands;
#[path = "openapi/disposition.rs"]
mod disposition;
#[path = "openapi/erasure.rs"]
mod erasure;
#[path = "openapi/flaky.rs"]
mod flaky;
#[path = "openapi/harness.rs"]
mod harness;
#[path = "openapi/keys.rs"]
mod keys;
#[path = "openapi/lint.rs"]
mod lint;
#[path = "openapi/proofs.rs"]
mod proofs;
#[path = "openapi/public.rs"]
mod public;
#[path = "openapi/quarantine.rs"]
mod quarantine;
#[path = "openapi/requantified.rs"]
mod requantified;
#[path = "openapi/spec.rs"]
mod spec;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use greenloop::catalog::Rules;
use greenloop::domain::Pepper;
use greenloop::http::App;
use greenloop::http::Integrations;
use harness::{Harness, PEPPER};
use serde_json::Value;
use spec::Spec;
use std::collections::BTreeMap;
use std::sync::Arc;
use tower::ServiceExt;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_and_status_matches_the_spec() {
    let (h, _dir) = Harness::new().await;
    before_crediting::not_routes(&h).await;
    before_crediting::ranking_before_crediting(&h).await;
    before_crediting::affiliations(&h).await;
    before_crediting::scans(&h).await;
    before_crediting::pledges(&h).await;
    before_crediting::pickups(&h).await;
    before_crediting::status_before_crediting(&h).await;
    after_crediting::crediting(&h).await;
    after_crediting::campus_routes(&h).await;
    after_crediting::audit_routes(&h).await;
    disposition::disposition_routes(&h).await;
    keys::revoked_and_expired_keys(&h).await;
    proofs::proof_routes(&h).await;
    brands::brand_routes(&h).await;
    public::public_routes(&h).await;
    erasure::erasure(&h).await;
    requantified::member_history(&h).await;
    after_crediting::store_outage(&h).await;
    after_crediting::store_corrupt(&h).await;
    quarantine::quarantine(&h).await;
    every_operation_and_status_was_exercised(&h);
}

/// Coverage: every operation, and every documented status but 500 (a panic).
fn every_operation_and_status_was_exercised(h: &Harness) {
    let seen = h.seen.lock().unwrap().clone();
    let mut missing = Vec::new();
    for (template, method) in h.spec.operations() {
        let responses = h.spec.operation(&template, method)["responses"]
            .as_object()
            .unwrap();
        assert!(
            responses.contains_key("500"),
            "{method} {template} documents 500"
        );
        for status in responses.keys() {
            let status: u16 = status.parse().expect("numeric status codes only");
            if status != 500 && !seen.contains(&(template.clone(), method.to_owned(), status)) {
                missing.push(format!("{method} {template} {status}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "documented but never exercised: {missing:#?}"
    );
    let per_op: BTreeMap<(String, String), usize> =
        seen.iter().fold(BTreeMap::new(), |mut m, (t, meth, _)| {
            *m.entry((t.clone(), meth.clone())).or_default() += 1;
            m
        });
    for (template, method) in h.spec.operations() {
        assert!(
            per_op.contains_key(&(template.clone(), method.to_owned())),
            "{method} {template} never exercised"
        );
    }
}

// 500: no real route panics, so a test route does, mounted the way every function mounts.

#[tokio::test]
async fn a_panic_is_the_documented_500_with_a_request_id() {
    let (store, _dir) = support::temp_store();
    let store = Arc::new(store);
    let app = App::new(
        store,
        Pepper::new(PEPPER.to_vec()).unwrap(),
        Integrations::default(),
        Rules::defaults(),
    );
    async fn boom() -> &'static str {
        panic!("a handler bug")
    }
    let router = greenloop::http::mount(
        axum::Router::new()
            .route("/boom", axum::routing::get(boom))
            .with_state(app),
    );
    let res = router
        .oneshot(Request::get("/boom").body(Body::empty()).unwrap())
        .await
        .expect("the router answers");
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        res.headers()
            .get("x-request-id")
            .is_some_and(|v| !v.is_empty()),
        "a 500 carries x-request-id like every answer (headers: {:?})",
        res.headers()
    );
    let bytes = support::http_app::body_bytes(res).await;
    let body: Value = serde_json::from_slice(&bytes).expect("a JSON error");
    let spec = Spec::load();
    spec.check(&spec.component_response("Internal"), &body)
        .unwrap_or_else(|e| panic!("500 body does not match the spec: {e}"));
    assert_eq!(body["code"], "internal");
}
