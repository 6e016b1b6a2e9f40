//! The store: what Greenloop keeps, shaped around what the application does with it.
//!
//! One trait, [`Store`], with an embedded implementation ([`embedded::EmbeddedStore`], a redb
//! file) and a DynamoDB one ([`dynamodb::DynamoStore`]). The behaviour suite every
//! implementation passes is the `greenloop-testkit` crate, outside the library.

pub mod dynamodb;
pub mod embedded;

use greenloop_core::catalog::{Catalog, Rules};
use greenloop_core::checkpoint::SignedCheckpoint;
use greenloop_core::domain::{Action, Campus, Invalid, MemberId, Station};
use greenloop_core::ledger::{Digest, Entry};
use greenloop_core::merkle::frontier::Node;
pub use greenloop_core::records::{
    action_digest, Account, ActionRecord, ActionStatus, CampusDay, CampusTotals, ChainHead,
    OpenPledge,
};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// What an API key may do. Keys are stored only as the SHA-256 of the key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "snake_case")]
pub enum Grant {
    /// A university portal: its own campus's queries and affiliations.
    Campus { campus: String },
    /// An auditor: chain heads and entries.
    Auditor,
}

/// The answer to recording an action: new, or a replay of one already recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub record: ActionRecord,
    pub replay: bool,
}

/// A member's account after a batch, conditioned on the head the batch was planned from. The
/// store writes its ledger totals and keeps the stored affiliation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountUpdate {
    pub expected_head: Digest,
    pub account: Account,
}

/// Everything one crediting step writes, atomically: entries on one chain, the new chain head,
/// account changes, campus deltas and (implied by the entries) the actions' status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreditBatch {
    pub expected: ChainHead,
    pub entries: Vec<Entry>,
    pub accounts: Vec<AccountUpdate>,
    /// Deltas to add to each campus's per-day totals.
    pub campuses: Vec<CampusDay>,
}

