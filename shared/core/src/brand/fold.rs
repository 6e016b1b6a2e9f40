//! The brand figures a store keeps, so that a brand's statement and the team ranking are read,
//! not recomputed from the ledger: each partner brand's figures, its rows by day and campus,
//! the members it reached, and a numbered index of the entries that name it.
//!
//! The checkpoint job folds each chain's checkpointed entries in, in chain order. What it has
//! folded is a per-chain [`Cursor`]; each [`Fold`] is written at once, conditioned on the cursor
//! it starts from, so a share is counted exactly once whatever is retried or run twice. An entry
//! may name up to 32 brands, more than one store transaction can take, so the cursor counts
//! shares within an entry too.
//!
//! Only partner brands are folded (the rulebook's team, about 50): a lot may name any brand id,
//! and the stored figures must stay bounded whatever an integration sends.

use super::{numbered_partners, ranked, Attributed, Figures, Ranked, Row, Statement};
use crate::checkpoint::SignedCheckpoint;
use crate::domain::MemberId;
use crate::proof::{join_page, sort_checkpoints, InclusionProof};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// How far a chain is folded: every share of the entries before `seq`, and the first `part`
/// shares (in brand order) of entry `seq`.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Cursor {
    pub seq: u64,
    pub part: u32,
}

impl Cursor {
    /// The end of a chain's first `size` entries.
    pub fn end(size: u64) -> Cursor {
        Cursor { seq: size, part: 0 }
    }
}

/// One partner brand's share of one entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Share {
    pub brand: String,
    pub seq: u64,
    /// Its place among the entry's partner shares, in brand order.
    pub part: u32,
    pub day: String,
    pub campus: Option<String>,
    pub member: MemberId,
    pub figures: Figures,
    /// The entry as stored, kept with the brand's index for its statement's proofs.
    pub entry: String,
}

impl Share {
    fn at(&self) -> Cursor {
        Cursor {
            seq: self.seq,
            part: self.part,
        }
    }
}

/// The partner-brand shares of one entry (stored as `stored`), in brand order. A correction's
/// share lands on its corrected entry's day and campus, as its grams do in the campus totals.
pub fn partner_shares(a: &Attributed, stored: &str) -> Vec<Share> {
    numbered_partners(a.shares.clone(), a.rulebook)
        .map(|(part, brand, figures)| Share {
            brand,
            seq: a.seq,
            part,
            day: a.credit.day.clone(),
            campus: a.credit.campus.clone(),
            member: a.credit.member.clone(),
            figures,
            entry: stored.to_owned(),
        })
        .collect()
}

/// One write of the brand figures: `shares` of `chain`, moving its cursor from `from` to `to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fold {
    pub chain: String,
    pub from: Cursor,
    pub to: Cursor,
    pub shares: Vec<Share>,
}

/// A brand's row: (brand, day, campus).
pub type RowKey<'a> = (&'a str, &'a str, Option<&'a str>);

