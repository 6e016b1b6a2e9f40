//! End-to-end: the `greenloop` binary on a real embedded database file.
//!
//! A small campaign is simulated once per test into its own directory; then the tests verify,
//! export, tamper with the database file the way someone with disk access would, and check the
//! command-line errors.

#[path = "support/one_line.rs"]
mod one_line;
#[path = "support/server.rs"]
mod server;

use greenloop::ledger::{Entry, Leaf};
use greenloop::store::embedded::{ENTRIES, FILE_NAME};
use one_line::assert_one_line_error;
use redb::{Database, ReadableDatabase, ReadableTable};
use std::path::Path;
use std::process::{Command, Output};

fn greenloop(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_greenloop"))
        .arg("--data")
        .arg(data)
        .args(args)
        .env_remove("GREENLOOP_DATA")
        .env("RUST_BACKTRACE", "1")
        .output()
        .expect("the greenloop binary runs")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A small campaign: big enough for several chains, caps, replays and conflicts.
fn demo(dir: &Path) -> Output {
    let out = greenloop(
        dir,
        &[
            "demo",
            "--members",
            "200",
            "--actions",
            "1500",
            "--campuses",
            "8",
            "--stations",
            "30",
        ],
    );
    assert!(out.status.success(), "demo failed: {}", text(&out));
    out
}

/// Rewrites the stored entry at (chain, seq) with `edit`, outside the application.
fn tamper(
    dir: &Path,
    chain: &str,
    seq: u64,
    edit: impl FnOnce(Option<Vec<u8>>) -> Option<Vec<u8>>,
) {
    let db = Database::open(dir.join(FILE_NAME)).unwrap();
    let txn = db.begin_write().unwrap();
    {
        let mut t = txn.open_table(ENTRIES).unwrap();
        let old = t.get((chain, seq)).unwrap().map(|v| v.value().to_vec());
        match edit(old) {
            Some(new) => {
                t.insert((chain, seq), new.as_slice()).unwrap();
            }
            None => {
                t.remove((chain, seq)).unwrap();
            }
        }
    }
    txn.commit().unwrap();
}

fn entry_at(dir: &Path, chain: &str, seq: u64) -> Entry {
    let db = Database::open(dir.join(FILE_NAME)).unwrap();
    let txn = db.begin_read().unwrap();
    let t = txn.open_table(ENTRIES).unwrap();
    let v = t.get((chain, seq)).unwrap().expect("entry exists");
    serde_json::from_slice(v.value()).unwrap()
}

#[test]
fn demo_summary_ends_with_a_passing_verification() {
    let dir = tempfile::tempdir().unwrap();
    let out = demo(dir.path());
    let stdout = String::from_utf8_lossy(&out.stdout);
    for part in [
        "Top campuses",
        "Campus leaderboard",
        "Chain heads",
        "replays answered",
        "CO2e avoided",
        "Packaging's second life",
        "reuse rate",
        "schools reached",
    ] {
        assert!(stdout.contains(part), "summary lacks {part:?}:\n{stdout}");
    }
    let last_lines: Vec<&str> = stdout.lines().rev().take(2).collect();
    assert!(
        last_lines.iter().any(|l| l.starts_with("verification: OK")),
        "{stdout}"
    );
    let verify = greenloop(dir.path(), &["verify"]);
    assert!(verify.status.success(), "{}", text(&verify));
}

#[test]
fn second_demo_run_only_replays() {
    let dir = tempfile::tempdir().unwrap();
    demo(dir.path());
    let before = greenloop(dir.path(), &["export"]).stdout;
    let again = demo(dir.path());
    assert!(
        String::from_utf8_lossy(&again.stdout).contains(" 0 actions recorded"),
        "{}",
        text(&again)
    );
    assert_eq!(
        greenloop(dir.path(), &["export"]).stdout,
        before,
        "a replayed campaign changed the ledger"
    );
}

#[test]
fn checkpoint_sign_and_list_are_subcommands() {
    let dir = tempfile::tempdir().unwrap();
    demo(dir.path());
    // The demo signed every chain with its public key, so signing again with it adds nothing.
    let sign = Command::new(env!("CARGO_BIN_EXE_greenloop"))
        .args(["--data", dir.path().to_str().unwrap(), "checkpoint", "sign"])
        .env_remove("GREENLOOP_DATA")
        .env(
            "GREENLOOP_LOG_KEY",
            "677265656e6c6f6f702d64656d6f2d6c6f672d6b65792d6e6f742d7365637265",
        )
        .output()
        .expect("the greenloop binary runs");
    assert!(sign.status.success(), "{}", text(&sign));
    let signed = String::from_utf8_lossy(&sign.stdout);
    assert!(signed.contains("unchanged"), "{signed}");
    assert!(signed.contains("checkpoints: 4 chains"), "{signed}");

    let list = greenloop(dir.path(), &["checkpoint", "list"]);
    assert!(list.status.success(), "{}", text(&list));
    let kept: Vec<serde_json::Value> = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(kept.len(), 4, "one checkpoint per chain: {}", text(&list));

    // The old names, one letter apart, are gone: `checkpoint` alone now needs sign or list.
    for old in [&["checkpoints"][..], &["checkpoint"][..]] {
        let out = greenloop(dir.path(), old);
        assert_eq!(out.status.code(), Some(2), "{old:?}: {}", text(&out));
    }
}

#[test]
fn export_is_every_entry_in_chain_and_seq_order() {
    let dir = tempfile::tempdir().unwrap();
    demo(dir.path());
    let out = greenloop(dir.path(), &["export"]);
    assert!(out.status.success());
    let report: serde_json::Value =
        serde_json::from_slice(&greenloop(dir.path(), &["verify", "--json"]).stdout).unwrap();
    let lines: Vec<&[u8]> = out
        .stdout
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(lines.len() as u64, report["entries"].as_u64().unwrap());
    let mut last: Option<(String, u64)> = None;
    let mut reports = 0;
    for line in lines {
        let (e, hash) = Leaf::read(line).unwrap();
        assert_eq!(e.to_json(), line, "export lines are canonical");
        assert_eq!(hash, e.hash());
        reports += usize::from(matches!(e, Leaf::Disposition(_)));
        let key = (e.chain().to_owned(), e.seq());
        if let Some(prev) = &last {
            assert!(key > *prev, "{key:?} after {prev:?}");
            if prev.0 == key.0 {
                assert_eq!(key.1, prev.1 + 1);
            }
        }
        last = Some(key);
    }
    assert!(
        reports > 0,
        "the demo's stations reported what became of their boxes"
    );
}

#[test]
fn an_edited_body_is_named_by_chain_and_seq() {
    let dir = tempfile::tempdir().unwrap();
    demo(dir.path());
    tamper(dir.path(), "shard-01", 7, |old| {
        let mut v: serde_json::Value = serde_json::from_slice(&old.unwrap()).unwrap();
        v["bonus"] = (v["bonus"].as_i64().unwrap() + 100).into();
        Some(serde_json::to_vec(&v).unwrap())
    });
    let out = greenloop(dir.path(), &["verify"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("FAILED: chain shard-01 seq 7: bad hash"),
        "{stdout}"
    );
}

#[test]
fn an_edit_with_a_recomputed_hash_breaks_the_next_link() {
    let dir = tempfile::tempdir().unwrap();
    demo(dir.path());
    // A careful forger changes an input and keeps the entry self-consistent.
    let mut e = entry_at(dir.path(), "shard-02", 3);
    e.station = "st-forged".into();
    e.seal();
    tamper(dir.path(), "shard-02", 3, |_| Some(e.to_json()));
    let out = greenloop(dir.path(), &["verify"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("FAILED: chain shard-02 seq 4: broken prev link"),
        "{}",
        text(&out)
    );
}

#[test]
fn an_inflated_bonus_with_a_recomputed_hash_fails_recomputation() {
    let dir = tempfile::tempdir().unwrap();
    demo(dir.path());
    let mut e = entry_at(dir.path(), "shard-00", 2);
    e.bonus += 50;
    e.seal();
    tamper(dir.path(), "shard-00", 2, |_| Some(e.to_json()));
    let out = greenloop(dir.path(), &["verify"]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("FAILED: chain shard-00 seq 2: bonus is"),
        "{stdout}"
    );
}

#[test]
fn a_deleted_entry_is_a_gap() {
    let dir = tempfile::tempdir().unwrap();
    demo(dir.path());
    tamper(dir.path(), "shard-03", 10, |_| None);
    let out = greenloop(dir.path(), &["verify", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let first = &report["problems"][0];
    assert_eq!(first["problem"], "seq_gap");
    assert_eq!(first["chain"], "shard-03");
    assert_eq!(first["expected"], 10);
    assert_eq!(first["found"], 11);
}

#[test]
fn bad_input_gets_one_line_and_a_nonzero_exit() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty");
    let corrupt = dir.path().join("corrupt");
    std::fs::create_dir_all(&corrupt).unwrap();
    std::fs::write(corrupt.join(FILE_NAME), b"not a database").unwrap();
    let bad_rules = dir.path().join("rules.json");
    std::fs::write(&bad_rules, b"{\"version\": 1}").unwrap();
    let cases: Vec<(Output, &str)> = vec![
        (greenloop(&empty, &["verify"]), "no ledger in"),
        (greenloop(&empty, &["export"]), "no ledger in"),
        (greenloop(&corrupt, &["verify"]), "corrupt"),
        (
            greenloop(&empty, &["--no-such-flag"]),
            "unexpected argument",
        ),
        (greenloop(&empty, &["demo", "--shards", "0"]), "--shards"),
        (
            greenloop(&empty, &["demo", "--rulebook", "/no/such/file.json"]),
            "cannot read rulebook",
        ),
        (
            greenloop(&empty, &["demo", "--rulebook", bad_rules.to_str().unwrap()]),
            "rulebook",
        ),
    ];
    for (out, expect) in cases {
        assert_one_line_error(&out, expect);
    }
    assert!(
        !empty.join(FILE_NAME).exists(),
        "a failed command created a database"
    );
}

#[test]
fn register_loads_the_example_registry_and_refuses_a_bad_one_whole() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let example = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../infra/registry.example.json"
    );
    let out = greenloop(&data, &["register", example]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "registered 2 campuses and 3 stations"
    );
    let again = greenloop(&data, &["register", example]);
    assert!(again.status.success(), "registering again is harmless");

    // One bad station refuses the whole file: its new campus is not written either.
    let bad = dir.path().join("bad.json");
    std::fs::write(
        &bad,
        r#"{"campuses": [{"id": "pku", "name": "Peking University", "city": "Beijing"}],
            "stations": [{"id": "bj-x", "city": "Beijing", "campus": "no-such-campus", "integrations": ["qr-1"]}]}"#,
    )
    .unwrap();
    let out = greenloop(&data, &["register", bad.to_str().unwrap()]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("unknown campus no-such-campus"), "{stderr}");
    let store = greenloop::store::embedded::EmbeddedStore::open(&data).unwrap();
    let campuses = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(greenloop::store::Campuses::campuses(&store))
        .unwrap();
    let ids: Vec<&str> = campuses.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["tsinghua", "zju"]);
    drop(store);

    // A station must say which integrations may record there: none would be no one's.
    std::fs::write(
        &bad,
        r#"{"stations": [{"id": "bj-y", "city": "Beijing", "campus": null}]}"#,
    )
    .unwrap();
    let out = greenloop(&data, &["register", bad.to_str().unwrap()]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("station bj-y: a station names the key ids"),
        "{stderr}"
    );
}

