//! The stored brand figures checked against the ledger: every partner share of the entries
//! each chain's cursor says are folded, summed per brand, must be the stored standing. So an
//! entry left out of a brand's figures and index together, which the brand's own statement
//! cannot show, is caught by whoever verifies the whole log.

use super::fold::{BrandStanding, Cursor};
use super::{first_difference, numbered_partners, Attributed, Credited, Figures};
use crate::catalog::Catalog;
use crate::domain::{ActionKind, BoxLot};
use crate::ledger::verify::Problem;
use crate::ledger::Leaf;
use crate::rulebook::Reason;
use serde::Deserialize;
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

/// What a credit entry holds when it names a brand: a lot's `"brand":"…"` (no brand is
/// `"brand":null`). Entries without it are skipped unparsed.
const NAMES_A_BRAND: &[u8] = b"\"brand\":\"";

/// The members of a credit entry that attribution and the cursor read, borrowed where they can
/// be; the rest is skipped.
#[derive(Deserialize)]
struct Branded<'a> {
    #[serde(borrow)]
    chain: Cow<'a, str>,
    seq: u64,
    kind: ActionKind,
    reason: Reason,
    items: Lots,
    points: i64,
    bonus: i64,
    #[serde(borrow)]
    rulebook: Cow<'a, str>,
    #[serde(borrow)]
    factors: Cow<'a, str>,
    #[serde(borrow)]
    member: Cow<'a, str>,
}

#[derive(Deserialize)]
struct Lots {
    boxes: Vec<BoxLot>,
}

/// Sums the partner shares of folded entries, entry by entry, to compare with the stored
/// standings in [`FoldCheck::finish`].
pub struct FoldCheck<'c> {
    catalog: &'c Catalog,
    cursors: BTreeMap<String, Cursor>,
    brands: BTreeMap<String, (Figures, BTreeSet<String>)>,
    names_a_brand: memchr::memmem::Finder<'static>,
}

impl<'c> FoldCheck<'c> {
    /// A check against the stored per-chain cursors.
    pub fn new(catalog: &'c Catalog, cursors: Vec<(String, Cursor)>) -> Self {
        FoldCheck {
            catalog,
            cursors: cursors.into_iter().collect(),
            brands: BTreeMap::new(),
            names_a_brand: memchr::memmem::Finder::new(NAMES_A_BRAND),
        }
    }

    /// Takes a stored entry of `chain`. Entries past the chain's cursor, and entries that do
    /// not parse (the verifier reports those), count for nothing.
    pub fn push(&mut self, chain: &str, stored: &[u8]) {
        let Some(&cursor) = self.cursors.get(chain) else {
            return;
        };
        if self.names_a_brand.find(stored).is_none() {
            return;
        }
        let Ok(e) = serde_json::from_slice::<Branded>(stored) else {
            // Not a credit entry: a correction of one that names a brand, read in full.
            return self.push_correction(chain, cursor, stored);
        };
        if e.seq > cursor.seq || e.chain != chain {
            return;
        }
        let (Some(rb), Some(f)) = (
            self.catalog.rulebook(&e.rulebook),
            self.catalog.factors(&e.factors),
        ) else {
            return;
        };
        let credited = Credited {
            kind: e.kind,
            reason: e.reason,
            lots: &e.items.boxes,
            points: e.points,
            bonus: e.bonus,
        };
        let shares = credited.partner_shares(rb, f);
        self.count(e.seq, cursor, &e.member, shares);
    }

    fn push_correction(&mut self, chain: &str, cursor: Cursor, stored: &[u8]) {
        let Ok((leaf @ Leaf::Correction(_), _)) = Leaf::read(stored) else {
            return;
        };
        if leaf.seq() > cursor.seq || leaf.chain() != chain {
            return;
        }
        let Ok(Some(a)) = Attributed::of(&leaf, self.catalog) else {
            return;
        };
        let shares = numbered_partners(a.shares, a.rulebook);
        let member = a.credit.member.as_str().to_owned();
        self.count(a.seq, cursor, &member, shares);
    }

    /// Adds an entry's numbered partner shares, those before the cursor.
    fn count(
        &mut self,
        seq: u64,
        cursor: Cursor,
        member: &str,
        shares: impl Iterator<Item = (u32, String, Figures)>,
    ) {
        for (part, brand, figures) in shares {
            if seq == cursor.seq && part >= cursor.part {
                break;
            }
            let (sum, members) = self.brands.entry(brand).or_default();
            sum.add(&figures);
            if !members.contains(member) {
                members.insert(member.to_owned());
            }
        }
    }

