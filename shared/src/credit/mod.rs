//! Crediting: turns pending actions into ledger entries, bonuses and totals.
//!
//! [`plan`] is pure: from a chain head, the members' accounts and some actions, it builds the
//! [`CreditBatch`] to append. [`run`] drives it against a store: it credits actions grouped by
//! chain ([`credit_actions`], from a stream batch; [`credit_pending`], the sweep of each chain's
//! queue), plans, appends, re-plans on an optimistic-lock conflict, retries transient faults
//! within a [`budget`], and quarantines the one action a permanent fault belongs to. [`writer`]
//! keeps one writer per chain: a claim, and the head it last wrote. Because every append is
//! conditioned on the chain head, the accounts and each action still being pending, a retried
//! or concurrent run credits nothing twice and never forks a chain, claim or no claim.
//!
//! [`trigger`] is the `credit` function: what wakes crediting in AWS. [`ranking`] keeps the
//! public ranking of campuses as crediting moves it.

pub mod budget;
pub mod ranking;
pub mod run;
pub mod trigger;
pub mod writer;

pub use budget::Budget;
pub use run::{
    credit_actions, credit_claimed, credit_continuously, credit_pending, credit_pending_in,
    credit_pending_with, CreditRun,
};

use crate::store::{Account, AccountUpdate, CampusDay, ChainHead, CreditBatch, OpenPledge};
use greenloop_core::catalog::Rules;
use greenloop_core::domain::{Action, ActionKind, DayItems, MemberId};
use greenloop_core::ledger::{Entry, FORMAT_VERSION, ZERO};
use greenloop_core::records::MAX_OPEN_PLEDGES;
use greenloop_core::rulebook::{DayBefore, Rulebook};
use std::collections::{BTreeMap, HashMap};

/// Most actions in one append. On DynamoDB an append is one transaction of at most 100 items:
/// per action an entry and a status update, per member an account, per (campus, day) a total,
/// per station a stock, and the head (plus, once, the chain's listing), so 19 actions take at
/// most 5 × 19 + 2 = 97 items.
pub const MAX_BATCH: usize = 19;

/// Plans one append of `actions` (all for `head.chain`) onto `head`, from the members' accounts.
pub fn plan(
    head: &ChainHead,
    accounts: &[Account],
    actions: &[Action],
    rules: &Rules,
) -> CreditBatch {
    let (rb, factors) = (&rules.rulebook, &rules.factors);
    let mut planned: HashMap<&MemberId, (usize, Account)> = HashMap::new();
    for (i, a) in accounts.iter().enumerate() {
        planned.insert(&a.member, (i, a.clone()));
    }
    let mut campuses: BTreeMap<(String, String), CampusDay> = BTreeMap::new();
    let mut collected: BTreeMap<String, u64> = BTreeMap::new();
    let mut entries = Vec::with_capacity(actions.len());
    let mut prev = head.hash;
    for (i, action) in actions.iter().enumerate() {
        let (_, account) = planned
            .entry(&action.member)
            .or_insert_with(|| (usize::MAX, Account::new(action.member.clone())));
        let day = rb.day_of(action.at).to_string();
        let before = DayBefore {
            points: account.points_on(&day),
            items: account.items_on(&day),
        };
        let a = rb.assess(action.kind, &action.items, action.at, &before);
        let mut entry = Entry {
            action: action.id.clone(),
            at: action.at,
            bonus: a.bonus,
            campus: account.campus.clone(),
            chain: head.chain.clone(),
            co2e_g: a.co2e_g(factors.co2e_g(action.kind, &action.items)),
            day,
            day_before: before.points,
            day_items_before: before.items,
            factors: factors.version.clone(),
            hash: prev, // replaced by seal()
            integration: action.integration.clone(),
            items: action.items.clone(),
            kind: action.kind,
            member: action.member.clone(),
            member_prev: account.head,
            points: a.points,
            prev,
            reason: a.reason,
            rulebook: rb.version.clone(),
            seq: head.size + i as u64,
            station: action.station.clone(),
            v: FORMAT_VERSION,
        };
        entry.seal();
        prev = entry.hash;
        account.balance += entry.bonus;
        account.co2e_g += entry.co2e_g;
        account.entries += 1;
        account.head = entry.hash;
        if entry.bonus != 0 {
            *account.days.entry(entry.day.clone()).or_default() += entry.bonus;
        }
        if entry.reason.accepts_items() {
            let day_items = before.items.plus(DayItems::of(&entry.items));
            account.day_items.insert(entry.day.clone(), day_items);
        }
        track_pledges(account, &entry, rb);
        if let Some(boxes) = greenloop_core::ledger::collected_boxes(&entry) {
            *collected.entry(entry.station.clone()).or_default() += boxes;
        }
        if let Some(c) = &entry.campus {
            let t = campuses
                .entry((c.clone(), entry.day.clone()))
                .or_insert_with(|| CampusDay::empty(c, &entry.day));
            t.bonus += entry.bonus;
            t.co2e_g += entry.co2e_g;
            t.entries += 1;
        }
        entries.push(entry);
    }
    let before: HashMap<&MemberId, &Account> = accounts.iter().map(|a| (&a.member, a)).collect();
    let mut updates: Vec<AccountUpdate> = planned
        .into_values()
        .filter(|(_, a)| a.entries > before.get(&a.member).map_or(0, |b| b.entries))
        .map(|(_, account)| AccountUpdate {
            expected_head: before.get(&account.member).map_or(ZERO, |b| b.head),
            account,
        })
        .collect();
    updates.sort_by(|a, b| a.account.member.cmp(&b.account.member));
    CreditBatch {
        expected: head.clone(),
        entries,
        corrections: Vec::new(),
        accounts: updates,
        campuses: campuses.into_values().collect(),
        collected: collected.into_iter().collect(),
        release: None,
    }
}

