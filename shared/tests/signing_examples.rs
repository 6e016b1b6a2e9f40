//! The signing scheme as the documents teach it: the worked example in `docs/openapi.yaml` and
//! the one in the README are recomputed with the code intake verifies with, and the README's
//! `openssl` shell function is run on the same request and must print the same header.

use greenloop::http::signature::{sign, Integrations, Message};
use serde_json::Value;
use std::process::Command;

const README: &str = include_str!("../../README.md");
const OPENAPI: &str = include_str!("../../docs/openapi.yaml");

/// The example's parts, owned.
struct Example {
    secret: String,
    key_id: String,
    t: i64,
    method: String,
    path: String,
    query: String,
    body: String,
    string_to_sign: Vec<u8>,
    signature: String,
}

impl Example {
    fn message(&self) -> Message<'_> {
        Message {
            method: &self.method,
            path: &self.path,
            query: &self.query,
            key_id: &self.key_id,
            body: self.body.as_bytes(),
        }
    }

    /// The example holds: its string to sign and signature are the code's, and intake takes it.
    fn holds(&self) {
        let m = self.message();
        assert_eq!(
            String::from_utf8_lossy(&m.string_to_sign(self.t)),
            String::from_utf8_lossy(&self.string_to_sign)
        );
        assert_eq!(sign(self.secret.as_bytes(), &m, self.t), self.signature);
        let keys = Integrations::parse(&format!("{}={}", self.key_id, self.secret)).unwrap();
        assert_eq!(
            keys.verify(Some(&self.signature), m, self.t),
            Ok(self.key_id.as_str())
        );
    }
}

fn openapi_example() -> Example {
    let doc: Value = serde_norway::from_str(OPENAPI).expect("the spec is YAML");
    let x = &doc["components"]["securitySchemes"]["webhookSignature"]["x-worked-example"];
    let text = |k: &str| {
        x[k].as_str()
            .unwrap_or_else(|| panic!("x-worked-example.{k}"))
            .to_owned()
    };
    Example {
        secret: text("secret"),
        key_id: text("key_id"),
        t: x["t"].as_i64().expect("x-worked-example.t"),
        method: text("method"),
        path: text("path"),
        query: text("query"),
        body: text("body"),
        string_to_sign: text("string_to_sign").into_bytes(),
        signature: text("signature"),
    }
}

/// The README's worked-example table: `| name | `value` |` rows.
fn readme_example() -> Example {
    let start = README
        .find("| secret |")
        .expect("the README's worked example");
    let rows: Vec<&str> = README[start..]
        .lines()
        .take_while(|l| l.starts_with('|'))
        .collect();
    let cell = |name: &str| -> &str {
        let row = rows
            .iter()
            .find(|r| r.starts_with(&format!("| {name} |")))
            .unwrap_or_else(|| panic!("README row {name}"));
        row.split(" | ").nth(1).unwrap().trim_end_matches(" |")
    };
    // Code spans, in order.
    let spans = |text: &str| -> Vec<String> {
        text.split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_owned)
            .collect()
    };
    let one = |name: &str| spans(cell(name)).remove(0);
    let request = spans(cell("request"));
    let (method, path) = request[0].split_once(' ').expect("METHOD /path");
    assert!(cell("request").contains("no query"));
    let parts = spans(cell("string to sign"));
    // The table shows the empty query line as "(empty)" between the path and the key id.
    let mut lines: Vec<&str> = parts.iter().map(String::as_str).collect();
    lines.insert(3, "");
    Example {
        secret: one("secret"),
        key_id: one("key id"),
        t: request[2].parse().expect("t"),
        method: method.to_owned(),
        path: path.to_owned(),
        query: String::new(),
        body: one("body"),
        string_to_sign: lines.join("\n").into_bytes(),
        signature: one("`Greenloop-Signature`"),
    }
}

#[test]
fn the_openapi_worked_example_verifies() {
    openapi_example().holds();
}

#[test]
fn the_readme_worked_example_verifies_and_matches_the_spec() {
    let r = readme_example();
    r.holds();
    let o = openapi_example();
    assert_eq!(
        (&r.secret, &r.path, &r.body, &r.signature),
        (&o.secret, &o.path, &o.body, &o.signature)
    );
}

/// The README's `sign` shell function, as printed there.
fn readme_sign_function() -> String {
    let start = README.find("sign() {").expect("the README's sign function");
    let end = start + README[start..].find("\n}\n").expect("its end") + 2;
    README[start..end].to_owned()
}

#[test]
fn the_readme_openssl_function_signs_the_worked_example() {
    let e = openapi_example();
    let script = format!("{}\nsign \"$1\" \"$2\" \"$3\"", readme_sign_function());
    let out = Command::new("sh")
        .arg("-c")
        .arg(&script)
        .arg("sh")
        .args([&e.method, &e.path, &e.body])
        .env("secret", &e.secret)
        .env("key", &e.key_id)
        .env("T", e.t.to_string())
        .output()
        .expect("sh runs (openssl must be installed: infra/install-tools)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), e.signature);
    // And for a GET with no body, the README's status read, against the code.
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "{}\nsign GET /v1/actions/scan-0001",
            readme_sign_function()
        ))
        .env("secret", &e.secret)
        .env("key", &e.key_id)
        .env("T", e.t.to_string())
        .output()
        .unwrap();
    let m = Message::new("GET", "/v1/actions/scan-0001", &e.key_id, b"");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        sign(e.secret.as_bytes(), &m, e.t)
    );
}
