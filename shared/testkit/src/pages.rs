//! The paging cases: a member's entries read back by their own number, newest first, and a
//! chain's checkpoints read back by size. Pages must join to the whole list, with no entry twice
//! and none left out, on every store.

use crate::{books, member, scan, TEST_LOG_KEY, WINDOW_START};
use greenloop::catalog::Rules;
use greenloop::checkpoint::tree;
use greenloop::checkpoint::LogKey;
use greenloop::credit::credit_pending;
use greenloop::ledger::{chain_for_station, Entry, ZERO};
use greenloop::store::Store;
use std::collections::BTreeSet;

/// Stations on three different chains of [`crate::SHARDS`]: shard-01, shard-03, shard-00.
const STATIONS: [&str; 3] = ["st-pa", "st-pc", "st-pd"];

/// Records and credits `n` scans of member `who`, numbered from `from`, over [`STATIONS`].
async fn credit_member(store: &dyn Store, who: u32, from: u32, n: u32) {
    for i in from..from + n {
        let station = STATIONS[i as usize % STATIONS.len()];
        let at = WINDOW_START + i64::from(i) * 3_600;
        let a = scan(&format!("pg-{who}-{i}"), who, station, at, books(1));
        store.record_action(&a).await.expect("record_action");
    }
}

/// A member's entries, page after page from `before` on, checking each page's bounds.
async fn walk(store: &dyn Store, who: u32, limit: usize) -> Vec<(u64, Vec<u8>)> {
    let mut out: Vec<(u64, Vec<u8>)> = Vec::new();
    let mut before = None;
    loop {
        let page = store
            .member_entries(&member(who), before, limit)
            .await
            .expect("member_entries");
        assert!(page.len() <= limit, "a page of more than {limit}");
        for &(n, _) in &page {
            assert!(
                before.is_none_or(|b| n < b),
                "entry {n} is not before the cursor {before:?}"
            );
        }
        let Some(&(last, _)) = page.last() else {
            return out;
        };
        out.extend(page);
        before = Some(last);
    }
}

/// Read by the member's own number, newest first and strictly before the cursor, pages join to
/// the member's whole history: numbered `entries - 1` down to 0, linked by `member_prev` from
/// the account's head to zeros, only theirs, on every chain they used.
pub async fn member_entries_page_back_by_their_own_number(store: &dyn Store) {
    // Member 1's entries interleave with member 2's, on three chains.
    credit_member(store, 1, 0, 14).await;
    credit_member(store, 2, 0, 5).await;
    credit_member(store, 1, 14, 9).await;
    let run = credit_pending(store, &Rules::defaults(), crate::SHARDS)
        .await
        .expect("credit_pending");
    assert_eq!(run.credited, 28, "every scan credited");
    let account = store
        .accounts(&[member(1)])
        .await
        .expect("accounts")
        .remove(0);
    assert_eq!(account.entries, 23);

    for limit in [1, 4, 23, 100] {
        let all = walk(store, 1, limit).await;
        let numbers: Vec<u64> = all.iter().map(|(n, _)| *n).collect();
        let want: Vec<u64> = (0..23).rev().collect();
        assert_eq!(
            numbers, want,
            "pages of {limit}: every number once, newest first"
        );
        let mut expect = account.head;
        let mut chains = BTreeSet::new();
        for (n, bytes) in &all {
            let e: Entry = serde_json::from_slice(bytes).expect("entry");
            assert_eq!(e.member, member(1), "entry {n} is another member's");
            assert_eq!(e.hash, expect, "entry {n} is not the one before");
            expect = e.member_prev;
            chains.insert(e.chain);
        }
        assert_eq!(
            expect, ZERO,
            "pages of {limit} reach the member's first entry"
        );
        let used: BTreeSet<String> = STATIONS
            .iter()
            .map(|s| chain_for_station(s, crate::SHARDS))
            .collect();
        assert_eq!(chains, used, "the history spans the member's chains");
    }
    // The cursor's edges: past the newest, just after the first, the first itself.
    let newest = store
        .member_entries(&member(1), Some(1_000), 2)
        .await
        .expect("member_entries");
    assert_eq!(
        newest.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
        [22, 21],
        "a cursor past the end reads from the newest"
    );
    let first = store
        .member_entries(&member(1), Some(1), 5)
        .await
        .expect("member_entries");
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].0, 0);
    let e: Entry = serde_json::from_slice(&first[0].1).expect("entry");
    assert_eq!(e.member_prev, ZERO, "number 0 is the member's first entry");
    assert!(store
        .member_entries(&member(1), Some(0), 5)
        .await
        .expect("member_entries")
        .is_empty());
    assert!(store
        .member_entries(&member(1), None, 0)
        .await
        .expect("member_entries")
        .is_empty());
    // The other member's numbers are their own.
    let theirs = walk(store, 2, 2).await;
    assert_eq!(
        theirs.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
        [4, 3, 2, 1, 0]
    );
}

/// A chain's checkpoints read by size, above `after`: pages join to the whole list, smallest
/// first, and a chain without checkpoints has an empty page.
pub async fn checkpoints_page_by_size(store: &dyn Store) {
    let key = LogKey::from_hex(TEST_LOG_KEY).expect("key");
    let station = STATIONS[2];
    let chain = chain_for_station(station, 1);
    for i in 0..12u32 {
        let at = WINDOW_START + i64::from(i) * 60;
        let a = scan(&format!("cp-{i}"), 1 + i % 3, station, at, books(1));
        store.record_action(&a).await.expect("record_action");
    }
    credit_pending(store, &Rules::defaults(), 1)
        .await
        .expect("credit_pending");
    // Signing every 2 entries, reading 1 at a time: checkpoints at 2, 4, ..., 12.
    tree::publish_paged(store, &key, &chain, 1_000, 1, 2)
        .await
        .expect("publish");
    let all = store.checkpoints(&chain).await.expect("checkpoints");
    let sizes: Vec<u64> = all.iter().map(|c| c.checkpoint.size).collect();
    assert_eq!(sizes, [2, 4, 6, 8, 10, 12]);

    for limit in [1, 4, 6, 50] {
        let mut joined = Vec::new();
        let mut after = None;
        loop {
            let page = store
                .checkpoint_page(&chain, after, limit)
                .await
                .expect("checkpoint_page");
            assert!(page.len() <= limit, "a page of more than {limit}");
            let Some(last) = page.last() else { break };
            after = Some(last.checkpoint.size);
            joined.extend(page);
        }
        assert_eq!(
            joined, all,
            "pages of {limit} join to every checkpoint once"
        );
    }
    let page = |after: Option<u64>, limit: usize| {
        let chain = chain.clone();
        async move {
            store
                .checkpoint_page(&chain, after, limit)
                .await
                .expect("checkpoint_page")
                .iter()
                .map(|c| c.checkpoint.size)
                .collect::<Vec<u64>>()
        }
    };
    assert_eq!(
        page(Some(5), 2).await,
        [6, 8],
        "strictly above a size between two"
    );
    assert_eq!(
        page(Some(6), 2).await,
        [8, 10],
        "strictly above a signed size"
    );
    assert_eq!(page(Some(0), 1).await, [2]);
    assert!(
        page(Some(12), 5).await.is_empty(),
        "nothing above the latest"
    );
    assert!(page(None, 0).await.is_empty());
    assert!(store
        .checkpoint_page("shard-none", None, 5)
        .await
        .expect("checkpoint_page")
        .is_empty());
}