/// What a fold writes, worked out from what the store holds (see [`Fold::apply`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied<'f> {
    /// Each touched brand's new standing, with its entry count as read (None: a new brand),
    /// which the write is conditioned on.
    pub standings: Vec<(BrandStanding, Option<u64>)>,
    /// What to add to each touched row.
    pub rows: Vec<(RowKey<'f>, Figures)>,
    /// (brand, member) pairs reached for the first time.
    pub new_members: Vec<(&'f str, &'f MemberId)>,
    /// Each share with its number in its brand's index.
    pub index: Vec<(u64, &'f Share)>,
}

impl Fold {
    /// Stored items it may write: the cursor, and per distinct brand, row and (brand, member)
    /// one each, and one index item per share.
    pub fn items(&self) -> usize {
        items(&self.shares)
    }

    /// The fold applied to the `standings` read for its brands (a brand absent from them has
    /// none yet), where `reached` says which (brand, member) pairs already have a marker.
    pub fn apply(
        &self,
        mut standings: BTreeMap<String, BrandStanding>,
        reached: impl Fn(&str, &MemberId) -> bool,
    ) -> Applied<'_> {
        let read: BTreeMap<String, u64> = standings
            .iter()
            .map(|(b, st)| (b.clone(), st.totals.entries))
            .collect();
        let mut rows: BTreeMap<RowKey, Figures> = BTreeMap::new();
        let mut new_members: BTreeSet<(&str, &MemberId)> = BTreeSet::new();
        let mut index = Vec::with_capacity(self.shares.len());
        for sh in &self.shares {
            let st = standings
                .entry(sh.brand.clone())
                .or_insert_with(|| BrandStanding {
                    brand: sh.brand.clone(),
                    ..BrandStanding::default()
                });
            index.push((st.totals.entries, sh));
            st.totals.add(&sh.figures);
            let pair = (sh.brand.as_str(), &sh.member);
            if !reached(pair.0, pair.1) && new_members.insert(pair) {
                st.members += 1;
            }
            rows.entry((&sh.brand, &sh.day, sh.campus.as_deref()))
                .or_default()
                .add(&sh.figures);
        }
        Applied {
            standings: standings
                .into_values()
                .map(|st| {
                    let was = read.get(&st.brand).copied();
                    (st, was)
                })
                .collect(),
            rows: rows.into_iter().collect(),
            new_members: new_members.into_iter().collect(),
            index,
        }
    }
}

fn items(shares: &[Share]) -> usize {
    let brands: BTreeSet<&str> = shares.iter().map(|s| s.brand.as_str()).collect();
    let rows: BTreeSet<_> = shares
        .iter()
        .map(|s| (&s.brand, &s.day, &s.campus))
        .collect();
    let members: BTreeSet<_> = shares.iter().map(|s| (&s.brand, &s.member)).collect();
    1 + brands.len() + rows.len() + members.len() + shares.len()
}

/// Splits the shares of a chain's entries from `from` to `end` (shares before `from` are
/// skipped) into folds of at most `budget` stored items each (at least 5: one share's worth),
/// in order, each starting where the last ended. A run with no share is one fold that only
/// moves the cursor.
pub fn plan(
    chain: &str,
    from: Cursor,
    end: Cursor,
    shares: Vec<Share>,
    budget: usize,
) -> Vec<Fold> {
    assert!(budget >= 5, "a fold of one share writes up to 5 items");
    let mut folds = Vec::new();
    let mut at = from;
    let mut current: Vec<Share> = Vec::new();
    for s in shares
        .into_iter()
        .filter(|s| s.at() >= from && s.at() < end)
    {
        current.push(s);
        if items(&current) > budget {
            let s = current.pop().expect("just pushed");
            let to = s.at();
            folds.push(Fold {
                chain: chain.to_owned(),
                from: at,
                to,
                shares: std::mem::take(&mut current),
            });
            at = to;
            current.push(s);
        }
    }
    folds.push(Fold {
        chain: chain.to_owned(),
        from: at,
        to: end,
        shares: current,
    });
    folds
}

/// What the store keeps per partner brand: its figures (`totals.entries` is also the number of
/// entries in its index) and the distinct members it reached.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrandStanding {
    pub brand: String,
    pub totals: Figures,
    pub members: u64,
}

/// The team ranking from the stored standings.
pub fn rank(standings: Vec<BrandStanding>) -> Vec<Ranked> {
    ranked(
        standings
            .into_iter()
            .map(|s| Ranked {
                rank: 0,
                brand: s.brand,
                partner: true,
                figures: s.totals,
                members: s.members,
            })
            .collect(),
    )
}

/// One page of a brand's statement, read from the stored figures: the brand's standing, its
/// rows (first page only), and entries from its index before number `before`, newest first,
/// each proven in its chain's latest checkpoint. `next` is the number of the oldest entry given:
/// the next page holds the entries before it. None once entry 0 is given.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatementPage {
    pub brand: String,
    pub totals: Figures,
    pub members: u64,
    /// On the first page only (None on the others): the rows by day and campus.
    pub rows: Option<Vec<Row>>,
    pub checkpoints: Vec<SignedCheckpoint>,
    pub proofs: Vec<InclusionProof>,
    pub next: Option<u64>,
}

