//! Each chain's Merkle tree as the store keeps it: publishing signed checkpoints, and answering
//! inclusion and consistency proofs with O(log n) reads.
//!
//! The checkpoint job is the tree's only writer. It restores the frontier of the latest
//! checkpoint from stored nodes, reads only the entries appended since, checks their links,
//! stores the nodes they complete, and signs the new root. Nodes of levels 1 to
//! [`STORED_FROM`]` - 1` are not stored: each is recomputed from at most 8 entry hashes, so the
//! tree costs one stored node per 16 entries instead of one per entry.

use crate::store::{CheckpointStore, LedgerSource, Members, StoreError, TreeStore};
use greenloop_core::checkpoint::{Checkpoint, LogKey, SignedCheckpoint};
use greenloop_core::domain::MemberId;
use greenloop_core::ledger::{Digest, Leaf, ZERO};
use greenloop_core::merkle::frontier::{nodes_needed, tiles, Frontier, Nodes};
use greenloop_core::merkle::{consistency, inclusion, root, ProofError};
use greenloop_core::proof::{ConsistencyProof, InclusionProof, Statement, StatementPage};
use serde_json::value::RawValue;
use std::collections::{BTreeMap, HashMap};

/// The lowest stored level above the entries: subtrees of 16 entries.
pub const STORED_FROM: u32 = 4;

/// Entries read per store call while publishing; nodes are written after each page.
const PAGE: usize = 1_000;

/// A catch-up signs a checkpoint every this many entries.
const CATCH_UP: u64 = 100_000;

