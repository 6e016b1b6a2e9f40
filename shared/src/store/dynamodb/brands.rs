//! The brand figures on DynamoDB. A fold reads the standings and member markers it touches with
//! one `BatchGetItem`, then writes one `TransactWriteItems`, conditioned on the chain's cursor
//! (another run folded it: a conflict) and on each standing's entry count (another chain's fold
//! moved it: read again and retry).
//!
//! Items: `BRANDCUR#<chain>` the cursor; `BRANDS`/`<brand>` each standing, so the team ranking
//! is one query of one partition of about 50 items; under `BRAND#<brand>`, `ROW#<day>#<campus>`
//! the rows, `M#<member>` the members reached, `N#<n>` the entry index.

use super::append::{moved_items, pause};
use super::append::{put_item, update_item};
use super::item::{self, from_item, get_n, get_s, n, s, Item};
use super::DynamoStore;
use crate::store::{
    BrandEntry, BrandFolding, BrandQueries, LedgerSource, Result, StoreError, StoredBrands,
};
use async_trait::async_trait;
use greenloop_core::brand::fold::{BrandStanding, Cursor, Fold};
use greenloop_core::brand::{Figures, Row};
use std::collections::{BTreeMap, BTreeSet};

/// Tries before a fold that keeps meeting moved standings gives up (the next run resumes).
const TRIES: u32 = 8;
const STANDINGS: &str = "BRANDS";

fn cursor_key(chain: &str) -> Item {
    item::key(format!("BRANDCUR#{chain}"), "BRANDCUR")
}

fn standing_key(brand: &str) -> Item {
    item::key(STANDINGS.into(), brand)
}

fn brand_pk(brand: &str) -> String {
    format!("BRAND#{brand}")
}

fn row_key(brand: &str, day: &str, campus: Option<&str>) -> Item {
    item::key(
        brand_pk(brand),
        &format!("ROW#{day}#{}", campus.unwrap_or("")),
    )
}

fn member_key(brand: &str, member: &str) -> Item {
    item::key(brand_pk(brand), &format!("M#{member}"))
}

fn index_sk(n: u64) -> String {
    format!("N#{n:020}")
}

#[async_trait]
impl BrandFolding for DynamoStore {
    async fn brand_cursor(&self, chain: &str) -> Result<Cursor> {
        match self.get(cursor_key(chain)).await? {
            Some(it) => from_item(it, "brand cursor"),
            None => Ok(Cursor::default()),
        }
    }

    async fn fold_brands(&self, fold: &Fold) -> Result<()> {
        for attempt in 0..TRIES {
            let (standings, members) = self.read_for_fold(fold).await?;
            let items = self.fold_items(fold, standings, &members)?;
            match self
                .client
                .transact_write_items()
                .set_transact_items(Some(items))
                .send()
                .await
            {
                Ok(_) => return Ok(()),
                Err(e) => {
                    // The cursor is the first item: if it moved, another run folded this.
                    if moved_items(e)?.first() == Some(&Some("ConditionalCheckFailed".into())) {
                        return Err(StoreError::Conflict(format!(
                            "chain {} is no longer folded to {:?}",
                            fold.chain, fold.from
                        )));
                    }
                }
            }
            pause(attempt).await;
        }
        Err(StoreError::Unavailable(format!(
            "the brand standings kept moving; chain {} was not folded",
            fold.chain
        )))
    }
}

