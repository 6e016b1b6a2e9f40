//! Verification of a ledger, from its stored entries alone plus the stored totals.
//!
//! Feed each chain's stored entries in seq order ([`Verifier::chain`], [`Verifier::push`]), then
//! hand over the stored heads, accounts and campus totals ([`Verifier::finish`]). Per chain the
//! **first** failure is reported, naming chain and seq. Checks, in the order they apply to an
//! entry: it parses as a v1 entry; it names this chain; its seq is the next one (else a gap or a
//! duplicate); its `prev` is the previous entry's hash; its hash is right; its points, bonus,
//! reason, day and grams recompute from its inputs under the versions it names.
//!
//! Then, across chains: each stored head matches its chain; each member's entries form one
//! unbroken `member_prev` chain whose daily counters are right; and every stored account and
//! campus total equals the sum of its entries.

use super::{Digest, Entry, FORMAT_VERSION, ZERO};
use crate::catalog::Catalog;
use crate::store::{Account, CampusTotals, ChainHead};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::fmt;

/// One thing wrong with a ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum Problem {
    /// Not a valid v1 entry. `seq` is the position in the chain where it was found.
    Malformed { chain: String, seq: u64, detail: String },
    WrongChain { chain: String, seq: u64, found: String },
    SeqGap { chain: String, expected: u64, found: u64 },
    DuplicateSeq { chain: String, expected: u64, found: u64 },
    BrokenPrev { chain: String, seq: u64, expected: Digest, found: Digest },
    BadHash { chain: String, seq: u64, stored: Digest, computed: Digest },
    UnknownVersion { chain: String, seq: u64, version: String },
    Recomputed { chain: String, seq: u64, field: &'static str, stored: String, recomputed: String },
    HeadMismatch { chain: String, stored_size: u64, stored_hash: Digest, size: u64, hash: Digest },
    MemberChain { chain: String, seq: u64, member: String, detail: String },
    Account { member: String, field: &'static str, stored: String, derived: String },
    Campus { campus: String, field: &'static str, stored: String, derived: String },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Problem::*;
        match self {
            Malformed { chain, seq, detail } => {
                write!(f, "chain {chain} seq {seq}: malformed entry: {detail}")
            }
            WrongChain { chain, seq, found } => {
                write!(f, "chain {chain} seq {seq}: entry in the wrong chain (it names chain {found})")
            }
            SeqGap { chain, expected, found } => {
                write!(f, "chain {chain} seq {expected}: gap in seq (next entry found has seq {found})")
            }
            DuplicateSeq { chain, expected, found } => write!(
                f,
                "chain {chain} seq {expected}: duplicate or out-of-order seq (found seq {found})"
            ),
            BrokenPrev { chain, seq, expected, found } => write!(
                f,
                "chain {chain} seq {seq}: broken prev link (prev is {}, entry {} has hash {})",
                found.short(),
                seq.saturating_sub(1),
                expected.short()
            ),
            BadHash { chain, seq, stored, computed } => write!(
                f,
                "chain {chain} seq {seq}: bad hash (stored {}, computed {})",
                stored.short(),
                computed.short()
            ),
            UnknownVersion { chain, seq, version } => {
                write!(f, "chain {chain} seq {seq}: names unknown rulebook or factor version {version}")
            }
            Recomputed { chain, seq, field, stored, recomputed } => write!(
                f,
                "chain {chain} seq {seq}: {field} is {stored} but recomputes to {recomputed}"
            ),
            HeadMismatch { chain, stored_size, stored_hash, size, hash } => write!(
                f,
                "chain {chain}: stored head says {stored_size} entries ending {}, the chain has {size} ending {}",
                stored_hash.short(),
                hash.short()
            ),
            MemberChain { chain, seq, member, detail } => {
                write!(f, "chain {chain} seq {seq}: member {}…: {detail}", &member[..12.min(member.len())])
            }
            Account { member, field, stored, derived } => write!(
                f,
                "account {}…: stored {field} {stored}, entries sum to {derived}",
                &member[..12.min(member.len())]
            ),
            Campus { campus, field, stored, derived } => {
                write!(f, "campus {campus}: stored {field} {stored}, entries sum to {derived}")
            }
        }
    }
}

/// What was verified in one chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainSummary {
    pub chain: String,
    pub entries: u64,
    pub head: Digest,
}

