//! Cases for appending credit batches: what an append writes, and when it must write nothing.

use crate::{
    all_accounts, all_entries, booking, books, boxes, campus, member, parsed_entries, pending_ids,
    scan, snapshot, sorted_totals, verify_store, WINDOW_START,
};
use greenloop::catalog::Rules;
use greenloop::credit::plan;
use greenloop::domain::{Action, ActionKind, DayItems, Items, MemberId};
use greenloop::ledger::{chain_for_station, Entry, ZERO};
use greenloop::store::Consent;
use greenloop::store::{Account, ActionStatus, AppendError, ChainHead, CreditBatch, Store};
use std::collections::BTreeMap;

/// Plans `actions` onto the current head of `chain` from the members' current accounts.
async fn plan_now(store: &dyn Store, chain: &str, actions: &[Action]) -> CreditBatch {
    let head = store.chain_head(chain).await.expect("chain_head");
    let mut members: Vec<MemberId> = actions.iter().map(|a| a.member.clone()).collect();
    members.sort();
    members.dedup();
    let accounts = store.accounts(&members).await.expect("accounts");
    plan(&head, &accounts, actions, &Rules::defaults())
}

async fn record_all(store: &dyn Store, actions: &[Action]) {
    for a in actions {
        store.record_action(a).await.expect("record");
    }
}

