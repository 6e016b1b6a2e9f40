//! The verifier on the plausibility limits: a ledger with implausible entries verifies, and an
//! entry that lies about them (its `day_items_before`, or its verdict) is named at its chain
//! and seq. Every check runs through both paths, the in-place one (one thread) and the general
//! one (batches on two threads), which must report the same problems.
//!
//! The ledgers are credited here by a small reference planner, independent of the real one
//! (the shared crate's `credit::plan`, whose own tests verify what it plans), with a hook that
//! lets a dishonest producer edit each entry before it is sealed and linked: the chain stays
//! intact, so only the checks of the amounts can catch the lie.

use super::{Problem, Report, Verifier};
use crate::catalog::Catalog;
use crate::domain::{ActionKind, BoxLot, DayItems, Items, MemberId, Pepper};
use crate::factors::FactorTable;
use crate::ledger::{Entry, FORMAT_VERSION, ZERO};
use crate::records::{Account, ChainHead};
use crate::rulebook::{DayBefore, Reason, Rulebook};
use proptest::prelude::*;
use std::collections::BTreeMap;

/// 2026-11-11 12:00 +08:00, inside the window; 2026-11-21 12:00 +08:00, after it.
pub(super) const IN: i64 = 1_794_369_600;
const AFTER: i64 = 1_795_233_600;

#[derive(Debug)]
pub(super) struct Act {
    chain: usize,
    member: u32,
    kind: ActionKind,
    items: Items,
    at: i64,
}

pub(super) fn member(n: u32) -> MemberId {
    let pepper = Pepper::new(b"plausible-test-pepper".to_vec()).unwrap();
    MemberId::pseudonym(&pepper, &format!("u{n}"))
}

pub(super) fn scan(chain: usize, member: u32, boxes: u32, books: u32, at: i64) -> Act {
    Act {
        chain,
        member,
        kind: ActionKind::Scan,
        items: Items {
            books,
            boxes: (boxes > 0)
                .then_some(BoxLot {
                    brand: None,
                    count: boxes,
                })
                .into_iter()
                .collect(),
            ..Items::default()
        },
        at,
    }
}

fn pickup(chain: usize, member: u32, clothing_g: u64, at: i64) -> Act {
    Act {
        chain,
        member,
        kind: ActionKind::Pickup,
        items: Items {
            clothing_g,
            ..Items::default()
        },
        at,
    }
}

/// One day of one member, across both chains, with every verdict; and a second member.
pub(super) fn day() -> Vec<Act> {
    vec![
        scan(0, 0, 40, 0, IN),             // 0: 400 points, capped to 200
        scan(1, 0, 30, 0, IN + 60),        // 1: 70 boxes: implausible
        scan(0, 0, 20, 0, IN + 120),       // 2: 60 boxes, at the limit: capped to 0
        pickup(1, 0, 30_001, IN + 180),    // 3: 30.001 kg: implausible
        scan(0, 1, 2, 0, IN + 240),        // 4: another member, ok
        scan(1, 0, 0, 5, AFTER),           // 5: outside the window, grams count
        pickup(0, 0, 40_000, AFTER + 60),  // 6: outside the window and implausible
        pickup(1, 0, 30_000, AFTER + 120), // 7: outside the window, at the limit
    ]
}

pub(super) struct Built {
    pub(super) chains: Vec<(String, Vec<Entry>)>,
    pub(super) accounts: Vec<Account>,
}

/// Credits `acts` as a producer would, letting `edit` change each entry before it is sealed.
pub(super) fn build(acts: &[Act], mut edit: impl FnMut(usize, &mut Entry)) -> Built {
    let rb = Rulebook::default_double11();
    let f = FactorTable::default_2026();
    let mut chains: Vec<(String, Vec<Entry>)> = ["shard-00", "shard-01"]
        .iter()
        .map(|c| (c.to_string(), Vec::new()))
        .collect();
    let mut accounts: BTreeMap<MemberId, Account> = BTreeMap::new();
    for (i, act) in acts.iter().enumerate() {
        let m = member(act.member);
        let account = accounts
            .entry(m.clone())
            .or_insert_with(|| Account::new(m.clone()));
        let day = rb.day_of(act.at).to_string();
        let before = DayBefore {
            points: account.points_on(&day),
            items: account.items_on(&day),
        };
        let a = rb.assess(act.kind, &act.items, act.at, &before);
        let (chain, entries) = &mut chains[act.chain];
        let mut e = Entry {
            action: format!("act-{i}"),
            at: act.at,
            bonus: a.bonus,
            campus: None,
            chain: chain.clone(),
            co2e_g: a.co2e_g(f.co2e_g(act.kind, &act.items)),
            day: day.clone(),
            day_before: before.points,
            day_items_before: before.items,
            factors: f.version.clone(),
            hash: ZERO,
            integration: "qr-1".into(),
            items: act.items.clone(),
            kind: act.kind,
            member: m,
            member_prev: account.head,
            points: a.points,
            prev: entries.last().map_or(ZERO, |p| p.hash),
            reason: a.reason,
            rulebook: rb.version.clone(),
            seq: entries.len() as u64,
            station: "st-1".into(),
            v: FORMAT_VERSION,
        };
        edit(i, &mut e);
        e.seal();
        account.balance += e.bonus;
        account.co2e_g += e.co2e_g;
        account.entries += 1;
        account.head = e.hash;
        if e.bonus != 0 {
            *account.days.entry(day.clone()).or_default() += e.bonus;
        }
        if e.reason.accepts_items() {
            let had = account.items_on(&day);
            account
                .day_items
                .insert(day, had.plus(DayItems::of(&e.items)));
        }
        entries.push(e);
    }
    Built {
        chains,
        accounts: accounts.into_values().collect(),
    }
}

