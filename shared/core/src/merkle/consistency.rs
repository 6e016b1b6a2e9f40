//! Consistency proofs: the tree of `second` leaves extends the tree of `first` leaves, so
//! nothing among the first `first` entries was changed, reordered or dropped (RFC 6962 §2.1.2
//! to build, RFC 9162 §2.1.4.2 to check). About log2(second) hashes.

use super::{check, empty_root, node, sides, split, ProofError, Subtrees};
use crate::digest::Digest;

/// The proof that the first `second` leaves of `tree` extend its first `first`.
pub fn prove(
    tree: &(impl Subtrees + ?Sized),
    first: u64,
    second: u64,
) -> Result<Vec<Digest>, ProofError> {
    if first > second {
        return Err(ProofError::SizesOutOfOrder { first, second });
    }
    let mut proof = Vec::with_capacity(64);
    if first > 0 && first < second {
        subproof(tree, first, 0, second, true, &mut proof);
    }
    Ok(proof)
}

/// SUBPROOF(m, D[start:end], whole), appended to `out`. `whole` says the old tree is exactly
/// this subtree, whose root the verifier already holds.
fn subproof(
    tree: &(impl Subtrees + ?Sized),
    m: u64,
    start: u64,
    end: u64,
    whole: bool,
    out: &mut Vec<Digest>,
) {
    let n = end - start;
    if m == n {
        if !whole {
            out.push(tree.subtree(start, end));
        }
        return;
    }
    let k = split(n);
    if m <= k {
        subproof(tree, m, start, start + k, whole, out);
        out.push(tree.subtree(start + k, end));
    } else {
        subproof(tree, m - k, start + k, end, false, out);
        out.push(tree.subtree(start, start + k));
    }
}

/// Checks that the tree of `second` leaves with root `second_root` extends the tree of
/// `first` leaves with root `first_root`.
pub fn verify(
    first: u64,
    second: u64,
    first_root: &Digest,
    second_root: &Digest,
    proof: &[Digest],
) -> Result<(), ProofError> {
    if first > second {
        return Err(ProofError::SizesOutOfOrder { first, second });
    }
    let empty = |want: usize| -> Result<(), ProofError> {
        if proof.is_empty() {
            Ok(())
        } else {
            Err(ProofError::WrongLength {
                got: proof.len(),
                want,
            })
        }
    };
    if first == second {
        empty(0)?;
        return check(*first_root, second_root);
    }
    if first == 0 {
        // Every tree extends the empty one; the old root must be the empty tree's.
        empty(0)?;
        return check(*first_root, &empty_root());
    }
    let want = proof_length(first, second);
    if proof.len() != want {
        return Err(ProofError::WrongLength {
            got: proof.len(),
            want,
        });
    }
    // When the old tree is a whole subtree of the new one, its root starts the walk.
    let seeded;
    let proof = if first.is_power_of_two() {
        seeded = [&[*first_root][..], proof].concat();
        &seeded[..]
    } else {
        proof
    };
    let (mut f, mut s) = (first - 1, second - 1);
    // Climb past the levels where the old tree's last node is a right child.
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    // The walk's length is fixed by the sizes; a proof of another length never reaches the root.
    if proof.len() - 1 != sides(f, s).count() {
        return Err(ProofError::WrongLength {
            got: proof.len(),
            want,
        });
    }
    let (mut fr, mut sr) = (proof[0], proof[0]);
    for (c, left) in proof[1..].iter().zip(sides(f, s)) {
        if left {
            fr = node(c, &fr);
            sr = node(c, &sr);
        } else {
            sr = node(&sr, c);
        }
    }
    check(fr, first_root)?;
    check(sr, second_root)
}

