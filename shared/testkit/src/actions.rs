//! Cases for recording actions: idempotency, validation, pickups and the pending queue.

use crate::{booking, books, boxes, member, pending_ids, scan, ALL, WINDOW_START};
use greenloop::domain::{ActionKind, Items};
use greenloop::store::{action_digest, ActionStatus, Recorded, Store, StoreError};

fn expect_conflict(got: Result<Recorded, StoreError>, id: &str, what: &str) {
    match got {
        Err(StoreError::Conflict(c)) => assert_eq!(c, id, "{what}: Conflict names another id"),
        other => panic!("{what}: expected StoreError::Conflict({id}), got {other:?}"),
    }
}

fn expect_invalid(got: Result<Recorded, StoreError>, what: &str) {
    assert!(
        matches!(got, Err(StoreError::Invalid(_))),
        "{what}: expected StoreError::Invalid, got {got:?}"
    );
}

/// Same id and body: a replay with the same record. Same id, other body: a conflict. Neither
/// enqueues anything or changes the record.
pub async fn recording_is_idempotent(store: &dyn Store) {
    let a = scan(
        "scan-idem-1",
        1,
        "st-0001",
        WINDOW_START + 3_600,
        boxes(3, None),
    );
    let first = store.record_action(&a).await.expect("record a new action");
    assert!(
        !first.replay,
        "the first delivery of an action is not a replay"
    );
    assert_eq!(
        first.record.action, a,
        "the record keeps the action as delivered"
    );
    assert_eq!(
        first.record.digest,
        action_digest(&a),
        "the record's digest"
    );
    assert_eq!(
        first.record.status,
        ActionStatus::Pending,
        "a recorded scan waits for crediting"
    );
    assert_eq!(
        pending_ids(store).await,
        [a.id.as_str()],
        "the scan is queued"
    );

    let again = store
        .record_action(&a)
        .await
        .expect("record the same action again");
    assert!(again.replay, "same id and same body is a replay");
    assert_eq!(
        again.record, first.record,
        "a replay answers the stored record"
    );

    let mut more = a.clone();
    more.items = boxes(4, None);
    expect_conflict(
        store.record_action(&more).await,
        &a.key(),
        "same id, other items",
    );
    let mut someone_else = a.clone();
    someone_else.member = member(2);
    expect_conflict(
        store.record_action(&someone_else).await,
        &a.key(),
        "same id, other member",
    );
    let mut later = a.clone();
    later.at += 1;
    expect_conflict(
        store.record_action(&later).await,
        &a.key(),
        "same id, other time",
    );

    assert_eq!(
        pending_ids(store).await,
        [a.id.as_str()],
        "replays and conflicts must not enqueue anything"
    );
    assert_eq!(
        store.action(&a.key()).await.expect("action"),
        Some(first.record.clone()),
        "a conflicting delivery must not change the record"
    );
    assert_eq!(
        store
            .action("qr-1/scan-never-recorded")
            .await
            .expect("action"),
        None,
        "an unknown id has no record"
    );

    // Another integration's action with the same id is another action, not a replay.
    let mut theirs = more.clone();
    theirs.integration = "qr-2".into();
    let recorded = store.record_action(&theirs).await.expect("record theirs");
    assert!(!recorded.replay, "another integration's id is its own");
    assert_eq!(
        pending_ids(store).await,
        [a.id.as_str(), a.id.as_str()],
        "both are queued, each under its integration"
    );
    assert_eq!(
        store.action("qr-2/scan-idem-1").await.expect("action"),
        Some(recorded.record),
        "each reads back under its own key"
    );
    assert_eq!(
        store.action(&a.key()).await.expect("action"),
        Some(first.record),
        "and the first is untouched"
    );
}

