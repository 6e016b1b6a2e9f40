//! The scenario up to crediting: ops and paths that are not routes, affiliations, and intake
//! (scans, pledges, pickups, status) through successes and every reachable error.

use crate::harness::{
    boxes, scan, Harness, Req, AUDITOR_KEY, CAMPUS_A_KEY, CAMPUS_B_KEY, GHOST_KEY, NOW, SECRET,
};
use greenloop::http::signature::{sign, Message};
use greenloop::http::{MAX_HEADER_BYTES, MAX_URI};
use serde_json::{json, Value};

/// Ops, paths or methods that are not routes, and the limits on the request line and headers.
pub async fn not_routes(h: &Harness) {
    assert_eq!(
        h.ok(Req::get("/health"), 200).await,
        json!({"status": "ok"})
    );
    h.send(Req::new("HEAD", "/health"), 200).await;
    for uri in [
        "/index.html",
        "/v1",
        "/v1/nope",
        "/v1/scans/",
        "/v1/audit/chains/x/entries/1",
    ] {
        h.err(Req::get(uri), 404, "not_found").await;
    }
    h.err(Req::new("POST", "/v2/scans"), 404, "not_found").await;
    for template in h.spec.paths().keys().cloned().collect::<Vec<_>>() {
        let concrete = template
            .split('/')
            .map(|s| if s.starts_with('{') { "x" } else { s })
            .collect::<Vec<_>>()
            .join("/");
        let documented = h.spec.methods(&template);
        for m in ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"] {
            if !documented.contains(&m.to_ascii_lowercase().as_str()) {
                h.err(Req::new(m, concrete.clone()), 405, "method_not_allowed")
                    .await;
            }
        }
        // Our limits come first, on every path and method.
        let m = documented[0].to_ascii_uppercase();
        let long = format!("{concrete}?pad={}", "a".repeat(MAX_URI));
        h.err(Req::new(&m, long), 414, "uri_too_long").await;
        let large = Req::new(&m, concrete.clone()).header("x-pad", "a".repeat(MAX_HEADER_BYTES));
        h.err(large, 431, "headers_too_large").await;
    }
    // Exactly at each limit is still taken.
    let at_limit = format!("/health?pad={}", "a".repeat(MAX_URI - "/health?pad=".len()));
    h.ok(Req::get(&at_limit), 200).await;
    h.err(Req::get(format!("{at_limit}a")), 414, "uri_too_long")
        .await;
    let pad = "a".repeat(MAX_HEADER_BYTES - "x-pad".len());
    h.ok(Req::get("/health").header("x-pad", pad.clone()), 200)
        .await;
    let over = Req::get("/health").header("x-pad", format!("{pad}a"));
    h.err(over, 431, "headers_too_large").await;
    h.err(
        Req::get("/v1/nope").header("x-pad", format!("{pad}a")),
        431,
        "headers_too_large",
    )
    .await;
}

/// The public ranking before anything is credited: nothing computed yet, then (as the sweep
/// or `greenloop register` does) every campus with zeros, by id.
pub async fn ranking_before_crediting(h: &Harness) {
    let none = h.ok(Req::get("/v1/campuses"), 200).await;
    assert_eq!(none, json!({"as_of": null, "campuses": [], "days": []}));
    h.credit().await;
    let ranking = h.ok(Req::get("/v1/campuses"), 200).await;
    assert!(ranking["as_of"].as_i64().is_some_and(|t| t > 0));
    let campuses = &ranking["campuses"];
    assert_eq!(campuses[0]["campus"], "campus-a");
    assert_eq!(campuses[1]["campus"], "campus-b");
    assert_eq!(campuses[0]["rank"], 1);
    assert_eq!(campuses[0]["co2e_g"], 0);
    assert_eq!(campuses.as_array().unwrap().len(), 2);
}

