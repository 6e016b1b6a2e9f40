//! Reading a DynamoDB export to S3 (`greenloop::verify::export`): a table on AWS's DynamoDB Local,
//! credited on several chains and checkpointed, is scanned, written in the export's shape and read
//! back, and must verify as the table does; broken exports are refused, naming the file.

mod support;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use greenloop::catalog::Rules;
use greenloop::checkpoint::LogKey;
use greenloop::credit::credit_pending;
use greenloop::domain::{Action, ActionKind, BoxLot, Campus, Items, MemberId, Pepper, Station};
use greenloop::ledger::problem::Problem;
use greenloop::store::dynamodb::item::{self, Item};
use greenloop::store::dynamodb::DynamoStore;
use greenloop::store::Consent;
use greenloop::store::{Account, LedgerSource};
use greenloop::store::{Affiliation, Crediting, Intake, Members, Registry};
use greenloop::verify::edge::{verify_export, ExportReport};
use greenloop::verify::export::{write_export, ExportError, Snapshot};
use greenloop::verify::verify_store;
use greenloop_testkit::{TEST_LOG_KEY, WINDOW_START};
use std::path::Path;
use support::dynamodb_local;

const SHARDS: u32 = 4;
const STATIONS: [&str; 5] = ["st-a1", "st-a2", "st-b3", "st-b4", "st-x"];

fn member(n: u32) -> MemberId {
    let pepper = Pepper::new(b"greenloop-export-test-pepper".to_vec()).expect("pepper");
    MemberId::pseudonym(&pepper, &format!("user-{n}"))
}

/// Scans by members 1 to 6 (1-3 at campus a, 4-5 at b, 6 nowhere) over the stations, hours apart.
fn scans(from: u32, n: u32) -> Vec<Action> {
    (from..from + n)
        .map(|i| Action {
            id: format!("scan-{i}"),
            integration: "qr-1".into(),
            kind: ActionKind::Scan,
            member: member(1 + i % 6),
            station: STATIONS[i as usize % STATIONS.len()].to_owned(),
            at: WINDOW_START + i64::from(i) * 3_600,
            items: Items {
                books: i % 3,
                boxes: vec![BoxLot {
                    brand: None,
                    count: 1 + i % 2,
                }],
                ..Items::default()
            },
        })
        .collect()
}

async fn credit(store: &DynamoStore, actions: &[Action], rules: &Rules) {
    for a in actions {
        store.record_action(a).await.expect("record_action");
    }
    let run = credit_pending(store, rules, SHARDS)
        .await
        .expect("credit_pending");
    assert_eq!(run.credited, actions.len() as u64, "every scan credited");
}

/// A table with two campuses, five stations over the chains, two rounds of crediting (the second
/// under newly published rules) each followed by checkpoints, and an action left pending.
async fn ledger() -> (Client, DynamoStore) {
    let client = dynamodb_local::client().await;
    let store = DynamoStore::new(client.clone(), dynamodb_local::unique_table("export"));
    store.create_table().await.expect("create the table");
    for c in ["campus-a", "campus-b"] {
        let campus = Campus {
            id: c.into(),
            name: format!("University {c}"),
            city: "Shanghai".into(),
        };
        store.put_campus(&campus).await.expect("put_campus");
    }
    for s in STATIONS {
        let campus = s.strip_prefix("st-").and_then(|r| match &r[..1] {
            "x" => None,
            c => Some(format!("campus-{c}")),
        });
        let station = Station {
            id: s.into(),
            city: "Shanghai".into(),
            campus,
            integrations: vec!["qr-1".into()],
        };
        store.put_station(&station).await.expect("put_station");
    }
    for (who, c) in [(1, "a"), (2, "a"), (3, "a"), (4, "b"), (5, "b")] {
        let campus = format!("campus-{c}");
        store
            .affiliate(&member(who), &campus, Consent::Enrol)
            .await
            .expect("affiliate");
    }
    let key = LogKey::from_hex(TEST_LOG_KEY).expect("log key");
    credit(&store, &scans(0, 30), &Rules::defaults()).await;
    greenloop::checkpoint::tree::publish_all(&store, &key, 1_800_000_000)
        .await
        .expect("publish");
    let mut rules = Rules::defaults();
    rules.rulebook.version = "export-rules-2".into();
    rules.rulebook.daily_cap += 100;
    rules.factors.version = "export-factors-2".into();
    store.put_rules(&rules).await.expect("put_rules");
    credit(&store, &scans(30, 20), &rules).await;
    greenloop::checkpoint::tree::publish_all(&store, &key, 1_800_000_100)
        .await
        .expect("publish");
    store
        .record_action(&scans(50, 1)[0])
        .await
        .expect("a pending action");
    (client, store)
}

