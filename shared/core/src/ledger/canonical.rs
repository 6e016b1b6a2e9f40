//! Fast path for reading a stored entry that is already in canonical (RFC 8785) form.
//!
//! Stored entries are written canonically, so the verifier can check them without a general
//! JSON parse and without re-serializing: one pass over the bytes matches the exact v2 layout
//! (keys in order, no whitespace, canonical integers, strings without escapes), and the hash
//! preimage C is then the stored bytes with the `,"hash":"…"` member cut out.
//!
//! [`scan`] accepts only bytes that are exactly `entry.to_json()` of the entry it returns (a
//! property test holds it to that). Anything else, including valid but non-canonical JSON or
//! strings with escapes, returns `None`, and the caller takes the general path: parse, then
//! canonicalize. So the fast path changes speed, never verdicts.

use super::{Digest, Entry};
use crate::domain::{
    check_id, ActionKind, BoxLot, DayItems, Items, MemberId, MAX_BOOKS, MAX_BOXES, MAX_CLOTHING_G,
    MAX_LOTS, MAX_SAFE_INT, MAX_SHOES,
};
use crate::rulebook::Reason;

/// A canonical entry and where its `hash` member sits in the stored bytes.
pub struct Scanned {
    pub entry: Entry,
    /// `bytes[hash_span.0..hash_span.1]` is `,"hash":"<64 hex>"`; C is the bytes without it.
    pub hash_span: (usize, usize),
}

/// SHA-256(0x00 ‖ C), hashing the stored bytes around the `hash` member at `span`.
fn leaf_hash_around(bytes: &[u8], span: (usize, usize)) -> Digest {
    use sha2::{Digest as _, Sha256};
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(&bytes[..span.0]);
    h.update(&bytes[span.1..]);
    Digest(h.finalize().into())
}

impl Scanned {
    /// SHA-256(0x00 ‖ C), hashing the stored bytes around the `hash` member.
    pub fn leaf_hash(&self, bytes: &[u8]) -> Digest {
        leaf_hash_around(bytes, self.hash_span)
    }
}

/// A canonical entry read in place: its strings borrow the stored bytes, so reading it
/// allocates nothing. [`scan_ref`] accepts exactly what [`scan`] accepts.
#[derive(Debug, Clone, Copy)]
pub struct EntryRef<'a> {
    pub action: &'a str,
    pub at: i64,
    pub bonus: i64,
    pub campus: Option<&'a str>,
    pub chain: &'a str,
    pub co2e_g: i64,
    pub day: &'a str,
    pub day_before: i64,
    pub day_items_before: DayItems,
    pub factors: &'a str,
    pub hash: Digest,
    pub integration: &'a str,
    pub items: ItemsRef<'a>,
    pub kind: ActionKind,
    /// Already checked to be 64 lowercase hex characters (a valid [`MemberId`]).
    pub member: &'a str,
    pub member_prev: Digest,
    pub points: i64,
    pub prev: Digest,
    pub reason: Reason,
    pub rulebook: &'a str,
    pub seq: u64,
    pub station: &'a str,
    pub v: u32,
}

/// The items of an [`EntryRef`]; the box lots stay as their (already checked) canonical text.
#[derive(Debug, Clone, Copy)]
pub struct ItemsRef<'a> {
    pub books: u32,
    /// The text between `[` and `]`: lots `{"brand":…,"count":…}` joined by `,`.
    lots_text: &'a str,
    /// How many lots, and their total count.
    pub lots: usize,
    pub box_count: u64,
    pub clothing_g: u64,
    pub shoes: u32,
}