impl DynamoStore {
    /// The cursors of every chain and the standings, as one state: DynamoDB reads no snapshot
    /// of many items, so the standings are read before and after the cursors until they agree
    /// (a fold moves a cursor and its standings in one transaction).
    pub(super) async fn stored_brands(&self) -> Result<StoredBrands> {
        let keys: Vec<Item> = self
            .chain_heads()
            .await?
            .iter()
            .map(|h| cursor_key(&h.chain))
            .collect();
        for _ in 0..TRIES {
            let standings = self.brand_standings().await?;
            let mut cursors = Vec::new();
            for it in self.batch_get(keys.clone(), None).await? {
                let chain = get_s(&it, item::PK)?
                    .trim_start_matches("BRANDCUR#")
                    .to_owned();
                cursors.push((chain, from_item(it, "brand cursor")?));
            }
            cursors.sort_by(|a: &(String, Cursor), b| a.0.cmp(&b.0));
            if self.brand_standings().await? == standings {
                return Ok(StoredBrands { cursors, standings });
            }
        }
        Err(StoreError::Unavailable(
            "the brand figures kept moving while read".into(),
        ))
    }

    /// The standings of the fold's brands and which (brand, member) markers exist, in one
    /// consistent read.
    async fn read_for_fold(
        &self,
        fold: &Fold,
    ) -> Result<(BTreeMap<String, BrandStanding>, BTreeSet<(String, String)>)> {
        let brands: BTreeSet<&str> = fold.shares.iter().map(|s| s.brand.as_str()).collect();
        let pairs: BTreeSet<(&str, &str)> = fold
            .shares
            .iter()
            .map(|s| (s.brand.as_str(), s.member.as_str()))
            .collect();
        let mut keys: Vec<Item> = brands.iter().map(|b| standing_key(b)).collect();
        keys.extend(pairs.iter().map(|(b, m)| member_key(b, m)));
        let mut standings = BTreeMap::new();
        let mut members = BTreeSet::new();
        for it in self.batch_get(keys, None).await? {
            let pk = get_s(&it, item::PK)?;
            if pk == STANDINGS {
                let st: BrandStanding = from_item(it, "brand standing")?;
                standings.insert(st.brand.clone(), st);
            } else {
                let brand = pk.strip_prefix("BRAND#").unwrap_or(pk).to_owned();
                let member = get_s(&it, item::SK)?.trim_start_matches("M#").to_owned();
                members.insert((brand, member));
            }
        }
        Ok((standings, members))
    }

    /// The transaction: the cursor (first, conditioned), each standing (conditioned on its
    /// entry count as read), the rows (added to), new member markers, the index entries.
    fn fold_items(
        &self,
        fold: &Fold,
        standings: BTreeMap<String, BrandStanding>,
        known: &BTreeSet<(String, String)>,
    ) -> Result<Vec<aws_sdk_dynamodb::types::TransactWriteItem>> {
        let cursor = self
            .put(item::to_item(&fold.to, cursor_key(&fold.chain)))
            .expression_attribute_names("#seq", "seq")
            .expression_attribute_names("#part", "part")
            .expression_attribute_values(":seq", n(fold.from.seq))
            .expression_attribute_values(":part", n(fold.from.part));
        let cursor = if fold.from == Cursor::default() {
            cursor
                .condition_expression("attribute_not_exists(pk) OR (#seq = :seq AND #part = :part)")
        } else {
            cursor.condition_expression("#seq = :seq AND #part = :part")
        };
        let mut items = vec![put_item(cursor)?];
        let applied = fold.apply(standings, |b, m| {
            known.contains(&(b.to_owned(), m.as_str().to_owned()))
        });
        for (n, sh) in &applied.index {
            let mut index = item::key(brand_pk(&sh.brand), &index_sk(*n));
            index.insert("chain".into(), s(fold.chain.as_str()));
            index.insert("seq".into(), item::n(sh.seq));
            index.insert("json".into(), s(sh.entry.as_str()));
            items.push(put_item(
                self.put(index)
                    .condition_expression("attribute_not_exists(pk)"),
            )?);
        }
        for (st, was) in &applied.standings {
            let put = self.put(item::to_item(st, standing_key(&st.brand)));
            let put = match was {
                None => put.condition_expression("attribute_not_exists(pk)"),
                Some(entries) => put
                    .condition_expression("#t.#e = :entries")
                    .expression_attribute_names("#t", "totals")
                    .expression_attribute_names("#e", "entries")
                    .expression_attribute_values(":entries", n(*entries)),
            };
            items.push(put_item(put)?);
        }
        for &((brand, day, campus), f) in &applied.rows {
            let mut up = self.update(row_key(brand, day, campus)).update_expression(
                "SET #day = :day, #campus = :campus \
                     ADD #boxes :boxes, #points :points, #co2e_g :co2e_g, #entries :entries",
            );
            for name in ["day", "campus", "boxes", "points", "co2e_g", "entries"] {
                up = up.expression_attribute_names(format!("#{name}"), name);
            }
            up = up
                .expression_attribute_values(":day", s(day))
                .expression_attribute_values(":boxes", n(f.boxes))
                .expression_attribute_values(":points", n(f.points))
                .expression_attribute_values(":co2e_g", n(f.co2e_g))
                .expression_attribute_values(":entries", n(f.entries));
            up = up.expression_attribute_values(
                ":campus",
                match campus {
                    Some(c) => s(c),
                    None => aws_sdk_dynamodb::types::AttributeValue::Null(true),
                },
            );
            items.push(update_item(up)?);
        }
        for &(brand, member) in &applied.new_members {
            items.push(put_item(
                self.put(member_key(brand, member.as_str()))
                    .condition_expression("attribute_not_exists(pk)"),
            )?);
        }
        Ok(items)
    }
}

