//! The store behaviour suite (`greenloop_testkit`) against the embedded redb store, one
//! test per case on a fresh store in a temporary directory, plus what only a file store does:
//! keeping its data across closing and reopening.

mod support;

use greenloop::catalog::Rules;
use greenloop::credit::credit_pending;
use greenloop::domain::{Action, ActionKind, BoxLot, Campus, Items, MemberId, Pepper};
use greenloop::store::embedded::EmbeddedStore;
use greenloop::store::Consent;
use greenloop::store::{Affiliation, Intake, Registry};
use greenloop::store::{Store, StoreError};
use greenloop_testkit as suite;
use std::sync::Arc;

greenloop_testkit::store_cases!(|_case| support::temp_store());

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn data_survives_closing_and_reopening() {
    let dir = tempfile::tempdir().expect("temporary directory");
    match EmbeddedStore::open_existing(dir.path()) {
        Err(StoreError::NotFound(_)) => {}
        Err(other) => {
            panic!("open_existing on an empty directory: expected NotFound, got {other:?}")
        }
        Ok(_) => panic!("open_existing on an empty directory: expected NotFound, got a store"),
    }
    assert!(
        !dir.path()
            .join(greenloop::store::embedded::FILE_NAME)
            .exists(),
        "open_existing must not create a database"
    );
    match EmbeddedStore::open_existing(&dir.path().join("missing")) {
        Err(StoreError::NotFound(_)) => {}
        other => panic!(
            "open_existing on a missing directory: expected NotFound, got {:?}",
            other.err()
        ),
    }

    let pepper = Pepper::new(b"embedded-reopen-pepper".to_vec()).expect("pepper");
    let member = |n: u32| MemberId::pseudonym(&pepper, &format!("user-{n}"));
    let before = {
        let store = EmbeddedStore::open(dir.path()).expect("open");
        let campus = Campus {
            id: "campus-z".into(),
            name: "Z University".into(),
            city: "Nanjing".into(),
        };
        store.put_campus(&campus).await.expect("put_campus");
        store
            .affiliate(&member(1), "campus-z", Consent::Enrol)
            .await
            .expect("affiliate");
        for i in 0..30u32 {
            let a = Action {
                id: format!("reopen-{i}"),
                integration: "qr-1".into(),
                kind: ActionKind::Scan,
                member: member(i % 3),
                station: format!("st-{}", i % 4),
                at: suite::WINDOW_START + 3_600 * i64::from(i),
                items: Items {
                    boxes: vec![BoxLot {
                        brand: None,
                        count: 1 + i % 5,
                    }],
                    ..Items::default()
                },
            };
            store.record_action(&a).await.expect("record");
        }
        let run = credit_pending(&store, &Rules::defaults(), suite::SHARDS)
            .await
            .expect("credit");
        assert_eq!(run.credited, 30, "everything credited before closing");
        state(&store).await
        // The store is dropped (closed) here.
    };
    assert!(!before.0.is_empty(), "the fixture wrote a ledger");

    let store = EmbeddedStore::open_existing(dir.path()).expect("reopen");
    assert_eq!(
        state(&store).await,
        before,
        "the reopened store holds the same data"
    );
    let report = suite::verify_store(&store).await;
    assert!(
        report.is_ok(),
        "the reopened ledger verifies: {:?}",
        report.problems
    );
    assert_eq!(report.entries, 30, "every entry is still there");
    assert!(
        store
            .action("qr-1/reopen-7")
            .await
            .expect("action")
            .is_some(),
        "action records survive"
    );
}

type State = (
    Vec<(greenloop::store::ChainHead, Vec<Vec<u8>>)>,
    Vec<greenloop::store::Account>,
    Vec<greenloop::store::CampusTotals>,
    Vec<Campus>,
);

/// Heads with their entries, accounts, campus totals and campuses.
async fn state(store: &dyn Store) -> State {
    let mut heads = store.chain_heads().await.expect("chain_heads");
    heads.sort_by(|a, b| a.chain.cmp(&b.chain));
    let mut chains = Vec::new();
    for h in heads {
        let entries = store.entries(&h.chain, 0, 1_000).await.expect("entries");
        chains.push((h, entries));
    }
    (
        chains,
        store.account_page(None, 1_000).await.expect("account_page"),
        store.campus_totals().await.expect("campus_totals"),
        store.campuses().await.expect("campuses"),
    )
}

/// Thousands of actions, 10% delivered twice at once, on one chain and on several.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn invariants_hold_on_one_and_on_eight_chains() {
    for chains in [1, 8] {
        let (store, _dir) = support::temp_store();
        // Commits stay atomic without fsync; durability is not what this case is about.
        store.set_bulk(true).expect("bulk mode");
        let store: Arc<dyn Store> = Arc::new(store);
        suite::invariants_hold_under_concurrent_duplicated_delivery(store, 2_000, chains).await;
    }
}

