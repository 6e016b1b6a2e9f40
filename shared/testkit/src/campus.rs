//! The campus cases: a member's campus is theirs (a portal enrols, only consent moves), a
//! leaderboard pages through ties without gaps or repeats, and the public ranking is kept
//! newest-first.

use crate::{books, campus, member, scan, SHARDS, WINDOW_START};
use greenloop::catalog::Rules;
use greenloop::credit::credit_pending;
use greenloop::credit::ranking;
use greenloop::ranking::{BoardRow, Ranking, Standing};
use greenloop::store::{Account, Affiliated, Consent, Store, StoreError};

async fn account(store: &dyn Store, who: u32) -> Account {
    store
        .accounts(&[member(who)])
        .await
        .expect("accounts")
        .pop()
        .expect("one account")
}

/// A portal enrols a member with no campus; a member of another campus is not moved without
/// consent; a consented move takes the member's standing along.
pub async fn affiliation_is_the_members_choice(store: &dyn Store) {
    for c in ["campus-a", "campus-b"] {
        store.put_campus(&campus(c)).await.expect("put_campus");
    }
    let m = member(1);
    let enrol = |c: &'static str| store.affiliate(&m, c, Consent::Enrol);
    assert_eq!(enrol("campus-a").await.expect("enrol"), Affiliated::Joined);
    assert_eq!(
        enrol("campus-a").await.expect("enrol again"),
        Affiliated::Unchanged
    );
    let fresh = account(store, 1).await;
    assert_eq!(fresh.campus.as_deref(), Some("campus-a"));
    assert_eq!((fresh.balance, fresh.co2e_g, fresh.entries), (0, 0, 0));

    // Credit the member at campus-a, then try to poach them.
    store
        .record_action(&scan("p-1", 1, "st-a", WINDOW_START + 100, books(4)))
        .await
        .expect("record_action");
    credit_pending(store, &Rules::defaults(), SHARDS)
        .await
        .expect("credit_pending");
    let credited = account(store, 1).await;
    assert!(credited.co2e_g > 0, "the fixture credits CO2e");
    assert_eq!(
        enrol("campus-b").await.expect("poach"),
        Affiliated::Elsewhere,
        "a portal cannot take another campus's member"
    );
    assert_eq!(
        account(store, 1).await,
        credited,
        "a refusal writes nothing"
    );
    let board_a = store
        .leaderboard("campus-a", None, 10)
        .await
        .expect("board");
    assert_eq!(
        board_a,
        [BoardRow::of(&credited)],
        "still on campus-a's board"
    );
    assert!(store
        .leaderboard("campus-b", None, 10)
        .await
        .expect("board")
        .is_empty());

    match store.affiliate(&m, "campus-none", Consent::Transfer).await {
        Err(StoreError::NotFound(_)) => {}
        other => panic!("an unknown campus: expected NotFound, got {other:?}"),
    }
    assert_eq!(
        account(store, 1).await,
        credited,
        "a refusal writes nothing"
    );

    assert_eq!(
        store
            .affiliate(&m, "campus-b", Consent::Transfer)
            .await
            .expect("transfer"),
        Affiliated::Moved {
            from: "campus-a".into()
        }
    );
    let moved = account(store, 1).await;
    assert_eq!(moved.campus.as_deref(), Some("campus-b"));
    assert_eq!(
        (moved.balance, moved.co2e_g, moved.entries),
        (credited.balance, credited.co2e_g, credited.entries),
        "moving credits nothing and loses nothing"
    );
    assert!(store
        .leaderboard("campus-a", None, 10)
        .await
        .expect("board")
        .is_empty());
    assert_eq!(
        store
            .leaderboard("campus-b", None, 10)
            .await
            .expect("board"),
        [BoardRow::of(&moved)]
    );
}

