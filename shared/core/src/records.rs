//! What the store keeps about the ledger, as plain data: chain heads, member accounts, campus
//! totals and action records.
//!
//! These live in the pure core, not beside the stores, because the verifier recomputes them
//! from entries and compares: it must be able to name them without naming anything that does
//! I/O.

use crate::digest::{leaf_hash, Digest, ZERO};
use crate::domain::{Action, DayItems, MemberId};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

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
    /// Items accepted per campaign day (those of every entry but an implausible one), for the
    /// plausibility limits. Only days with accepted items appear: those of the window and of
    /// the intake's grace around it, in practice (`docs/table-design.md` has the bound).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub day_items: BTreeMap<String, DayItems>,
    /// Return pledges credited in the window and not yet matched by dropped-off boxes, oldest
    /// first. Derived from the member's entries, like the rest of the account.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub open_pledges: Vec<OpenPledge>,
}

/// The most return pledges a member may have open at once. Crediting quarantines a pledge that
/// would open one more (reason [`reasons::TOO_MANY_OPEN_PLEDGES`]), so an account item stays
/// small: with 64-byte action ids, 100 open pledges take under 12 KB of it
/// (`docs/table-design.md` has the whole bound).
pub const MAX_OPEN_PLEDGES: usize = 100;

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
            day_items: BTreeMap::new(),
            open_pledges: Vec::new(),
        }
    }

    /// Points already credited on `day`.
    pub fn points_on(&self, day: &str) -> i64 {
        self.days.get(day).copied().unwrap_or(0)
    }

    /// Items already accepted on `day`.
    pub fn items_on(&self, day: &str) -> DayItems {
        self.day_items.get(day).copied().unwrap_or_default()
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

impl CampusDay {
    /// An empty row for `campus` on `day`.
    pub fn empty(campus: &str, day: &str) -> Self {
        CampusDay {
            campus: campus.to_owned(),
            day: day.to_owned(),
            ..CampusDay::default()
        }
    }

    /// Adds another row's amounts (the same campus and day, or a share of them) to this one.
    pub fn add(&mut self, other: &CampusDay) {
        self.bonus += other.bonus;
        self.co2e_g += other.co2e_g;
        self.entries += other.entries;
    }
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
    /// Quarantined by crediting: it cannot be credited as it is stored (see
    /// `docs/reliability.md`). `reason` is a stable code, `message` says what was seen. An
    /// operator may put it back in the queue after a fix.
    Rejected {
        reason: String,
        #[serde(default)]
        message: String,
    },
}

/// An action crediting set aside: listed for the operator, shown to its integration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quarantined {
    /// The action's key, `<integration>/<id>`.
    pub action: String,
    /// A stable code: see [`reasons`].
    pub reason: String,
    pub message: String,
    /// When it was quarantined, Unix milliseconds.
    pub at_ms: i64,
}

/// The stable reason codes of a quarantined action.
pub mod reasons {
    /// The stored action cannot be read by this version (corrupt, or written in a shape it does
    /// not know).
    pub const UNREADABLE: &str = "unreadable";
    /// The member's account cannot be read.
    pub const UNREADABLE_ACCOUNT: &str = "unreadable_account";
    /// Crediting it would grow an item past the store's item size limit (400 KB on DynamoDB).
    pub const ITEM_TOO_LARGE: &str = "item_too_large";
    /// The store refused the write for another reason it gave.
    pub const REFUSED_BY_STORE: &str = "refused_by_store";
    /// A return pledge from a member who already has
    /// [`MAX_OPEN_PLEDGES`](super::MAX_OPEN_PLEDGES) open: retry it once boxes have come back.
    pub const TOO_MANY_OPEN_PLEDGES: &str = "too_many_open_pledges";
}

/// What waits: the pending queue and the quarantine, as a health report reads them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Backlog {
    /// Actions recorded and not yet credited (bookings waiting for a weight are not counted).
    pub pending: u64,
    /// When the oldest pending action entered the queue, Unix milliseconds.
    pub oldest_pending_ms: Option<i64>,
    pub quarantined: u64,
}

impl Backlog {
    /// Notes when a pending action entered the queue (if known), keeping the oldest.
    pub fn note_queued(&mut self, queued_ms: Option<i64>) {
        self.oldest_pending_ms = self.oldest_pending_ms.into_iter().chain(queued_ms).min();
    }
}

/// An action as recorded, with a digest of what was first delivered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionRecord {
    pub action: Action,
    pub digest: Digest,
    pub status: ActionStatus,
}

/// The digest that recognises a second delivery of the same action.
pub fn action_digest(action: &Action) -> Digest {
    leaf_hash(&serde_json::to_vec(action).expect("actions serialize"))
}
