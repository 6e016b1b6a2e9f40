//! Portal and auditor API keys: the key's format, minting one, and the record a store keeps.
//!
//! A key is `glk_<id>_<secret>`. The id (16 lowercase hex digits, 8 random bytes) is public: it
//! names the key in listings, logs and `greenloop keys --revoke`. The secret (64 lowercase hex
//! digits, 32 random bytes) is shown once, when the key is minted. A store keeps an [`ApiKey`]
//! under the id: the grant, the SHA-256 of the whole key ([`leaf_hash`]), and when the key was
//! made, expires and was revoked. The key itself is never stored, so a copy of the table cannot
//! call the API.

use greenloop_core::digest::{leaf_hash, Digest};
use greenloop_core::domain::{is_lower_hex, Invalid};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

/// What every key starts with, so that a leaked one is easy to recognise (and to scan for).
pub const KEY_PREFIX: &str = "glk_";
/// Hex digits of a key id.
pub const ID_LEN: usize = 16;
/// Hex digits of a key's secret.
pub const SECRET_LEN: usize = 64;

/// What an API key may do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "snake_case")]
pub enum Grant {
    /// A university portal: its own campus's queries and affiliations.
    Campus { campus: String },
    /// An auditor: chain heads and entries.
    Auditor,
    /// A partner brand: its own statement.
    Brand { brand: String },
}

/// A key as a store keeps it, by id. Revoking updates the record rather than deleting it, so
/// the listing keeps the history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKey {
    pub id: String,
    /// [`leaf_hash`] of the whole key, `glk_<id>_<secret>`.
    pub hash: Digest,
    pub grant: Grant,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds from which the key is refused; None: it does not expire.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    /// Unix seconds when it was revoked; None: it was not. Absent rather than null in a store,
    /// so that a DynamoDB update can set it only if it is not there yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<i64>,
}

impl ApiKey {
    /// The record of `key` (minted, or a test's fixed key); None if `key` is not
    /// `glk_<id>_<secret>`.
    pub fn of_key(
        key: &str,
        grant: Grant,
        created_at: i64,
        expires_at: Option<i64>,
    ) -> Option<ApiKey> {
        Some(ApiKey {
            id: key_id(key)?.to_owned(),
            hash: leaf_hash(key.as_bytes()),
            grant,
            created_at,
            expires_at,
            revoked_at: None,
        })
    }

    /// Whether `key` is this record's key, by its hash compared in constant time, so that the
    /// time taken says nothing about how much of a guess was right.
    pub fn matches(&self, key: &str) -> bool {
        leaf_hash(key.as_bytes()).0.ct_eq(&self.hash.0).into()
    }

    /// Whether the key has expired at `now` (Unix seconds): from `expires_at` on.
    pub fn expired(&self, now: i64) -> bool {
        self.expires_at.is_some_and(|t| t <= now)
    }

    /// What every store checks before keeping a new record: a well-formed id, an expiry after
    /// its creation, and no revocation yet.
    pub fn validate(&self) -> Result<(), Invalid> {
        if !is_lower_hex(&self.id, ID_LEN) {
            return Err(Invalid::new(
                "bad_key_id",
                format!("an API key id is {ID_LEN} lowercase hex digits"),
            ));
        }
        if self.expires_at.is_some_and(|t| t <= self.created_at) {
            return Err(Invalid::new(
                "bad_expiry",
                format!("API key {} would expire before it is made", self.id),
            ));
        }
        if self.revoked_at.is_some() {
            return Err(Invalid::new(
                "revoked_at_mint",
                format!("API key {} is revoked before it is kept", self.id),
            ));
        }
        Ok(())
    }
}

/// A key just minted: `key` is shown once, and only `record` is kept.
pub struct Minted {
    pub key: String,
    pub record: ApiKey,
}