impl CreditBatch {
    pub fn new_head(&self) -> ChainHead {
        match self.entries.last() {
            Some(e) => ChainHead {
                chain: self.expected.chain.clone(),
                size: e.seq + 1,
                hash: e.hash,
            },
            None => self.expected.clone(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0}")]
    Invalid(#[from] Invalid),
    /// The same id was recorded before with a different body.
    #[error("action {0} was already recorded with a different body")]
    Conflict(String),
    #[error("{0} not found")]
    NotFound(String),
    /// The stored data cannot be read as Greenloop data.
    #[error("store is corrupt: {0}")]
    Corrupt(String),
    #[error("store is unavailable: {0}")]
    Unavailable(String),
}

/// Why an append did not happen. Nothing was written in every case.
#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    #[error("chain {0} moved since the batch was planned")]
    HeadMoved(String),
    #[error("account {0} moved since the batch was planned")]
    AccountMoved(MemberId),
    /// Every action of the batch that is not pending (credited by someone else, still booked,
    /// or never recorded). Reported before a moved head or account, so that a writer that lost
    /// a race drops them all at once.
    #[error("actions {0:?} are not pending")]
    NotPending(Vec<String>),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// What an auditor reads: the published versions, the chains, and the derived state to check
/// against them. A [`Store`] is one; so is a remote deployment's audit API.
#[async_trait]
pub trait LedgerSource: Send + Sync {
    /// Every version ever published here, plus the built-ins.
    async fn catalog(&self) -> Result<Catalog>;
    async fn chain_heads(&self) -> Result<Vec<ChainHead>>;
    /// Stored entries (canonical JSON with `hash`) of a chain, from `from_seq`, at most `limit`.
    async fn entries(&self, chain: &str, from_seq: u64, limit: usize) -> Result<Vec<Vec<u8>>>;
    /// Accounts in member order, after `after`, at most `limit`.
    async fn account_page(&self, after: Option<&MemberId>, limit: usize) -> Result<Vec<Account>>;
    /// Campaign totals per campus: the sum of its per-day rows.
    async fn campus_totals(&self) -> Result<Vec<CampusTotals>>;
    /// A chain's published checkpoints, smallest size first.
    async fn checkpoints(&self, chain: &str) -> Result<Vec<SignedCheckpoint>>;
}

/// The signed Merkle tree over each chain: published checkpoints, and the tree nodes that let a
/// proof be answered with O(log n) reads ([`greenloop_core::checkpoint::tree`]). Only the checkpoint job writes here;
/// nothing here is trusted by a verifier, which checks every proof against a signed root.
#[async_trait]
pub trait CheckpointStore: Send + Sync {
    /// Keeps a checkpoint, at most one per (chain, size): returns false, and keeps the first,
    /// when that size already has one.
    async fn put_checkpoint(&self, checkpoint: &SignedCheckpoint) -> Result<bool>;
    /// The chain's checkpoint at `size`, or its latest one.
    async fn checkpoint(&self, chain: &str, size: Option<u64>) -> Result<Option<SignedCheckpoint>>;
    /// Keeps completed tree nodes. A node's hash never changes, so writing one again is a no-op.
    async fn put_tree_nodes(&self, chain: &str, nodes: &[Node]) -> Result<()>;
    /// Node hashes by (level, index): level 0 is the entry's own hash, higher levels are stored
    /// nodes. What the store does not have is left out of the answer.
    async fn tree_nodes(
        &self,
        chain: &str,
        keys: &[(u32, u64)],
    ) -> Result<HashMap<(u32, u64), Digest>>;
}

/// Everything Greenloop keeps.
#[async_trait]
pub trait Store: LedgerSource + CheckpointStore {
    // Registry.
    async fn put_campus(&self, campus: &Campus) -> Result<()>;
    async fn campuses(&self) -> Result<Vec<Campus>>;
    async fn put_station(&self, station: &Station) -> Result<()>;
    async fn station(&self, id: &str) -> Result<Option<Station>>;
    /// Sets a member's campus. Later entries carry it; past entries keep theirs.
    async fn affiliate(&self, member: &MemberId, campus: &str) -> Result<()>;
    /// Stores an API key's grant under the key's SHA-256; the key itself is never stored.
    async fn put_api_key(&self, key_hash: &Digest, grant: &Grant) -> Result<()>;
    async fn api_key(&self, key_hash: &Digest) -> Result<Option<Grant>>;

    /// Publishes a rulebook and factor table version (idempotent; content of a version is fixed).
    async fn put_rules(&self, rules: &Rules) -> Result<()>;

    // Actions.
    /// Records an action once, forever, keyed by its id. Same id and body: a replay. Same id,
    /// other body: [`StoreError::Conflict`].
    async fn record_action(&self, action: &Action) -> Result<Recorded>;
    /// Completes a booked pickup with the courier's weighed amount; idempotent the same way.
    async fn complete_pickup(&self, id: &str, clothing_g: u64, at: i64) -> Result<Recorded>;
    async fn action(&self, id: &str) -> Result<Option<ActionRecord>>;
    /// Pending actions, oldest recorded first.
    async fn pending_actions(&self, limit: usize) -> Result<Vec<Action>>;

    // Ledger.
    async fn chain_head(&self, chain: &str) -> Result<ChainHead>;
    /// Accounts for these members; a member never seen gets a fresh account.
    async fn accounts(&self, members: &[MemberId]) -> Result<Vec<Account>>;
    /// One campus's per-day rows, in day order.
    async fn campus_days(&self, campus: &str) -> Result<Vec<CampusDay>>;
    /// A campus's affiliated members with the most CO2e avoided first (then by member), at most
    /// `limit`.
    async fn leaderboard(&self, campus: &str, limit: usize) -> Result<Vec<Account>>;
    /// A member's most recent stored entries, newest first, at most `limit`.
    async fn member_entries(&self, member: &MemberId, limit: usize) -> Result<Vec<Vec<u8>>>;
    /// Appends a batch atomically, only if the chain head and every account are as planned and
    /// every action is still pending.
    async fn append(&self, batch: &CreditBatch) -> Result<(), AppendError>;
}

/// What completing a booked pickup comes to, decided the same way by every store.
pub(crate) enum Completion {
    /// The same completion was delivered before: answer it again.
    Replay,
    /// The booked action, now weighed and pending.
    Complete(Action),
}

/// Checks a pickup completion against the stored record: only a booked pickup completes, the
/// same completion again is a replay, and any other completion of a completed pickup conflicts.
pub(crate) fn completion(
    record: &ActionRecord,
    id: &str,
    clothing_g: u64,
    at: i64,
) -> Result<Completion> {
    let a = &record.action;
    if a.kind != greenloop_core::domain::ActionKind::Pickup {
        return Err(Invalid::new(
            "not_a_pickup",
            format!("action {id} is not a pickup appointment"),
        )
        .into());
    }
    if record.status != ActionStatus::Booked {
        return if a.items.clothing_g == clothing_g && a.at == at {
            Ok(Completion::Replay)
        } else {
            Err(StoreError::Conflict(id.to_owned()))
        };
    }
    let mut done = a.clone();
    done.items.clothing_g = clothing_g;
    done.at = at;
    done.validate()?;
    if done.items.is_empty() {
        return Err(
            Invalid::new("no_weight", "a completed pickup needs a weight above 0 g").into(),
        );
    }
    Ok(Completion::Complete(done))
}

/// The `hash` a stored entry carries, read without parsing the rest: a tree's level-0 node.
pub fn stored_hash(stored: &[u8]) -> Result<Digest> {
    #[derive(Deserialize)]
    struct Hash {
        hash: Digest,
    }
    serde_json::from_slice::<Hash>(stored)
        .map(|h| h.hash)
        .map_err(|e| StoreError::Corrupt(format!("an entry's hash is unreadable: {e}")))
}
