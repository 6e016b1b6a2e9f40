//! Reading a whole ledger out of any [`LedgerSource`], page by page: verification and JSON Lines
//! export. A source is a store, a remote deployment's audit API (`greenloop verify --url`) or a
//! DynamoDB export ([`export`]); a JSON Lines export is verified as a stream ([`jsonl`]).
//!
//! Both walk the chains named by the stored chain heads, in chain-name order, and each chain in
//! seq order. The checks themselves are the pure core's [`greenloop_core::ledger::verify`].

pub mod edge;
pub mod export;
pub mod jsonl;

use crate::store::{LedgerSource, StoreError};
use greenloop_core::brand::check::FoldCheck;
use greenloop_core::checkpoint::{Checkpoint, PublicKey, SignedCheckpoint};
use greenloop_core::ledger::verify::{Problem, Report, Verifier};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::io::Write;

/// Entries read per store call.
pub const PAGE: usize = 1_000;

/// Verifies every chain, then the stored accounts and campus totals against the entries.
/// Checkpoints are matched by root but not authenticated: see [`verify_pinned`].
pub async fn verify_store<S: LedgerSource + ?Sized>(
    store: &S,
    progress: impl FnMut(u64) + Send,
) -> Result<Report, StoreError> {
    verify_pinned(store, None, progress).await
}

/// Verifies every chain against its published checkpoints, then the stored accounts and campus
/// totals against the entries. With the log's `key`, a checkpoint it did not sign is a problem
/// and is not matched; without it, checkpoints are matched as they are
/// ([`Report::checkpoints_authenticated`] is false). `progress` is told how many entries were
/// just checked.
pub async fn verify_pinned<S: LedgerSource + ?Sized>(
    store: &S,
    key: Option<&PublicKey>,
    progress: impl FnMut(u64) + Send,
) -> Result<Report, StoreError> {
    verify_kept(store, key, &[], progress).await
}

/// [`verify_pinned`], also against checkpoints the auditor `kept` from earlier: those bind the
/// store even if it no longer holds them, and name chains it no longer lists.
pub async fn verify_kept<S: LedgerSource + ?Sized>(
    store: &S,
    key: Option<&PublicKey>,
    kept: &[SignedCheckpoint],
    progress: impl FnMut(u64) + Send,
) -> Result<Report, StoreError> {
    let chains: Vec<String> = store
        .chain_heads()
        .await?
        .into_iter()
        .map(|h| h.chain)
        .collect();
    Ok(verify_chains(store, chains, key, kept, progress).await?.0)
}

/// Verifies `chains` and the stored state; also returns each chain's largest authenticated
/// checkpoint size.
async fn verify_chains<S: LedgerSource + ?Sized>(
    store: &S,
    mut chains: Vec<String>,
    key: Option<&PublicKey>,
    kept: &[SignedCheckpoint],
    mut progress: impl FnMut(u64) + Send,
) -> Result<(Report, BTreeMap<String, u64>), StoreError> {
    let catalog = store.catalog().await?;
    let mut heads = store.chain_heads().await?;
    heads.sort_by(|a, b| a.chain.cmp(&b.chain));
    chains.extend(kept.iter().map(|c| c.checkpoint.chain.clone()));
    chains.sort();
    chains.dedup();
    let mut verifier = Verifier::new(&catalog);
    // Read first: entries below the cursors are checkpointed, so still there when read.
    let brands = store.stored_brand_figures().await?;
    let mut fold_check = brands
        .as_ref()
        .map(|b| FoldCheck::new(&catalog, b.cursors.clone()));
    let mut forged = Vec::new();
    let mut checkpointed = BTreeMap::new();
    for chain in &chains {
        verifier.chain(chain);
        let mut held = store.checkpoints(chain).await?;
        held.extend(
            kept.iter()
                .filter(|c| c.checkpoint.chain == *chain)
                .cloned(),
        );
        let signed = authenticate(key, chain, held, &mut forged);
        checkpointed.insert(
            chain.clone(),
            signed.iter().map(|c| c.size).max().unwrap_or(0),
        );
        verifier.checkpoints(signed);
        let mut from = 0;
        loop {
            let page = store.entries(chain, from, PAGE).await?;
            let Some(last) = page.last() else { break };
            from = next_seq(last)
                .filter(|&n| n > from)
                .unwrap_or(from + page.len() as u64);
            page.iter().for_each(|e| verifier.push(e));
            if let Some(check) = fold_check.as_mut() {
                page.iter().for_each(|e| check.push(chain, e));
            }
            progress(page.len() as u64);
        }
    }
    let mut accounts = Vec::new();
    loop {
        let page = store
            .account_page(
                accounts.last().map(|a: &crate::store::Account| &a.member),
                PAGE,
            )
            .await?;
        if page.is_empty() {
            break;
        }
        accounts.extend(page);
    }
    let totals = store.campus_totals().await?;
    if let Some(stored) = store.stored_disposition_totals().await? {
        verifier.disposition_totals(stored);
    }
    let mut report = verifier.finish(&heads, &accounts, &totals);
    // Brand figures are checked on intact chains only, like the other stored totals.
    if let (Some(check), Some(brands)) = (fold_check, brands) {
        if report.totals_checked {
            report.problems.extend(check.finish(&brands.standings));
        }
    }
    report.checkpoints_authenticated = key.is_some();
    report.problems.splice(0..0, forged);
    Ok((report, checkpointed))
}

/// The checkpoints of `chain` that `key` signed (all of them without a key); each other one is
/// a [`Problem::BadCheckpoint`] in `problems`, and is not matched.
pub fn authenticate(
    key: Option<&PublicKey>,
    chain: &str,
    checkpoints: Vec<SignedCheckpoint>,
    problems: &mut Vec<Problem>,
) -> Vec<Checkpoint> {
    let mut signed = Vec::new();
    for c in checkpoints {
        let bad = |detail: String| Problem::BadCheckpoint {
            chain: chain.to_owned(),
            size: c.checkpoint.size,
            detail,
        };
        match key.map(|k| greenloop_core::proof::verify_checkpoint(k, &c)) {
            Some(Err(e)) => problems.push(bad(e.to_string())),
            _ if c.checkpoint.chain != chain => {
                problems.push(bad(format!("it names chain {}", c.checkpoint.chain)))
            }
            _ => signed.push(c.checkpoint),
        }
    }
    signed
}

/// Writes every entry as one line of canonical JSON, in (chain, seq) order. Returns the count.
pub async fn export_store<S: LedgerSource + ?Sized>(
    store: &S,
    out: &mut (dyn Write + Send),
) -> Result<u64, ExportError> {
    let mut heads = store.chain_heads().await?;
    heads.sort_by(|a, b| a.chain.cmp(&b.chain));
    let mut n = 0;
    for head in &heads {
        let mut from = 0;
        loop {
            let page = store.entries(&head.chain, from, PAGE).await?;
            let Some(last) = page.last() else { break };
            from = next_seq(last)
                .filter(|&n| n > from)
                .unwrap_or(from + page.len() as u64);
            for e in &page {
                out.write_all(e)?;
                out.write_all(b"\n")?;
            }
            n += page.len() as u64;
        }
    }
    out.flush()?;
    Ok(n)
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot write the export: {0}")]
    Io(#[from] std::io::Error),
}

/// The seq after a stored entry, read from the entry itself so paging survives missing keys.
fn next_seq(stored: &[u8]) -> Option<u64> {
    #[derive(Deserialize)]
    struct Seq {
        seq: u64,
    }
    serde_json::from_slice::<Seq>(stored)
        .ok()
        .map(|s| s.seq + 1)
}
