//! The brand team: what each partner brand's boxes brought in, from the entries alone, and a
//! brand's statement, which the brand checks offline like a member statement.
//!
//! Attribution (normative, `docs/ledger-format.md` §12). For a credit entry and a brand `b`
//! named in its lots:
//! - it counts only if the entry is a drop-off (`scan`) whose items are accepted (not
//!   `implausible`): a pledge names no brand, and refused items are nobody's;
//! - `boxes` = Σ `count` of the lots naming `b`;
//! - `co2e_g` = `boxes × box_reused` under the entry's factor table: the multiplier never
//!   touches grams;
//! - `uplift` = ⌊`boxes × box × (pct − 100)` / 100⌋, where `pct` is the rulebook's partner
//!   multiplier if `b` is a partner brand, else 100 (no uplift): the points the multiplier
//!   added before the cap;
//! - `points` (credited because of the brand) = ⌊`bonus × uplift` / `points`⌋ when the entry's
//!   `points` > 0, else 0: the uplift's share of what was actually credited, so a capped or
//!   out-of-window entry pays the brand's share of what the member got, never more. Summed
//!   over an entry's brands it is at most `bonus`.
//!
//! A correction entry (format 2.2) moves the grams of the brands its corrected entry names by
//! `boxes × (box_reused under to − under from)`, and counts as one of their entries; their boxes
//! and points stay as credited. A correction that moves no box grams brings them nothing.

use crate::catalog::Catalog;
use crate::checkpoint::{PublicKey, SignedCheckpoint};
use crate::domain::ActionKind;
use crate::factors::FactorTable;
use crate::ledger::correction::brand_deltas;
use crate::ledger::{Entry, Leaf};
use crate::proof::{checkpoints_by_tree, proven_leaf, AuditError, InclusionProof};
use crate::rulebook::Rulebook;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

pub mod check;
pub mod fold;

/// One brand's figures, summed over some entries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Figures {
    pub boxes: u64,
    pub points: i64,
    pub co2e_g: i64,
    pub entries: u64,
}

impl Figures {
    pub fn add(&mut self, o: &Figures) {
        self.boxes += o.boxes;
        self.points += o.points;
        self.co2e_g += o.co2e_g;
        self.entries += o.entries;
    }
}

/// What one entry brings each brand it names, by brand, per the rules above.
pub fn shares(e: &Entry, rulebook: &Rulebook, factors: &FactorTable) -> BTreeMap<String, Figures> {
    Credited::of(e).shares(rulebook, factors)
}

/// The parts of a credit entry that attribution reads.
pub struct Credited<'a> {
    pub kind: ActionKind,
    pub reason: crate::rulebook::Reason,
    pub lots: &'a [crate::domain::BoxLot],
    pub points: i64,
    pub bonus: i64,
}

impl<'a> Credited<'a> {
    pub fn of(e: &'a Entry) -> Self {
        Credited {
            kind: e.kind,
            reason: e.reason,
            lots: &e.items.boxes,
            points: e.points,
            bonus: e.bonus,
        }
    }

    /// The shares of the rulebook's partner brands, in brand order, numbered
    /// ([`numbered_partners`]).
    pub fn partner_shares<'r>(
        &self,
        rulebook: &'r Rulebook,
        factors: &FactorTable,
    ) -> impl Iterator<Item = (u32, String, Figures)> + use<'r> {
        numbered_partners(self.shares(rulebook, factors), rulebook)
    }

    /// What the entry brings each brand it names ([`shares`]).
    pub fn shares(&self, rulebook: &Rulebook, factors: &FactorTable) -> BTreeMap<String, Figures> {
        let mut out: BTreeMap<String, Figures> = BTreeMap::new();
        if self.kind != ActionKind::Scan || !self.reason.accepts_items() {
            return out;
        }
        for lot in self.lots {
            if let Some(b) = &lot.brand {
                out.entry(b.clone()).or_default().boxes += u64::from(lot.count);
            }
        }
        for (b, f) in out.iter_mut() {
            let pct = if rulebook.is_partner(b) {
                i64::from(rulebook.partner_multiplier_pct)
            } else {
                100
            };
            let uplift = f.boxes as i64 * i64::from(rulebook.points.per_box) * (pct - 100) / 100;
            f.points = if self.points > 0 {
                (i128::from(self.bonus) * i128::from(uplift) / i128::from(self.points)) as i64
            } else {
                0
            };
            f.co2e_g = f.boxes as i64 * i64::from(factors.box_reused.g_co2e);
            f.entries = 1;
        }
        out
    }
}

