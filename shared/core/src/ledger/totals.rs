//! Re-derivation across chains: each chain head, each action credited once, each member's
//! `member_prev` chain and daily counters (points for the cap, accepted items for the
//! plausibility limits), each account and each campus total, compared with what the store says.

use super::problem::Problem;
use super::report::ChainSummary;
use super::{CorrectionEntry, Digest, Entry, ZERO};
use crate::domain::{DayItems, MemberId};
use crate::records::{Account, CampusTotals, ChainHead};
use crate::rulebook::{Day, Reason};
use rustc_hash::FxHashMap;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::Hasher as _;

/// What the cross-chain checks keep of each verified entry.
struct Link {
    chain: u32,
    seq: u64,
    hash: Digest,
    member_prev: Digest,
    day: Day,
    day_before: i64,
    day_items_before: DayItems,
    /// The entry's accepted items (books, boxes, clothing_g, shoes): each fits 32 bits, as one
    /// valid action's items do, which keeps a link small on a large ledger.
    accepted: [u32; 4],
    bonus: i64,
    co2e_g: i64,
    /// A correction (2.2): it moves grams, and no daily counter.
    correction: bool,
}

impl Link {
    fn accepted(&self) -> DayItems {
        let [books, boxes, clothing_g, shoes] = self.accepted.map(u64::from);
        DayItems {
            books,
            boxes,
            clothing_g,
            shoes,
        }
    }
}

/// What an entry with `reason` adds to its member's accepted items of the day: its `items`,
/// unless it is implausible.
pub(super) fn accepted(reason: Reason, items: DayItems) -> DayItems {
    if reason.accepts_items() {
        items
    } else {
        DayItems::default()
    }
}

/// Where an entry sits: (chain index, seq).
type Place = (u32, u64);

/// What the tally takes from one verified entry; the strings may borrow the stored bytes.
pub(super) struct Credit<'a> {
    pub member: &'a str,
    pub campus: Option<&'a str>,
    pub integration: &'a str,
    pub action: &'a str,
    pub seq: u64,
    pub hash: Digest,
    pub member_prev: Digest,
    pub day: Day,
    pub day_before: i64,
    pub day_items_before: DayItems,
    /// What the entry adds to the member's accepted items of its day ([`accepted`]).
    pub accepted: DayItems,
    pub bonus: i64,
    pub co2e_g: i64,
}

/// Sums and links gathered from verified entries.
#[derive(Default)]
pub(super) struct Tally {
    members: FxHashMap<String, u32>,
    member_names: Vec<String>,
    /// Each member's links, in the order their entries came: kept apart, so that walking one
    /// member's chain reads memory that sits together.
    links: Vec<Vec<Link>>,
    /// Where each entry sits, in the order the entries came.
    places: Vec<Place>,
    campus_index: FxHashMap<String, u32>,
    campuses: Vec<CampusTotals>,
    /// Per entry, a 64-bit hash of its action id; the ids themselves are kept back to back
    /// in `action_ids`, entry `i`'s ending at `action_ends[i]`, so an id costs no allocation
    /// of its own. Repeats are found once, at the end, by sorting the hashes: a hash table
    /// of every id would cost a cache miss or two per entry on a large ledger.
    action_hashes: Vec<u64>,
    action_ids: Vec<u8>,
    action_ends: Vec<usize>,
}

impl Tally {
    pub(super) fn add(&mut self, e: Entry, chain: u32) {
        let day = Day::parse(&e.day).expect("checked by recompute");
        self.add_credit(
            Credit {
                member: e.member.as_str(),
                campus: e.campus.as_deref(),
                integration: &e.integration,
                action: &e.action,
                seq: e.seq,
                hash: e.hash,
                member_prev: e.member_prev,
                day,
                day_before: e.day_before,
                day_items_before: e.day_items_before,
                accepted: accepted(e.reason, DayItems::of(&e.items)),
                bonus: e.bonus,
                co2e_g: e.co2e_g,
            },
            chain,
        );
    }

    /// The member's index, numbering a member at their first entry.
    fn member(&mut self, name: &str) -> u32 {
        match self.members.get(name) {
            Some(&m) => m,
            None => {
                let m = self.member_names.len() as u32;
                self.members.insert(name.to_owned(), m);
                self.member_names.push(name.to_owned());
                self.links.push(Vec::new());
                m
            }
        }
    }

