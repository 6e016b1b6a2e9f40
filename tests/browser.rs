//! The web pages in a real browser: headless Chromium (Debian's) against `greenloop serve` on a
//! simulated campaign, through a proxy that can serve a tampered public log.
//!
//! - The public page renders the totals, the campus ranking and the brand team the API gives,
//!   in Chinese and in English.
//! - The witness: on a first visit every checkpoint's signature checks in the browser; after
//!   the log grows, the consistency proof from the kept checkpoints checks; a forged checkpoint
//!   and a validly signed fork each fail loudly, with evidence that `greenloop proof check`
//!   refuses too; the honest log afterwards is consistent again.
//! - The in-browser checker (the core compiled to WebAssembly) and `greenloop proof check`
//!   give the same line on every known-answer vector of the docs, on real proofs from the
//!   server, and on tampered copies of both.
//! - The campus dashboard refuses a wrong key and shows the campus with the right one.
//! - No page logs a JavaScript error, a CSP violation or an unexpected failed request.

#[path = "support/browser.rs"]
mod browser;
#[path = "support/server.rs"]
mod server;

use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use browser::Browser;
use greenloop::checkpoint::{Checkpoint, LogKey, SignedCheckpoint};
use greenloop::digest::Digest;
use serde_json::{json, Value};
use server::{bearer, http, mint, signed_by, small_demo, unix_now, Server};
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SECRET: &str = "browser-webhook-secret-0123";
/// The log key this test's campaign is signed with: public, so the test can forge with it.
const LOG_SEED: &str = "62726f777365722d746573742d6c6f672d6b65792d6e6f742d7365637265742e";
/// The key of RFC 8032 §7.1 test 1, which the docs' saved proofs are signed with.
const DOCS_KEY: &str = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";

fn greenloop(data: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_greenloop"));
    c.arg("--data")
        .arg(data)
        .env_remove("GREENLOOP_DATA")
        .env_remove("GREENLOOP_AUDIT_KEY")
        .env_remove("GREENLOOP_LOG_PUBLIC_KEY")
        .env_remove("GREENLOOP_PORTAL_ORIGINS")
        .env("GREENLOOP_LOG_KEY", LOG_SEED)
        .env("GREENLOOP_WEBHOOK_SECRETS", format!("qr-demo={SECRET}"));
    c
}

/// What the proxy does to `GET /v1/log`.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Log {
    Honest,
    /// The first checkpoint's root changed, its signature kept: a forgery.
    Forged,
    /// The first checkpoint replaced by one of the same chain and size with another root,
    /// validly signed: a split view, which only the kept checkpoint shows.
    Fork,
}

/// A proxy in front of the server, so that the browser's origin stays the same while the test
/// changes what the log says.
struct Proxy {
    addr: String,
    mode: Arc<Mutex<Log>>,
}

async fn proxy(upstream: String) -> Proxy {
    let mode = Arc::new(Mutex::new(Log::Honest));
    let client = reqwest::Client::new();
    let key = LogKey::from_hex(LOG_SEED).unwrap();
    let key = Arc::new(key);
    let m = mode.clone();
    let app = axum::Router::new().fallback(move |req: Request| {
        let (client, upstream, mode, key) = (
            client.clone(),
            upstream.clone(),
            *m.lock().unwrap(),
            key.clone(),
        );
        async move { forward(&client, &upstream, req, mode, &key).await }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move { axum::serve(listener, app).await });
    Proxy { addr, mode }
}

async fn forward(
    client: &reqwest::Client,
    upstream: &str,
    req: Request,
    mode: Log,
    key: &LogKey,
) -> Response {
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.to_string())
        .unwrap_or_default();
    let is_log = req.uri().path() == "/v1/log";
    let mut out = client.request(req.method().clone(), format!("http://{upstream}{path}"));
    for (name, value) in req.headers() {
        // The log is never answered 304 here: the browser must see what the proxy serves.
        if name != "host" && !(is_log && name == "if-none-match") {
            out = out.header(name, value);
        }
    }
    let body = axum::body::to_bytes(req.into_body(), 1 << 20)
        .await
        .unwrap();
    let res = out.body(body).send().await.expect("the server answers");
    let mut builder = Response::builder().status(res.status().as_u16());
    for (name, value) in res.headers() {
        if !["content-length", "transfer-encoding", "etag", "connection"].contains(&name.as_str()) {
            builder = builder.header(name, value);
        }
    }
    let mut bytes = res.bytes().await.unwrap().to_vec();
    if is_log && mode != Log::Honest {
        let mut log: Value = serde_json::from_slice(&bytes).unwrap();
        let first: SignedCheckpoint =
            serde_json::from_value(log["checkpoints"][0].clone()).unwrap();
        let tampered = match mode {
            Log::Forged => {
                let mut c = first.clone();
                c.checkpoint.root.0[0] ^= 1;
                c
            }
            _ => key.sign(Checkpoint {
                root: Digest([0x5a; 32]),
                ..first.checkpoint.clone()
            }),
        };
        log["checkpoints"][0] = serde_json::to_value(tampered).unwrap();
        bytes = serde_json::to_vec(&log).unwrap();
    }
    builder.body(Body::from(bytes)).unwrap()
}

