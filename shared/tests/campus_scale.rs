//! The campus surface at scale on AWS's DynamoDB Local, counted in DynamoDB requests (an SDK
//! interceptor counts every request the client sends): the public ranking costs one request at
//! 4 and at 100 campuses, and a leaderboard of 20,000 members tied at 0 costs one request per
//! page, at its top and deep inside the tie.

mod support;

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use futures_util::StreamExt;
use greenloop::domain::MemberId;
use greenloop::ranking::{BoardCursor, Standing};
use greenloop::store::dynamodb::{item, DynamoStore};
use greenloop::store::{Account, CampusQueries, Grant, Store};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use support::{dynamodb_local, http_app};
use tower::ServiceExt;

const PORTAL: &str =
    "glk_5c0000000000000c_cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc";
const NOW: i64 = 1_793_462_400 + 4 * 86_400;

/// Counts the requests a client sends, retries included.
#[derive(Debug)]
struct Requests(Arc<AtomicUsize>);

impl Intercept for Requests {
    fn name(&self) -> &'static str {
        "Requests"
    }

    fn read_before_transmit(
        &self,
        _: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

/// A fresh table behind a client whose requests are counted.
async fn counted(prefix: &str) -> (Arc<DynamoStore>, Arc<AtomicUsize>) {
    let sent = Arc::new(AtomicUsize::new(0));
    let config = aws_sdk_dynamodb::config::Builder::from(&dynamodb_local::sdk_config().await)
        .interceptor(Requests(sent.clone()))
        .build();
    let store = DynamoStore::new(
        aws_sdk_dynamodb::Client::from_conf(config),
        dynamodb_local::unique_table(prefix),
    );
    store.create_table().await.expect("create the table");
    (Arc::new(store), sent)
}

/// Requests sent while `f` runs.
async fn requests_of<T>(sent: &AtomicUsize, f: impl std::future::Future<Output = T>) -> (T, usize) {
    let before = sent.load(Ordering::SeqCst);
    let out = f.await;
    (out, sent.load(Ordering::SeqCst) - before)
}

async fn get(
    app: &greenloop::http::App,
    uri: &str,
    headers: &[(header::HeaderName, &str)],
) -> (StatusCode, Option<String>, Vec<u8>) {
    let mut req = Request::get(uri);
    for (name, value) in headers {
        req = req.header(name, *value);
    }
    let res = greenloop::http::router(app.clone())
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let etag = res
        .headers()
        .get(header::ETAG)
        .map(|v| v.to_str().unwrap().to_owned());
    let status = res.status();
    (status, etag, http_app::body_bytes(res).await.to_vec())
}

#[tokio::test]
async fn the_public_ranking_costs_one_request_at_4_and_at_100_campuses() {
    for campuses in [4usize, 100] {
        let (store, sent) = counted("rank").await;
        let rows: Vec<(String, String, String)> = (0..campuses)
            .map(|i| {
                (
                    format!("campus-{i:03}"),
                    format!("University {i}"),
                    "Wuhan".into(),
                )
            })
            .collect();
        let rows: Vec<(&str, &str, &str)> = rows
            .iter()
            .map(|(a, b, c)| (a.as_str(), b.as_str(), c.as_str()))
            .collect();
        http_app::put_campuses(store.as_ref(), &rows).await;

        // Keeping it: the stored one's age, the campus list, one query of each campus's rows
        // per day (which give its totals and the campaign's days), the put.
        let (kept, keep_cost) = requests_of(
            &sent,
            greenloop::credit::ranking::keep(store.as_ref(), NOW, 0),
        )
        .await;
        assert!(kept.expect("keep"));
        assert_eq!(keep_cost, campuses + 3, "keeping costs O(campuses), once");

        let app = http_app::app(
            store.clone() as Arc<dyn Store>,
            b"pepper-0123456789",
            "qr-1-secret-0123456789abcdef",
            NOW,
        );
        let ((status, etag, body), cost) = requests_of(&sent, get(&app, "/v1/campuses", &[])).await;
        assert_eq!(status, StatusCode::OK);
        let ranking: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(ranking["campuses"].as_array().unwrap().len(), campuses);
        assert_eq!(ranking["as_of"], NOW);
        assert_eq!(cost, 1, "{campuses} campuses: one read");

        let etag = etag.expect("an ETag");
        let ((status, _, body), cost) = requests_of(
            &sent,
            get(
                &app,
                "/v1/campuses",
                &[(header::IF_NONE_MATCH, etag.as_str())],
            ),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_MODIFIED);
        assert!(body.is_empty());
        assert_eq!(cost, 1, "{campuses} campuses: a 304 is one read too");
        eprintln!(
            "campuses {campuses}: GET /v1/campuses {cost} request(s); keeping the ranking \
             {keep_cost}"
        );
    }
}

/// Members whose pseudonyms are `n` in hex.
fn member(n: usize) -> MemberId {
    MemberId::parse(&format!("{n:064x}")).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_leaderboard_of_20000_members_tied_at_0_costs_one_request_per_page() {
    const MEMBERS: usize = 20_000;
    let (store, sent) = counted("tied").await;
    http_app::put_campuses(store.as_ref(), &[("tied", "Tied University", "Xi'an")]).await;
    http_app::put_api_keys(
        store.as_ref(),
        &[(
            PORTAL,
            Grant::Campus {
                campus: "tied".into(),
            },
        )],
    )
    .await;

    // 20,000 affiliated accounts at 0, written as an affiliation writes them (account, its
    // board partition and standing), 25 to a batch.
    let items: Vec<item::Item> = (0..MEMBERS)
        .map(|n| {
            let mut account = Account::new(member(n));
            account.campus = Some("tied".into());
            let mut it = item::to_item(&account, item::account(member(n).as_str()));
            it.insert(item::BOARD_PK.into(), item::s(item::board("tied")));
            it.insert(
                item::BOARD_SK.into(),
                item::s(Standing::of(&account).sort_key()),
            );
            it
        })
        .collect();
    let raw = dynamodb_local::client().await;
    let writes = items.chunks(25).map(|chunk| {
        let (raw, table) = (raw.clone(), store.table().to_owned());
        let requests: Vec<WriteRequest> = chunk
            .iter()
            .map(|it| {
                WriteRequest::builder()
                    .put_request(
                        PutRequest::builder()
                            .set_item(Some(it.clone()))
                            .build()
                            .unwrap(),
                    )
                    .build()
            })
            .collect();
        async move {
            let mut pending = std::collections::HashMap::from([(table, requests)]);
            while !pending.is_empty() {
                let res = raw
                    .batch_write_item()
                    .set_request_items(Some(pending))
                    .send()
                    .await
                    .expect("batch write");
                pending = res.unprocessed_items.unwrap_or_default();
                pending.retain(|_, v| !v.is_empty());
            }
        }
    });
    futures_util::stream::iter(writes)
        .buffer_unordered(8)
        .collect::<Vec<()>>()
        .await;

    let mut everyone: Vec<MemberId> = (0..MEMBERS).map(member).collect();
    everyone.sort();

    // The top 10, one query.
    let (top, cost) = requests_of(&sent, store.leaderboard("tied", None, 10)).await;
    let top: Vec<MemberId> = top.unwrap().into_iter().map(|a| a.member).collect();
    assert_eq!(top, everyone[..10], "a tie breaks by pseudonym");
    assert_eq!(cost, 1, "the top 10 of 20,000 tied members");

    // Deep inside the tie: the page after the 15,000th member, one query.
    let after = Standing {
        co2e_g: 0,
        member: everyone[14_999].clone(),
    };
    let (deep, cost) = requests_of(&sent, store.leaderboard("tied", Some(&after), 10)).await;
    let deep: Vec<MemberId> = deep.unwrap().into_iter().map(|a| a.member).collect();
    assert_eq!(deep, everyone[15_000..15_010]);
    assert_eq!(cost, 1, "a page deep in the tie");

    // Through the portal route: its key, its campus, the page; and `next` continues it.
    let app = http_app::app(
        store.clone() as Arc<dyn Store>,
        b"pepper-0123456789",
        "qr-1-secret-0123456789abcdef",
        NOW,
    );
    let bearer = format!("Bearer {PORTAL}");
    let auth = [(header::AUTHORIZATION, bearer.as_str())];
    let ((status, _, body), route_cost) = requests_of(
        &sent,
        get(&app, "/v1/campuses/tied/leaderboard?limit=100", &auth),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let page: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(page["leaders"].as_array().unwrap().len(), 100);
    assert_eq!(page["leaders"][99]["rank"], 100);
    assert_eq!(route_cost, 3, "key, campus list, one page");
    let next = BoardCursor::parse(page["next"].as_str().unwrap()).unwrap();
    assert_eq!((next.rank, &next.standing.member), (100, &everyone[99]));
    let uri = format!(
        "/v1/campuses/tied/leaderboard?limit=100&after={}",
        page["next"].as_str().unwrap()
    );
    let (status, _, body) = get(&app, &uri, &auth).await;
    assert_eq!(status, StatusCode::OK);
    let page: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(page["leaders"][0]["rank"], 101);
    assert_eq!(page["leaders"][0]["member"], everyone[100].as_str());

    // Every page of 1,000 in turn: the whole board, each page one request.
    let mut walked = Vec::new();
    let mut after: Option<Standing> = None;
    let ((), cost) = requests_of(&sent, async {
        loop {
            let page = store
                .leaderboard("tied", after.as_ref(), 1_000)
                .await
                .unwrap();
            let Some(last) = page.last() else { break };
            after = Some(last.standing());
            walked.extend(page.into_iter().map(|a| a.member));
        }
    })
    .await;
    assert_eq!(walked, everyone, "pages join without gaps or repeats");
    assert_eq!(
        cost,
        MEMBERS / 1_000 + 1,
        "one request per page, and one to find the end"
    );
    eprintln!(
        "20,000 tied at 0: top 10 in 1 request, a deep page in 1, the portal route in \
         {route_cost}, the whole board in pages of 1,000 in {cost}"
    );
}