/// The shares of `rulebook`'s partner brands, in brand order: each with its place among them,
/// the `part` a fold's cursor counts (`fold::Cursor`).
pub fn numbered_partners(
    shares: BTreeMap<String, Figures>,
    rulebook: &Rulebook,
) -> impl Iterator<Item = (u32, String, Figures)> + use<'_> {
    shares
        .into_iter()
        .filter(|(b, _)| rulebook.is_partner(b))
        .enumerate()
        .map(|(part, (brand, figures))| (part as u32, brand, figures))
}

/// What a correction of `corrected` from table `from` to `to` brings each brand it names: the
/// change of their boxes' grams, as one entry. Brands whose grams do not move get nothing.
pub fn correction_shares(
    corrected: &Entry,
    from: &FactorTable,
    to: &FactorTable,
) -> BTreeMap<String, Figures> {
    brand_deltas(corrected, from, to)
        .into_iter()
        .map(|(brand, co2e_g)| {
            let moved = Figures {
                co2e_g,
                entries: 1,
                ..Figures::default()
            };
            (brand, moved)
        })
        .collect()
}

/// A ledger entry as attribution reads it: the credit entry whose lots name the brands (for a
/// correction, the entry it corrects), the entry's own `seq`, the rulebook that says who is a
/// partner, and what the entry brings each brand.
pub struct Attributed<'a> {
    pub seq: u64,
    pub credit: &'a Entry,
    pub rulebook: &'a Rulebook,
    pub shares: BTreeMap<String, Figures>,
}

impl<'a> Attributed<'a> {
    /// `leaf` under the versions it names in `catalog`; None for a disposition entry, which
    /// names no brand. Err: a version the catalog does not know.
    pub fn of(leaf: &'a Leaf, catalog: &'a Catalog) -> Result<Option<Self>, String> {
        let unknown = |seq: u64| format!("seq {seq} names an unknown version");
        match leaf {
            Leaf::Credit(e) => {
                let (Some(rb), Some(f)) =
                    (catalog.rulebook(&e.rulebook), catalog.factors(&e.factors))
                else {
                    return Err(unknown(e.seq));
                };
                Ok(Some(Attributed {
                    seq: e.seq,
                    credit: e,
                    rulebook: rb,
                    shares: shares(e, rb, f),
                }))
            }
            Leaf::Correction(c) => {
                let e = &c.corrects;
                let (Some(rb), Some(from), Some(to)) = (
                    catalog.rulebook(&e.rulebook),
                    catalog.factors(&c.from),
                    catalog.factors(&c.to),
                ) else {
                    return Err(unknown(c.seq));
                };
                Ok(Some(Attributed {
                    seq: c.seq,
                    credit: e,
                    rulebook: rb,
                    shares: correction_shares(e, from, to),
                }))
            }
            Leaf::Disposition(_) => Ok(None),
        }
    }
}

/// The first of a brand's figures, then its members, in which `stated` and `summed` differ:
/// (field, stated, summed).
pub fn first_difference(
    (stated, stated_members): (&Figures, u64),
    (summed, summed_members): (&Figures, u64),
) -> Option<(&'static str, i64, i64)> {
    [
        ("entries", stated.entries as i64, summed.entries as i64),
        ("boxes", stated.boxes as i64, summed.boxes as i64),
        ("points", stated.points, summed.points),
        ("co2e_g", stated.co2e_g, summed.co2e_g),
        ("members", stated_members as i64, summed_members as i64),
    ]
    .into_iter()
    .find(|(_, a, b)| a != b)
}