/// What a newer version stored in an account or an action, this one reads past and keeps: an
/// account field it does not know survives crediting, and an action with a new field is credited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fields_a_newer_version_wrote_are_read_past_and_kept() {
    use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
    const ACCOUNTS: TableDefinition<&str, &[u8]> = TableDefinition::new("accounts");
    const ACTIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("actions");
    let dir = tempfile::tempdir().expect("temporary directory");
    let member = MemberId::pseudonym(
        &Pepper::new(b"newer-version-pepper-01".to_vec()).unwrap(),
        "u",
    );
    let scan = |id: &str, at: i64| Action {
        id: id.into(),
        integration: "qr-1".into(),
        kind: ActionKind::Scan,
        member: member.clone(),
        station: "st-0001".into(),
        at,
        items: Items {
            boxes: vec![BoxLot {
                brand: None,
                count: 1,
            }],
            ..Items::default()
        },
    };
    {
        let store = EmbeddedStore::open(dir.path()).unwrap();
        store
            .record_action(&scan("a-1", suite::WINDOW_START))
            .await
            .unwrap();
        credit_pending(&store, &Rules::defaults(), 4).await.unwrap();
        store
            .record_action(&scan("a-2", suite::WINDOW_START + 60))
            .await
            .unwrap();
    }
    let path = dir.path().join(greenloop::store::embedded::FILE_NAME);
    let edit =
        |table: TableDefinition<&str, &[u8]>, key: &str, f: &dyn Fn(&mut serde_json::Value)| {
            let db = Database::open(&path).unwrap();
            let txn = db.begin_write().unwrap();
            {
                let mut t = txn.open_table(table).unwrap();
                let mut v: serde_json::Value =
                    serde_json::from_slice(t.get(key).unwrap().unwrap().value()).unwrap();
                f(&mut v);
                t.insert(key, serde_json::to_vec(&v).unwrap().as_slice())
                    .unwrap();
            }
            txn.commit().unwrap();
        };
    edit(ACCOUNTS, member.as_str(), &|v| v["tier"] = "gold".into());
    edit(ACTIONS, "qr-1/a-2", &|v| {
        v["record"]["action"]["channel"] = "drone".into()
    });

    let store = EmbeddedStore::open_existing(dir.path()).unwrap();
    let run = credit_pending(&store, &Rules::defaults(), 4).await.unwrap();
    assert_eq!((run.credited, run.quarantined.len()), (1, 0), "{run:?}");
    drop(store);
    let db = Database::open(&path).unwrap();
    let txn = db.begin_read().unwrap();
    let t = txn.open_table(ACCOUNTS).unwrap();
    let account: serde_json::Value =
        serde_json::from_slice(t.get(member.as_str()).unwrap().unwrap().value()).unwrap();
    assert_eq!(
        account["tier"], "gold",
        "the unknown field survived: {account}"
    );
    assert_eq!(
        account["entries"], 2,
        "and crediting wrote its own: {account}"
    );
}

/// A file written before the leaderboard index existed is indexed once, when opened: its
/// affiliated members are on their boards in standing order.
#[tokio::test]
async fn a_file_from_before_the_board_index_is_indexed_when_opened() {
    use greenloop::store::CampusQueries;
    use redb::{ReadableDatabase, TableDefinition};
    let dir = tempfile::tempdir().expect("temporary directory");
    let pepper = Pepper::new(b"embedded-board-pepper".to_vec()).expect("pepper");
    let member = |n: u32| MemberId::pseudonym(&pepper, &format!("user-{n}"));
    let board = {
        let store = EmbeddedStore::open(dir.path()).expect("open");
        let campus = Campus {
            id: "campus-b".into(),
            name: "B University".into(),
            city: "Jinan".into(),
        };
        store.put_campus(&campus).await.expect("put_campus");
        for n in 0..5 {
            store
                .affiliate(&member(n), "campus-b", Consent::Enrol)
                .await
                .expect("affiliate");
        }
        store
            .leaderboard("campus-b", None, 10)
            .await
            .expect("leaderboard")
    };
    assert_eq!(board.len(), 5);
    {
        // Make it the file of an older version: no board table, no note that it was indexed.
        let db = redb::Database::open(dir.path().join(greenloop::store::embedded::FILE_NAME))
            .expect("raw open");
        let txn = db.begin_write().expect("write");
        let board: TableDefinition<(&str, &str), ()> = TableDefinition::new("board");
        assert!(txn.delete_table(board).expect("delete the board"));
        let meta: TableDefinition<&str, u64> = TableDefinition::new("meta");
        txn.open_table(meta)
            .expect("meta")
            .remove("board_indexed")
            .expect("remove the note");
        txn.commit().expect("commit");
        let read = db.begin_read().expect("read");
        assert!(read.open_table(board).is_err(), "the board is gone");
    }
    let store = EmbeddedStore::open(dir.path()).expect("reopen");
    assert_eq!(
        store
            .leaderboard("campus-b", None, 10)
            .await
            .expect("leaderboard"),
        board,
        "indexed again on opening"
    );
}