#[async_trait]
impl BrandQueries for DynamoStore {
    async fn brand_standings(&self) -> Result<Vec<BrandStanding>> {
        self.query(self.partition_query(STANDINGS.into()), None)
            .await?
            .into_iter()
            .map(|it| from_item(it, "brand standing"))
            .collect()
    }

    async fn brand_standing(&self, brand: &str) -> Result<Option<BrandStanding>> {
        self.get(standing_key(brand))
            .await?
            .map(|it| from_item(it, "brand standing"))
            .transpose()
    }

    async fn brand_rows(&self, brand: &str) -> Result<Vec<Row>> {
        let q = self
            .partition_query(brand_pk(brand))
            .key_condition_expression("pk = :pk AND begins_with(sk, :rows)")
            .expression_attribute_values(":rows", s("ROW#"));
        self.query(q, None)
            .await?
            .iter()
            .map(|it| {
                let campus = match it.get("campus") {
                    Some(aws_sdk_dynamodb::types::AttributeValue::S(c)) => Some(c.clone()),
                    _ => None,
                };
                Ok(Row {
                    day: get_s(it, "day")?.to_owned(),
                    campus,
                    figures: Figures {
                        boxes: get_n(it, "boxes")?,
                        points: get_n(it, "points")?,
                        co2e_g: get_n(it, "co2e_g")?,
                        entries: get_n(it, "entries")?,
                    },
                })
            })
            .collect()
    }

    async fn brand_entries(
        &self,
        brand: &str,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<BrandEntry>> {
        if limit == 0 || before == Some(0) {
            return Ok(Vec::new());
        }
        let q = self
            .partition_query(brand_pk(brand))
            .key_condition_expression("pk = :pk AND sk BETWEEN :first AND :last")
            .expression_attribute_values(":first", s(index_sk(0)))
            .expression_attribute_values(":last", s(index_sk(before.map_or(u64::MAX, |b| b - 1))))
            .scan_index_forward(false);
        self.query(q, Some(limit))
            .await?
            .iter()
            .map(|it| {
                let sk = get_s(it, item::SK)?;
                let n = sk
                    .strip_prefix("N#")
                    .and_then(|d| d.parse().ok())
                    .ok_or_else(|| StoreError::Corrupt(format!("brand index key {sk}")))?;
                Ok(BrandEntry {
                    n,
                    chain: get_s(it, "chain")?.to_owned(),
                    seq: get_n(it, "seq")?,
                    entry: get_s(it, "json")?.as_bytes().to_vec(),
                })
            })
            .collect()
    }
}
