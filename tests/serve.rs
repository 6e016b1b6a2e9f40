//! End-to-end over a real socket: `greenloop serve` on a simulated campaign's data, a signed
//! scan in, its credit out within a second, the campus summary moving, and `greenloop verify
//! --url` verifying the running server through its audit API. Then raw requests the HTTP server
//! itself would refuse (too long, too large, malformed), each answered as JSON, on every request
//! of a keep-alive connection.

#[path = "support/server.rs"]
mod server;

use serde_json::json;
use server::{bearer, http, mint, signed_by, small_demo, unix_now, Server};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
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

fn serve(data: &Path) -> Server {
    Server::start(greenloop(data))
}

/// The headers that sign `method` `path` with `body` as integration `qr-demo`, now.
fn signed(method: &str, path: &str, body: &str) -> Vec<(&'static str, String)> {
    signed_by(SECRET, method, path, body)
}

#[test]
fn a_signed_scan_is_credited_within_a_second_and_the_server_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    small_demo(greenloop(data), ["100", "600", "4", "10"]);
    let portal = mint(greenloop(data), &["--campus", "sjtu"]);
    let auditor = mint(greenloop(data), &["--auditor"]);
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

// What hyper would answer itself, before any router runs, is answered as JSON too, on every
// request of a connection.

/// Writes `bytes` on `s` and reads one response: its status, and its JSON body (null if the
/// body is not JSON).
fn exchange(s: &mut TcpStream, bytes: &[u8]) -> (u16, serde_json::Value) {
    s.write_all(bytes).unwrap();
    read_response(s)
}

/// One response read off `s`, by its content-length.
fn read_response(s: &mut TcpStream) -> (u16, serde_json::Value) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(s.read(&mut byte).unwrap(), 1, "a whole head: {head:?}");
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let length: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length: ")
                .map(str::to_owned)
        })
        .expect("a content-length")
        .parse()
        .unwrap();
    assert!(
        head.to_ascii_lowercase()
            .contains("\r\ncontent-type: application/json\r\n"),
        "{head}"
    );
    assert!(
        head.to_ascii_lowercase().contains("\r\nx-request-id: "),
        "{head}"
    );
    let mut body = vec![0u8; length];
    s.read_exact(&mut body).unwrap();
    (
        status,
        serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
    )
}

fn connect(addr: &str) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

fn get(path: &str, extra: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nhost: x\r\n{extra}\r\n").into_bytes()
}

fn assert_error(answer: (u16, serde_json::Value), status: u16, code: &str) {
    assert_eq!(answer.0, status, "{}", answer.1);
    assert_eq!(answer.1["code"], code, "{}", answer.1);
    assert!(answer.1["message"].as_str().is_some_and(|m| !m.is_empty()));
}

/// The connection was closed after the last answer.
fn assert_closed(s: &mut TcpStream) {
    let mut rest = Vec::new();
    s.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty(), "nothing after the refusal: {rest:?}");
}

