//! The disposition case: a station's reports entered on its chain with the mass balance, each
//! refusal writing nothing, replays answered with the first entry, the figures read back exact,
//! and crediting going on over a chain that reports moved.

use crate::{boxes, scan, verify_store, SHARDS, WINDOW_START};
use greenloop::catalog::Rules;
use greenloop::credit::credit_pending;
use greenloop::disposition::{Disposal, Draw, Params, Report, StationStock, Totals};
use greenloop::ledger::chain_for_station;
use greenloop::store::{ChainHead, Disposed, Store, StoreError};

const STATION: &str = "st-dispose";
const OTHER: &str = "st-other";

fn report(id: &str, station: &str, report: Report) -> Disposal {
    Disposal {
        id: id.into(),
        integration: "qr-1".into(),
        station: station.into(),
        at: WINDOW_START + 86_400,
        report,
    }
}

fn outgoing(parcels: u64, reused_boxes: u64) -> Report {
    Report::Outgoing {
        parcels,
        reused_boxes,
    }
}

fn bale(ticket: &str, baled_g: u64) -> Report {
    Report::Baled {
        baled_g,
        mill: "mill-1".into(),
        ticket: ticket.into(),
    }
}

fn batch(id: &str, draws: &[(&str, u64)], workbooks: u64) -> Report {
    Report::Workbooks {
        batch: id.into(),
        draws: draws
            .iter()
            .map(|&(t, g)| Draw {
                ticket: t.into(),
                pulp_g: g,
            })
            .collect(),
        mill: "mill-1".into(),
        workbooks,
    }
}

fn donation(batch: &str, school: &str, workbooks: u64) -> Report {
    Report::Donation {
        batch: batch.into(),
        mill: "mill-1".into(),
        organisation: "cfpa".into(),
        receipt: format!("r-{batch}-{school}-{workbooks}"),
        school: school.into(),
        workbooks,
    }
}

/// What a refused report must leave as it was.
#[derive(Debug, PartialEq)]
struct Seen {
    heads: Vec<ChainHead>,
    stock: Vec<StationStock>,
    other: Vec<StationStock>,
    totals: Vec<(String, Totals)>,
}

async fn seen(store: &dyn Store) -> Seen {
    let mut heads = store.chain_heads().await.expect("chain_heads");
    heads.sort_by(|a, b| a.chain.cmp(&b.chain));
    Seen {
        heads,
        stock: store.station_stock(STATION).await.expect("station_stock"),
        other: store.station_stock(OTHER).await.expect("station_stock"),
        totals: store.disposition_totals().await.expect("totals"),
    }
}

async fn enter(store: &dyn Store, d: &Disposal) -> Disposed {
    store
        .dispose(d, Params::builtin())
        .await
        .unwrap_or_else(|e| panic!("report {} refused: {e}", d.id))
}

/// Refused with `code`, and nothing written.
async fn refused(store: &dyn Store, d: &Disposal, code: &str) {
    let before = seen(store).await;
    match store.dispose(d, Params::builtin()).await {
        Err(StoreError::Invalid(i)) => assert_eq!(i.code, code, "report {}: {}", d.id, i.message),
        other => panic!(
            "report {} should be refused with {code}, got {other:?}",
            d.id
        ),
    }
    assert_eq!(
        seen(store).await,
        before,
        "refused report {} wrote something",
        d.id
    );
}

async fn credit(store: &dyn Store) {
    credit_pending(store, &Rules::defaults(), SHARDS)
        .await
        .expect("credit_pending");
}

