//! What a verification found: per chain, how far it got and which checkpoint it reached, and
//! every problem, in the order found.

use super::problem::Problem;
use crate::checkpoint::Checkpoint;
use crate::digest::Digest;
use serde::Serialize;

/// What was verified in one chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainSummary {
    pub chain: String,
    pub entries: u64,
    pub head: Digest,
    /// The largest checkpoint whose root the entries gave.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<Checkpoint>,
}

/// The outcome of a verification.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub chains: Vec<ChainSummary>,
    pub entries: u64,
    pub members: u64,
    pub campuses: u64,
    /// False when chain failures made comparing totals meaningless.
    pub totals_checked: bool,
    /// Whether checkpoint signatures were checked against a pinned key, or only their roots.
    pub checkpoints_authenticated: bool,
    pub problems: Vec<Problem>,
}

impl Report {
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }

    pub fn first_problem(&self) -> Option<&Problem> {
        self.problems.first()
    }
}