#[test]
fn requests_hyper_would_refuse_get_json_errors_on_every_request_of_a_connection() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path());
    let addr = server.addr.as_str();

    // Past hyper's own 65,534-byte URI limit, and past ours (8 KiB) only.
    let huge = format!("/health?pad={}", "a".repeat(70_000));
    let mut s = connect(addr);
    assert_error(exchange(&mut s, &get(&huge, "")), 414, "uri_too_long");
    assert_closed(&mut s);
    let long = format!("/health?pad={}", "a".repeat(9_000));
    assert_error(
        exchange(&mut connect(addr), &get(&long, "")),
        414,
        "uri_too_long",
    );

    // Header fields past what hyper takes at all (a 70 KB field; 101 fields), and past our 16 KiB.
    let field = format!("x-pad: {}\r\n", "a".repeat(70_000));
    let mut s = connect(addr);
    assert_error(
        exchange(&mut s, &get("/health", &field)),
        431,
        "headers_too_large",
    );
    assert_closed(&mut s);
    let fields: String = (0..101).map(|i| format!("x-{i}: v\r\n")).collect();
    let answer = exchange(&mut connect(addr), &get("/health", &fields));
    assert_error(answer, 431, "headers_too_large");
    let field = format!("x-pad: {}\r\n", "a".repeat(17_000));
    let answer = exchange(&mut connect(addr), &get("/health", &field));
    assert_error(answer, 431, "headers_too_large");

    // A NUL byte in a header value; a request line that is not HTTP; a chunked body.
    let answer = exchange(&mut connect(addr), &get("/health", "x-bad: a\0b\r\n"));
    assert_error(answer, 400, "malformed_request");
    let answer = exchange(&mut connect(addr), b"NOT HTTP AT ALL\r\n\r\n");
    assert_error(answer, 400, "malformed_request");
    let chunked =
        b"POST /v1/scans HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n";
    assert_error(
        exchange(&mut connect(addr), chunked),
        411,
        "length_required",
    );

    // Keep-alive: good requests, one with a body, then a bad one on the same connection.
    let mut s = connect(addr);
    let (status, body) = exchange(&mut s, &get("/health", ""));
    assert_eq!((status, body["status"].as_str()), (200, Some("ok")));
    let post = b"POST /v1/scans HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\n\r\n{}";
    assert_error(exchange(&mut s, post), 401, "missing_key_id");
    let answer = exchange(&mut s, &get("/health", "x-bad: a\0b\r\n"));
    assert_error(answer, 400, "malformed_request");
    assert_closed(&mut s);

    // Pipelined in one write: the good request is answered, then the bad one is refused.
    let mut s = connect(addr);
    let mut both = get("/health", "");
    both.extend_from_slice(&get(&huge, ""));
    let (status, _) = exchange(&mut s, &both);
    assert_eq!(status, 200);
    assert_error(read_response(&mut s), 414, "uri_too_long");
    assert_closed(&mut s);

    // A body that looks like a bad head is a body: only heads are checked.
    let mut s = connect(addr);
    let trick = b"POST /v1/scans HTTP/1.1\r\nhost: x\r\ncontent-length: 7\r\n\r\nGET \0\r\n";
    assert_error(exchange(&mut s, trick), 401, "missing_key_id");
    let (status, _) = exchange(&mut s, &get("/health", ""));
    assert_eq!(status, 200, "the connection goes on after the body");
}

/// The README's local look at the demo: `serve` with no webhook secrets still serves the pages
/// and every read route (intake refuses every delivery), and the public log names the demo's key.
#[test]
fn serve_without_secrets_shows_the_pages_and_the_public_log() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    small_demo(greenloop(data), ["40", "200", "2", "4"]);
    let mut command = greenloop(data);
    command
        .env_remove("GREENLOOP_WEBHOOK_SECRETS")
        .env_remove("GREENLOOP_LOG_KEY");
    let server = Server::start(command);
    let addr = server.addr.as_str();
    let (status, _) = http(addr, "GET", "/", &[], "");
    assert_eq!(status, 200);
    let (status, log) = http(addr, "GET", "/v1/log", &[], "");
    assert_eq!(status, 200);
    assert!(!log["checkpoints"].as_array().unwrap().is_empty(), "{log}");
    let public_key = log["public_key"].as_str().expect("the demo key is named");
    // Each served checkpoint checks under that key on the command line.
    for c in log["checkpoints"].as_array().unwrap() {
        let file = data.join("checkpoint.json");
        std::fs::write(&file, json!({"checkpoint": {"checkpoint": c}}).to_string()).unwrap();
        let out = greenloop(data)
            .args(["proof", "check", "--log-key", public_key])
            .arg(&file)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && text.starts_with("proof: OK"),
            "{text}"
        );
    }
    let scan = json!({"scan_id": "s-1", "user": "u", "station": "st-sjtu-1", "at": unix_now(), "items": {"books": 1, "boxes": [], "clothing_g": 0, "shoes": 0}}).to_string();
    let (status, _) = http(
        addr,
        "POST",
        "/v1/scans",
        &signed("POST", "/v1/scans", &scan),
        &scan,
    );
    assert_eq!(status, 401, "intake refuses every delivery");
}
