//! Re-derivation across chains: each chain head, each action credited once, each member's
//! `member_prev` chain and daily counters, each account and each campus total, compared with
//! what the store says.

use super::problem::Problem;
use super::verify::ChainSummary;
use super::{Digest, Entry, ZERO};
use crate::domain::MemberId;
use crate::rulebook::Day;
use crate::store::{Account, CampusTotals, ChainHead};
use rustc_hash::FxHashMap;
use std::collections::{BTreeMap, HashMap, HashSet};

/// What the cross-chain checks keep of each verified entry.
struct Link {
    member: u32,
    chain: u32,
    seq: u64,
    hash: Digest,
    member_prev: Digest,
    day: Day,
    day_before: i64,
    bonus: i64,
    co2e_g: i64,
}

/// Where an entry sits: (chain index, seq).
type Place = (u32, u64);

/// Sums and links gathered from verified entries.
#[derive(Default)]
pub(super) struct Tally {
    members: FxHashMap<String, u32>,
    member_names: Vec<String>,
    links: Vec<Link>,
    campuses: BTreeMap<String, CampusTotals>,
    /// Where each action id was first credited, and (second, first) places of repeats.
    actions: FxHashMap<String, Place>,
    repeats: Vec<(String, Place, Place)>,
}

impl Tally {
    pub(super) fn add(&mut self, e: Entry, chain: u32) {
        let member = match self.members.get(e.member.as_str()) {
            Some(&m) => m,
            None => {
                let m = self.member_names.len() as u32;
                self.members.insert(e.member.as_str().to_owned(), m);
                self.member_names.push(e.member.as_str().to_owned());
                m
            }
        };
        if let Some(campus) = &e.campus {
            if !self.campuses.contains_key(campus) {
                let fresh = CampusTotals {
                    campus: campus.clone(),
                    ..CampusTotals::default()
                };
                self.campuses.insert(campus.clone(), fresh);
            }
            let t = self.campuses.get_mut(campus).expect("inserted above");
            t.bonus += e.bonus;
            t.co2e_g += e.co2e_g;
            t.entries += 1;
        }
        let at = (chain, e.seq);
        if let Some(&first) = self.actions.get(&e.action) {
            self.repeats.push((e.action, at, first));
        } else {
            self.actions.insert(e.action, at);
        }
        self.links.push(Link {
            member,
            chain,
            seq: e.seq,
            hash: e.hash,
            member_prev: e.member_prev,
            day: Day::parse(&e.day).expect("checked by recompute"),
            day_before: e.day_before,
            bonus: e.bonus,
            co2e_g: e.co2e_g,
        });
    }

    pub(super) fn member_count(&self) -> u64 {
        self.member_names.len() as u64
    }

    pub(super) fn campus_count(&self) -> u64 {
        self.campuses.len() as u64
    }

    /// Compares heads, member chains, accounts and campus totals; appends what differs.
    pub(super) fn check(
        &self,
        chains: &[ChainSummary],
        heads: &[ChainHead],
        accounts: &[Account],
        totals: &[CampusTotals],
        problems: &mut Vec<Problem>,
    ) {
        check_heads(chains, heads, problems);
        let names: Vec<&str> = chains.iter().map(|c| c.chain.as_str()).collect();
        for (action, (chain, seq), (first_chain, first_seq)) in &self.repeats {
            problems.push(Problem::DuplicateAction {
                chain: names[*chain as usize].to_owned(),
                seq: *seq,
                action: action.clone(),
                first_chain: names[*first_chain as usize].to_owned(),
                first_seq: *first_seq,
            });
        }
        let derived = member_accounts(&self.links, &self.member_names, &names, problems);
        compare_accounts(&derived, accounts, problems);
        compare_campuses(&self.campuses, totals, problems);
    }
}

fn check_heads(chains: &[ChainSummary], heads: &[ChainHead], problems: &mut Vec<Problem>) {
    let stored: HashMap<&str, &ChainHead> = heads.iter().map(|h| (h.chain.as_str(), h)).collect();
    for c in chains {
        let (stored_size, stored_hash) = stored
            .get(c.chain.as_str())
            .map_or((0, ZERO), |h| (h.size, h.hash));
        if (stored_size, stored_hash) != (c.entries, c.head) {
            problems.push(Problem::HeadMismatch {
                chain: c.chain.clone(),
                stored_size,
                stored_hash,
                size: c.entries,
                hash: c.head,
            });
        }
    }
    for h in heads {
        if h.size > 0 && !chains.iter().any(|c| c.chain == h.chain) {
            problems.push(Problem::HeadMismatch {
                chain: h.chain.clone(),
                stored_size: h.size,
                stored_hash: h.hash,
                size: 0,
                hash: ZERO,
            });
        }
    }
}

