//! Requantification: a new factor table's grams for entries already credited, by appending
//! correction entries (format 2.2), never by rewriting one (`docs/ledger-format.md` §13). The
//! job behind `greenloop requantify`.
//!
//! It publishes the factor table and puts it in force for crediting (which reads it under each
//! chain's claim), then for each chain, holding the chain's claim as crediting does: a first pass reads the chain's corrections, so it knows the version each entry counts
//! under now; a second pass appends a correction for every credit entry that counts under
//! another version and whose grams the new table moves. Each append is one atomic batch
//! (entries, the members' accounts, the campuses' days), conditioned on the head and each
//! account, so it is exactly once whatever is retried: run again, or after a crash half way,
//! the first pass sees the corrections already made and nothing is corrected twice. Points are
//! never requantified: a bonus paid stays paid.

use crate::credit::budget::Budget;
use crate::credit::writer::Writer;
use crate::store::{
    Account, AccountUpdate, AppendError, CampusDay, ChainHead, CreditBatch, CreditStore, StoreError,
};
use greenloop_core::catalog::{Catalog, Rules};
use greenloop_core::domain::MemberId;
use greenloop_core::factors::FactorTable;
use greenloop_core::ledger::correction::{brand_deltas, delta};
use greenloop_core::ledger::{CorrectionEntry, Digest, Entry, Leaf};
use std::collections::{BTreeMap, HashMap, HashSet};

/// Corrections per append: each brings its entry, its member's account and a campus day, well
/// within DynamoDB's 100 items a transaction.
pub const BATCH: usize = 25;
/// Entries read per page.
const PAGE: usize = 500;
/// Passes over a chain before giving up on it for this run: a pass restarts after a fault
/// that may have left its write behind (the head moved, or an answer was lost).
const PASSES: u32 = 8;

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Requantified {
    pub chains: usize,
    /// Correction entries appended by this run: those past each chain's head as it claimed it,
    /// whether or not their write's answer was lost.
    pub corrected: u64,
    /// The sum of their deltas, grams.
    pub delta_g: i64,
    /// Credit entries already counted under the new version (corrected before, or credited
    /// under it).
    pub current: u64,
    /// Credit entries whose grams the new version does not move: left as they are.
    pub unmoved: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum RequantifyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("chain {0} stayed claimed by another writer; run again")]
    Busy(String),
    #[error("chain {chain} seq {seq} counts under {from}, a version unknown to the catalog")]
    UnknownVersion {
        chain: String,
        seq: u64,
        from: String,
    },
    #[error(
        "chain {chain} seq {seq} was corrected from {from} to {to} before: a pair of versions \
         corrects an entry once, so publish the table under a new version name"
    )]
    PairUsed {
        chain: String,
        seq: u64,
        from: String,
        to: String,
    },
    #[error("chain {0}: gave up after {PASSES} passes that kept meeting faults; run again")]
    GaveUp(String),
}

/// Requantifies every chain to `rules.factors` (published first, with `rules.rulebook`), at
/// `at` (Unix seconds, the corrections' time).
pub async fn requantify(
    store: &dyn CreditStore,
    rules: &Rules,
    at: i64,
) -> Result<Requantified, RequantifyError> {
    store.put_rules(rules).await?;
    // Before any chain is claimed: crediting reads it under each claim, so what it credits on a
    // chain after this run has passed it counts under the new table already.
    store.put_factors_in_force(&rules.factors).await?;
    let catalog = store.catalog().await?;
    let mut out = Requantified::default();
    for head in store.chain_heads().await? {
        chain(store, &catalog, &rules.factors, &head.chain, at, &mut out).await?;
        out.chains += 1;
    }
    // Campus totals moved: the public ranking follows at once, not at the next crediting run.
    crate::credit::ranking::keep(store, at, 0).await?;
    Ok(out)
}

