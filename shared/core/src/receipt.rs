//! Erasure receipts: what Greenloop signs for a member whose link it erased (PIPL art. 47).
//!
//! Erasure deletes the one item that maps a person's [`Subject`](crate::domain::Subject) to
//! their random member pseudonym. The ledger keeps the pseudonymous entries unchanged, so every
//! chain, checkpoint and proof still verifies. The receipt says what was erased, when, which
//! pseudonym no user id leads to any more, how many entries stay under it, and the log's
//! checkpoints at that moment: a member who keeps it can later check, with a statement and a
//! consistency proof, that nothing was added under their old pseudonym.
//!
//! The signed message is the domain tag `greenloop-erasure/v1` and a newline, then the RFC 8785
//! (JCS) JSON of [`Erasure`]. Its fields are declared in JCS key order and hold only ASCII
//! strings and safe integers, so serde's compact output is the canonical form.

use crate::checkpoint::{CheckpointError, LogKey, PublicKey, SignedCheckpoint};
use crate::digest::Digest;
use crate::domain::MemberId;
use serde::{Deserialize, Serialize};

/// What the signature covers, before the JSON.
pub const DOMAIN: &[u8] = b"greenloop-erasure/v1\n";

/// What erasure removes: the mapping from the person to the pseudonym.
pub const PSEUDONYM_MAPPING: &str = "pseudonym_mapping";

/// The key that signs receipts: an Ed25519 key like the log's, held by the function that
/// serves erasure (never the checkpoint key, which that function has no business holding).
pub type ReceiptKey = LogKey;

/// A chain's size and root in the log's latest signed checkpoint, when the erasure was made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogPoint {
    pub chain: String,
    pub root: Digest,
    pub size: u64,
}

impl LogPoint {
    pub fn of(latest: &[SignedCheckpoint]) -> Vec<LogPoint> {
        latest
            .iter()
            .map(|c| LogPoint {
                chain: c.checkpoint.chain.clone(),
                root: c.checkpoint.root,
                size: c.checkpoint.size,
            })
            .collect()
    }
}

/// One erasure, as signed. Field order is the JCS key order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Erasure {
    /// The log's latest checkpoint of each chain at that moment, in chain order.
    pub checkpoints: Vec<LogPoint>,
    /// The member's ledger entries, which stay: the account's count at erasure.
    pub entries: u64,
    /// Unix seconds.
    pub erased_at: i64,
    /// The hash of the member's last entry (their member chain's head), zeros if none.
    pub head: Digest,
    /// Who asked: the key id of the member's integration, or `operator`.
    pub integration: String,
    /// The pseudonym no user id leads to any more.
    pub member: MemberId,
    /// What was removed ([`PSEUDONYM_MAPPING`]).
    pub removed: Vec<String>,
    /// The request's id, the asker's idempotency key: the same request answers the same receipt.
    pub request: String,
}

impl Erasure {
    /// The bytes the receipt key signs.
    pub fn message(&self) -> Vec<u8> {
        let mut out = DOMAIN.to_vec();
        serde_json::to_writer(&mut out, self).expect("an erasure serializes");
        out
    }

    pub fn sign(self, key: &ReceiptKey) -> ErasureReceipt {
        let (key_id, signature) = key.sign_message(&self.message());
        ErasureReceipt {
            erasure: self,
            key_id,
            signature,
        }
    }
}

/// A signed erasure: the member's copy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErasureReceipt {
    pub erasure: Erasure,
    /// [`PublicKey::id`] of the receipt key.
    pub key_id: String,
    /// Ed25519 over [`Erasure::message`], 128 hex digits.
    pub signature: String,
}

impl ErasureReceipt {
    /// The erasure, if `key` signed exactly it.
    pub fn verify(&self, key: &PublicKey) -> Result<&Erasure, CheckpointError> {
        key.verify_message(&self.key_id, &self.signature, &self.erasure.message())?;
        Ok(&self.erasure)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";

    fn erasure() -> Erasure {
        Erasure {
            checkpoints: vec![LogPoint {
                chain: "shard-00".into(),
                root: Digest([3; 32]),
                size: 42,
            }],
            entries: 4,
            erased_at: 1_795_000_000,
            head: Digest([9; 32]),
            integration: "app-demo".into(),
            member: MemberId::random([5; 32]),
            removed: vec![PSEUDONYM_MAPPING.into()],
            request: "erase-1".into(),
        }
    }

    #[test]
    fn the_message_is_the_domain_tag_and_rfc_8785_json() {
        let e = erasure();
        let jcs = serde_jcs::to_vec(&e).unwrap();
        assert_eq!(e.message(), [DOMAIN, &jcs[..]].concat());
    }

    #[test]
    fn a_receipt_verifies_under_its_key_only_as_signed() {
        let key = ReceiptKey::from_hex(SEED).unwrap();
        let receipt = erasure().sign(&key);
        let back: ErasureReceipt =
            serde_json::from_str(&serde_json::to_string(&receipt).unwrap()).unwrap();
        assert_eq!(back.verify(&key.public()), Ok(&erasure()));
        let altered = |f: &dyn Fn(&mut ErasureReceipt)| {
            let mut r = receipt.clone();
            f(&mut r);
            r.verify(&key.public()).map(|_| ())
        };
        assert_eq!(
            altered(&|r| r.erasure.entries += 1),
            Err(CheckpointError::Forged)
        );
        assert_eq!(
            altered(&|r| r.erasure.checkpoints[0].size -= 1),
            Err(CheckpointError::Forged)
        );
        assert_eq!(
            altered(&|r| r.erasure.member = MemberId::random([6; 32])),
            Err(CheckpointError::Forged)
        );
        let other = ReceiptKey::from_hex(&"11".repeat(32)).unwrap().public();
        assert!(matches!(
            receipt.verify(&other),
            Err(CheckpointError::OtherKey { .. })
        ));
    }
}