/// Affiliations.
pub async fn affiliations(h: &Harness) {
    let alice = h.member("alice").await;
    let bob = h.member("bob").await;
    let a = h
        .ok(
            Req::new("PUT", "/v1/campuses/campus-a/members/alice").bearer(CAMPUS_A_KEY),
            200,
        )
        .await;
    assert_eq!(
        a,
        json!({"member": alice, "campus": "campus-a", "status": "joined"})
    );
    let again = h
        .ok(
            Req::new("PUT", "/v1/campuses/campus-a/members/alice").bearer(CAMPUS_A_KEY),
            200,
        )
        .await;
    assert_eq!(again["status"], "unchanged");
    // campus-b cannot take alice; she stays at campus-a.
    h.err(
        Req::new("PUT", "/v1/campuses/campus-b/members/alice").bearer(CAMPUS_B_KEY),
        409,
        "affiliated_elsewhere",
    )
    .await;
    h.ok(
        Req::get("/v1/campuses/campus-a/members/alice").bearer(CAMPUS_A_KEY),
        200,
    )
    .await;
    let b = h
        .ok(
            Req::new("PUT", "/v1/campuses/campus-b/members/bob").bearer(CAMPUS_B_KEY),
            200,
        )
        .await;
    assert_eq!(b["member"], bob.as_str());
    let put_alice = || Req::new("PUT", "/v1/campuses/campus-a/members/alice");
    h.err(put_alice(), 401, "unauthorized").await;
    h.err(put_alice().bearer("no-such-key"), 401, "unauthorized")
        .await;
    h.err(put_alice().bearer(CAMPUS_B_KEY), 403, "forbidden")
        .await;
    h.err(put_alice().bearer(AUDITOR_KEY), 403, "forbidden")
        .await;
    h.err(
        Req::new("PUT", "/v1/campuses/campus-ghost/members/alice").bearer(GHOST_KEY),
        404,
        "not_found",
    )
    .await;
    h.err(
        Req::new("PUT", "/v1/campuses/campus-a/members/%01x").bearer(CAMPUS_A_KEY),
        422,
        "invalid_user",
    )
    .await;
    h.err(
        Req::new("PUT", "/v1/campuses/campus-a/members/%FF").bearer(CAMPUS_A_KEY),
        400,
        "bad_path",
    )
    .await;

    // carol chooses campus-b in her app after campus-a enrolled her: the integration's signed
    // transfer moves her, and campus-a cannot take her back.
    let carol = h.member("carol").await;
    h.ok(
        Req::new("PUT", "/v1/campuses/campus-a/members/carol").bearer(CAMPUS_A_KEY),
        200,
    )
    .await;
    let transfer = |user: &str, body: &Value| {
        Req::new("PUT", format!("/v1/members/{user}/campus")).raw(serde_json::to_vec(body).unwrap())
    };
    let to_b = json!({"campus": "campus-b"});
    let moved = h.ok(transfer("carol", &to_b).signed(), 200).await;
    assert_eq!(
        moved,
        json!({"member": carol, "campus": "campus-b", "status": "moved", "from": "campus-a"})
    );
    let again = h.ok(transfer("carol", &to_b).signed(), 200).await;
    assert_eq!(again["status"], "unchanged");
    h.err(
        Req::new("PUT", "/v1/campuses/campus-a/members/carol").bearer(CAMPUS_A_KEY),
        409,
        "affiliated_elsewhere",
    )
    .await;
    h.err(transfer("carol", &to_b), 401, "missing_key_id").await;
    h.err(
        transfer("carol", &json!({"campus": "campus-ghost"})).signed(),
        404,
        "not_found",
    )
    .await;
    h.err(transfer("%01x", &to_b).signed(), 422, "invalid_user")
        .await;
    h.err(
        transfer("carol", &json!({"campus": "campus b"})).signed(),
        422,
        "invalid_id",
    )
    .await;
    h.err(
        Req::new("PUT", "/v1/members/carol/campus")
            .raw("{")
            .signed(),
        400,
        "malformed_json",
    )
    .await;
    h.err(
        Req::new("PUT", "/v1/members/carol/campus")
            .raw(vec![b' '; 17 * 1024])
            .signed(),
        413,
        "too_large",
    )
    .await;
}

