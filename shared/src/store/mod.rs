//! The store: what Greenloop keeps, shaped around what the application does with it.
//!
//! The store is split by role ([`roles`]: one trait per role, one sum per function, [`Store`]
//! the sum of all), with an embedded implementation ([`embedded::EmbeddedStore`], a redb file)
//! and a DynamoDB one ([`dynamodb::DynamoStore`]). The records it keeps are the core's
//! ([`greenloop_core::records`], re-exported here), and API keys' ([`api_key`]). The behaviour suite every implementation
//! passes is the `greenloop-testkit` crate, outside the library.

pub mod api_key;
pub mod dynamodb;
pub mod embedded;
pub mod roles;

pub use api_key::{ApiKey, Grant};
pub use roles::*;

use greenloop_core::domain::{Action, Invalid, MemberId};
use greenloop_core::ledger::{CorrectionEntry, Digest, Entry};
pub use greenloop_core::records::{
    action_digest, reasons, Account, ActionRecord, ActionStatus, Backlog, CampusDay, CampusTotals,
    ChainHead, OpenPledge, Quarantined,
};
use serde::Deserialize;

/// The answer to a disposition report: its entry, new or entered before (a replay).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disposed {
    pub entry: greenloop_core::disposition::DispositionEntry,
    pub replay: bool,
}

/// What an erasure did ([`Erasing::erase`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Erased {
    /// The mapping is deleted and the receipt kept.
    Erased,
    /// The same request was answered before: its receipt (boxed: the rare, large case).
    Replay(Box<greenloop_core::receipt::ErasureReceipt>),
    /// The mapping no longer names the receipt's member: nothing was written.
    Gone,
}

/// A person's mapping: their member pseudonym, and who saw them first (the integration's key
/// id, or [`PORTAL`]): the one integration that may ask for their erasure.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Mapping {
    pub member: MemberId,
    pub origin: String,
}

/// The origin of a member first seen through a campus portal's enrolment: no integration may
/// ask their erasure, only the operator.
pub const PORTAL: &str = "portal";

/// A fresh random member pseudonym, from the operating system's CSPRNG.
pub fn new_pseudonym() -> Result<MemberId> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| StoreError::Unavailable(format!("no randomness for a pseudonym: {e}")))?;
    Ok(MemberId::random(bytes))
}

/// The key an erasure receipt is kept under: its asker and request.
pub fn erasure_key(integration: &str, request: &str) -> String {
    format!("{integration}/{request}")
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
    /// Correction entries (format 2.2), after `entries`: requantification appends only these,
    /// crediting none. A correction credits no action, so no action's status moves for it.
    pub corrections: Vec<CorrectionEntry>,
    pub accounts: Vec<AccountUpdate>,
    /// Deltas to add to each campus's per-day totals.
    pub campuses: Vec<CampusDay>,
    /// Boxes of accepted drop-offs to add to each station's stock on this chain, in station
    /// order; their sum goes to the chain's disposition totals.
    pub collected: Vec<(String, u64)>,
    /// The holder of the chain's claim, when this append also ends the claim (the last batch
    /// of a stream delivery): one request fewer per chain and invocation. The append then also
    /// requires that the claim is still this holder's.
    pub release: Option<String>,
}

impl CreditBatch {
    /// Boxes the batch's accepted drop-offs bring to its stations, in all.
    pub fn collected_boxes(&self) -> u64 {
        self.collected.iter().map(|(_, boxes)| boxes).sum()
    }

    pub fn new_head(&self) -> ChainHead {
        let last = (self.corrections.last().map(|c| (c.seq, c.hash)))
            .or_else(|| self.entries.last().map(|e| (e.seq, e.hash)));
        match last {
            Some((seq, hash)) => ChainHead {
                chain: self.expected.chain.clone(),
                size: seq + 1,
                hash,
            },
            None => self.expected.clone(),
        }
    }

    /// Each stored entry's place, member and canonical bytes, in seq order: credits, then
    /// corrections.
    pub fn stored(&self) -> impl Iterator<Item = (u64, &MemberId, Vec<u8>)> {
        let credits = self.entries.iter().map(|e| (e.seq, &e.member, e.to_json()));
        let corrections = (self.corrections.iter()).map(|c| (c.seq, &c.member, c.to_json()));
        credits.chain(corrections)
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
    /// A fault that may pass: throttling, a timeout, a 5xx, a lost response, a transaction
    /// conflict. Retrying the same request later can succeed.
    #[error("store is unavailable: {0}")]
    Unavailable(String),
    /// The store refused this request as it is (an item over the size limit, a malformed
    /// request): sending it again unchanged fails again. `code` is a [`reasons`] code.
    #[error("store refused the write ({code}): {message}")]
    Refused { code: &'static str, message: String },
    /// An action's stored item cannot be read; what could be read of its status is kept.
    #[error("action {id} is stored in a form this version cannot read: {error}")]
    Unreadable {
        id: String,
        status: Option<ActionStatus>,
        error: String,
    },
}

impl StoreError {
    /// Whether retrying the same request may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }
}

/// One pending action as the queue lists it: readable or not, each keeps its place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    /// The action's key, `<integration>/<id>`.
    pub id: String,
    /// Its place in the queue: list again `after` it to go on past it.
    pub position: String,
    /// When it entered the queue, Unix milliseconds, where the store knows.
    pub queued_ms: Option<i64>,
    /// The action, or why its stored item cannot be read.
    pub action: std::result::Result<Action, String>,
}

/// What claiming a chain for one writer found ([`Crediting::claim_chain`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The chain is this writer's until the time it asked for; its head as stored.
    Held(ChainHead),
    /// Another writer holds it until this time, Unix milliseconds.
    Busy { until_ms: i64 },
}

/// What putting a quarantined action back in the queue did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requeued {
    /// It was quarantined and is pending again.
    Requeued,
    /// It was pending already (a retry run twice): nothing to do.
    AlreadyPending,
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

/// Putting an API key under an id that is taken, the same way in every store. Ids are 8 random
/// bytes, so this is a fault of the minter, never a collision to retry.
pub(crate) fn key_exists(id: &str) -> StoreError {
    Invalid::new("key_exists", format!("API key id {id} is in use already")).into()
}

/// Whether an action in `status` may go back in the queue, decided the same way by every store:
/// a quarantined one may (None: go on and requeue it), a pending one needs nothing, a credited or
/// booked one is refused.
pub(crate) fn requeue_check(status: &ActionStatus, id: &str) -> Result<Option<Requeued>> {
    match status {
        ActionStatus::Rejected { .. } => Ok(None),
        ActionStatus::Pending => Ok(Some(Requeued::AlreadyPending)),
        ActionStatus::Credited { .. } | ActionStatus::Booked => {
            Err(Invalid::new("not_quarantined", format!("action {id} is not quarantined")).into())
        }
    }
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
