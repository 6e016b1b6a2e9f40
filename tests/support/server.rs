//! A running `greenloop serve`, for the end-to-end tests of the binary, and plain HTTP/1.1
//! requests to it over a real socket.
#![allow(dead_code)] // each test binary uses only part of it

use greenloop::http::signature::{sign, Message};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, ChildStdout, Command, Output, Stdio};
use std::time::Duration;

/// Runs `command` with `args` and requires it to succeed.
pub fn run_ok(mut command: Command, args: &[&str]) -> Output {
    let out = command.args(args).output().expect("greenloop runs");
    assert!(
        out.status.success(),
        "greenloop {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A small simulated campaign: `greenloop demo` with `[members, actions, campuses, stations]`.
pub fn small_demo(command: Command, [members, actions, campuses, stations]: [&str; 4]) {
    run_ok(
        command,
        &[
            "demo",
            "--members",
            members,
            "--actions",
            actions,
            "--campuses",
            campuses,
            "--stations",
            stations,
        ],
    );
}

/// The key `greenloop keys ARGS` mints, which it prints alone on stdout.
pub fn mint(command: Command, args: &[&str]) -> String {
    let out = run_ok(command, &[&["keys"], args].concat());
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The headers that sign `method` `path` with `body` as integration `qr-demo` with `secret`,
/// now.
pub fn signed_by(
    secret: &str,
    method: &str,
    path: &str,
    body: &str,
) -> Vec<(&'static str, String)> {
    let message = Message::new(method, path, "qr-demo", body.as_bytes());
    vec![
        ("greenloop-key-id", "qr-demo".into()),
        (
            "greenloop-signature",
            sign(secret.as_bytes(), &message, unix_now()),
        ),
        ("content-type", "application/json".into()),
    ]
}

/// The server process, killed when dropped, and its stdout, kept open so it can still print.
pub struct Server {
    child: Child,
    /// `127.0.0.1:<port>`.
    pub addr: String,
    _stdout: BufReader<ChildStdout>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Starts `greenloop` (with its store and secrets already set on `command`) as `serve` on
    /// a free loopback port, and waits for its banner. It serves as the README does, a
    /// rehearsal on today's clock: intake takes only actions dated within the rulebook's grace,
    /// whatever day the test runs.
    pub fn start(command: Command) -> Server {
        Self::start_with(command, &[])
    }

    /// [`Server::start`] with more `serve` flags.
    pub fn start_with(mut command: Command, flags: &[&str]) -> Server {
        let mut child = command
            .args(["serve", "--addr", "127.0.0.1:0", "--rehearsal"])
            .args(flags)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("serve starts");
        let mut line = String::new();
        let mut out = BufReader::new(child.stdout.take().expect("piped stdout"));
        out.read_line(&mut line).expect("the banner");
        let addr = line
            .trim()
            .strip_prefix("greenloop serving on http://")
            .unwrap_or_else(|| panic!("unexpected banner {line:?}"))
            .to_owned();
        Server {
            child,
            addr,
            _stdout: out,
        }
    }
}

/// One HTTP/1.1 request on its own connection; returns the status and the JSON body (null if
/// the body is not JSON).
pub fn http(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: &str,
) -> (u16, Value) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").expect("a full response");
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

/// `Authorization: Bearer <key>`.
pub fn bearer(key: &str) -> Vec<(&'static str, String)> {
    vec![("authorization", format!("Bearer {key}"))]
}
