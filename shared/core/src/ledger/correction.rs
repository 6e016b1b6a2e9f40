//! A correction entry (format 2.2): a compensating entry that requantifies one credit entry's
//! grams under a newer factor table, without touching it (`docs/ledger-format.md` §13).
//!
//! It carries the entry it corrects, whole and as stored, so that anyone holding the two factor
//! tables can recompute its delta from the correction alone; the verifier also checks that the
//! corrected entry is the one at that place in the chain. Points are never requantified: a
//! bonus paid stays paid, and only grams of CO2e move.

use crate::catalog::Catalog;
use crate::digest::{leaf_hash, Digest};
use crate::domain::{check_id, MemberId, MAX_SAFE_INT};
use crate::factors::FactorTable;
use crate::ledger::Entry;
use serde::{Deserialize, Serialize};

/// A correction entry. `hash` = SHA-256(0x00 ‖ JCS(entry without `hash`)), as for every entry.
///
/// Its fields are declared in RFC 8785 order, and the corrected entry serializes as its own
/// canonical bytes, so serializing it writes JCS directly, as a credit entry's does (a test holds
/// the two to `serde_jcs`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorrectionEntry {
    /// When the requantification ran, Unix seconds.
    pub at: i64,
    pub chain: String,
    /// The delta in grams: the corrected entry's grams under `to` minus under `from`.
    pub co2e_g: i64,
    /// The credit entry corrected, exactly as stored (with its `hash`), earlier in this chain.
    pub corrects: Entry,
    /// The factor table version the corrected entry's grams were counted under until now.
    pub from: String,
    pub hash: Digest,
    /// The corrected entry's member: a correction joins their member chain.
    pub member: MemberId,
    pub member_prev: Digest,
    pub prev: Digest,
    pub seq: u64,
    /// The factor table version the grams are counted under from now on.
    pub to: String,
    #[serde(rename = "type")]
    pub kind: CorrectionType,
    pub v: u32,
}

/// A correction entry without `hash`, borrowed, in RFC 8785 order: what its hash covers.
#[derive(Serialize)]
struct Body<'a> {
    at: i64,
    chain: &'a str,
    co2e_g: i64,
    corrects: &'a Entry,
    from: &'a str,
    member: &'a MemberId,
    member_prev: &'a Digest,
    prev: &'a Digest,
    seq: u64,
    to: &'a str,
    #[serde(rename = "type")]
    kind: CorrectionType,
    v: u32,
}

/// Only `"correction"`: what tells a correction entry from the other types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CorrectionType {
    Correction,
}

/// The grams `e` counts under `factors`: its `co2e_g` rule (`docs/ledger-format.md` §4.5), with
/// an implausible entry counting 0 under any table.
pub fn grams_under(e: &Entry, factors: &FactorTable) -> i64 {
    if e.reason.accepts_items() {
        factors.co2e_g(e.kind, &e.items)
    } else {
        0
    }
}

/// `to`'s grams minus `from`'s for entry `e`: a correction's delta.
pub fn delta(e: &Entry, from: &FactorTable, to: &FactorTable) -> i64 {
    grams_under(e, to) - grams_under(e, from)
}

/// Grams per brand that a correction of `e` moves: for each brand its lots name, boxes times the
/// change of `box_reused` (`docs/ledger-format.md` §12: the multiplier never applies to grams).
/// Brands whose grams do not move are left out.
pub fn brand_deltas(e: &Entry, from: &FactorTable, to: &FactorTable) -> Vec<(String, i64)> {
    let per_box = i64::from(to.box_reused.g_co2e) - i64::from(from.box_reused.g_co2e);
    if per_box == 0 || e.kind != crate::domain::ActionKind::Scan || !e.reason.accepts_items() {
        return Vec::new();
    }
    let mut out: Vec<(String, i64)> = Vec::new();
    for lot in &e.items.boxes {
        let Some(brand) = &lot.brand else { continue };
        let d = i64::from(lot.count) * per_box;
        match out.iter_mut().find(|(b, _)| b == brand) {
            Some((_, sum)) => *sum += d,
            None => out.push((brand.clone(), d)),
        }
    }
    out.sort();
    out
}

