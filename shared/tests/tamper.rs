//! Tampering with a real store's storage, the way an attacker with write access to it would,
//! and checking that verification catches each class of attack and names it: the problem, the
//! chain, the seq or size.
//!
//! Every attack runs on both stores: the embedded store (its redb file edited directly) and the
//! DynamoDB store on AWS's DynamoDB Local (its items edited with the SDK), each on a fresh
//! ledger of two chains with signed checkpoints (`tamper/fixture.rs`). The attacks are written
//! once, in `tamper/attacks.rs`, `tamper/checkpoints.rs` and `tamper/corrections.rs`, against the raw edits of
//! `tamper/targets.rs`. The shared proof verifier is tested on real proofs in
//! `tamper/proofs.rs`.

mod support;

#[path = "tamper/attacks.rs"]
mod attacks;
#[path = "tamper/checkpoints.rs"]
mod checkpoints;
#[path = "tamper/corrections.rs"]
mod corrections;
#[path = "tamper/fixture.rs"]
mod fixture;
#[path = "tamper/proofs.rs"]
mod proofs;
#[path = "tamper/targets.rs"]
mod targets;

/// One test per attack on a fresh `$target`, running `<module>::<attack>`.
macro_rules! attacks {
    ($target:ty) => {
        attacks!(@each $target;
            attacks::untampered_ledger_verifies,
            attacks::edited_entry_resealed_breaks_the_next_link,
            attacks::inflated_bonus_resealed_fails_recomputation,
            attacks::edited_entry_unsealed_has_a_bad_hash,
            attacks::deleted_entry_is_a_seq_gap,
            attacks::truncated_tail_with_rewritten_head_is_caught_by_the_checkpoint,
            attacks::inserted_entry_with_the_rest_moved_as_is,
            attacks::inserted_entry_with_the_rest_renumbered,
            attacks::inserted_entry_with_the_rest_relinked,
            attacks::swapped_entries_are_a_seq_gap,
            attacks::rewritten_chain_mismatches_its_checkpoint,
            attacks::rewritten_chain_with_checkpoints_deleted_breaks_member_links,
            attacks::rewritten_chain_with_checkpoints_deleted_mismatches_kept_checkpoints,
            attacks::edited_balance_disagrees_with_the_entries,
            attacks::misstated_day_items_before_fails_the_member_walk,
            attacks::plausible_entry_relabelled_implausible_fails_recomputation,
            attacks::inflated_reuse_resealed_is_caught_by_the_mass_balance,
            attacks::inflated_reuse_figure_disagrees_with_the_entries,
            attacks::brand_entry_left_out_passes_the_statement_but_not_the_verifier,
            corrections::correction_with_a_wrong_delta_fails_recomputation,
            corrections::duplicated_correction_is_named,
            corrections::correction_of_a_non_existent_entry_is_named,
            checkpoints::forged_checkpoint_root_is_a_bad_checkpoint,
            checkpoints::checkpoint_of_another_key_is_a_bad_checkpoint,
            checkpoints::checkpoint_of_another_chain_is_a_bad_checkpoint,
            checkpoints::forged_checkpoint_root_unpinned_is_a_mismatch,
            checkpoints::deleted_checkpoints_alone_only_show_as_no_checkpoint_matched,
        );
    };
    (@each $target:ty; $($module:ident::$attack:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $attack() {
            let target = <$target as crate::targets::Target>::fresh(stringify!($attack)).await;
            crate::$module::$attack(target).await;
        }
    )*};
}

mod embedded {
    attacks!(crate::targets::Embedded);
}

mod dynamodb {
    attacks!(crate::targets::Dynamo);
}
