//! The store behaviour suite: what every [`Store`] implementation must do, written once against
//! the traits so the embedded store and the DynamoDB store run the same cases unchanged.
//!
//! It is a crate of its own, which only tests depend on, so that no Lambda binary and no
//! `greenloop` release build contains its panicking cases or its test signing key.
//!
//! Each case is a `pub async fn` that takes a fresh, empty store and panics, with a message
//! saying which behaviour broke, if the store misbehaves. Most take `&dyn Store`;
//! [`concurrent_crediting_credits_each_action_once`] takes an `Arc<dyn Store>` because it
//! spawns crediting tasks, so run it on a multi-threaded tokio runtime. [`store_cases!`] makes
//! one test per case; it holds the only list of them.
//!
//! [`faults`] is a store wrapper that injects faults on a seeded schedule, and [`outcome`] reads
//! back what a faulty run left: the fault-injection suite (`shared/tests/reliability.rs`).
//!
//! Cases use the built-in rulebook (Double 11 2026), so action times lie inside its window:
//! [`WINDOW_START`] to [`WINDOW_END`].

mod actions;
mod brands;
mod campus;
mod checkpoints;
mod concurrency;
mod disposition;
mod erasure;
pub mod faults;
mod invariants;
mod keys;
mod ledger;
pub mod outcome;
mod pages;
mod quarantine;
mod queries;
mod registry;
mod requantify;

pub use actions::{
    invalid_actions_are_refused_and_not_written, pending_actions_are_oldest_first_and_limited,
    pickups_are_booked_then_completed, recording_is_idempotent,
};
pub use brands::brand_figures_fold_each_share_once;
pub use campus::{
    affiliation_is_the_members_choice, leaderboards_page_through_ties,
    the_public_ranking_is_kept_newest_first,
};
pub use checkpoints::{
    checkpoints_sign_the_tree_and_answer_proofs,
    the_public_log_keeps_each_chains_latest_checkpoint, TEST_LOG_KEY,
};
pub use concurrency::concurrent_crediting_credits_each_action_once;
pub use disposition::disposition_keeps_the_mass_balance;
pub use erasure::erasure_unlinks_the_person_and_keeps_the_ledger;
pub use invariants::invariants_hold_under_concurrent_duplicated_delivery;
pub use keys::api_keys_are_kept_by_id_and_revoked_in_place;
pub use ledger::{append_is_conditional_and_all_or_nothing, append_writes_everything_it_carries};
pub use pages::{checkpoints_page_by_size, member_entries_page_back_by_their_own_number};
pub use quarantine::{
    a_pledge_past_the_cap_is_quarantined, quarantine_sets_aside_and_retry_restores,
};
pub use queries::queries_read_what_was_credited;
pub use registry::registry_round_trips_and_rules_are_fixed;
pub use requantify::requantification_corrects_each_entry_once;

use greenloop::domain::{Action, ActionKind, BoxLot, Campus, Items, MemberId, Pepper};
use greenloop::ledger::verify::{Report, Verifier};
use greenloop::ledger::Entry;
use greenloop::store::{Account, CampusTotals, ChainHead, Store};

/// 2026-11-01T00:00:00+08:00, the first second of the built-in campaign window.
pub const WINDOW_START: i64 = 1_793_462_400;
/// 2026-11-20T23:59:59+08:00, its last second.
pub const WINDOW_END: i64 = WINDOW_START + 20 * 86_400 - 1;
/// Chains the cases spread stations over.
pub const SHARDS: u32 = 4;

