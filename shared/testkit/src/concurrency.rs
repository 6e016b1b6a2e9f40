//! The concurrency case: several crediting runs at once credit every action exactly once.

use crate::{
    booking, books, boxes, campus, member, parsed_entries, pending_ids, scan, sorted_heads,
    verify_store, SHARDS, WINDOW_END, WINDOW_START,
};
use greenloop::catalog::Rules;
use greenloop::credit::credit_pending;
use greenloop::domain::{Action, ActionKind, Items};
use greenloop::ledger::chain_for_station;
use greenloop::store::Consent;
use greenloop::store::{ActionStatus, Store};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

/// Actions recorded before crediting.
const ACTIONS: usize = 300;
/// Crediting runs started at once.
const WORKERS: usize = 4;
const MEMBERS: u32 = 8;
const STATIONS: usize = 6;
/// Longer than crediting takes on any working store.
const CREDIT_TIMEOUT: Duration = Duration::from_secs(180);

/// The `i`th action of the fixture: mostly scans, some pledges, some pickups (booked here,
/// completed by the caller), a few outside the window; members and stations interleaved.
fn nth(i: usize, stations: &[String]) -> Action {
    let who = (i % MEMBERS as usize) as u32;
    let station = &stations[(i / 3) % stations.len()];
    let at = match i % 41 {
        0 => WINDOW_END + 60, // outside: credited with 0 points
        _ => WINDOW_START + (i as i64 * 7_919) % (20 * 86_400),
    };
    let id = format!("conc-{i:04}");
    match i % 10 {
        0 => {
            let mut a = scan(&id, who, station, at, boxes(1 + (i % 5) as u32, None));
            a.kind = ActionKind::Pledge;
            a
        }
        1 => booking(&id, who, station, at),
        2 | 5 => scan(&id, who, station, at, books(1 + (i % 7) as u32)),
        3 => {
            let items = Items {
                clothing_g: 500 + 37 * i as u64,
                shoes: (i % 3) as u32,
                ..Items::default()
            };
            scan(&id, who, station, at, items)
        }
        _ => scan(
            &id,
            who,
            station,
            at,
            boxes(1 + (i % 9) as u32, Some("brand-03")),
        ),
    }
}

/// Several `credit_pending` runs at once over a few hundred actions on several chains: every
/// action is credited exactly once and the whole ledger verifies. Needs a multi-threaded
/// runtime to be truly concurrent.
pub async fn concurrent_crediting_credits_each_action_once(store: Arc<dyn Store>) {
    let s: &dyn Store = &*store;
    for c in ["campus-x", "campus-y"] {
        s.put_campus(&campus(c)).await.expect("put_campus");
    }
    for n in 0..MEMBERS {
        let c = match n % 3 {
            0 => "campus-x",
            1 => "campus-y",
            _ => continue,
        };
        s.affiliate(&member(n), c, Consent::Enrol)
            .await
            .expect("affiliate");
    }
    let stations: Vec<String> = (1..=STATIONS).map(|i| format!("st-{i:04}")).collect();
    let chains: BTreeSet<String> = stations
        .iter()
        .map(|st| chain_for_station(st, SHARDS))
        .collect();
    assert!(
        chains.len() >= 2,
        "the fixture should spread over several chains"
    );

    let mut recorded = BTreeMap::new();
    for i in 0..ACTIONS {
        let a = nth(i, &stations);
        let mut r = s.record_action(&a).await.expect("record");
        if a.kind == ActionKind::Pickup {
            let grams = 1_000 + 13 * i as u64;
            r = s
                .complete_pickup(&a.key(), grams, a.at + 600)
                .await
                .expect("complete pickup");
        }
        recorded.insert(a.id.clone(), r.record.action);
    }
    assert_eq!(
        pending_ids(s).await.len(),
        ACTIONS,
        "every action is pending before crediting"
    );

    let workers: Vec<_> = (0..WORKERS)
        .map(|_| {
            let store = Arc::clone(&store);
            tokio::spawn(async move { credit_pending(&*store, &Rules::defaults(), SHARDS).await })
        })
        .collect();
    let aborts: Vec<_> = workers.iter().map(|w| w.abort_handle()).collect();
    let joined = tokio::time::timeout(CREDIT_TIMEOUT, async {
        let mut runs = Vec::new();
        for w in workers {
            runs.push(w.await);
        }
        runs
    })
    .await;
    let Ok(runs) = joined else {
        aborts.iter().for_each(|a| a.abort());
        panic!(
            "crediting did not finish in {CREDIT_TIMEOUT:?}: does the store take credited \
             actions off the pending queue?"
        );
    };
    let mut credited = 0;
    for run in runs {
        let run = run
            .expect("a crediting task panicked")
            .expect("credit_pending failed");
        credited += run.credited;
    }
    assert_eq!(
        credited, ACTIONS as u64,
        "the runs together credited each action once"
    );
    assert!(pending_ids(s).await.is_empty(), "nothing is left pending");

    let mut seen: BTreeMap<String, (String, u64)> = BTreeMap::new();
    let mut total = 0;
    for head in sorted_heads(s).await {
        assert!(
            chains.contains(&head.chain),
            "unexpected chain {}",
            head.chain
        );
        let entries = parsed_entries(s, &head.chain).await;
        assert_eq!(
            entries.len() as u64,
            head.size,
            "head size of {}",
            head.chain
        );
        total += entries.len();
        for e in entries {
            let a = recorded
                .get(&e.action)
                .unwrap_or_else(|| panic!("entry for unknown action {}", e.action));
            assert_eq!(
                e.chain,
                chain_for_station(&a.station, SHARDS),
                "{} is on its station's chain",
                e.action
            );
            assert_eq!(
                (&e.member, &e.items, e.at),
                (&a.member, &a.items, a.at),
                "{} entry carries the action",
                e.action
            );
            let status = s
                .action(&e.action_key())
                .await
                .expect("action")
                .map(|r| r.status);
            let want = ActionStatus::Credited {
                chain: e.chain.clone(),
                seq: e.seq,
                bonus: e.bonus,
            };
            assert_eq!(status, Some(want), "status of {}", e.action);
            if let Some(first) = seen.insert(e.action.clone(), (e.chain, e.seq)) {
                panic!("{} credited twice (first at {first:?})", e.action);
            }
        }
    }
    assert_eq!(total, ACTIONS, "one entry per action across all chains");
    assert_eq!(
        seen.keys().collect::<Vec<_>>(),
        recorded.keys().collect::<Vec<_>>(),
        "every recorded action has an entry"
    );

    let report = verify_store(s).await;
    assert!(
        report.is_ok(),
        "the ledger written concurrently verifies: {:?}",
        report.problems
    );
    assert_eq!(report.entries, ACTIONS as u64, "verified entries");
    assert_eq!(report.members, u64::from(MEMBERS), "verified members");
    assert!(report.totals_checked, "totals were compared");
}
