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

use super::canonical::{self, EntryRef};
pub use super::problem::Problem;
pub use super::report::{ChainSummary, Report};
use super::totals::{Credit, Tally};
use super::{Digest, Entry, FORMAT_VERSION, ZERO};
use crate::catalog::Catalog;
use crate::checkpoint::Checkpoint;
use crate::factors::FactorTable;
use crate::merkle::frontier::Frontier;
use crate::records::{Account, CampusTotals, ChainHead};
use crate::rulebook::{Day, Rulebook};

/// Entries inspected together, in parallel, before the in-order checks.
const BATCH: usize = 4_096;

struct ChainState {
    summary: ChainSummary,
    problem: Option<Problem>,
    /// The tree so far, kept only while checkpoints remain to be matched.
    tree: Option<Frontier>,
    /// Checkpoints not reached yet, largest first.
    checkpoints: Vec<Checkpoint>,
}

impl ChainState {
    /// Adds a verified entry's hash to the tree; at a checkpoint's size, compares roots.
    fn grow(&mut self, hash: Digest) -> Result<(), Problem> {
        let Some(tree) = self.tree.as_mut() else {
            return Ok(());
        };
        tree.push_with(hash, |_| {});
        while let Some(c) = self.checkpoints.last().filter(|c| c.size == tree.size()) {
            let computed = tree.root();
            if computed != c.root {
                return Err(Problem::CheckpointMismatch {
                    chain: c.chain.clone(),
                    size: c.size,
                    signed: c.root,
                    computed,
                });
            }
            self.summary.checkpoint = self.checkpoints.pop();
        }
        if self.checkpoints.is_empty() {
            self.tree = None;
        }
        Ok(())
    }
}

/// Streams a ledger through every check. See the module docs.
///
/// Work that needs only the entry itself (parsing, hashing, recomputing) runs on all cores over
/// batches of entries; the checks that need the previous entry then run in order.
pub struct Verifier<'c> {
    catalog: &'c Catalog,
    threads: usize,
    chains: Vec<ChainState>,
    /// Buffered stored entries of the current chain: bytes, and where each one ends.
    arena: Vec<u8>,
    ends: Vec<usize>,
    tally: Tally,
    /// The versions and day the last entry named, looked up once for a run of entries.
    last: Last<'c>,
    /// Problems found outside the entries (see [`Verifier::note`]).
    noted: Vec<Problem>,
}

/// The last lookups of [`Verifier::push_direct`]; entries mostly name what the previous one did.
#[derive(Default)]
struct Last<'c> {
    rulebook: Option<&'c Rulebook>,
    factors: Option<&'c FactorTable>,
    day: Option<([u8; 10], Day)>,
}

impl<'c> Verifier<'c> {
    /// A verifier on the caller's thread: checking each entry in place, with no copy, outruns
    /// inspecting copied batches on two threads (docs/performance.md, "Verification").
    pub fn new(catalog: &'c Catalog) -> Self {
        Self::with_threads(catalog, 1)
    }

    /// A verifier that inspects entries on `threads` threads (1: all on the caller's thread).
    pub fn with_threads(catalog: &'c Catalog, threads: usize) -> Self {
        Verifier {
            catalog,
            threads: threads.max(1),
            chains: Vec::new(),
            arena: Vec::new(),
            ends: Vec::new(),
            tally: Tally::default(),
            last: Last::default(),
            noted: Vec::new(),
        }
    }

    /// Starts a chain. Its entries follow through [`Verifier::push`].
    pub fn chain(&mut self, name: &str) {
        self.flush();
        self.chains.push(ChainState {
            summary: ChainSummary {
                chain: name.to_owned(),
                entries: 0,
                head: ZERO,
                checkpoint: None,
            },
            problem: None,
            tree: None,
            checkpoints: Vec::new(),
        });
    }

    /// The current chain's published checkpoints, already authenticated: each is matched when
    /// the chain reaches its size, and a chain that never does was truncated. Call it right
    /// after [`Verifier::chain`].
    pub fn checkpoints(&mut self, mut checkpoints: Vec<Checkpoint>) {
        let state = self
            .chains
            .last_mut()
            .expect("chain() comes before checkpoints()");
        assert_eq!(
            state.summary.entries, 0,
            "checkpoints() comes before push()"
        );
        checkpoints.sort_by_key(|c| std::cmp::Reverse(c.size));
        // The empty tree's root is fixed; there is nothing to match.
        checkpoints.retain(|c| c.size > 0);
        state.tree = (!checkpoints.is_empty()).then(Frontier::default);
        state.checkpoints = checkpoints;
    }