/// How many hashes the proof from `first` to `second` (0 < first < second) has.
pub fn proof_length(first: u64, second: u64) -> usize {
    // SUBPROOF's recursion, counting instead of hashing.
    let (mut m, mut n, mut whole, mut len) = (first, second, true, 0);
    while m != n {
        let k = split(n);
        len += 1;
        if m <= k {
            n = k;
        } else {
            m -= k;
            n -= k;
            whole = false;
        }
    }
    len + usize::from(!whole)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::root;
    use crate::merkle::vectors::{d, leaves, made_up, ROOTS};
    use proptest::prelude::*;

    /// (first, second, proof) from the reference implementation.
    const VECTORS: [(u64, u64, &[&str]); 4] = [
        (1, 1, &[]),
        (
            1,
            8,
            &[
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            6,
            8,
            &[
                "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
        (
            2,
            5,
            &[
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ],
        ),
    ];

    #[test]
    fn proofs_match_the_reference_implementation() {
        let leaves = leaves();
        for (first, second, want) in VECTORS {
            let proof = prove(&leaves[..], first, second).unwrap();
            let want: Vec<Digest> = want.iter().map(|h| d(h)).collect();
            assert_eq!(proof, want, "{first} to {second}");
            let (a, b) = (d(ROOTS[first as usize]), d(ROOTS[second as usize]));
            verify(first, second, &a, &b, &proof).unwrap();
        }
    }

    #[test]
    fn a_smaller_later_tree_is_refused() {
        let leaves = leaves();
        assert_eq!(
            prove(&leaves[..], 6, 5),
            Err(ProofError::SizesOutOfOrder {
                first: 6,
                second: 5
            })
        );
        let (a, b) = (d(ROOTS[6]), d(ROOTS[5]));
        assert!(verify(6, 5, &a, &b, &[]).is_err());
    }

    #[test]
    fn the_empty_tree_is_extended_by_any_tree_and_nothing_else_passes_for_it() {
        let leaves = leaves();
        let (empty, eight) = (d(ROOTS[0]), d(ROOTS[8]));
        verify(0, 8, &empty, &eight, &[]).unwrap();
        assert!(verify(0, 8, &eight, &eight, &[]).is_err());
        assert!(verify(0, 8, &empty, &eight, &leaves[..1]).is_err());
    }

    proptest! {
        /// Every pair of sizes has a proof that verifies; a changed hash or root, or a
        /// dropped or added hash, is refused.
        #[test]
        fn every_pair_verifies_and_every_change_is_refused(second in 1u64..70, pick in any::<u64>(), flip in any::<u64>()) {
            let leaves = made_up(second as usize);
            let first = 1 + pick % second;
            let (a, b) = (root(&leaves[..first as usize]), root(&leaves));
            let proof = prove(&leaves[..], first, second).unwrap();
            prop_assert!(verify(first, second, &a, &b, &proof).is_ok());
            if first < second {
                prop_assert_eq!(proof.len(), proof_length(first, second));
                let mut bad = proof.clone();
                let i = (flip % bad.len() as u64) as usize;
                bad[i].0[(flip % 32) as usize] ^= 1;
                prop_assert!(verify(first, second, &a, &b, &bad).is_err());
                prop_assert!(verify(first, second, &a, &b, &proof[1..]).is_err());
                prop_assert!(verify(first, second, &b, &b, &proof).is_err());
                prop_assert!(verify(first, second, &a, &a, &proof).is_err());
                // Sizes are bound by the signed checkpoints, not by the hashes alone.
            }
            let mut longer = proof.clone();
            longer.push(a);
            prop_assert!(verify(first, second, &a, &b, &longer).is_err());
        }

        /// An old tree whose history was rewritten is not extended by the new tree.
        #[test]
        fn a_rewritten_history_fails(second in 2u64..70, pick in any::<u64>()) {
            let mut leaves = made_up(second as usize);
            let first = 1 + pick % (second - 1);
            let old_root = root(&leaves[..first as usize]);
            leaves[(pick % first) as usize].0[0] ^= 1;
            let proof = prove(&leaves[..], first, second).unwrap();
            prop_assert!(verify(first, second, &old_root, &root(&leaves), &proof).is_err());
        }
    }
}