impl<'a> ItemsRef<'a> {
    /// Each box lot's (brand, count), in order.
    pub fn lots(&self) -> impl Iterator<Item = (Option<&'a str>, u32)> + 'a {
        let text = self.lots_text;
        let mut c = Cursor {
            s: text,
            b: text.as_bytes(),
            i: 0,
        };
        std::iter::from_fn(move || {
            if c.i >= c.b.len() {
                return None;
            }
            if c.i > 0 {
                c.lit(b",")?;
            }
            c.lot()
        })
    }

    /// What these items add to a day's totals.
    pub fn day_items(&self) -> DayItems {
        DayItems {
            books: u64::from(self.books),
            boxes: self.box_count,
            clothing_g: self.clothing_g,
            shoes: u64::from(self.shoes),
        }
    }

    pub fn to_items(&self) -> Items {
        Items {
            books: self.books,
            boxes: self
                .lots()
                .map(|(brand, count)| BoxLot {
                    brand: brand.map(str::to_owned),
                    count,
                })
                .collect(),
            clothing_g: self.clothing_g,
            shoes: self.shoes,
        }
    }

    /// Exactly whether `Items::validate_for(kind)` would accept these items (a property test
    /// holds the two together); without the message, which the general path gives.
    pub fn valid_for(&self, kind: ActionKind) -> bool {
        if self.lots > MAX_LOTS {
            return false;
        }
        let mut branded = false;
        for (brand, count) in self.lots() {
            if count == 0 {
                return false;
            }
            if let Some(b) = brand {
                if check_id("brand", b).is_err() {
                    return false;
                }
                branded = true;
            }
        }
        if self.box_count > MAX_BOXES
            || self.clothing_g > MAX_CLOTHING_G
            || self.shoes > MAX_SHOES
            || self.books > MAX_BOOKS
        {
            return false;
        }
        let only_boxes = self.books == 0 && self.clothing_g == 0 && self.shoes == 0;
        let only_clothing = self.books == 0 && self.lots == 0 && self.shoes == 0;
        match kind {
            ActionKind::Scan => !(only_boxes && self.box_count == 0),
            ActionKind::Pledge => only_boxes && self.box_count > 0 && !branded,
            ActionKind::Pickup => only_clothing && self.clothing_g > 0,
        }
    }
}

/// An [`EntryRef`] and where its `hash` member sits in the stored bytes.
pub struct ScannedRef<'a> {
    pub entry: EntryRef<'a>,
    /// As [`Scanned::hash_span`].
    pub hash_span: (usize, usize),
}

impl ScannedRef<'_> {
    /// SHA-256(0x00 ‖ C), hashing the stored bytes around the `hash` member.
    pub fn leaf_hash(&self, bytes: &[u8]) -> Digest {
        leaf_hash_around(bytes, self.hash_span)
    }
}

impl EntryRef<'_> {
    /// The owned entry.
    pub fn to_entry(&self) -> Entry {
        Entry {
            action: self.action.to_owned(),
            at: self.at,
            bonus: self.bonus,
            campus: self.campus.map(str::to_owned),
            chain: self.chain.to_owned(),
            co2e_g: self.co2e_g,
            day: self.day.to_owned(),
            day_before: self.day_before,
            day_items_before: self.day_items_before,
            factors: self.factors.to_owned(),
            hash: self.hash,
            integration: self.integration.to_owned(),
            items: self.items.to_items(),
            kind: self.kind,
            member: MemberId::parse(self.member).expect("scan_ref checked the member id"),
            member_prev: self.member_prev,
            points: self.points,
            prev: self.prev,
            reason: self.reason,
            rulebook: self.rulebook.to_owned(),
            seq: self.seq,
            station: self.station.to_owned(),
            v: self.v,
        }
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

/// Reads `bytes` if they are a canonical v2 entry; `None` otherwise.
pub fn scan(bytes: &[u8]) -> Option<Scanned> {
    let s = scan_ref(bytes)?;
    Some(Scanned {
        entry: s.entry.to_entry(),
        hash_span: s.hash_span,
    })
}

/// [`scan`], borrowing instead of owning: reads `bytes` in place if they are a canonical v2
/// entry; `None` otherwise.
pub fn scan_ref(bytes: &[u8]) -> Option<ScannedRef<'_>> {
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
    c.lit(b",\"day_items_before\":")?;
    let day_items_before = c.day_items()?;
    c.lit(b",\"factors\":")?;
    let factors = c.text()?;
    let start = c.i;
    c.lit(b",\"hash\":")?;
    let hash = c.digest()?;
    let hash_span = (start, c.i);
    c.lit(b",\"integration\":")?;
    let integration = c.text()?;
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
    let member = c.text()?;
    if member.len() != 64 || hex_value(member.as_bytes()).is_none() {
        return None;
    }
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
        "implausible" => Reason::Implausible,
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
    let entry = EntryRef {
        action,
        at,
        bonus,
        campus,
        chain,
        co2e_g,
        day,
        day_before,
        day_items_before,
        factors,
        hash,
        integration,
        items,
        kind,
        member,
        member_prev,
        points,
        prev,
        reason,
        rulebook,
        seq,
        station,
        v,
    };
    Some(ScannedRef { entry, hash_span })
}

