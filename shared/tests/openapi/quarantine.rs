//! The quarantine as an integration and an auditor see it: a set-aside action's status, one
//! whose item cannot be read, and the backlog route.

use crate::harness::{boxes, scan, Harness, Req, AUDITOR_KEY, CAMPUS_A_KEY, NOW};
use greenloop::store::{ActionStatus, Crediting, Quarantine, Requeued};
use serde_json::json;

pub async fn quarantine(h: &Harness) {
    h.ok(
        Req::post(
            "/v1/scans",
            &scan("scan-q", "alice", "st-0001", NOW, boxes(1)),
        )
        .signed(),
        202,
    )
    .await;
    let backlog = h
        .ok(Req::get("/v1/audit/backlog").bearer(AUDITOR_KEY), 200)
        .await;
    assert_eq!(
        (backlog["pending"].clone(), backlog["quarantined"].clone()),
        (json!(1), json!(0))
    );
    assert!(backlog["oldest_pending_ms"].is_i64(), "{backlog}");

    assert!(h
        .store
        .inner
        .quarantine("qr-1/scan-q", "unreadable_account", "seen: bad")
        .await
        .unwrap());
    let status = h.ok(Req::get("/v1/actions/scan-q").signed(), 200).await;
    assert_eq!(
        status,
        json!({"action": "scan-q", "kind": "scan", "status": "rejected",
               "reason": "unreadable_account", "message": "seen: bad"})
    );
    let backlog = h
        .ok(Req::get("/v1/audit/backlog").bearer(AUDITOR_KEY), 200)
        .await;
    assert_eq!(
        backlog,
        json!({"pending": 0, "oldest_pending_ms": null, "quarantined": 1})
    );
    h.err(Req::get("/v1/audit/backlog"), 401, "unauthorized")
        .await;
    h.err(
        Req::get("/v1/audit/backlog").bearer(CAMPUS_A_KEY),
        403,
        "forbidden",
    )
    .await;

    // An item this version cannot read: once quarantined its sender still sees why; before,
    // a clear 409, not a 503.
    let rejected = ActionStatus::Rejected {
        reason: "unreadable".into(),
        message: "unknown variant".into(),
    };
    h.store.unreadable("qr-1/scan-q", Some(rejected));
    let status = h.ok(Req::get("/v1/actions/scan-q").signed(), 200).await;
    assert_eq!(
        status,
        json!({"action": "scan-q", "status": "rejected", "reason": "unreadable",
               "message": "unknown variant"})
    );
    h.store
        .unreadable("qr-1/scan-q", Some(ActionStatus::Pending));
    h.err(
        Req::get("/v1/actions/scan-q").signed(),
        409,
        "unreadable_action",
    )
    .await;
    h.store.readable("qr-1/scan-q");

    assert_eq!(
        h.store.inner.requeue("qr-1/scan-q").await.unwrap(),
        Requeued::Requeued
    );
    h.credit().await;
    let status = h.ok(Req::get("/v1/actions/scan-q").signed(), 200).await;
    assert_eq!(status["status"], "credited", "{status}");
}