/// An append writes the entries, the head, the accounts, the campus totals and the actions'
/// status, and takes the actions off the queue.
pub async fn append_writes_everything_it_carries(store: &dyn Store) {
    let (a, b) = (member(1), member(2));
    store
        .put_campus(&campus("campus-a"))
        .await
        .expect("put_campus");
    store
        .affiliate(&a, "campus-a", Consent::Enrol)
        .await
        .expect("affiliate");
    let station = "st-append";
    let chain = chain_for_station(station, super::SHARDS);
    let t = WINDOW_START + 3_600;
    let clothes = Items {
        clothing_g: 1_800,
        ..Items::default()
    };
    let mut pledge = scan("append-a2", 1, station, t + 86_400, boxes(4, None));
    pledge.kind = ActionKind::Pledge;
    let first = vec![
        scan("append-a1", 1, station, t, boxes(3, None)),
        scan("append-b1", 2, station, t + 60, boxes(2, Some("brand-01"))),
        pledge,
    ];
    let second = vec![
        scan("append-a3", 1, station, t + 120, books(5)),
        scan("append-b2", 2, station, t + 86_400 + 60, clothes),
    ];
    let elsewhere = scan("append-c1", 3, "st-other", t, books(1));
    record_all(store, &first).await;
    record_all(store, &second).await;
    store.record_action(&elsewhere).await.expect("record");
    store
        .record_action(&booking("append-p1", 1, station, t))
        .await
        .expect("book");

    let empty = store.chain_head(&chain).await.expect("chain_head");
    assert_eq!(
        empty,
        ChainHead::empty(&chain),
        "a chain never appended to is empty"
    );
    let accounts = store
        .accounts(&[a.clone(), b.clone()])
        .await
        .expect("accounts");
    assert_eq!(accounts[0].member, a, "accounts answer in the order asked");
    assert_eq!(
        accounts[0].campus.as_deref(),
        Some("campus-a"),
        "affiliation is kept"
    );
    assert_eq!(
        accounts[1],
        Account::new(b.clone()),
        "an unseen member has a fresh account"
    );

    let batch1 = plan_now(store, &chain, &first).await;
    store.append(&batch1).await.expect("append the first batch");
    let mid = store.chain_head(&chain).await.expect("chain_head");
    assert_eq!(mid.size, 3, "head size after the first batch");
    assert_eq!(
        mid.hash, batch1.entries[2].hash,
        "head hash after the first batch"
    );
    let batch2 = plan_now(store, &chain, &second).await;
    assert_eq!(
        batch2.entries[0].prev, mid.hash,
        "the second batch continues the chain"
    );
    store
        .append(&batch2)
        .await
        .expect("append the second batch");
    let appended: Vec<Entry> = batch1
        .entries
        .iter()
        .chain(&batch2.entries)
        .cloned()
        .collect();

    // Head and entries.
    let head = store.chain_head(&chain).await.expect("chain_head");
    assert_eq!(head.chain, chain, "head names its chain");
    assert_eq!(head.size, 5, "head size after both batches");
    assert_eq!(head.hash, appended[4].hash, "head hash is the last entry's");
    assert!(
        store
            .chain_heads()
            .await
            .expect("chain_heads")
            .contains(&head),
        "chain_heads lists the chain"
    );
    let stored = all_entries(store, &chain).await;
    let parsed = parsed_entries(store, &chain).await;
    assert_eq!(
        parsed, appended,
        "the store keeps exactly the appended entries"
    );
    let mut prev = ZERO;
    for (bytes, e) in stored.iter().zip(&parsed) {
        assert_eq!(
            bytes,
            &e.to_json(),
            "entry {} is not kept as canonical JSON",
            e.seq
        );
        assert_eq!(
            e.compute_hash(&mut Vec::new()),
            e.hash,
            "entry {} hash",
            e.seq
        );
        assert_eq!(e.prev, prev, "entry {} prev link", e.seq);
        prev = e.hash;
    }
    for (from, limit, want) in [(0, 2, 0..2), (2, 2, 2..4), (4, 2, 4..5), (5, 2, 5..5)] {
        let page = store.entries(&chain, from, limit).await.expect("entries");
        assert_eq!(page, stored[want], "entries({chain}, {from}, {limit})");
    }
    assert!(
        store
            .entries(&chain, 0, 0)
            .await
            .expect("entries")
            .is_empty(),
        "entries with limit 0"
    );
    assert!(
        store
            .entries("shard-none", 0, 10)
            .await
            .expect("entries")
            .is_empty(),
        "an unknown chain has no entries"
    );

    // Accounts, derived here from the stored entries.
    let total_bonus: i64 = parsed.iter().map(|e| e.bonus).sum();
    assert!(
        total_bonus > 0,
        "the fixture should earn points (is it inside the window?)"
    );
    for (m, campus) in [(&a, Some("campus-a")), (&b, None)] {
        let mine: Vec<&Entry> = parsed.iter().filter(|e| &e.member == m).collect();
        let mut days: BTreeMap<String, i64> = BTreeMap::new();
        for e in mine.iter().filter(|e| e.bonus != 0) {
            *days.entry(e.day.clone()).or_default() += e.bonus;
        }
        let mut day_items: BTreeMap<String, DayItems> = BTreeMap::new();
        for e in mine.iter().filter(|e| e.reason.accepts_items()) {
            let d = day_items.entry(e.day.clone()).or_default();
            *d = d.plus(DayItems::of(&e.items));
        }
        let want = Account {
            member: m.clone(),
            campus: campus.map(str::to_owned),
            balance: mine.iter().map(|e| e.bonus).sum(),
            co2e_g: mine.iter().map(|e| e.co2e_g).sum(),
            entries: mine.len() as u64,
            head: mine.last().expect("entries").hash,
            days,
            day_items,
            // What the planner tracks (tested in `credit`); the store must keep it as given.
            open_pledges: {
                let mut acc = Account::new(m.clone());
                let rb = greenloop::rulebook::Rulebook::default_double11();
                mine.iter()
                    .for_each(|e| greenloop::credit::track_pledges(&mut acc, e, &rb));
                acc.open_pledges
            },
        };
        let got = store
            .accounts(std::slice::from_ref(m))
            .await
            .expect("accounts");
        assert_eq!(got, [want], "account of member {}", &m.as_str()[..12]);
        for e in &mine {
            assert_eq!(e.campus.as_deref(), campus, "entries carry the affiliation");
        }
    }
    let pages = all_accounts(store).await;
    assert_eq!(pages.len(), 2, "account_page lists both accounts");

    // Campus totals: only the affiliated member's entries count.
    let of_a: Vec<&Entry> = parsed.iter().filter(|e| e.member == a).collect();
    let totals = sorted_totals(store).await;
    assert_eq!(totals.len(), 1, "one campus has totals: {totals:?}");
    assert_eq!(totals[0].campus, "campus-a");
    assert_eq!(totals[0].bonus, of_a.iter().map(|e| e.bonus).sum::<i64>());
    assert_eq!(totals[0].co2e_g, of_a.iter().map(|e| e.co2e_g).sum::<i64>());
    assert_eq!(totals[0].entries, of_a.len() as u64);

    // Statuses and the queue.
    for e in &parsed {
        let record = store
            .action(&e.action_key())
            .await
            .expect("action")
            .expect("recorded");
        let want = ActionStatus::Credited {
            chain: chain.clone(),
            seq: e.seq,
            bonus: e.bonus,
        };
        assert_eq!(record.status, want, "status of {}", e.action);
    }
    assert_eq!(
        pending_ids(store).await,
        ["append-c1"],
        "credited actions leave the queue; others stay"
    );
    let replay = store.record_action(&first[0]).await.expect("replay");
    assert!(replay.replay, "a credited action re-delivered is a replay");
    assert!(
        matches!(replay.record.status, ActionStatus::Credited { .. }),
        "a replay does not reset a credited action: {:?}",
        replay.record.status
    );
    assert_eq!(pending_ids(store).await, ["append-c1"], "nor re-enqueue it");
    let report = verify_store(store).await;
    assert!(report.is_ok(), "the ledger verifies: {:?}", report.problems);
}

