//! Signed checkpoints: a chain's size and Merkle root ([`crate::merkle`]) at a time, signed
//! with the log's Ed25519 key (RFC 8032).
//!
//! An auditor who keeps a checkpoint can later hold the log to it: an inclusion proof shows an
//! entry is in it, and a consistency proof shows a later checkpoint extends it, so the log
//! cannot drop its tail or rewrite its past without the auditor noticing. The signature binds
//! the chain and the size, which the proofs' hashes alone do not.
//!
//! The signed message is the domain tag `greenloop-checkpoint/v1` and a newline, then the
//! RFC 8785 (JCS) JSON of `{"chain", "root", "size", "time"}`: keys sorted, no spaces, the root
//! as 64 lowercase hex digits, the size and the Unix time in seconds as integers.

use crate::digest::Digest;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// What the signature covers, before the JSON.
pub const DOMAIN: &[u8] = b"greenloop-checkpoint/v1\n";

/// A chain's tree at a moment. Field order is the JCS key order, so serde writes it canonically.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    pub chain: String,
    pub root: Digest,
    pub size: u64,
    /// Unix seconds when it was made.
    pub time: i64,
}

impl Checkpoint {
    /// The bytes the log signs.
    pub fn message(&self) -> Vec<u8> {
        let mut out = DOMAIN.to_vec();
        serde_json::to_writer(&mut out, self).expect("a checkpoint serializes");
        out
    }
}

/// A checkpoint with the log's signature and the id of the key that made it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedCheckpoint {
    #[serde(flatten)]
    pub checkpoint: Checkpoint,
    /// [`PublicKey::id`] of the signing key.
    pub key_id: String,
    /// The Ed25519 signature of [`Checkpoint::message`], 128 hex digits.
    pub signature: String,
}

/// Adds `newer` to `kept`, the log's latest checkpoint of each chain, keeping per chain the
/// larger size (a slower checkpoint run never takes a chain back); `kept` stays in chain order.
/// True if anything changed.
pub fn keep_latest(kept: &mut Vec<SignedCheckpoint>, newer: &[SignedCheckpoint]) -> bool {
    let mut changed = false;
    for n in newer {
        match kept
            .iter_mut()
            .find(|k| k.checkpoint.chain == n.checkpoint.chain)
        {
            Some(k) if k.checkpoint.size >= n.checkpoint.size => {}
            Some(k) => {
                *k = n.clone();
                changed = true;
            }
            None => {
                kept.push(n.clone());
                changed = true;
            }
        }
    }
    kept.sort_by(|a, b| a.checkpoint.chain.cmp(&b.checkpoint.chain));
    changed
}

/// Why a checkpoint or a key was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    #[error("a key is 64 hex digits")]
    BadKey,
    #[error("signed by key {got}, not the pinned key {want}")]
    OtherKey { got: String, want: String },
    #[error("the signature is not 128 hex digits")]
    BadSignature,
    #[error("the signature does not match the checkpoint: forged or altered")]
    Forged,
}

