//! Fast path for reading a stored entry that is already in canonical (RFC 8785) form.
//!
//! Stored entries are written canonically, so the verifier can check them without a general
//! JSON parse and without re-serializing: one pass over the bytes matches the exact v1 layout
//! (keys in order, no whitespace, canonical integers, strings without escapes), and the hash
//! preimage C is then the stored bytes with the `,"hash":"…"` member cut out.
//!
//! [`scan`] accepts only bytes that are exactly `entry.to_json()` of the entry it returns (a
//! property test holds it to that). Anything else, including valid but non-canonical JSON or
//! strings with escapes, returns `None`, and the caller takes the general path: parse, then
//! canonicalize. So the fast path changes speed, never verdicts.

use super::{Digest, Entry};
use crate::domain::{ActionKind, BoxLot, Items, MemberId, MAX_SAFE_INT};
use crate::rulebook::Reason;

/// A canonical entry and where its `hash` member sits in the stored bytes.
pub struct Scanned {
    pub entry: Entry,
    /// `bytes[hash_span.0..hash_span.1]` is `,"hash":"<64 hex>"`; C is the bytes without it.
    pub hash_span: (usize, usize),
}

impl Scanned {
    /// SHA-256(0x00 ‖ C), hashing the stored bytes around the `hash` member.
    pub fn leaf_hash(&self, bytes: &[u8]) -> Digest {
        use sha2::{Digest as _, Sha256};
        let mut h = Sha256::new();
        h.update([0u8]);
        h.update(&bytes[..self.hash_span.0]);
        h.update(&bytes[self.hash_span.1..]);
        Digest(h.finalize().into())
    }
}

/// A stored entry and the hash its content computes to. Canonical bytes take the fast path;
/// anything else is parsed and canonicalized. The error says why the bytes are no entry.
pub fn read(stored: &[u8]) -> Result<(Entry, Digest), String> {
    match scan(stored) {
        Some(s) => {
            let h = s.leaf_hash(stored);
            Ok((s.entry, h))
        }
        None => serde_json::from_slice::<Entry>(stored)
            .map(|e| {
                let h = e.compute_hash(&mut Vec::with_capacity(1024));
                (e, h)
            })
            .map_err(|e| e.to_string()),
    }
}

/// Reads `bytes` if they are a canonical v1 entry; `None` otherwise.
pub fn scan(bytes: &[u8]) -> Option<Scanned> {
    let text = std::str::from_utf8(bytes).ok()?;
    let mut c = Cursor {
        s: text,
        b: bytes,
        i: 0,
    };
    c.lit(b"{\"action\":")?;
    let action = c.text()?;
    c.lit(b",\"at\":")?;
    let at = c.int()?;
    c.lit(b",\"bonus\":")?;
    let bonus = c.int()?;
    c.lit(b",\"campus\":")?;
    let campus = c.opt_text()?;
    c.lit(b",\"chain\":")?;
    let chain = c.text()?;
    c.lit(b",\"co2e_g\":")?;
    let co2e_g = c.int()?;
    c.lit(b",\"day\":")?;
    let day = c.text()?;
    c.lit(b",\"day_before\":")?;
    let day_before = c.int()?;
    c.lit(b",\"factors\":")?;
    let factors = c.text()?;
    let start = c.i;
    c.lit(b",\"hash\":")?;
    let hash = c.digest()?;
    let hash_span = (start, c.i);
    c.lit(b",\"items\":")?;
    let items = c.items()?;
    c.lit(b",\"kind\":")?;
    let kind = match c.text()? {
        "scan" => ActionKind::Scan,
        "pledge" => ActionKind::Pledge,
        "pickup" => ActionKind::Pickup,
        _ => return None,
    };
    c.lit(b",\"member\":")?;
    let member = MemberId::parse(c.text()?).ok()?;
    c.lit(b",\"member_prev\":")?;
    let member_prev = c.digest()?;
    c.lit(b",\"points\":")?;
    let points = c.int()?;
    c.lit(b",\"prev\":")?;
    let prev = c.digest()?;
    c.lit(b",\"reason\":")?;
    let reason = match c.text()? {
        "ok" => Reason::Ok,
        "capped" => Reason::Capped,
        "outside_window" => Reason::OutsideWindow,
        _ => return None,
    };
    c.lit(b",\"rulebook\":")?;
    let rulebook = c.text()?;
    c.lit(b",\"seq\":")?;
    let seq = c.uint()?;
    c.lit(b",\"station\":")?;
    let station = c.text()?;
    c.lit(b",\"v\":")?;
    let v = c.u32()?;
    c.lit(b"}")?;
    if c.i != bytes.len() {
        return None;
    }
    let entry = Entry {
        action: action.to_owned(),
        at,
        bonus,
        campus: campus.map(str::to_owned),
        chain: chain.to_owned(),
        co2e_g,
        day: day.to_owned(),
        day_before,
        factors: factors.to_owned(),
        hash,
        items,
        kind,
        member,
        member_prev,
        points,
        prev,
        reason,
        rulebook: rulebook.to_owned(),
        seq,
        station: station.to_owned(),
        v,
    };
    Some(Scanned { entry, hash_span })
}

/// Validated once as UTF-8 (`s`); scanned as bytes (`b`). Strings are sliced out of `s` at `"`
/// positions, which are always character boundaries.
struct Cursor<'a> {
    s: &'a str,
    b: &'a [u8],
    i: usize,
}

