//! The brand figures on the embedded store: one redb write transaction per fold, conditioned on
//! the chain's cursor; and the figures and each brand's index, read.

use super::{decode, encode, EmbeddedStore};
use crate::store::{BrandEntry, BrandFolding, BrandQueries, Result, StoreError, StoredBrands};
use async_trait::async_trait;
use greenloop_core::brand::fold::{BrandStanding, Cursor, Fold};
use greenloop_core::brand::{Figures, Row};
use redb::{ReadableTable, TableDefinition};
use std::collections::{BTreeMap, BTreeSet};

/// chain → [`Cursor`].
const CURSORS: TableDefinition<&str, &[u8]> = TableDefinition::new("brand_cursors");
/// brand → [`BrandStanding`].
const STANDINGS: TableDefinition<&str, &[u8]> = TableDefinition::new("brand_standings");
/// (brand, day, campus or "") → [`Figures`].
const ROWS: TableDefinition<(&str, &str, &str), &[u8]> = TableDefinition::new("brand_rows");
/// (brand, member): the members each brand reached.
const MEMBERS: TableDefinition<(&str, &str), ()> = TableDefinition::new("brand_members");
/// (brand, n) → (chain, seq, entry as stored).
const INDEX: TableDefinition<(&str, u64), (&str, u64, &[u8])> = TableDefinition::new("brand_index");

/// Every table of this module, created when the store opens.
pub(super) fn create(txn: &redb::WriteTransaction) -> Result<()> {
    txn.open_table(CURSORS)?;
    txn.open_table(STANDINGS)?;
    txn.open_table(ROWS)?;
    txn.open_table(MEMBERS)?;
    txn.open_table(INDEX)?;
    Ok(())
}

/// The cursors and standings, from one read transaction.
pub(super) fn stored(store: &EmbeddedStore) -> Result<StoredBrands> {
    let txn = store.read()?;
    let mut cursors = Vec::new();
    for row in txn.open_table(CURSORS)?.iter()? {
        let (k, v) = row?;
        cursors.push((k.value().to_owned(), decode(v.value())?));
    }
    let mut standings = Vec::new();
    for row in txn.open_table(STANDINGS)?.iter()? {
        standings.push(decode(row?.1.value())?);
    }
    Ok(StoredBrands { cursors, standings })
}

#[async_trait]
impl BrandFolding for EmbeddedStore {
    async fn brand_cursor(&self, chain: &str) -> Result<Cursor> {
        let txn = self.read()?;
        let t = txn.open_table(CURSORS)?;
        let c = t.get(chain)?.map(|v| decode(v.value())).transpose()?;
        Ok(c.unwrap_or_default())
    }

    async fn fold_brands(&self, fold: &Fold) -> Result<()> {
        self.write(|txn| -> Result<()> {
            let mut cursors = txn.open_table(CURSORS)?;
            let at: Cursor = cursors
                .get(fold.chain.as_str())?
                .map(|v| decode(v.value()))
                .transpose()?
                .unwrap_or_default();
            if at != fold.from {
                return Err(StoreError::Conflict(format!(
                    "chain {} is folded to {at:?}, not {:?}",
                    fold.chain, fold.from
                )));
            }
            let mut standings = txn.open_table(STANDINGS)?;
            let mut rows = txn.open_table(ROWS)?;
            let mut members = txn.open_table(MEMBERS)?;
            let mut index = txn.open_table(INDEX)?;
            let mut read = BTreeMap::new();
            for s in &fold.shares {
                if let Some(v) = standings.get(s.brand.as_str())? {
                    read.insert(s.brand.clone(), decode::<BrandStanding>(v.value())?);
                }
            }
            let mut reached = BTreeSet::new();
            for s in &fold.shares {
                if members
                    .get((s.brand.as_str(), s.member.as_str()))?
                    .is_some()
                {
                    reached.insert((s.brand.as_str(), s.member.as_str()));
                }
            }
            let applied = fold.apply(read, |b, m| reached.contains(&(b, m.as_str())));
            for (st, _) in &applied.standings {
                standings.insert(st.brand.as_str(), encode(st).as_slice())?;
            }
            for ((brand, day, campus), add) in &applied.rows {
                let key = (*brand, *day, campus.unwrap_or(""));
                let mut row: Figures = rows
                    .get(key)?
                    .map(|v| decode(v.value()))
                    .transpose()?
                    .unwrap_or_default();
                row.add(add);
                rows.insert(key, encode(&row).as_slice())?;
            }
            for (brand, member) in &applied.new_members {
                members.insert((*brand, member.as_str()), ())?;
            }
            for (n, s) in &applied.index {
                index.insert(
                    (s.brand.as_str(), *n),
                    (fold.chain.as_str(), s.seq, s.entry.as_bytes()),
                )?;
            }
            cursors.insert(fold.chain.as_str(), encode(&fold.to).as_slice())?;
            Ok(())
        })
    }
}

#[async_trait]
impl BrandQueries for EmbeddedStore {
    async fn brand_standings(&self) -> Result<Vec<BrandStanding>> {
        self.all_json(STANDINGS)
    }

    async fn brand_standing(&self, brand: &str) -> Result<Option<BrandStanding>> {
        self.get_json(STANDINGS, brand)
    }

    async fn brand_rows(&self, brand: &str) -> Result<Vec<Row>> {
        let txn = self.read()?;
        let t = txn.open_table(ROWS)?;
        let mut out = Vec::new();
        for row in t.range((brand, "", "")..)? {
            let (k, v) = row?;
            let (b, day, campus) = k.value();
            if b != brand {
                break;
            }
            out.push(Row {
                day: day.to_owned(),
                campus: (!campus.is_empty()).then(|| campus.to_owned()),
                figures: decode(v.value())?,
            });
        }
        Ok(out)
    }

    async fn brand_entries(
        &self,
        brand: &str,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<BrandEntry>> {
        let txn = self.read()?;
        let t = txn.open_table(INDEX)?;
        let end = before.unwrap_or(u64::MAX);
        let mut out = Vec::new();
        for row in t.range((brand, 0)..(brand, end))?.rev().take(limit) {
            let (k, v) = row?;
            let (chain, seq, entry) = v.value();
            out.push(BrandEntry {
                n: k.value().1,
                chain: chain.to_owned(),
                seq,
                entry: entry.to_vec(),
            });
        }
        Ok(out)
    }
}