/// Why a proof could not be given.
#[derive(Debug, thiserror::Error)]
pub enum TreeError {
    /// The question has no answer: an index or size out of range.
    #[error(transparent)]
    Proof(#[from] ProofError),
    /// The tree is asked about beyond the chain's latest checkpoint, or about entries no
    /// checkpoint covers yet.
    #[error("{0}")]
    NotCheckpointed(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The nodes at `keys` with what they need, from one batch of store reads: stored levels as
/// they are, lower ones from their entries.
pub async fn nodes<S: CheckpointStore + ?Sized>(
    store: &S,
    chain: &str,
    keys: &[(u32, u64)],
) -> Result<Nodes, StoreError> {
    let mut reads: Vec<(u32, u64)> = Vec::new();
    for &(level, index) in keys {
        if level == 0 || level >= STORED_FROM {
            reads.push((level, index));
        } else {
            reads.extend((index << level..(index + 1) << level).map(|leaf| (0, leaf)));
        }
    }
    reads.sort_unstable();
    reads.dedup();
    let found = store.tree_nodes(chain, &reads).await?;
    let missing = |(level, index): (u32, u64)| {
        StoreError::NotFound(format!("tree node {level}/{index} of chain {chain}"))
    };
    let mut out = HashMap::with_capacity(keys.len());
    for &(level, index) in keys {
        let hash = if level == 0 || level >= STORED_FROM {
            *found.get(&(level, index)).ok_or(missing((level, index)))?
        } else {
            let leaves = (index << level..(index + 1) << level)
                .map(|leaf| found.get(&(0, leaf)).copied().ok_or(missing((0, leaf))))
                .collect::<Result<Vec<_>, _>>()?;
            root(&leaves)
        };
        out.insert((level, index), hash);
    }
    Ok(Nodes(out))
}

/// The audit path of entry `seq` in the tree of the chain's first `size` entries.
pub async fn inclusion_proof<S: CheckpointStore + ?Sized>(
    store: &S,
    chain: &str,
    seq: u64,
    size: u64,
) -> Result<Vec<Digest>, TreeError> {
    let keys = nodes_needed(|t| inclusion::prove(t, seq, size));
    let nodes = nodes(store, chain, &keys).await?;
    Ok(inclusion::prove(&nodes, seq, size)?)
}

/// The proof that the chain's first `second` entries extend its first `first`.
pub async fn consistency_proof<S: CheckpointStore + ?Sized>(
    store: &S,
    chain: &str,
    first: u64,
    second: u64,
) -> Result<Vec<Digest>, TreeError> {
    let keys = nodes_needed(|t| consistency::prove(t, first, second));
    let nodes = nodes(store, chain, &keys).await?;
    Ok(consistency::prove(&nodes, first, second)?)
}

/// Entry `seq` with its audit path in the tree of `size` entries (default: the latest
/// checkpoint's), which no checkpoint may be smaller than.
pub async fn inclusion<S: LedgerSource + CheckpointStore + ?Sized>(
    store: &S,
    chain: &str,
    seq: u64,
    size: Option<u64>,
) -> Result<InclusionProof, TreeError> {
    let size = checkpointed(store, chain, size).await?;
    if seq >= size {
        return Err(ProofError::IndexOutOfRange { index: seq, size }.into());
    }
    let entry = store
        .entries(chain, seq, 1)
        .await?
        .pop()
        .ok_or_else(|| StoreError::NotFound(format!("chain {chain} seq {seq}")))?;
    proven(store, chain, seq, size, entry).await
}

/// The stored entry `seq`, as read, with its audit path in the tree of `size` entries.
async fn proven<S: CheckpointStore + ?Sized>(
    store: &S,
    chain: &str,
    seq: u64,
    size: u64,
    entry: Vec<u8>,
) -> Result<InclusionProof, TreeError> {
    let proof = inclusion_proof(store, chain, seq, size).await?;
    with_entry(chain.to_owned(), seq, size, entry, proof)
}

/// An audit path with the stored entry it is for, as read.
fn with_entry(
    chain: String,
    seq: u64,
    size: u64,
    entry: Vec<u8>,
    proof: Vec<Digest>,
) -> Result<InclusionProof, TreeError> {
    let corrupt = |why: String| StoreError::Corrupt(format!("chain {chain} seq {seq}: {why}"));
    let entry = String::from_utf8(entry).map_err(|_| corrupt("not UTF-8".into()))?;
    let entry = RawValue::from_string(entry).map_err(|e| corrupt(e.to_string()))?;
    Ok(InclusionProof {
        chain,
        seq,
        size,
        entry,
        proof,
    })
}

/// The proof that the tree of `second` entries (default: the latest checkpoint's) extends the
/// tree of `first`.
pub async fn consistency<S: LedgerSource + CheckpointStore + ?Sized>(
    store: &S,
    chain: &str,
    first: u64,
    second: Option<u64>,
) -> Result<ConsistencyProof, TreeError> {
    let second = checkpointed(store, chain, second).await?;
    Ok(ConsistencyProof {
        chain: chain.to_owned(),
        first,
        second,
        proof: consistency_proof(store, chain, first, second).await?,
    })
}

/// Most entries in one page of a member statement: each comes with its proof (about 2.5 KB
/// together), so a page stays near 250 KB, far under Lambda's 6 MB answer.
pub const STATEMENT_PAGE: usize = 100;

/// One page of a member's statement: their account, and their entries before their own number
/// `before` (None: from the newest the account counts), newest first, at most `limit`, each
/// proven in the latest checkpoint of its chain. Refused while an entry is newer than its
/// chain's checkpoint. Costs one account read, one read of the entries, one checkpoint read per
/// chain and one batch of tree node reads per chain, whatever `limit` is.
pub async fn statement_page<S: LedgerSource + CheckpointStore + Members + ?Sized>(
    store: &S,
    member: &MemberId,
    before: Option<u64>,
    limit: usize,
) -> Result<StatementPage, TreeError> {
    let account = store
        .accounts(std::slice::from_ref(member))
        .await?
        .pop()
        .filter(|a| a.entries > 0)
        .ok_or_else(|| StoreError::NotFound(format!("member {}", member.as_str())))?;
    // Never past the account as read: an entry credited meanwhile waits for the next statement.
    let before = before.map_or(account.entries, |b| b.min(account.entries));
    let stored = store.member_entries(member, Some(before), limit).await?;
    let next = stored.last().map(|&(n, _)| n).filter(|&n| n > 0);
    let mut placed = Vec::with_capacity(stored.len());
    for (_, bytes) in stored {
        // A member's entries are credits and the corrections of them.
        let (leaf, _) = Leaf::read(&bytes).map_err(StoreError::Corrupt)?;
        placed.push((leaf.chain().to_owned(), leaf.seq(), bytes));
    }
    let (checkpoints, proofs) = proofs_in_latest(store, placed).await?;
    Ok(StatementPage {
        member: member.as_str().to_owned(),
        balance: account.balance,
        co2e_g: account.co2e_g,
        entries: account.entries,
        head: account.head,
        checkpoints,
        proofs,
        next,
    })
}

/// Each stored entry `(chain, seq, bytes)` proven in its chain's latest checkpoint, and those
/// checkpoints, in chain order. Refused while an entry is newer than its chain's checkpoint.
/// Costs one checkpoint read and one batch of tree node reads per chain.
pub async fn proofs_in_latest<S: CheckpointStore + ?Sized>(
    store: &S,
    stored: Vec<(String, u64, Vec<u8>)>,
) -> Result<(Vec<SignedCheckpoint>, Vec<InclusionProof>), TreeError> {
    let mut checkpoints: BTreeMap<String, SignedCheckpoint> = BTreeMap::new();
    let mut placed = Vec::with_capacity(stored.len());
    for (chain, seq, bytes) in stored {
        if !checkpoints.contains_key(&chain) {
            if let Some(c) = store.checkpoint(&chain, None).await? {
                checkpoints.insert(chain.clone(), c);
            }
        }
        let size = checkpoints
            .get(&chain)
            .map(|c| c.checkpoint.size)
            .filter(|&size| seq < size)
            .ok_or_else(|| {
                TreeError::NotCheckpointed(format!(
                    "chain {chain} seq {seq} is not in a checkpoint yet"
                ))
            })?;
        placed.push((chain, seq, size, bytes));
    }
    // Every proof on a chain is answered from one batch of node reads.
    let mut nodes_of: HashMap<&str, Nodes> = HashMap::new();
    for (chain, c) in &checkpoints {
        let size = c.checkpoint.size;
        let mut keys: Vec<(u32, u64)> = placed
            .iter()
            .filter(|p| &p.0 == chain)
            .flat_map(|p| nodes_needed(|t| inclusion::prove(t, p.1, size)))
            .collect();
        keys.sort_unstable();
        keys.dedup();
        nodes_of.insert(chain, nodes(store, chain, &keys).await?);
    }
    let mut proofs = Vec::with_capacity(placed.len());
    for (chain, seq, size, bytes) in placed {
        let proof = inclusion::prove(&nodes_of[chain.as_str()], seq, size)?;
        proofs.push(with_entry(chain, seq, size, bytes, proof)?);
    }
    Ok((checkpoints.into_values().collect(), proofs))
}

/// A member's whole statement, read page by page and joined ([`Statement::join`]).
pub async fn statement<S: LedgerSource + CheckpointStore + Members + ?Sized>(
    store: &S,
    member: &MemberId,
) -> Result<Statement, TreeError> {
    let mut pages = vec![statement_page(store, member, None, STATEMENT_PAGE).await?];
    while let Some(before) = pages.last().and_then(|p| p.next) {
        pages.push(statement_page(store, member, Some(before), STATEMENT_PAGE).await?);
    }
    Ok(Statement::join(pages).expect("one page at least"))
}

/// `size`, or the latest checkpoint's: a size the stored tree can answer for.
async fn checkpointed<S: CheckpointStore + ?Sized>(
    store: &S,
    chain: &str,
    size: Option<u64>,
) -> Result<u64, TreeError> {
    let latest = store
        .checkpoint(chain, None)
        .await?
        .map_or(0, |c| c.checkpoint.size);
    match size.unwrap_or(latest) {
        0 => Err(TreeError::NotCheckpointed(format!(
            "chain {chain} has no checkpoint yet"
        ))),
        n if n > latest => Err(TreeError::NotCheckpointed(format!(
            "chain {chain}'s latest checkpoint has {latest} entries, fewer than {n}"
        ))),
        n => Ok(n),
    }
}

/// The frontier of the chain's first `size` entries, from at most log2(size) + 1 subtrees.
/// Also the hash of its last entry (zeros for none): the next entry's `prev`. One batch of reads.
pub async fn frontier<S: CheckpointStore + ?Sized>(
    store: &S,
    chain: &str,
    size: u64,
) -> Result<(Frontier, Digest), StoreError> {
    let peaks = tiles(0, size);
    let last = size.checked_sub(1).map(|seq| (0, seq));
    let keys: Vec<(u32, u64)> = peaks.iter().copied().chain(last).collect();
    let nodes = nodes(store, chain, &keys).await?;
    let frontier = Frontier::restore(size, peaks.iter().map(|k| nodes.0[k]).collect())
        .expect("tiles(0, size) are the frontier's peaks");
    Ok((frontier, last.map_or(ZERO, |k| nodes.0[&k])))
}

/// What one checkpoint run did for a chain.
#[derive(Debug, Clone)]
pub struct Published {
    /// The chain's latest checkpoint after the run.
    pub checkpoint: SignedCheckpoint,
    /// Entries added to the tree by this run (0: the chain had not grown, nothing was signed).
    pub entries: u64,
}

/// Extends a chain's tree to its current head and signs the new root at `time`. A chain that has
/// not grown keeps its latest checkpoint. Refuses to sign when the new entries do not link up,
/// or when the stored tree does not give the latest checkpoint's root.
pub async fn publish<S: TreeStore + ?Sized>(
    store: &S,
    key: &LogKey,
    chain: &str,
    time: i64,
) -> Result<Published, StoreError> {
    publish_paged(store, key, chain, time, PAGE, CATCH_UP).await
}

/// [`publish`], reading `page` entries at a time and signing every `catch_up` entries.
pub async fn publish_paged<S: TreeStore + ?Sized>(
    store: &S,
    key: &LogKey,
    chain: &str,
    time: i64,
    page: usize,
    catch_up: u64,
) -> Result<Published, StoreError> {
    let latest = store.checkpoint(chain, None).await?;
    let from = latest.as_ref().map_or(0, |c| c.checkpoint.size);
    let head = store.chain_head(chain).await?;
    if let Some(c) = latest.as_ref().filter(|_| head.size == from) {
        return Ok(Published {
            checkpoint: c.clone(),
            entries: 0,
        });
    }
    let (mut frontier, mut prev) = frontier(store, chain, from).await?;
    let refuse = |why: String| StoreError::Corrupt(format!("chain {chain}: {why}; not signing"));
    if let Some(c) = &latest {
        if frontier.root() != c.checkpoint.root {
            return Err(refuse(format!(
                "the stored tree at size {from} does not give the checkpoint's root"
            )));
        }
    }
    let (mut done, mut signed) = (Vec::new(), from);
    while frontier.size() < head.size {
        let want = page.min((head.size - frontier.size()) as usize);
        let entries = store.entries(chain, frontier.size(), want).await?;
        if entries.is_empty() {
            return Err(refuse(format!("entry {} is missing", frontier.size())));
        }
        for stored in &entries {
            let seq = frontier.size();
            let (leaf, hash) = Leaf::read(stored).map_err(|e| refuse(format!("seq {seq}: {e}")))?;
            if leaf.chain() != chain
                || leaf.seq() != seq
                || leaf.prev() != prev
                || leaf.hash() != hash
            {
                return Err(refuse(format!("entry {seq} does not link up")));
            }
            prev = hash;
            frontier.push_with(hash, |n| {
                if n.level >= STORED_FROM {
                    done.push(n)
                }
            });
        }
        store.put_tree_nodes(chain, &done).await?;
        done.clear();
        // A long catch-up signs as it goes, so a run cut short (a Lambda timeout) resumes from
        // there instead of from the start.
        if frontier.size() - signed >= catch_up && frontier.size() < head.size {
            signed = sign(store, key, chain, &frontier, time)
                .await?
                .checkpoint
                .size;
        }
    }
    let checkpoint = sign(store, key, chain, &frontier, time).await?;
    Ok(Published {
        entries: checkpoint.checkpoint.size - from,
        checkpoint,
    })
}

/// Signs the frontier's root and keeps the checkpoint. A concurrent run that signed the same
/// size first wins; its checkpoint is the one kept and returned.
async fn sign<S: TreeStore + ?Sized>(
    store: &S,
    key: &LogKey,
    chain: &str,
    frontier: &Frontier,
    time: i64,
) -> Result<SignedCheckpoint, StoreError> {
    let signed = key.sign(Checkpoint {
        chain: chain.to_owned(),
        root: frontier.root(),
        size: frontier.size(),
        time,
    });
    if store.put_checkpoint(&signed).await? {
        return Ok(signed);
    }
    store
        .checkpoint(chain, Some(signed.checkpoint.size))
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("checkpoint of {chain}")))
}

/// Publishes every chain, in chain order, then keeps their latest checkpoints for the public
/// log route.
pub async fn publish_all<S: TreeStore + ?Sized>(
    store: &S,
    key: &LogKey,
    time: i64,
) -> Result<Vec<Published>, StoreError> {
    let mut heads = store.chain_heads().await?;
    heads.sort_by(|a, b| a.chain.cmp(&b.chain));
    let mut out = Vec::with_capacity(heads.len());
    for h in heads {
        out.push(publish(store, key, &h.chain, time).await?);
    }
    let latest: Vec<SignedCheckpoint> = out.iter().map(|p| p.checkpoint.clone()).collect();
    if let Err(e) = store.keep_log_checkpoints(&latest).await {
        // The checkpoints are signed and kept; the public list only lags, and the next run's
        // merge (idempotent) catches it up. The brand fold after this must still run.
        tracing::warn!(error = %e, "the public log's latest checkpoints were not kept");
    }
    Ok(out)
}