#[test]
fn report_disposition_prints_the_nation_and_one_station() {
    let dir = tempfile::tempdir().unwrap();
    demo(dir.path());
    let out = greenloop(dir.path(), &["report", "disposition"]);
    assert!(out.status.success(), "{}", text(&out));
    let printed = text(&out);
    assert!(
        printed.contains("reuse rate") && printed.contains("schools reached"),
        "{printed}"
    );
    let json = greenloop(dir.path(), &["report", "disposition", "--json"]);
    let national: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let t = &national["totals"];
    let n = |k: &str| t[k].as_u64().unwrap();
    assert!(
        n("collected") > 0 && n("reused") > 0 && n("baled_boxes") > 0,
        "{national}"
    );
    assert_eq!(
        national["stock"].as_u64().unwrap(),
        n("collected") - n("reused") - n("baled_boxes")
    );
    assert!(n("donated") <= n("workbooks"));
    let one = greenloop(
        dir.path(),
        &["report", "disposition", "--station", "st-sjtu-1", "--json"],
    );
    let one: serde_json::Value = serde_json::from_slice(&one.stdout).unwrap();
    assert_eq!(one["station"], "st-sjtu-1");
    let unknown = greenloop(
        dir.path(),
        &["report", "disposition", "--station", "st-none"],
    );
    assert_one_line_error(&unknown, "station st-none is not registered");
}

