//! The scenario's brand routes, once the ledger is checkpointed: the public team ranking (and
//! its 304), and brand statements read with a brand's own key, paged and joined into a
//! statement that verifies offline; another brand's key, a campus key and no key are refused.

use crate::harness::{Harness, Req, AUDITOR_KEY, BRAND_01_KEY, BRAND_02_KEY, CAMPUS_A_KEY};
use greenloop::brand::fold::StatementPage;
use greenloop::brand::{verify_statement, Statement};
use greenloop::checkpoint::brand::fold_all;
use greenloop::checkpoint::LogKey;
use greenloop::store::LedgerSource;
use greenloop_testkit::TEST_LOG_KEY;
use serde_json::json;

pub async fn brand_routes(h: &Harness) {
    let before = h.ok(Req::get("/v1/brands"), 200).await;
    assert_eq!(before, json!({"brands": []}), "nothing folded yet");
    for f in fold_all(h.store.as_ref()).await.expect("fold") {
        assert_eq!(f.stopped, None, "chain {}", f.chain);
    }
    let team = h.send(Req::get("/v1/brands"), 200).await;
    let first = &team.json["brands"][0];
    assert_eq!(
        (&first["rank"], &first["brand"]),
        (&json!(1), &json!("brand-01"))
    );
    let etag = team.etag.expect("an ETag");
    h.send(Req::get("/v1/brands").header("if-none-match", etag), 304)
        .await;

    // The brand's own key, one entry per page, joined: the statement verifies offline.
    let uri = "/v1/brands/brand-01/statement";
    let mut pages: Vec<StatementPage> = Vec::new();
    let mut next = Some(format!("{uri}?limit=1"));
    while let Some(u) = next.take() {
        let page = h.send(Req::get(&u).bearer(BRAND_01_KEY), 200).await;
        let page: StatementPage = serde_json::from_str(&page.text).expect("a statement page");
        next = page.next.map(|n| format!("{uri}?limit=1&before={n}"));
        pages.push(page);
    }
    assert!(pages[0].rows.is_some() && pages.iter().skip(1).all(|p| p.rows.is_none()));
    let statement = Statement::join_pages(pages).expect("pages");
    let key = LogKey::from_hex(TEST_LOG_KEY).unwrap();
    let catalog = h.store.catalog().await.unwrap();
    let verified = verify_statement(&key.public(), &statement, &catalog).expect("verifies");
    assert_eq!(verified.totals, statement.totals);
    assert_eq!(first["figures"]["boxes"], json!(statement.totals.boxes));
    // An auditor reads any brand's.
    h.ok(Req::get(uri).bearer(AUDITOR_KEY), 200).await;

    h.err(Req::get(uri).bearer(BRAND_02_KEY), 403, "forbidden")
        .await;
    h.err(Req::get(uri).bearer(CAMPUS_A_KEY), 403, "forbidden")
        .await;
    h.err(Req::get(uri), 401, "unauthorized").await;
    h.err(
        Req::get("/v1/brands/brand-02/statement").bearer(BRAND_02_KEY),
        404,
        "not_found",
    )
    .await;
    h.err(
        Req::get(format!("{uri}?limit=0")).bearer(BRAND_01_KEY),
        400,
        "bad_limit",
    )
    .await;
    h.err(
        Req::get(format!("{uri}?before=x")).bearer(BRAND_01_KEY),
        400,
        "bad_query",
    )
    .await;
    h.err(
        Req::get("/v1/brands/%FF/statement").bearer(AUDITOR_KEY),
        400,
        "bad_path",
    )
    .await;
    h.err(
        Req::get("/v1/brands/a%20b/statement").bearer(AUDITOR_KEY),
        422,
        "invalid_id",
    )
    .await;
    // A brand key opens nothing else.
    h.err(
        Req::get("/v1/audit/heads").bearer(BRAND_01_KEY),
        403,
        "forbidden",
    )
    .await;
    h.err(
        Req::get("/v1/campuses/campus-a/summary").bearer(BRAND_01_KEY),
        403,
        "forbidden",
    )
    .await;
}