async fn chain(
    store: &dyn CreditStore,
    catalog: &Catalog,
    to: &FactorTable,
    chain: &str,
    at: i64,
    out: &mut Requantified,
) -> Result<(), RequantifyError> {
    let budget = Budget::default();
    let (mut retried, mut waited) = (0, 0);
    let Some(mut writer) = Writer::claim(store, chain, &budget, &mut retried, &mut waited).await?
    else {
        return Err(RequantifyError::Busy(chain.to_owned()));
    };
    let mut result = Err(RequantifyError::GaveUp(chain.to_owned()));
    // The chain's size when this run first read it: corrections past it are this run's.
    let mut start = None;
    for _ in 0..PASSES {
        let mut pass = Requantified::default();
        match one_pass(store, catalog, to, &mut writer, at, &mut start, &mut pass).await {
            Ok(()) => {
                result = Ok(pass);
                break;
            }
            // A write may have landed (a lost answer) or another writer moved the head: read
            // the chain again. The next pass counts this run's corrections on it, made or lost.
            Err(Pass::Again) => writer.forget(),
            Err(Pass::Failed(e)) => {
                result = Err(e);
                break;
            }
        }
    }
    writer.release(store).await;
    let pass = result?;
    out.corrected += pass.corrected;
    out.delta_g += pass.delta_g;
    out.current += pass.current;
    out.unmoved += pass.unmoved;
    Ok(())
}

enum Pass {
    Again,
    Failed(RequantifyError),
}

impl From<StoreError> for Pass {
    fn from(e: StoreError) -> Self {
        if e.is_transient() {
            Pass::Again
        } else {
            Pass::Failed(e.into())
        }
    }
}

/// Both passes over the chain as its head stands now.
async fn one_pass(
    store: &dyn CreditStore,
    catalog: &Catalog,
    to: &FactorTable,
    writer: &mut Writer<'_>,
    at: i64,
    start: &mut Option<u64>,
    out: &mut Requantified,
) -> Result<(), Pass> {
    let chain = writer.chain;
    let size = writer.head(store).await?.size;
    let start = *start.get_or_insert(size);
    // Pass 1: the corrections so far, by the entry they correct. Those past `start` are this
    // run's, from an earlier pass whose answer may have been lost: counted as made.
    let mut corrected: HashMap<u64, Vec<(String, String)>> = HashMap::new();
    let mut mine: HashSet<u64> = HashSet::new();
    let mut seq = 0;
    while seq < size {
        for leaf in page(store, chain, &mut seq, size).await? {
            if let Leaf::Correction(c) = leaf {
                if c.seq >= start && c.to == to.version {
                    out.corrected += 1;
                    out.delta_g += c.co2e_g;
                    mine.insert(c.corrects.seq);
                }
                let pairs = corrected.entry(c.corrects.seq).or_default();
                pairs.push((c.from, c.to));
            }
        }
    }
    // Pass 2: a correction for each entry that counts under another version and moves.
    let mut todo: Vec<(Entry, &FactorTable)> = Vec::new();
    let mut seq = 0;
    while seq < size {
        for leaf in page(store, chain, &mut seq, size).await? {
            let Leaf::Credit(e) = leaf else { continue };
            let pairs = corrected.get(&e.seq);
            let counted = pairs
                .and_then(|p| p.last())
                .map_or(e.factors.clone(), |(_, t)| t.clone());
            if counted == to.version {
                if !mine.contains(&e.seq) {
                    out.current += 1;
                }
                continue;
            }
            let Some(from) = catalog.factors(&counted) else {
                return Err(Pass::Failed(RequantifyError::UnknownVersion {
                    chain: chain.to_owned(),
                    seq: e.seq,
                    from: counted,
                }));
            };
            if delta(&e, from, to) == 0 && brand_deltas(&e, from, to).is_empty() {
                out.unmoved += 1;
                continue;
            }
            if pairs.is_some_and(|p| p.iter().any(|(f, t)| *f == counted && *t == to.version)) {
                return Err(Pass::Failed(RequantifyError::PairUsed {
                    chain: chain.to_owned(),
                    seq: e.seq,
                    from: counted,
                    to: to.version.clone(),
                }));
            }
            todo.push((e, from));
            if todo.len() == BATCH {
                append(store, to, writer, at, &todo, out).await?;
                todo.clear();
            }
        }
    }
    if !todo.is_empty() {
        append(store, to, writer, at, &todo, out).await?;
    }
    Ok(())
}