    /// The campus's totals, started at its first entry.
    fn campus(&mut self, name: &str) -> &mut CampusTotals {
        let c = match self.campus_index.get(name) {
            Some(&c) => c,
            None => {
                let c = self.campuses.len() as u32;
                self.campus_index.insert(name.to_owned(), c);
                self.campuses.push(CampusTotals {
                    campus: name.to_owned(),
                    ..CampusTotals::default()
                });
                c
            }
        };
        &mut self.campuses[c as usize]
    }

    /// A correction: its member's chain and account, and its campus's grams (not the campus's
    /// entry count: a correction is no action).
    pub(super) fn add_correction(&mut self, c: &CorrectionEntry, chain: u32) {
        let member = self.member(c.member.as_str());
        if let Some(campus) = &c.corrects.campus {
            self.campus(campus).co2e_g += c.co2e_g;
        }
        self.links[member as usize].push(Link {
            chain,
            seq: c.seq,
            hash: c.hash,
            member_prev: c.member_prev,
            day: Day::parse(&c.corrects.day).expect("checked with the corrected entry"),
            day_before: 0,
            day_items_before: DayItems::default(),
            accepted: [0; 4],
            bonus: 0,
            co2e_g: c.co2e_g,
            correction: true,
        });
    }

    pub(super) fn add_credit(&mut self, e: Credit<'_>, chain: u32) {
        let member = self.member(e.member);
        if let Some(campus) = e.campus {
            let t = self.campus(campus);
            t.bonus += e.bonus;
            t.co2e_g += e.co2e_g;
            t.entries += 1;
        }
        let at = (chain, e.seq);
        // The action's key, `<integration>/<action>`: ids are unique per integration only.
        let mut h = rustc_hash::FxHasher::default();
        h.write(e.integration.as_bytes());
        h.write_u8(b'/');
        h.write(e.action.as_bytes());
        self.action_hashes.push(h.finish());
        self.places.push(at);
        self.action_ids.extend_from_slice(e.integration.as_bytes());
        self.action_ids.push(b'/');
        self.action_ids.extend_from_slice(e.action.as_bytes());
        self.action_ends.push(self.action_ids.len());
        self.links[member as usize].push(Link {
            chain,
            seq: e.seq,
            hash: e.hash,
            member_prev: e.member_prev,
            day: e.day,
            day_before: e.day_before,
            day_items_before: e.day_items_before,
            accepted: e
                .accepted
                .sorts()
                .map(|n| u32::try_from(n).unwrap_or(u32::MAX)),
            bonus: e.bonus,
            co2e_g: e.co2e_g,
            correction: false,
        });
    }

    /// The action id of entry `i`.
    fn action(&self, i: usize) -> &[u8] {
        let start = i.checked_sub(1).map_or(0, |p| self.action_ends[p]);
        &self.action_ids[start..self.action_ends[i]]
    }

    /// (repeat, first) entry indexes of every action id credited before, in the repeats'
    /// order, where first is the id's first entry.
    fn repeats(&self) -> Vec<(usize, usize)> {
        let groups = group_by_prefix(&self.action_hashes);
        let mut repeats = Vec::new();
        // Entries whose hashes share a prefix, in entry order; few share one but by repeating.
        let mut firsts: Vec<usize> = Vec::new();
        for group in groups.chunk_by(|a, b| a.0 >> PREFIX_SHIFT == b.0 >> PREFIX_SHIFT) {
            if group.len() < 2 {
                continue;
            }
            firsts.clear();
            for &(h, i) in group {
                let i = i as usize;
                let first = firsts
                    .iter()
                    .find(|&&f| self.action_hashes[f] == h && self.action(f) == self.action(i));
                match first {
                    Some(&f) => repeats.push((i, f)),
                    None => firsts.push(i),
                }
            }
        }
        repeats.sort_unstable();
        repeats
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
        let derived = self.check_entries(chains, problems);
        compare_accounts(&derived, accounts, problems);
        let campuses: BTreeMap<String, CampusTotals> = self
            .campuses
            .iter()
            .map(|t| (t.campus.clone(), t.clone()))
            .collect();
        compare_campuses(&campuses, totals, problems);
    }

    /// The checks that need only the entries: each action credited once, and each member's
    /// `member_prev` chain and daily counters. Returns the accounts the entries derive.
    pub(super) fn check_entries(
        &self,
        chains: &[ChainSummary],
        problems: &mut Vec<Problem>,
    ) -> BTreeMap<String, Account> {
        let names: Vec<&str> = chains.iter().map(|c| c.chain.as_str()).collect();
        for (repeat, first) in self.repeats() {
            let ((chain, seq), (first_chain, first_seq)) =
                (self.places[repeat], self.places[first]);
            problems.push(Problem::DuplicateAction {
                chain: names[chain as usize].to_owned(),
                seq,
                action: String::from_utf8_lossy(self.action(repeat)).into_owned(),
                first_chain: names[first_chain as usize].to_owned(),
                first_seq,
            });
        }
        member_accounts(&self.links, &self.member_names, &names, problems)
    }
}