/// Appends are conditioned on the chain head, every account head and every action being
/// pending; a refused append writes nothing at all.
pub async fn append_is_conditional_and_all_or_nothing(store: &dyn Store) {
    let rules = Rules::defaults();
    let (a, b) = (member(1), member(2));
    store
        .put_campus(&campus("campus-l"))
        .await
        .expect("put_campus");
    store
        .affiliate(&a, "campus-l", Consent::Enrol)
        .await
        .expect("affiliate");
    store
        .affiliate(&b, "campus-l", Consent::Enrol)
        .await
        .expect("affiliate");
    let station = "st-lock";
    let chain = chain_for_station(station, super::SHARDS);
    let t = WINDOW_START + 5 * 86_400;
    let a1 = scan("lock-a1", 1, station, t, boxes(2, None));
    let a2 = scan("lock-a2", 1, station, t + 60, books(3));
    let b1 = scan("lock-b1", 2, station, t + 120, boxes(1, Some("brand-02")));
    let p1 = booking("lock-p1", 2, station, t);
    let never = scan("lock-never", 2, station, t, books(1));
    record_all(store, &[a1.clone(), a2.clone(), b1.clone(), p1.clone()]).await;

    let start = store.chain_head(&chain).await.expect("chain_head");
    store
        .append(&plan_now(store, &chain, std::slice::from_ref(&a1)).await)
        .await
        .expect("append the first action");
    let ids = ["lock-a1", "lock-a2", "lock-b1", "lock-p1", "lock-never"];
    let before = snapshot(store, &[&chain], &ids).await;
    assert_eq!(before.heads.len(), 1, "one chain after the first append");
    assert_eq!(
        before.totals.len(),
        1,
        "the campus has totals after the first append"
    );

    let head = store.chain_head(&chain).await.expect("chain_head");
    let accounts = store
        .accounts(&[a.clone(), b.clone()])
        .await
        .expect("accounts");
    // b1 comes first so that, if a store wrote before checking, something would be written.
    let stale_a = Account {
        campus: Some("campus-l".into()),
        ..Account::new(a.clone())
    };
    let refused = [
        (
            "planned from a stale chain head",
            plan(&start, &accounts, &[b1.clone(), a2.clone()], &rules),
            Refusal::HeadMoved(chain.clone()),
        ),
        (
            "planned from a stale account",
            plan(
                &head,
                &[stale_a, accounts[1].clone()],
                &[b1.clone(), a2.clone()],
                &rules,
            ),
            Refusal::AccountMoved(a.clone()),
        ),
        (
            // What someone else already credited is named even when the head moved too, so a
            // losing writer drops those actions at once instead of re-planning them.
            "planned from a stale chain head, with an action already credited",
            plan(&start, &accounts, &[b1.clone(), a1.clone()], &rules),
            Refusal::NotPending(&["qr-1/lock-a1"]),
        ),
        (
            "with an action already credited",
            plan(
                &head,
                &accounts,
                &[b1.clone(), a2.clone(), a1.clone()],
                &rules,
            ),
            Refusal::NotPending(&["qr-1/lock-a1"]),
        ),
        (
            "with a pickup still booked",
            plan(&head, &accounts, &[b1.clone(), p1.clone()], &rules),
            Refusal::NotPending(&["qr-1/lock-p1"]),
        ),
        (
            "with an action never recorded",
            plan(&head, &accounts, &[b1.clone(), never.clone()], &rules),
            Refusal::NotPending(&["qr-1/lock-never"]),
        ),
    ];
    for (what, batch, want) in &refused {
        let got = store.append(batch).await;
        let right = match (want, &got) {
            (Refusal::HeadMoved(c), Err(AppendError::HeadMoved(g))) => c == g,
            (Refusal::AccountMoved(m), Err(AppendError::AccountMoved(g))) => m == g,
            (Refusal::NotPending(ids), Err(AppendError::NotPending(g))) => g == ids,
            _ => false,
        };
        assert!(
            right,
            "append of a batch {what}: expected {want:?}, got {got:?}"
        );
        assert_eq!(
            snapshot(store, &[&chain], &ids).await,
            before,
            "append of a batch {what} was refused but wrote something"
        );
    }

    // The refusals changed nothing, so the batch planned from the current state goes through.
    // A new affiliation between planning and appending is not an account move, and the
    // append keeps it: the entries carry the campus they were planned with.
    let good = plan(&head, &accounts, &[b1.clone(), a2.clone()], &rules);
    store
        .put_campus(&campus("campus-m"))
        .await
        .expect("put_campus");
    store
        .affiliate(&b, "campus-m", Consent::Transfer)
        .await
        .expect("affiliate");
    store.append(&good).await.expect("append the current batch");
    let b_now = store
        .accounts(std::slice::from_ref(&b))
        .await
        .expect("accounts");
    assert_eq!(
        b_now[0].campus.as_deref(),
        Some("campus-m"),
        "an append keeps the stored affiliation"
    );
    assert_eq!(b_now[0].entries, 1, "and writes the ledger totals");
    let totals = sorted_totals(store).await;
    assert_eq!(
        totals
            .iter()
            .map(|t| (t.campus.as_str(), t.entries))
            .collect::<Vec<_>>(),
        [("campus-l", 3)],
        "the entries count for the campus they carry"
    );
    assert_eq!(
        store.chain_head(&chain).await.expect("chain_head"),
        good.new_head(),
        "head after the good batch"
    );
    assert_eq!(
        pending_ids(store).await,
        Vec::<String>::new(),
        "everything credited"
    );
    match store.append(&good).await {
        Err(AppendError::HeadMoved(_) | AppendError::NotPending(_)) => {}
        other => panic!("appending the same batch twice must be refused, got {other:?}"),
    }
    let report = verify_store(store).await;
    assert!(report.is_ok(), "the ledger verifies: {:?}", report.problems);
    assert_eq!(report.entries, 3, "three entries in all");
}

/// The refusal a conditional append must answer.
#[derive(Debug)]
enum Refusal {
    HeadMoved(String),
    AccountMoved(MemberId),
    NotPending(&'static [&'static str]),
}