/// Walks each member's `member_prev` chain from its first entry and derives their account.
fn member_accounts(
    links: &[Link],
    names: &[String],
    chains: &[&str],
    problems: &mut Vec<Problem>,
) -> BTreeMap<String, Account> {
    let mut by_member: Vec<Vec<usize>> = vec![Vec::new(); names.len()];
    for (i, l) in links.iter().enumerate() {
        by_member[l.member as usize].push(i);
    }
    let mut derived = BTreeMap::new();
    for (m, idxs) in by_member.iter().enumerate() {
        let name = &names[m];
        let problem = |l: &Link, detail: String| Problem::MemberChain {
            chain: chains[l.chain as usize].to_owned(),
            seq: l.seq,
            member: name.clone(),
            detail,
        };
        let mut next: FxHashMap<Digest, usize> = FxHashMap::default();
        let mut forked = false;
        for &i in idxs {
            if next.insert(links[i].member_prev, i).is_some() {
                problems.push(problem(
                    &links[i],
                    "a second entry claims the same member_prev (fork)".into(),
                ));
                forked = true;
                break;
            }
        }
        if forked {
            continue;
        }
        let mut account = Account::new(MemberId::parse(name).expect("entries parsed"));
        let mut days: BTreeMap<Day, i64> = BTreeMap::new();
        let (mut cursor, mut seen, mut ok) = (ZERO, 0usize, true);
        while let Some(&i) = next.get(&cursor) {
            let l = &links[i];
            let had = days.get(&l.day).copied().unwrap_or(0);
            if l.day_before != had {
                problems.push(problem(
                    l,
                    format!(
                        "day_before is {} but the member had {had} that day",
                        l.day_before
                    ),
                ));
                ok = false;
                break;
            }
            if l.bonus != 0 {
                days.insert(l.day, had + l.bonus);
            }
            account.balance += l.bonus;
            account.co2e_g += l.co2e_g;
            account.entries += 1;
            account.head = l.hash;
            cursor = l.hash;
            seen += 1;
        }
        account.days = days.into_iter().map(|(d, p)| (d.to_string(), p)).collect();
        if ok && seen != idxs.len() {
            let reached: HashSet<usize> = {
                let mut r = HashSet::new();
                let mut c = ZERO;
                while let Some(&i) = next.get(&c) {
                    r.insert(i);
                    c = links[i].hash;
                }
                r
            };
            let orphan = idxs
                .iter()
                .find(|i| !reached.contains(i))
                .expect("some entry was not reached");
            problems.push(problem(
                &links[*orphan],
                "member_prev does not lead back to the member's first entry".into(),
            ));
            continue;
        }
        derived.insert(name.clone(), account);
    }
    derived
}

fn compare_accounts(
    derived: &BTreeMap<String, Account>,
    stored: &[Account],
    problems: &mut Vec<Problem>,
) {
    let none = |m: &str| Account::new(MemberId::parse(m).expect("hex"));
    let mut seen = HashSet::new();
    for s in stored {
        seen.insert(s.member.as_str());
        let d = derived
            .get(s.member.as_str())
            .cloned()
            .unwrap_or_else(|| none(s.member.as_str()));
        account_fields(s, &d, problems);
    }
    for (m, d) in derived {
        if !seen.contains(m.as_str()) {
            account_fields(&none(m), d, problems);
        }
    }
}

fn account_fields(s: &Account, d: &Account, problems: &mut Vec<Problem>) {
    let fields: [(&'static str, String, String); 5] = [
        ("balance", s.balance.to_string(), d.balance.to_string()),
        ("co2e_g", s.co2e_g.to_string(), d.co2e_g.to_string()),
        ("entries", s.entries.to_string(), d.entries.to_string()),
        ("head", s.head.to_string(), d.head.to_string()),
        ("days", format!("{:?}", s.days), format!("{:?}", d.days)),
    ];
    if let Some((field, stored, derived)) = fields.into_iter().find(|(_, a, b)| a != b) {
        problems.push(Problem::Account {
            member: s.member.as_str().to_owned(),
            field,
            stored,
            derived,
        });
    }
}

fn compare_campuses(
    derived: &BTreeMap<String, CampusTotals>,
    stored: &[CampusTotals],
    problems: &mut Vec<Problem>,
) {
    let mut all: BTreeMap<&str, (CampusTotals, CampusTotals)> = BTreeMap::new();
    for s in stored {
        all.entry(&s.campus).or_default().0 = s.clone();
    }
    for (c, d) in derived {
        all.entry(c).or_default().1 = d.clone();
    }
    for (campus, (s, d)) in all {
        let fields: [(&'static str, i64, i64); 3] = [
            ("bonus", s.bonus, d.bonus),
            ("co2e_g", s.co2e_g, d.co2e_g),
            ("entries", s.entries as i64, d.entries as i64),
        ];
        if let Some((field, a, b)) = fields.into_iter().find(|(_, a, b)| a != b) {
            problems.push(Problem::Campus {
                campus: campus.to_owned(),
                field,
                stored: a.to_string(),
                derived: b.to_string(),
            });
        }
    }
}