/// Lowercase hex digit values, 0xff for anything else.
const HEX: [u8; 256] = {
    let mut t = [0xffu8; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

/// Whether all of `hex` is lowercase hex digits; then `Some(())`.
fn hex_value(hex: &[u8]) -> Option<()> {
    let bad = hex
        .iter()
        .fold(0u8, |acc, &c| acc | (HEX[c as usize] & 0xf0));
    (bad == 0).then_some(())
}

/// Exactly [`Digest::parse`] of 64 bytes, by table.
fn parse_digest(hex: &[u8; 64]) -> Option<Digest> {
    let mut out = [0u8; 32];
    let mut bad = 0u8;
    for (o, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
        let (hi, lo) = (HEX[pair[0] as usize], HEX[pair[1] as usize]);
        bad |= (hi | lo) & 0xf0;
        *o = (hi << 4) | (lo & 0x0f);
    }
    (bad == 0).then_some(Digest(out))
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
        let d = parse_digest(quoted[1..65].try_into().expect("64 bytes"))?;
        self.i += 66;
        Some(d)
    }

    /// One box lot: `{"brand":null|"…","count":N}`.
    fn lot(&mut self) -> Option<(Option<&'a str>, u32)> {
        self.lit(b"{\"brand\":")?;
        let brand = self.opt_text()?;
        self.lit(b",\"count\":")?;
        let count = self.u32()?;
        self.lit(b"}")?;
        Some((brand, count))
    }

    /// A day's item totals: `{"books":N,"boxes":N,"clothing_g":N,"shoes":N}`.
    fn day_items(&mut self) -> Option<DayItems> {
        self.lit(b"{\"books\":")?;
        let books = self.uint()?;
        self.lit(b",\"boxes\":")?;
        let boxes = self.uint()?;
        self.lit(b",\"clothing_g\":")?;
        let clothing_g = self.uint()?;
        self.lit(b",\"shoes\":")?;
        let shoes = self.uint()?;
        self.lit(b"}")?;
        Some(DayItems {
            books,
            boxes,
            clothing_g,
            shoes,
        })
    }

    fn items(&mut self) -> Option<ItemsRef<'a>> {
        self.lit(b"{\"books\":")?;
        let books = self.u32()?;
        self.lit(b",\"boxes\":[")?;
        let lots_start = self.i;
        let (mut lots, mut box_count) = (0usize, 0u64);
        if self.lit(b"]").is_none() {
            loop {
                let (_, count) = self.lot()?;
                lots += 1;
                box_count += u64::from(count);
                if self.lit(b"]").is_some() {
                    break;
                }
                self.lit(b",")?;
            }
        }
        let lots_text = &self.s[lots_start..self.i - 1];
        self.lit(b",\"clothing_g\":")?;
        let clothing_g = self.uint()?;
        self.lit(b",\"shoes\":")?;
        let shoes = self.u32()?;
        self.lit(b"}")?;
        Some(ItemsRef {
            books,
            lots_text,
            lots,
            box_count,
            clothing_g,
            shoes,
        })
    }
}

#[cfg(test)]
mod tests;
