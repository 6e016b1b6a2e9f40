//! Erasing a person (PIPL art. 47): the job behind the `scan` function's signed erasure route
//! and `greenloop erase`.
//!
//! It reads the person's mapping, their account (how many entries stay, and the head of their
//! member chain) and the log's latest checkpoints, signs a receipt, and then, in one atomic
//! write, deletes the mapping and keeps the receipt for [`RECEIPT_KEPT_S`] under the asker's
//! request id. Asked again with the same request (an answer lost on the way), it answers the
//! same receipt; the pseudonymous ledger is never touched (`docs/privacy.md`).

use crate::store::{CheckpointStore, Erased, Erasing, Members, StoreError};
use greenloop_core::domain::Subject;
use greenloop_core::receipt::{Erasure, ErasureReceipt, LogPoint, ReceiptKey, PSEUDONYM_MAPPING};

/// How long a receipt is kept for its request to be asked again: long enough for any retry
/// policy, short enough that Greenloop holds no lasting copy of the member's link to it.
pub const RECEIPT_KEPT_S: i64 = 30 * 86_400;

/// Who asks when the operator runs `greenloop erase`: it may erase anyone.
pub const OPERATOR: &str = "operator";

/// What an erasure request came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Erased now: the member's receipt.
    Erased(ErasureReceipt),
    /// The same request was answered before: the same receipt.
    Replay(ErasureReceipt),
    /// Nothing leads from this person to a member that the asker may erase: never seen, erased
    /// already, or first seen by another integration.
    Unknown,
}

/// Erases `subject`'s link for `asker` (an integration's key id, or [`OPERATOR`]) under its
/// `request` id, at `now` (Unix seconds).
pub async fn erase<S: Erasing + Members + CheckpointStore + ?Sized>(
    store: &S,
    key: &ReceiptKey,
    subject: &Subject,
    asker: &str,
    request: &str,
    now: i64,
) -> Result<Outcome, StoreError> {
    if let Some(kept) = store.erasure_receipt(asker, request, now).await? {
        return Ok(Outcome::Replay(kept));
    }
    let Some(mapping) = store.mapping(subject).await? else {
        return Ok(Outcome::Unknown);
    };
    if asker != OPERATOR && mapping.origin != asker {
        return Ok(Outcome::Unknown);
    }
    let account = store
        .accounts(std::slice::from_ref(&mapping.member))
        .await?
        .pop()
        .ok_or_else(|| StoreError::Corrupt("an account read answered nothing".into()))?;
    let receipt = Erasure {
        checkpoints: LogPoint::of(&store.log_checkpoints().await?),
        entries: account.entries,
        erased_at: now,
        head: account.head,
        integration: asker.to_owned(),
        member: mapping.member,
        removed: vec![PSEUDONYM_MAPPING.to_owned()],
        request: request.to_owned(),
    }
    .sign(key);
    Ok(
        match store.erase(subject, &receipt, now + RECEIPT_KEPT_S).await? {
            Erased::Erased => Outcome::Erased(receipt),
            Erased::Replay(kept) => Outcome::Replay(*kept),
            Erased::Gone => Outcome::Unknown,
        },
    )
}