/// Every item of the table, as an export holds them.
async fn scan_table(client: &Client, table: &str) -> Vec<Item> {
    let (mut items, mut start) = (Vec::new(), None);
    loop {
        let page = client
            .scan()
            .table_name(table)
            .consistent_read(true)
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .expect("scan");
        items.extend(page.items.unwrap_or_default());
        match page.last_evaluated_key {
            Some(k) => start = Some(k),
            None => return items,
        }
    }
}

async fn all_accounts<S: LedgerSource + ?Sized>(source: &S) -> Vec<Account> {
    let mut all: Vec<Account> = Vec::new();
    loop {
        let page = source
            .account_page(all.last().map(|a| &a.member), 3)
            .await
            .expect("account_page");
        if page.is_empty() {
            return all;
        }
        all.extend(page);
    }
}

fn key_of(it: &Item) -> (&str, &str) {
    let s = |name| item::get_s(it, name).expect("keys");
    (s(item::PK), s(item::SK))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_reads_back_as_the_table() {
    let (client, store) = ledger().await;
    let items = scan_table(&client, store.table()).await;
    let dir = tempfile::tempdir().expect("temporary directory");
    write_export(dir.path(), &items, 4, 11).expect("write the export");
    let snap = Snapshot::read(dir.path()).expect("the export reads");

    let summary = snap.summary();
    let ledger_items = items
        .iter()
        .filter(|it| match key_of(it) {
            (pk, sk) if pk.starts_with("CHAIN#") => sk == "HEAD" || sk.starts_with("SEQ#"),
            (pk, sk) if pk.starts_with("MEMBER#") => sk == "ACCOUNT",
            (pk, sk) if pk.starts_with("CAMPUS#") => sk.starts_with("DAY#"),
            (pk, _) => pk.starts_with("CKPT#") || pk == "RULES",
        })
        .count() as u64;
    assert_eq!((summary.items, summary.files), (items.len() as u64, 4));
    assert_eq!(summary.other_items, items.len() as u64 - ledger_items);
    assert!(
        summary.other_items > 0,
        "actions, stations and tree nodes are skipped"
    );
    assert!(summary.table_arn.starts_with("arn:aws:dynamodb:"));

    let live = verify_store(&store, |_| {})
        .await
        .expect("verify the table");
    let mut checked = 0;
    let read = verify_store(&snap, |n| checked += n)
        .await
        .expect("verify the export");
    assert!(
        live.is_ok(),
        "the table verifies: {:?}",
        live.first_problem()
    );
    assert!(
        read.is_ok(),
        "the export verifies: {:?}",
        read.first_problem()
    );
    assert_eq!(read.chains, live.chains, "the same chains, sizes and heads");
    assert!(
        read.chains.len() >= 3,
        "the stations spread over several chains"
    );
    assert_eq!(
        (read.entries, read.members, read.campuses),
        (live.entries, live.members, live.campuses)
    );
    assert_eq!((checked, read.entries), (50, 50));

    let catalog = snap.catalog().await.expect("catalog");
    assert!(
        catalog.rulebook("export-rules-2").is_some(),
        "published rules are read"
    );
    assert!(catalog.factors("export-factors-2").is_some());
    let mut heads = store.chain_heads().await.expect("chain_heads");
    heads.sort_by(|a, b| a.chain.cmp(&b.chain));
    assert_eq!(snap.chain_heads().await.expect("chain_heads"), heads);
    let chains: Vec<String> = heads.iter().map(|h| h.chain.clone()).collect();
    assert_eq!(snap.chains(), chains);
    let mut signed_twice = 0;
    for chain in &chains {
        let entries = store.entries(chain, 0, 1_000).await.expect("entries");
        assert_eq!(
            snap.entries(chain, 0, 1_000).await.expect("entries"),
            entries
        );
        assert_eq!(
            snap.entries(chain, 1, 2).await.expect("entries"),
            entries[1..3.min(entries.len())],
            "a page from the middle of {chain}"
        );
        let checkpoints = store.checkpoints(chain).await.expect("checkpoints");
        assert!(!checkpoints.is_empty());
        signed_twice += usize::from(checkpoints.len() > 1);
        assert_eq!(
            snap.checkpoints(chain).await.expect("checkpoints"),
            checkpoints
        );
    }
    assert!(
        signed_twice > 0,
        "some chain grew between the two checkpoint runs"
    );
    assert!(snap
        .entries("shard-99", 0, 10)
        .await
        .expect("entries")
        .is_empty());
    assert!(snap
        .checkpoints("shard-99")
        .await
        .expect("checkpoints")
        .is_empty());
    assert_eq!(all_accounts(&snap).await, all_accounts(&store).await);
    assert_eq!(
        snap.campus_totals().await.expect("campus_totals"),
        store.campus_totals().await.expect("campus_totals")
    );

    // The S3 prefix holding AWSDynamoDB/<export id>/ reads the same.
    let prefix = tempfile::tempdir().expect("temporary directory");
    let nested = prefix.path().join("AWSDynamoDB/01790000000000-0a1b2c3d");
    write_export(&nested, &items, 3, 12).expect("write the export");
    let again = Snapshot::read(prefix.path()).expect("read from the prefix");
    assert_eq!(
        (again.summary().items, again.summary().files),
        (items.len() as u64, 3)
    );
    assert_eq!(again.chains(), chains);

    // A half-applied edge is shown as it is: a chain whose head is missing keeps its entries.
    let gone = format!("CHAIN#{}", chains[0]);
    let edge: Vec<Item> = items
        .iter()
        .filter(|it| key_of(it) != (gone.as_str(), "HEAD"))
        .cloned()
        .collect();
    let edge_dir = tempfile::tempdir().expect("temporary directory");
    write_export(edge_dir.path(), &edge, 2, 13).expect("write the export");
    let edge = Snapshot::read(edge_dir.path()).expect("the export reads");
    let heads = edge.chain_heads().await.expect("chain_heads");
    assert!(
        heads.iter().all(|h| h.chain != chains[0]),
        "only real heads"
    );
    assert_eq!(edge.chains(), chains, "the headless chain is still listed");
    let entries = edge.entries(&chains[0], 0, 1_000).await.expect("entries");
    assert_eq!(entries.len() as u64, live.chains[0].entries);
    let report = verify_store(&edge, |_| {}).await.expect("verify");
    assert!(
        !report.is_ok(),
        "accounts no longer match the chains walked"
    );
}

/// Items of one chain only, enough to fill several data files.
fn some_items() -> Vec<Item> {
    (0..40u64)
        .map(|seq| {
            let mut it = item::entry("shard-00", seq);
            let json = format!(
                "{{\"seq\":{seq},\"pad\":\"{}\"}}",
                "x".repeat(seq as usize * 7)
            );
            it.insert("json".into(), AttributeValue::S(json));
            it
        })
        .collect()
}

fn data_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir.join("data"))
        .expect("data/")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort_by_key(|p| std::cmp::Reverse(std::fs::metadata(p).expect("size").len()));
    files
}