/// Invalid actions are refused with `Invalid` and leave no trace.
pub async fn invalid_actions_are_refused_and_not_written(store: &dyn Store) {
    let t = WINDOW_START + 7_200;
    let mut shoes_pledge = boxes(2, None);
    shoes_pledge.shoes = 1;
    let mut branded_pledge = scan("pledge-brand", 1, "st-0001", t, boxes(2, Some("brand-01")));
    branded_pledge.kind = ActionKind::Pledge;
    let mut bad_pledge = scan("pledge-shoes", 1, "st-0001", t, shoes_pledge);
    bad_pledge.kind = ActionKind::Pledge;
    let mut pickup_with_boxes = scan("pickup-boxes", 1, "st-0001", t, boxes(1, None));
    pickup_with_boxes.kind = ActionKind::Pickup;
    let cases = [
        (
            "an id with a space",
            scan("bad id", 1, "st-0001", t, boxes(1, None)),
        ),
        ("an empty id", scan("", 1, "st-0001", t, boxes(1, None))),
        (
            "a station id with a slash",
            scan("scan-st", 1, "st/1", t, books(1)),
        ),
        (
            "a drop-off with no items",
            scan("scan-empty", 1, "st-0001", t, Items::default()),
        ),
        (
            "a negative time",
            scan("scan-neg", 1, "st-0001", -1, books(1)),
        ),
        (
            "a box lot of 0",
            scan("scan-zero", 1, "st-0001", t, boxes(0, None)),
        ),
        ("a pledge with shoes", bad_pledge),
        ("a pledge naming a brand", branded_pledge),
        ("a pickup carrying boxes", pickup_with_boxes),
    ];
    for (what, a) in cases {
        expect_invalid(store.record_action(&a).await, what);
        assert_eq!(
            store.action(&a.key()).await.expect("action"),
            None,
            "{what}: a refused action must not be written"
        );
    }
    assert!(
        pending_ids(store).await.is_empty(),
        "refused actions must not be enqueued"
    );

    // The store still works, and a valid action with a refused action's id is new.
    let ok = scan("pledge-shoes", 1, "st-0001", t, boxes(2, None));
    let r = store.record_action(&ok).await.expect("a valid action");
    assert!(!r.replay, "an id only ever refused is still free");
}

/// A pickup is booked without items (not pending), then completed once with its weight.
pub async fn pickups_are_booked_then_completed(store: &dyn Store) {
    let t = WINDOW_START + 86_400;
    let book = booking("pickup-1", 3, "st-0002", t);
    let booked = store.record_action(&book).await.expect("book a pickup");
    assert!(!booked.replay, "a new booking is not a replay");
    assert_eq!(
        booked.record.status,
        ActionStatus::Booked,
        "a booking's status"
    );
    assert!(
        pending_ids(store).await.is_empty(),
        "a booking waits for its weight, not for crediting"
    );

    expect_invalid(
        store.complete_pickup("qr-1/pickup-1", 0, t + 3_600).await,
        "completing with 0 g",
    );
    assert_eq!(
        store
            .action("qr-1/pickup-1")
            .await
            .expect("action")
            .map(|r| r.status),
        Some(ActionStatus::Booked),
        "a refused completion leaves the booking as it was"
    );

    let done = store
        .complete_pickup("qr-1/pickup-1", 2_500, t + 3_600)
        .await
        .expect("complete the pickup");
    assert!(!done.replay, "the first completion is not a replay");
    assert_eq!(
        done.record.status,
        ActionStatus::Pending,
        "a completed pickup is pending"
    );
    assert_eq!(
        done.record.action.items.clothing_g, 2_500,
        "the weighed amount"
    );
    assert_eq!(done.record.action.at, t + 3_600, "the completion time");
    assert_eq!(
        done.record.action.member, book.member,
        "the booking's member"
    );
    let pending = super::pending(store, None, ALL).await;
    assert_eq!(pending.len(), 1, "the completed pickup is queued once");
    assert_eq!(
        pending[0], done.record.action,
        "the queue holds the weighed pickup"
    );

    let again = store
        .complete_pickup("qr-1/pickup-1", 2_500, t + 3_600)
        .await
        .expect("repeat the completion");
    assert!(again.replay, "the same completion again is a replay");
    assert_eq!(
        again.record, done.record,
        "a replayed completion answers the record"
    );
    expect_conflict(
        store
            .complete_pickup("qr-1/pickup-1", 3_000, t + 3_600)
            .await,
        "qr-1/pickup-1",
        "completing again with another weight",
    );
    expect_conflict(
        store
            .complete_pickup("qr-1/pickup-1", 2_500, t + 7_200)
            .await,
        "qr-1/pickup-1",
        "completing again at another time",
    );
    let rebooked = store
        .record_action(&book)
        .await
        .expect("re-deliver the booking");
    assert!(rebooked.replay, "re-delivering the booking is a replay");
    assert_eq!(
        rebooked.record, done.record,
        "a re-delivered booking must not reset the completed pickup"
    );
    assert_eq!(
        pending_ids(store).await,
        ["pickup-1"],
        "replays and conflicts enqueue nothing"
    );
    assert_eq!(
        store.action("qr-1/pickup-1").await.expect("action"),
        Some(done.record),
        "conflicting completions must not change the record"
    );

    match store.complete_pickup("qr-1/pickup-unknown", 1_000, t).await {
        Err(StoreError::NotFound(_)) => {}
        other => panic!("completing an unknown appointment: expected NotFound, got {other:?}"),
    }
    let drop_off = scan("scan-not-pickup", 3, "st-0002", t, books(2));
    store.record_action(&drop_off).await.expect("record a scan");
    expect_invalid(
        store
            .complete_pickup("qr-1/scan-not-pickup", 1_000, t)
            .await,
        "completing a scan as a pickup",
    );
    assert_eq!(
        store
            .action("qr-1/scan-not-pickup")
            .await
            .expect("action")
            .map(|r| r.action.items),
        Some(books(2)),
        "a scan is not changed by a pickup completion"
    );
}

