//! RFC 6962 (and RFC 9162) Merkle trees over a chain's entry hashes.
//!
//! An entry's hash is already an RFC 6962 leaf hash, SHA-256(0x00 ‖ canonical bytes), so a
//! chain of `n` entries is a tree of `n` leaves: interior nodes are SHA-256(0x01 ‖ left ‖
//! right), and the tree of an empty chain is SHA-256 of nothing. The tree's root is what a
//! checkpoint signs.
//!
//! This module is the tree math: [`root`] and the split rule. [`inclusion`] proves one entry is
//! in a tree, [`consistency`] that a larger tree extends a smaller one. Proofs are built from
//! [`Subtrees`], so a store that keeps subtree roots answers them with O(log n) reads; a slice of
//! leaves is the reference implementation.

pub mod consistency;
pub mod frontier;
pub mod inclusion;

use crate::digest::Digest;
use sha2::{Digest as _, Sha256};

/// Why a proof was refused. Every step is checked; the first failure is named.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("leaf index {index} is not below tree size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    #[error("tree size {first} is larger than tree size {second}")]
    SizesOutOfOrder { first: u64, second: u64 },
    #[error("the proof has {got} hashes where tree sizes need {want}")]
    WrongLength { got: usize, want: usize },
    #[error("the proof leads to root {got}, not {want}")]
    RootMismatch { got: String, want: String },
}

/// The hash of an interior node.
pub fn node(left: &Digest, right: &Digest) -> Digest {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left.0);
    h.update(right.0);
    Digest(h.finalize().into())
}

/// The root of the empty tree: SHA-256 of the empty string.
pub fn empty_root() -> Digest {
    Digest(Sha256::digest([]).into())
}

/// The largest power of two strictly below `n` (n ≥ 2): where RFC 6962 splits a tree.
pub fn split(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1 << (63 - (n - 1).leading_zeros())
}

/// The Merkle Tree Hash of `leaves` (leaf hashes, in order).
pub fn root(leaves: &[Digest]) -> Digest {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        n => {
            let k = split(n as u64) as usize;
            node(&root(&leaves[..k]), &root(&leaves[k..]))
        }
    }
}

/// Where proofs read their hashes from: the roots of ranges of leaves.
pub trait Subtrees {
    /// The Merkle Tree Hash of leaves `start..end` (`start < end`). Proofs ask only for ranges
    /// that are whole subtrees of some tree: `start` is a multiple of the largest power of two
    /// not above `end - start`.
    fn subtree(&self, start: u64, end: u64) -> Digest;
}

impl Subtrees for [Digest] {
    fn subtree(&self, start: u64, end: u64) -> Digest {
        root(&self[start as usize..end as usize])
    }
}

/// RFC 9162's walk from node `f` of a level whose last node is `s` up to the root (§2.1.3.2,
/// §2.1.4.2): one item per proof hash, `true` when that hash is the left sibling. A right-edge
/// node with no sibling at its level climbs until it has one.
fn sides(mut f: u64, mut s: u64) -> impl Iterator<Item = bool> {
    std::iter::from_fn(move || {
        if s == 0 {
            return None;
        }
        let left = f & 1 == 1 || f == s;
        if left {
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        }
        f >>= 1;
        s >>= 1;
        Some(left)
    })
}

fn check(got: Digest, want: &Digest) -> Result<(), ProofError> {
    if got == *want {
        Ok(())
    } else {
        Err(ProofError::RootMismatch {
            got: got.hex().as_str().to_owned(),
            want: want.hex().as_str().to_owned(),
        })
    }
}

#[cfg(test)]
pub(crate) mod vectors {
    //! The known-answer vectors of the RFC 6962 reference implementation (Certificate
    //! Transparency's `merkle_tree_test`): eight inputs, the roots of their first 1 to 8.

    use crate::digest::{leaf_hash, Digest};

    pub const INPUTS: [&str; 8] = [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ];

    /// `ROOTS[n]` is the root of the first `n` inputs.
    pub const ROOTS: [&str; 9] = [
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];

    pub fn d(hex: &str) -> Digest {
        Digest::parse(hex).unwrap()
    }

    pub fn leaves() -> Vec<Digest> {
        INPUTS
            .iter()
            .map(|h| leaf_hash(&hex::decode(h).unwrap()))
            .collect()
    }

    /// Leaves of a tree of `n` made-up entries.
    pub fn made_up(n: usize) -> Vec<Digest> {
        (0..n as u32).map(|i| leaf_hash(&i.to_be_bytes())).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::vectors::{d, leaves, ROOTS};
    use super::*;

    #[test]
    fn roots_match_the_reference_implementation_for_every_size() {
        let leaves = leaves();
        for (n, want) in ROOTS.iter().enumerate() {
            assert_eq!(root(&leaves[..n]), d(want), "tree of {n}");
        }
    }

    #[test]
    fn split_is_the_largest_power_of_two_below() {
        for (n, k) in [
            (2, 1),
            (3, 2),
            (4, 2),
            (5, 4),
            (8, 4),
            (9, 8),
            (1 << 40, 1 << 39),
        ] {
            assert_eq!(split(n), k, "n = {n}");
        }
    }
}
