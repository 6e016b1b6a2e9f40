//! The shared proof verifier (`greenloop::proof`) on real proofs: inclusion, consistency
//! and member statements built from the fixture ledger (embedded store; the verifier never sees
//! a store) are accepted, and every alteration an attacker could make to one is refused.

use crate::fixture::{self, Ledger, FIRST, SIZE};
use greenloop::checkpoint::tree;
use greenloop::checkpoint::{Checkpoint, CheckpointError, SignedCheckpoint};
use greenloop::ledger::{Digest, Entry};
use greenloop::merkle::{root, ProofError};
use greenloop::proof::{
    verify_consistency, verify_inclusion, verify_statement, AuditError, InclusionProof,
};
use greenloop::store::embedded::EmbeddedStore;
use greenloop::store::{CheckpointStore, Members};
use serde_json::value::RawValue;

async fn ledger() -> (EmbeddedStore, tempfile::TempDir, Ledger) {
    let (store, dir) = crate::support::temp_store();
    let l = fixture::build(&store).await;
    (store, dir, l)
}

/// Which bytes of proof hash `i` to flip: every one (for one proof of each kind; each check
/// costs a signature verification, slow in a debug build), or one, a different one per hash.
fn flips(every: bool, i: usize) -> std::ops::Range<usize> {
    if every {
        0..32
    } else {
        let b = (7 * i + 3) % 32;
        b..b + 1
    }
}

/// Whether `r` is a proof that led to another root, on `chain`.
fn root_mismatch<T>(r: &Result<T, AuditError>, chain: &str) -> bool {
    matches!(r, Err(AuditError::Proof { chain: c, error: ProofError::RootMismatch { .. } }) if c == chain)
}

/// Whether `r` is a refused statement whose reason contains `why`.
fn refused<T>(r: &Result<T, AuditError>, why: &str) -> bool {
    matches!(r, Err(AuditError::Statement(m)) if m.contains(why))
}

/// The proof with its entry replaced by `entry`'s stored form.
fn with_entry(proof: &InclusionProof, entry: &Entry) -> InclusionProof {
    InclusionProof {
        entry: RawValue::from_string(String::from_utf8(entry.to_json()).unwrap()).unwrap(),
        ..proof.clone()
    }
}

/// The checkpoint with its root changed and its signature kept.
fn forged(c: &SignedCheckpoint) -> SignedCheckpoint {
    let mut f = c.clone();
    f.checkpoint.root.0[0] ^= 1;
    f
}