/// Defines one `#[tokio::test]` per case of the suite, each on a fresh store: the one list of
/// cases. A store's test file invokes it once:
///
/// ```ignore
/// greenloop_testkit::store_cases!(|case| fresh_store(case));
/// ```
///
/// `|case| fresh` is an expression, evaluated inside the async test (so it may `.await`), that
/// gives `(store, keep)`: a fresh store for the case named `case` (a `&str`), and what must
/// outlive it (a temporary directory, or `()`).
#[macro_export]
macro_rules! store_cases {
    (|$case:ident| $fresh:expr) => {
        $crate::store_cases!(@each |$case| $fresh;
            recording_is_idempotent,
            invalid_actions_are_refused_and_not_written,
            pickups_are_booked_then_completed,
            pending_actions_are_oldest_first_and_limited,
            append_writes_everything_it_carries,
            append_is_conditional_and_all_or_nothing,
            registry_round_trips_and_rules_are_fixed,
            api_keys_are_kept_by_id_and_revoked_in_place,
            queries_read_what_was_credited,
            member_entries_page_back_by_their_own_number,
            checkpoints_page_by_size,
            checkpoints_sign_the_tree_and_answer_proofs,
            the_public_log_keeps_each_chains_latest_checkpoint,
            quarantine_sets_aside_and_retry_restores,
            a_pledge_past_the_cap_is_quarantined,
            affiliation_is_the_members_choice,
            leaderboards_page_through_ties,
            the_public_ranking_is_kept_newest_first,
            disposition_keeps_the_mass_balance,
            brand_figures_fold_each_share_once,
            erasure_unlinks_the_person_and_keeps_the_ledger,
        );

        // The cases that share their store between tasks.
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn requantification_corrects_each_entry_once() {
            let $case = "requantification_corrects_each_entry_once";
            let (store, _keep) = $fresh;
            $crate::requantification_corrects_each_entry_once(::std::sync::Arc::new(store)).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn concurrent_crediting_credits_each_action_once() {
            let $case = "concurrent_crediting_credits_each_action_once";
            let (store, _keep) = $fresh;
            $crate::concurrent_crediting_credits_each_action_once(::std::sync::Arc::new(store))
                .await;
        }
    };
    (@each |$case:ident| $fresh:expr; $($name:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $name() {
            let $case = stringify!($name);
            let (store, _keep) = $fresh;
            $crate::$name(&store).await;
        }
    )*};
}

/// Runs the full ledger verifier over everything the store holds: every chain's entries, the
/// heads, the accounts, the campus totals, against the store's own catalog.
pub async fn verify_store(store: &dyn Store) -> Report {
    let catalog = store.catalog().await.expect("catalog");
    let heads = sorted_heads(store).await;
    let mut v = Verifier::new(&catalog);
    for h in &heads {
        v.chain(&h.chain);
        for e in all_entries(store, &h.chain).await {
            v.push(&e);
        }
    }
    let accounts = all_accounts(store).await;
    let totals = sorted_totals(store).await;
    v.finish(&heads, &accounts, &totals)
}

/// A page size that is small and odd, so reading a ledger takes several uneven pages.
const PAGE: usize = 7;
/// A limit above anything a case records.
const ALL: usize = 10_000;

/// The member pseudonym of platform user `user-{n}`.
fn member(n: u32) -> MemberId {
    let pepper = Pepper::new(b"greenloop-store-suite-pepper".to_vec()).expect("pepper");
    MemberId::pseudonym(&pepper, &format!("user-{n}"))
}

fn action(id: &str, kind: ActionKind, who: u32, station: &str, at: i64, items: Items) -> Action {
    Action {
        id: id.to_owned(),
        integration: "qr-1".into(),
        kind,
        member: member(who),
        station: station.to_owned(),
        at,
        items,
    }
}

fn scan(id: &str, who: u32, station: &str, at: i64, items: Items) -> Action {
    action(id, ActionKind::Scan, who, station, at, items)
}

/// A pickup appointment: no items until the courier weighs them.
fn booking(id: &str, who: u32, station: &str, at: i64) -> Action {
    action(id, ActionKind::Pickup, who, station, at, Items::default())
}

fn boxes(count: u32, brand: Option<&str>) -> Items {
    Items {
        boxes: vec![BoxLot {
            brand: brand.map(str::to_owned),
            count,
        }],
        ..Items::default()
    }
}

fn books(n: u32) -> Items {
    Items {
        books: n,
        ..Items::default()
    }
}

fn campus(id: &str) -> Campus {
    Campus {
        id: id.to_owned(),
        name: format!("University {id}"),
        city: "Shanghai".to_owned(),
    }
}

fn ids(actions: &[Action]) -> Vec<String> {
    actions.iter().map(|a| a.id.clone()).collect()
}

/// The pending queue from just after `after`, at most `limit`, every item readable.
async fn pending(store: &dyn Store, after: Option<&str>, limit: usize) -> Vec<Action> {
    store
        .pending_actions(after, limit)
        .await
        .expect("pending_actions")
        .into_iter()
        .map(|p| {
            p.action
                .unwrap_or_else(|e| panic!("pending {} unreadable: {e}", p.id))
        })
        .collect()
}

async fn pending_ids(store: &dyn Store) -> Vec<String> {
    ids(&pending(store, None, ALL).await)
}

async fn sorted_heads(store: &dyn Store) -> Vec<ChainHead> {
    let mut heads = store.chain_heads().await.expect("chain_heads");
    heads.sort_by(|a, b| a.chain.cmp(&b.chain));
    heads
}

async fn sorted_totals(store: &dyn Store) -> Vec<CampusTotals> {
    let mut totals = store.campus_totals().await.expect("campus_totals");
    totals.sort_by(|a, b| a.campus.cmp(&b.campus));
    totals
}

/// Every stored entry of `chain`, read in pages of [`PAGE`], checking each page's bounds.
async fn all_entries(store: &dyn Store, chain: &str) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = Vec::new();
    loop {
        let page = store
            .entries(chain, out.len() as u64, PAGE)
            .await
            .expect("entries");
        assert!(
            page.len() <= PAGE,
            "entries({chain}, {}, {PAGE}) returned {} entries, more than the limit",
            out.len(),
            page.len()
        );
        let done = page.len() < PAGE;
        out.extend(page);
        if done {
            return out;
        }
    }
}

