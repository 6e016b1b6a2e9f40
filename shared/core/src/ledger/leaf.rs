//! Any stored entry of a chain: a credit entry, a disposition entry (format 2.1) or a
//! correction entry (2.2). What every entry shares, whatever its type, is its place: `chain`,
//! `seq`, `prev` and `hash`, so code that only follows links (checkpointing, inclusion proofs)
//! reads a [`Leaf`].

use super::{canonical, CorrectionEntry, Digest, Entry};
use crate::disposition::DispositionEntry;

/// One stored entry, by type.
// A credit entry is the common case; boxing it would cost an allocation per entry.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Leaf {
    Credit(Entry),
    Disposition(DispositionEntry),
    Correction(Box<CorrectionEntry>),
}

impl Leaf {
    /// Reads a stored entry and computes its hash. A credit entry takes the fast path; an
    /// object with a `type` member is read as a disposition entry.
    pub fn read(stored: &[u8]) -> Result<(Leaf, Digest), String> {
        let credit = match canonical::read(stored) {
            Ok((e, h)) => return Ok((Leaf::Credit(e), h)),
            Err(e) => e,
        };
        // Only an object with a `type` member is held to another type's layout.
        match type_of(stored).as_deref() {
            None => Err(credit),
            Some("correction") => match serde_json::from_slice::<CorrectionEntry>(stored) {
                Ok(c) => {
                    let h = c.compute_hash();
                    Ok((Leaf::Correction(Box::new(c)), h))
                }
                Err(e) => Err(e.to_string()),
            },
            Some(_) => match serde_json::from_slice::<DispositionEntry>(stored) {
                Ok(d) => {
                    let h = d.compute_hash();
                    Ok((Leaf::Disposition(d), h))
                }
                Err(e) => Err(e.to_string()),
            },
        }
    }

    /// The stored form: canonical JSON with `hash`.
    pub fn to_json(&self) -> Vec<u8> {
        match self {
            Leaf::Credit(e) => e.to_json(),
            Leaf::Disposition(d) => d.to_json(),
            Leaf::Correction(c) => c.to_json(),
        }
    }

    pub fn chain(&self) -> &str {
        match self {
            Leaf::Credit(e) => &e.chain,
            Leaf::Disposition(d) => &d.chain,
            Leaf::Correction(c) => &c.chain,
        }
    }

    pub fn seq(&self) -> u64 {
        match self {
            Leaf::Credit(e) => e.seq,
            Leaf::Disposition(d) => d.seq,
            Leaf::Correction(c) => c.seq,
        }
    }

    pub fn prev(&self) -> Digest {
        match self {
            Leaf::Credit(e) => e.prev,
            Leaf::Disposition(d) => d.prev,
            Leaf::Correction(c) => c.prev,
        }
    }

    pub fn hash(&self) -> Digest {
        match self {
            Leaf::Credit(e) => e.hash,
            Leaf::Disposition(d) => d.hash,
            Leaf::Correction(c) => c.hash,
        }
    }
}

/// Whether the stored bytes are a JSON object with a top-level `type` member.
pub fn is_typed(stored: &[u8]) -> bool {
    type_of(stored).is_some()
}

/// The top-level `type` member of a JSON object, if it has one (as text; `""` if not a string).
fn type_of(stored: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Typed {
        #[serde(rename = "type")]
        kind: Option<serde_json::Value>,
    }
    let t = serde_json::from_slice::<Typed>(stored).ok()?.kind?;
    Some(t.as_str().unwrap_or_default().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_entry_types_carry_the_format_version() {
        assert_eq!(
            crate::disposition::FORMAT_VERSION,
            crate::ledger::FORMAT_VERSION
        );
    }

    #[test]
    fn reads_either_type_and_refuses_garbage() {
        let mut e = crate::ledger::entry::tests::sample();
        e.seal();
        let (leaf, h) = Leaf::read(&e.to_json()).unwrap();
        assert_eq!((leaf.seq(), leaf.hash(), h), (0, e.hash, e.hash));
        let mut d = crate::disposition::tests::bale();
        d.seal();
        let (leaf, h) = Leaf::read(&d.to_json()).unwrap();
        assert!(matches!(leaf, Leaf::Disposition(_)));
        assert_eq!((leaf.chain(), leaf.seq(), h), ("shard-01", 7, d.hash));
        assert!(Leaf::read(b"{}").is_err());
        assert!(Leaf::read(br#"{"type":"disposition"}"#).is_err());
    }
}
