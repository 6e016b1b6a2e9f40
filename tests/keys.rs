//! `greenloop keys` end to end, through the binary: a key minted with an expiry, listed without
//! its secret, revoked by its id and then refused by `greenloop serve` while its siblings still
//! work; on DynamoDB Local, revoked while the server runs and refused from the next request on.
//! Revoking an unknown id, a malformed id and an expiry in the past are one-line errors.

#[path = "../shared/tests/support/dynamodb_local.rs"]
mod dynamodb_local;
#[path = "support/one_line.rs"]
mod one_line;
#[path = "support/place.rs"]
mod place;
#[path = "support/server.rs"]
mod server;

use one_line::assert_one_line_error;
use place::Place;
use serde_json::Value;
use server::{bearer, http, Server};
use std::path::Path;
use std::process::{Command, Output};

const DAY: i64 = 86_400;

impl Place<'_> {
    /// The place's binary with the webhook secrets `serve` needs.
    fn greenloop(&self) -> Command {
        let mut cmd = self.command();
        cmd.env(
            "GREENLOOP_WEBHOOK_SECRETS",
            "qr-keys=keys-test-webhook-secret",
        );
        cmd
    }

    fn output(&self, args: &[&str]) -> Output {
        self.greenloop()
            .args(args)
            .output()
            .expect("the greenloop binary runs")
    }

    /// Runs `args`, which must succeed; its stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.output(args);
        assert!(
            out.status.success(),
            "greenloop {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("UTF-8")
    }

    /// Registers campus `sjtu`.
    fn register(&self, dir: &Path) {
        let file = dir.join("registry.json");
        let registry = r#"{"campuses": [{"id": "sjtu", "name": "SJTU", "city": "Shanghai"}],
                           "stations": []}"#;
        std::fs::write(&file, registry).unwrap();
        self.ok(&["register", file.to_str().unwrap()]);
    }

    /// Mints a key: stdout is the key alone; stderr names its id.
    fn mint(&self, args: &[&str]) -> Minted {
        let out = self.output(&[&["keys"], args].concat());
        assert!(out.status.success(), "{out:?}");
        let key = String::from_utf8(out.stdout).unwrap();
        assert_eq!(key.lines().count(), 1, "stdout is the key alone: {key}");
        let key = key.trim().to_owned();
        let id = key
            .strip_prefix("glk_")
            .and_then(|rest| rest.split_once('_'))
            .map(|(id, _)| id.to_owned())
            .unwrap_or_else(|| panic!("not a key: {key}"));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(&format!("key id {id}")), "{stderr}");
        Minted { key, id }
    }

    /// `keys --list --json`, by key id.
    fn listed(&self) -> Vec<Value> {
        self.ok(&["keys", "--list", "--json"])
            .lines()
            .map(|l| serde_json::from_str(l).expect("a JSON line"))
            .collect()
    }
}

struct Minted {
    key: String,
    id: String,
}

