//! Verifying a DynamoDB export, whose edge may show a transaction half-applied.
//!
//! An export is a point in time per item, not per transaction: the last append of a chain may
//! show its entries without the head that commits them, or the head without some entries, and
//! the accounts and campus days it touched either way. So an export is held to its checkpoints:
//! everything up to each chain's latest signed checkpoint must be there and give the signed
//! root. Past it, only what a transaction in flight explains is set aside as the edge, and
//! reported; anything else is a problem as in a live store:
//! - a gap in seq after the checkpoint (entries of the append not exported yet);
//! - a head that disagrees with entries past the checkpoint;
//! - an account that disagrees, if its member has an entry past its chain's head, or if some
//!   head is ahead of the exported entries (their members are unknown);
//! - a campus total that disagrees, if any chain has an edge.
//!
//! An edited, inserted, reordered or re-hashed entry is never the edge, nor is anything before a
//! checkpoint.

use super::export::Snapshot;
use super::{verify_chains, PAGE};
use crate::store::{LedgerSource, StoreError};
use greenloop_core::checkpoint::{PublicKey, SignedCheckpoint};
use greenloop_core::ledger::verify::{Problem, Report};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// A verification of an export: the report, with what lies at the edge taken out of its
/// problems.
#[derive(Debug, Clone, Serialize)]
pub struct ExportReport {
    pub report: Report,
    /// Per chain with an edge: what lies past its checkpoint and head.
    pub edge: Vec<ChainEdge>,
    /// Disagreements the edge explains: reported, not failures.
    pub in_flight: Vec<Problem>,
}

/// What one chain shows past its latest checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainEdge {
    pub chain: String,
    /// The latest authenticated checkpoint's size (0: none).
    pub checkpoint: u64,
    /// Entries exported past the checkpoint.
    pub past_checkpoint: u64,
    /// The exported head's size, if a head was exported.
    pub head: Option<u64>,
    /// Entries exported past the head: an append whose head was not exported.
    pub past_head: u64,
}

/// Verifies an export against its checkpoints; see the module docs.
/// `kept` are checkpoints the auditor kept from earlier, as in [`super::verify_kept`].
pub async fn verify_export(
    snapshot: &Snapshot,
    key: Option<&PublicKey>,
    kept: &[SignedCheckpoint],
    progress: impl FnMut(u64) + Send,
) -> Result<ExportReport, StoreError> {
    let (mut report, checkpointed) =
        verify_chains(snapshot, snapshot.chains(), key, kept, progress).await?;
    let heads: BTreeMap<String, u64> = snapshot
        .chain_heads()
        .await?
        .into_iter()
        .map(|h| (h.chain, h.size))
        .collect();
    let mut edge = Vec::new();
    let mut members_past_head = BTreeSet::new();
    let mut head_ahead = false;
    for c in &report.chains {
        let checkpoint = checkpointed.get(&c.chain).copied().unwrap_or(0);
        let head = heads.get(&c.chain).copied();
        let exported = snapshot.last_seq(&c.chain).map_or(0, |s| s + 1);
        let past_head = exported.saturating_sub(head.unwrap_or(0));
        head_ahead |= head.is_some_and(|h| h > c.entries);
        let mut from = head.unwrap_or(0);
        while from < exported {
            let page = snapshot.entries(&c.chain, from, PAGE).await?;
            if page.is_empty() {
                break;
            }
            from += page.len() as u64;
            for e in &page {
                members_past_head.extend(member_of(e));
            }
        }
        if exported > checkpoint || head != Some(exported) {
            edge.push(ChainEdge {
                chain: c.chain.clone(),
                checkpoint,
                past_checkpoint: exported.saturating_sub(checkpoint),
                head,
                past_head,
            });
        }
    }
    let at_edge = |p: &Problem| match p {
        Problem::SeqGap {
            chain, expected, ..
        } => edge
            .iter()
            .any(|e| e.chain == *chain && *expected >= e.checkpoint),
        Problem::HeadMismatch {
            chain,
            stored_size,
            size,
            ..
        } => edge
            .iter()
            .any(|e| e.chain == *chain && (*stored_size).min(*size) >= e.checkpoint),
        Problem::Account { member, .. } => head_ahead || members_past_head.contains(member),
        Problem::Campus { .. } => !edge.is_empty(),
        _ => false,
    };
    let (in_flight, problems): (Vec<Problem>, Vec<Problem>) =
        report.problems.drain(..).partition(|p| at_edge(p));
    report.problems = problems;
    Ok(ExportReport {
        report,
        edge,
        in_flight,
    })
}

/// The member of a stored entry, read without checking it (the verifier does that).
fn member_of(stored: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Member {
        member: String,
    }
    serde_json::from_slice::<Member>(stored)
        .ok()
        .map(|m| m.member)
}
