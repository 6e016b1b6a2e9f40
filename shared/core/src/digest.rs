//! SHA-256 values and the RFC 6962 leaf hash: the one type every layer above names.
//!
//! It sits at the bottom of the core, below the ledger, the Merkle tree and checkpoints, so
//! that each of them can name a digest without naming the others.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest as _, Sha256};
use std::fmt;

/// A SHA-256 value, written as 64 lowercase hex characters.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Digest(pub [u8; 32]);

/// `prev` of entry 0, and `member_prev` of a member's first entry.
pub const ZERO: Digest = Digest([0; 32]);

impl Digest {
    /// Reads exactly 64 lowercase hex characters.
    pub fn parse(s: &str) -> Option<Self> {
        let bytes: &[u8; 64] = s.as_bytes().try_into().ok()?;
        let nibble = |c: u8| match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        };
        let mut out = [0u8; 32];
        for (o, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
            *o = (nibble(pair[0])? << 4) | nibble(pair[1])?;
        }
        Some(Digest(out))
    }

    /// Writes the hex form into a stack buffer, to avoid an allocation per field.
    pub fn hex(&self) -> HexBuf {
        let mut buf = [0u8; 64];
        hex::encode_to_slice(self.0, &mut buf).expect("64 bytes for 32");
        HexBuf(buf)
    }

    /// The first 12 hex digits, for messages a person reads.
    pub fn short(&self) -> String {
        self.hex().as_str()[..12].to_owned()
    }
}

/// Lowercase hex of a digest, on the stack.
pub struct HexBuf([u8; 64]);

impl HexBuf {
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("hex is ASCII")
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.hex().as_str())
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({})", self.short())
    }
}

impl Serialize for Digest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.hex().as_str())
    }
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Digest::parse(&s)
            .ok_or_else(|| serde::de::Error::custom("expected 64 lowercase hex characters"))
    }
}

/// RFC 6962 leaf hash: SHA-256(0x00 ‖ bytes).
pub fn leaf_hash(bytes: &[u8]) -> Digest {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(bytes);
    Digest(h.finalize().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_hex_round_trips_and_is_strict() {
        let d = leaf_hash(b"x");
        assert_eq!(Digest::parse(&d.to_string()), Some(d));
        assert_eq!(Digest::parse(&d.to_string().to_uppercase()), None);
        assert_eq!(Digest::parse("00"), None);
        assert_eq!(ZERO.to_string(), "0".repeat(64));
    }

    #[test]
    fn leaf_hash_is_rfc6962_leaf() {
        // RFC 6962 / CT: the hash of an empty leaf is SHA-256(0x00).
        assert_eq!(
            leaf_hash(b"").to_string(),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
        );
    }
}