impl Statement {
    /// The statement pages make up, first page first: the first page's figures and rows (later
    /// pages hold only older entries, so they are what the proofs add up to), every proof, each
    /// distinct checkpoint once. None without a page or if the first page has no rows. Nothing
    /// is checked here; that is [`super::verify_statement`]'s job.
    pub fn join_pages(pages: impl IntoIterator<Item = StatementPage>) -> Option<Statement> {
        let mut pages = pages.into_iter();
        let first = pages.next()?;
        let mut s = Statement {
            brand: first.brand,
            totals: first.totals,
            members: first.members,
            rows: first.rows?,
            checkpoints: first.checkpoints,
            proofs: first.proofs,
        };
        for page in pages {
            join_page(
                &mut s.checkpoints,
                &mut s.proofs,
                page.checkpoints,
                page.proofs,
            );
        }
        sort_checkpoints(&mut s.checkpoints);
        Some(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn share(seq: u64, part: u32, brand: usize, member: usize) -> Share {
        Share {
            brand: format!("brand-{brand:02}"),
            seq,
            part,
            day: "2026-11-11".into(),
            campus: None,
            member: MemberId::parse(&format!("{member:02x}").repeat(32)).unwrap(),
            figures: Figures {
                boxes: 1,
                points: 10,
                co2e_g: 37,
                entries: 1,
            },
            entry: "{}".into(),
        }
    }

    #[test]
    fn an_entry_of_many_brands_is_split_within_the_entry() {
        // 32 brands on one entry: 1 + 32 × 4 items, over one transaction's 100.
        let shares: Vec<Share> = (0..32).map(|b| share(7, b as u32, b, 1)).collect();
        let folds = plan("c", Cursor::default(), Cursor::end(8), shares, 100);
        assert_eq!(folds.len(), 2);
        assert_eq!(folds[0].to, Cursor { seq: 7, part: 24 });
        assert_eq!(folds[0].items(), 97);
        assert_eq!(folds[1].from, folds[0].to);
        assert_eq!(folds[1].to, Cursor::end(8));
        assert_eq!(folds[1].shares.len(), 8);
    }

    #[test]
    fn a_resumed_plan_skips_what_was_folded() {
        let shares: Vec<Share> = (0..4).map(|b| share(3, b as u32, b, 1)).collect();
        let from = Cursor { seq: 3, part: 2 };
        let folds = plan("c", from, Cursor::end(4), shares, 100);
        assert_eq!(folds.len(), 1);
        let parts: Vec<u32> = folds[0].shares.iter().map(|s| s.part).collect();
        assert_eq!(parts, [2, 3]);
        let none = plan("c", Cursor::end(4), Cursor::end(9), Vec::new(), 100);
        assert_eq!(none.len(), 1);
        assert!(none[0].shares.is_empty() && none[0].to == Cursor::end(9));
    }

    proptest! {
        /// Whatever the shares and the budget, the folds cover every share once, in order,
        /// each within its budget, and link up from `from` to `end`.
        #[test]
        fn folds_cover_every_share_once_within_budget(
            per_entry in proptest::collection::vec(proptest::collection::vec((0usize..40, 0usize..5), 0..33), 0..12),
            budget in 5usize..120,
        ) {
            let mut shares = Vec::new();
            for (seq, brands) in per_entry.iter().enumerate() {
                let mut named: Vec<(usize, usize)> = brands.clone();
                named.sort();
                named.dedup_by_key(|b| b.0);
                for (part, &(b, m)) in named.iter().enumerate() {
                    shares.push(share(seq as u64, part as u32, b, m));
                }
            }
            let end = Cursor::end(per_entry.len() as u64);
            let folds = plan("c", Cursor::default(), end, shares.clone(), budget);
            let mut at = Cursor::default();
            let mut got = Vec::new();
            for f in &folds {
                prop_assert_eq!(f.from, at);
                prop_assert!(f.items() <= budget);
                prop_assert!(f.shares.iter().all(|s| s.at() >= f.from && s.at() < f.to));
                at = f.to;
                got.extend(f.shares.iter().cloned());
            }
            prop_assert_eq!(at, end);
            prop_assert_eq!(got, shares);
        }
    }
}
