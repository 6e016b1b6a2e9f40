//! What an auditor is handed, and the one verifier every client uses on it.
//!
//! The audit API serves these as JSON and `greenloop` checks them offline with the same
//! functions: there is no other path to "verified". Every function pins the log's public key,
//! checks every step, and refuses a proof for a size other than its checkpoint's. A checkpoint
//! binds chain and size; the proofs bind entries to it:
//! - [`InclusionProof`]: one entry is in a checkpoint's tree;
//! - [`ConsistencyProof`]: a later checkpoint extends an earlier one;
//! - [`Statement`]: a member's whole history, linked by `member_prev`, each entry included in
//!   a checkpoint of its chain, summing to their account. The API serves it in
//!   [`StatementPage`]s, which [`Statement::join`] puts back together.

use crate::checkpoint::{Checkpoint, CheckpointError, PublicKey, SignedCheckpoint};
use crate::ledger::{Digest, Leaf, ZERO};
use crate::merkle::{consistency, inclusion, ProofError};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::collections::BTreeMap;

/// Entry `seq` of `chain` is leaf `seq` of the tree of `size` entries.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InclusionProof {
    pub chain: String,
    pub seq: u64,
    pub size: u64,
    /// The entry exactly as stored; its leaf hash is recomputed from these bytes.
    pub entry: Box<RawValue>,
    /// Sibling hashes, lowest first.
    pub proof: Vec<Digest>,
}

/// The tree of `second` entries extends the tree of `first` entries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyProof {
    pub chain: String,
    pub first: u64,
    pub second: u64,
    pub proof: Vec<Digest>,
}

/// A member's entries, newest first, against the checkpoints that cover them.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Statement {
    pub member: String,
    /// The account as stored: what the statement must add up to.
    pub balance: i64,
    pub co2e_g: i64,
    pub entries: u64,
    pub head: Digest,
    /// The checkpoints the proofs are in: one per chain, or more when a chain was signed again
    /// while the statement's pages were read. Each proof names its size.
    pub checkpoints: Vec<SignedCheckpoint>,
    /// Every entry, newest first, each with its inclusion proof.
    pub proofs: Vec<InclusionProof>,
}

/// One page of a member statement: the account and the checkpoints as read for this page, and
/// the next entries, newest first, each proven in one of those checkpoints. `next` is the
/// member's own number of the oldest entry given (their first is 0): the page to ask for next
/// holds the entries before it. None once the member's first entry is given.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatementPage {
    pub member: String,
    pub balance: i64,
    pub co2e_g: i64,
    pub entries: u64,
    pub head: Digest,
    pub checkpoints: Vec<SignedCheckpoint>,
    pub proofs: Vec<InclusionProof>,
    pub next: Option<u64>,
}

impl Statement {
    /// The statement that pages, newest first, make up: the first page's account (later pages
    /// hold only older entries, so it is the one their proofs add up to), every proof in order,
    /// and each distinct checkpoint once. None without a page. Nothing is checked here; that
    /// is [`verify_statement`]'s job.
    pub fn join(pages: impl IntoIterator<Item = StatementPage>) -> Option<Statement> {
        let mut pages = pages.into_iter();
        let first = pages.next()?;
        let mut s = Statement {
            member: first.member,
            balance: first.balance,
            co2e_g: first.co2e_g,
            entries: first.entries,
            head: first.head,
            checkpoints: first.checkpoints,
            proofs: first.proofs,
        };
        for page in pages {
            join_page(
                &mut s.checkpoints,
                &mut s.proofs,
                page.checkpoints,
                page.proofs,
            );
        }
        sort_checkpoints(&mut s.checkpoints);
        Some(s)
    }
}

/// Adds a later page's proofs, in order, and the checkpoints not given yet.
pub(crate) fn join_page(
    checkpoints: &mut Vec<SignedCheckpoint>,
    proofs: &mut Vec<InclusionProof>,
    more_checkpoints: Vec<SignedCheckpoint>,
    more_proofs: Vec<InclusionProof>,
) {
    proofs.extend(more_proofs);
    for c in more_checkpoints {
        if !checkpoints.contains(&c) {
            checkpoints.push(c);
        }
    }
}