/// One brand's figures on one (day, campus); `campus` is None for members of no campus.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Row {
    pub day: String,
    pub campus: Option<String>,
    pub figures: Figures,
}

/// A brand's statement: its figures per day and campus and in all, the members it reached,
/// and every entry that names it, each with its inclusion proof in a signed checkpoint.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Statement {
    pub brand: String,
    pub totals: Figures,
    /// Distinct members whose entries name the brand.
    pub members: u64,
    pub rows: Vec<Row>,
    pub checkpoints: Vec<SignedCheckpoint>,
    pub proofs: Vec<InclusionProof>,
}

/// What a verified brand statement adds up to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub brand: String,
    pub totals: Figures,
    pub members: u64,
    pub rows: usize,
}

/// Sums the entries (credit entries and corrections) into a statement's figures, under the
/// versions each names in `catalog`: totals, members, rows by (day, campus), a correction's on
/// its corrected entry's. An entry that does not name the brand is refused.
pub fn figures<'a>(
    brand: &str,
    entries: impl Iterator<Item = &'a Leaf>,
    catalog: &Catalog,
) -> Result<(Figures, u64, Vec<Row>), String> {
    let mut totals = Figures::default();
    let mut members = BTreeSet::new();
    let mut rows: BTreeMap<(String, Option<String>), Figures> = BTreeMap::new();
    for leaf in entries {
        let (chain, seq) = (leaf.chain(), leaf.seq());
        let Some(mut a) =
            Attributed::of(leaf, catalog).map_err(|e| format!("chain {chain} {e}"))?
        else {
            return Err(format!("chain {chain} seq {seq} is a disposition entry"));
        };
        let Some(mine) = a.shares.remove(brand) else {
            return Err(format!(
                "chain {chain} seq {seq} does not name brand {brand}"
            ));
        };
        totals.add(&mine);
        members.insert(a.credit.member.clone());
        rows.entry((a.credit.day.clone(), a.credit.campus.clone()))
            .or_default()
            .add(&mine);
    }
    let rows = rows
        .into_iter()
        .map(|((day, campus), figures)| Row {
            day,
            campus,
            figures,
        })
        .collect();
    Ok((totals, members.len() as u64, rows))
}

/// Checks a brand statement offline: every checkpoint is signed by the log; every entry (a
/// credit entry or a correction) is in a signed checkpoint at the size its proof names, names
/// the brand, and is named once; and the totals, members and rows are what the entries add up
/// to under the versions they name.
///
/// What it cannot show alone is completeness: that no entry naming the brand was left out of
/// both the entries and the figures. That takes the whole log (`greenloop verify`, which
/// recomputes every brand's figures from every entry) or a per-chain commitment to each
/// brand's entries; `docs/audit.md` says what that would be.
pub fn verify_statement(
    key: &PublicKey,
    s: &Statement,
    catalog: &Catalog,
) -> Result<Verified, AuditError> {
    let fail = |m: String| AuditError::BrandStatement(format!("brand {}: {m}", s.brand));
    let by_tree = checkpoints_by_tree(key, &s.checkpoints, fail)?;
    let mut entries = Vec::with_capacity(s.proofs.len());
    let mut seen = BTreeSet::new();
    for p in &s.proofs {
        let leaf = proven_leaf(key, &by_tree, p, fail)?;
        if !seen.insert((p.chain.clone(), p.seq)) {
            return Err(fail(format!(
                "chain {} seq {} is given twice",
                p.chain, p.seq
            )));
        }
        entries.push(leaf);
    }
    let (totals, members, rows) = figures(&s.brand, entries.iter(), catalog).map_err(fail)?;
    if let Some((what, stated, summed)) =
        first_difference((&s.totals, s.members), (&totals, members))
    {
        return Err(fail(format!(
            "{what} is {stated}, its entries sum to {summed}"
        )));
    }
    if s.rows != rows {
        return Err(fail(
            "its rows by day and campus are not what its entries sum to".into(),
        ));
    }
    Ok(Verified {
        brand: s.brand.clone(),
        totals,
        members,
        rows: rows.len(),
    })
}