/// Hashes sharing their top 33 bits are grouped by [`group_by_prefix`].
const PREFIX_SHIFT: u32 = 31;

/// `(hash, index)` of each hash, sorted by the hash's top 33 bits and then by index: an LSD
/// radix sort in three passes of 11 bits, which is stable, so indexes stay in order.
fn group_by_prefix(hashes: &[u64]) -> Vec<(u64, u64)> {
    const BITS: u32 = 11;
    const MASK: u64 = (1 << BITS) - 1;
    let mut a: Vec<(u64, u64)> = hashes.iter().zip(0u64..).map(|(&h, i)| (h, i)).collect();
    let mut b = vec![(0u64, 0u64); a.len()];
    for shift in [PREFIX_SHIFT, PREFIX_SHIFT + BITS, PREFIX_SHIFT + 2 * BITS] {
        let mut at = vec![0usize; 1 << BITS];
        for &(h, _) in &a {
            at[((h >> shift) & MASK) as usize] += 1;
        }
        let mut sum = 0;
        for n in at.iter_mut() {
            (*n, sum) = (sum, sum + *n);
        }
        for &x in &a {
            let d = ((x.0 >> shift) & MASK) as usize;
            b[at[d]] = x;
            at[d] += 1;
        }
        std::mem::swap(&mut a, &mut b);
    }
    a
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
    links: &[Vec<Link>],
    names: &[String],
    chains: &[&str],
    problems: &mut Vec<Problem>,
) -> BTreeMap<String, Account> {
    let mut derived = BTreeMap::new();
    for (m, links) in links.iter().enumerate() {
        let idxs = 0..links.len();
        let name = &names[m];
        let problem = |l: &Link, detail: String| Problem::MemberChain {
            chain: chains[l.chain as usize].to_owned(),
            seq: l.seq,
            member: name.clone(),
            detail,
        };
        let mut next: FxHashMap<Digest, usize> = FxHashMap::default();
        let mut forked = false;
        for i in idxs.clone() {
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
        let mut day_items: BTreeMap<Day, DayItems> = BTreeMap::new();
        let (mut cursor, mut seen, mut ok) = (ZERO, 0usize, true);
        while let Some(&i) = next.get(&cursor) {
            let l = &links[i];
            let had = days.get(&l.day).copied().unwrap_or(0);
            let had_items = day_items.get(&l.day).copied().unwrap_or_default();
            let misstated = if l.correction {
                None
            } else if l.day_before != had {
                Some(format!(
                    "day_before is {} but the member had {had} that day",
                    l.day_before
                ))
            } else if l.day_items_before != had_items {
                Some(format!(
                    "day_items_before is {} but the member had accepted {had_items} that day",
                    l.day_items_before
                ))
            } else {
                None
            };
            if let Some(detail) = misstated {
                problems.push(problem(l, detail));
                ok = false;
                break;
            }
            if l.bonus != 0 {
                days.insert(l.day, had + l.bonus);
            }
            let adds = l.accepted();
            if !adds.is_empty() {
                day_items.insert(l.day, had_items.plus(adds));
            }
            account.balance += l.bonus;
            account.co2e_g += l.co2e_g;
            account.entries += 1;
            account.head = l.hash;
            cursor = l.hash;
            seen += 1;
        }
        account.days = days.into_iter().map(|(d, p)| (d.to_string(), p)).collect();
        account.day_items = (day_items.into_iter())
            .map(|(d, items)| (d.to_string(), items))
            .collect();
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
                .clone()
                .find(|i| !reached.contains(i))
                .expect("some entry was not reached");
            problems.push(problem(
                &links[orphan],
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
    let day_items = |a: &Account| {
        let days: Vec<String> = (a.day_items.iter())
            .map(|(day, items)| format!("{day:?}: {items}"))
            .collect();
        format!("{{{}}}", days.join(", "))
    };
    let fields: [(&'static str, String, String); 6] = [
        ("balance", s.balance.to_string(), d.balance.to_string()),
        ("co2e_g", s.co2e_g.to_string(), d.co2e_g.to_string()),
        ("entries", s.entries.to_string(), d.entries.to_string()),
        ("head", s.head.to_string(), d.head.to_string()),
        ("days", format!("{:?}", s.days), format!("{:?}", d.days)),
        ("day_items", day_items(s), day_items(d)),
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
