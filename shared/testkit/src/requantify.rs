//! Requantification: each affected entry corrected exactly once, through throttling and lost
//! answers, and again after a run that gave up half way; every total moves by exactly the sum
//! of the deltas, and the ledger verifies; the table is then in force for crediting.

use crate::faults::{Faults, Faulty, Op};
use crate::{all_entries, books, campus, member, scan, sorted_heads, sorted_totals, verify_store};
use crate::{boxes, WINDOW_START};
use greenloop::catalog::Rules;
use greenloop::credit::credit_pending;
use greenloop::domain::Items;
use greenloop::factors::FactorTable;
use greenloop::ledger::{CorrectionEntry, Leaf};
use greenloop::requantify::requantify;
use greenloop::store::{Consent, Store};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The built-in table with books counting 1,197 g (350 g a book, not 300).
fn revised() -> FactorTable {
    let mut f = FactorTable::default_2026();
    f.version = "factors-suite.2".into();
    f.book_recycled.g_co2e = 1_197;
    f
}

pub async fn requantification_corrects_each_entry_once(store: Arc<dyn Store>) {
    let s = store.as_ref();
    for c in ["rq-a", "rq-b"] {
        s.put_campus(&campus(c)).await.expect("campus");
    }
    for n in 0..6 {
        let c = if n % 2 == 0 { "rq-a" } else { "rq-b" };
        s.affiliate(&member(900 + n), c, Consent::Enrol)
            .await
            .expect("enrol");
    }
    // Scans with books (moved by the new table), boxes only (not moved), both, at 3 stations.
    for i in 0..30u32 {
        let items = match i % 3 {
            0 => books(1 + i % 4),
            1 => boxes(2, Some("brand-01")),
            _ => Items {
                books: 2,
                ..boxes(1, None)
            },
        };
        let station = format!("st-rq-{}", i % 3);
        let a = scan(
            &format!("rq-{i}"),
            900 + i % 6,
            &station,
            WINDOW_START + 3_600 + i64::from(i) * 60,
            items,
        );
        s.record_action(&a).await.expect("record");
    }
    credit_pending(s, &Rules::defaults(), crate::SHARDS)
        .await
        .expect("credit");
    let before_totals = sorted_totals(s).await;
    let members: Vec<_> = (0..6).map(|n| member(900 + n)).collect();
    let before_accounts = s.accounts(&members).await.expect("accounts");

    // What each credit entry's correction must be, derived here from the two tables alone.
    let (old, new) = (FactorTable::default_2026(), revised());
    let mut expected: BTreeMap<String, i64> = BTreeMap::new();
    let mut affected = 0;
    for h in sorted_heads(s).await {
        for bytes in all_entries(s, &h.chain).await {
            let Ok((Leaf::Credit(e), _)) = Leaf::read(&bytes) else {
                continue;
            };
            let d = new.co2e_g(e.kind, &e.items) - old.co2e_g(e.kind, &e.items);
            if d != 0 {
                affected += 1;
                *expected.entry(e.member.as_str().to_owned()).or_default() += d;
            }
        }
    }
    assert!(
        affected >= 20,
        "the books' entries are affected: {affected}"
    );

    // Throttled and losing answers after they were written: runs that give up are run again.
    let faulty = Arc::new(Faulty::new(
        store.clone(),
        Faults {
            transient: 0.15,
            lost: 0.2,
            crash: 0.0,
            ops: vec![Op::Append, Op::Accounts, Op::ChainHead],
        },
        17,
    ));
    let rules = Rules {
        rulebook: Rules::defaults().rulebook,
        factors: new.clone(),
    };
    let mut runs = 0;
    let (done, before) = loop {
        runs += 1;
        assert!(runs < 50, "requantification never finished");
        let before = corrections_on(s).await;
        if let Ok(done) = requantify(faulty.as_ref(), &rules, WINDOW_START + 86_400).await {
            break (done, before);
        }
    };
    assert!(faulty.counts().total() > 0, "faults were injected");

    // Exactly one correction per affected entry, each for the pair of versions.
    let made = corrections_on(s).await;
    let mut per_member: BTreeMap<String, i64> = BTreeMap::new();
    for c in &made {
        let pair = (c.from.as_str(), c.to.as_str());
        assert_eq!(pair, ("factors-2026.1", "factors-suite.2"));
        *per_member.entry(c.member.as_str().to_owned()).or_default() += c.co2e_g;
    }
    assert_eq!(made.len(), affected, "each affected entry corrected once");
    // The run that finished counts as its own every correction it made, lost answers included,
    // and those of the runs that gave up before it as counted under the table already.
    let sum = |cs: &[CorrectionEntry]| cs.iter().map(|c| c.co2e_g).sum::<i64>();
    assert_eq!(
        (done.corrected as usize, done.current as usize, done.delta_g),
        (
            affected - before.len(),
            before.len(),
            sum(&made) - sum(&before)
        )
    );
    assert_eq!(
        per_member, expected,
        "each member's deltas, as the tables give them"
    );
    let report = verify_store(s).await;
    assert!(report.is_ok(), "{report:?}");

    // Accounts and campus totals moved by exactly the deltas; points did not move.
    let after_accounts = s.accounts(&members).await.expect("accounts");
    for (b, a) in before_accounts.iter().zip(&after_accounts) {
        let d = expected.get(b.member.as_str()).copied().unwrap_or(0);
        assert_eq!(a.co2e_g, b.co2e_g + d);
        assert_eq!(a.balance, b.balance, "points are never requantified");
    }
    let after_totals = sorted_totals(s).await;
    let moved: i64 = after_totals.iter().map(|t| t.co2e_g).sum::<i64>()
        - before_totals.iter().map(|t| t.co2e_g).sum::<i64>();
    assert_eq!(moved, expected.values().sum::<i64>());
    for (b, a) in before_totals.iter().zip(&after_totals) {
        assert_eq!((a.bonus, a.entries), (b.bonus, b.entries), "{}", a.campus);
    }

    // Run again: nothing to do.
    let again = requantify(s, &rules, WINDOW_START + 90_000)
        .await
        .expect("again");
    assert_eq!(again.corrected, 0);
    assert_eq!(again.current as usize, affected);

    // The table is in force: crediting with its own built-in table credits under it from now
    // on, so a later run has nothing to correct.
    assert_eq!(
        s.factors_in_force().await.expect("in force"),
        Some(new.clone())
    );
    let later = scan("rq-later", 900, "st-rq-0", WINDOW_START + 7_200, books(3));
    s.record_action(&later).await.expect("record");
    credit_pending(s, &Rules::defaults(), crate::SHARDS)
        .await
        .expect("credit");
    let mut under: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for h in sorted_heads(s).await {
        for bytes in all_entries(s, &h.chain).await {
            if let Ok((Leaf::Credit(e), _)) = Leaf::read(&bytes) {
                under.entry(e.factors).or_default().push(e.co2e_g);
            }
        }
    }
    assert_eq!(
        under["factors-suite.2"],
        [3 * 1_197],
        "the later scan, under the new table"
    );
    assert_eq!(under["factors-2026.1"].len(), 30);
    let third = requantify(s, &rules, WINDOW_START + 95_000)
        .await
        .expect("third");
    assert_eq!(third.corrected, 0);
    assert!(verify_store(s).await.is_ok());
}

/// Every correction entry in the store, in (chain, seq) order.
async fn corrections_on(s: &dyn Store) -> Vec<CorrectionEntry> {
    let mut out = Vec::new();
    for h in sorted_heads(s).await {
        for bytes in all_entries(s, &h.chain).await {
            if let Ok((Leaf::Correction(c), _)) = Leaf::read(&bytes) {
                out.push(*c);
            }
        }
    }
    out
}
