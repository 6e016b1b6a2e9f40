//! The scenario's disposition routes: a station's report (entered, replayed, conflicting,
//! refused by the balance, by ownership, by its body) and the audit figures.

use crate::harness::{Harness, Req, AUDITOR_KEY, CAMPUS_A_KEY, NOW};
use serde_json::{json, Value};

fn report(id: &str, station: &str, report: Value) -> Value {
    json!({"report_id": id, "station": station, "at": NOW - 5, "report": report})
}

fn outgoing(parcels: u64, reused_boxes: u64) -> Value {
    json!({"kind": "outgoing", "parcels": parcels, "reused_boxes": reused_boxes})
}

pub async fn disposition_routes(h: &Harness) {
    let first = report("out-1", "st-0001", outgoing(4, 2));
    let r = h
        .ok(Req::post("/v1/disposition", &first).signed(), 201)
        .await;
    assert_eq!(
        (&r["kind"], &r["boxes"], &r["replay"]),
        (&json!("outgoing"), &json!(2), &json!(false))
    );
    let stock = r["stock_before"].as_u64().expect("stock_before") - 2;
    let again = h
        .ok(Req::post("/v1/disposition", &first).signed(), 200)
        .await;
    assert_eq!((&again["seq"], &again["replay"]), (&r["seq"], &json!(true)));
    let changed = report("out-1", "st-0001", outgoing(4, 1));
    h.err(
        Req::post("/v1/disposition", &changed).signed(),
        409,
        "conflict",
    )
    .await;
    let over = report("out-2", "st-0001", outgoing(stock + 1, stock + 1));
    h.err(
        Req::post("/v1/disposition", &over).signed(),
        422,
        "over_stock",
    )
    .await;
    let theirs = report("out-2", "st-0003", outgoing(1, 0));
    h.err(
        Req::post("/v1/disposition", &theirs).signed(),
        403,
        "station_not_yours",
    )
    .await;
    let odd = report("out-2", "st-0001", json!({"kind": "landfill"}));
    h.err(
        Req::post("/v1/disposition", &odd).signed(),
        400,
        "invalid_field",
    )
    .await;
    h.err(
        Req::post("/v1/disposition", &first).header("greenloop-key-id", "qr-1"),
        401,
        "missing_signature",
    )
    .await;
    h.err(
        Req::new("POST", "/v1/disposition")
            .raw(vec![b' '; 17 * 1024])
            .signed(),
        413,
        "too_large",
    )
    .await;
    let bale = report(
        "bale-1",
        "st-0001",
        json!({"kind": "baled", "baled_g": 300, "mill": "mill-1", "ticket": "T-1"}),
    );
    h.ok(Req::post("/v1/disposition", &bale).signed(), 201)
        .await;

    let national = h
        .ok(Req::get("/v1/audit/disposition").bearer(AUDITOR_KEY), 200)
        .await;
    assert_eq!(
        (
            &national["totals"]["reused"],
            &national["totals"]["baled_boxes"]
        ),
        (&json!(2), &json!(1))
    );
    assert_eq!(national["reuse_rate_bp"], json!(5_000));
    h.err(Req::get("/v1/audit/disposition"), 401, "unauthorized")
        .await;
    h.err(
        Req::get("/v1/audit/disposition").bearer(CAMPUS_A_KEY),
        403,
        "forbidden",
    )
    .await;
    let station = h
        .ok(
            Req::get("/v1/audit/disposition/stations/st-0001").bearer(AUDITOR_KEY),
            200,
        )
        .await;
    assert_eq!(
        (&station["reused"], &station["stock"]),
        (&json!(2), &json!(stock - 1))
    );
    h.err(
        Req::get("/v1/audit/disposition/stations/st-none").bearer(AUDITOR_KEY),
        404,
        "not_found",
    )
    .await;
    h.err(
        Req::get("/v1/audit/disposition/stations/a%20b").bearer(AUDITOR_KEY),
        422,
        "invalid_id",
    )
    .await;
    h.err(
        Req::get("/v1/audit/disposition/stations/%FF").bearer(AUDITOR_KEY),
        400,
        "bad_path",
    )
    .await;
    h.err(
        Req::get("/v1/audit/disposition/stations/st-0001"),
        401,
        "unauthorized",
    )
    .await;
    h.err(
        Req::get("/v1/audit/disposition/stations/st-0001").bearer(CAMPUS_A_KEY),
        403,
        "forbidden",
    )
    .await;
}
