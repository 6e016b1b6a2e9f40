//! Building a chain's tree as entries are appended, and answering proofs from stored nodes.
//!
//! A [`Frontier`] holds the roots of the perfect subtrees that tile the first `size` leaves,
//! largest first (at most log2(size) + 1 of them): enough to extend the tree one leaf at a time
//! and to give its root, without reading any earlier entry. Each push reports the perfect
//! subtrees it completes, which a store keeps as the tree's nodes. [`subtree`] then answers a
//! proof's ranges from those nodes: every range a proof asks for tiles into O(log n) of them.

use super::{empty_root, node, Subtrees};
use crate::digest::Digest;
use std::cell::RefCell;
use std::collections::HashMap;

/// A completed perfect subtree: leaves `index << level .. (index + 1) << level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Node {
    pub level: u32,
    pub index: u64,
    pub hash: Digest,
}

/// The right edge of a growing tree.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    /// Roots of the perfect subtrees tiling `0..size`, largest (leftmost) first.
    peaks: Vec<Digest>,
}

impl Frontier {
    /// The frontier of a tree of `size` leaves from its peaks: the roots of [`tiles`]`(0, size)`,
    /// in that order. None when their number is not the tiling's.
    pub fn restore(size: u64, peaks: Vec<Digest>) -> Option<Self> {
        (peaks.len() == size.count_ones() as usize).then_some(Frontier { size, peaks })
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends a leaf; returns the perfect subtrees it completes, smallest (the leaf) first.
    pub fn push(&mut self, leaf: Digest) -> Vec<Node> {
        let mut done = Vec::new();
        self.push_with(leaf, |n| done.push(n));
        done
    }

    /// [`Frontier::push`], handing each completed subtree to `completed` instead of collecting
    /// them: no allocation, for a verifier that keeps none.
    pub fn push_with(&mut self, leaf: Digest, mut completed: impl FnMut(Node)) {
        completed(Node {
            level: 0,
            index: self.size,
            hash: leaf,
        });
        let mut hash = leaf;
        // Each trailing one bit of the old size is a peak of the same height to merge with.
        let mut merges = self.size.trailing_ones();
        let mut level = 0;
        while merges > 0 {
            let left = self.peaks.pop().expect("a peak per one bit of the size");
            hash = node(&left, &hash);
            level += 1;
            merges -= 1;
            completed(Node {
                level,
                index: self.size >> level,
                hash,
            });
        }
        self.peaks.push(hash);
        self.size += 1;
    }

    /// The root of the tree so far.
    pub fn root(&self) -> Digest {
        fold(&self.peaks)
    }
}

/// The root of a range tiled by `peaks`, largest first: RFC 6962 splits at the largest power
/// of two, so the tiles join from the right.
fn fold(peaks: &[Digest]) -> Digest {
    let Some((last, rest)) = peaks.split_last() else {
        return empty_root();
    };
    rest.iter().rev().fold(*last, |acc, p| node(p, &acc))
}

/// The perfect subtrees tiling leaves `start..end`, left to right, as (level, index).
pub fn tiles(mut start: u64, end: u64) -> Vec<(u32, u64)> {
    let mut out = Vec::new();
    while start < end {
        // The largest power of two that starts here (alignment) and fits.
        let align = if start == 0 {
            63
        } else {
            start.trailing_zeros()
        };
        let fit = 63 - (end - start).leading_zeros();
        let level = align.min(fit);
        out.push((level, start >> level));
        start += 1 << level;
    }
    out
}

/// The root of leaves `start..end`, from stored nodes: `node(level, index)` returns a node the
/// tree has completed. This is how [`super::Subtrees`] is answered without reading the entries.
pub fn subtree(start: u64, end: u64, node_at: impl Fn(u32, u64) -> Digest) -> Digest {
    let peaks: Vec<Digest> = tiles(start, end)
        .into_iter()
        .map(|(level, index)| node_at(level, index))
        .collect();
    fold(&peaks)
}

/// The stored nodes a proof needs, as (level, index): run `proof` against a tree that only
/// notes what it is asked, so that a store can fetch them all in one batch and then answer the
/// same proof from [`Nodes`]. A proof at size n needs O(log n) of them.
pub fn nodes_needed<T>(proof: impl FnOnce(&dyn Subtrees) -> T) -> Vec<(u32, u64)> {
    struct Asked(RefCell<Vec<(u32, u64)>>);
    impl Subtrees for Asked {
        fn subtree(&self, start: u64, end: u64) -> Digest {
            self.0.borrow_mut().extend(tiles(start, end));
            Digest::default()
        }
    }
    let asked = Asked(RefCell::new(Vec::new()));
    proof(&asked);
    let mut out = asked.0.into_inner();
    out.sort_unstable();
    out.dedup();
    out
}

/// Stored nodes, by (level, index): answers the proofs whose [`nodes_needed`] it holds.
#[derive(Debug, Clone, Default)]
pub struct Nodes(pub HashMap<(u32, u64), Digest>);

impl Subtrees for Nodes {
    /// Panics on a node it was not given: fetch [`nodes_needed`] first.
    fn subtree(&self, start: u64, end: u64) -> Digest {
        subtree(start, end, |level, index| self.0[&(level, index)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::vectors::{d, leaves, made_up, ROOTS};
    use crate::merkle::{consistency, inclusion, root, Subtrees};
    use proptest::prelude::*;

    #[test]
    fn the_frontier_gives_the_reference_roots() {
        let mut f = Frontier::default();
        assert_eq!(f.root(), d(ROOTS[0]));
        for (n, leaf) in leaves().into_iter().enumerate() {
            f.push(leaf);
            assert_eq!(f.root(), d(ROOTS[n + 1]), "size {}", n + 1);
        }
    }

    #[test]
    fn ranges_tile_into_aligned_perfect_subtrees() {
        assert_eq!(tiles(0, 8), [(3, 0)]);
        assert_eq!(tiles(0, 13), [(3, 0), (2, 2), (0, 12)]);
        assert_eq!(tiles(5, 8), [(0, 5), (1, 3)]);
        assert!(tiles(4, 4).is_empty());
    }

    proptest! {
        /// A proof answered from only the nodes it needs is the proof; it needs few of them.
        #[test]
        fn a_proof_needs_only_a_few_nodes(n in 1u64..1500, a in any::<u64>(), b in any::<u64>()) {
            let leaves = made_up(n as usize);
            let mut f = Frontier::default();
            let mut all = HashMap::new();
            for leaf in &leaves {
                for done in f.push(*leaf) {
                    all.insert((done.level, done.index), done.hash);
                }
            }
            let log = 64 - n.leading_zeros() as usize;
            let (index, first) = (a % n, 1 + b % n);
            let needed = nodes_needed(|t| inclusion::prove(t, index, n));
            prop_assert!(needed.len() <= 2 * log, "{} nodes for n = {}", needed.len(), n);
            let some = Nodes(needed.iter().map(|k| (*k, all[k])).collect());
            prop_assert_eq!(
                inclusion::prove(&some, index, n).unwrap(),
                inclusion::prove(&leaves[..], index, n).unwrap()
            );
            let needed = nodes_needed(|t| consistency::prove(t, first, n));
            prop_assert!(needed.len() <= 2 * log, "{} nodes for n = {}", needed.len(), n);
            let some = Nodes(needed.iter().map(|k| (*k, all[k])).collect());
            prop_assert_eq!(
                consistency::prove(&some, first, n).unwrap(),
                consistency::prove(&leaves[..], first, n).unwrap()
            );
        }

        /// Every prefix's root, every completed node and every range's root agree with the
        /// reference tree, and proofs answered from the nodes are the reference proofs.
        #[test]
        fn stored_nodes_answer_like_the_leaves(n in 1usize..90, a in any::<u64>(), b in any::<u64>()) {
            let leaves = made_up(n);
            let mut f = Frontier::default();
            let mut stored = HashMap::new();
            for (i, leaf) in leaves.iter().enumerate() {
                for done in f.push(*leaf) {
                    let range = (done.index << done.level) as usize..((done.index + 1) << done.level) as usize;
                    prop_assert_eq!(done.hash, root(&leaves[range]));
                    stored.insert((done.level, done.index), done.hash);
                }
                prop_assert_eq!(f.root(), root(&leaves[..=i]));
            }
            prop_assert_eq!(stored.len(), 2 * n - n.count_ones() as usize);
            let stored = Nodes(stored);
            // A range a proof may ask for: its start aligned to the largest power of two in it.
            let len = 1 + a % n as u64;
            let align = 1u64 << (63 - len.leading_zeros());
            let start = (b % (n as u64 - len + 1)) / align * align;
            let end = start + len;
            prop_assert_eq!(stored.subtree(start, end), root(&leaves[start as usize..end as usize]));
            let index = a % n as u64;
            prop_assert_eq!(
                inclusion::prove(&stored, index, n as u64).unwrap(),
                inclusion::prove(&leaves[..], index, n as u64).unwrap()
            );
            let first = 1 + b % n as u64;
            prop_assert_eq!(
                consistency::prove(&stored, first, n as u64).unwrap(),
                consistency::prove(&leaves[..], first, n as u64).unwrap()
            );
        }
    }
}