    /// A problem found outside the entries, such as in the layout of an export. It is
    /// reported before the chains' problems and, like them, stops the cross-chain checks.
    pub fn note(&mut self, problem: Problem) {
        self.noted.push(problem);
    }

    /// Takes the next stored entry of the current chain. After a chain's first problem, the
    /// rest of that chain is not examined.
    pub fn push(&mut self, stored: &[u8]) {
        let state = self.chains.last().expect("chain() comes before push()");
        if state.problem.is_some() {
            return;
        }
        if self.threads == 1 {
            // Nothing to share out: check it in place, without the batch copy.
            if !self.push_direct(stored) {
                let idx = self.chains.len() - 1;
                let ins = inspect(self.catalog, stored);
                self.accept(ins, idx);
            }
            return;
        }
        self.arena.extend_from_slice(stored);
        self.ends.push(self.arena.len());
        if self.ends.len() == BATCH {
            self.flush();
        }
    }

    /// Inspects the buffered entries in parallel, then checks them in order.
    fn flush(&mut self) {
        if self.ends.is_empty() {
            return;
        }
        let mut slices = Vec::with_capacity(self.ends.len());
        let mut start = 0;
        for &end in &self.ends {
            slices.push(&self.arena[start..end]);
            start = end;
        }
        let catalog = self.catalog;
        let inspected = parallel_map(&slices, self.threads, |s| inspect(catalog, s));
        self.arena.clear();
        self.ends.clear();
        for ins in inspected {
            let idx = self.chains.len() - 1;
            if self.chains[idx].problem.is_some() {
                break;
            }
            self.accept(ins, idx);
        }
    }

    /// The in-order checks of an inspected entry; then it joins chain `idx` and the tally.
    fn accept(&mut self, ins: Inspected, idx: usize) {
        match self.in_order(ins, idx) {
            Ok(entry) => {
                let state = &mut self.chains[idx];
                if let Err(p) = state.grow(entry.hash) {
                    state.problem = Some(p);
                    return;
                }
                state.summary.entries += 1;
                state.summary.head = entry.hash;
                self.tally.add(entry, idx as u32);
            }
            Err(p) => self.chains[idx].problem = Some(p),
        }
    }

    /// Every check of one entry, in place: the stored bytes are read without copying or
    /// allocating ([`canonical::scan_ref`]). Only an entry that passes them all is taken; on
    /// anything else this returns false having changed nothing the report sees, and the general path
    /// ([`inspect`], [`Verifier::in_order`]) finds and names the problem, so verdicts are
    /// the general path's.
    fn push_direct(&mut self, stored: &[u8]) -> bool {
        let Some(s) = canonical::scan_ref(stored) else {
            return false;
        };
        let e = &s.entry;
        let idx = self.chains.len() - 1;
        let summary = &self.chains[idx].summary;
        // Format (scan_ref already holds every integer within ±(2^53 - 1)), then place.
        if e.v != FORMAT_VERSION
            || !e.items.valid_for(e.kind)
            || e.chain != summary.chain
            || e.seq != summary.entries
            || e.prev != summary.head
        {
            return false;
        }
        let Some(day) = self.recomputes(e) else {
            return false;
        };
        let hash = s.leaf_hash(stored);
        if hash != e.hash {
            return false;
        }
        let state = &mut self.chains[idx];
        if let Err(p) = state.grow(hash) {
            state.problem = Some(p);
            return true;
        }
        state.summary.entries += 1;
        state.summary.head = hash;
        self.tally.add_credit(
            Credit {
                member: e.member,
                campus: e.campus,
                action: e.action,
                seq: e.seq,
                hash,
                member_prev: e.member_prev,
                day,
                day_before: e.day_before,
                bonus: e.bonus,
                co2e_g: e.co2e_g,
            },
            idx as u32,
        );
        true
    }