/// 30 members, 24 of them tied at 0 and three pairs tied above: pages of 4 join to exactly the
/// whole board in standing order, the tie at every page boundary broken by member.
pub async fn leaderboards_page_through_ties(store: &dyn Store) {
    store
        .put_campus(&campus("campus-t"))
        .await
        .expect("put_campus");
    for who in 0..30 {
        store
            .affiliate(&member(who), "campus-t", Consent::Enrol)
            .await
            .expect("enrol");
    }
    for who in 0..6 {
        let at = WINDOW_START + 100 + i64::from(who);
        store
            .record_action(&scan(
                &format!("t-{who}"),
                who,
                "st-t",
                at,
                books(who / 2 + 1),
            ))
            .await
            .expect("record_action");
    }
    credit_pending(store, &Rules::defaults(), SHARDS)
        .await
        .expect("credit_pending");

    let whole = store
        .leaderboard("campus-t", None, 100)
        .await
        .expect("board");
    assert_eq!(whole.len(), 30);
    let standings: Vec<Standing> = whole.iter().map(BoardRow::standing).collect();
    let mut sorted = standings.clone();
    sorted.sort();
    assert_eq!(standings, sorted, "one read is in standing order");
    assert_eq!(whole.iter().filter(|a| a.co2e_g == 0).count(), 24);

    let mut paged: Vec<BoardRow> = Vec::new();
    let mut after: Option<Standing> = None;
    loop {
        let page = store
            .leaderboard("campus-t", after.as_ref(), 4)
            .await
            .expect("page");
        assert!(page.len() <= 4);
        let Some(last) = page.last() else { break };
        after = Some(last.standing());
        paged.extend(page);
    }
    assert_eq!(paged, whole, "pages join without gaps or repeats");
}

/// A ranking is kept only if it is no older than the one stored; `keep` computes one from the
/// registry and the campus totals, zeros for a campus with no entry.
pub async fn the_public_ranking_is_kept_newest_first(store: &dyn Store) {
    assert_eq!(store.ranking().await.expect("ranking"), None);
    for c in ["campus-r1", "campus-r2"] {
        store.put_campus(&campus(c)).await.expect("put_campus");
    }
    store
        .affiliate(&member(1), "campus-r2", Consent::Enrol)
        .await
        .expect("enrol");
    store
        .record_action(&scan("r-1", 1, "st-r", WINDOW_START + 100, books(2)))
        .await
        .expect("record_action");
    credit_pending(store, &Rules::defaults(), SHARDS)
        .await
        .expect("credit_pending");

    assert!(ranking::keep(store, 1_000, 10).await.expect("keep"));
    let kept = store.ranking().await.expect("ranking").expect("kept");
    assert_eq!(kept.as_of, 1_000);
    let order: Vec<(&str, u32)> = kept
        .campuses
        .iter()
        .map(|c| (c.campus.as_str(), c.rank))
        .collect();
    assert_eq!(order, [("campus-r2", 1), ("campus-r1", 2)]);
    assert!(kept.campuses[0].co2e_g > 0 && kept.campuses[1].co2e_g == 0);
    assert_eq!(kept.campuses[0].entries, 1);
    // The campaign's days are the campuses' rows summed: here the one entry's day.
    assert_eq!(kept.days.len(), 1, "{:?}", kept.days);
    assert_eq!(
        (
            kept.days[0].entries,
            kept.days[0].co2e_g,
            kept.days[0].bonus
        ),
        (1, kept.campuses[0].co2e_g, kept.campuses[0].bonus)
    );

    assert!(
        !ranking::keep(store, 1_005, 10).await.expect("keep"),
        "younger than max_age: not computed again"
    );
    let older = Ranking {
        as_of: 999,
        campuses: Vec::new(),
        days: Vec::new(),
    };
    assert!(!store.put_ranking(&older).await.expect("put_ranking"));
    assert!(
        store.put_ranking(&kept).await.expect("put_ranking"),
        "one of the same second replaces it"
    );
    assert_eq!(store.ranking().await.expect("ranking"), Some(kept.clone()));
    let newer = Ranking {
        as_of: 1_001,
        ..kept
    };
    assert!(store.put_ranking(&newer).await.expect("put_ranking"));
    assert_eq!(store.ranking().await.expect("ranking"), Some(newer));
}
