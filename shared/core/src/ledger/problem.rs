//! Everything the verifier can find wrong with a ledger, each naming where, and how a person
//! reads it.

use super::Digest;
use serde::Serialize;
use std::fmt;

/// One thing wrong with a ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum Problem {
    /// Not a valid v2 entry. `seq` is the position in the chain where it was found.
    Malformed {
        chain: String,
        seq: u64,
        detail: String,
    },
    WrongChain {
        chain: String,
        seq: u64,
        found: String,
    },
    SeqGap {
        chain: String,
        expected: u64,
        found: u64,
    },
    DuplicateSeq {
        chain: String,
        expected: u64,
        found: u64,
    },
    BrokenPrev {
        chain: String,
        seq: u64,
        expected: Digest,
        found: Digest,
    },
    BadHash {
        chain: String,
        seq: u64,
        stored: Digest,
        computed: Digest,
    },
    UnknownVersion {
        chain: String,
        seq: u64,
        version: String,
    },
    Recomputed {
        chain: String,
        seq: u64,
        field: &'static str,
        stored: String,
        recomputed: String,
    },
    HeadMismatch {
        chain: String,
        stored_size: u64,
        stored_hash: Digest,
        size: u64,
        hash: Digest,
    },
    /// The same action credited twice: the later entry, and where the first one is.
    DuplicateAction {
        chain: String,
        seq: u64,
        action: String,
        first_chain: String,
        first_seq: u64,
    },
    MemberChain {
        chain: String,
        seq: u64,
        member: String,
        detail: String,
    },
    Account {
        member: String,
        field: &'static str,
        stored: String,
        derived: String,
    },
    Campus {
        campus: String,
        field: &'static str,
        stored: String,
        derived: String,
    },
    /// A published checkpoint that the pinned key did not sign.
    BadCheckpoint {
        chain: String,
        size: u64,
        detail: String,
    },
    /// The chain's first `size` entries do not give the signed root: rewritten after the
    /// checkpoint was published.
    CheckpointMismatch {
        chain: String,
        size: u64,
        signed: Digest,
        computed: Digest,
    },
    /// The chain ends before a checkpoint's size: its tail was dropped.
    Truncated {
        chain: String,
        entries: u64,
        checkpoint: u64,
    },
    /// A disposition entry that breaks the mass balance (`docs/ledger-format.md`, "Mass
    /// balance"): the first one, named with its station and what does not add up.
    MassBalance {
        chain: String,
        seq: u64,
        station: String,
        detail: String,
    },
    /// The same disposition report entered twice.
    DuplicateReport {
        chain: String,
        seq: u64,
        report: String,
        first_chain: String,
        first_seq: u64,
    },
    /// A correction entry (format 2.2) that names no credit entry before it in its chain, or
    /// one counted under another factor version than its `from`.
    Correction {
        chain: String,
        seq: u64,
        detail: String,
    },
    /// A second correction of the same entry for the same pair of versions.
    DuplicateCorrection {
        chain: String,
        seq: u64,
        corrected: u64,
        from: String,
        to: String,
        first_seq: u64,
    },
    /// A chain's stored disposition totals (or, over all chains, its schools reached) differ from
    /// what its entries add up to.
    Disposition {
        chain: String,
        field: &'static str,
        stored: String,
        derived: String,
    },
    /// A factor table that credits a dropped-off box more than one of its fates avoids, so a
    /// later fate would need a take-back (`docs/carbon-method.md`).
    CarbonClaim {
        factors: String,
        params: String,
        detail: String,
    },
    /// A partner brand's stored figures (what its statement and the team ranking serve) differ
    /// from what the entries folded so far add up to: an entry left out, or a figure moved.
    BrandFigures {
        brand: String,
        field: &'static str,
        stored: String,
        derived: String,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Problem::*;
        match self {
            Malformed { chain, seq, detail } => {
                write!(f, "chain {chain} seq {seq}: malformed entry: {detail}")
            }
            WrongChain { chain, seq, found } => {
                write!(f, "chain {chain} seq {seq}: entry in the wrong chain (it names chain {found})")
            }
            SeqGap { chain, expected, found } => {
                write!(f, "chain {chain} seq {expected}: gap in seq (next entry found has seq {found})")
            }
            DuplicateSeq { chain, expected, found } => write!(
                f,
                "chain {chain} seq {expected}: duplicate or out-of-order seq (found seq {found})"
            ),
            BrokenPrev { chain, seq, expected, found } => write!(
                f,
                "chain {chain} seq {seq}: broken prev link (prev is {}, entry {} has hash {})",
                found.short(),
                seq.saturating_sub(1),
                expected.short()
            ),
            BadHash { chain, seq, stored, computed } => write!(
                f,
                "chain {chain} seq {seq}: bad hash (stored {}, computed {})",
                stored.short(),
                computed.short()
            ),
            UnknownVersion { chain, seq, version } => {
                write!(f, "chain {chain} seq {seq}: names unknown rulebook or factor version {version}")
            }
            Recomputed { chain, seq, field, stored, recomputed } => write!(
                f,
                "chain {chain} seq {seq}: {field} is {stored} but recomputes to {recomputed}"
            ),
            HeadMismatch { chain, stored_size, stored_hash, size, hash } => write!(
                f,
                "chain {chain}: stored head says {stored_size} entries ending {}, the chain has {size} ending {}",
                stored_hash.short(),
                hash.short()
            ),
            DuplicateAction { chain, seq, action, first_chain, first_seq } => write!(
                f,
                "chain {chain} seq {seq}: action {action} was already credited at chain {first_chain} seq {first_seq}"
            ),
            MemberChain { chain, seq, member, detail } => {
                write!(f, "chain {chain} seq {seq}: member {}…: {detail}", &member[..12.min(member.len())])
            }
            Account { member, field, stored, derived } => write!(
                f,
                "account {}…: stored {field} {stored}, entries sum to {derived}",
                &member[..12.min(member.len())]
            ),
            Campus { campus, field, stored, derived } => {
                write!(f, "campus {campus}: stored {field} {stored}, entries sum to {derived}")
            }
            BadCheckpoint { chain, size, detail } => {
                write!(f, "chain {chain}: checkpoint at size {size} is not the log's: {detail}")
            }
            CheckpointMismatch { chain, size, signed, computed } => write!(
                f,
                "chain {chain}: its first {size} entries give root {}, the signed checkpoint says {}: rewritten after the checkpoint",
                computed.short(),
                signed.short()
            ),
            Truncated { chain, entries, checkpoint } => write!(
                f,
                "chain {chain}: has {entries} entries, but a checkpoint signed {checkpoint}: its tail was dropped"
            ),
            MassBalance { chain, seq, station, detail } => {
                write!(f, "chain {chain} seq {seq}: station {station} breaks the mass balance: {detail}")
            }
            DuplicateReport { chain, seq, report, first_chain, first_seq } => write!(
                f,
                "chain {chain} seq {seq}: report {report} was already entered at chain {first_chain} seq {first_seq}"
            ),
            Correction { chain, seq, detail } => {
                write!(f, "chain {chain} seq {seq}: bad correction: {detail}")
            }
            DuplicateCorrection { chain, seq, corrected, from, to, first_seq } => write!(
                f,
                "chain {chain} seq {seq}: entry {corrected} was already corrected from {from} to {to} at seq {first_seq}"
            ),
            Disposition { chain, field, stored, derived } => write!(
                f,
                "disposition totals of {chain}: stored {field} {stored}, entries sum to {derived}"
            ),
            CarbonClaim { factors, params, detail } => {
                write!(f, "factor table {factors} under {params}: {detail}")
            }
            BrandFigures { brand, field, stored, derived } => write!(
                f,
                "brand figures of {brand}: stored {field} {stored}, folded entries sum to {derived}"
            ),
        }
    }
}
