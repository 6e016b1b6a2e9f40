//! The pseudonym mapping and erasure: a person maps to one random member whoever asks first,
//! erasure cuts exactly that link with a receipt, and the ledger does not move.

use crate::{books, sorted_heads, verify_store, WINDOW_START};
use greenloop::catalog::Rules;
use greenloop::checkpoint::tree;
use greenloop::checkpoint::LogKey;
use greenloop::credit::credit_pending;
use greenloop::domain::{Action, ActionKind, Pepper, Subject};
use greenloop::erasure::{erase, Outcome, OPERATOR, RECEIPT_KEPT_S};
use greenloop::receipt::{LogPoint, ReceiptKey, PSEUDONYM_MAPPING};
use greenloop::store::{Erased, Store};

/// A fixed receipt key for the cases (not the log's).
const RECEIPT_KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

fn subject(user: &str) -> Subject {
    Subject::of(
        &Pepper::new(b"greenloop-store-suite-pepper".to_vec()).expect("pepper"),
        user,
    )
}

pub async fn erasure_unlinks_the_person_and_keeps_the_ledger(store: &dyn Store) {
    let ann = subject("ann");
    assert_eq!(store.mapping(&ann).await.expect("read"), None);

    // First sight draws one pseudonym, whoever asks first and however many at once.
    let (a, b, c) = tokio::join!(
        store.member_or_new(&ann, "qr-1"),
        store.member_or_new(&ann, "qr-1"),
        store.member_or_new(&ann, "qr-1"),
    );
    let member = a.expect("first sight");
    assert_eq!(b.expect("again"), member, "concurrent first sights agree");
    assert_eq!(c.expect("again"), member);
    let mapping = store.mapping(&ann).await.expect("read").expect("mapped");
    assert_eq!(
        (mapping.member, mapping.origin.as_str()),
        (member.clone(), "qr-1")
    );
    let later = store.member_or_new(&ann, "app-2").await.expect("later");
    assert_eq!(
        later, member,
        "a later sight by another integration finds her"
    );
    assert_eq!(
        store
            .mapping(&ann)
            .await
            .expect("read")
            .expect("mapped")
            .origin,
        "qr-1"
    );
    let bo = store
        .member_or_new(&subject("bo"), "qr-1")
        .await
        .expect("bo");
    assert_ne!(bo, member, "each person their own random pseudonym");

    // Ann acts and is credited; the log is checkpointed.
    let action = Action {
        id: "er-1".into(),
        integration: "qr-1".into(),
        kind: ActionKind::Scan,
        member: member.clone(),
        station: "st-er".into(),
        at: WINDOW_START + 60,
        items: books(2),
    };
    store.record_action(&action).await.expect("record");
    credit_pending(store, &Rules::defaults(), 1)
        .await
        .expect("credit");
    let log_key = LogKey::from_hex(crate::TEST_LOG_KEY).expect("log key");
    tree::publish_all(store, &log_key, WINDOW_START + 120)
        .await
        .expect("publish");
    let heads = sorted_heads(store).await;
    let account = store
        .accounts(std::slice::from_ref(&member))
        .await
        .expect("account")
        .remove(0);
    assert_eq!(account.entries, 1);

    let key = ReceiptKey::from_hex(RECEIPT_KEY).expect("key");
    let now = WINDOW_START + 3_600;
    // Only the integration that first saw her, or the operator, may erase her.
    let refused = erase(store, &key, &ann, "app-2", "req-x", now)
        .await
        .expect("erase");
    assert_eq!(refused, Outcome::Unknown, "another integration's member");
    assert!(store.mapping(&ann).await.expect("read").is_some(), "kept");

    let Outcome::Erased(receipt) = erase(store, &key, &ann, "qr-1", "req-1", now)
        .await
        .expect("erase")
    else {
        panic!("erased");
    };
    let e = receipt.verify(&key.public()).expect("the receipt verifies");
    assert_eq!(e.member, member);
    assert_eq!((e.entries, e.head), (1, account.head));
    assert_eq!(e.removed, vec![PSEUDONYM_MAPPING.to_owned()]);
    assert_eq!(
        e.checkpoints,
        LogPoint::of(&store.log_checkpoints().await.expect("log"))
    );
    assert_eq!((e.integration.as_str(), e.erased_at), ("qr-1", now));

    // The user id no longer resolves; the ledger, the account and every check are unchanged.
    assert_eq!(store.mapping(&ann).await.expect("read"), None);
    assert_eq!(sorted_heads(store).await, heads, "no chain moved");
    assert!(
        verify_store(store).await.is_ok(),
        "the ledger still verifies"
    );
    let kept = store
        .accounts(std::slice::from_ref(&member))
        .await
        .expect("account")
        .remove(0);
    assert_eq!(kept, account, "the pseudonymous account stays");
    assert!(store.mapping(&subject("bo")).await.expect("read").is_some());

    // The same request again (its answer lost) gets the same receipt; another finds no one.
    let again = erase(store, &key, &ann, "qr-1", "req-1", now + 60)
        .await
        .expect("again");
    assert_eq!(again, Outcome::Replay(receipt.clone()));
    let other = erase(store, &key, &ann, OPERATOR, "req-2", now + 60)
        .await
        .expect("other");
    assert_eq!(other, Outcome::Unknown);
    let kept = store
        .erasure_receipt("qr-1", "req-1", now)
        .await
        .expect("kept");
    assert_eq!(kept, Some(receipt.clone()));
    let expired = store
        .erasure_receipt("qr-1", "req-1", now + RECEIPT_KEPT_S)
        .await
        .expect("expired");
    assert_eq!(expired, None, "kept only for a while");

    // A new action from the same person starts a new pseudonym; an erasure naming the old one
    // deletes nothing.
    let fresh = store.member_or_new(&ann, "qr-1").await.expect("fresh");
    assert_ne!(fresh, member, "a new pseudonym after erasure");
    let mut stale = receipt.clone();
    stale.erasure.request = "req-3".into();
    let gone = store
        .erase(&ann, &stale, now + RECEIPT_KEPT_S)
        .await
        .expect("erase");
    assert_eq!(gone, Erased::Gone);
    assert_eq!(
        store.mapping(&ann).await.expect("read").map(|m| m.member),
        Some(fresh),
        "the new mapping stays"
    );
    assert_eq!(
        store
            .erasure_receipt("qr-1", "req-3", now)
            .await
            .expect("read"),
        None
    );
}