/// The headers that sign `method` `path` with `body` as integration `qr-demo`, now.
fn signed(method: &str, path: &str, body: &str) -> Vec<(&'static str, String)> {
    signed_by(SECRET, method, path, body)
}

/// The string `key` of every object in the JSON array `list`, in order.
fn field(list: &Value, key: &str) -> Vec<String> {
    let rows = list.as_array().expect("a list");
    rows.iter()
        .map(|r| r[key].as_str().unwrap().to_owned())
        .collect()
}

/// `greenloop proof check` on `bundle`: the line it prints.
fn proof_check(data: &Path, key: &str, bundle: &str) -> String {
    let file = data.join("bundle-under-check.json");
    std::fs::write(&file, bundle).unwrap();
    let out = greenloop(data)
        .args(["proof", "check", "--log-key", key])
        .arg(&file)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// The in-browser checker's verdict as `greenloop proof check` would print it.
async fn browser_check(b: &Browser, key: &str, bundle: &str) -> String {
    let v = b
        .run(
            "const m = await import('/assets/verifier.js'); return await m.check(a[0], JSON.parse(a[1]));",
            vec![json!(key), json!(bundle)],
        )
        .await;
    match v["ok"].as_bool() {
        Some(true) => v["line"].as_str().unwrap().to_owned(),
        _ => format!("proof: FAILED: {}", v["error"].as_str().unwrap_or("?")),
    }
}

/// `bundle` with one hex digit flipped just after the first `marker`.
fn flipped(bundle: &str, marker: &str) -> Option<String> {
    let at = bundle.find(marker)? + marker.len();
    let mut out = bundle.to_owned();
    let digit = if &bundle[at..at + 1] == "0" { "1" } else { "0" };
    out.replace_range(at..at + 1, digit);
    Some(out)
}

/// The browser and the command line agree on `bundle` and on tampered copies of it; returns
/// the untampered verdict.
async fn agree(b: &Browser, data: &Path, key: &str, what: &str, bundle: &str) -> String {
    let verdict = proof_check(data, key, bundle);
    assert_eq!(browser_check(b, key, bundle).await, verdict, "{what}");
    let markers = [
        "\"signature\": \"",
        "\"root\": \"",
        "\"proof\": [\n        \"",
        "\"hash\":\"",
    ];
    let mut tampered = 0;
    for m in markers {
        if let Some(t) = flipped(bundle, m) {
            let cli = proof_check(data, key, &t);
            assert!(
                cli.starts_with("proof: FAILED"),
                "{what} with {m} changed: {cli}"
            );
            assert_eq!(
                browser_check(b, key, &t).await,
                cli,
                "{what} with {m} changed"
            );
            tampered += 1;
        }
    }
    assert!(
        tampered >= 2,
        "{what}: at least a signature and a root were changed"
    );
    verdict
}

/// Fetches a real proof with `greenloop proof ... --url --save`, then checks that the browser
/// and the command line agree on it and on tampered copies.
async fn real_proof(
    b: &Browser,
    data: &Path,
    url: &str,
    auditor: &str,
    public_key: &str,
    what: &str,
    args: &[&str],
) {
    let saved = data.join(format!("real-{what}.json"));
    let mut cmd = greenloop(data);
    cmd.arg("proof")
        .args(args)
        .args([
            "--url",
            url,
            "--key",
            auditor,
            "--log-key",
            public_key,
            "--save",
        ])
        .arg(&saved);
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{what}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let bundle = std::fs::read_to_string(&saved).unwrap();
    let verdict = agree(b, data, public_key, what, &bundle).await;
    assert!(verdict.starts_with("proof: OK"), "{what}: {verdict}");
}

/// What a screen reader or a keyboard user would miss on the page: a control without a label, a
/// button without a name, a table without a caption or column headers (but the chart's legend,
/// whose numbers are in a table of their own).
async fn assert_accessible(b: &Browser, page: &str) {
    let missing = b
        .run(
            "const named = e => e.labels?.length || e.getAttribute('aria-label') || e.getAttribute('aria-labelledby');
             return [
               ...[...document.querySelectorAll('input, select, textarea')].filter(e => e.type !== 'hidden' && !named(e)).map(e => 'control ' + (e.id || e.name)),
               ...[...document.querySelectorAll('button')].filter(e => !e.textContent.trim() && !e.getAttribute('aria-label')).map(e => 'button ' + e.id),
               ...[...document.querySelectorAll('table')].filter(t => !t.closest('.uplot') && (!t.caption || !t.querySelector('th[scope]'))).map(t => 'table ' + t.id),
               ...(document.documentElement.lang ? [] : ['the page has no lang']),
             ];",
            vec![],
        )
        .await;
    assert_eq!(missing, json!([]), "{page}: not accessible");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pages_in_chromium_render_the_api_and_witness_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    small_demo(greenloop(data), ["120", "800", "4", "10"]);
    let portal = mint(greenloop(data), &["--campus", "sjtu"]);
    let auditor = mint(greenloop(data), &["--auditor"]);
    let public_key = LogKey::from_hex(LOG_SEED).unwrap().public().to_hex();

    let server = Server::start_with(greenloop(data), &["--checkpoint-every", "1"]);
    let api = server.addr.clone();
    let proxy = proxy(api.clone()).await;
    let site = format!("http://{}", proxy.addr);
    let b = Browser::start().await;

    // ---- the public page, in Chinese first
    b.goto(&format!("{site}/")).await;
    b.wait_attr("body", "data-ready", &["1"]).await;
    assert_eq!(b.attr("html", "lang").await.as_deref(), Some("zh-CN"));
    let (_, ranking) = http(&api, "GET", "/v1/campuses", &[], "");
    let campuses = ranking["campuses"].as_array().unwrap();
    let sum = |field: &str| {
        campuses
            .iter()
            .map(|c| c[field].as_i64().unwrap())
            .sum::<i64>()
    };
    for (id, field) in [
        ("#total-points", "bonus"),
        ("#total-co2e", "co2e_g"),
        ("#total-actions", "entries"),
    ] {
        let shown = b.attr(id, "data-value").await.unwrap_or_default();
        assert_eq!(shown, sum(field).to_string(), "{id}");
    }
    assert!(sum("entries") > 0, "the demo credited entries to campuses");
    // The chart's table holds the campaign's days, which add up to the campuses' totals.
    let days = ranking["days"].as_array().unwrap();
    let day_entries: i64 = days.iter().map(|d| d["entries"].as_i64().unwrap()).sum();
    assert_eq!(day_entries, sum("entries"));
    let shown_days = b.attrs("#days-table tbody tr", "data-day").await;
    assert_eq!(shown_days, field(&ranking["days"], "day"));
    assert_eq!(
        b.attrs("#campus-ranking tbody tr", "data-campus").await,
        field(&ranking["campuses"], "campus")
    );
    let (_, team) = http(&api, "GET", "/v1/brands", &[], "");
    let brands = field(&team["brands"], "brand");
    assert!(!brands.is_empty(), "the demo folded brand figures");
    assert_eq!(
        b.attrs("#brand-ranking tbody tr", "data-brand").await,
        brands
    );
    let (_, packaging) = http(&api, "GET", "/v1/packaging", &[], "");
    assert_eq!(
        b.attr("#pack-collected", "data-value")
            .await
            .unwrap_or_default(),
        packaging["totals"]["collected"].to_string()
    );
    // The witness, first visit: every checkpoint verified in the browser and kept.
    assert_eq!(
        b.wait_attr("#witness", "data-state", &["first", "failed", "unkeyed"])
            .await,
        "first"
    );
    assert_eq!(b.text("#log-key").await.trim(), public_key);
    b.assert_no_errors("public page, first visit").await;
    assert_accessible(&b, "the public page").await;
    b.screenshot("public-zh.png").await;

    // ---- on a phone (most visitors come from a QR code): nothing wider than the screen
    b.client.set_window_size(390, 844).await.unwrap();
    let widths = b
        .run("await new Promise(r => setTimeout(r, 300)); return [document.documentElement.scrollWidth, window.innerWidth];", vec![])
        .await;
    assert!(
        widths[0].as_u64() <= widths[1].as_u64(),
        "the page scrolls sideways on a phone: {widths}"
    );
    b.save_screenshot("public-phone-zh.png").await;
    b.client.set_window_size(1280, 1000).await.unwrap();

    // ---- English
    b.wait_for("#lang").await.click().await.unwrap();
    b.wait_attr("html", "lang", &["en"]).await;
    b.screenshot("public-en.png").await;
    b.assert_no_errors("public page, English").await;

    // ---- the in-browser checker against `greenloop proof check`: the docs' vectors...
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/audit.md")).unwrap();
    for kind in ["inclusion", "consistency", "statement"] {
        let fence = format!("```json saved-{kind}\n");
        let start = doc.find(&fence).unwrap() + fence.len();
        let body = &doc[start..start + doc[start..].find("\n```").unwrap()];
        let verdict = agree(&b, data, DOCS_KEY, kind, body).await;
        assert!(verdict.starts_with("proof: OK"), "{kind}: {verdict}");
    }
    let format = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/ledger-format.md"
    ))
    .unwrap();
    let fence = "```json checkpoint-1\n";
    let start = format.find(fence).unwrap() + fence.len();
    let checkpoint: Value =
        serde_json::from_str(&format[start..start + format[start..].find("\n```").unwrap()])
            .unwrap();
    let bundle =
        serde_json::to_string_pretty(&json!({"checkpoint": {"checkpoint": checkpoint}})).unwrap();
    assert!(agree(&b, data, DOCS_KEY, "checkpoint-1", &bundle)
        .await
        .starts_with("proof: OK"));
    // ...and real proofs from the server, fetched and saved by the command line.
    let url = format!("http://{api}");
    for (what, args) in [
        (
            "inclusion",
            vec!["inclusion", "--chain", "shard-00", "--seq", "0"],
        ),
        ("brand", vec!["brand", "--brand", brands[0].as_str()]),
    ] {
        real_proof(&b, data, &url, &auditor, &public_key, what, &args).await;
    }
    b.assert_no_errors("the checker's vectors").await;

    // ---- the log grows: a member's scan, credited and checkpointed
    let user = "browser-user";
    let (status, _) = http(
        &api,
        "PUT",
        &format!("/v1/campuses/sjtu/members/{user}"),
        &bearer(&portal),
        "",
    );
    assert_eq!(status, 200);
    let before: Vec<SignedCheckpoint> =
        serde_json::from_value(http(&api, "GET", "/v1/log", &[], "").1["checkpoints"].clone())
            .unwrap();
    let scan = json!({
        "scan_id": "browser-scan-1", "user": user, "station": "st-sjtu-1", "at": unix_now() - 60,
        "items": {"books": 2, "boxes": [{"brand": "brand-07", "count": 3}], "clothing_g": 0, "shoes": 0}
    })
    .to_string();
    let (status, recorded) = http(
        &api,
        "POST",
        "/v1/scans",
        &signed("POST", "/v1/scans", &scan),
        &scan,
    );
    assert_eq!(status, 202, "{recorded}");
    let start = Instant::now();
    let grown = loop {
        let now: Vec<SignedCheckpoint> =
            serde_json::from_value(http(&api, "GET", "/v1/log", &[], "").1["checkpoints"].clone())
                .unwrap();
        if let Some((_, old)) = now
            .iter()
            .zip(&before)
            .find(|(n, b)| n.checkpoint.size > b.checkpoint.size)
        {
            break old.checkpoint.clone();
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no checkpoint grew"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    // A real consistency proof, from the demo's checkpoint to the new one.
    let first = grown.size.to_string();
    let args = [
        "consistency",
        "--chain",
        grown.chain.as_str(),
        "--first",
        first.as_str(),
    ];
    real_proof(&b, data, &url, &auditor, &public_key, "consistency", &args).await;
    b.goto(&format!("{site}/")).await;
    assert_eq!(
        b.wait_attr("#witness", "data-state", &["consistent", "failed", "first"])
            .await,
        "consistent"
    );
    b.assert_no_errors("public page, after the log grew").await;

    // ---- a forged checkpoint, then a validly signed fork: loud failures with evidence
    for (mode, shot) in [
        (Log::Forged, Some("witness-failure.png")),
        (Log::Fork, None),
    ] {
        *proxy.mode.lock().unwrap() = mode;
        b.goto(&format!("{site}/")).await;
        assert_eq!(
            b.wait_attr("#witness", "data-state", &["failed", "consistent", "first"])
                .await,
            "failed",
            "{mode:?}"
        );
        assert_eq!(
            b.attr("#witness", "role").await.as_deref(),
            Some("alert"),
            "{mode:?}"
        );
        // The file the download link offers is also shown on the page (a page may not fetch its
        // own blob: URL under connect-src 'self').
        b.wait_for("#witness-evidence a[download]").await;
        let evidence = b
            .run(
                "return document.querySelector('#witness-evidence pre.evidence-json').textContent;",
                vec![],
            )
            .await;
        let evidence = evidence.as_str().expect("an evidence file").to_owned();
        let cli = proof_check(data, &public_key, &evidence);
        assert!(
            cli.starts_with("proof: FAILED"),
            "{mode:?}: the evidence must fail on the command line too: {cli}"
        );
        assert_eq!(
            browser_check(&b, &public_key, &evidence).await,
            cli,
            "{mode:?}"
        );
        if let Some(name) = shot {
            b.screenshot_at("#witness-section", name).await;
        }
        b.assert_no_errors(&format!("{mode:?}")).await;
    }
    // The failures kept nothing: the honest log is consistent with the last good visit.
    *proxy.mode.lock().unwrap() = Log::Honest;
    b.goto(&format!("{site}/")).await;
    assert_eq!(
        b.wait_attr("#witness", "data-state", &["consistent", "failed", "first"])
            .await,
        "consistent"
    );

    // ---- the campus dashboard: nothing without the key, the campus with it
    b.goto(&format!("{site}/campus?campus=sjtu")).await;
    b.wait_for("#key-form").await;
    assert_eq!(
        b.attr("#dashboard", "hidden").await.as_deref(),
        Some("true")
    );
    b.wait_for("#key")
        .await
        .send_keys("glk_0000000000000000_wrong")
        .await
        .unwrap();
    b.wait_for("#key-form button[type=submit]")
        .await
        .click()
        .await
        .unwrap();
    b.wait_attr("body", "data-ready", &["error"]).await;
    assert!(!b.text("#dash-error").await.trim().is_empty());
    assert_eq!(
        b.attr("#dashboard", "hidden").await.as_deref(),
        Some("true")
    );
    // The refused key's 401 is logged as a failed request, which also shows the console is read.
    let console = b.console().await;
    let severe: Vec<&String> = console
        .iter()
        .filter(|(l, _)| l == "SEVERE")
        .map(|(_, m)| m)
        .collect();
    assert!(
        !severe.is_empty()
            && severe
                .iter()
                .all(|m| m.contains("Failed to load resource") && m.contains("401")),
        "dashboard, wrong key: {severe:#?}"
    );
    let key_field = b.wait_for("#key").await;
    key_field.clear().await.unwrap();
    key_field.send_keys(&portal).await.unwrap();
    b.wait_for("#key-form button[type=submit]")
        .await
        .click()
        .await
        .unwrap();
    b.wait_attr("body", "data-ready", &["1"]).await;
    let (_, summary) = http(
        &api,
        "GET",
        "/v1/campuses/sjtu/summary",
        &bearer(&portal),
        "",
    );
    assert_eq!(
        b.text("#c-name").await.trim(),
        summary["name"].as_str().unwrap()
    );
    for (id, field) in [
        ("#c-points", "bonus"),
        ("#c-co2e", "co2e_g"),
        ("#c-actions", "entries"),
    ] {
        assert_eq!(
            b.attr(id, "data-value").await.unwrap_or_default(),
            summary["campaign"][field].to_string(),
            "{id}"
        );
    }
    let (_, board) = http(
        &api,
        "GET",
        "/v1/campuses/sjtu/leaderboard?limit=20",
        &bearer(&portal),
        "",
    );
    assert_eq!(
        b.attrs("#leaderboard tbody tr", "data-member").await,
        field(&board["leaders"], "member")
    );
    b.wait_for("#member-user")
        .await
        .send_keys(user)
        .await
        .unwrap();
    b.wait_for("#member-form button[type=submit]")
        .await
        .click()
        .await
        .unwrap();
    let (_, account) = http(
        &api,
        "GET",
        &format!("/v1/campuses/sjtu/members/{user}"),
        &bearer(&portal),
        "",
    );
    b.wait_for("#member-result #m-balance").await;
    assert_eq!(
        b.attr("#m-balance", "data-value").await.unwrap_or_default(),
        account["balance"].to_string()
    );
    assert!(
        b.attrs("#member-result tbody tr", "data-action")
            .await
            .contains(&"browser-scan-1".to_owned()),
        "the member's scan is in their recent entries"
    );
    assert_accessible(&b, "the dashboard").await;
    b.screenshot("campus-dashboard.png").await;
    b.assert_no_errors("dashboard").await;
    b.close().await;
}
