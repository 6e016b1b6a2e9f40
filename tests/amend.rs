//! Amending without rewriting, end to end on the embedded store: `greenloop requantify` after a
//! demo moves every total by exactly the sum of its deltas, verifies, and appends nothing run
//! again; `greenloop erase` unlinks a demo user, whose receipt `proof check` accepts, and the
//! ledger still verifies. Refusals are one line and write nothing.

#[path = "support/one_line.rs"]
mod one_line;

use greenloop::store::embedded::EmbeddedStore;
use greenloop::store::LedgerSource;
use one_line::assert_one_line_error;
use std::path::Path;
use std::process::{Command, Output};

fn greenloop(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_greenloop"))
        .env_remove("GREENLOOP_TABLE")
        .env_remove("GREENLOOP_PEPPER")
        .env_remove("GREENLOOP_RECEIPT_KEY")
        .arg("--data")
        .arg(data)
        .args(args)
        .output()
        .expect("the greenloop binary runs")
}

fn ok(out: Output) -> String {
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// The sum of every account's grams, and the stored heads.
async fn totals(data: &Path) -> (i64, Vec<(String, u64)>) {
    let store = EmbeddedStore::open_existing(data).expect("open");
    let mut sum = 0;
    let mut after = None;
    loop {
        let page = store
            .account_page(after.as_ref(), 500)
            .await
            .expect("accounts");
        if page.is_empty() {
            break;
        }
        sum += page.iter().map(|a| a.co2e_g).sum::<i64>();
        after = page.last().map(|a| a.member.clone());
    }
    let heads = (store.chain_heads().await.expect("heads").into_iter())
        .map(|h| (h.chain, h.size))
        .collect();
    (sum, heads)
}

/// The `+N g` a requantify run reports.
fn delta(line: &str) -> i64 {
    let at = line.find("corrected, ").expect("a summary line") + "corrected, ".len();
    line[at..]
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .expect("grams")
}

#[tokio::test]
async fn requantify_moves_totals_by_its_deltas_once_and_erase_unlinks_with_a_receipt() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    ok(greenloop(
        data,
        &[
            "demo",
            "--members",
            "40",
            "--actions",
            "400",
            "--stations",
            "20",
        ],
    ));
    let factors = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../infra/factors-2026.2.example.json"
    );
    let (before, _) = totals(data).await;

    let first = ok(greenloop(data, &["requantify", "--factors", factors]));
    let moved = delta(&first);
    assert!(moved > 0, "books count more: {first}");
    let (after, heads) = totals(data).await;
    assert_eq!(after - before, moved, "accounts move by exactly the deltas");
    ok(greenloop(data, &["verify"]));
    let carbon: serde_json::Value =
        serde_json::from_str(&ok(greenloop(data, &["report", "carbon", "--json"]))).unwrap();
    assert_eq!(
        carbon["requantified_g"].as_i64().unwrap() - carbon["first_reported_g"].as_i64().unwrap(),
        moved
    );
    assert_eq!(carbon["trail"][0]["to"], "factors-2026.2");

    let again = ok(greenloop(data, &["requantify", "--factors", factors]));
    assert!(again.contains(": 0 entries corrected, +0 g"), "{again}");
    assert_eq!(
        totals(data).await,
        (after, heads.clone()),
        "nothing appended"
    );

    // A changed table under a published version name is refused, and writes nothing.
    let changed = data.join("changed.json");
    let text = std::fs::read_to_string(factors)
        .unwrap()
        .replace("1197", "1198");
    std::fs::write(&changed, text).unwrap();
    let out = greenloop(
        data,
        &["requantify", "--factors", changed.to_str().unwrap()],
    );
    assert_one_line_error(&out, "factors-2026.2 already exists with different content");
    let out = greenloop(data, &["requantify", "--factors", "no-such-file.json"]);
    assert_one_line_error(&out, "cannot read factor table");
    assert_eq!(totals(data).await, (after, heads.clone()));

    // Erasure: a receipt that checks, the same receipt asked again, then nobody to erase.
    let receipt = data.join("receipt.json");
    let out = greenloop(
        data,
        &[
            "erase",
            "--user",
            "demo-user-3",
            "--request",
            "ticket-1",
            "--save",
            receipt.to_str().unwrap(),
        ],
    );
    let printed = ok(out.clone());
    let stderr = String::from_utf8(out.stderr).unwrap();
    let key = stderr.trim().rsplit(' ').next().unwrap().to_owned();
    let checked = ok(greenloop(
        data,
        &[
            "proof",
            "check",
            receipt.to_str().unwrap(),
            "--log-key",
            &key,
        ],
    ));
    assert!(
        checked.starts_with("proof: OK: erasure receipt ticket-1 of operator"),
        "{checked}"
    );
    let again = ok(greenloop(
        data,
        &["erase", "--user", "demo-user-3", "--request", "ticket-1"],
    ));
    assert_eq!(again, printed, "the same request, the same receipt");
    let out = greenloop(
        data,
        &["erase", "--user", "demo-user-3", "--request", "ticket-2"],
    );
    assert_one_line_error(&out, "no member is known by this user id");
    let out = greenloop(
        data,
        &["affiliate", "--campus", "sjtu", "--user", "demo-user-3"],
    );
    assert_one_line_error(&out, "no member is known by this user id");
    ok(greenloop(data, &["verify"]));
    assert_eq!(
        totals(data).await,
        (after, heads),
        "erasure leaves the ledger as it was"
    );
}