/// Every stored entry of `chain`, parsed, with a check that each is in seq order.
async fn parsed_entries(store: &dyn Store, chain: &str) -> Vec<Entry> {
    let stored = all_entries(store, chain).await;
    stored
        .iter()
        .enumerate()
        .map(|(i, bytes)| {
            let e: Entry = serde_json::from_slice(bytes).unwrap_or_else(|err| {
                panic!("stored entry {i} of {chain} is not a ledger entry: {err}")
            });
            assert_eq!(e.seq, i as u64, "entries of {chain} are not in seq order");
            assert_eq!(
                e.chain, chain,
                "an entry read from {chain} names another chain"
            );
            e
        })
        .collect()
}

/// Every stored account, read in pages of [`PAGE`], checking member order.
async fn all_accounts(store: &dyn Store) -> Vec<Account> {
    let mut out: Vec<Account> = Vec::new();
    loop {
        let after = out.last().map(|a| a.member.clone());
        let page = store
            .account_page(after.as_ref(), PAGE)
            .await
            .expect("account_page");
        assert!(
            page.len() <= PAGE,
            "account_page returned more than its limit"
        );
        let done = page.len() < PAGE;
        for a in page {
            if let Some(last) = out.last() {
                assert!(
                    last.member < a.member,
                    "account_page is not in member order"
                );
            }
            out.push(a);
        }
        if done {
            return out;
        }
    }
}

/// Everything an append could touch, for checking that a refused append wrote nothing.
#[derive(Debug, PartialEq)]
struct Snapshot {
    heads: Vec<ChainHead>,
    /// Entries of every chain with a head, plus the chains named, as text for readable diffs.
    entries: Vec<(String, Vec<String>)>,
    accounts: Vec<Account>,
    totals: Vec<CampusTotals>,
    actions: Vec<(String, Option<greenloop::store::ActionRecord>)>,
    pending: Vec<String>,
}

async fn snapshot(store: &dyn Store, chains: &[&str], actions: &[&str]) -> Snapshot {
    let heads = sorted_heads(store).await;
    let mut names: Vec<String> = heads.iter().map(|h| h.chain.clone()).collect();
    names.extend(chains.iter().map(|c| c.to_string()));
    names.sort();
    names.dedup();
    let mut entries = Vec::new();
    for c in names {
        let text = all_entries(store, &c)
            .await
            .into_iter()
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .collect();
        entries.push((c, text));
    }
    let mut records = Vec::new();
    for id in actions {
        records.push((id.to_string(), store.action(id).await.expect("action")));
    }
    Snapshot {
        heads,
        entries,
        accounts: all_accounts(store).await,
        totals: sorted_totals(store).await,
        actions: records,
        pending: pending_ids(store).await,
    }
}
