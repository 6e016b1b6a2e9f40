//! Cases for the quarantine: setting a pending action aside, listing it, counting it in the
//! backlog, and putting it back; and crediting's own use of it for a pledge past the cap.

use super::{
    action, boxes, pending_ids, scan, verify_store, ActionKind, Store, ALL, SHARDS, WINDOW_START,
};
use greenloop::catalog::Rules;
use greenloop::credit::credit_pending;
use greenloop::records::{reasons, MAX_OPEN_PLEDGES};
use greenloop::store::{ActionStatus, Requeued, StoreError};

/// A pending action set aside is out of the queue, listed, counted, and shown as rejected with
/// its reason; a retry puts it back once, and crediting then takes it like any other.
pub async fn quarantine_sets_aside_and_retry_restores(store: &dyn Store) {
    let t = WINDOW_START + 86_400;
    for i in 0..3 {
        let a = scan(
            &format!("q-{i}"),
            i,
            "st-0001",
            t + i as i64,
            boxes(1, None),
        );
        store.record_action(&a).await.expect("record");
    }
    let before = store
        .backlog()
        .await
        .expect("backlog")
        .expect("a store knows");
    assert_eq!(
        (before.pending, before.quarantined),
        (3, 0),
        "three pending"
    );
    assert!(before.oldest_pending_ms.is_some(), "the oldest has a time");

    assert!(
        store
            .quarantine("qr-1/q-1", reasons::UNREADABLE, "seen: bad")
            .await
            .expect("quarantine"),
        "a pending action is quarantined"
    );
    assert!(
        !store
            .quarantine("qr-1/q-1", reasons::UNREADABLE, "again")
            .await
            .expect("quarantine again"),
        "quarantining twice changes nothing"
    );
    assert_eq!(pending_ids(store).await, ["q-0", "q-2"], "out of the queue");
    let listed = store.quarantined(None, ALL).await.expect("list");
    assert_eq!(listed.len(), 1, "listed once: {listed:?}");
    assert_eq!(
        (listed[0].action.as_str(), listed[0].reason.as_str()),
        ("qr-1/q-1", reasons::UNREADABLE)
    );
    assert_eq!(listed[0].message, "seen: bad");
    assert!(
        store
            .quarantined(Some("qr-1/q-1"), ALL)
            .await
            .expect("page")
            .is_empty(),
        "nothing after the last"
    );
    let status = store
        .action("qr-1/q-1")
        .await
        .expect("status")
        .expect("known");
    assert_eq!(
        status.status,
        ActionStatus::Rejected {
            reason: reasons::UNREADABLE.into(),
            message: "seen: bad".into()
        }
    );
    let during = store
        .backlog()
        .await
        .expect("backlog")
        .expect("a store knows");
    assert_eq!((during.pending, during.quarantined), (2, 1));

    // Only a quarantined action can be retried; an unknown one is not found.
    match store.requeue("qr-1/nope").await {
        Err(StoreError::NotFound(_)) => {}
        other => panic!("retrying an unknown id: expected NotFound, got {other:?}"),
    }
    assert_eq!(
        store.requeue("qr-1/q-1").await.expect("retry"),
        Requeued::Requeued
    );
    assert_eq!(
        store.requeue("qr-1/q-1").await.expect("retry again"),
        Requeued::AlreadyPending,
        "a retry run twice is harmless"
    );
    assert_eq!(
        pending_ids(store).await,
        ["q-0", "q-2", "q-1"],
        "back at the end"
    );
    assert!(store.quarantined(None, ALL).await.expect("list").is_empty());

    let run = credit_pending(store, &Rules::defaults(), SHARDS)
        .await
        .expect("credit");
    assert_eq!(run.credited, 3, "all three credited: {run:?}");
    match store.requeue("qr-1/q-1").await {
        Err(StoreError::Invalid(i)) => assert_eq!(i.code, "not_quarantined"),
        other => panic!("retrying a credited action: expected Invalid, got {other:?}"),
    }
    assert!(
        !store
            .quarantine("qr-1/q-0", reasons::UNREADABLE, "late")
            .await
            .expect("quarantine a credited one"),
        "a credited action is never quarantined"
    );
    let after = store
        .backlog()
        .await
        .expect("backlog")
        .expect("a store knows");
    assert_eq!((after.pending, after.quarantined), (0, 0));
    assert_eq!(after.oldest_pending_ms, None);
    let report = verify_store(store).await;
    assert!(report.is_ok(), "{:?}", report.problems);
}

/// A member may hold [`MAX_OPEN_PLEDGES`] open return pledges: the next one is quarantined with
/// its reason while everything else is credited, and a retry after boxes came back credits it.
pub async fn a_pledge_past_the_cap_is_quarantined(store: &dyn Store) {
    let t = WINDOW_START + 3 * 86_400;
    let n = MAX_OPEN_PLEDGES + 1;
    for i in 0..n {
        // 50 a day, within the daily plausibility limit on boxes.
        let at = t + (i / 50) as i64 * 86_400 + i as i64;
        let p = action(
            &format!("pl-{i:03}"),
            ActionKind::Pledge,
            7,
            "st-0002",
            at,
            boxes(1, None),
        );
        store.record_action(&p).await.expect("record a pledge");
    }
    // Another member on the same chain is not held back.
    let other = scan("other-1", 8, "st-0002", t + 500, boxes(2, None));
    store.record_action(&other).await.expect("record");
    let run = credit_pending(store, &Rules::defaults(), SHARDS)
        .await
        .expect("credit");
    let last = format!("qr-1/pl-{:03}", n - 1);
    assert_eq!(
        run.quarantined,
        std::slice::from_ref(&last),
        "the pledge past the cap: {run:?}"
    );
    assert_eq!(
        run.credited, n as u64,
        "the other pledges and the scan are credited"
    );
    match store
        .action(&last)
        .await
        .expect("status")
        .expect("known")
        .status
    {
        ActionStatus::Rejected { reason, .. } => {
            assert_eq!(reason, reasons::TOO_MANY_OPEN_PLEDGES)
        }
        other => panic!("expected rejected, got {other:?}"),
    }
    let member = action("pl-x", ActionKind::Pledge, 7, "st-0002", t, boxes(1, None)).member;
    let account = &store
        .accounts(std::slice::from_ref(&member))
        .await
        .expect("account")[0];
    assert_eq!(account.open_pledges.len(), MAX_OPEN_PLEDGES, "at the cap");

    // Boxes come back: one pledge closes, and the retried one fits.
    let back = action(
        "back-1",
        ActionKind::Scan,
        7,
        "st-0002",
        t + 900,
        boxes(1, None),
    );
    store.record_action(&back).await.expect("record");
    credit_pending(store, &Rules::defaults(), SHARDS)
        .await
        .expect("credit");
    assert_eq!(
        store.requeue(&last).await.expect("retry"),
        Requeued::Requeued
    );
    let run = credit_pending(store, &Rules::defaults(), SHARDS)
        .await
        .expect("credit");
    assert_eq!((run.credited, run.quarantined.len()), (1, 0), "{run:?}");
    let account = &store.accounts(&[member]).await.expect("account")[0];
    assert_eq!(account.open_pledges.len(), MAX_OPEN_PLEDGES);
    let report = verify_store(store).await;
    assert!(report.is_ok(), "{:?}", report.problems);
}