/// The pending queue answers in recording order (not by id or time) and honours `limit`.
pub async fn pending_actions_are_oldest_first_and_limited(store: &dyn Store) {
    let t = WINDOW_START + 2 * 86_400;
    let order = [
        scan("order-c", 1, "st-0003", t + 300, books(1)),
        scan("order-a", 2, "st-0001", t + 100, books(2)),
        scan("order-e", 1, "st-0002", t + 500, boxes(1, None)),
        scan("order-b", 3, "st-0003", t + 200, books(3)),
        scan("order-d", 2, "st-0001", t + 400, boxes(2, None)),
    ];
    for (i, a) in order.iter().enumerate() {
        store.record_action(a).await.expect("record");
        if i == 2 {
            // A booking in the middle is not queued; a replay does not move the first action.
            store
                .record_action(&booking("order-p", 4, "st-0004", t))
                .await
                .expect("book");
            let replay = store.record_action(&order[0]).await.expect("replay");
            assert!(replay.replay, "the replay is recognised");
        }
    }
    let want: Vec<String> = order.iter().map(|a| a.id.clone()).collect();
    let all = super::pending(store, None, ALL).await;
    assert_eq!(
        super::ids(&all),
        want,
        "pending actions, oldest recorded first"
    );
    assert_eq!(all, order, "pending actions come back as recorded");
    for limit in [0, 1, 2, 4, 5, 6] {
        let got = super::ids(&super::pending(store, None, limit).await);
        let n = limit.min(want.len());
        assert_eq!(got, want[..n], "pending_actions({limit})");
    }
    // A cursor walks the queue: after the second, the rest; after the last, nothing.
    let listed = store.pending_actions(None, ALL).await.expect("pending");
    assert!(
        listed.windows(2).all(|w| w[0].position < w[1].position),
        "positions increase along the queue"
    );
    assert!(
        listed.iter().all(|p| p.queued_ms.is_some()),
        "each pending action says when it was queued"
    );
    let rest = super::pending(store, Some(&listed[1].position), ALL).await;
    assert_eq!(super::ids(&rest), want[2..], "pending after the second");
    let none = super::pending(store, Some(&listed[4].position), ALL).await;
    assert!(
        none.is_empty(),
        "nothing after the last: {:?}",
        super::ids(&none)
    );
}
