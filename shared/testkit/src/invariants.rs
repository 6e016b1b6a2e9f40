//! The invariants case: many writers recording and crediting at once (as stream batches, and
//! sweeping), with duplicate deliveries (some to two writers at the same moment), still leave
//! a ledger where every chain verifies, every action is credited exactly once, every balance
//! and campus total is the sum of its entries, and no member passes the daily cap.

use crate::outcome::tally;
use crate::{boxes, campus, member, scan, WINDOW_START};
use greenloop::catalog::Rules;
use greenloop::credit::{credit_actions, credit_pending, Budget};
use greenloop::domain::Action;
use greenloop::ledger::chain_for_station;
use greenloop::store::Consent;
use greenloop::store::Store;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Writers running at once, each recording its share and crediting every few deliveries.
const WRITERS: usize = 6;
const MEMBERS: u32 = 40;

/// Records `actions` distinct actions through [`WRITERS`] concurrent writers, every tenth one
/// delivered to two writers, crediting over `shards` chains as they go; then checks every
/// invariant against the stored ledger.
pub async fn invariants_hold_under_concurrent_duplicated_delivery(
    store: Arc<dyn Store>,
    actions: usize,
    shards: u32,
) {
    for c in ["campus-i", "campus-j"] {
        store.put_campus(&campus(c)).await.expect("put_campus");
    }
    for who in 0..MEMBERS {
        let c = if who % 3 == 0 { "campus-j" } else { "campus-i" };
        store
            .affiliate(&member(who), c, Consent::Enrol)
            .await
            .expect("affiliate");
    }
    // Partner boxes earn 20 points each, so a member's busy day reaches the 200-point cap.
    let all: Vec<Action> = (0..actions)
        .map(|i| {
            let at = WINDOW_START + ((i * 7_919) % (20 * 86_400)) as i64 / 8;
            let station = format!("st-inv-{}", i % 23);
            let items = boxes(1 + (i % 6) as u32, Some("brand-02"));
            scan(
                &format!("inv-{i:05}"),
                (i as u32 * 7) % MEMBERS,
                &station,
                at,
                items,
            )
        })
        .collect();
    let mut lanes: Vec<Vec<Action>> = vec![Vec::new(); WRITERS];
    for (i, a) in all.iter().enumerate() {
        lanes[i % WRITERS].push(a.clone());
        if i % 10 == 0 {
            // The same delivery to another writer, at the same point in its stream.
            lanes[(i + 1) % WRITERS].push(a.clone());
        }
    }
    let rules = Rules::defaults();
    let mut tasks = Vec::new();
    for lane in lanes {
        let (store, rules) = (Arc::clone(&store), rules.clone());
        tasks.push(tokio::spawn(async move {
            // Every 40 deliveries, the writer credits what it recorded, as the stream would
            // announce it to one invocation: grouped by chain, duplicates and all.
            let mut announced: BTreeMap<String, Vec<Action>> = BTreeMap::new();
            for (k, a) in lane.iter().enumerate() {
                let r = store.record_action(a).await.expect("record_action");
                assert_eq!(r.record.action, *a, "a replay answers the recorded action");
                let chain = chain_for_station(&a.station, shards);
                announced.entry(chain).or_default().push(a.clone());
                if k % 40 == 39 {
                    let batch = std::mem::take(&mut announced);
                    credit_actions(store.as_ref(), &rules, batch, &Budget::default())
                        .await
                        .expect("credit_actions");
                }
            }
            credit_pending(store.as_ref(), &rules, shards)
                .await
                .expect("credit_pending")
        }));
    }
    for t in tasks {
        t.await.expect("a writer panicked");
    }
    credit_pending(store.as_ref(), &rules, shards)
        .await
        .expect("credit_pending");

    // Every chain verifies; accounts, member chains, daily counters and campus totals agree;
    // every action is credited exactly once, at the place holding its entry, none left pending.
    let ids: Vec<String> = all.iter().map(|a| a.key()).collect();
    let t = tally(store.as_ref(), &ids).await;
    assert_eq!(t.entries.len(), actions, "one entry per distinct action");
    assert_eq!(t.credited, actions, "every action credited");
    assert!(
        t.credited_twice.is_empty(),
        "credited twice: {:?}",
        t.credited_twice
    );
    assert!(t.lost.is_empty(), "lost: {:?}", t.lost);
    let entries = t.entries;

    // The cap: never passed, and actually reached, so the check means something.
    let cap = i64::from(rules.rulebook.daily_cap);
    let mut per_day: BTreeMap<(&str, &str), i64> = BTreeMap::new();
    for e in &entries {
        *per_day
            .entry((e.member.as_str(), e.day.as_str()))
            .or_default() += e.bonus;
    }
    assert!(
        per_day.values().all(|&p| p <= cap),
        "a member passed the cap"
    );
    assert!(
        per_day.values().any(|&p| p == cap),
        "the fixture never reaches the cap"
    );
    assert!(
        entries.iter().any(|e| e.bonus < e.points),
        "no entry was clipped by the cap"
    );
}
