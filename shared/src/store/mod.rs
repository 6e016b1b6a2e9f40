//! The store: what Greenloop keeps, shaped around what the application does with it.
//!
//! One trait, [`Store`], with an embedded implementation ([`embedded::EmbeddedStore`], a redb
//! file) and a DynamoDB one ([`dynamodb::DynamoStore`]). [`suite`] holds the behaviour tests every implementation passes.

pub mod dynamodb;
pub mod embedded;
pub mod suite;

use crate::catalog::{Catalog, Rules};
use crate::checkpoint::SignedCheckpoint;
use crate::domain::{Action, Campus, Invalid, MemberId, Station};
use crate::ledger::{Digest, Entry, ZERO};
use crate::merkle::frontier::Node;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// The end of a chain: how many entries it has and the hash of the last one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainHead {
    pub chain: String,
    /// Number of entries, so also the `seq` of the next one.
    pub size: u64,
    /// `hash` of entry `size - 1`, or zeros for an empty chain.
    pub hash: Digest,
}

impl ChainHead {
    pub fn empty(chain: &str) -> Self {
        ChainHead {
            chain: chain.to_owned(),
            size: 0,
            hash: ZERO,
        }
    }
}

/// A member's carbon account: running totals of their ledger entries, and the head of their own
/// chain (`member_prev` links).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub member: MemberId,
    /// Affiliation, set by the campus portal. Entries copy it when credited.
    pub campus: Option<String>,
    pub balance: i64,
    pub co2e_g: i64,
    pub entries: u64,
    pub head: Digest,
    /// Points credited per campaign day (`YYYY-MM-DD`), for the daily cap. Only days that earned
    /// points appear, so it holds at most the window's days.
    pub days: BTreeMap<String, i64>,
    /// Return pledges credited in the window and not yet matched by dropped-off boxes, oldest
    /// first. Derived from the member's entries, like the rest of the account.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub open_pledges: Vec<OpenPledge>,
}

/// A return pledge waiting for its boxes: a later in-window drop-off by the same member returns
/// them, oldest pledge first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenPledge {
    pub action: String,
    pub boxes: u64,
    pub returned: u64,
}

impl Account {
    pub fn new(member: MemberId) -> Self {
        Account {
            member,
            campus: None,
            balance: 0,
            co2e_g: 0,
            entries: 0,
            head: ZERO,
            days: BTreeMap::new(),
            open_pledges: Vec::new(),
        }
    }

    /// Points already credited on `day`.
    pub fn points_on(&self, day: &str) -> i64 {
        self.days.get(day).copied().unwrap_or(0)
    }
}

/// Totals over every entry credited to a campus.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampusTotals {
    pub campus: String,
    pub bonus: i64,
    pub co2e_g: i64,
    pub entries: u64,
}

impl CampusTotals {
    pub fn add(&mut self, d: &CampusDay) {
        self.bonus += d.bonus;
        self.co2e_g += d.co2e_g;
        self.entries += d.entries;
    }

    /// Sums per-day rows into one total per campus, in campus order.
    pub fn sum(days: &[CampusDay]) -> Vec<CampusTotals> {
        let mut out: BTreeMap<&str, CampusTotals> = BTreeMap::new();
        for d in days {
            out.entry(&d.campus)
                .or_insert_with(|| CampusTotals {
                    campus: d.campus.clone(),
                    ..CampusTotals::default()
                })
                .add(d);
        }
        out.into_values().collect()
    }
}

/// Totals of the entries credited to a campus on one calendar day (UTC+08:00), which is what
/// the store keeps: campaign totals are their sum, and "today" is one row.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampusDay {
    pub campus: String,
    /// `YYYY-MM-DD`, the entry's `day`.
    pub day: String,
    pub bonus: i64,
    pub co2e_g: i64,
    pub entries: u64,
}

/// What an API key may do. Keys are stored only as the SHA-256 of the key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "snake_case")]
pub enum Grant {
    /// A university portal: its own campus's queries and affiliations.
    Campus { campus: String },
    /// An auditor: chain heads and entries.
    Auditor,
}

/// Where an action stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ActionStatus {
    /// A pickup appointment waiting for the courier's weighed amount.
    Booked,
    /// Recorded, waiting for crediting.
    Pending,
    Credited {
        chain: String,
        seq: u64,
        bonus: i64,
    },
    Rejected {
        reason: String,
    },
}

/// An action as recorded, with a digest of what was first delivered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionRecord {
    pub action: Action,
    pub digest: Digest,
    pub status: ActionStatus,
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
/// proof be answered with O(log n) reads ([`crate::tree`]). Only the checkpoint job writes here;
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
    if a.kind != crate::domain::ActionKind::Pickup {
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
pub(crate) fn stored_hash(stored: &[u8]) -> Result<Digest> {
    #[derive(Deserialize)]
    struct Hash {
        hash: Digest,
    }
    serde_json::from_slice::<Hash>(stored)
        .map(|h| h.hash)
        .map_err(|e| StoreError::Corrupt(format!("an entry's hash is unreadable: {e}")))
}

/// The digest that recognises a second delivery of the same action.
pub fn action_digest(action: &Action) -> Digest {
    crate::ledger::leaf_hash(&serde_json::to_vec(action).expect("actions serialize"))
}
