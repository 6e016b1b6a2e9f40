//! Disposition on DynamoDB: a report read for with one `BatchGetItem` and entered on its
//! station's chain as one `TransactWriteItems`, conditioned on the chain head like every append, and on the version of
//! each ticket or batch it changes (those span chains). The figures are read, never summed
//! over entries: a station's stock is one item per chain (`STOCK#<s>`, `CHAIN#<chain>`), and
//! each chain's totals are attributes of its head item (`d_*`), added to in the same writes
//! that move them.

use super::append::put_item;
use super::append::{moved_items, pause};
use super::item::n;
use super::item::{self, from_item, get_s, read_head, read_totals, s, stock_key, Item, TOTALS};
use super::DynamoStore;
use crate::store::{ChainHead, Disposed, Disposing, DispositionQueries, Result, StoreError};
use async_trait::async_trait;
use aws_sdk_dynamodb::types::TransactWriteItem;
use greenloop_core::digest::Digest;
use greenloop_core::disposition::{
    self, batch_named, mill_key, tickets_named, Disposal, DispositionEntry, Entered, Kept, Params,
    Standing, StationStock, Totals,
};
use greenloop_core::ledger::chain_for_station;
use std::collections::HashMap;

/// Tries before a report that keeps meeting moved heads gives up (503, the sender retries).
const TRIES: u32 = 8;

fn ticket_key(key: &str) -> Item {
    item::key(format!("TICKET#{key}"), "TICKET")
}

fn batch_key(key: &str) -> Item {
    item::key(format!("BATCH#{key}"), "BATCH")
}

fn school_key(school: &str) -> Item {
    item::key(format!("SCHOOL#{school}"), "SCHOOL")
}

fn disposal_key(key: &str) -> Item {
    item::key(format!("DISPOSAL#{key}"), "DISPOSAL")
}

#[async_trait]
impl Disposing for DynamoStore {
    async fn dispose(&self, d: &Disposal, params: &Params) -> Result<Disposed> {
        let chain = chain_for_station(&d.station, self.shards);
        let digest = d.digest();
        for attempt in 0..TRIES {
            let read = match self.read_for(d, &chain).await? {
                Read::Entered(kept) => return self.replay(d, &digest, kept).await,
                Read::Standing(standing) => standing,
            };
            let entered = disposition::enter(d, &read, params)?;
            let items = self.report_items(d, &read, &entered, &digest)?;
            match self
                .client
                .transact_write_items()
                .set_transact_items(Some(items))
                .send()
                .await
            {
                Ok(_) => {
                    return Ok(Disposed {
                        entry: entered.entry,
                        replay: false,
                    })
                }
                Err(e) => {
                    moved_items(e)?;
                }
            }
            // Someone appended (crediting, another report) or drew from the same ticket:
            // read again and re-enter, after a short jittered pause.
            pause(attempt).await;
        }
        Err(StoreError::Unavailable(format!(
            "chain {chain} kept moving; report {} was not entered",
            d.key()
        )))
    }
}

/// What one read for a report found: the report entered already, or what entering it needs.
enum Read {
    Entered(Kept),
    Standing(Box<Standing>),
}

impl DynamoStore {
    /// Everything a report needs, in one consistent `BatchGetItem`: its record (if it was
    /// entered before), the chain's head, the station's stock, the tickets and batch it names,
    /// and its school.
    async fn read_for(&self, d: &Disposal, chain: &str) -> Result<Read> {
        let tickets = tickets_named(&d.report);
        let batch = batch_named(&d.report);
        let school = match &d.report {
            disposition::Report::Donation { school, .. } => Some(school.as_str()),
            _ => None,
        };
        let mut keys = vec![
            disposal_key(&d.key()),
            item::head(chain),
            stock_key(&d.station, chain),
        ];
        keys.extend(tickets.iter().map(|t| ticket_key(t)));
        keys.extend(batch.iter().map(|b| batch_key(b)));
        keys.extend(school.map(school_key));
        let at = |it: &Item| -> Result<(String, String)> {
            Ok((get_s(it, "pk")?.to_owned(), get_s(it, "sk")?.to_owned()))
        };
        let mut found: HashMap<(String, String), Item> = HashMap::new();
        for it in self.batch_get(keys, None).await? {
            found.insert(at(&it)?, it);
        }
        let mut take = |key: Item| found.remove(&at(&key).ok()?);
        if let Some(it) = take(disposal_key(&d.key())) {
            return Ok(Read::Entered(from_item(it, "disposal")?));
        }
        let head = match take(item::head(chain)) {
            Some(it) => read_head(&it)?,
            None => ChainHead::empty(chain),
        };
        let stock = match take(stock_key(&d.station, chain)) {
            Some(it) => from_item(it, "station stock")?,
            None => StationStock::empty(&d.station, chain),
        };
        let tickets = tickets
            .iter()
            .map(|t| {
                take(ticket_key(t))
                    .map(|it| from_item(it, "ticket"))
                    .transpose()
            })
            .collect::<Result<_>>()?;
        let batch = batch
            .and_then(|b| take(batch_key(&b)))
            .map(|it| from_item(it, "batch"))
            .transpose()?;
        let school_known = school.is_some_and(|s| take(school_key(s)).is_some());
        Ok(Read::Standing(Box::new(Standing {
            head,
            stock,
            tickets,
            batch,
            school_known,
        })))
    }

