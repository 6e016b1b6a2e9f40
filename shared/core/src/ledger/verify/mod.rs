//! Verification of a ledger, from its stored entries alone plus the stored totals.
//!
//! Feed each chain's stored entries in seq order ([`Verifier::chain`], [`Verifier::push`]), then
//! hand over the stored heads, accounts and campus totals ([`Verifier::finish`]). Per chain the
//! **first** failure is reported, naming chain and seq. Checks, in the order they apply to an
//! entry: it parses as a v2 entry; it names this chain; its seq is the next one (else a gap or a
//! duplicate); its `prev` is the previous entry's hash; its hash is right; its points, bonus,
//! reason, day and grams recompute from its inputs under the versions it names.
//!
//! Then, across chains: each stored head matches its chain; each member's entries form one
//! unbroken `member_prev` chain whose daily counters (`day_before`, `day_items_before`) are
//! right; and every stored account and campus total equals the sum of its entries.
//!
//! Two paths check an entry, and they agree by construction:
//! - `inspect`: the general path. It parses the entry and recomputes its amounts on its own
//!   (in parallel over batches when the verifier has threads), then runs the checks that need
//!   its place in the chain, in the order above, and names the first problem.
//! - `in_place`: the fast path. It checks the stored bytes where they lie, without copying,
//!   and takes only an entry that passes everything; anything else goes to the general path,
//!   so every verdict is the general path's.

#[cfg(test)]
mod disposition_tests;
mod in_place;
mod inspect;
#[cfg(test)]
mod tests;

use super::balance::Balance;
pub use super::problem::Problem;
pub use super::report::{ChainSummary, Report};
use super::totals::{accepted, Credit, Tally};
use super::{Digest, ZERO};
use crate::catalog::Catalog;
use crate::checkpoint::Checkpoint;
use crate::disposition::Params;
use crate::factors::FactorTable;
use crate::ledger::collected;
use crate::merkle::frontier::Frontier;
use crate::records::{Account, CampusTotals, ChainHead};
use crate::rulebook::{Day, Rulebook};
use rustc_hash::{FxHashMap, FxHashSet};

/// Entries inspected together, in parallel, before the in-order checks.
const BATCH: usize = 4_096;

struct ChainState {
    summary: ChainSummary,
    problem: Option<Problem>,
    /// The tree so far, kept only while checkpoints remain to be matched.
    tree: Option<Frontier>,
    /// Checkpoints not reached yet, largest first.
    checkpoints: Vec<Checkpoint>,
    /// Every entry's hash so far, by seq, while the chain is read: a correction names the
    /// entry it corrects by its place and hash.
    hashes: Vec<Digest>,
    /// Places that hold no credit entry (disposition and correction entries).
    typed: FxHashSet<u64>,
    /// Each corrected entry's corrections so far, in order: (from, to, the correction's seq).
    corrected: FxHashMap<u64, Vec<(String, String, u64)>>,
}

impl ChainState {
    /// Takes a checked entry: the tree, the count, the head, its hash by place.
    fn take(&mut self, hash: Digest) -> Result<(), Problem> {
        self.grow(hash)?;
        self.summary.entries += 1;
        self.summary.head = hash;
        self.hashes.push(hash);
        Ok(())
    }

    /// The chain is read: what only its own corrections needed goes.
    fn close(&mut self) {
        self.hashes = Vec::new();
        self.typed = FxHashSet::default();
        self.corrected = FxHashMap::default();
    }

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
    /// Stations' stock, tickets and batches: the mass balance.
    balance: Balance,
    params: &'static Params,
    /// The versions and day the last entry named, looked up once for a run of entries.
    last: Last<'c>,
    /// Problems found outside the entries (see [`Verifier::note`]).
    noted: Vec<Problem>,
    /// The stored disposition totals per chain, when the source has them.
    disposition: Option<Vec<(String, crate::disposition::Totals)>>,
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
            balance: Balance::default(),
            params: Params::builtin(),
            last: Last::default(),
            noted: Vec::new(),
            disposition: None,
        }
    }

    /// Starts a chain. Its entries follow through [`Verifier::push`].
    pub fn chain(&mut self, name: &str) {
        self.flush();
        if let Some(last) = self.chains.last_mut() {
            last.close();
        }
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
            hashes: Vec::new(),
            typed: FxHashSet::default(),
            corrected: FxHashMap::default(),
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

    /// The stored disposition totals of each chain, to compare in [`Verifier::finish`] with
    /// what the entries add up to (a source that keeps none skips the comparison).
    pub fn disposition_totals(&mut self, stored: Vec<(String, crate::disposition::Totals)>) {
        self.disposition = Some(stored);
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
                let ins = inspect::inspect(self.catalog, self.params, stored);
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

    /// Runs the cross-chain checks against the stored heads, accounts and campus totals.
    pub fn finish(
        mut self,
        heads: &[ChainHead],
        accounts: &[Account],
        totals: &[CampusTotals],
    ) -> Report {
        let catalog = self.catalog;
        let stored = self.disposition.take();
        let (mut report, tally, balance, params) = self.chains_report();
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
            check_balance(&balance, catalog, params, &mut report);
            if let Some(stored) = stored {
                let names: Vec<String> = report.chains.iter().map(|c| c.chain.clone()).collect();
                balance.compare(&names, &stored, &mut report.problems);
            }
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
        let catalog = self.catalog;
        let (mut report, tally, balance, params) = self.chains_report();
        if report.totals_checked {
            tally.check_entries(&report.chains, &mut report.problems);
            check_balance(&balance, catalog, params, &mut report);
        }
        report.totals_checked = false;
        report
    }

    /// The report of the per-chain checks (`totals_checked`: whether every chain is intact),
    /// and the tally for the cross-chain ones.
    fn chains_report(mut self) -> (Report, Tally, Balance, &'static Params) {
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
        (report, self.tally, self.balance, self.params)
    }
}

/// The mass balance's sums across chains, once every chain is intact.
fn check_balance(balance: &Balance, catalog: &Catalog, params: &Params, report: &mut Report) {
    let names: Vec<String> = report.chains.iter().map(|c| c.chain.clone()).collect();
    let name = |c: u32| names[c as usize].clone();
    balance.check(&name, catalog.factor_tables(), params, &mut report.problems);
}