/// The entry `p` proves in the checkpoint of its chain and size (from [`checkpoints_by_tree`]),
/// whatever its type.
pub(crate) fn proven_leaf(
    key: &PublicKey,
    by_tree: &BTreeMap<(&str, u64), &SignedCheckpoint>,
    p: &InclusionProof,
    fail: impl Fn(String) -> AuditError,
) -> Result<Leaf, AuditError> {
    let c = by_tree.get(&(p.chain.as_str(), p.size)).ok_or_else(|| {
        fail(format!(
            "no checkpoint for chain {} at size {}",
            p.chain, p.size
        ))
    })?;
    verify_inclusion(key, c, p)
}

/// Joined pages' checkpoints in (chain, size) order.
pub(crate) fn sort_checkpoints(checkpoints: &mut [SignedCheckpoint]) {
    checkpoints.sort_by(|a, b| {
        (&a.checkpoint.chain, a.checkpoint.size).cmp(&(&b.checkpoint.chain, b.checkpoint.size))
    });
}

/// Why a proof was refused: the first failed step.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuditError {
    #[error("checkpoint of chain {chain} at size {size}: {error}")]
    Checkpoint {
        chain: String,
        size: u64,
        error: CheckpointError,
    },
    #[error("the proof is for chain {got}, the checkpoint for chain {want}")]
    OtherChain { got: String, want: String },
    #[error("the proof is for size {got}, the checkpoint is of size {want}")]
    OtherSize { got: u64, want: u64 },
    #[error("chain {chain} seq {seq}: {detail}")]
    Entry {
        chain: String,
        seq: u64,
        detail: String,
    },
    #[error("chain {chain}: {error}")]
    Proof { chain: String, error: ProofError },
    #[error("member statement: {0}")]
    Statement(String),
    #[error("brand statement: {0}")]
    BrandStatement(String),
}

/// The checkpoint, if `key` signed exactly it.
pub fn verify_checkpoint<'a>(
    key: &PublicKey,
    signed: &'a SignedCheckpoint,
) -> Result<&'a Checkpoint, AuditError> {
    key.verify(signed).map_err(|error| AuditError::Checkpoint {
        chain: signed.checkpoint.chain.clone(),
        size: signed.checkpoint.size,
        error,
    })
}

/// The entry (either type), if it is in the signed checkpoint's tree.
pub fn verify_inclusion(
    key: &PublicKey,
    checkpoint: &SignedCheckpoint,
    proof: &InclusionProof,
) -> Result<Leaf, AuditError> {
    let c = verify_checkpoint(key, checkpoint)?;
    same_tree(c, &proof.chain, proof.size)?;
    let bad = |detail: String| AuditError::Entry {
        chain: proof.chain.clone(),
        seq: proof.seq,
        detail,
    };
    let (entry, computed) = Leaf::read(proof.entry.get().as_bytes()).map_err(bad)?;
    if entry.hash() != computed {
        return Err(bad(format!(
            "stored hash {} but the entry hashes to {}",
            entry.hash().short(),
            computed.short()
        )));
    }
    if entry.chain() != proof.chain || entry.seq() != proof.seq {
        return Err(bad(format!(
            "the entry is chain {} seq {}",
            entry.chain(),
            entry.seq()
        )));
    }
    inclusion::verify(proof.seq, proof.size, &computed, &proof.proof, &c.root).map_err(
        |error| AuditError::Proof {
            chain: proof.chain.clone(),
            error,
        },
    )?;
    Ok(entry)
}

/// Checks that the newer signed checkpoint extends the older one.
pub fn verify_consistency(
    key: &PublicKey,
    older: &SignedCheckpoint,
    newer: &SignedCheckpoint,
    proof: &ConsistencyProof,
) -> Result<(), AuditError> {
    let (old, new) = (
        verify_checkpoint(key, older)?,
        verify_checkpoint(key, newer)?,
    );
    same_tree(old, &proof.chain, proof.first)?;
    same_tree(new, &proof.chain, proof.second)?;
    consistency::verify(
        proof.first,
        proof.second,
        &old.root,
        &new.root,
        &proof.proof,
    )
    .map_err(|error| AuditError::Proof {
        chain: proof.chain.clone(),
        error,
    })
}

