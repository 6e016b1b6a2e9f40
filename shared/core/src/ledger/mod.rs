//! The hash-chained, append-only ledger (format v2, normative text in `docs/ledger-format.md`).
//!
//! - [`entry`]: one entry, its RFC 8785 canonical bytes and its RFC 6962 leaf hash.
//! - [`canonical`]: the fast path that reads already-canonical stored bytes.
//! - [`leaf`]: any stored entry, credit, disposition or correction, and the links every entry
//!   has.
//! - [`correction`]: a compensating entry that requantifies one credit entry's grams (2.2).
//! - [`verify`]: checks each chain, entry by entry, and recomputes amounts; [`problem`] names
//!   what it finds and [`report`] sums it up.
//! - `totals`: re-derives member chains, accounts and campus totals across chains.

mod balance;
pub mod canonical;
pub mod correction;
pub mod entry;
pub mod leaf;
pub mod problem;
pub mod report;
mod totals;
pub mod verify;

pub use correction::CorrectionEntry;
pub use entry::{Entry, FORMAT_VERSION};
pub use leaf::Leaf;

pub use crate::digest::{leaf_hash, Digest, HexBuf, ZERO};
use sha2::{Digest as _, Sha256};

/// The chain a station's actions are credited to: `shard-NN`, where NN is the first 8 bytes of
/// SHA-256(station id), big-endian, modulo the shard count. Spreading stations over chains keeps
/// any one chain head from becoming a hot spot.
pub fn chain_for_station(station: &str, shards: u32) -> String {
    let d = Sha256::digest(station.as_bytes());
    let n = u64::from_be_bytes(d[..8].try_into().expect("8 bytes")) % u64::from(shards.max(1));
    chain_name(n as u32)
}

/// Boxes an entry adds to its station's stock: those of a drop-off whose items are accepted
/// (`docs/ledger-format.md`, "Mass balance"). Pledged boxes are not at the station yet.
pub fn collected_boxes(e: &Entry) -> Option<u64> {
    collected(e.kind, e.reason, e.items.box_count())
}

pub(crate) fn collected(
    kind: crate::domain::ActionKind,
    reason: crate::rulebook::Reason,
    boxes: u64,
) -> Option<u64> {
    (kind == crate::domain::ActionKind::Scan && reason.accepts_items() && boxes > 0)
        .then_some(boxes)
}

/// Chains a deployment spreads its stations over unless configured otherwise.
pub const DEFAULT_SHARDS: u32 = 4;

/// The name of chain number `n`: `shard-NN`.
pub fn chain_name(n: u32) -> String {
    format!("shard-{n:02}")
}

/// Every chain of a deployment with `shards` chains, in order. Raising the count keeps the
/// old names, so the chains of a smaller count are always among them.
pub fn chains(shards: u32) -> impl Iterator<Item = String> {
    (0..shards.max(1)).map(chain_name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stations_spread_over_all_shards() {
        let mut seen = std::collections::BTreeSet::new();
        for i in 0..200 {
            let c = chain_for_station(&format!("st-{i:04}"), 4);
            assert_eq!(c, chain_for_station(&format!("st-{i:04}"), 4));
            seen.insert(c);
        }
        assert_eq!(seen.len(), 4);
        assert_eq!(chain_for_station("anything", 1), "shard-00");
    }
}
