//! The `credit` function's trigger on real stream records: DynamoDB Local's stream is read
//! through the DynamoDB Streams API, shaped as the event Lambda's event source mapping delivers
//! (`{"Records": [...]}`), and fed to `greenloop::credit::trigger::handle` as the function does. Also
//! the scheduled sweep.

mod support;

use greenloop::catalog::Rules;
use greenloop::credit::trigger;
use greenloop::domain::{Action, ActionKind, Items, MemberId, Pepper};
use greenloop::store::dynamodb::DynamoStore;
use greenloop::store::ActionStatus;
use greenloop::store::{Intake, LedgerSource};
use serde_json::{json, Value};
use std::time::Instant;
use support::dynamodb_local;
use support::stream::stream_event;

/// Inside the 2026 campaign window.
const AT: i64 = 1_793_851_200;

fn action(id: &str, kind: ActionKind, books: u32) -> Action {
    let pepper = Pepper::new(b"stream-test-pepper-01".to_vec()).unwrap();
    Action {
        id: id.into(),
        integration: "qr-1".into(),
        kind,
        member: MemberId::pseudonym(&pepper, &format!("user-{id}")),
        station: "st-stream".into(),
        at: AT,
        items: Items {
            books,
            ..Items::default()
        },
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_records_wake_crediting_and_the_sweep_catches_the_rest() {
    let store = DynamoStore::new(
        dynamodb_local::client().await,
        dynamodb_local::unique_table("stream"),
    );
    store.create_table().await.unwrap();
    let rules = Rules::defaults();
    for a in [
        action("s-1", ActionKind::Scan, 1),
        action("s-2", ActionKind::Scan, 2),
        action("s-3", ActionKind::Pickup, 0), // a booking: not pending yet
    ] {
        store.record_action(&a).await.unwrap();
    }

    let mut seen = 0;
    let event = stream_event(&store, &mut seen).await;
    assert!(seen >= 3, "the stream holds the three recordings: {event}");
    let parsed: aws_lambda_events::event::dynamodb::Event =
        serde_json::from_value(event.clone()).expect("real records parse as the Lambda event");
    let mut announced = trigger::announced(&parsed);
    announced.sort();
    assert_eq!(
        announced,
        ["qr-1/s-1", "qr-1/s-2"],
        "pending actions are announced (by key); a booking is not"
    );

    // A batch whose crediting fails (here: its table is gone) reports every record that
    // announced a still-pending action, so Lambda retries from the first of them.
    let pending_seqs: Vec<Value> = event["Records"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["dynamodb"]["NewImage"]["state"]["S"] == "pending")
        .map(|r| r["dynamodb"]["SequenceNumber"].clone())
        .collect();
    assert_eq!(pending_seqs.len(), 2);
    let gone = DynamoStore::new(dynamodb_local::client().await, "no-such-table");
    let failed = trigger::handle(&gone, &rules, 4, event.clone(), None)
        .await
        .expect("a failed stream batch is answered, not raised");
    let expected: Vec<Value> = pending_seqs
        .iter()
        .map(|seq| json!({ "itemIdentifier": seq }))
        .collect();
    assert_eq!(
        serde_json::to_value(failed.response()).unwrap(),
        json!({ "batchItemFailures": expected })
    );

    let done = trigger::handle(&store, &rules, 4, event, None)
        .await
        .unwrap();
    assert_eq!(done.run.credited, 2);
    assert_eq!(
        serde_json::to_value(done.response()).unwrap(),
        json!({ "batchItemFailures": [] }),
        "every announced action was credited: nothing to retry"
    );
    for id in ["qr-1/s-1", "qr-1/s-2"] {
        let status = store.action(id).await.unwrap().unwrap().status;
        assert!(
            matches!(status, ActionStatus::Credited { .. }),
            "{id}: {status:?}"
        );
    }

    // Crediting's own writes (entries, heads, accounts, statuses) announce nothing.
    let echo = stream_event(&store, &mut seen).await;
    assert!(
        !echo["Records"].as_array().unwrap().is_empty(),
        "crediting wrote to the stream"
    );
    let again = trigger::handle(&store, &rules, 4, echo, None)
        .await
        .unwrap();
    assert!(again.announced.is_empty());
    assert_eq!(again.run.credited, 0);

    // A stream batch that never arrives: the scheduled sweep credits the action anyway.
    store
        .record_action(&action("s-4", ActionKind::Scan, 3))
        .await
        .unwrap();
    let schedule = json!({
        "version": "0", "id": "sweep", "detail-type": "Scheduled Event", "source": "aws.events",
        "account": "123456789012", "time": "2026-11-05T04:00:00Z", "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/greenloop-sweep"], "detail": {}
    });
    let sweep = trigger::handle(&store, &rules, 4, schedule, None)
        .await
        .unwrap();
    assert!(sweep.sweep);
    assert_eq!(sweep.run.credited, 1);
    let report = greenloop::verify::verify_store(&store, |_| {})
        .await
        .unwrap();
    assert!(report.is_ok(), "{:?}", report.first_problem());
    assert_eq!(report.entries, 3);
}

/// A batch is failed only for what crediting failed: not for an action the deadline left
/// pending (the next batch or the sweep takes it), and not for one it quarantined.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_failed_crediting_fails_a_record() {
    use aws_sdk_dynamodb::types::AttributeValue as A;
    use greenloop::store::dynamodb::item;
    let store = DynamoStore::new(
        dynamodb_local::client().await,
        dynamodb_local::unique_table("stream-fail"),
    );
    store.create_table().await.unwrap();
    let rules = Rules::defaults();
    store
        .record_action(&action("ok-1", ActionKind::Scan, 1))
        .await
        .unwrap();
    // An item a newer or broken writer left: `action` is not an action.
    let mut bad = item::action("qr-1/bad-1");
    for (k, v) in [
        ("action", r#"{"id":3}"#.to_owned()),
        ("digest", "0".repeat(64)),
        ("status", r#"{"status":"pending"}"#.to_owned()),
        ("state", "pending".to_owned()),
        (item::GSI1PK, item::pending_partition("shard-00")),
        (item::GSI1SK, item::queue_position("qr-1/bad-1")),
    ] {
        bad.insert(k.to_owned(), A::S(v));
    }
    dynamodb_local::client()
        .await
        .put_item()
        .table_name(store.table())
        .set_item(Some(bad))
        .send()
        .await
        .unwrap();
    let mut seen = 0;
    let event = stream_event(&store, &mut seen).await;

    // The deadline has passed: nothing is started, nothing is failed, both stay pending.
    let late = trigger::handle(&store, &rules, 4, event.clone(), Some(Instant::now()))
        .await
        .unwrap();
    assert!(late.run.deadline_reached);
    assert_eq!(late.run.credited, 0);
    assert!(late.failures.is_empty(), "{:?}", late.failures);
    assert_eq!(
        store.action("qr-1/ok-1").await.unwrap().unwrap().status,
        ActionStatus::Pending
    );

    // In time: the good one is credited, the bad one quarantined; neither is a failure.
    let done = trigger::handle(&store, &rules, 4, event, None)
        .await
        .unwrap();
    assert_eq!(done.run.credited, 1);
    assert_eq!(done.run.quarantined, ["qr-1/bad-1"]);
    assert!(done.failures.is_empty(), "{:?}", done.failures);
    match store.action("qr-1/bad-1").await {
        Err(greenloop::store::StoreError::Unreadable {
            status: Some(ActionStatus::Rejected { reason, .. }),
            ..
        }) => assert_eq!(reason, "unreadable"),
        other => panic!("expected an unreadable, rejected action, got {other:?}"),
    }
    let backlog = store.backlog().await.unwrap().unwrap();
    assert_eq!((backlog.pending, backlog.quarantined), (0, 1));
}