fn verify(b: &Built, threads: usize) -> Report {
    let catalog = Catalog::builtin();
    let mut v = Verifier::with_threads(&catalog, threads);
    let mut heads = Vec::new();
    for (chain, entries) in &b.chains {
        v.chain(chain);
        entries.iter().for_each(|e| v.push(&e.to_json()));
        heads.push(ChainHead {
            chain: chain.clone(),
            size: entries.len() as u64,
            hash: entries.last().map_or(ZERO, |e| e.hash),
        });
    }
    v.finish(&heads, &b.accounts, &[])
}

/// The report of both paths, which must agree.
fn both(b: &Built) -> Report {
    let (fast, general) = (verify(b, 1), verify(b, 2));
    assert_eq!(fast.problems, general.problems, "the two paths disagree");
    fast
}

/// Where act `i` landed: (chain, seq).
fn place(b: &Built, i: usize) -> (String, u64) {
    let action = format!("act-{i}");
    b.chains
        .iter()
        .flat_map(|(_, es)| es)
        .find(|e| e.action == action)
        .map(|e| (e.chain.clone(), e.seq))
        .unwrap()
}

#[test]
fn a_ledger_with_implausible_entries_verifies() {
    let b = build(&day(), |_, _| {});
    let report = both(&b);
    assert!(report.is_ok(), "{:?}", report.problems);
    let entries: Vec<&Entry> = b.chains.iter().flat_map(|(_, es)| es).collect();
    let reason = |i: usize| {
        let action = format!("act-{i}");
        entries.iter().find(|e| e.action == action).unwrap().reason
    };
    use Reason::*;
    let reasons: Vec<Reason> = (0..8).map(reason).collect();
    assert_eq!(
        reasons,
        [
            Capped,
            Implausible,
            Capped,
            Implausible,
            Ok,
            OutsideWindow,
            Implausible,
            OutsideWindow
        ]
    );
    for e in entries.iter().filter(|e| e.reason == Implausible) {
        assert_eq!((e.bonus, e.co2e_g), (0, 0), "{}", e.action);
        assert!(e.points > 0, "points stay the items' worth");
    }
    let alice = &b.accounts.iter().find(|a| a.member == member(0)).unwrap();
    let totals = |d: &str| alice.day_items[d];
    assert_eq!(
        totals("2026-11-11").boxes,
        60,
        "the refused 30 do not count"
    );
    assert_eq!(totals("2026-11-11").clothing_g, 0);
    assert_eq!(totals("2026-11-21").clothing_g, 30_000);
    assert_eq!(totals("2026-11-21").books, 5);
}

#[test]
fn the_in_place_path_takes_every_honest_entry_itself() {
    // Verdicts would not change if it handed them on, but the speed would.
    let b = build(&day(), |_, _| {});
    let catalog = Catalog::builtin();
    let mut v = Verifier::new(&catalog);
    for (chain, entries) in &b.chains {
        v.chain(chain);
        for e in entries {
            assert!(v.push_direct(&e.to_json()), "{} ({:?})", e.action, e.reason);
        }
    }
}

#[test]
fn a_lying_day_items_before_is_named_at_its_entry() {
    // The producer hides the first 40 boxes so that 30 more pass as plausible: the entry
    // recomputes on its own, and only the member's walk sees the lie.
    let b = build(&day(), |i, e| {
        if i == 1 {
            e.day_items_before = DayItems::default();
            e.bonus = 0; // the cap still applies: 200 were credited already
            e.reason = Reason::Capped;
            e.co2e_g = 30 * 37;
        }
    });
    let report = both(&b);
    let (chain, seq) = place(&b, 1);
    assert_eq!(
        report.problems[0],
        Problem::MemberChain {
            chain: chain.clone(),
            seq,
            member: member(0).to_string(),
            detail: "day_items_before is {\"books\":0,\"boxes\":0,\"clothing_g\":0,\"shoes\":0} \
                     but the member had accepted {\"books\":0,\"boxes\":40,\"clothing_g\":0,\
                     \"shoes\":0} that day"
                .into(),
        },
        "{:#?}",
        report.problems
    );
    assert!(report.problems[0].to_string().starts_with(&format!(
        "chain {chain} seq {seq}: member {}…: day_items_before is",
        &member(0).as_str()[..12]
    )));
}