fn other_signed(c: &SignedCheckpoint) -> SignedCheckpoint {
    fixture::other_key().sign(c.checkpoint.clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inclusion_proofs_verify_and_any_alteration_is_refused() {
    let (store, _dir, l) = ledger().await;
    let public = l.key.public();
    for chain in &l.chains {
        let latest = fixture::checkpoint(&store, chain, SIZE).await;
        let older = fixture::checkpoint(&store, chain, FIRST).await;
        for (c, seqs) in [(&latest, &[0, 17, 33, 47][..]), (&older, &[0, 31][..])] {
            let size = c.checkpoint.size;
            for &seq in seqs {
                let proof = tree::inclusion(&store, chain, seq, Some(size))
                    .await
                    .expect("proof");
                let e = verify_inclusion(&public, c, &proof).expect("a real proof verifies");
                assert_eq!(e.to_json(), fixture::stored(&store, chain, seq).await);
                let full = chain == &l.chains[0] && (seq, size) == (17, SIZE);
                for i in 0..proof.proof.len() {
                    for b in flips(full, i) {
                        let mut bad = proof.clone();
                        bad.proof[i].0[b] ^= 0xff;
                        let r = verify_inclusion(&public, c, &bad);
                        assert!(
                            root_mismatch(&r, chain),
                            "{seq}@{size} hash {i} byte {b}: {r:?}"
                        );
                    }
                }
                let mut short = proof.clone();
                short.proof.pop();
                let mut long = proof.clone();
                long.proof.push(Digest([0; 32]));
                for bad in [short, long] {
                    let r = verify_inclusion(&public, c, &bad);
                    assert!(
                        matches!(
                            r,
                            Err(AuditError::Proof {
                                error: ProofError::WrongLength { .. },
                                ..
                            })
                        ),
                        "{r:?}"
                    );
                }
            }
        }

        let proof = tree::inclusion(&store, chain, 5, None).await.unwrap();
        // A proof for the tree of 48 against the checkpoint of 32, and one that claims a size
        // beyond its checkpoint.
        let r = verify_inclusion(&public, &older, &proof);
        assert!(
            matches!(
                r,
                Err(AuditError::OtherSize {
                    got: SIZE,
                    want: FIRST
                })
            ),
            "{r:?}"
        );
        let beyond = InclusionProof {
            size: SIZE + 1,
            ..proof.clone()
        };
        let r = verify_inclusion(&public, &latest, &beyond);
        assert!(
            matches!(r, Err(AuditError::OtherSize { got, want: SIZE }) if got == SIZE + 1),
            "{r:?}"
        );
        // Checkpoints the log did not sign.
        for (c, why) in [
            (forged(&latest), "forged"),
            (other_signed(&latest), "other key"),
        ] {
            let r = verify_inclusion(&public, &c, &proof);
            let want = if why == "forged" {
                matches!(
                    r,
                    Err(AuditError::Checkpoint {
                        error: CheckpointError::Forged,
                        ..
                    })
                )
            } else {
                matches!(
                    r,
                    Err(AuditError::Checkpoint {
                        error: CheckpointError::OtherKey { .. },
                        ..
                    })
                )
            };
            assert!(want, "{why}: {r:?}");
        }
        // The entry edited: as stored (hash kept), then resealed (not in the tree).
        let mut e: Entry = serde_json::from_str(proof.entry.get()).unwrap();
        e.station = "st-forged".into();
        let r = verify_inclusion(&public, &latest, &with_entry(&proof, &e));
        assert!(
            matches!(&r, Err(AuditError::Entry { seq: 5, detail, .. }) if detail.contains("stored hash")),
            "{r:?}"
        );
        e.seal();
        let r = verify_inclusion(&public, &latest, &with_entry(&proof, &e));
        assert!(root_mismatch(&r, chain), "{r:?}");
        // A genuine entry of another seq under this proof.
        let six = fixture::entry(&store, chain, 6).await;
        let r = verify_inclusion(&public, &latest, &with_entry(&proof, &six));
        assert!(
            matches!(&r, Err(AuditError::Entry { seq: 5, detail, .. }) if detail.contains("seq 6")),
            "{r:?}"
        );
    }
    // A proof of one chain against the other chain's checkpoint.
    let [a, b] = &l.chains;
    let proof = tree::inclusion(&store, a, 5, None).await.unwrap();
    let theirs = fixture::checkpoint(&store, b, SIZE).await;
    let r = verify_inclusion(&public, &theirs, &proof);
    assert!(
        matches!(&r, Err(AuditError::OtherChain { got, want }) if got == a && want == b),
        "{r:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consistency_proofs_verify_and_any_alteration_is_refused() {
    let (store, _dir, l) = ledger().await;
    let public = l.key.public();
    for chain in &l.chains {
        let latest = fixture::checkpoint(&store, chain, SIZE).await;
        let leaves: Vec<Digest> = fixture::entries(&store, chain)
            .await
            .iter()
            .map(|e| e.hash)
            .collect();
        // From smaller sizes: the published checkpoint at 32, and for the others one the test
        // signs with the log's key over the true root.
        for first in [1, 2, 3, 5, 8, 16, 17, 31, FIRST, 33, 40, SIZE - 1] {
            let older = match first {
                FIRST => fixture::checkpoint(&store, chain, FIRST).await,
                _ => l.key.sign(Checkpoint {
                    chain: chain.clone(),
                    root: root(&leaves[..first as usize]),
                    size: first,
                    time: 0,
                }),
            };
            let proof = tree::consistency(&store, chain, first, None).await.unwrap();
            verify_consistency(&public, &older, &latest, &proof)
                .unwrap_or_else(|e| panic!("{first} to {SIZE}: {e}"));
            // Flipped hashes, from a power of two (the old root seeds the walk) and from sizes
            // that are not.
            if [5, 31, FIRST].contains(&first) {
                let full = chain == &l.chains[0] && first == 31;
                for i in 0..proof.proof.len() {
                    for b in flips(full, i) {
                        let mut bad = proof.clone();
                        bad.proof[i].0[b] ^= 0xff;
                        let r = verify_consistency(&public, &older, &latest, &bad);
                        assert!(root_mismatch(&r, chain), "{first} hash {i} byte {b}: {r:?}");
                    }
                }
            }
        }
        let older = fixture::checkpoint(&store, chain, FIRST).await;
        let proof = tree::consistency(&store, chain, FIRST, None).await.unwrap();
        // The two checkpoints swapped: the proof is for other sizes than theirs.
        let r = verify_consistency(&public, &latest, &older, &proof);
        assert!(
            matches!(
                r,
                Err(AuditError::OtherSize {
                    got: FIRST,
                    want: SIZE
                })
            ),
            "{r:?}"
        );
        for (old, new) in [
            (forged(&older), latest.clone()),
            (older.clone(), other_signed(&latest)),
        ] {
            let r = verify_consistency(&public, &old, &new, &proof);
            assert!(matches!(r, Err(AuditError::Checkpoint { .. })), "{r:?}");
        }
        // A log that signed a forked tree of 48 (a rewritten entry 40): it does not extend 32.
        let mut fork = leaves.clone();
        fork[40].0[0] ^= 1;
        let split = l.key.sign(Checkpoint {
            root: root(&fork),
            ..latest.checkpoint.clone()
        });
        let r = verify_consistency(&public, &older, &split, &proof);
        assert!(root_mismatch(&r, chain), "{r:?}");
    }
    let [a, b] = &l.chains;
    let proof = tree::consistency(&store, a, FIRST, None).await.unwrap();
    let (old, new) = (
        fixture::checkpoint(&store, b, FIRST).await,
        fixture::checkpoint(&store, b, SIZE).await,
    );
    let r = verify_consistency(&public, &old, &new, &proof);
    assert!(
        matches!(&r, Err(AuditError::OtherChain { got, want }) if got == a && want == b),
        "{r:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statements_verify_and_any_alteration_is_refused() {
    let (store, _dir, l) = ledger().await;
    let public = l.key.public();
    for m in &l.members {
        let s = tree::statement(&store, m).await.expect("statement");
        let account = store
            .accounts(std::slice::from_ref(m))
            .await
            .unwrap()
            .remove(0);
        let v = verify_statement(&public, &s).expect("a real statement verifies");
        assert_eq!(
            (v.entries, v.balance, v.co2e_g),
            (account.entries, account.balance, account.co2e_g)
        );
        assert_eq!(s.checkpoints.len(), 2, "the member is on both chains");
    }
    let s = tree::statement(&store, &l.members[0]).await.unwrap();
    let n = s.proofs.len();
    assert!(n >= 3, "enough entries to drop one from the middle");

    // A flipped byte in any one of the proofs: every proof is checked, not only the first.
    for p in 0..n {
        let mut bad = s.clone();
        let i = p % bad.proofs[p].proof.len();
        bad.proofs[p].proof[i].0[p % 32] ^= 0xff;
        let r = verify_statement(&public, &bad);
        assert!(
            root_mismatch(&r, &s.proofs[p].chain),
            "proof {p} hash {i}: {r:?}"
        );
    }
    // Entries dropped: the oldest, one in the middle, the newest.
    let dropped = |i: usize| {
        let mut bad = s.clone();
        bad.proofs.remove(i);
        bad.entries -= 1;
        verify_statement(&public, &bad)
    };
    let r = dropped(n - 1);
    assert!(refused(&r, "history incomplete"), "{r:?}");
    for i in [n / 2, 0] {
        let r = dropped(i);
        assert!(refused(&r, "is not the entry before"), "drop {i}: {r:?}");
    }
    // Account figures that the entries do not add up to.
    let mut bad = s.clone();
    bad.balance += 1;
    assert!(refused(
        &verify_statement(&public, &bad),
        "account balance is"
    ));
    let mut bad = s.clone();
    bad.co2e_g -= 1;
    assert!(refused(
        &verify_statement(&public, &bad),
        "account co2e_g is"
    ));
    let mut bad = s.clone();
    bad.head.0[0] ^= 1;
    assert!(refused(
        &verify_statement(&public, &bad),
        "is not the entry before"
    ));
    // An entry edited in place.
    let mut bad = s.clone();
    let mut e: Entry = serde_json::from_str(bad.proofs[1].entry.get()).unwrap();
    e.bonus += 10;
    bad.proofs[1] = with_entry(&bad.proofs[1], &e);
    let r = verify_statement(&public, &bad);
    assert!(
        matches!(&r, Err(AuditError::Entry { detail, .. }) if detail.contains("stored hash")),
        "{r:?}"
    );
    // Another member's entry slipped in.
    let theirs = tree::statement(&store, &l.members[1]).await.unwrap();
    let mut bad = s.clone();
    bad.proofs[1] = theirs.proofs[0].clone();
    assert!(refused(
        &verify_statement(&public, &bad),
        "another member's"
    ));
    // Checkpoints: another key's, a forged one, one missing, one twice.
    for c in [other_signed(&s.checkpoints[0]), forged(&s.checkpoints[0])] {
        let mut bad = s.clone();
        bad.checkpoints[0] = c;
        let r = verify_statement(&public, &bad);
        assert!(matches!(r, Err(AuditError::Checkpoint { .. })), "{r:?}");
    }
    let mut bad = s.clone();
    let gone = bad.checkpoints.remove(0);
    assert!(refused(
        &verify_statement(&public, &bad),
        &format!("no checkpoint for chain {}", gone.checkpoint.chain)
    ));
    let mut bad = s.clone();
    bad.checkpoints.push(s.checkpoints[0].clone());
    assert!(refused(&verify_statement(&public, &bad), "two checkpoints"));

    // A chain's earlier checkpoint beside its latest: pages read across a signing carry both.
    // Each proof is held to the checkpoint of its own size.
    let chain = s.checkpoints[0].checkpoint.chain.clone();
    let older = store
        .checkpoint(&chain, Some(FIRST))
        .await
        .unwrap()
        .expect("the earlier checkpoint");
    let mut both = s.clone();
    both.checkpoints.push(older);
    let v = verify_statement(&public, &both).expect("an unused earlier checkpoint is fine");
    assert_eq!(v.entries, n as u64);
    let i = both
        .proofs
        .iter()
        .position(|p| p.chain == chain && p.seq < FIRST)
        .expect("an entry in the earlier tree");
    let mut bad = both.clone();
    bad.proofs[i].size = FIRST;
    let r = verify_statement(&public, &bad);
    assert!(
        matches!(&r, Err(AuditError::Proof { chain: c, .. }) if *c == chain),
        "a path for another size: {r:?}"
    );
    let mut bad = s.clone();
    bad.proofs[i].size = FIRST;
    assert!(refused(
        &verify_statement(&public, &bad),
        &format!("no checkpoint for chain {chain} at size {FIRST}")
    ));
}