/// 32 bytes from 64 hex digits: a seed or a public key.
fn key_bytes(hex: &str) -> Result<[u8; 32], CheckpointError> {
    hex::decode(hex.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or(CheckpointError::BadKey)
}

/// The log's signing key, from secret configuration: a 32-byte Ed25519 seed in hex. Erasure
/// receipts are signed with a key of the same kind, held by another function
/// ([`crate::receipt::ReceiptKey`]).
pub struct LogKey(SigningKey);

impl LogKey {
    pub fn from_hex(seed: &str) -> Result<Self, CheckpointError> {
        Ok(LogKey(SigningKey::from_bytes(&key_bytes(seed)?)))
    }

    /// The public key to publish and pin.
    pub fn public(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }

    pub fn sign(&self, checkpoint: Checkpoint) -> SignedCheckpoint {
        let (key_id, signature) = self.sign_message(&checkpoint.message());
        SignedCheckpoint {
            checkpoint,
            key_id,
            signature,
        }
    }

    /// Signs a domain-tagged message: the key's id and the signature's 128 hex digits.
    pub(crate) fn sign_message(&self, message: &[u8]) -> (String, String) {
        let signature = self.0.sign(message);
        (self.public().id(), hex::encode(signature.to_bytes()))
    }
}

/// The log's public key, as an auditor pins it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(VerifyingKey);

impl PublicKey {
    /// From 64 hex digits.
    pub fn from_hex(s: &str) -> Result<Self, CheckpointError> {
        VerifyingKey::from_bytes(&key_bytes(s)?)
            .map(PublicKey)
            .map_err(|_| CheckpointError::BadKey)
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0.as_bytes())
    }

    /// The first 8 bytes of SHA-256 of the key, in hex: names the key in a checkpoint.
    pub fn id(&self) -> String {
        hex::encode(&Sha256::digest(self.0.as_bytes())[..8])
    }

    /// The checkpoint, if this key signed exactly it. Strict verification: no malleable or
    /// small-order signatures.
    pub fn verify<'a>(
        &self,
        signed: &'a SignedCheckpoint,
    ) -> Result<&'a Checkpoint, CheckpointError> {
        self.verify_message(
            &signed.key_id,
            &signed.signature,
            &signed.checkpoint.message(),
        )?;
        Ok(&signed.checkpoint)
    }

    /// Whether this key made `signature` (hex) over `message`, named by `key_id`.
    pub(crate) fn verify_message(
        &self,
        key_id: &str,
        signature: &str,
        message: &[u8],
    ) -> Result<(), CheckpointError> {
        if key_id != self.id() {
            return Err(CheckpointError::OtherKey {
                got: key_id.to_owned(),
                want: self.id(),
            });
        }
        let bytes: [u8; 64] = hex::decode(signature)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or(CheckpointError::BadSignature)?;
        self.0
            .verify_strict(message, &Signature::from_bytes(&bytes))
            .map_err(|_| CheckpointError::Forged)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 8032 §7.1, test 1: the secret key, its public key, and the signature of the empty
    /// message.
    const RFC8032_SEED: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
    const RFC8032_PUBLIC: &str = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
    const RFC8032_SIGNATURE: &str = "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b";

    fn checkpoint() -> Checkpoint {
        Checkpoint {
            chain: "shard-02".into(),
            root: Digest([7; 32]),
            size: 1_234,
            time: 1_793_851_200,
        }
    }

    #[test]
    fn keys_and_signatures_are_rfc_8032_ed25519() {
        let key = LogKey::from_hex(RFC8032_SEED).unwrap();
        assert_eq!(key.public().to_hex(), RFC8032_PUBLIC);
        assert_eq!(hex::encode(key.0.sign(b"").to_bytes()), RFC8032_SIGNATURE);
    }

    #[test]
    fn the_message_is_the_domain_tag_and_rfc_8785_json() {
        let c = checkpoint();
        let jcs = serde_jcs::to_vec(&c).unwrap();
        assert_eq!(c.message(), [DOMAIN, &jcs[..]].concat());
        assert_eq!(
            String::from_utf8(c.message()).unwrap(),
            format!(
                "greenloop-checkpoint/v1\n{{\"chain\":\"shard-02\",\"root\":\"{}\",\"size\":1234,\"time\":1793851200}}",
                "07".repeat(32)
            )
        );
    }

    #[test]
    fn a_signed_checkpoint_verifies_under_the_pinned_key_and_survives_json() {
        let key = LogKey::from_hex(RFC8032_SEED).unwrap();
        let signed = key.sign(checkpoint());
        let json = serde_json::to_string(&signed).unwrap();
        let back: SignedCheckpoint = serde_json::from_str(&json).unwrap();
        assert_eq!(key.public().verify(&back), Ok(&checkpoint()));
    }

    #[test]
    fn any_altered_field_or_other_key_is_refused() {
        let key = LogKey::from_hex(RFC8032_SEED).unwrap();
        let pinned = key.public();
        let signed = key.sign(checkpoint());
        let altered = |f: &dyn Fn(&mut SignedCheckpoint)| {
            let mut s = signed.clone();
            f(&mut s);
            pinned.verify(&s).map(|_| ())
        };
        assert_eq!(
            altered(&|s| s.checkpoint.size += 1),
            Err(CheckpointError::Forged)
        );
        assert_eq!(
            altered(&|s| s.checkpoint.time -= 1),
            Err(CheckpointError::Forged)
        );
        assert_eq!(
            altered(&|s| s.checkpoint.root.0[31] ^= 1),
            Err(CheckpointError::Forged)
        );
        assert_eq!(
            altered(&|s| s.checkpoint.chain = "shard-03".into()),
            Err(CheckpointError::Forged)
        );
        let flipped = |s: &mut SignedCheckpoint| {
            let first = if s.signature.starts_with('0') {
                "1"
            } else {
                "0"
            };
            s.signature.replace_range(0..1, first);
        };
        assert_eq!(altered(&flipped), Err(CheckpointError::Forged));
        assert_eq!(
            altered(&|s| s.signature.truncate(10)),
            Err(CheckpointError::BadSignature)
        );

        // Another key, even one that names the pinned key's id, is refused.
        let other = LogKey::from_hex(&"11".repeat(32)).unwrap();
        let forged = other.sign(checkpoint());
        assert!(matches!(
            pinned.verify(&forged),
            Err(CheckpointError::OtherKey { .. })
        ));
        let mut claimed = forged.clone();
        claimed.key_id = pinned.id();
        assert_eq!(pinned.verify(&claimed), Err(CheckpointError::Forged));
    }

    #[test]
    fn the_latest_checkpoints_only_grow_per_chain() {
        let key = LogKey::from_hex(RFC8032_SEED).unwrap();
        let at = |chain: &str, size| {
            key.sign(Checkpoint {
                chain: chain.into(),
                size,
                ..checkpoint()
            })
        };
        let mut kept = vec![at("shard-01", 5)];
        assert!(keep_latest(
            &mut kept,
            &[at("shard-00", 3), at("shard-01", 4)]
        ));
        assert_eq!(kept, [at("shard-00", 3), at("shard-01", 5)]);
        assert!(!keep_latest(&mut kept, &[at("shard-00", 3)]), "nothing new");
        assert!(keep_latest(&mut kept, &[at("shard-01", 9)]));
        assert_eq!(kept, [at("shard-00", 3), at("shard-01", 9)]);
    }

    #[test]
    fn keys_must_be_32_bytes_of_hex() {
        for bad in ["", "zz", &"00".repeat(31), &"00".repeat(33)] {
            assert!(LogKey::from_hex(bad).is_err(), "{bad:?}");
            assert!(PublicKey::from_hex(bad).is_err(), "{bad:?}");
        }
    }
}