/// The pledge a planned batch must not carry: the last in-window pledge of a member the batch
/// would leave with more than [`MAX_OPEN_PLEDGES`] open. Crediting quarantines it and plans
/// again without it.
pub fn over_pledge_cap(batch: &CreditBatch) -> Option<&Entry> {
    let over = batch
        .accounts
        .iter()
        .find(|u| u.account.open_pledges.len() > MAX_OPEN_PLEDGES)?;
    batch.entries.iter().rev().find(|e| {
        e.member == over.account.member
            && e.kind == ActionKind::Pledge
            && over
                .account
                .open_pledges
                .iter()
                .any(|p| p.action == e.action_key())
    })
}

/// Opens a pledge credited in the window, and lets an in-window drop-off's boxes return the
/// member's open pledges, oldest first. An implausible entry's boxes are not accepted, so they
/// neither open a pledge nor return one.
pub fn track_pledges(account: &mut Account, entry: &Entry, rb: &Rulebook) {
    if !rb.in_window(entry.at) || !entry.reason.accepts_items() {
        return;
    }
    let boxes = entry.items.box_count();
    match entry.kind {
        ActionKind::Pledge => account.open_pledges.push(OpenPledge {
            action: entry.action_key(),
            boxes,
            returned: 0,
        }),
        ActionKind::Scan => {
            let mut left = boxes;
            for p in account.open_pledges.iter_mut() {
                let n = left.min(p.boxes - p.returned);
                p.returned += n;
                left -= n;
            }
            account.open_pledges.retain(|p| p.returned < p.boxes);
        }
        ActionKind::Pickup => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::CampusTotals;
    use greenloop_core::catalog::Catalog;
    use greenloop_core::domain::{ActionKind, BoxLot, Items, Pepper};
    use greenloop_core::ledger::verify::Verifier;
    use greenloop_core::rulebook::Reason;
    use proptest::prelude::*;

    fn member(n: u32) -> MemberId {
        MemberId::pseudonym(
            &Pepper::new(*b"plan-test-pepper-0123").unwrap(),
            &format!("u{n}"),
        )
    }

    fn scan(id: usize, who: u32, boxes: u32, at: i64) -> Action {
        Action {
            id: format!("scan-{id}"),
            integration: "qr-1".into(),
            kind: ActionKind::Scan,
            member: member(who),
            station: "st-1".into(),
            at,
            items: Items {
                boxes: vec![BoxLot {
                    brand: None,
                    count: boxes,
                }],
                ..Items::default()
            },
        }
    }

    /// Plans `actions` in batches on one chain and verifies the result, as a store would hold it.
    fn run(
        actions: &[Action],
        batch: usize,
    ) -> (Vec<Vec<u8>>, ChainHead, Vec<Account>, Vec<CampusTotals>) {
        let rules = Rules::defaults();
        let mut head = ChainHead::empty("shard-00");
        let mut accounts: BTreeMap<MemberId, Account> = BTreeMap::new();
        let mut totals: BTreeMap<String, CampusTotals> = BTreeMap::new();
        let mut stored = Vec::new();
        for chunk in actions.chunks(batch) {
            let known: Vec<Account> = chunk
                .iter()
                .filter_map(|a| accounts.get(&a.member).cloned())
                .collect();
            let b = plan(&head, &known, chunk, &rules);
            head = b.new_head();
            for u in b.accounts {
                accounts.insert(u.account.member.clone(), u.account);
            }
            for c in b.campuses {
                let t = totals.entry(c.campus.clone()).or_default();
                t.campus.clone_from(&c.campus);
                t.add(&c);
            }
            stored.extend(b.entries.iter().map(Entry::to_json));
        }
        (
            stored,
            head,
            accounts.into_values().collect(),
            totals.into_values().collect(),
        )
    }

    #[test]
    fn a_planned_chain_verifies() {
        let t = 1_793_462_400 + 3600; // 2026-11-01 01:00 +08:00
        let actions: Vec<Action> = (0..40)
            .map(|i| scan(i, (i % 3) as u32, 1 + (i % 4) as u32, t + i as i64))
            .collect();
        let (stored, head, accounts, totals) = run(&actions, 7);
        let catalog = Catalog::builtin();
        let mut v = Verifier::new(&catalog);
        v.chain("shard-00");
        stored.iter().for_each(|e| v.push(e));
        let report = v.finish(&[head], &accounts, &totals);
        assert!(report.is_ok(), "{:?}", report.problems);
        assert_eq!(report.entries, 40);
        assert_eq!(report.members, 3);
    }

    #[test]
    fn an_action_credited_twice_is_caught() {
        let t = 1_793_462_400 + 3600;
        let mut actions: Vec<Action> = (0..5).map(|i| scan(i, i as u32, 1, t + i as i64)).collect();
        actions.push(actions[1].clone()); // a store that let a replay through
        let (stored, head, accounts, totals) = run(&actions, 2);
        let catalog = Catalog::builtin();
        let mut v = Verifier::new(&catalog);
        v.chain("shard-00");
        stored.iter().for_each(|e| v.push(e));
        let report = v.finish(&[head], &accounts, &totals);
        let text = report.first_problem().expect("a problem").to_string();
        assert_eq!(
            text,
            "chain shard-00 seq 5: action qr-1/scan-1 was already credited at chain shard-00 seq 1"
        );
    }

    fn pickup(id: usize, who: u32, clothing_g: u64, at: i64) -> Action {
        Action {
            id: format!("pickup-{id}"),
            kind: ActionKind::Pickup,
            items: Items {
                clothing_g,
                ..Items::default()
            },
            ..scan(id, who, 1, at)
        }
    }

    /// The plan's chain, accounts and totals verify.
    fn verifies(
        stored: &[Vec<u8>],
        head: ChainHead,
        accounts: &[Account],
        totals: &[CampusTotals],
    ) -> bool {
        let catalog = Catalog::builtin();
        let mut v = Verifier::new(&catalog);
        v.chain("shard-00");
        stored.iter().for_each(|e| v.push(e));
        let report = v.finish(&[head], accounts, totals);
        report.is_ok()
    }

    #[test]
    fn a_refused_outlier_does_not_block_the_members_day() {
        let t = 1_793_462_400 + 3600;
        let actions = [
            pickup(0, 1, 500_000, t), // the 500 kg
            pickup(1, 1, 4_000, t + 60),
            scan(2, 1, 60, t + 120),
            scan(3, 1, 1, t + 180),
        ];
        let (stored, head, accounts, totals) = run(&actions, 2);
        let entries: Vec<Entry> = stored
            .iter()
            .map(|s| serde_json::from_slice(s).unwrap())
            .collect();
        let verdicts: Vec<(Reason, i64, i64)> = entries
            .iter()
            .map(|e| (e.reason, e.bonus, e.co2e_g))
            .collect();
        assert_eq!(
            verdicts,
            [
                (Reason::Implausible, 0, 0),
                (Reason::Ok, 20, 12_000),
                (Reason::Capped, 180, 60 * 37),
                (Reason::Implausible, 0, 0),
            ]
        );
        let day = &accounts[0].day_items["2026-11-01"];
        assert_eq!((day.clothing_g, day.boxes), (4_000, 60));
        assert_eq!(entries[3].day_items_before, *day);
        assert!(verifies(&stored, head, &accounts, &totals));
    }

    #[test]
    fn implausible_boxes_neither_open_nor_return_pledges() {
        let t = 1_793_462_400 + 3600;
        let pledge = |id, boxes, at| Action {
            kind: ActionKind::Pledge,
            ..scan(id, 1, boxes, at)
        };
        let actions = [
            pledge(0, 61, t),        // implausible: opens nothing
            pledge(1, 5, t + 60),    // opens 5
            scan(2, 1, 56, t + 120), // 66 boxes that day: implausible, returns nothing
            scan(3, 1, 2, t + 180),  // returns 2 of the 5
        ];
        let (stored, head, accounts, totals) = run(&actions, 4);
        let pledges: Vec<(String, u64, u64)> = (accounts[0].open_pledges.iter())
            .map(|p| (p.action.clone(), p.boxes, p.returned))
            .collect();
        assert_eq!(pledges, [("qr-1/scan-1".to_owned(), 5, 2)]);
        assert!(verifies(&stored, head, &accounts, &totals));
    }

    proptest! {
        /// The limits hold per member per day, whatever the kinds, the batch size and the
        /// interleaving; refused items count nowhere; and the verifier accepts every planned
        /// chain, accounts and totals included.
        #[test]
        fn daily_limits_hold_and_planned_chains_verify(
            spec in proptest::collection::vec(
                (0u32..3, 0u8..3, 1u32..45, 0u32..20, 1u64..35_000, 0i64..3 * 86_400), 1..60),
            batch in 1usize..30,
        ) {
            let t0 = 1_793_462_400 - 86_400; // the day before the window, and its first two
            let actions: Vec<Action> = spec.iter().enumerate().map(|(i, &(who, kind, n, books, g, dt))| {
                let mut a = scan(i, who, n, t0 + dt);
                match kind {
                    0 => a.items.books = books,
                    1 => a.kind = ActionKind::Pledge,
                    _ => a = pickup(i, who, g, t0 + dt),
                }
                a
            }).collect();
            let (stored, head, accounts, totals) = run(&actions, batch);
            prop_assert!(verifies(&stored, head, &accounts, &totals));
            let limits = Rules::defaults().rulebook.daily_limits;
            let entries: Vec<Entry> = stored.iter().map(|s| serde_json::from_slice(s).unwrap()).collect();
            let mut per_day: BTreeMap<(String, String), DayItems> = BTreeMap::new();
            for e in &entries {
                let had = per_day.entry((e.member.to_string(), e.day.clone())).or_default();
                prop_assert_eq!(e.day_items_before, *had);
                if e.reason == Reason::Implausible {
                    prop_assert_eq!((e.bonus, e.co2e_g), (0, 0));
                } else {
                    *had = had.plus(DayItems::of(&e.items));
                }
            }
            for d in per_day.values() {
                prop_assert!(d.books <= limits.books && d.boxes <= limits.boxes);
                prop_assert!(d.clothing_g <= limits.clothing_g && d.shoes <= limits.shoes);
            }
            for a in &accounts {
                for (day, items) in &a.day_items {
                    prop_assert_eq!(per_day[&(a.member.to_string(), day.clone())], *items);
                }
            }
        }

        /// The cap holds per member per day, whatever the batch size and interleaving, and the
        /// balance is the sum of the entries.
        #[test]
        fn daily_cap_holds_and_balances_add_up(
            spec in proptest::collection::vec((0u32..4, 1u32..40, 0i64..3 * 86_400), 1..80),
            batch in 1usize..30,
        ) {
            let t0 = 1_793_462_400; // window start
            let actions: Vec<Action> = spec.iter().enumerate().map(|(i, &(who, n, dt))| scan(i, who, n, t0 + dt)).collect();
            let (stored, _, accounts, _) = run(&actions, batch);
            let entries: Vec<Entry> = stored.iter().map(|s| serde_json::from_slice(s).unwrap()).collect();
            let mut per_day: BTreeMap<(String, String), i64> = BTreeMap::new();
            for e in &entries {
                *per_day.entry((e.member.to_string(), e.day.clone())).or_default() += e.bonus;
                prop_assert!(e.bonus <= e.points);
            }
            prop_assert!(per_day.values().all(|&p| p <= 200));
            for a in &accounts {
                let sum: i64 = entries.iter().filter(|e| e.member == a.member).map(|e| e.bonus).sum();
                prop_assert_eq!(a.balance, sum);
            }
        }
    }
}
