//! Bearer keys the operator revoked, and keys past their expiry, on a campus route and on an
//! audit route: each answer is the documented 401 with its own code, and a malformed key, an
//! unknown id and a wrong secret get `unauthorized`.

use crate::harness::{Harness, Req, NOW};
use greenloop::store::api_key::mint;
use greenloop::store::{ApiKey, Grant, Registry};

const DAY: i64 = 86_400;

pub async fn revoked_and_expired_keys(h: &Harness) {
    let campus = || Grant::Campus {
        campus: "campus-a".into(),
    };
    let routes = [
        ("/v1/campuses/campus-a/summary", campus()),
        ("/v1/audit/heads", Grant::Auditor),
    ];
    for (path, grant) in routes {
        let revoked = mint(grant.clone(), NOW - DAY, None).expect("randomness");
        h.store.put_api_key(&revoked.record).await.unwrap();
        h.store
            .revoke_api_key(&revoked.record.id, NOW - 60)
            .await
            .unwrap();
        h.err(Req::get(path).bearer(&revoked.key), 401, "key_revoked")
            .await;

        // Made two days ago, expired yesterday: the harness's clock reads NOW.
        let expired = mint(grant, NOW - 2 * DAY, Some(NOW - DAY)).expect("randomness");
        h.store.put_api_key(&expired.record).await.unwrap();
        h.err(Req::get(path).bearer(&expired.key), 401, "key_expired")
            .await;

        let id = &expired.record.id;
        for wrong in [
            format!("glk_{id}_{}", "0".repeat(64)),
            format!("glk_0000000000000000_{}", "0".repeat(64)),
            format!("glk_{id}"),
        ] {
            h.err(Req::get(path).bearer(&wrong), 401, "unauthorized")
                .await;
        }
    }
    // The records are still there, with what happened to them.
    let kept: Vec<ApiKey> = h.store.api_keys().await.unwrap();
    assert!(kept.iter().any(|k| k.revoked_at == Some(NOW - 60)));
    assert!(kept.iter().any(|k| k.expires_at == Some(NOW - DAY)));
}
