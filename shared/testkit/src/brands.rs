//! The brand figures case: the checkpoint job folds checkpointed entries into each partner
//! brand's figures, rows, members and entry index exactly once; the statement read from them
//! is the one the ledger itself gives, and it verifies offline; a requantification's
//! corrections move them by the brands' share of each delta.

use crate::{scan, SHARDS, TEST_LOG_KEY, WINDOW_START};
use greenloop::brand::fold::{plan, BrandStanding, Cursor};
use greenloop::brand::{verify_statement, Figures};
use greenloop::catalog::Rules;
use greenloop::checkpoint::brand::{brand_statement, fold_all, statement, statement_page};
use greenloop::checkpoint::{tree, LogKey};
use greenloop::credit::credit_pending;
use greenloop::domain::{BoxLot, Items};
use greenloop::ledger::chain_for_station;
use greenloop::store::{Store, StoreError};

fn lots(lots: &[(Option<&str>, u32)]) -> Items {
    Items {
        boxes: lots
            .iter()
            .map(|&(brand, count)| BoxLot {
                brand: brand.map(str::to_owned),
                count,
            })
            .collect(),
        ..Items::default()
    }
}

async fn credit(store: &dyn Store, actions: &[(&str, u32, &str, Items)]) {
    for (i, (id, who, station, items)) in actions.iter().enumerate() {
        let a = scan(
            id,
            *who,
            station,
            WINDOW_START + 3_600 + i as i64,
            items.clone(),
        );
        store.record_action(&a).await.expect("record_action");
    }
    credit_pending(store, &Rules::defaults(), SHARDS)
        .await
        .expect("credit_pending");
}

async fn checkpoint(store: &dyn Store, time: i64) {
    let key = LogKey::from_hex(TEST_LOG_KEY).expect("key");
    tree::publish_all(store, &key, time).await.expect("publish");
}

/// Folds every chain; the shares folded in. No chain may stop short.
async fn fold(store: &dyn Store) -> usize {
    let folded = fold_all(store).await.expect("fold_all");
    for f in &folded {
        assert_eq!(f.stopped, None, "chain {} stopped short", f.chain);
    }
    folded.iter().map(|f| f.shares).sum()
}

/// The brand's statement from the stored figures is the ledger's own, and verifies.
async fn same_as_the_ledger(store: &dyn Store, brand: &str) -> Figures {
    let key = LogKey::from_hex(TEST_LOG_KEY).expect("key");
    let stored = statement(store, brand).await.expect("stored statement");
    let ledger = brand_statement(store, brand)
        .await
        .expect("ledger statement");
    assert_eq!(
        (stored.totals, stored.members, &stored.rows),
        (ledger.totals, ledger.members, &ledger.rows),
        "brand {brand}: the stored figures are not the ledger's"
    );
    let place = |s: &greenloop::brand::Statement| {
        let mut p: Vec<(String, u64)> = s.proofs.iter().map(|p| (p.chain.clone(), p.seq)).collect();
        p.sort();
        p
    };
    assert_eq!(
        place(&stored),
        place(&ledger),
        "brand {brand}: other entries"
    );
    let catalog = store.catalog().await.expect("catalog");
    let verified = verify_statement(&key.public(), &stored, &catalog)
        .unwrap_or_else(|e| panic!("brand {brand}'s stored statement does not verify: {e}"));
    assert_eq!(verified.totals, stored.totals);
    stored.totals
}

async fn standing(store: &dyn Store, brand: &str) -> BrandStanding {
    store
        .brand_standing(brand)
        .await
        .expect("brand_standing")
        .unwrap_or_else(|| panic!("no standing for {brand}"))
}