/// A brand's statement checks offline; one entry taken out of it, or one point added to its
/// totals, fails the check.
#[test]
fn a_brand_statement_checks_and_a_removed_entry_fails_it() {
    const DEMO_PUBLIC_KEY: &str =
        "2805d3ab1e49e7fb4d9c51e9102a5541ef924344731ee5e8a0c8c6c7212cb23e";
    let dir = tempfile::tempdir().unwrap();
    demo(dir.path());
    let file = dir.path().join("brand.json");
    let file_arg = file.to_str().unwrap();
    let made = greenloop(
        dir.path(),
        &[
            "proof",
            "brand",
            "--brand",
            "brand-01",
            "--log-key",
            DEMO_PUBLIC_KEY,
            "--save",
            file_arg,
        ],
    );
    assert!(made.status.success(), "{}", text(&made));
    let check = |bundle: &serde_json::Value| {
        std::fs::write(&file, bundle.to_string()).unwrap();
        greenloop(
            dir.path(),
            &["proof", "check", "--log-key", DEMO_PUBLIC_KEY, file_arg],
        )
    };
    let bundle: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    let ok = check(&bundle);
    assert!(ok.status.success(), "{}", text(&ok));
    let entries = bundle["brand"]["statement"]["totals"]["entries"]
        .as_u64()
        .unwrap();
    assert!(entries > 1 && text(&ok).contains(&format!("has {entries} entries")));

    let mut removed = bundle.clone();
    removed["brand"]["statement"]["proofs"]
        .as_array_mut()
        .unwrap()
        .remove(1);
    let out = check(&removed);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains(&format!(
            "entries is {entries}, its entries sum to {}",
            entries - 1
        )),
        "{}",
        text(&out)
    );
    let mut inflated = bundle.clone();
    let points = inflated["brand"]["statement"]["totals"]["points"]
        .as_i64()
        .unwrap();
    inflated["brand"]["statement"]["totals"]["points"] = (points + 1).into();
    let out = check(&inflated);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains(&format!(
        "points is {}, its entries sum to {points}",
        points + 1
    )));

    // The brand's own key reads the stored statement from a served deployment, page by page;
    // it checks, and it is the one recomputed from the ledger above. Another brand's is 403.
    let minted = greenloop(dir.path(), &["keys", "--brand", "brand-01"]);
    assert!(minted.status.success(), "{}", text(&minted));
    let key = String::from_utf8(minted.stdout).unwrap().trim().to_owned();
    let mut serve = Command::new(env!("CARGO_BIN_EXE_greenloop"));
    serve
        .arg("--data")
        .arg(dir.path())
        .env_remove("GREENLOOP_DATA")
        .env(
            "GREENLOOP_WEBHOOK_SECRETS",
            "qr-e2e=e2e-test-webhook-secret",
        );
    let server = server::Server::start(serve);
    let url = format!("http://{}", server.addr);
    let remote = dir.path().join("remote.json");
    let fetched = |brand: &str| {
        greenloop(
            dir.path(),
            &[
                "proof",
                "brand",
                "--brand",
                brand,
                "--url",
                &url,
                "--key",
                &key,
                "--log-key",
                DEMO_PUBLIC_KEY,
                "--save",
                remote.to_str().unwrap(),
            ],
        )
    };
    let out = fetched("brand-01");
    assert!(out.status.success(), "{}", text(&out));
    let served: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&remote).unwrap()).unwrap();
    for part in ["totals", "members", "rows"] {
        assert_eq!(
            served["brand"]["statement"][part], bundle["brand"]["statement"][part],
            "{part}"
        );
    }
    assert_one_line_error(&fetched("brand-02"), "403");
}