fn refusal(dir: &Path) -> ExportError {
    match Snapshot::read(dir) {
        Ok(_) => panic!("the broken export at {} reads", dir.display()),
        Err(e) => e,
    }
}

#[test]
fn broken_exports_are_refused_naming_the_file() {
    let items = some_items();
    let dir = tempfile::tempdir().expect("temporary directory");
    write_export(dir.path(), &items, 4, 5).expect("write the export");
    let snap = Snapshot::read(dir.path()).expect("the export reads");
    assert_eq!(snap.summary().items, 40);

    // A missing data file.
    let files = data_files(dir.path());
    let name = |p: &Path| p.file_name().unwrap().to_string_lossy().into_owned();
    let saved = std::fs::read(&files[0]).expect("read");
    std::fs::remove_file(&files[0]).expect("remove");
    let e = refusal(dir.path()).to_string();
    assert!(e.contains(&name(&files[0])) && e.contains("missing"), "{e}");

    // A corrupted one: its MD5 no longer matches.
    let mut corrupt = saved.clone();
    let mid = corrupt.len() / 2;
    corrupt[mid..mid + 8].iter_mut().for_each(|b| *b ^= 0x5a);
    std::fs::write(&files[0], &corrupt).expect("write");
    let e = refusal(dir.path()).to_string();
    assert!(e.contains(&name(&files[0])) && e.contains("MD5 is"), "{e}");

    // Without checksums in the manifest, the gzip data itself is refused.
    let manifest = dir.path().join("manifest-files.json");
    let text = std::fs::read_to_string(&manifest).expect("manifest");
    let lines: Vec<String> = text
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).expect("manifest line");
            v.as_object_mut().expect("object").remove("md5Checksum");
            v.to_string()
        })
        .collect();
    std::fs::write(&manifest, lines.join("\n")).expect("write");
    match refusal(dir.path()) {
        ExportError::Line { path, .. } => assert_eq!(path, files[0]),
        other => panic!("refused as a bad line of {}: {other}", name(&files[0])),
    }
    std::fs::write(&files[0], &saved[..saved.len() / 2]).expect("truncate");
    let e = refusal(dir.path()).to_string();
    assert!(
        e.contains(&name(&files[0])) && e.contains("unreadable gzip"),
        "{e}"
    );
    std::fs::write(&files[0], &saved).expect("restore");
    Snapshot::read(dir.path()).expect("the restored export reads");

    // No export at all.
    let empty = tempfile::tempdir().expect("temporary directory");
    assert!(matches!(
        refusal(empty.path()),
        ExportError::NoExport { .. }
    ));
}