/// The brand team's figures, summed entry by entry: every brand named, with the members it
/// reached.
#[derive(Debug, Default)]
pub struct Team {
    brands: BTreeMap<String, (Figures, BTreeSet<crate::domain::MemberId>)>,
}

/// One brand's place in the team ranking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ranked {
    pub rank: u32,
    pub brand: String,
    pub partner: bool,
    pub figures: Figures,
    pub members: u64,
}

impl Team {
    pub fn add(&mut self, e: &Entry, rulebook: &Rulebook, factors: &FactorTable) {
        self.add_shares(&e.member, shares(e, rulebook, factors));
    }

    /// Adds what one entry of `member`'s brings each brand ([`Attributed::shares`]).
    pub fn add_shares(
        &mut self,
        member: &crate::domain::MemberId,
        shares: BTreeMap<String, Figures>,
    ) {
        for (b, f) in shares {
            let (sum, members) = self.brands.entry(b).or_default();
            sum.add(&f);
            members.insert(member.clone());
        }
    }

    /// Most boxes returned first, then by brand id; `partner` as `is_partner` says.
    pub fn ranking(&self, is_partner: impl Fn(&str) -> bool) -> Vec<Ranked> {
        ranked(
            self.brands
                .iter()
                .map(|(b, (f, m))| Ranked {
                    rank: 0,
                    brand: b.clone(),
                    partner: is_partner(b),
                    figures: *f,
                    members: m.len() as u64,
                })
                .collect(),
        )
    }
}