impl<'a> Cursor<'a> {
    fn lit(&mut self, s: &[u8]) -> Option<()> {
        if self.b[self.i..].starts_with(s) {
            self.i += s.len();
            Some(())
        } else {
            None
        }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    /// A canonical integer within ±(2^53 - 1): no sign on zero, no leading zeros.
    fn int(&mut self) -> Option<i64> {
        let neg = self.peek() == Some(b'-');
        if neg {
            self.i += 1;
        }
        let start = self.i;
        let mut n: u64 = 0;
        while let Some(d @ b'0'..=b'9') = self.peek() {
            n = n.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
            self.i += 1;
        }
        let len = self.i - start;
        if len == 0 || (len > 1 && self.b[start] == b'0') || n > MAX_SAFE_INT || (neg && n == 0) {
            return None;
        }
        Some(if neg { -(n as i64) } else { n as i64 })
    }

    fn uint(&mut self) -> Option<u64> {
        u64::try_from(self.int()?).ok()
    }

    fn u32(&mut self) -> Option<u32> {
        u32::try_from(self.int()?).ok()
    }

    /// A string with no escapes and no control characters (the input is already valid UTF-8,
    /// and `"` is ASCII, so the slice falls on character boundaries).
    fn text(&mut self) -> Option<&'a str> {
        self.lit(b"\"")?;
        let rest = &self.b[self.i..];
        let len = rest
            .iter()
            .position(|&c| c == b'"' || c == b'\\' || c < 0x20)?;
        if rest[len] != b'"' {
            return None;
        }
        let s = &self.s[self.i..self.i + len];
        self.i += len + 1;
        Some(s)
    }

    fn opt_text(&mut self) -> Option<Option<&'a str>> {
        if self.lit(b"null").is_some() {
            Some(None)
        } else {
            self.text().map(Some)
        }
    }

    fn digest(&mut self) -> Option<Digest> {
        let quoted = self.b.get(self.i..self.i + 66)?;
        if quoted[0] != b'"' || quoted[65] != b'"' {
            return None;
        }
        let d = Digest::parse(self.s.get(self.i + 1..self.i + 65)?)?;
        self.i += 66;
        Some(d)
    }

    fn items(&mut self) -> Option<Items> {
        self.lit(b"{\"books\":")?;
        let books = self.u32()?;
        self.lit(b",\"boxes\":[")?;
        let mut boxes = Vec::new();
        if self.lit(b"]").is_none() {
            loop {
                self.lit(b"{\"brand\":")?;
                let brand = self.opt_text()?.map(str::to_owned);
                self.lit(b",\"count\":")?;
                let count = self.u32()?;
                self.lit(b"}")?;
                boxes.push(BoxLot { brand, count });
                if self.lit(b"]").is_some() {
                    break;
                }
                self.lit(b",")?;
            }
        }
        self.lit(b",\"clothing_g\":")?;
        let clothing_g = self.uint()?;
        self.lit(b",\"shoes\":")?;
        let shoes = self.u32()?;
        self.lit(b"}")?;
        Some(Items {
            books,
            boxes,
            clothing_g,
            shoes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::entry::tests::sample;
    use proptest::prelude::*;

    #[test]
    fn scans_what_it_writes_and_hashes_the_same() {
        let mut e = sample();
        e.seal();
        let json = e.to_json();
        let s = scan(&json).expect("canonical bytes scan");
        assert_eq!(s.entry, e);
        assert_eq!(s.leaf_hash(&json), e.hash);
    }

    #[test]
    fn refuses_what_is_not_canonical() {
        let mut e = sample();
        e.seal();
        let json = String::from_utf8(e.to_json()).unwrap();
        for bad in [
            json.replace("\"at\":", "\"at\": "),
            json.replace("\"seq\":0", "\"seq\":-0"),
            json.replace("\"seq\":0", "\"seq\":00"),
            json.replace("\"bonus\":20", "\"bonus\":2e1"),
            json.replace("st-0001", "st-\\u0030001"),
            json.replace("{\"action\"", "{\"at\":1,\"action\""),
            // A multi-byte character where a digest's hex would be must be refused, not sliced.
            json.replacen("\"prev\":\"0", "\"prev\":\"\u{e9}", 1),
            format!("{json} "),
        ] {
            assert!(scan(bad.as_bytes()).is_none(), "accepted {bad}");
        }
    }

    proptest! {
        /// Whatever bytes the fast path accepts are exactly the canonical form of what it read,
        /// so it can never disagree with the general path.
        #[test]
        fn accepts_only_canonical_bytes(pos in 0usize..2_000, byte in any::<u8>(), mode in 0u8..3, bonus in any::<i64>()) {
            let mut e = sample();
            e.bonus = bonus % (1 << 53);
            e.items.boxes.push(BoxLot { brand: None, count: 7 });
            e.seal();
            let mut bytes = e.to_json();
            let p = pos % bytes.len();
            match mode {
                0 => bytes[p] = byte,
                1 => bytes.insert(p, byte),
                _ => { bytes.remove(p); }
            }
            if let Some(s) = scan(&bytes) {
                prop_assert_eq!(s.entry.to_json(), bytes.clone());
                let general: Entry = serde_json::from_slice(&bytes).unwrap();
                prop_assert_eq!(&general, &s.entry);
                prop_assert_eq!(s.leaf_hash(&bytes), general.compute_hash(&mut Vec::new()));
            }
        }
    }
}