/// Intake: a scan, its replay and a conflicting re-delivery; refused signatures, bodies and
/// values.
pub async fn scans(h: &Harness) {
    let items1 = json!({
        "books": 2,
        "boxes": [{"brand": "brand-01", "count": 3}, {"brand": null, "count": 1}],
        "clothing_g": 0,
        "shoes": 1
    });
    let scan1 = scan("scan-1", "alice", "st-0001", NOW - 60, items1.clone());
    let r = h.ok(Req::post("/v1/scans", &scan1).signed(), 202).await;
    assert_eq!(
        r,
        json!({"action": "scan-1", "kind": "scan", "status": "pending", "replay": false})
    );
    let r = h.ok(Req::post("/v1/scans", &scan1).signed(), 202).await;
    assert_eq!(r["replay"], true);
    let other = scan("scan-1", "alice", "st-0001", NOW - 60, boxes(9));
    h.err(Req::post("/v1/scans", &other).signed(), 409, "conflict")
        .await;

    // Signature refusals, one per code.
    let body = serde_json::to_vec(&scan("scan-x", "alice", "st-0001", NOW, boxes(1))).unwrap();
    let message = |key_id| Message::new("POST", "/v1/scans", key_id, &body);
    let good = sign(SECRET.as_bytes(), &message("qr-1"), NOW);
    let refusals: Vec<(Req, &str)> = vec![
        (
            Req::new("POST", "/v1/scans")
                .raw(body.clone())
                .header("greenloop-signature", good.clone()),
            "missing_key_id",
        ),
        (
            Req::new("POST", "/v1/scans")
                .raw(body.clone())
                .header("greenloop-key-id", "qr-1"),
            "missing_signature",
        ),
        (
            Req::new("POST", "/v1/scans")
                .raw(body.clone())
                .header("greenloop-key-id", "qr-1")
                .header("greenloop-signature", "garbage"),
            "malformed_signature",
        ),
        (
            Req::new("POST", "/v1/scans")
                .raw(body.clone())
                .header("greenloop-key-id", "qr-9")
                .header(
                    "greenloop-signature",
                    sign(SECRET.as_bytes(), &message("qr-9"), NOW),
                ),
            "bad_signature",
        ),
        (
            Req::new("POST", "/v1/scans")
                .raw(body.clone())
                .signed_at(NOW - 301),
            "stale_signature",
        ),
        (
            Req::new("POST", "/v1/scans")
                .raw(body.clone())
                .header("greenloop-key-id", "qr-1")
                .header(
                    "greenloop-signature",
                    sign(b"not-the-secret-0123456789", &message("qr-1"), NOW),
                ),
            "bad_signature",
        ),
    ];
    for (req, code) in refusals {
        h.err(req, 401, code).await;
    }
    // A body signed, then altered.
    let mut altered = Req::new("POST", "/v1/scans").raw(body.clone()).signed();
    altered.body = body
        .iter()
        .map(|b| if *b == b'1' { b'2' } else { *b })
        .collect();
    h.err(altered, 401, "bad_signature").await;

    // Bodies: not JSON, an unknown field, a missing field, too large.
    h.err(
        Req::new("POST", "/v1/scans").raw("{").signed(),
        400,
        "malformed_json",
    )
    .await;
    let mut extra = scan("scan-x", "alice", "st-0001", NOW, boxes(1));
    extra["note"] = json!("hi");
    assert!(
        h.spec
            .check(&h.spec.request_schema("/v1/scans", "post").unwrap(), &extra)
            .is_err(),
        "the spec refuses unknown fields too"
    );
    h.err(
        Req::post("/v1/scans", &extra).signed(),
        400,
        "invalid_field",
    )
    .await;
    let missing = json!({"scan_id": "scan-x", "user": "alice", "station": "st-0001", "at": NOW});
    h.err(
        Req::post("/v1/scans", &missing).signed(),
        400,
        "invalid_field",
    )
    .await;
    let no_brand_key = scan(
        "scan-x",
        "alice",
        "st-0001",
        NOW,
        json!({"books": 0, "boxes": [{"count": 1}], "clothing_g": 0, "shoes": 0}),
    );
    h.err(
        Req::post("/v1/scans", &no_brand_key).signed(),
        400,
        "invalid_field",
    )
    .await;
    let big = vec![b' '; greenloop::http::MAX_BODY + 1];
    for uri in [
        "/v1/scans",
        "/v1/pledges",
        "/v1/appointments",
        "/v1/appointments/appt-1/complete",
    ] {
        h.err(
            Req::new("POST", uri).raw(big.clone()).signed(),
            413,
            "too_large",
        )
        .await;
    }
    h.err(
        Req::get("/v1/actions/scan-1").raw(big.clone()).signed(),
        413,
        "too_large",
    )
    .await;

    // Validation.
    let invalid: Vec<(Value, &str)> = vec![
        (
            scan("scan-x", "alice", "st-9999", NOW, boxes(1)),
            "unknown_station",
        ),
        (scan("scan-x", "", "st-0001", NOW, boxes(1)), "invalid_user"),
        (
            scan("scan x", "alice", "st-0001", NOW, boxes(1)),
            "invalid_id",
        ),
        (
            scan("scan-x", "alice", "st-0001", NOW + 301, boxes(1)),
            "future_time",
        ),
        (
            scan("scan-x", "alice", "st-0001", NOW - 48 * 3600 - 1, boxes(1)),
            "stale_action",
        ),
        (scan("scan-x", "alice", "st-0001", -1, boxes(1)), "bad_time"),
        (
            scan(
                "scan-x",
                "alice",
                "st-0001",
                NOW,
                json!({"books": 0, "boxes": [], "clothing_g": 0, "shoes": 0}),
            ),
            "no_items",
        ),
        (
            scan("scan-x", "alice", "st-0001", NOW, boxes(1001)),
            "too_much",
        ),
    ];
    for (body, code) in invalid {
        h.err(Req::post("/v1/scans", &body).signed(), 422, code)
            .await;
    }

    // Another integration's station, on each route that records.
    let elsewhere = [
        (
            "/v1/scans",
            scan("scan-x", "alice", "st-0003", NOW, boxes(1)),
        ),
        (
            "/v1/pledges",
            json!({"pledge_id": "pledge-x", "user": "alice", "station": "st-0003", "at": NOW, "boxes": 1}),
        ),
        (
            "/v1/appointments",
            json!({"appointment_id": "appt-x", "user": "bob", "station": "st-0003", "at": NOW}),
        ),
    ];
    for (uri, body) in elsewhere {
        h.err(Req::post(uri, &body).signed(), 403, "station_not_yours")
            .await;
    }
    // A captured request replayed on another route, or under another key id.
    let captured = Req::post(
        "/v1/scans",
        &scan("scan-y", "alice", "st-0001", NOW, boxes(1)),
    )
    .signed();
    for (method, uri, key_id) in [
        ("POST", "/v1/pledges", "qr-1"),
        ("POST", "/v1/scans?x=1", "qr-1"),
        ("POST", "/v1/scans", "qr-2"),
    ] {
        let mut replay = Req::new(method, uri).raw(captured.body.clone());
        for (name, value) in &captured.headers {
            let value = if name == "greenloop-key-id" {
                key_id
            } else {
                value
            };
            replay = replay.header(name, value);
        }
        h.err(replay, 401, "bad_signature").await;
    }
}

