//! The registry case: stations, campuses, affiliations and published rules.

use crate::{campus, member};
use greenloop::catalog::Rules;
use greenloop::domain::{Campus, Station};
use greenloop::store::Consent;
use greenloop::store::{Account, Store, StoreError};

/// Stations and campuses round-trip; affiliation needs a known campus; a published rules
/// version never changes content.
pub async fn registry_round_trips_and_rules_are_fixed(store: &dyn Store) {
    let station = Station {
        id: "st-reg-1".into(),
        city: "Hangzhou".into(),
        campus: Some("campus-r".into()),
        integrations: vec!["qr-1".into()],
    };
    store.put_station(&station).await.expect("put_station");
    assert_eq!(
        store.station("st-reg-1").await.expect("station"),
        Some(station.clone()),
        "a station reads back as written"
    );
    assert_eq!(store.station("st-missing").await.expect("station"), None);
    let bad = Station {
        id: "st reg".into(),
        ..station.clone()
    };
    assert!(
        matches!(store.put_station(&bad).await, Err(StoreError::Invalid(_))),
        "a station with a bad id is refused"
    );
    assert_eq!(store.station("st reg").await.expect("station"), None);

    assert!(
        store.campuses().await.expect("campuses").is_empty(),
        "no campuses yet"
    );
    let (r, s) = (campus("campus-r"), campus("campus-s"));
    store.put_campus(&s).await.expect("put_campus");
    store.put_campus(&r).await.expect("put_campus");
    let mut all = store.campuses().await.expect("campuses");
    all.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(all, [r.clone(), s.clone()], "campuses read back as written");
    let bad = Campus {
        id: "campus r".into(),
        ..r.clone()
    };
    assert!(
        matches!(store.put_campus(&bad).await, Err(StoreError::Invalid(_))),
        "a campus with a bad id is refused"
    );
    assert_eq!(store.campuses().await.expect("campuses").len(), 2);

    let m = member(7);
    match store.affiliate(&m, "campus-unknown", Consent::Enrol).await {
        Err(StoreError::NotFound(_)) => {}
        other => panic!("affiliating to an unknown campus: expected NotFound, got {other:?}"),
    }
    assert_eq!(
        store
            .accounts(std::slice::from_ref(&m))
            .await
            .expect("accounts"),
        [Account::new(m.clone())],
        "a refused affiliation changes nothing"
    );
    store
        .affiliate(&m, "campus-r", Consent::Enrol)
        .await
        .expect("affiliate");
    store
        .affiliate(&m, "campus-s", Consent::Transfer)
        .await
        .expect("re-affiliate");
    let got = store
        .accounts(std::slice::from_ref(&m))
        .await
        .expect("accounts");
    assert_eq!(
        got[0].campus.as_deref(),
        Some("campus-s"),
        "the latest affiliation"
    );
    assert_eq!(
        (got[0].balance, got[0].entries),
        (0, 0),
        "affiliation credits nothing"
    );

    let defaults = Rules::defaults();
    store
        .put_rules(&defaults)
        .await
        .expect("publish the built-ins");
    store
        .put_rules(&defaults)
        .await
        .expect("publishing again is idempotent");
    let mut changed = Rules::defaults();
    changed.rulebook.daily_cap += 100;
    assert!(
        matches!(store.put_rules(&changed).await, Err(StoreError::Invalid(_))),
        "a changed rulebook under a published version is refused"
    );
    let mut changed_factors = Rules::defaults();
    changed_factors.factors.box_reused.g_co2e += 1;
    assert!(
        matches!(
            store.put_rules(&changed_factors).await,
            Err(StoreError::Invalid(_))
        ),
        "a changed factor table under a published version is refused"
    );
    let catalog = store.catalog().await.expect("catalog");
    let version = &defaults.rulebook.version;
    assert_eq!(
        catalog.rulebook(version),
        Some(&defaults.rulebook),
        "a refused change leaves the published rulebook as it was"
    );
    assert_eq!(
        catalog.factors(&defaults.factors.version),
        Some(&defaults.factors)
    );

    changed.rulebook.version = "suite-rules-2".into();
    changed_factors.factors.version = "suite-factors-2".into();
    changed.factors = changed_factors.factors.clone();
    store
        .put_rules(&changed)
        .await
        .expect("publish new versions");
    let catalog = store.catalog().await.expect("catalog");
    assert_eq!(
        catalog.rulebook("suite-rules-2"),
        Some(&changed.rulebook),
        "the new rulebook version is in the catalog"
    );
    assert_eq!(
        catalog.factors("suite-factors-2"),
        Some(&changed.factors),
        "the new factor table version is in the catalog"
    );
    assert_eq!(
        catalog.rulebook(version),
        Some(&defaults.rulebook),
        "the old version is still there"
    );
    store
        .put_rules(&changed)
        .await
        .expect("republishing the new versions is idempotent");
    let mut again = changed.clone();
    again.rulebook.daily_cap += 1;
    assert!(
        matches!(store.put_rules(&again).await, Err(StoreError::Invalid(_))),
        "a stored (not built-in) version cannot change content either"
    );
}