pub async fn brand_figures_fold_each_share_once(store: &dyn Store) {
    let many: Vec<String> = (1..=32).map(|b| format!("brand-{b:02}")).collect();
    let many: Vec<(Option<&str>, u32)> = many.iter().map(|b| (Some(b.as_str()), 1)).collect();
    credit(
        store,
        &[
            // Partner lots, a brand that is not a partner's, and a lot of no brand.
            (
                "b-1",
                1,
                "st-a",
                lots(&[
                    (Some("brand-01"), 3),
                    (Some("brand-02"), 2),
                    (Some("not-a-partner"), 4),
                    (None, 1),
                ]),
            ),
            ("b-2", 2, "st-a", lots(&[(Some("brand-01"), 1)])),
            ("b-3", 1, "st-b", lots(&[(Some("brand-01"), 2)])),
            // 32 brands on one entry: more than one transaction's worth of items.
            ("b-4", 3, "st-a", lots(&many)),
        ],
    )
    .await;
    // Nothing is folded before it is checkpointed.
    assert_eq!(fold(store).await, 0);
    assert!(store.brand_standings().await.expect("standings").is_empty());
    checkpoint(store, 1_000).await;
    assert_eq!(
        fold(store).await,
        2 + 1 + 1 + 32,
        "one share per partner lot"
    );

    let one = standing(store, "brand-01").await;
    assert_eq!(
        (one.totals.entries, one.totals.boxes, one.members),
        (4, 7, 3)
    );
    assert_eq!(standing(store, "brand-02").await.members, 2);
    assert_eq!(
        store.brand_standing("not-a-partner").await.expect("read"),
        None
    );
    assert_eq!(store.brand_standings().await.expect("standings").len(), 32);
    for b in ["brand-01", "brand-02", "brand-32"] {
        same_as_the_ledger(store, b).await;
    }

    // Run again: nothing new, nothing counted twice.
    assert_eq!(fold(store).await, 0);
    assert_eq!(standing(store, "brand-01").await, one);
    // A fold replayed from an old cursor is refused whole.
    let chain = chain_for_station("st-a", SHARDS);
    let stale = plan(&chain, Cursor::default(), Cursor::end(1), Vec::new(), 100);
    match store.fold_brands(&stale[0]).await {
        Err(StoreError::Conflict(_)) => {}
        other => panic!("a fold from a moved cursor must conflict, got {other:?}"),
    }
    assert_eq!(standing(store, "brand-01").await, one);

    // The index pages back by the brand's own numbers.
    let newest = store
        .brand_entries("brand-01", None, 3)
        .await
        .expect("brand_entries");
    let numbers: Vec<u64> = newest.iter().map(|e| e.n).collect();
    assert_eq!(numbers, [3, 2, 1]);
    let rest = store
        .brand_entries("brand-01", Some(1), 10)
        .await
        .expect("brand_entries");
    assert_eq!(rest.iter().map(|e| e.n).collect::<Vec<_>>(), [0]);
    let page = statement_page(store, "brand-01", None, 3)
        .await
        .expect("page");
    assert!(page.rows.is_some() && page.proofs.len() == 3 && page.next == Some(1));
    let later = statement_page(store, "brand-01", Some(1), 3)
        .await
        .expect("page");
    assert!(later.rows.is_none() && later.proofs.len() == 1 && later.next.is_none());

    // New entries are folded once they are checkpointed, and only then.
    credit(store, &[("b-5", 4, "st-b", lots(&[(Some("brand-01"), 5)]))]).await;
    assert_eq!(fold(store).await, 0);
    checkpoint(store, 2_000).await;
    assert_eq!(fold(store).await, 1);
    let now = same_as_the_ledger(store, "brand-01").await;
    assert_eq!((now.entries, now.boxes), (5, 12));
    assert_eq!(standing(store, "brand-01").await.members, 4);

    // A requantification that moves the box factor moves the brands' grams by their boxes'
    // share, once its corrections are checkpointed; boxes, points and members stay.
    let two = standing(store, "brand-02").await.totals;
    let mut factors = greenloop::factors::FactorTable::default_2026();
    factors.version = "factors-brands.2".into();
    factors.box_reused.g_co2e += 8;
    let rules = Rules {
        factors,
        ..Rules::defaults()
    };
    let done = greenloop::requantify::requantify(store, &rules, WINDOW_START + 86_400)
        .await
        .expect("requantify");
    assert_eq!(done.corrected, 5, "every entry has boxes");
    assert_eq!(
        fold(store).await,
        0,
        "corrections wait for their checkpoint"
    );
    checkpoint(store, 3_000).await;
    assert_eq!(
        fold(store).await,
        2 + 1 + 1 + 32 + 1,
        "one share per partner lot again"
    );
    let moved = same_as_the_ledger(store, "brand-01").await;
    let want = Figures {
        co2e_g: now.co2e_g + 12 * 8,
        entries: now.entries + 5,
        ..now
    };
    assert_eq!(moved, want);
    assert_eq!(standing(store, "brand-01").await.members, 4);
    let two_moved = same_as_the_ledger(store, "brand-02").await;
    assert_eq!(
        (
            two_moved.co2e_g,
            two_moved.entries,
            two_moved.boxes,
            two_moved.points
        ),
        (two.co2e_g + 3 * 8, two.entries + 2, two.boxes, two.points)
    );
    // The whole log's check sums the corrections' shares too.
    let report = greenloop::verify::verify_store(store, |_| ())
        .await
        .expect("verify");
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(fold(store).await, 0);
}