/// What a verified statement shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verified {
    pub member: String,
    pub entries: u64,
    pub balance: i64,
    pub co2e_g: i64,
}

/// A statement's checkpoints, each verified, by (chain, size); two for one tree is refused
/// with `fail`.
pub(crate) fn checkpoints_by_tree<'a>(
    key: &PublicKey,
    checkpoints: &'a [SignedCheckpoint],
    fail: impl Fn(String) -> AuditError,
) -> Result<BTreeMap<(&'a str, u64), &'a SignedCheckpoint>, AuditError> {
    let mut by_tree = BTreeMap::new();
    for c in checkpoints {
        verify_checkpoint(key, c)?;
        if by_tree
            .insert((c.checkpoint.chain.as_str(), c.checkpoint.size), c)
            .is_some()
        {
            return Err(fail(format!(
                "two checkpoints for chain {} at size {}",
                c.checkpoint.chain, c.checkpoint.size
            )));
        }
    }
    Ok(by_tree)
}

/// Checks a member statement: every checkpoint is signed; every entry is in a signed
/// checkpoint of its chain at the size its proof names; the entries link from the account's head
/// back to the member's first entry, so none is missing between; and their sums are the
/// account's.
pub fn verify_statement(key: &PublicKey, s: &Statement) -> Result<Verified, AuditError> {
    let fail = |m: String| AuditError::Statement(m);
    let by_tree = checkpoints_by_tree(key, &s.checkpoints, fail)?;
    let mut expect = s.head;
    let (mut balance, mut co2e_g) = (0i64, 0i64);
    for p in &s.proofs {
        // A member's chain holds their credit entries and the corrections of them (2.2).
        let leaf = proven_leaf(key, &by_tree, p, fail)?;
        let (member, member_prev, bonus, grams) = match &leaf {
            Leaf::Credit(e) => (&e.member, e.member_prev, e.bonus, e.co2e_g),
            Leaf::Correction(c) => (&c.member, c.member_prev, 0, c.co2e_g),
            Leaf::Disposition(_) => {
                return Err(fail(format!(
                    "chain {} seq {} is not a member's entry",
                    p.chain, p.seq
                )))
            }
        };
        if member.as_str() != s.member {
            return Err(fail(format!(
                "chain {} seq {} is another member's",
                leaf.chain(),
                leaf.seq()
            )));
        }
        if leaf.hash() != expect {
            return Err(fail(format!(
                "chain {} seq {} is not the entry before: expected hash {}",
                leaf.chain(),
                leaf.seq(),
                expect.short()
            )));
        }
        expect = member_prev;
        balance += bonus;
        co2e_g += grams;
    }
    if expect != ZERO {
        return Err(fail(format!(
            "history incomplete: the oldest entry given links to {}",
            expect.short()
        )));
    }
    let n = s.proofs.len() as u64;
    for (what, stated, summed) in [
        ("entries", s.entries as i64, n as i64),
        ("balance", s.balance, balance),
        ("co2e_g", s.co2e_g, co2e_g),
    ] {
        if stated != summed {
            return Err(fail(format!(
                "account {what} is {stated}, its entries sum to {summed}"
            )));
        }
    }
    Ok(Verified {
        member: s.member.clone(),
        entries: n,
        balance,
        co2e_g,
    })
}

/// A proof must be about exactly the checkpoint's tree: its chain, and its size, never larger.
fn same_tree(c: &Checkpoint, chain: &str, size: u64) -> Result<(), AuditError> {
    if c.chain != chain {
        return Err(AuditError::OtherChain {
            got: chain.to_owned(),
            want: c.chain.clone(),
        });
    }
    if c.size != size {
        return Err(AuditError::OtherSize {
            got: size,
            want: c.size,
        });
    }
    Ok(())
}