impl CorrectionEntry {
    /// A sealed correction of `corrects` from `from` to `to`, at `seq` after `prev`, linked to
    /// the member's `member_prev`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        corrects: Entry,
        from: &FactorTable,
        to: &FactorTable,
        seq: u64,
        prev: Digest,
        member_prev: Digest,
        at: i64,
    ) -> Self {
        let mut c = CorrectionEntry {
            at,
            chain: corrects.chain.clone(),
            co2e_g: delta(&corrects, from, to),
            member: corrects.member.clone(),
            corrects,
            from: from.version.clone(),
            hash: Digest([0; 32]),
            member_prev,
            prev,
            seq,
            to: to.version.clone(),
            kind: CorrectionType::Correction,
            v: super::FORMAT_VERSION,
        };
        c.seal();
        c
    }

    /// C, the RFC 8785 bytes of the entry without `hash`.
    pub fn body(&self) -> Vec<u8> {
        let body = Body {
            at: self.at,
            chain: &self.chain,
            co2e_g: self.co2e_g,
            corrects: &self.corrects,
            from: &self.from,
            member: &self.member,
            member_prev: &self.member_prev,
            prev: &self.prev,
            seq: self.seq,
            to: &self.to,
            kind: self.kind,
            v: self.v,
        };
        serde_json::to_vec(&body).expect("an entry always serializes")
    }

    pub fn compute_hash(&self) -> Digest {
        leaf_hash(&self.body())
    }

    pub fn seal(&mut self) {
        self.hash = self.compute_hash();
    }

    /// The stored form: RFC 8785 bytes including `hash`.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("an entry always serializes")
    }

    /// What needs nothing but the entry: format and bounds, and that the corrected entry is
    /// itself a well-formed credit entry whose hash is right.
    pub fn flaw(&self) -> Option<String> {
        if self.v != super::FORMAT_VERSION {
            return Some(format!(
                "format version {} is not {}",
                self.v,
                super::FORMAT_VERSION
            ));
        }
        if self.seq > MAX_SAFE_INT
            || self.at.unsigned_abs() > MAX_SAFE_INT
            || self.co2e_g.unsigned_abs() > MAX_SAFE_INT
        {
            return Some("an integer is outside ±(2^53 - 1)".into());
        }
        if let Err(e) = check_id("factor table version", &self.from)
            .and_then(|()| check_id("factor table version", &self.to))
        {
            return Some(e.message);
        }
        if self.from == self.to {
            return Some(format!("from and to are both {}", self.from));
        }
        let e = &self.corrects;
        if e.v != super::FORMAT_VERSION || !e.integers_are_safe() {
            return Some("the corrected entry is not a well-formed credit entry".into());
        }
        if let Err(bad) = e.items.validate_for(e.kind) {
            return Some(format!("the corrected entry: {}", bad.message));
        }
        if e.compute_hash(&mut Vec::new()) != e.hash {
            return Some("the corrected entry's hash is not its own".into());
        }
        if self.member != e.member {
            return Some("member is not the corrected entry's".into());
        }
        None
    }

    /// The delta its two versions give, or the version `catalog` does not know.
    pub fn recompute(&self, catalog: &Catalog) -> Result<i64, String> {
        let from = catalog
            .factors(&self.from)
            .ok_or_else(|| self.from.clone())?;
        let to = catalog.factors(&self.to).ok_or_else(|| self.to.clone())?;
        Ok(delta(&self.corrects, from, to))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::BoxLot;
    use crate::ledger::{Leaf, ZERO};

    fn tables() -> (FactorTable, FactorTable) {
        let old = FactorTable::default_2026();
        let mut new = old.clone();
        new.version = "factors-test.2".into();
        new.box_reused.g_co2e = 40;
        new.book_recycled.g_co2e = 1_197;
        (old, new)
    }

    /// A sealed drop-off of 3 brand-01 boxes, 2 unbranded, and 2 books.
    fn corrected() -> Entry {
        let mut e = crate::ledger::entry::tests::sample();
        e.v = super::super::FORMAT_VERSION;
        e.items.boxes = vec![
            BoxLot {
                brand: Some("brand-01".into()),
                count: 3,
            },
            BoxLot {
                brand: None,
                count: 2,
            },
        ];
        e.items.books = 2;
        e.seal();
        e
    }

    #[test]
    fn the_delta_is_each_tables_rounded_grams_subtracted_and_the_brands_share_the_box_part() {
        let (old, new) = tables();
        let e = corrected();
        // 5 boxes × 3 g more, 2 books × 171 g more.
        assert_eq!(delta(&e, &old, &new), 5 * 3 + 2 * 171);
        assert_eq!(brand_deltas(&e, &old, &new), vec![("brand-01".into(), 9)]);
        let mut implausible = e.clone();
        implausible.reason = crate::rulebook::Reason::Implausible;
        assert_eq!(
            delta(&implausible, &old, &new),
            0,
            "an implausible entry counts 0 under any table"
        );
        assert!(brand_deltas(&implausible, &old, &new).is_empty());
    }

    proptest::proptest! {
        /// Whatever its strings and integers, a correction's bytes are RFC 8785's, written
        /// directly: its body (what its hash covers) and its stored form.
        #[test]
        fn a_corrections_bytes_are_rfc8785(
            chain in "(?s).{0,12}", station in "(?s).{0,12}", from in "(?s).{0,12}", to in "(?s).{0,12}",
            at in -(1i64 << 53)..(1 << 53), co2e_g in -(1i64 << 53)..(1 << 53), seq in 0u64..(1 << 53),
        ) {
            let (old, new) = tables();
            let mut e = corrected();
            e.station = station;
            e.seal();
            let mut c = CorrectionEntry::new(e, &old, &new, seq, ZERO, ZERO, at);
            (c.chain, c.from, c.to, c.co2e_g) = (chain, from, to, co2e_g);
            proptest::prop_assert_eq!(c.body(), crate::jcs::without_hash(&c));
            proptest::prop_assert_eq!(c.to_json(), crate::jcs::bytes(&c));
        }
    }

    #[test]
    fn a_correction_reads_back_as_itself_and_its_flaws_are_named() {
        let (old, new) = tables();
        let c = CorrectionEntry::new(corrected(), &old, &new, 9, ZERO, ZERO, 1_795_500_000);
        assert_eq!(c.flaw(), None);
        let (leaf, hash) = Leaf::read(&c.to_json()).unwrap();
        assert_eq!(
            (leaf, hash),
            (Leaf::Correction(Box::new(c.clone())), c.hash)
        );
        let flaw = |f: &dyn Fn(&mut CorrectionEntry)| {
            let mut x = c.clone();
            f(&mut x);
            x.flaw().unwrap_or_default()
        };
        assert!(flaw(&|x| x.to = x.from.clone()).contains("from and to are both"));
        assert!(flaw(&|x| x.member = MemberId::random([1; 32])).contains("member"));
        assert!(flaw(&|x| x.corrects.bonus += 1).contains("hash is not its own"));
        assert!(flaw(&|x| x.v = 3).contains("format version"));
        // An unknown type is not read as a correction, nor as a disposition.
        let other = String::from_utf8(c.to_json())
            .unwrap()
            .replace("\"correction\"", "\"adjustment\"");
        assert!(Leaf::read(other.as_bytes()).is_err());
    }
}
