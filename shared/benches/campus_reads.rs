//! What the campus routes cost as a campaign grows, on the embedded store, against
//! `GET /health` through the same router: the ceiling, which is routing, the request span and a
//! JSON answer with no store read.
//!
//! `cargo bench -p greenloop --bench campus_reads` measures:
//! - `ranking_4`, `ranking_100`: the public `GET /v1/campuses` with 4 and with 100 campuses,
//!   one stored item either way;
//! - `ranking_304`: the same at 100 campuses with a matching `If-None-Match`;
//! - `board_top`, `board_deep`: a portal's leaderboard page of 10 among 20,000 members tied at
//!   0, at the top and after the 15,000th (a bearer key read, the campus list, the page).
//!
//! It prints each mean and its ratio to `health` (see docs/performance.md).

#[path = "support/mean.rs"]
mod mean;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use criterion::Criterion;
use greenloop::catalog::Rules;
use greenloop::domain::{Campus, MemberId, Pepper};
use greenloop::http::{router, App, Integrations};
use greenloop::ranking::{BoardCursor, Standing};
use greenloop::store::embedded::EmbeddedStore;
use greenloop::store::{Affiliation, ApiKey, Consent, Grant, Registry, Store};
use mean::mean_ns;
use std::sync::Arc;
use std::time::Duration;
use tower::ServiceExt;

const PORTAL: &str =
    "glk_5c0000000000000c_cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc";
const TIED: usize = 20_000;

struct Place {
    app: axum::Router,
    _dir: tempfile::TempDir,
}

/// A store with `campuses` campuses (the first of them with `members` enrolled at 0), the
/// ranking kept, a portal key for the first campus, and the router over it.
async fn place(campuses: usize, members: usize) -> Place {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = Arc::new(EmbeddedStore::open(dir.path()).expect("open"));
    store.set_bulk(true).expect("bulk");
    for i in 0..campuses {
        let c = Campus {
            id: format!("campus-{i:03}"),
            name: format!("University {i}"),
            city: "Chengdu".into(),
        };
        store.put_campus(&c).await.expect("put_campus");
    }
    for n in 0..members {
        store
            .affiliate(&member(n), "campus-000", Consent::Enrol)
            .await
            .expect("enrol");
    }
    store.set_bulk(false).expect("flush");
    let grant = Grant::Campus {
        campus: "campus-000".into(),
    };
    let key = ApiKey::of_key(PORTAL, grant, 0, None).expect("a key");
    store.put_api_key(&key).await.expect("put_api_key");
    greenloop::credit::ranking::keep(store.as_ref(), 1_800_000_000, 0)
        .await
        .expect("keep the ranking");
    let store: Arc<dyn Store> = store;
    let app = App::new(
        store,
        Pepper::new(b"campus-bench-pepper".to_vec()).unwrap(),
        Integrations::default(),
        Rules::defaults(),
    );
    Place {
        app: router(app),
        _dir: dir,
    }
}

fn member(n: usize) -> MemberId {
    MemberId::parse(&format!("{n:064x}")).unwrap()
}

fn get(uri: &str, headers: &[(header::HeaderName, String)]) -> Request<Body> {
    let mut r = Request::get(uri);
    for (name, value) in headers {
        r = r.header(name, value);
    }
    r.body(Body::empty()).unwrap()
}

/// Benchmarks one request through `app`, checking its status; returns its mean in ns.
fn request_ns(
    c: &mut Criterion,
    rt: &tokio::runtime::Runtime,
    name: &str,
    app: &axum::Router,
    req: impl Fn() -> Request<Body>,
    want: StatusCode,
) -> f64 {
    mean_ns(c, name, || {
        let res = rt.block_on(app.clone().oneshot(req())).unwrap();
        assert_eq!(res.status(), want, "{name}");
        rt.block_on(axum::body::to_bytes(res.into_body(), usize::MAX))
            .unwrap();
    })
}

fn main() {
    let mut c = Criterion::default()
        .configure_from_args()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let small = rt.block_on(place(4, 0));
    let large = rt.block_on(place(100, 0));
    let tied = rt.block_on(place(4, TIED));

    let ok = StatusCode::OK;
    let health = request_ns(
        &mut c,
        &rt,
        "health",
        &small.app,
        || get("/health", &[]),
        ok,
    );
    let ranking_4 = request_ns(
        &mut c,
        &rt,
        "ranking_4",
        &small.app,
        || get("/v1/campuses", &[]),
        ok,
    );
    let ranking_100 = request_ns(
        &mut c,
        &rt,
        "ranking_100",
        &large.app,
        || get("/v1/campuses", &[]),
        ok,
    );
    let etag = {
        let res = rt
            .block_on(large.app.clone().oneshot(get("/v1/campuses", &[])))
            .unwrap();
        res.headers()[header::ETAG].to_str().unwrap().to_owned()
    };
    let ranking_304 = request_ns(
        &mut c,
        &rt,
        "ranking_304",
        &large.app,
        || get("/v1/campuses", &[(header::IF_NONE_MATCH, etag.clone())]),
        StatusCode::NOT_MODIFIED,
    );
    let auth = [(header::AUTHORIZATION, format!("Bearer {PORTAL}"))];
    let board_top = request_ns(
        &mut c,
        &rt,
        "board_top",
        &tied.app,
        || get("/v1/campuses/campus-000/leaderboard?limit=10", &auth),
        ok,
    );
    let mut everyone: Vec<MemberId> = (0..TIED).map(member).collect();
    everyone.sort();
    let cursor = BoardCursor {
        rank: 15_000,
        standing: Standing {
            co2e_g: 0,
            member: everyone[14_999].clone(),
        },
    };
    let deep_uri = format!("/v1/campuses/campus-000/leaderboard?limit=10&after={cursor}");
    let board_deep = request_ns(
        &mut c,
        &rt,
        "board_deep",
        &tied.app,
        || get(&deep_uri, &auth),
        ok,
    );

    println!("\nmean per request, and its ratio to GET /health through the same router:");
    for (name, ns) in [
        ("health (ceiling)", health),
        ("GET /v1/campuses, 4 campuses", ranking_4),
        ("GET /v1/campuses, 100 campuses", ranking_100),
        ("GET /v1/campuses, 100 campuses, 304", ranking_304),
        ("leaderboard top 10 of 20,000 tied", board_top),
        ("leaderboard 10 after the 15,000th tied", board_deep),
    ] {
        println!("{name:42} {:>10.1} µs  {:>6.2}x", ns / 1e3, ns / health);
    }
}