/// The outcome of a verification.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub chains: Vec<ChainSummary>,
    pub entries: u64,
    pub members: u64,
    pub campuses: u64,
    /// False when chain failures made comparing totals meaningless.
    pub totals_checked: bool,
    pub problems: Vec<Problem>,
}

impl Report {
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }

    pub fn first_problem(&self) -> Option<&Problem> {
        self.problems.first()
    }
}

/// What the cross-chain checks need of each entry.
struct Link {
    member: u32,
    chain: u32,
    seq: u64,
    hash: Digest,
    member_prev: Digest,
    day: u32,
    day_before: i64,
    bonus: i64,
    co2e_g: i64,
}

struct ChainState {
    summary: ChainSummary,
    problem: Option<Problem>,
}

/// Streams a ledger through every check. See the module docs.
pub struct Verifier<'c> {
    catalog: &'c Catalog,
    chains: Vec<ChainState>,
    members: HashMap<String, u32>,
    member_names: Vec<String>,
    links: Vec<Link>,
    campuses: BTreeMap<String, CampusTotals>,
    buf: Vec<u8>,
}

impl<'c> Verifier<'c> {
    pub fn new(catalog: &'c Catalog) -> Self {
        Verifier {
            catalog,
            chains: Vec::new(),
            members: HashMap::new(),
            member_names: Vec::new(),
            links: Vec::new(),
            campuses: BTreeMap::new(),
            buf: Vec::with_capacity(1024),
        }
    }

    /// Starts a chain. Its entries follow through [`Verifier::push`].
    pub fn chain(&mut self, name: &str) {
        self.chains.push(ChainState {
            summary: ChainSummary {
                chain: name.to_owned(),
                entries: 0,
                head: ZERO,
            },
            problem: None,
        });
    }

    /// Checks the next stored entry of the current chain. After a chain's first problem, the
    /// rest of that chain is not examined.
    pub fn push(&mut self, stored: &[u8]) {
        let idx = self.chains.len() - 1;
        let state = self.chains.last_mut().expect("chain() comes before push()");
        if state.problem.is_some() {
            return;
        }
        let (chain, seq) = (state.summary.chain.clone(), state.summary.entries);
        let entry = match serde_json::from_slice::<Entry>(stored) {
            Ok(e) => e,
            Err(e) => return self.fail(Problem::Malformed { chain, seq, detail: e.to_string() }),
        };
        if let Err(p) = self.check(&entry, &chain, seq) {
            return self.fail(p);
        }
        let state = &mut self.chains[idx].summary;
        state.entries += 1;
        state.head = entry.hash;
        self.tally(entry, idx as u32);
    }

    fn fail(&mut self, p: Problem) {
        self.chains.last_mut().expect("a chain").problem = Some(p);
    }

    /// The per-entry checks, in the documented order.
    fn check(&mut self, e: &Entry, chain: &str, seq: u64) -> Result<(), Problem> {
        let malformed = |detail: &str| Problem::Malformed {
            chain: chain.to_owned(),
            seq,
            detail: detail.to_owned(),
        };
        if e.v != FORMAT_VERSION {
            return Err(malformed(&format!("format version {} is not {FORMAT_VERSION}", e.v)));
        }
        if !e.integers_are_safe() {
            return Err(malformed("an integer is outside ±(2^53 - 1)"));
        }
        if let Err(bad) = e.items.validate_for(e.kind) {
            return Err(malformed(&bad.message));
        }
        if e.chain != chain {
            return Err(Problem::WrongChain { chain: chain.to_owned(), seq, found: e.chain.clone() });
        }
        if e.seq != seq {
            let (expected, found) = (seq, e.seq);
            let chain = chain.to_owned();
            return Err(if found > expected {
                Problem::SeqGap { chain, expected, found }
            } else {
                Problem::DuplicateSeq { chain, expected, found }
            });
        }
        let expected_prev = self.chains.last().expect("a chain").summary.head;
        if e.prev != expected_prev {
            return Err(Problem::BrokenPrev { chain: chain.to_owned(), seq, expected: expected_prev, found: e.prev });
        }
        let computed = e.compute_hash(&mut self.buf);
        if computed != e.hash {
            return Err(Problem::BadHash { chain: chain.to_owned(), seq, stored: e.hash, computed });
        }
        self.recompute(e, chain, seq)
    }