/// Every rule of the mass balance, at intake, on the store's own state.
pub async fn disposition_keeps_the_mass_balance(store: &dyn Store) {
    // 12 + 8 boxes dropped at the station, 10 at another; a pledge brings none yet.
    for (id, who, station, n) in [
        ("d-1", 1, STATION, 12),
        ("d-2", 2, STATION, 8),
        ("d-3", 3, OTHER, 10),
    ] {
        let a = scan(
            id,
            who,
            station,
            WINDOW_START + 600,
            boxes(n, Some("brand-01")),
        );
        store.record_action(&a).await.expect("record_action");
    }
    credit(store).await;
    let chain = chain_for_station(STATION, SHARDS);
    let stock = store.station_stock(STATION).await.expect("station_stock");
    assert_eq!(stock.len(), 1, "one stock row: the station's chain");
    assert_eq!(
        (stock[0].chain.as_str(), stock[0].collected),
        (chain.as_str(), 20)
    );

    // Reusing more than was collected.
    refused(
        store,
        &report("o-1", STATION, outgoing(50, 21)),
        "over_stock",
    )
    .await;
    let first = enter(store, &report("o-1", STATION, outgoing(30, 15))).await;
    assert!(!first.replay);
    assert_eq!((first.entry.boxes, first.entry.stock_before), (15, 20));
    assert_eq!(first.entry.chain, chain);
    let head = store.chain_head(&chain).await.expect("head");
    assert_eq!(
        (head.size, head.hash),
        (first.entry.seq + 1, first.entry.hash)
    );
    // The same report again is a replay; the same id with another body is a conflict.
    let again = enter(store, &report("o-1", STATION, outgoing(30, 15))).await;
    assert!(
        again.replay && again.entry == first.entry,
        "a replay answers the first entry"
    );
    assert!(matches!(
        store
            .dispose(&report("o-1", STATION, outgoing(30, 14)), Params::builtin())
            .await,
        Err(StoreError::Conflict(_))
    ));

    // 5 left: a bale of 1,500 g is 5 boxes; 1,501 g would be 6.
    refused(
        store,
        &report("b-1", STATION, bale("T-1", 1_501)),
        "over_stock",
    )
    .await;
    enter(store, &report("b-1", STATION, bale("T-1", 1_500))).await;
    // The other station bales too; a ticket id is used once per mill.
    refused(
        store,
        &report("b-2", OTHER, bale("T-1", 300)),
        "ticket_used",
    )
    .await;
    enter(store, &report("b-2", OTHER, bale("T-2", 3_000))).await;

    // A batch draws at most what its tickets hold, from tickets that exist.
    refused(
        store,
        &report("w-1", STATION, batch("B-1", &[("T-1", 1_501)], 10)),
        "over_ticket",
    )
    .await;
    refused(
        store,
        &report("w-1", STATION, batch("B-1", &[("T-9", 100)], 1)),
        "unknown_ticket",
    )
    .await;
    // 1,000 + 3,000 g keep at most 3,600 g: 72 workbooks of 50 g.
    let b = report(
        "w-1",
        STATION,
        batch("B-1", &[("T-1", 1_000), ("T-2", 3_000)], 72),
    );
    enter(store, &b).await;
    refused(
        store,
        &report("w-2", OTHER, batch("B-1", &[("T-1", 500)], 1)),
        "batch_used",
    )
    .await;
    refused(
        store,
        &report("w-3", OTHER, batch("B-2", &[("T-1", 501)], 1)),
        "over_ticket",
    )
    .await;
    enter(
        store,
        &report("w-3", OTHER, batch("B-2", &[("T-1", 500)], 9)),
    )
    .await;

    // Donations give at most what the batch made.
    enter(
        store,
        &report("g-1", STATION, donation("B-1", "school-a", 50)),
    )
    .await;
    refused(
        store,
        &report("g-2", OTHER, donation("B-1", "school-b", 23)),
        "over_batch",
    )
    .await;
    refused(
        store,
        &report("g-2", OTHER, donation("B-7", "school-b", 1)),
        "unknown_batch",
    )
    .await;
    enter(
        store,
        &report("g-2", OTHER, donation("B-1", "school-b", 22)),
    )
    .await;
    enter(store, &report("g-3", OTHER, donation("B-2", "school-a", 9))).await;

    // The figures, read: nothing summed over entries.
    let mut t = Totals::default();
    store
        .disposition_totals()
        .await
        .expect("totals")
        .iter()
        .for_each(|(_, c)| t.add(c));
    let expected = Totals {
        collected: 30,
        reused: 15,
        baled_boxes: 5 + 10,
        baled_g: 4_500,
        parcels: 30,
        pulp_g: 4_500,
        workbooks: 81,
        donated: 81,
        donations: 3,
        schools: 2,
    };
    assert_eq!(t, expected);
    assert_eq!((t.stock(), t.reuse_rate_bp()), (0, Some(5_000)));
    let s = &store.station_stock(STATION).await.expect("stock")[0];
    assert_eq!(
        (s.collected, s.reused, s.baled_boxes, s.stock()),
        (20, 15, 5, 0)
    );

    // Crediting goes on over a chain that reports moved, and the ledger verifies, balance too.
    let a = scan("d-4", 1, STATION, WINDOW_START + 7_200, boxes(4, None));
    store.record_action(&a).await.expect("record_action");
    credit(store).await;
    let s = &store.station_stock(STATION).await.expect("stock")[0];
    assert_eq!((s.collected, s.stock()), (24, 4));
    enter(store, &report("o-2", STATION, outgoing(8, 4))).await;
    let verdict = verify_store(store).await;
    assert!(verdict.is_ok(), "{:?}", verdict.problems);
}
