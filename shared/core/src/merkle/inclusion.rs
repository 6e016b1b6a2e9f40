//! Inclusion proofs: leaf `index` is in the tree of `size` leaves with a given root (RFC 6962
//! §2.1.1 to build, RFC 9162 §2.1.3.2 to check). A proof is the sibling of every node on the
//! way from the leaf to the root, the lowest first: about log2(size) hashes.

use super::{check, node, sides, split, ProofError, Subtrees};
use crate::digest::Digest;

/// The audit path of leaf `index` in the tree of the first `size` leaves of `tree`.
pub fn prove(
    tree: &(impl Subtrees + ?Sized),
    index: u64,
    size: u64,
) -> Result<Vec<Digest>, ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let mut proof = Vec::with_capacity(64);
    path(tree, index, 0, size, &mut proof);
    Ok(proof)
}

/// PATH(m, D[start:end]), appended to `out`: the sibling subtree's root after the path within.
fn path(tree: &(impl Subtrees + ?Sized), m: u64, start: u64, end: u64, out: &mut Vec<Digest>) {
    let n = end - start;
    if n <= 1 {
        return;
    }
    let k = split(n);
    if m < k {
        path(tree, m, start, start + k, out);
        out.push(tree.subtree(start + k, end));
    } else {
        path(tree, m - k, start + k, end, out);
        out.push(tree.subtree(start, start + k));
    }
}

/// Checks that `leaf` is leaf `index` of the tree of `size` leaves whose root is `root`.
pub fn verify(
    index: u64,
    size: u64,
    leaf: &Digest,
    proof: &[Digest],
    root: &Digest,
) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let want = path_length(index, size);
    if proof.len() != want {
        return Err(ProofError::WrongLength {
            got: proof.len(),
            want,
        });
    }
    let r = proof
        .iter()
        .zip(sides(index, size - 1))
        .fold(
            *leaf,
            |r, (p, left)| if left { node(p, &r) } else { node(&r, p) },
        );
    check(r, root)
}

/// How many hashes the audit path of leaf `index` in a tree of `size` has: [`verify`]'s walk,
/// without the hashing.
pub fn path_length(index: u64, size: u64) -> usize {
    sides(index, size - 1).count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::root;
    use crate::merkle::vectors::{d, leaves, made_up, ROOTS};
    use proptest::prelude::*;

    /// (leaf index, tree size, audit path) from the reference implementation.
    const VECTORS: [(u64, u64, &[&str]); 4] = [
        (
            0,
            8,
            &[
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            5,
            8,
            &[
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
        (
            2,
            3,
            &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
        ),
        (
            1,
            5,
            &[
                "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ],
        ),
    ];

    #[test]
    fn proofs_match_the_reference_implementation() {
        let leaves = leaves();
        for (index, size, want) in VECTORS {
            let proof = prove(&leaves[..], index, size).unwrap();
            let want: Vec<Digest> = want.iter().map(|h| d(h)).collect();
            assert_eq!(proof, want, "leaf {index} of {size}");
            let root = d(ROOTS[size as usize]);
            verify(index, size, &leaves[index as usize], &proof, &root).unwrap();
        }
    }

    #[test]
    fn a_tree_of_one_needs_no_proof() {
        let leaves = leaves();
        assert!(prove(&leaves[..], 0, 1).unwrap().is_empty());
        verify(0, 1, &leaves[0], &[], &leaves[0]).unwrap();
    }

    #[test]
    fn indexes_beyond_the_tree_are_refused_both_ways() {
        let leaves = leaves();
        assert_eq!(
            prove(&leaves[..], 8, 8),
            Err(ProofError::IndexOutOfRange { index: 8, size: 8 })
        );
        let proof = prove(&leaves[..], 5, 8).unwrap();
        let root = d(ROOTS[8]);
        assert_eq!(
            verify(8, 8, &leaves[5], &proof, &root),
            Err(ProofError::IndexOutOfRange { index: 8, size: 8 })
        );
    }

    #[test]
    fn ten_million_leaves_take_at_most_twenty_four_hashes() {
        assert_eq!(path_length(0, 10_000_000), 24);
        let longest = (0..10_000_000)
            .step_by(9_973)
            .map(|i| path_length(i, 10_000_000));
        assert_eq!(longest.max(), Some(24));
    }

    proptest! {
        /// Every leaf's proof verifies, in trees of every shape, and every single change to it
        /// (a hash, the leaf, the index, the root, a hash dropped or added) is refused.
        #[test]
        fn every_proof_verifies_and_every_change_is_refused(size in 1u64..70, pick in any::<u64>(), flip in any::<u64>()) {
            let leaves = made_up(size as usize);
            let root = root(&leaves);
            let index = pick % size;
            let leaf = leaves[index as usize];
            let proof = prove(&leaves[..], index, size).unwrap();
            prop_assert_eq!(proof.len(), path_length(index, size));
            prop_assert!(verify(index, size, &leaf, &proof, &root).is_ok());

            let other = leaves[((index + 1) % size) as usize];
            if size > 1 {
                prop_assert!(verify(index, size, &other, &proof, &root).is_err());
                prop_assert!(verify((index + 1) % size, size, &leaf, &proof, &root).is_err());
            }
            if !proof.is_empty() {
                let mut bad = proof.clone();
                let i = (flip % bad.len() as u64) as usize;
                bad[i].0[(flip % 32) as usize] ^= 1;
                prop_assert!(verify(index, size, &leaf, &bad, &root).is_err());
                prop_assert!(verify(index, size, &leaf, &proof[1..], &root).is_err());
            }
            let mut longer = proof.clone();
            longer.push(leaf);
            prop_assert!(verify(index, size, &leaf, &longer, &root).is_err());
            // A different size is not refused by the hashes alone when the tree's shape along
            // the path is the same: the size is bound by the signed checkpoint, not the proof.
            let mut bad_root = root;
            bad_root.0[0] ^= 0x80;
            prop_assert!(verify(index, size, &leaf, &proof, &bad_root).is_err());
        }
    }
}
