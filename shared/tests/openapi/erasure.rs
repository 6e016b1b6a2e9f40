//! `POST /v1/members/{user}/erasure`: a receipt that verifies, the same receipt for the same
//! request, nothing for a person erased or another integration's, and refused requests.

use crate::harness::{Harness, Req, NOW};
use crate::support::http_app::{self, RECEIPT_KEY};
use greenloop::receipt::{ErasureReceipt, ReceiptKey};
use serde_json::json;

pub async fn erasure(h: &Harness) {
    let erase = |user: &str, request: &str| {
        Req::post(
            format!("/v1/members/{user}/erasure"),
            &json!({ "request": request }),
        )
    };
    // dora is first seen by the harness's integration; she is credited nothing.
    let dora = h.member("dora").await;
    let made = h.ok(erase("dora", "er-1").signed(), 201).await;
    let receipt: ErasureReceipt = serde_json::from_value(made.clone()).expect("a receipt");
    let key = ReceiptKey::from_hex(RECEIPT_KEY).unwrap().public();
    let e = receipt.verify(&key).expect("signed by the receipt key");
    assert_eq!((e.member.as_str(), e.entries), (dora.as_str(), 0));
    assert_eq!(e.integration, http_app::KEY_ID);
    // Asked again (the answer lost): the same receipt; another request finds no one.
    let again = h.ok(erase("dora", "er-1").signed(), 200).await;
    assert_eq!(again, made);
    h.err(erase("dora", "er-2").signed(), 404, "not_found")
        .await;
    // The user id now leads to a new member.
    assert_ne!(h.member("dora").await, dora);
    // Only the integration that brought a person may erase them.
    h.member("eli").await;
    h.err(
        erase("eli", "er-3").signed_as(http_app::OTHER_KEY_ID, http_app::OTHER_SECRET, NOW),
        404,
        "not_found",
    )
    .await;

    h.err(erase("dora", "er-4"), 401, "missing_key_id").await;
    h.err(erase("%01x", "er-5").signed(), 422, "invalid_user")
        .await;
    h.err(erase("dora", "er 6").signed(), 422, "invalid_id")
        .await;
    h.err(
        Req::new("POST", "/v1/members/dora/erasure")
            .raw("{")
            .signed(),
        400,
        "malformed_json",
    )
    .await;
    h.err(
        Req::new("POST", "/v1/members/dora/erasure")
            .raw(vec![b' '; 17 * 1024])
            .signed(),
        413,
        "too_large",
    )
    .await;
}
