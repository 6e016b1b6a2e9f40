//! The API keys case: records kept by key id, create-only, revoked in place (the first time
//! kept), and listed with their history.

use crate::{campus, WINDOW_START};
use greenloop::store::api_key::{mint, Minted};
use greenloop::store::{ApiKey, Grant, Store, StoreError};

fn minted(grant: Grant, expires_at: Option<i64>) -> Minted {
    mint(grant, WINDOW_START, expires_at).expect("randomness")
}

fn portal(campus: &str) -> Grant {
    Grant::Campus {
        campus: campus.to_owned(),
    }
}

/// A key id that no minted key has: minted ids are random, this one is fixed.
const NEVER_MINTED: &str = "00000000deadbeef";

/// Keys read back by id with their hash, never the key; an id is taken once; revoking keeps
/// the record and the first revocation time; listing shows every key, revoked ones too.
pub async fn api_keys_are_kept_by_id_and_revoked_in_place(store: &dyn Store) {
    store
        .put_campus(&campus("campus-k"))
        .await
        .expect("put_campus");
    assert!(
        store.api_keys().await.expect("api_keys").is_empty(),
        "no keys yet"
    );

    let p = minted(portal("campus-k"), None);
    let a = minted(Grant::Auditor, Some(WINDOW_START + 86_400));
    store.put_api_key(&p.record).await.expect("put_api_key");
    store.put_api_key(&a.record).await.expect("put_api_key");
    for m in [&p, &a] {
        let got = store.api_key(&m.record.id).await.expect("api_key");
        assert_eq!(got.as_ref(), Some(&m.record), "a key reads back by its id");
        assert!(
            got.is_some_and(|r| r.matches(&m.key)),
            "the stored hash is the key's"
        );
    }
    assert_eq!(
        store.api_key(NEVER_MINTED).await.expect("api_key"),
        None,
        "an id never minted"
    );

    // Create-only: the same id again is refused, whatever it would grant, and the first stays.
    let again = ApiKey {
        grant: Grant::Auditor,
        ..p.record.clone()
    };
    match store.put_api_key(&again).await {
        Err(StoreError::Invalid(i)) if i.code == "key_exists" => {}
        other => panic!("a second put of key id {}: {other:?}", p.record.id),
    }
    assert_eq!(
        store.api_key(&p.record.id).await.expect("api_key"),
        Some(p.record.clone()),
        "a refused put leaves the first record"
    );

    // A campus key needs its campus; a malformed record is refused. Neither is written.
    let orphan = minted(portal("campus-none"), None);
    assert!(
        matches!(
            store.put_api_key(&orphan.record).await,
            Err(StoreError::NotFound(_))
        ),
        "a key for an unknown campus is refused"
    );
    assert_eq!(
        store.api_key(&orphan.record.id).await.expect("api_key"),
        None
    );
    let stale = minted(Grant::Auditor, Some(WINDOW_START));
    assert!(
        matches!(
            store.put_api_key(&stale.record).await,
            Err(StoreError::Invalid(_))
        ),
        "a key that expires when it is made is refused"
    );
    assert_eq!(
        store.api_key(&stale.record.id).await.expect("api_key"),
        None
    );

    let mut both = vec![p.record.clone(), a.record.clone()];
    both.sort_by(|x, y| x.id.cmp(&y.id));
    assert_eq!(
        store.api_keys().await.expect("api_keys"),
        both,
        "every key, in id order"
    );

    // Revoking updates the record in place; the first time stays.
    let t1 = WINDOW_START + 3_600;
    let revoked = store
        .revoke_api_key(&p.record.id, t1)
        .await
        .expect("revoke_api_key");
    let want = ApiKey {
        revoked_at: Some(t1),
        ..p.record.clone()
    };
    assert_eq!(revoked, want, "revoking answers the revoked record");
    assert_eq!(
        store.api_key(&p.record.id).await.expect("api_key"),
        Some(want.clone())
    );
    let twice = store
        .revoke_api_key(&p.record.id, t1 + 60)
        .await
        .expect("revoking again is harmless");
    assert_eq!(twice, want, "revoking again keeps the first time");
    assert_eq!(
        store.api_key(&p.record.id).await.expect("api_key"),
        Some(want.clone())
    );
    assert_eq!(
        store.api_key(&a.record.id).await.expect("api_key"),
        Some(a.record.clone()),
        "revoking one key leaves the others"
    );

    match store.revoke_api_key(NEVER_MINTED, t1).await {
        Err(StoreError::NotFound(_)) => {}
        other => panic!("revoking an unknown id: expected NotFound, got {other:?}"),
    }
    assert_eq!(
        store.api_key(NEVER_MINTED).await.expect("api_key"),
        None,
        "revoking an unknown id creates nothing"
    );

    let mut history = vec![want, a.record.clone()];
    history.sort_by(|x, y| x.id.cmp(&y.id));
    assert_eq!(
        store.api_keys().await.expect("api_keys"),
        history,
        "the listing keeps the revoked key, with when"
    );
}