/// Pledges.
pub async fn pledges(h: &Harness) {
    let pledge1 = json!({"pledge_id": "pledge-1", "user": "alice", "station": "st-0001", "at": NOW - 50, "boxes": 2});
    let r = h.ok(Req::post("/v1/pledges", &pledge1).signed(), 202).await;
    assert_eq!(
        r,
        json!({"action": "pledge-1", "kind": "pledge", "status": "pending", "replay": false})
    );
    let mut p = pledge1.clone();
    p["boxes"] = json!(3);
    h.err(Req::post("/v1/pledges", &p).signed(), 409, "conflict")
        .await;
    p["pledge_id"] = json!("pledge-x");
    p["boxes"] = json!(0);
    h.err(Req::post("/v1/pledges", &p).signed(), 422, "empty_lot")
        .await;
    h.err(
        Req::new("POST", "/v1/pledges").raw("[1,2]").signed(),
        400,
        "invalid_field",
    )
    .await;
    h.err(
        Req::post("/v1/pledges", &pledge1).header("greenloop-key-id", "qr-1"),
        401,
        "missing_signature",
    )
    .await;
}

/// Pickups: booked, completed, replayed, conflicting.
pub async fn pickups(h: &Harness) {
    let appt =
        json!({"appointment_id": "appt-1", "user": "bob", "station": "st-0002", "at": NOW - 3600});
    let r = h
        .ok(Req::post("/v1/appointments", &appt).signed(), 202)
        .await;
    assert_eq!(
        r,
        json!({"action": "appt-1", "kind": "pickup", "status": "booked", "replay": false})
    );
    assert_eq!(
        h.ok(Req::post("/v1/appointments", &appt).signed(), 202)
            .await["replay"],
        true
    );
    let mut a2 = appt.clone();
    a2["station"] = json!("st-0001");
    h.err(Req::post("/v1/appointments", &a2).signed(), 409, "conflict")
        .await;
    a2["appointment_id"] = json!("appt-2");
    a2["station"] = json!("st-4040");
    h.err(
        Req::post("/v1/appointments", &a2).signed(),
        422,
        "unknown_station",
    )
    .await;
    h.err(
        Req::new("POST", "/v1/appointments")
            .raw("not json")
            .signed(),
        400,
        "malformed_json",
    )
    .await;
    h.err(
        Req::post("/v1/appointments", &appt).bearer(CAMPUS_A_KEY),
        401,
        "missing_key_id",
    )
    .await;

    let done = json!({"clothing_g": 2500, "at": NOW - 30});
    let complete = "/v1/appointments/appt-1/complete";
    let r = h.ok(Req::post(complete, &done).signed(), 202).await;
    assert_eq!(
        r,
        json!({"action": "appt-1", "kind": "pickup", "status": "pending", "replay": false})
    );
    assert_eq!(
        h.ok(Req::post(complete, &done).signed(), 202).await["replay"],
        true
    );
    h.err(
        Req::post(complete, &json!({"clothing_g": 2600, "at": NOW - 30})).signed(),
        409,
        "conflict",
    )
    .await;
    h.err(
        Req::post("/v1/appointments/appt-404/complete", &done).signed(),
        404,
        "not_found",
    )
    .await;
    h.err(
        Req::post("/v1/appointments/scan-1/complete", &done).signed(),
        409,
        "not_a_pickup",
    )
    .await;
    h.err(
        Req::post("/v1/appointments/a%20b/complete", &done).signed(),
        422,
        "invalid_id",
    )
    .await;
    h.err(
        Req::post("/v1/appointments/%FF/complete", &done).signed(),
        400,
        "bad_path",
    )
    .await;
    h.err(
        Req::post(complete, &json!({"clothing_g": 1, "at": NOW, "by": "x"})).signed(),
        400,
        "invalid_field",
    )
    .await;
    h.err(Req::post(complete, &done), 401, "missing_key_id")
        .await;
}

/// Status before crediting.
pub async fn status_before_crediting(h: &Harness) {
    let r = h.ok(Req::get("/v1/actions/scan-1").signed(), 200).await;
    assert_eq!(
        r,
        json!({"action": "scan-1", "kind": "scan", "status": "pending"})
    );
    h.err(Req::get("/v1/actions/nope").signed(), 404, "not_found")
        .await;
    h.err(Req::get("/v1/actions/a%20b").signed(), 422, "invalid_id")
        .await;
    h.err(Req::get("/v1/actions/%FF").signed(), 400, "bad_path")
        .await;
    h.err(Req::get("/v1/actions/scan-1"), 401, "missing_key_id")
        .await;
}
