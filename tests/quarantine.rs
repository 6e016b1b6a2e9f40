//! `greenloop quarantine list|retry` and `greenloop verify`'s crediting health, end to end on
//! both stores: an action whose item cannot be read is quarantined by crediting, the operator
//! sees it, a retry before the fix is refused in one line, and a retry after it credits it.

#[path = "../shared/tests/support/dynamodb_local.rs"]
mod dynamodb_local;
#[path = "support/one_line.rs"]
mod one_line;
#[path = "support/place.rs"]
mod place;

use aws_sdk_dynamodb::types::AttributeValue;
use greenloop::catalog::Rules;
use greenloop::credit::credit_pending;
use greenloop::domain::{Action, ActionKind, BoxLot, Items, MemberId, Pepper};
use greenloop::store::dynamodb::{item, DynamoStore};
use greenloop::store::embedded::{EmbeddedStore, FILE_NAME};
use greenloop::store::{Intake, Store};
use one_line::assert_one_line_error;
use place::Place;
use redb::{Database, ReadableTable, TableDefinition};
use std::path::Path;
use std::process::Output;

const ACTIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("actions");
/// 2026-11-02T00:00:00+08:00.
const AT: i64 = 1_793_548_800;

fn scan(id: &str) -> Action {
    Action {
        id: id.into(),
        integration: "qr-1".into(),
        kind: ActionKind::Scan,
        member: MemberId::pseudonym(&Pepper::new(b"quarantine-cli-pepper".to_vec()).unwrap(), id),
        station: "st-0001".into(),
        at: AT,
        items: Items {
            boxes: vec![BoxLot {
                brand: None,
                count: 1,
            }],
            ..Items::default()
        },
    }
}

impl Place<'_> {
    fn greenloop(&self, args: &[&str]) -> Output {
        self.command()
            .args(args)
            .output()
            .expect("the greenloop binary runs")
    }
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A one-line error ([`assert_one_line_error`]) with exit code 1.
fn one_line_error(o: &Output, expect: &str) {
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_one_line_error(o, expect);
}

/// The scenario, given a store at `place` holding `ok-1` and `bad-1` pending, and ways to break
/// and to mend `bad-1`'s stored action behind the application's back.
async fn scenario(place: &Place<'_>, open: impl Fn() -> Box<dyn Store>, mend: impl FnOnce()) {
    let rules = Rules::defaults();
    let run = credit_pending(open().as_ref(), &rules, 4).await.unwrap();
    assert_eq!(run.credited, 1, "{run:?}");
    assert_eq!(run.quarantined, ["qr-1/bad-1"]);

    let list = place.greenloop(&["quarantine", "list"]);
    assert!(list.status.success(), "{list:?}");
    let lines: Vec<String> = stdout(&list).lines().map(str::to_owned).collect();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with("qr-1/bad-1\tunreadable\t2"),
        "{lines:?}"
    );

    let verify = place.greenloop(&["verify"]);
    assert_eq!(verify.status.code(), Some(3), "{}", stdout(&verify));
    assert!(
        stdout(&verify).contains("verification: OK"),
        "{}",
        stdout(&verify)
    );
    assert!(
        stdout(&verify).contains("crediting: NOT HEALTHY: 1 actions quarantined"),
        "{}",
        stdout(&verify)
    );

    one_line_error(
        &place.greenloop(&["quarantine", "retry", "nope"]),
        "no action nope",
    );
    one_line_error(
        &place.greenloop(&["quarantine", "retry", "qr-1/ok-1"]),
        "action qr-1/ok-1 is not quarantined",
    );
    one_line_error(
        &place.greenloop(&["quarantine", "retry", "qr-1/bad-1"]),
        "action qr-1/bad-1 is stored in a form this version cannot read",
    );
    let usage = place.greenloop(&["quarantine", "retry"]);
    assert_eq!(usage.status.code(), Some(2), "{usage:?}");

    mend();
    let retry = place.greenloop(&["quarantine", "retry", "qr-1/bad-1", "qr-1/bad-1"]);
    assert!(retry.status.success(), "{retry:?}");
    assert_eq!(
        stdout(&retry),
        "qr-1/bad-1: back in the queue\nqr-1/bad-1: already pending\n"
    );
    let list = place.greenloop(&["quarantine", "list", "--json"]);
    assert_eq!(stdout(&list), "", "nothing quarantined");

    let run = credit_pending(open().as_ref(), &rules, 4).await.unwrap();
    assert_eq!((run.credited, run.quarantined.len()), (1, 0), "{run:?}");
    let verify = place.greenloop(&["verify"]);
    assert!(verify.status.success(), "{}", stdout(&verify));
    assert!(
        stdout(&verify).contains("crediting: 0 pending; 0 quarantined"),
        "{}",
        stdout(&verify)
    );
}

/// Rewrites `bad-1`'s stored action in the redb file.
fn set_embedded_action(dir: &Path, action: serde_json::Value) {
    let db = Database::open(dir.join(FILE_NAME)).unwrap();
    let txn = db.begin_write().unwrap();
    {
        let mut t = txn.open_table(ACTIONS).unwrap();
        let mut kept: serde_json::Value =
            serde_json::from_slice(t.get("qr-1/bad-1").unwrap().unwrap().value()).unwrap();
        kept["record"]["action"] = action;
        t.insert("qr-1/bad-1", serde_json::to_vec(&kept).unwrap().as_slice())
            .unwrap();
    }
    txn.commit().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quarantine_on_the_embedded_store() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = EmbeddedStore::open(dir.path()).unwrap();
        for id in ["ok-1", "bad-1"] {
            store.record_action(&scan(id)).await.unwrap();
        }
    }
    set_embedded_action(dir.path(), serde_json::json!({"id": 3}));
    let place = Place::Embedded(dir.path());
    let open = || -> Box<dyn Store> { Box::new(EmbeddedStore::open_existing(dir.path()).unwrap()) };
    let mend = || set_embedded_action(dir.path(), serde_json::to_value(scan("bad-1")).unwrap());
    scenario(&place, open, mend).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quarantine_on_dynamodb() {
    let endpoint = dynamodb_local::endpoint();
    let table = dynamodb_local::unique_table("quarantine-cli");
    let client = dynamodb_local::client().await;
    let store = DynamoStore::new(client.clone(), &table);
    store.create_table().await.unwrap();
    for id in ["ok-1", "bad-1"] {
        store.record_action(&scan(id)).await.unwrap();
    }
    let set_action = |json: String| {
        let (client, table) = (client.clone(), table.clone());
        async move {
            client
                .update_item()
                .table_name(table)
                .set_key(Some(item::action("qr-1/bad-1")))
                .update_expression("SET #a = :a")
                .expression_attribute_names("#a", "action")
                .expression_attribute_values(":a", AttributeValue::S(json))
                .send()
                .await
                .unwrap();
        }
    };
    set_action(r#"{"id":3}"#.into()).await;
    let place = Place::Dynamo {
        endpoint: &endpoint,
        table: &table,
    };
    let open = || -> Box<dyn Store> { Box::new(DynamoStore::new(client.clone(), &table)) };
    let mended = serde_json::to_string(&scan("bad-1")).unwrap();
    let handle = tokio::runtime::Handle::current();
    let mend = || {
        tokio::task::block_in_place(|| handle.block_on(set_action(mended)));
    };
    scenario(&place, open, mend).await;
}