    /// The entry a report was entered as; a conflict if it was with another body.
    async fn replay(&self, d: &Disposal, digest: &Digest, k: Kept) -> Result<Disposed> {
        if k.digest != *digest {
            return Err(StoreError::Conflict(d.key()));
        }
        let it = self
            .get(item::entry(&k.chain, k.seq))
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("report {} vanished", d.key())))?;
        let entry: DispositionEntry = serde_json::from_str(get_s(&it, "json")?)
            .map_err(|e| StoreError::Corrupt(format!("report {}: {e}", d.key())))?;
        Ok(Disposed {
            entry,
            replay: true,
        })
    }

    /// The transaction: the entry, the head (conditioned; with the totals), the station's
    /// stock, the tickets and batch (conditioned on what was read), the school, the report.
    fn report_items(
        &self,
        d: &Disposal,
        read: &Standing,
        entered: &Entered,
        digest: &Digest,
    ) -> Result<Vec<TransactWriteItem>> {
        let e = &entered.entry;
        let chain = e.chain.as_str();
        let mut entry = item::entry(chain, e.seq);
        entry.insert(
            "json".into(),
            s(String::from_utf8(e.to_json()).expect("JSON")),
        );
        let mut items = vec![put_item(
            self.put(entry)
                .condition_expression("attribute_not_exists(pk)"),
        )?];
        let new_head = ChainHead {
            chain: chain.to_owned(),
            size: e.seq + 1,
            hash: e.hash,
        };
        items.extend(self.head_items(&read.head, &new_head, &entered.totals, None)?);

        // The stock moves only with this chain's appends, all conditioned on its head.
        let stock = item::to_item(&entered.stock, stock_key(&d.station, chain));
        items.push(put_item(self.put(stock))?);

        for (t, old) in entered
            .tickets
            .iter()
            .zip(read.tickets.iter().chain(std::iter::repeat(&None)))
        {
            let put = self.put(item::to_item(t, ticket_key(&mill_key(&t.mill, &t.ticket))));
            let put = match old {
                None => put.condition_expression("attribute_not_exists(pk)"),
                Some(old) => put
                    .condition_expression("drawn_g = :drawn")
                    .expression_attribute_values(":drawn", n(old.drawn_g)),
            };
            items.push(put_item(put)?);
        }
        if let Some(b) = &entered.batch {
            let put = self.put(item::to_item(b, batch_key(&mill_key(&b.mill, &b.batch))));
            let put = match &read.batch {
                None => put.condition_expression("attribute_not_exists(pk)"),
                Some(old) => put
                    .condition_expression("donated = :donated")
                    .expression_attribute_values(":donated", n(old.donated)),
            };
            items.push(put_item(put)?);
        }
        if let disposition::Report::Donation { school, .. } = &d.report {
            if !read.school_known {
                let mut it = school_key(school);
                it.insert("school".into(), s(school.as_str()));
                items.push(put_item(
                    self.put(it)
                        .condition_expression("attribute_not_exists(pk)"),
                )?);
            }
        }
        let kept = Kept {
            digest: *digest,
            chain: chain.to_owned(),
            seq: e.seq,
        };
        items.push(put_item(
            self.put(item::to_item(&kept, disposal_key(&d.key())))
                .condition_expression("attribute_not_exists(pk)"),
        )?);
        Ok(items)
    }
}

#[async_trait]
impl DispositionQueries for DynamoStore {
    async fn station_stock(&self, station: &str) -> Result<Vec<StationStock>> {
        self.query(self.partition_query(format!("STOCK#{station}")), None)
            .await?
            .into_iter()
            .map(|it| from_item(it, "station stock"))
            .collect()
    }

    async fn disposition_totals(&self) -> Result<Vec<(String, Totals)>> {
        let listed = self
            .query(
                self.index_query(item::GSI1, item::GSI1PK, item::CHAINS_PARTITION.into()),
                None,
            )
            .await?;
        let mut keys = Vec::new();
        for it in &listed {
            keys.push(item::head(get_s(it, "chain")?));
        }
        let mut names = vec!["chain"];
        names.extend(TOTALS);
        let mut out = Vec::new();
        for it in self.batch_get(keys, Some(&names)).await? {
            out.push((get_s(&it, "chain")?.to_owned(), read_totals(&it)?));
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }
}