/// Replaces the `(pk, sk)` item in `items` by `f` of it, or drops it when `f` gives None.
fn edit(items: &[Item], pk: &str, sk: &str, f: impl Fn(&Item) -> Option<Item>) -> Vec<Item> {
    items
        .iter()
        .filter_map(|it| {
            if key_of(it) == (pk, sk) {
                f(it)
            } else {
                Some(it.clone())
            }
        })
        .collect()
}

/// Writes `items` as an export and verifies it against the pinned log key.
async fn verify_items(items: &[Item]) -> ExportReport {
    let dir = tempfile::tempdir().expect("temporary directory");
    write_export(dir.path(), items, 3, 21).expect("write the export");
    let snap = Snapshot::read(dir.path()).expect("the export reads");
    let key = LogKey::from_hex(TEST_LOG_KEY).expect("log key").public();
    verify_export(&snap, Some(&key), &[], |_| {})
        .await
        .expect("verify")
}

/// An export is held to its checkpoints: a transaction half-applied past them is reported as
/// the edge, not a failure; a change before them, or one no transaction explains, fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_is_held_to_its_checkpoints_and_its_edge_is_reported() {
    let (client, store) = ledger().await;
    // Entries past the latest checkpoints: the pending scan and six more.
    credit(&store, &scans(50, 7), &Rules::defaults()).await;
    let items = scan_table(&client, store.table()).await;

    let clean = verify_items(&items).await;
    assert!(clean.report.is_ok(), "{:?}", clean.report.first_problem());
    assert!(clean.in_flight.is_empty());
    assert!(clean
        .edge
        .iter()
        .any(|e| e.past_checkpoint > 0 && e.past_head == 0));

    // The chain with the most entries past its checkpoint, and its entries' hashes.
    let e = clean
        .edge
        .iter()
        .max_by_key(|e| e.past_checkpoint)
        .unwrap()
        .clone();
    assert!(e.past_checkpoint >= 1);
    let (chain, c) = (e.chain.clone(), e.checkpoint);
    let pk = format!("CHAIN#{chain}");
    let entries = store.entries(&chain, 0, 1_000).await.unwrap();
    let hash_at = |seq: u64| -> String {
        let v: serde_json::Value = serde_json::from_slice(&entries[seq as usize]).unwrap();
        v["hash"].as_str().unwrap().to_owned()
    };
    let n = entries.len() as u64;

    // The last append's entries without the head that commits them: the head still at the
    // checkpoint, the accounts and campus days already moved.
    let old_head = edit(&items, &pk, "HEAD", |it| {
        let mut it = it.clone();
        it.insert("size".into(), AttributeValue::N(c.to_string()));
        it.insert("hash".into(), AttributeValue::S(hash_at(c - 1)));
        Some(it)
    });
    let r = verify_items(&old_head).await;
    assert!(r.report.is_ok(), "{:?}", r.report.first_problem());
    assert!(r
        .edge
        .iter()
        .any(|x| x.chain == chain && x.past_head == n - c));
    assert!(r
        .in_flight
        .iter()
        .any(|p| matches!(p, Problem::HeadMismatch { .. })));

    // The head without the append's last entry: one that is its member's latest, so that no
    // later entry of theirs, committed after it, links to it.
    let mut dropped = None;
    for x in clean.edge.iter().filter(|x| x.past_checkpoint > 0) {
        let last = store
            .entries(&x.chain, x.head.unwrap() - 1, 1)
            .await
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&last[0]).unwrap();
        let member = MemberId::parse(v["member"].as_str().unwrap()).unwrap();
        let account = store.accounts(&[member]).await.unwrap().remove(0);
        if account.head.to_string() == v["hash"].as_str().unwrap() {
            dropped = Some((
                format!("CHAIN#{}", x.chain),
                item::entry_sk(x.head.unwrap() - 1),
            ));
            break;
        }
    }
    let (dpk, dsk) = dropped.expect("some chain ends with its member's latest entry");
    let no_last = edit(&items, &dpk, &dsk, |_| None);
    let r = verify_items(&no_last).await;
    assert!(r.report.is_ok(), "{:?}", r.report.first_problem());
    assert!(r
        .in_flight
        .iter()
        .any(|p| matches!(p, Problem::HeadMismatch { .. })));
    assert!(r
        .in_flight
        .iter()
        .any(|p| matches!(p, Problem::Account { .. })));

    // An entry before the checkpoint missing: never the edge.
    let no_first = edit(&items, &pk, &item::entry_sk(0), |_| None);
    let r = verify_items(&no_first).await;
    assert!(
        matches!(
            r.report.first_problem(),
            Some(Problem::SeqGap { expected: 0, .. })
        ),
        "{:?}",
        r.report.first_problem()
    );

    // A balance no transaction in flight explains.
    let account = items
        .iter()
        .find(|it| key_of(it).1 == "ACCOUNT")
        .map(|it| key_of(it).0.to_owned())
        .unwrap();
    let richer = edit(&items, &account, "ACCOUNT", |it| {
        let mut it = it.clone();
        let balance: i64 = item::get_n(&it, "balance").unwrap();
        it.insert(
            "balance".into(),
            AttributeValue::N((balance + 500).to_string()),
        );
        Some(it)
    });
    let r = verify_items(&richer).await;
    assert!(
        matches!(
            r.report.first_problem(),
            Some(Problem::Account {
                field: "balance",
                ..
            })
        ),
        "{:?}",
        r.report.first_problem()
    );
}
