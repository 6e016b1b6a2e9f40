//! End-to-end over a real socket: `greenloop serve` on a simulated campaign's data, a signed
//! scan in, its credit out within a second, the campus summary moving, and `greenloop verify
//! --url` verifying the running server through its audit API.

#[path = "support/server.rs"]
mod server;

use greenloop::http::signature::{sign, Message};
use serde_json::json;
use server::{bearer, http, Server};
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const SECRET: &str = "e2e-webhook-secret-0123";

fn greenloop(data: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_greenloop"));
    c.arg("--data")
        .arg(data)
        .env_remove("GREENLOOP_DATA")
        .env_remove("GREENLOOP_AUDIT_KEY")
        .env("GREENLOOP_WEBHOOK_SECRETS", format!("qr-demo={SECRET}"));
    c
}

fn run(data: &Path, args: &[&str]) -> Output {
    let out = greenloop(data).args(args).output().expect("greenloop runs");
    assert!(
        out.status.success(),
        "greenloop {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn serve(data: &Path) -> Server {
    Server::start(greenloop(data))
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The headers that sign `method` `path` with `body` as integration `qr-demo`, now.
fn signed(method: &str, path: &str, body: &str) -> Vec<(&'static str, String)> {
    let message = Message::new(method, path, "qr-demo", body.as_bytes());
    vec![
        ("greenloop-key-id", "qr-demo".into()),
        (
            "greenloop-signature",
            sign(SECRET.as_bytes(), &message, unix_now()),
        ),
        ("content-type", "application/json".into()),
    ]
}

#[test]
fn a_signed_scan_is_credited_within_a_second_and_the_server_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    run(
        data,
        &[
            "demo",
            "--members",
            "100",
            "--actions",
            "600",
            "--campuses",
            "4",
            "--stations",
            "10",
        ],
    );
    let portal = String::from_utf8(run(data, &["keys", "--campus", "sjtu"]).stdout).unwrap();
    let auditor = String::from_utf8(run(data, &["keys", "--auditor"]).stdout).unwrap();
    let (portal, auditor) = (portal.trim().to_owned(), auditor.trim().to_owned());
    assert!(portal.starts_with("glk_") && auditor.starts_with("glk_"));

    let server = serve(data);
    let addr = server.addr.as_str();
    let (status, _) = http(
        addr,
        "PUT",
        "/v1/campuses/sjtu/members/e2e-user",
        &bearer(&portal),
        "",
    );
    assert_eq!(status, 200);
    let (_, before) = http(
        addr,
        "GET",
        "/v1/campuses/sjtu/summary",
        &bearer(&portal),
        "",
    );
    let before_g = before["campaign"]["co2e_g"].as_i64().expect("a summary");

    // A minute ago: inside the rehearsal's window and the grace.
    let scan = json!({
        "scan_id": "e2e-scan-1", "user": "e2e-user", "station": "st-sjtu-1", "at": unix_now() - 60,
        "items": {"books": 2, "boxes": [{"brand": "brand-07", "count": 3}], "clothing_g": 0, "shoes": 0}
    })
    .to_string();
    let (status, recorded) = http(
        addr,
        "POST",
        "/v1/scans",
        &signed("POST", "/v1/scans", &scan),
        &scan,
    );
    assert_eq!(status, 202, "{recorded}");

    let start = Instant::now();
    let credited = loop {
        let path = "/v1/actions/e2e-scan-1";
        let (_, s) = http(addr, "GET", path, &signed("GET", path, ""), "");
        if s["status"] == "credited" {
            break s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "not credited: {s}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "credited after {:?}",
        start.elapsed()
    );
    // 3 partner boxes × 10 × 2 + 2 books × 3.
    assert_eq!(credited["bonus"], 66);

    let (_, after) = http(
        addr,
        "GET",
        "/v1/campuses/sjtu/summary",
        &bearer(&portal),
        "",
    );
    assert!(
        after["campaign"]["co2e_g"].as_i64().unwrap() > before_g,
        "{after}"
    );
    assert_eq!(
        after["campaign"]["entries"].as_u64().unwrap(),
        before["campaign"]["entries"].as_u64().unwrap() + 1
    );

    let out = greenloop(data)
        .args([
            "verify",
            "--url",
            &format!("http://{addr}"),
            "--key",
            &auditor,
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("verification: OK"), "{text}");

    // A portal key is not an auditor key.
    let out = greenloop(data)
        .args([
            "verify",
            "--url",
            &format!("http://{addr}"),
            "--key",
            &portal,
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("403"), "{err}");
}
