//! RFC 8785 bytes of the typed entries (dispositions, corrections): their stored form and C,
//! the bytes their hash covers.
//!
//! It sits below the ledger and dispositions, which both name it, so neither names the other
//! for it.

/// The RFC 8785 bytes of a typed entry: its stored form.
pub(crate) fn bytes<T: serde::Serialize>(entry: &T) -> Vec<u8> {
    serde_jcs::to_vec(entry).expect("an entry always serializes")
}

/// C of a typed entry: its RFC 8785 bytes without its top-level `hash`.
pub(crate) fn without_hash<T: serde::Serialize>(entry: &T) -> Vec<u8> {
    let mut v = serde_json::to_value(entry).expect("an entry always serializes");
    v.as_object_mut().expect("an object").remove("hash");
    serde_jcs::to_vec(&v).expect("JSON values canonicalize")
}