    /// Whether the entry's amounts recompute exactly as [`recompute`] checks them; then the
    /// entry's day.
    fn recomputes(&mut self, e: &EntryRef<'_>) -> Option<Day> {
        let rulebook = match self.last.rulebook {
            Some(r) if r.version == e.rulebook => r,
            _ => {
                let r = self.catalog.rulebook(e.rulebook)?;
                self.last.rulebook = Some(r);
                r
            }
        };
        let factors = match self.last.factors {
            Some(f) if f.version == e.factors => f,
            _ => {
                let f = self.catalog.factors(e.factors)?;
                self.last.factors = Some(f);
                f
            }
        };
        let items = &e.items;
        let points = rulebook.points_of(
            e.kind,
            items.books,
            items.lots(),
            items.clothing_g,
            items.shoes,
        );
        let a = rulebook.assess_points(points, e.at, e.day_before);
        let co2e_g = factors.co2e_g_of(
            e.kind,
            items.box_count,
            items.clothing_g,
            items.shoes,
            items.books,
        );
        if e.points != a.points || e.bonus != a.bonus || e.reason != a.reason || e.co2e_g != co2e_g
        {
            return None;
        }
        let day = match self.last.day {
            Some((text, day)) if text == e.day.as_bytes() => day,
            _ => {
                let day = Day::parse(e.day)?;
                self.last.day = Some((e.day.as_bytes().try_into().ok()?, day));
                day
            }
        };
        (day == a.day).then_some(day)
    }

    /// The checks that need the entry's place in its chain, in the documented order.
    fn in_order(&self, ins: Inspected, idx: usize) -> Result<Entry, Problem> {
        let ChainSummary {
            chain,
            entries: seq,
            head,
            ..
        } = &self.chains[idx].summary;
        let (chain, seq) = (chain.as_str(), *seq);
        let (entry, computed, flaw) = match ins {
            Inspected::Unreadable(detail) => {
                return Err(Problem::Malformed {
                    chain: chain.into(),
                    seq,
                    detail,
                })
            }
            Inspected::Read {
                entry,
                computed,
                flaw,
            } => (entry, computed, flaw),
        };
        let flaw = match flaw {
            Some(Flaw::Format(detail)) => {
                return Err(Problem::Malformed {
                    chain: chain.into(),
                    seq,
                    detail,
                })
            }
            other => other,
        };
        if entry.chain != chain {
            return Err(Problem::WrongChain {
                chain: chain.into(),
                seq,
                found: entry.chain,
            });
        }
        if entry.seq != seq {
            let (expected, found, chain) = (seq, entry.seq, chain.to_owned());
            return Err(if found > expected {
                Problem::SeqGap {
                    chain,
                    expected,
                    found,
                }
            } else {
                Problem::DuplicateSeq {
                    chain,
                    expected,
                    found,
                }
            });
        }
        if entry.prev != *head {
            return Err(Problem::BrokenPrev {
                chain: chain.into(),
                seq,
                expected: *head,
                found: entry.prev,
            });
        }
        if computed != entry.hash {
            return Err(Problem::BadHash {
                chain: chain.into(),
                seq,
                stored: entry.hash,
                computed,
            });
        }
        match flaw {
            Some(Flaw::UnknownVersion(version)) => Err(Problem::UnknownVersion {
                chain: chain.into(),
                seq,
                version,
            }),
            Some(Flaw::Recomputed {
                field,
                stored,
                recomputed,
            }) => Err(Problem::Recomputed {
                chain: chain.into(),
                seq,
                field,
                stored,
                recomputed,
            }),
            Some(Flaw::Format(_)) => unreachable!("handled first"),
            None => Ok(entry),
        }
    }

    /// Runs the cross-chain checks against the stored heads, accounts and campus totals.
    pub fn finish(
        self,
        heads: &[ChainHead],
        accounts: &[Account],
        totals: &[CampusTotals],
    ) -> Report {
        let (mut report, tally) = self.chains_report();
        let chain_failed = !report.totals_checked;
        if !chain_failed {
            // Later checks would only echo a chain failure, so they run on intact chains only.
            tally.check(
                &report.chains,
                heads,
                accounts,
                totals,
                &mut report.problems,
            );
        }
        report
    }
}