/// The next page of `chain`'s entries from `seq` (moved past them), below `size`, read.
async fn page(
    store: &dyn CreditStore,
    chain: &str,
    seq: &mut u64,
    size: u64,
) -> Result<Vec<Leaf>, Pass> {
    let page = store
        .entries(chain, *seq, PAGE.min((size - *seq) as usize))
        .await?;
    if page.is_empty() {
        return Err(StoreError::Corrupt(format!("chain {chain} has no entry {seq}")).into());
    }
    *seq += page.len() as u64;
    let read = page
        .iter()
        .map(|bytes| Leaf::read(bytes).map(|(leaf, _)| leaf));
    Ok(read
        .collect::<Result<_, _>>()
        .map_err(StoreError::Corrupt)?)
}

/// Appends the corrections of `todo`, planned on the members' accounts as read; a batch whose
/// account moved meanwhile (crediting on another chain) is planned again.
async fn append(
    store: &dyn CreditStore,
    to: &FactorTable,
    writer: &mut Writer<'_>,
    at: i64,
    todo: &[(Entry, &FactorTable)],
    out: &mut Requantified,
) -> Result<(), Pass> {
    for _ in 0..PASSES {
        writer.renew(store).await?;
        let head = writer.head(store).await?;
        let batch = plan(store, to, head, at, todo).await?;
        match store.append(&batch).await {
            Ok(()) => {
                writer.wrote(batch.new_head(), false);
                out.corrected += batch.corrections.len() as u64;
                out.delta_g += batch.corrections.iter().map(|c| c.co2e_g).sum::<i64>();
                return Ok(());
            }
            Err(AppendError::AccountMoved(_)) => continue,
            Err(AppendError::HeadMoved(_)) => return Err(Pass::Again),
            Err(AppendError::Store(e)) => return Err(e.into()),
            Err(AppendError::NotPending(ids)) => {
                return Err(StoreError::Corrupt(format!(
                    "a correction batch was refused for actions {ids:?}"
                ))
                .into())
            }
        }
    }
    Err(Pass::Again)
}

/// The batch correcting `todo` on `head`: each correction joins its member's chain, moves the
/// member's grams and their campus's grams on the corrected entry's day.
async fn plan(
    store: &dyn CreditStore,
    to: &FactorTable,
    head: ChainHead,
    at: i64,
    todo: &[(Entry, &FactorTable)],
) -> Result<CreditBatch, StoreError> {
    let mut members: Vec<MemberId> = todo.iter().map(|(e, _)| e.member.clone()).collect();
    members.sort();
    members.dedup();
    // Each account with the head it was read at, which the append is conditioned on.
    let mut accounts: BTreeMap<MemberId, (Digest, Account)> = BTreeMap::new();
    for a in store.accounts(&members).await? {
        accounts.insert(a.member.clone(), (a.head, a));
    }
    let (mut seq, mut prev) = (head.size, head.hash);
    let mut corrections = Vec::with_capacity(todo.len());
    let mut campuses: BTreeMap<(String, String), CampusDay> = BTreeMap::new();
    for (e, from) in todo {
        let (_, account) = accounts
            .get_mut(&e.member)
            .ok_or_else(|| StoreError::Corrupt("an account read answered nothing".into()))?;
        let c = CorrectionEntry::new(e.clone(), from, to, seq, prev, account.head, at);
        account.co2e_g += c.co2e_g;
        account.entries += 1;
        account.head = c.hash;
        if let Some(campus) = &e.campus {
            let day = campuses
                .entry((campus.clone(), e.day.clone()))
                .or_insert_with(|| CampusDay::empty(campus, &e.day));
            day.co2e_g += c.co2e_g;
        }
        (seq, prev) = (seq + 1, c.hash);
        corrections.push(c);
    }
    Ok(CreditBatch {
        expected: head,
        entries: Vec::new(),
        corrections,
        accounts: accounts
            .into_values()
            .map(|(expected_head, account)| AccountUpdate {
                expected_head,
                account,
            })
            .collect(),
        campuses: campuses.into_values().collect(),
        collected: Vec::new(),
        release: None,
    })
}
