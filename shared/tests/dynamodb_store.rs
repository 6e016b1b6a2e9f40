//! The store behaviour suite (`greenloop_testkit`) against the DynamoDB store on AWS's
//! DynamoDB Local, which the harness installs and starts by itself: one fresh table per case.

mod support;

use greenloop::store::dynamodb::DynamoStore;
use greenloop::store::Consent;
use greenloop::store::Store;
use greenloop_testkit as suite;
use std::sync::Arc;
use support::dynamodb_local;

/// Distinct actions in the invariants cases.
const ACTIONS: usize = 2_000;

async fn fresh(prefix: &str) -> DynamoStore {
    let store = DynamoStore::new(
        dynamodb_local::client().await,
        dynamodb_local::unique_table(prefix),
    );
    store.create_table().await.expect("create the table");
    store
}

greenloop_testkit::store_cases!(|case| (fresh(case).await, ()));

/// Thousands of actions, 10% delivered twice at once, on one chain and on several.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn invariants_hold_on_one_chain() {
    let store: Arc<dyn Store> = Arc::new(fresh("inv1").await.with_shards(1));
    suite::invariants_hold_under_concurrent_duplicated_delivery(store, ACTIONS, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn invariants_hold_on_eight_chains() {
    let store: Arc<dyn Store> = Arc::new(fresh("inv8").await.with_shards(8));
    suite::invariants_hold_under_concurrent_duplicated_delivery(store, ACTIONS, 8).await;
}

/// DynamoDB's size of an attribute value: strings by their bytes, numbers about one byte per
/// two digits, maps and lists 3 bytes plus one per element (and each key's bytes).
fn av_size(v: &aws_sdk_dynamodb::types::AttributeValue) -> usize {
    use aws_sdk_dynamodb::types::AttributeValue as A;
    match v {
        A::S(s) => s.len(),
        A::N(n) => n.len().div_ceil(2) + 1,
        A::M(m) => {
            3 + m
                .iter()
                .map(|(k, v)| k.len() + av_size(v) + 1)
                .sum::<usize>()
        }
        A::L(l) => 3 + l.iter().map(|v| av_size(v) + 1).sum::<usize>(),
        _ => 1,
    }
}

/// The largest an account item can grow (docs/table-design.md): a 64-character campus, a
/// credited day for every day of the window, and the most open pledges, each with a 64-character
/// id. Crediting still writes it, and it stays far below DynamoDB's 400 KB.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_account_at_its_largest_is_credited() {
    use greenloop::catalog::Rules;
    use greenloop::credit::credit_pending;
    use greenloop::domain::{Action, ActionKind, BoxLot, Campus, Items, MemberId, Pepper};
    use greenloop::records::MAX_OPEN_PLEDGES;
    use greenloop::store::dynamodb::item;
    use greenloop::store::{Affiliation, Intake, Members, Registry};

    let store = fresh("bound").await;
    let campus = "c".repeat(64);
    store
        .put_campus(&Campus {
            id: campus.clone(),
            name: "The longest campus".into(),
            city: "Shanghai".into(),
        })
        .await
        .expect("campus");
    let member = MemberId::pseudonym(
        &Pepper::new(b"bound-test-pepper-0123".to_vec()).unwrap(),
        "u",
    );
    store
        .affiliate(&member, &campus, Consent::Enrol)
        .await
        .expect("affiliate");
    let pledge = |i: usize, day: i64| Action {
        id: format!("{i:0>64}"),
        integration: "qr-1".into(),
        kind: ActionKind::Pledge,
        member: member.clone(),
        station: "st-0001".into(),
        at: suite::WINDOW_START + day * 86_400 + i as i64,
        items: Items {
            boxes: vec![BoxLot {
                brand: None,
                count: 1,
            }],
            ..Items::default()
        },
    };
    // Every window day earns points; every pledge stays open.
    for i in 0..MAX_OPEN_PLEDGES {
        store
            .record_action(&pledge(i, (i % 20) as i64))
            .await
            .expect("record");
    }
    let run = credit_pending(&store, &Rules::defaults(), 4)
        .await
        .expect("credit");
    assert_eq!(run.credited, MAX_OPEN_PLEDGES as u64, "{run:?}");
    let account = &store.accounts(std::slice::from_ref(&member)).await.unwrap()[0];
    assert_eq!(account.open_pledges.len(), MAX_OPEN_PLEDGES);
    assert_eq!(account.days.len(), 20, "a credited day for each window day");
    assert_eq!(account.campus.as_deref(), Some(campus.as_str()));

    let it = dynamodb_local::client()
        .await
        .get_item()
        .table_name(store.table())
        .set_key(Some(item::account(member.as_str())))
        .consistent_read(true)
        .send()
        .await
        .expect("get")
        .item
        .expect("the account item");
    let size: usize = it.iter().map(|(k, v)| k.len() + av_size(v)).sum();
    println!("an account item at its largest: {size} bytes");
    assert!(
        size < 20 * 1024,
        "{size} bytes: the bound in docs/table-design.md"
    );

    // At the bound, a drop-off is still credited and returns one pledge's box.
    let mut scan = pledge(MAX_OPEN_PLEDGES, 19);
    scan.kind = ActionKind::Scan;
    store.record_action(&scan).await.expect("record");
    let run = credit_pending(&store, &Rules::defaults(), 4)
        .await
        .expect("credit");
    assert_eq!((run.credited, run.quarantined.len()), (1, 0), "{run:?}");
    let account = &store.accounts(std::slice::from_ref(&member)).await.unwrap()[0];
    assert_eq!(account.open_pledges.len(), MAX_OPEN_PLEDGES - 1);
    let report = suite::verify_store(&store).await;
    assert!(report.is_ok(), "{:?}", report.problems);
}

/// After an erasure no item of the table holds the person's subject (the key of their mapping,
/// the one link from their user id) or anything else that names it: a scan of every item, in
/// DynamoDB's own JSON, finds neither the subject nor the user id, while the pseudonymous
/// account stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn after_erasure_no_item_links_the_user_id_to_the_pseudonym() {
    use greenloop::domain::{Pepper, Subject};
    use greenloop::erasure::{erase, Outcome};
    use greenloop::receipt::ReceiptKey;
    use greenloop::store::Pseudonyms;
    let client = dynamodb_local::client().await;
    let table = dynamodb_local::unique_table("erase");
    let store = DynamoStore::new(client.clone(), &table);
    store.create_table().await.expect("create the table");
    let user = "wen-18600186000";
    let subject = Subject::of(
        &Pepper::new(b"erase-test-pepper-01".to_vec()).unwrap(),
        user,
    );
    let member = store
        .member_or_new(&subject, "qr-1")
        .await
        .expect("first sight");
    let scan_all = || async {
        let items = client
            .scan()
            .table_name(&table)
            .consistent_read(true)
            .send()
            .await
            .expect("scan")
            .items
            .unwrap_or_default();
        items.iter().map(|i| format!("{i:?}")).collect::<Vec<_>>()
    };
    let before = scan_all().await;
    assert!(
        before
            .iter()
            .any(|i| i.contains(subject.as_str()) && i.contains(member.as_str())),
        "the mapping links them before"
    );
    let key = ReceiptKey::from_hex(&"42".repeat(32)).unwrap();
    let outcome = erase(&store, &key, &subject, "qr-1", "req-1", 1_795_000_000)
        .await
        .expect("erase");
    assert!(matches!(outcome, Outcome::Erased(_)), "{outcome:?}");
    for item in scan_all().await {
        assert!(!item.contains(subject.as_str()), "{item} names the subject");
        assert!(!item.contains(user), "{item} names the user id");
    }
}