    /// Recomputes the amounts from the entry's inputs under the versions it names.
    fn recompute(&self, e: &Entry, chain: &str, seq: u64) -> Result<(), Problem> {
        let unknown = |version: &str| Problem::UnknownVersion {
            chain: chain.to_owned(),
            seq,
            version: version.to_owned(),
        };
        let rulebook = self.catalog.rulebook(&e.rulebook).ok_or_else(|| unknown(&e.rulebook))?;
        let factors = self.catalog.factors(&e.factors).ok_or_else(|| unknown(&e.factors))?;
        let a = rulebook.assess(e.kind, &e.items, e.at, e.day_before);
        let co2e_g = factors.co2e_g(e.kind, &e.items);
        let mismatch = |field, stored: String, recomputed: String| {
            Err(Problem::Recomputed { chain: chain.to_owned(), seq, field, stored, recomputed })
        };
        if e.points != a.points {
            return mismatch("points", e.points.to_string(), a.points.to_string());
        }
        if e.bonus != a.bonus {
            return mismatch("bonus", e.bonus.to_string(), a.bonus.to_string());
        }
        if e.reason != a.reason {
            return mismatch("reason", e.reason.as_str().into(), a.reason.as_str().into());
        }
        if e.day != a.day {
            return mismatch("day", e.day.clone(), a.day);
        }
        if e.co2e_g != co2e_g {
            return mismatch("co2e_g", e.co2e_g.to_string(), co2e_g.to_string());
        }
        Ok(())
    }

    /// Keeps what the cross-chain checks need.
    fn tally(&mut self, e: Entry, chain: u32) {
        let next = self.member_names.len() as u32;
        let member = *self.members.entry(e.member.as_str().to_owned()).or_insert(next);
        if member == next {
            self.member_names.push(e.member.as_str().to_owned());
        }
        if let Some(campus) = &e.campus {
            let t = self.campuses.entry(campus.clone()).or_insert_with(|| CampusTotals {
                campus: campus.clone(),
                ..CampusTotals::default()
            });
            t.bonus += e.bonus;
            t.co2e_g += e.co2e_g;
            t.entries += 1;
        }
        self.links.push(Link {
            member,
            chain,
            seq: e.seq,
            hash: e.hash,
            member_prev: e.member_prev,
            day: day_number(&e.day),
            day_before: e.day_before,
            bonus: e.bonus,
            co2e_g: e.co2e_g,
        });
    }

    /// Runs the cross-chain checks against the stored heads, accounts and campus totals.
    pub fn finish(self, heads: &[ChainHead], accounts: &[Account], totals: &[CampusTotals]) -> Report {
        let mut problems: Vec<Problem> = Vec::new();
        let mut summaries = Vec::with_capacity(self.chains.len());
        for c in self.chains {
            problems.extend(c.problem);
            summaries.push(c.summary);
        }
        let chain_failed = !problems.is_empty();
        let mut report = Report {
            entries: summaries.iter().map(|c| c.entries).sum(),
            members: self.member_names.len() as u64,
            campuses: self.campuses.len() as u64,
            chains: summaries,
            totals_checked: !chain_failed,
            problems,
        };
        if chain_failed {
            return report; // later checks would only echo the chain failure
        }
        let p = &mut report.problems;
        check_heads(&report.chains, heads, p);
        let names: Vec<&str> = report.chains.iter().map(|c| c.chain.as_str()).collect();
        let derived = member_accounts(&self.links, &self.member_names, &names, p);
        compare_accounts(&derived, accounts, p);
        compare_campuses(&self.campuses, totals, p);
        report
    }
}

/// `YYYY-MM-DD` as the number YYYYMMDD (days compare for equality only).
fn day_number(day: &str) -> u32 {
    day.bytes().filter(u8::is_ascii_digit).fold(0u32, |n, d| n.wrapping_mul(10).wrapping_add((d - b'0') as u32))
}

fn day_text(n: u32) -> String {
    format!("{:04}-{:02}-{:02}", n / 10_000, n / 100 % 100, n % 100)
}