impl Verifier<'_> {
    /// Finishes when there is no stored state to compare, as for a JSON Lines export: the
    /// per-chain checks, then, if every chain is intact, the cross-chain checks that need only
    /// the entries (each action credited once; each member's `member_prev` chain and daily
    /// counters). No stored heads, accounts or campus totals are compared, so
    /// [`Report::totals_checked`] is false.
    pub fn finish_entries_only(self) -> Report {
        let (mut report, tally) = self.chains_report();
        if report.totals_checked {
            tally.check_entries(&report.chains, &mut report.problems);
        }
        report.totals_checked = false;
        report
    }

    /// The report of the per-chain checks (`totals_checked`: whether every chain is intact),
    /// and the tally for the cross-chain ones.
    fn chains_report(mut self) -> (Report, Tally) {
        self.flush();
        let mut problems = std::mem::take(&mut self.noted);
        let mut summaries = Vec::with_capacity(self.chains.len());
        for c in self.chains {
            let truncated = c.checkpoints.first().map(|last| Problem::Truncated {
                chain: c.summary.chain.clone(),
                entries: c.summary.entries,
                checkpoint: last.size,
            });
            problems.extend(c.problem.or(truncated));
            summaries.push(c.summary);
        }
        let chain_failed = !problems.is_empty();
        let report = Report {
            entries: summaries.iter().map(|c| c.entries).sum(),
            members: self.tally.member_count(),
            campuses: self.tally.campus_count(),
            chains: summaries,
            totals_checked: !chain_failed,
            checkpoints_authenticated: false,
            problems,
        };
        (report, self.tally)
    }
}

/// What an entry yields on its own, without its neighbours: the parallel part of the work.
// `Read` is the common case; boxing it would cost an allocation per entry.
#[allow(clippy::large_enum_variant)]
enum Inspected {
    Unreadable(String),
    Read {
        entry: Entry,
        computed: Digest,
        flaw: Option<Flaw>,
    },
}

/// A problem an entry has on its own; it becomes a [`Problem`] once its place is known.
enum Flaw {
    /// Checked before the chain checks.
    Format(String),
    UnknownVersion(String),
    Recomputed {
        field: &'static str,
        stored: String,
        recomputed: String,
    },
}

fn inspect(catalog: &Catalog, stored: &[u8]) -> Inspected {
    let (entry, computed) = match canonical::read(stored) {
        Ok(read) => read,
        Err(detail) => return Inspected::Unreadable(detail),
    };
    let flaw = format_flaw(&entry).or_else(|| recompute(catalog, &entry));
    Inspected::Read {
        entry,
        computed,
        flaw,
    }
}

fn format_flaw(e: &Entry) -> Option<Flaw> {
    if e.v != FORMAT_VERSION {
        return Some(Flaw::Format(format!(
            "format version {} is not {FORMAT_VERSION}",
            e.v
        )));
    }
    if !e.integers_are_safe() {
        return Some(Flaw::Format("an integer is outside ±(2^53 - 1)".into()));
    }
    e.items
        .validate_for(e.kind)
        .err()
        .map(|bad| Flaw::Format(bad.message))
}

/// Recomputes the amounts from the entry's inputs under the versions it names.
fn recompute(catalog: &Catalog, e: &Entry) -> Option<Flaw> {
    let Some(rulebook) = catalog.rulebook(&e.rulebook) else {
        return Some(Flaw::UnknownVersion(e.rulebook.clone()));
    };
    let Some(factors) = catalog.factors(&e.factors) else {
        return Some(Flaw::UnknownVersion(e.factors.clone()));
    };
    let a = rulebook.assess(e.kind, &e.items, e.at, e.day_before);
    let co2e_g = factors.co2e_g(e.kind, &e.items);
    let mismatch = |field, stored: String, recomputed: String| {
        Some(Flaw::Recomputed {
            field,
            stored,
            recomputed,
        })
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
    if Day::parse(&e.day) != Some(a.day) {
        return mismatch("day", e.day.clone(), a.day.to_string());
    }
    if e.co2e_g != co2e_g {
        return mismatch("co2e_g", e.co2e_g.to_string(), co2e_g.to_string());
    }
    None
}

/// `f` over `items` on up to `threads` threads, results in input order.
fn parallel_map<T: Sync, R: Send>(
    items: &[T],
    threads: usize,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    if threads <= 1 || items.len() < 256 {
        return items.iter().map(&f).collect();
    }
    let chunk = items.len().div_ceil(threads);
    std::thread::scope(|s| {
        let f = &f;
        let mut parts = items.chunks(chunk);
        let first = parts.next().expect("items is not empty");
        let handles: Vec<_> = parts
            .map(|part| s.spawn(move || part.iter().map(f).collect::<Vec<R>>()))
            .collect();
        let mut out: Vec<R> = first.iter().map(f).collect();
        for h in handles {
            out.extend(h.join().expect("inspection does not panic"));
        }
        out
    })
}