/// Mints a key with a random id and secret from the operating system's generator.
pub fn mint(
    grant: Grant,
    created_at: i64,
    expires_at: Option<i64>,
) -> Result<Minted, getrandom::Error> {
    let mut id = [0u8; ID_LEN / 2];
    let mut secret = [0u8; SECRET_LEN / 2];
    getrandom::fill(&mut id)?;
    getrandom::fill(&mut secret)?;
    let key = format!("{KEY_PREFIX}{}_{}", hex::encode(id), hex::encode(secret));
    let record =
        ApiKey::of_key(&key, grant, created_at, expires_at).expect("a minted key is well formed");
    Ok(Minted { key, record })
}

/// The id of a well-formed key (`glk_`, 16 lowercase hex digits, `_`, 64 lowercase hex digits);
/// None for anything else.
pub fn key_id(key: &str) -> Option<&str> {
    let (id, secret) = key.strip_prefix(KEY_PREFIX)?.split_once('_')?;
    (is_lower_hex(id, ID_LEN) && is_lower_hex(secret, SECRET_LEN)).then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minted_key_has_the_format_and_matches_only_its_record() {
        let m = mint(Grant::Auditor, 100, Some(200)).expect("randomness");
        assert_eq!(key_id(&m.key), Some(m.record.id.as_str()));
        assert_eq!(m.key.len(), KEY_PREFIX.len() + ID_LEN + 1 + SECRET_LEN);
        assert!(m.record.matches(&m.key));
        m.record.validate().expect("a minted record is valid");
        let other = mint(Grant::Auditor, 100, None).expect("randomness");
        assert_ne!(other.record.id, m.record.id);
        assert!(!m.record.matches(&other.key));
        // The same id with another secret is another key.
        let forged = format!("{KEY_PREFIX}{}_{}", m.record.id, "0".repeat(SECRET_LEN));
        assert_eq!(key_id(&forged), Some(m.record.id.as_str()));
        assert!(!m.record.matches(&forged));
    }

    #[test]
    fn only_the_exact_format_has_an_id() {
        let id = "0123456789abcdef";
        let secret = "ab".repeat(32);
        assert_eq!(key_id(&format!("glk_{id}_{secret}")), Some(id));
        for bad in [
            String::new(),
            "glk_".into(),
            format!("glk_{id}"),
            format!("glk_{id}_"),
            format!("gLk_{id}_{secret}"),
            format!("glk_{}_{secret}", id.to_uppercase()),
            format!("glk_{id}_{}", secret.to_uppercase()),
            format!("glk_{id}_{secret}0"),
            format!("glk_{id}0_{secret}"),
            format!("glk_{id}_{secret} "),
            format!("glk_{id}_{}é", &secret[..63]),
            format!("glk_{}", "ab".repeat(32)),
        ] {
            assert_eq!(key_id(&bad), None, "{bad:?}");
        }
    }

    #[test]
    fn expiry_is_from_its_second_on() {
        let key = format!("glk_{}_{}", "1".repeat(16), "2".repeat(64));
        let rec = ApiKey::of_key(&key, Grant::Auditor, 10, Some(20)).expect("well formed");
        assert!(!rec.expired(19));
        assert!(rec.expired(20));
        let never = ApiKey::of_key(&key, Grant::Auditor, 10, None).expect("well formed");
        assert!(!never.expired(i64::MAX));
    }

    #[test]
    fn a_record_to_keep_is_checked() {
        let key = format!("glk_{}_{}", "1".repeat(16), "2".repeat(64));
        let good = ApiKey::of_key(&key, Grant::Auditor, 10, Some(11)).expect("well formed");
        good.validate().expect("valid");
        let cases = [
            (
                "bad_key_id",
                ApiKey {
                    id: "KEY".into(),
                    ..good.clone()
                },
            ),
            (
                "bad_expiry",
                ApiKey {
                    expires_at: Some(10),
                    ..good.clone()
                },
            ),
            (
                "revoked_at_mint",
                ApiKey {
                    revoked_at: Some(10),
                    ..good.clone()
                },
            ),
        ];
        for (code, rec) in cases {
            assert_eq!(rec.validate().map_err(|e| e.code), Err(code));
        }
    }
}