fn check_heads(chains: &[ChainSummary], heads: &[ChainHead], problems: &mut Vec<Problem>) {
    let stored: HashMap<&str, &ChainHead> = heads.iter().map(|h| (h.chain.as_str(), h)).collect();
    for c in chains {
        let (stored_size, stored_hash) = stored.get(c.chain.as_str()).map_or((0, ZERO), |h| (h.size, h.hash));
        if (stored_size, stored_hash) != (c.entries, c.head) {
            problems.push(Problem::HeadMismatch { chain: c.chain.clone(), stored_size, stored_hash, size: c.entries, hash: c.head });
        }
    }
    for h in heads {
        if h.size > 0 && !chains.iter().any(|c| c.chain == h.chain) {
            problems.push(Problem::HeadMismatch { chain: h.chain.clone(), stored_size: h.size, stored_hash: h.hash, size: 0, hash: ZERO });
        }
    }
}

/// Walks each member's `member_prev` chain from its first entry and derives their account.
fn member_accounts(links: &[Link], names: &[String], chains: &[&str], problems: &mut Vec<Problem>) -> BTreeMap<String, Account> {
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
        let mut next: HashMap<Digest, usize> = HashMap::with_capacity(idxs.len());
        let mut forked = false;
        for &i in idxs {
            if next.insert(links[i].member_prev, i).is_some() {
                problems.push(problem(&links[i], "a second entry claims the same member_prev (fork)".into()));
                forked = true;
                break;
            }
        }
        if forked {
            continue;
        }
        let mut account = Account::new(crate::domain::MemberId::parse(name).expect("entries parsed"));
        let mut days: HashMap<u32, i64> = HashMap::new();
        let (mut cursor, mut seen, mut ok) = (ZERO, 0usize, true);
        while let Some(&i) = next.get(&cursor) {
            let l = &links[i];
            let had = days.get(&l.day).copied().unwrap_or(0);
            if l.day_before != had {
                problems.push(problem(l, format!("day_before is {} but the member had {had} that day", l.day_before)));
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
        account.days = days.into_iter().map(|(d, p)| (day_text(d), p)).collect();
        if ok && seen != idxs.len() {
            let reached: std::collections::HashSet<usize> = {
                let mut r = std::collections::HashSet::new();
                let mut c = ZERO;
                while let Some(&i) = next.get(&c) {
                    r.insert(i);
                    c = links[i].hash;
                }
                r
            };
            let orphan = idxs.iter().find(|i| !reached.contains(i)).expect("some entry was not reached");
            problems.push(problem(&links[*orphan], "member_prev does not lead back to the member's first entry".into()));
            continue;
        }
        derived.insert(name.clone(), account);
    }
    derived
}

fn compare_accounts(derived: &BTreeMap<String, Account>, stored: &[Account], problems: &mut Vec<Problem>) {
    let none = |m: &str| Account::new(crate::domain::MemberId::parse(m).expect("hex"));
    let mut seen = std::collections::HashSet::new();
    for s in stored {
        seen.insert(s.member.as_str());
        let d = derived.get(s.member.as_str()).cloned().unwrap_or_else(|| none(s.member.as_str()));
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
        problems.push(Problem::Account { member: s.member.as_str().to_owned(), field, stored, derived });
    }
}

fn compare_campuses(derived: &BTreeMap<String, CampusTotals>, stored: &[CampusTotals], problems: &mut Vec<Problem>) {
    let mut all: BTreeMap<&str, (CampusTotals, CampusTotals)> = BTreeMap::new();
    for s in stored {
        all.entry(&s.campus).or_default().0 = s.clone();
    }
    for (c, d) in derived {
        all.entry(c).or_default().1 = d.clone();
    }
    for (campus, (s, d)) in all {
        let fields: [(&'static str, i64, i64); 3] =
            [("bonus", s.bonus, d.bonus), ("co2e_g", s.co2e_g, d.co2e_g), ("entries", s.entries as i64, d.entries as i64)];
        if let Some((field, a, b)) = fields.into_iter().find(|(_, a, b)| a != b) {
            problems.push(Problem::Campus { campus: campus.to_owned(), field, stored: a.to_string(), derived: b.to_string() });
        }
    }
}