#[test]
fn claiming_implausible_when_it_is_not_fails_recomputation() {
    // Inside the window, the bonus gives it away first.
    let b = build(&day(), |i, e| {
        if i == 4 {
            (e.bonus, e.reason, e.co2e_g) = (0, Reason::Implausible, 0);
        }
    });
    let (chain, seq) = place(&b, 4);
    let report = both(&b);
    assert_eq!(
        report.problems[0],
        Problem::Recomputed {
            chain: chain.clone(),
            seq,
            field: "bonus",
            stored: "0".into(),
            recomputed: "20".into(),
        }
    );
    // Outside the window the bonus is 0 either way: the reason gives it away.
    let b = build(&day(), |i, e| {
        if i == 7 {
            (e.reason, e.co2e_g) = (Reason::Implausible, 0);
        }
    });
    let (chain, seq) = place(&b, 7);
    let report = both(&b);
    assert_eq!(
        report.problems[0].to_string(),
        format!("chain {chain} seq {seq}: reason is implausible but recomputes to outside_window")
    );
}

#[test]
fn an_implausible_entry_credited_in_full_fails_recomputation() {
    let b = build(&day(), |i, e| {
        if i == 6 {
            (e.reason, e.co2e_g) = (Reason::OutsideWindow, 120_000);
        }
    });
    let (chain, seq) = place(&b, 6);
    let report = both(&b);
    assert_eq!(
        report.problems[0].to_string(),
        format!("chain {chain} seq {seq}: reason is outside_window but recomputes to implausible")
    );
    // Its grams alone, with the verdict left as it was.
    let b = build(&day(), |i, e| {
        if i == 3 {
            e.co2e_g = 90_003;
        }
    });
    let (chain, seq) = place(&b, 3);
    assert_eq!(
        both(&b).problems[0],
        Problem::Recomputed {
            chain,
            seq,
            field: "co2e_g",
            stored: "90003".into(),
            recomputed: "0".into(),
        }
    );
}

#[test]
fn a_stored_account_with_other_day_items_is_a_mismatch() {
    let mut b = build(&day(), |_, _| {});
    let alice = b
        .accounts
        .iter_mut()
        .find(|a| a.member == member(0))
        .unwrap();
    alice.day_items.get_mut("2026-11-11").unwrap().boxes = 90;
    let report = both(&b);
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    let Problem::Account {
        field,
        stored,
        derived,
        ..
    } = &report.problems[0]
    else {
        panic!("{:?}", report.problems);
    };
    assert_eq!(*field, "day_items");
    assert!(stored.contains("\"boxes\":90") && derived.contains("\"boxes\":60"));
}

fn act() -> impl Strategy<Value = Act> {
    (
        0usize..2,
        0u32..3,
        0u8..3,
        1u32..45,
        0u32..30,
        1u64..35_000,
        0i64..4,
    )
        .prop_map(|(chain, member, kind, boxes, books, clothing_g, when)| {
            let at = [IN, IN + 3_600, AFTER, IN + 86_400][when as usize];
            match kind {
                0 => scan(chain, member, boxes, books, at),
                1 => Act {
                    kind: ActionKind::Pledge,
                    ..scan(chain, member, boxes, 0, at)
                },
                _ => pickup(chain, member, clothing_g, at),
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Whatever the actions, an honest ledger verifies on both paths; and one lie about an
    /// entry's day so far, or its verdict, is found at that entry by both.
    #[test]
    fn both_paths_agree_on_honest_and_lying_entries(
        acts in proptest::collection::vec(act(), 1..40),
        victim in any::<prop::sample::Index>(),
        lie in 0u8..4,
    ) {
        let honest = build(&acts, |_, _| {});
        let report = both(&honest);
        prop_assert!(report.is_ok(), "{:?}", report.problems);
        let v = victim.index(acts.len());
        let b = build(&acts, |i, e| {
            if i != v {
                return;
            }
            match lie {
                0 => e.day_items_before.boxes += 1,
                1 => e.day_items_before.clothing_g = e.day_items_before.clothing_g.saturating_sub(1_000),
                2 => e.reason = if e.reason == Reason::Implausible { Reason::Ok } else { Reason::Implausible },
                _ => e.co2e_g += 1,
            }
        });
        let (chain, seq) = place(&b, v);
        let report = both(&b);
        let changed = b.chains.iter().flat_map(|(_, es)| es).ne(honest.chains.iter().flat_map(|(_, es)| es));
        prop_assume!(changed);
        let first = report.problems.first().expect("the lie is caught");
        let named = match first {
            Problem::Recomputed { chain: c, seq: s, .. } | Problem::MemberChain { chain: c, seq: s, .. } => (c.clone(), *s),
            other => panic!("unexpected {other:?}"),
        };
        prop_assert_eq!(named, (chain, seq));
    }
}
