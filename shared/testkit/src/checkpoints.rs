//! The checkpoints case: publishing signs each chain's Merkle tree, and the tree the store keeps
//! answers inclusion and consistency proofs that check against the signed roots.

use crate::{all_entries, books, scan, WINDOW_START};
use greenloop::catalog::Rules;
use greenloop::checkpoint::tree::{self, TreeError};
use greenloop::checkpoint::LogKey;
use greenloop::credit::credit_pending;
use greenloop::ledger::{chain_for_station, Digest};
use greenloop::merkle::{consistency, inclusion, root};
use greenloop::store::{stored_hash, Store};

/// A fixed test key (RFC 8032 test 1's seed).
pub const TEST_LOG_KEY: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";

/// Credits `n` scans at one station, all on one chain, numbered from `from`.
async fn credit_scans(store: &dyn Store, from: u32, n: u32) {
    for i in from..from + n {
        let a = scan(
            &format!("ck-{i}"),
            1 + i % 7,
            "st-ck",
            WINDOW_START + i64::from(i) * 60,
            books(1),
        );
        store.record_action(&a).await.expect("record_action");
    }
    let run = credit_pending(store, &Rules::defaults(), 1)
        .await
        .expect("credit_pending");
    assert_eq!(run.credited, u64::from(n), "every scan credited");
}

async fn leaves(store: &dyn Store, chain: &str) -> Vec<Digest> {
    all_entries(store, chain)
        .await
        .iter()
        .map(|e| stored_hash(e).expect("hash"))
        .collect()
}