    /// Each stored standing against the sums; a brand on one side only is a problem too.
    pub fn finish(self, stored: &[BrandStanding]) -> Vec<Problem> {
        let mut problems = Vec::new();
        let stored: BTreeMap<&str, &BrandStanding> =
            stored.iter().map(|s| (s.brand.as_str(), s)).collect();
        let brands: BTreeSet<&str> = stored
            .keys()
            .copied()
            .chain(self.brands.keys().map(String::as_str))
            .collect();
        let none = (Figures::default(), BTreeSet::new());
        for brand in brands {
            let (sum, members) = self.brands.get(brand).unwrap_or(&none);
            let kept = stored.get(brand).map(|s| (s.totals, s.members));
            let kept = kept.unwrap_or_default();
            if let Some((field, stored, derived)) =
                first_difference((&kept.0, kept.1), (sum, members.len() as u64))
            {
                problems.push(Problem::BrandFigures {
                    brand: brand.to_owned(),
                    field,
                    stored: stored.to_string(),
                    derived: derived.to_string(),
                });
            }
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::brand::fold::partner_shares;
    use crate::domain::{Items, MemberId};
    use crate::factors::FactorTable;
    use crate::ledger::entry::tests::sample;
    use crate::ledger::Entry;

    /// Entry `seq` of the sample's chain with one box of each brand named.
    fn entry(seq: u64, brands: &[&str]) -> Entry {
        let mut e = sample();
        e.seq = seq;
        e.items = Items {
            boxes: brands
                .iter()
                .map(|b| BoxLot {
                    brand: Some((*b).to_owned()),
                    count: 1,
                })
                .collect(),
            ..Items::default()
        };
        e
    }

    /// What a fold to `cursor` would have stored, from the same shares.
    fn folded(entries: &[Entry], cursor: Cursor, catalog: &Catalog) -> Vec<BrandStanding> {
        let mut by: BTreeMap<String, (Figures, BTreeSet<MemberId>)> = BTreeMap::new();
        for e in entries {
            let leaf = Leaf::Credit(e.clone());
            let a = Attributed::of(&leaf, catalog).unwrap().unwrap();
            for s in partner_shares(&a, "") {
                if (s.seq, s.part) < (cursor.seq, cursor.part) {
                    let (sum, members) = by.entry(s.brand).or_default();
                    sum.add(&s.figures);
                    members.insert(s.member);
                }
            }
        }
        by.into_iter()
            .map(|(brand, (totals, m))| BrandStanding {
                brand,
                totals,
                members: m.len() as u64,
            })
            .collect()
    }

    #[test]
    fn a_correction_counts_its_brands_grams_and_leaving_it_out_is_named() {
        use crate::digest::ZERO;
        use crate::ledger::correction::CorrectionEntry;
        let mut catalog = Catalog::builtin();
        let old = FactorTable::default_2026();
        let mut new = old.clone();
        new.version = "factors-check.2".into();
        new.box_reused.g_co2e += 8;
        catalog.add_factors(new.clone()).unwrap();
        let credit = entry(0, &["brand-01", "brand-02"]);
        let c = CorrectionEntry::new(credit.clone(), &old, &new, 1, ZERO, ZERO, 0);
        let leaves = [Leaf::Credit(credit.clone()), Leaf::Correction(Box::new(c))];
        let stored: Vec<Vec<u8>> = leaves.iter().map(Leaf::to_json).collect();
        let mut standings: BTreeMap<String, BrandStanding> = BTreeMap::new();
        for leaf in &leaves {
            let a = Attributed::of(leaf, &catalog).unwrap().unwrap();
            for s in partner_shares(&a, "") {
                let st = standings.entry(s.brand.clone()).or_default();
                st.brand = s.brand;
                st.totals.add(&s.figures);
                st.members = 1;
            }
        }
        let one = &standings["brand-01"].totals;
        assert_eq!((one.boxes, one.co2e_g, one.entries), (1, 37 + 8, 2));
        let check = |stored_standings: Vec<BrandStanding>| {
            let mut c = FoldCheck::new(&catalog, vec![(credit.chain.clone(), Cursor::end(2))]);
            for bytes in &stored {
                c.push(&credit.chain, bytes);
            }
            c.finish(&stored_standings)
        };
        let honest: Vec<BrandStanding> = standings.values().cloned().collect();
        assert_eq!(check(honest.clone()), []);
        // Stored figures that left the correction out (as first reported) are named.
        let mut first = honest;
        first[0].totals.co2e_g -= 8;
        first[0].totals.entries -= 1;
        assert!(matches!(
            &check(first)[..],
            [Problem::BrandFigures { brand, field: "entries", .. }] if brand == "brand-01"
        ));
    }

    #[test]
    fn only_what_the_cursor_covers_counts_and_a_moved_figure_is_named() {
        let catalog = Catalog::builtin();
        let entries = [
            entry(0, &["brand-01", "not-a-partner"]),
            entry(1, &["brand-01", "brand-02"]),
            entry(2, &["brand-02"]),
        ];
        // Folded to the first share of entry 1: brand-01 twice, brand-02 not yet.
        let cursor = Cursor { seq: 1, part: 1 };
        let stored = folded(&entries, cursor, &catalog);
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[0].totals.entries, 2);
        let check = |stored: &[BrandStanding]| {
            let chain = entries[0].chain.clone();
            let mut c = FoldCheck::new(&catalog, vec![(chain.clone(), cursor)]);
            for e in &entries {
                c.push(&chain, &e.to_json());
            }
            c.finish(stored)
        };
        assert_eq!(check(&stored), []);
        let mut moved = stored.clone();
        moved[0].totals.points += 1;
        assert!(matches!(
            &check(&moved)[..],
            [Problem::BrandFigures { brand, field: "points", .. }] if brand == "brand-01"
        ));
        // A standing for a brand the folded entries do not name.
        let mut extra = stored.clone();
        extra.push(BrandStanding {
            brand: "brand-02".into(),
            ..BrandStanding::default()
        });
        extra[1].totals.entries = 1;
        assert!(matches!(
            &check(&extra)[..],
            [Problem::BrandFigures { brand, field: "entries", stored, derived }]
                if brand == "brand-02" && stored == "1" && derived == "0"
        ));
    }
}
