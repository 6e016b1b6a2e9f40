//! The queries case: what portals and the API read back after crediting — per-day campus
//! totals, leaderboards, a member's recent entries.

use crate::{books, campus, member, scan, SHARDS, WINDOW_START};
use greenloop::catalog::Rules;
use greenloop::credit::credit_pending;
use greenloop::ledger::Entry;
use greenloop::store::Consent;
use greenloop::store::Store;

/// Reads agree with the entries crediting wrote; ties on a leaderboard break by member.
pub async fn queries_read_what_was_credited(store: &dyn Store) {
    for c in ["campus-q", "campus-z"] {
        store.put_campus(&campus(c)).await.expect("put_campus");
    }
    for (who, c) in [
        (1, "campus-q"),
        (2, "campus-q"),
        (3, "campus-q"),
        (4, "campus-z"),
    ] {
        store
            .affiliate(&member(who), c, Consent::Enrol)
            .await
            .expect("affiliate");
    }
    let day = 86_400;
    // Members 1 and 2 end level on CO2e; 3 never acts; 4 is on the other campus; 5 has none.
    let actions = [
        scan("q-1", 1, "st-q", WINDOW_START + 100, books(2)),
        scan("q-2", 1, "st-q", WINDOW_START + day + 100, books(3)),
        scan("q-3", 2, "st-q", WINDOW_START + 200, books(5)),
        scan("q-4", 4, "st-z", WINDOW_START + 300, books(9)),
        scan("q-5", 5, "st-z", WINDOW_START + 400, books(1)),
    ];
    for a in &actions {
        store.record_action(a).await.expect("record_action");
    }
    let rules = Rules::defaults();
    let run = credit_pending(store, &rules, SHARDS)
        .await
        .expect("credit_pending");
    assert_eq!(run.credited, 5, "every action credited");

    let mut entries: Vec<Entry> = Vec::new();
    for h in store.chain_heads().await.expect("chain_heads") {
        for bytes in store.entries(&h.chain, 0, 100).await.expect("entries") {
            entries.push(serde_json::from_slice(&bytes).expect("entry"));
        }
    }
    let of = |campus: &str, day: &str| -> (i64, i64, u64) {
        let mine: Vec<&Entry> = entries
            .iter()
            .filter(|e| e.campus.as_deref() == Some(campus) && e.day == day)
            .collect();
        (
            mine.iter().map(|e| e.bonus).sum(),
            mine.iter().map(|e| e.co2e_g).sum(),
            mine.len() as u64,
        )
    };

    let days = store.campus_days("campus-q").await.expect("campus_days");
    let listed: Vec<&str> = days.iter().map(|d| d.day.as_str()).collect();
    assert_eq!(
        listed,
        ["2026-11-01", "2026-11-02"],
        "campus days in day order"
    );
    for d in &days {
        assert_eq!(d.campus, "campus-q");
        assert_eq!(
            (d.bonus, d.co2e_g, d.entries),
            of("campus-q", &d.day),
            "campus-q on {}",
            d.day
        );
    }
    assert!(store
        .campus_days("campus-none")
        .await
        .expect("campus_days")
        .is_empty());
    let totals = store.campus_totals().await.expect("campus_totals");
    let q = totals
        .iter()
        .find(|t| t.campus == "campus-q")
        .expect("campus-q totals");
    assert_eq!(q.entries, 3);
    assert_eq!(q.co2e_g, days.iter().map(|d| d.co2e_g).sum::<i64>());
    assert!(
        totals.iter().all(|t| t.campus != "campus-none"),
        "no totals without entries"
    );

    // Leaderboard: 1 and 2 tie (5 books each), then 3 with nothing; 4 is elsewhere.
    let board = store
        .leaderboard("campus-q", None, 10)
        .await
        .expect("leaderboard");
    let who: Vec<_> = board.iter().map(|a| a.member.clone()).collect();
    let mut tied = [member(1), member(2)];
    tied.sort();
    assert_eq!(
        who,
        [tied[0].clone(), tied[1].clone(), member(3)],
        "co2e desc, then member"
    );
    assert_eq!(board[0].co2e_g, board[1].co2e_g, "the fixture ties");
    assert!(board[0].co2e_g > 0 && board[2].co2e_g == 0);
    let top = store
        .leaderboard("campus-q", None, 1)
        .await
        .expect("leaderboard");
    assert_eq!(top.len(), 1);
    assert_eq!(top[0].member, tied[0], "a tie at the cut breaks by member");
    assert!(store
        .leaderboard("campus-none", None, 5)
        .await
        .expect("leaderboard")
        .is_empty());

    // A member's entries, newest first, exactly as stored, each with its own number.
    let recent = store
        .member_entries(&member(1), None, 5)
        .await
        .expect("member_entries");
    let numbers: Vec<u64> = recent.iter().map(|(n, _)| *n).collect();
    assert_eq!(numbers, [1, 0], "the member's own numbers, newest first");
    let parsed: Vec<Entry> = recent
        .iter()
        .map(|(_, b)| serde_json::from_slice(b).expect("entry"))
        .collect();
    let ids: Vec<&str> = parsed.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(ids, ["q-2", "q-1"], "newest first");
    assert_eq!(recent[0].1, parsed[0].to_json(), "kept as canonical bytes");
    assert_eq!(
        store
            .member_entries(&member(1), None, 1)
            .await
            .expect("member_entries")
            .len(),
        1
    );
    assert!(store
        .member_entries(&member(3), None, 5)
        .await
        .expect("member_entries")
        .is_empty());
}