/// Checkpoints sign the tree of the chain as it stands; proofs from the stored tree verify
/// against them at every index, and between every two published sizes.
pub async fn checkpoints_sign_the_tree_and_answer_proofs(store: &dyn Store) {
    let key = LogKey::from_hex(TEST_LOG_KEY).expect("key");
    let public = key.public();
    let chain = chain_for_station("st-ck", 1);
    assert_eq!(
        store.checkpoint(&chain, None).await.expect("checkpoint"),
        None
    );

    // 37 entries: two stored 16-entry subtrees and a ragged edge.
    credit_scans(store, 0, 37).await;
    let first = tree::publish(store, &key, &chain, 1_000)
        .await
        .expect("publish");
    let all = leaves(store, &chain).await;
    assert_eq!(all.len(), 37);
    assert_eq!(first.entries, 37);
    let signed = public
        .verify(&first.checkpoint)
        .expect("signed by the log key");
    assert_eq!(
        (signed.size, signed.root, signed.time),
        (37, root(&all), 1_000)
    );

    // Nothing new: the latest checkpoint stands, nothing is signed again.
    let again = tree::publish(store, &key, &chain, 2_000)
        .await
        .expect("publish");
    assert_eq!((again.entries, &again.checkpoint), (0, &first.checkpoint));

    // A catch-up signs as it goes (here every 10 entries, reading 4 at a time), so a run cut
    // short resumes from its last checkpoint.
    credit_scans(store, 37, 30).await;
    let second = tree::publish_paged(store, &key, &chain, 3_000, 4, 10)
        .await
        .expect("publish");
    let all_leaves = leaves(store, &chain).await;
    assert_eq!(
        (second.entries, second.checkpoint.checkpoint.size),
        (30, 67)
    );
    assert_eq!(second.checkpoint.checkpoint.root, root(&all_leaves));
    let signed = store.checkpoints(&chain).await.expect("checkpoints");
    let sizes: Vec<u64> = signed.iter().map(|c| c.checkpoint.size).collect();
    assert_eq!(sizes, [37, 49, 61, 67], "every checkpoint, smallest first");
    assert_eq!(
        (&signed[0], &signed[3]),
        (&first.checkpoint, &second.checkpoint)
    );
    for c in &signed {
        let size = c.checkpoint.size as usize;
        assert_eq!(
            public.verify(c).expect("signed").root,
            root(&all_leaves[..size])
        );
    }
    let all = all_leaves;
    assert_eq!(
        store.checkpoint(&chain, Some(37)).await.expect("at 37"),
        Some(first.checkpoint.clone())
    );
    assert_eq!(
        store.checkpoint(&chain, None).await.expect("latest"),
        Some(second.checkpoint.clone())
    );
    // One checkpoint per size: a second one for 37 is not kept.
    let other = key.sign(greenloop::checkpoint::Checkpoint {
        time: 9_999,
        ..first.checkpoint.checkpoint.clone()
    });
    assert!(!store.put_checkpoint(&other).await.expect("put"));
    assert_eq!(
        store.checkpoint(&chain, Some(37)).await.expect("at 37"),
        Some(first.checkpoint.clone())
    );

    for (size, r) in [(37, first.checkpoint.checkpoint.root), (67, root(&all))] {
        for seq in 0..size {
            let proof = tree::inclusion_proof(store, &chain, seq, size)
                .await
                .expect("proof");
            inclusion::verify(seq, size, &all[seq as usize], &proof, &r)
                .unwrap_or_else(|e| panic!("entry {seq} in the tree of {size}: {e}"));
        }
    }
    for a in 1..=67u64 {
        let proof = tree::consistency_proof(store, &chain, a, 67)
            .await
            .expect("proof");
        consistency::verify(a, 67, &root(&all[..a as usize]), &root(&all), &proof)
            .unwrap_or_else(|e| panic!("{a} to 67: {e}"));
    }
    // Questions without an answer are refused, not answered from missing nodes.
    assert!(matches!(
        tree::inclusion_proof(store, &chain, 67, 67).await,
        Err(TreeError::Proof(_))
    ));
    assert!(matches!(
        tree::consistency_proof(store, &chain, 68, 67).await,
        Err(TreeError::Proof(_))
    ));
    // Only the levels the store keeps are there: leaves, and nodes of 16 entries and up.
    let kept = store
        .tree_nodes(
            &chain,
            &[
                (0, 66),
                (0, 67),
                (1, 0),
                (4, 0),
                (4, 3),
                (4, 4),
                (5, 1),
                (6, 0),
            ],
        )
        .await
        .expect("tree_nodes");
    let mut found: Vec<_> = kept.keys().copied().collect();
    found.sort_unstable();
    assert_eq!(found, [(0, 66), (4, 0), (4, 3), (5, 1), (6, 0)]);
    assert_eq!(kept[&(6, 0)], root(&all[..64]));
}

/// The public log's latest checkpoints: kept by `publish_all`, one per chain in chain order, and
/// never taken back by a slower run that kept older ones.
pub async fn the_public_log_keeps_each_chains_latest_checkpoint(store: &dyn Store) {
    let key = LogKey::from_hex(TEST_LOG_KEY).expect("key");
    assert!(store.log_checkpoints().await.expect("read").is_empty());
    credit_scans(store, 0, 5).await;
    let first = tree::publish_all(store, &key, 1_000)
        .await
        .expect("publish");
    let kept = store.log_checkpoints().await.expect("read");
    let published: Vec<_> = first.iter().map(|p| p.checkpoint.clone()).collect();
    assert_eq!(kept, published, "every chain's checkpoint, in chain order");
    assert!(kept
        .windows(2)
        .all(|w| w[0].checkpoint.chain < w[1].checkpoint.chain));

    credit_scans(store, 5, 4).await;
    let second = tree::publish_all(store, &key, 2_000)
        .await
        .expect("publish");
    let newer: Vec<_> = second.iter().map(|p| p.checkpoint.clone()).collect();
    assert_ne!(newer, published, "the chain grew");
    assert_eq!(store.log_checkpoints().await.expect("read"), newer);

    // A slower run arriving with the first run's checkpoints changes nothing.
    store.keep_log_checkpoints(&published).await.expect("keep");
    assert_eq!(store.log_checkpoints().await.expect("read"), newer);
}