/// Ranks brands: most boxes returned first, then by brand id.
pub fn ranked(mut rows: Vec<Ranked>) -> Vec<Ranked> {
    rows.sort_by(|a, b| {
        b.figures
            .boxes
            .cmp(&a.figures.boxes)
            .then_with(|| a.brand.cmp(&b.brand))
    });
    for (i, r) in rows.iter_mut().enumerate() {
        r.rank = i as u32 + 1;
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{BoxLot, Items};
    use crate::rulebook::Reason;
    use proptest::prelude::*;

    fn entry(lots: &[(Option<&str>, u32)], points: i64, bonus: i64, reason: Reason) -> Entry {
        let mut e = crate::ledger::entry::tests::sample();
        e.items = Items {
            boxes: lots
                .iter()
                .map(|&(b, count)| BoxLot {
                    brand: b.map(str::to_owned),
                    count,
                })
                .collect(),
            ..Items::default()
        };
        (e.points, e.bonus, e.reason) = (points, bonus, reason);
        e
    }

    #[test]
    fn the_team_ranks_by_boxes_and_counts_members_once() {
        let (rb, f) = (Rulebook::default_double11(), FactorTable::default_2026());
        let mut team = Team::default();
        let mut e = entry(
            &[(Some("brand-01"), 2), (Some("brand-02"), 5)],
            140,
            140,
            Reason::Ok,
        );
        team.add(&e, &rb, &f);
        e.seq = 1;
        team.add(&e, &rb, &f);
        e.member = crate::domain::MemberId::parse(&"cd".repeat(32)).unwrap();
        e.items.boxes.truncate(1);
        team.add(&e, &rb, &f);
        let r = team.ranking(|b| rb.is_partner(b));
        let got: Vec<_> = r
            .iter()
            .map(|r| (r.rank, r.brand.as_str(), r.figures.boxes, r.members))
            .collect();
        assert_eq!(got, [(1, "brand-02", 10, 1), (2, "brand-01", 6, 2)]);
        assert_eq!(r[1].figures.entries, 3);
    }

    #[test]
    fn a_partner_brand_gets_its_uplift_and_a_capped_entry_its_share() {
        let (rb, f) = (Rulebook::default_double11(), FactorTable::default_2026());
        assert!(rb.is_partner("brand-07") && rb.partner_multiplier_pct == 200);
        // Vector 1 of docs/ledger-format.md: 3 boxes of brand-07 and 2 of none, 80 points.
        let e = entry(&[(Some("brand-07"), 3), (None, 2)], 80, 80, Reason::Ok);
        let s = shares(&e, &rb, &f);
        assert_eq!(
            s["brand-07"],
            Figures {
                boxes: 3,
                points: 30,
                co2e_g: 111,
                entries: 1
            }
        );
        assert_eq!(s.len(), 1, "no brand, no share");
        // Capped to 40 of 80: half the uplift, rounded down.
        let capped = entry(&[(Some("brand-07"), 3), (None, 2)], 80, 40, Reason::Capped);
        assert_eq!(shares(&capped, &rb, &f)["brand-07"].points, 15);
        // Not a partner: boxes and grams, no points.
        let other = entry(&[(Some("other-1"), 4)], 40, 40, Reason::Ok);
        assert_eq!(shares(&other, &rb, &f)["other-1"].points, 0);
        // Refused items are nobody's.
        let refused = entry(&[(Some("brand-07"), 3)], 60, 0, Reason::Implausible);
        assert!(shares(&refused, &rb, &f).is_empty());
    }

    #[test]
    fn a_correction_moves_only_the_grams_of_the_brands_its_entry_names() {
        let old = FactorTable::default_2026();
        let mut boxes = old.clone();
        boxes.version = "factors-boxes.2".into();
        boxes.box_reused.g_co2e += 8;
        let mut books = old.clone();
        books.version = "factors-books.2".into();
        books.book_recycled.g_co2e += 171;
        // Vector 1's lots: 3 boxes of brand-07 and 2 of none.
        let e = entry(&[(Some("brand-07"), 3), (None, 2)], 80, 80, Reason::Ok);
        let moved = correction_shares(&e, &old, &boxes);
        let want = Figures {
            co2e_g: 24,
            entries: 1,
            ..Figures::default()
        };
        assert_eq!(moved, BTreeMap::from([("brand-07".to_owned(), want)]));
        assert!(
            correction_shares(&e, &old, &books).is_empty(),
            "books move no brand's grams"
        );
        let back = correction_shares(&e, &boxes, &old);
        assert_eq!(back["brand-07"].co2e_g, -24);
        let refused = entry(&[(Some("brand-07"), 3)], 60, 0, Reason::Implausible);
        assert!(correction_shares(&refused, &old, &boxes).is_empty());
    }

    proptest! {
        /// Whatever the lots and the cap, an entry's brand points never exceed its bonus, and
        /// each brand's never exceed its uplift.
        #[test]
        fn brand_points_never_exceed_the_bonus(
            lots in proptest::collection::vec((0usize..4, 1u32..50), 1..6),
            cap in 0i64..=100,
        ) {
            let (rb, f) = (Rulebook::default_double11(), FactorTable::default_2026());
            let names = [Some("brand-01"), Some("brand-02"), Some("other-9"), None];
            let lots: Vec<(Option<&str>, u32)> = lots.iter().map(|&(b, n)| (names[b], n)).collect();
            let items = Items {
                boxes: lots.iter().map(|&(b, count)| BoxLot { brand: b.map(str::to_owned), count }).collect(),
                ..Items::default()
            };
            let points = rb.points_of(ActionKind::Scan, 0, items.boxes.iter().map(|l| (l.brand.as_deref(), l.count)), 0, 0);
            let bonus = points * cap / 100;
            let e = entry(&lots, points, bonus, Reason::Capped);
            let s = shares(&e, &rb, &f);
            let sum: i64 = s.values().map(|x| x.points).sum();
            prop_assert!(sum <= bonus);
            for (b, x) in &s {
                let boxes: u64 = lots.iter().filter(|l| l.0 == Some(b.as_str())).map(|l| u64::from(l.1)).sum();
                prop_assert_eq!(x.boxes, boxes);
                prop_assert!(x.points <= boxes as i64 * 10);
            }
        }
    }
}