impl Minted {
    fn secret(&self) -> &str {
        self.key.rsplit('_').next().unwrap()
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// An answer's status and error code.
fn status(addr: &str, path: &str, key: &str) -> (u16, Value) {
    let (status, body) = http(addr, "GET", path, &bearer(key), "");
    (status, body["code"].clone())
}

const SUMMARY: &str = "/v1/campuses/sjtu/summary";
const HEADS: &str = "/v1/audit/heads";

#[test]
fn a_key_is_minted_listed_revoked_and_then_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let place = Place::Embedded(&data);
    place.register(dir.path());

    let before = now();
    let portal = place.mint(&["--campus", "sjtu", "--expires-in-days", "30"]);
    let sibling = place.mint(&["--campus", "sjtu"]);
    let auditor = place.mint(&["--auditor", "--expires", "2099-01-01"]);
    let brand = place.mint(&["--brand", "brand-07"]);

    // Listed with its grant, times and status; never a secret or a hash.
    let text = place.ok(&["keys", "--list"]);
    let line = text
        .lines()
        .find(|l| l.starts_with(&portal.id))
        .unwrap_or_else(|| panic!("{} not listed: {text}", portal.id));
    assert!(
        line.contains("campus sjtu") && line.contains("active") && line.contains("revoked -"),
        "{line}"
    );
    let listed = place.listed();
    assert_eq!(listed.len(), 4, "{listed:?}");
    let entry = |id: &str| {
        place
            .listed()
            .into_iter()
            .find(|k| k["id"] == id)
            .unwrap_or_else(|| panic!("{id} not listed"))
    };
    let p = entry(&portal.id);
    assert_eq!(
        p["grant"],
        serde_json::json!({"role": "campus", "campus": "sjtu"})
    );
    assert_eq!(p["status"], "active");
    let (created, expires) = (
        p["created_at"].as_i64().unwrap(),
        p["expires_at"].as_i64().unwrap(),
    );
    assert!((before..=now()).contains(&created), "{p}");
    assert_eq!(expires, created + 30 * DAY, "{p}");
    assert!(p["revoked_at"].is_null(), "{p}");
    assert_eq!(entry(&sibling.id)["expires_at"], Value::Null);
    assert_eq!(
        entry(&brand.id)["grant"],
        serde_json::json!({"role": "brand", "brand": "brand-07"})
    );
    // 2099-01-01 00:00 UTC.
    assert_eq!(entry(&auditor.id)["expires_at"], 4_070_908_800i64);
    for output in [text, place.ok(&["keys", "--list", "--json"])] {
        for k in [&portal, &sibling, &auditor, &brand] {
            assert!(!output.contains(k.secret()), "a secret is listed: {output}");
        }
        assert!(!output.contains("hash"), "{output}");
    }

    let revoked = place.ok(&["keys", "--revoke", &portal.id]);
    assert!(
        revoked.starts_with(&format!("{}: ", portal.id)),
        "{revoked}"
    );
    place.ok(&["keys", "--revoke", &portal.id]); // again: harmless
    let p = entry(&portal.id);
    assert_eq!(p["status"], "revoked", "{p}");
    assert!(
        p["revoked_at"].as_i64().is_some_and(|t| t >= created),
        "{p}"
    );
    assert_eq!(entry(&sibling.id)["status"], "active");

    // The embedded store is one process's at a time: serve after revoking.
    let server = Server::start(place.greenloop());
    let addr = server.addr.as_str();
    assert_eq!(
        status(addr, SUMMARY, &portal.key),
        (401, Value::from("key_revoked"))
    );
    assert_eq!(status(addr, SUMMARY, &sibling.key).0, 200);
    assert_eq!(status(addr, HEADS, &auditor.key).0, 200);
    // A brand key reads its own statement (none yet: nothing is folded), and nothing else.
    assert_eq!(
        status(addr, "/v1/brands/brand-07/statement", &brand.key),
        (404, Value::from("not_found"))
    );
    for other in ["/v1/brands/brand-08/statement", HEADS, SUMMARY] {
        assert_eq!(
            status(addr, other, &brand.key),
            (403, Value::from("forbidden")),
            "{other}"
        );
    }
    assert_eq!(
        status(
            addr,
            HEADS,
            &format!("glk_{}_{}", auditor.id, sibling.secret())
        ),
        (401, Value::from("unauthorized")),
        "another key's secret under this id"
    );
}

#[test]
fn bad_keys_requests_are_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let place = Place::Embedded(&data);
    place.register(dir.path());
    place.mint(&["--auditor"]);

    let cases: [(&[&str], &str); 8] = [
        (
            &["keys", "--revoke", "0123456789abcdef"],
            "no API key 0123456789abcdef",
        ),
        (
            &["keys", "--revoke", "not-an-id"],
            "a key id is 16 lowercase hex digits",
        ),
        (
            &["keys", "--auditor", "--expires", "2001-02-03"],
            "is not in the future",
        ),
        (
            &["keys", "--auditor", "--expires", "next tuesday"],
            "expected an RFC 3339 time",
        ),
        (&["keys", "--campus", "nowhere"], "no campus nowhere"),
        (
            &["keys", "--brand", "brand-99"],
            "brand-99 is not a partner brand",
        ),
        (&["keys", "--brand", "a b"], "--brand: "),
        (
            &[
                "keys",
                "--revoke",
                "0123456789abcdef",
                "--expires-in-days",
                "3",
            ],
            "required arguments were not provided: <--campus <CAMPUS>|--brand <BRAND>|--auditor>",
        ),
    ];
    for (args, expect) in cases {
        assert_one_line_error(&place.output(args), expect);
    }
    assert_eq!(place.listed().len(), 1, "no error minted or revoked a key");
}

#[test]
fn on_dynamodb_a_key_revoked_while_serving_is_refused_from_the_next_request() {
    let endpoint = dynamodb_local::endpoint();
    let table = dynamodb_local::unique_table("keys-cli");
    let dir = tempfile::tempdir().unwrap();
    let place = Place::Dynamo {
        endpoint: &endpoint,
        table: &table,
    };
    place.ok(&["create-table"]);
    place.register(dir.path());
    let portal = place.mint(&["--campus", "sjtu", "--expires-in-days", "7"]);
    let sibling = place.mint(&["--campus", "sjtu"]);
    let ids: Vec<Value> = place
        .listed()
        .into_iter()
        .map(|k| k["id"].clone())
        .collect();
    assert!(ids.contains(&Value::from(portal.id.as_str())), "{ids:?}");

    let server = Server::start(place.greenloop());
    let addr = server.addr.as_str();
    assert_eq!(status(addr, SUMMARY, &portal.key).0, 200);
    place.ok(&["keys", "--revoke", &portal.id]);
    assert_eq!(
        status(addr, SUMMARY, &portal.key),
        (401, Value::from("key_revoked"))
    );
    assert_eq!(status(addr, SUMMARY, &sibling.key).0, 200);
    assert_one_line_error(
        &place.output(&["keys", "--revoke", "fedcba9876543210"]),
        "no API key fedcba9876543210",
    );
}
