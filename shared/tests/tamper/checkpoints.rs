//! The attacks on published checkpoints, written once for any [`Target`] like those of
//! `attacks.rs`: a checkpoint replaced by one the log did not sign, or by one of another chain,
//! verified with and without the log's pinned key, and checkpoints deleted outright.

use crate::attacks::{expect_problem, first};
use crate::fixture::{self, FIRST, SIZE};
use crate::targets::{Edit, Target};
use greenloop::ledger::verify::Problem;
use greenloop::verify::verify_store;

/// Replaces the checkpoint at (chain, 48) with `json`.
fn put_checkpoint(chain: &str, json: String) -> Vec<Edit> {
    vec![Edit::PutCheckpoint {
        chain: chain.to_owned(),
        size: SIZE,
        json,
    }]
}

/// A checkpoint's root changed, its signature kept.
pub async fn forged_checkpoint_root_is_a_bad_checkpoint<T: Target>(mut t: T) {
    let l = fixture::verified(t.store()).await;
    let chain = &l.chains[1];
    let mut forged = fixture::checkpoint(t.store(), chain, SIZE).await;
    forged.checkpoint.root.0[0] ^= 1;
    t.apply(put_checkpoint(
        chain,
        serde_json::to_string(&forged).unwrap(),
    ))
    .await;
    let report = fixture::verify(t.store(), &l.key).await;
    let p = first(&report, chain);
    expect_problem!(report, p, Problem::BadCheckpoint { chain: c, size, detail }
        if c == chain && *size == SIZE && detail.contains("forged"));
}

/// A checkpoint of the right chain and size with another root, signed by another key.
pub async fn checkpoint_of_another_key_is_a_bad_checkpoint<T: Target>(mut t: T) {
    let l = fixture::verified(t.store()).await;
    let chain = &l.chains[0];
    let mut c = fixture::checkpoint(t.store(), chain, SIZE).await.checkpoint;
    c.root.0[0] ^= 1;
    let other = fixture::other_key();
    let forged = other.sign(c);
    t.apply(put_checkpoint(
        chain,
        serde_json::to_string(&forged).unwrap(),
    ))
    .await;
    let report = fixture::verify(t.store(), &l.key).await;
    let p = first(&report, chain);
    let id = other.public().id();
    expect_problem!(report, p, Problem::BadCheckpoint { chain: c, size, detail }
        if c == chain && *size == SIZE && detail.contains(&format!("signed by key {id}")));
}

/// The log's genuine checkpoint of one chain stored as another chain's.
pub async fn checkpoint_of_another_chain_is_a_bad_checkpoint<T: Target>(mut t: T) {
    let l = fixture::verified(t.store()).await;
    let [from, to] = &l.chains;
    let genuine = fixture::checkpoint(t.store(), from, SIZE).await;
    t.apply(put_checkpoint(to, serde_json::to_string(&genuine).unwrap()))
        .await;
    let report = fixture::verify(t.store(), &l.key).await;
    let p = first(&report, to);
    expect_problem!(report, p, Problem::BadCheckpoint { chain: c, size, detail }
        if c == to && *size == SIZE && *detail == format!("it names chain {from}"));
}

/// Without a pinned key the forged root is taken as signed, and still compared: the chain does
/// not give it.
pub async fn forged_checkpoint_root_unpinned_is_a_mismatch<T: Target>(mut t: T) {
    let l = fixture::verified(t.store()).await;
    let chain = &l.chains[1];
    let mut forged = fixture::checkpoint(t.store(), chain, SIZE).await;
    let genuine = forged.checkpoint.root;
    forged.checkpoint.root.0[0] ^= 1;
    t.apply(put_checkpoint(
        chain,
        serde_json::to_string(&forged).unwrap(),
    ))
    .await;
    let report = verify_store(t.store(), |_| {}).await.expect("verify");
    assert!(!report.checkpoints_authenticated);
    let p = first(&report, chain);
    expect_problem!(report, p, Problem::CheckpointMismatch { chain: c, size, signed, computed }
        if c == chain && *size == SIZE && *signed == forged.checkpoint.root && *computed == genuine);
}

/// Deleting a chain's checkpoints, and nothing else, leaves a ledger that verifies: the report
/// only shows that the chain matched no checkpoint. Pinned here so that it is seen.
pub async fn deleted_checkpoints_alone_only_show_as_no_checkpoint_matched<T: Target>(mut t: T) {
    let l = fixture::verified(t.store()).await;
    let chain = &l.chains[1];
    let edits = [FIRST, SIZE].map(|size| Edit::DeleteCheckpoint {
        chain: chain.clone(),
        size,
    });
    t.apply(edits.to_vec()).await;
    let report = fixture::verify(t.store(), &l.key).await;
    assert!(report.is_ok(), "{:?}", report.problems);
    let summary = report.chains.iter().find(|c| &c.chain == chain).unwrap();
    assert_eq!(summary.checkpoint, None);
}
