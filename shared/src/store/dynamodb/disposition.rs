//! Disposition on DynamoDB: a report entered on its station's chain as one
//! `TransactWriteItems`, conditioned on the chain head like every append, and on the version of
//! each ticket or batch it changes (those span chains). The figures are read, never summed
//! over entries: a station's stock is one item per chain (`STOCK#<s>`, `CHAIN#<chain>`), and
//! each chain's totals are attributes of its head item (`d_*`), added to in the same writes
//! that move them.

use super::append::{put_item, update_item};
use super::item::n;
use super::item::{
    self, add_totals, from_item, get_s, read_head, read_totals, s, stock_key, Item, TOTALS,
};
use super::{sdk_err, DynamoStore};
use crate::store::{ChainHead, Disposed, Disposing, DispositionQueries, Result, StoreError};
use async_trait::async_trait;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{Put, TransactWriteItem, Update};
use greenloop_core::digest::Digest;
use greenloop_core::disposition::{
    self, batch_named, mill_key, tickets_named, Disposal, DispositionEntry, Entered, Kept, Params,
    Standing, StationStock, Totals,
};
use greenloop_core::ledger::chain_for_station;
use std::time::Duration;

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
            if let Some(replay) = self.replay(d, &digest).await? {
                return Ok(replay);
            }
            let standing = self.standing(d, &chain).await?;
            let fresh = (
                standing.tickets.clone(),
                standing.batch.clone(),
                standing.school_known,
            );
            let expected = standing.head.clone();
            let entered = disposition::enter(d, standing, params)?;
            let items = self.report_items(d, &expected, &entered, fresh, &digest)?;
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
                    let moved = matches!(
                        e.as_service_error(),
                        Some(TransactWriteItemsError::TransactionCanceledException(c))
                            if c.cancellation_reasons().iter().any(|r| matches!(
                                r.code(),
                                Some("ConditionalCheckFailed" | "TransactionConflict")
                            ))
                    );
                    if !moved {
                        return Err(sdk_err(e));
                    }
                }
            }
            // Someone appended (crediting, another report) or drew from the same ticket:
            // read again and re-enter, after a short jittered pause.
            let ceiling = Duration::from_millis(5u64 << attempt.min(6));
            tokio::time::sleep(ceiling.mul_f64(0.5 + rand::random::<f64>() / 2.0)).await;
        }
        Err(StoreError::Unavailable(format!(
            "chain {chain} kept moving; report {} was not entered",
            d.key()
        )))
    }
}

impl DynamoStore {
    /// The entry a report with this key was entered as, if it was; a conflict if with another
    /// body.
    async fn replay(&self, d: &Disposal, digest: &Digest) -> Result<Option<Disposed>> {
        let Some(it) = self.get(disposal_key(&d.key())).await? else {
            return Ok(None);
        };
        let k: Kept = from_item(it, "disposal")?;
        if k.digest != *digest {
            return Err(StoreError::Conflict(d.key()));
        }
        let it = self
            .get(item::entry(&k.chain, k.seq))
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("report {} vanished", d.key())))?;
        let entry: DispositionEntry = serde_json::from_str(get_s(&it, "json")?)
            .map_err(|e| StoreError::Corrupt(format!("report {}: {e}", d.key())))?;
        Ok(Some(Disposed {
            entry,
            replay: true,
        }))
    }

    /// What entering the report needs, each read consistently.
    async fn standing(&self, d: &Disposal, chain: &str) -> Result<Standing> {
        let head = match self.get(item::head(chain)).await? {
            Some(it) => read_head(&it)?,
            None => ChainHead::empty(chain),
        };
        let stock = match self.get(stock_key(&d.station, chain)).await? {
            Some(it) => from_item(it, "station stock")?,
            None => StationStock::empty(&d.station, chain),
        };
        let mut tickets = Vec::new();
        for key in tickets_named(&d.report) {
            tickets.push(match self.get(ticket_key(&key)).await? {
                Some(it) => Some(from_item(it, "ticket")?),
                None => None,
            });
        }
        let batch = match batch_named(&d.report) {
            Some(key) => match self.get(batch_key(&key)).await? {
                Some(it) => Some(from_item(it, "batch")?),
                None => None,
            },
            None => None,
        };
        let school_known = match &d.report {
            disposition::Report::Donation { school, .. } => {
                self.get(school_key(school)).await?.is_some()
            }
            _ => false,
        };
        Ok(Standing {
            head,
            stock,
            tickets,
            batch,
            school_known,
        })
    }

    /// The transaction: the entry, the head (conditioned; with the totals), the station's
    /// stock, the tickets and batch (conditioned on what was read), the school, the report.
    fn report_items(
        &self,
        d: &Disposal,
        expected: &ChainHead,
        entered: &Entered,
        (tickets_read, batch_read, school_known): (
            Vec<Option<disposition::Ticket>>,
            Option<disposition::Batch>,
            bool,
        ),
        digest: &Digest,
    ) -> Result<Vec<TransactWriteItem>> {
        let e = &entered.entry;
        let chain = e.chain.as_str();
        let mut items = Vec::new();
        let mut entry = item::entry(chain, e.seq);
        entry.insert(
            "json".into(),
            s(String::from_utf8(e.to_json()).expect("JSON")),
        );
        items.push(put_item(
            self.put_item_builder(entry)
                .condition_expression("attribute_not_exists(pk)"),
        )?);

        let head = Update::builder()
            .table_name(&self.table)
            .set_key(Some(item::head(chain)))
            .expression_attribute_names("#chain", "chain")
            .expression_attribute_names("#size", "size")
            .expression_attribute_names("#hash", "hash")
            .expression_attribute_values(":chain", s(chain))
            .expression_attribute_values(":new_size", n(e.seq + 1))
            .expression_attribute_values(":new_hash", s(e.hash.to_string()));
        let (mut head, adds) = add_totals(head, &entered.totals);
        head = head.update_expression(format!(
            "SET #chain = :chain, #size = :new_size, #hash = :new_hash{adds}"
        ));
        head = if expected.size == 0 {
            head.condition_expression("attribute_not_exists(#size)")
        } else {
            head.condition_expression("#size = :size AND #hash = :hash")
                .expression_attribute_values(":size", n(expected.size))
                .expression_attribute_values(":hash", s(expected.hash.to_string()))
        };
        items.push(update_item(head)?);
        if expected.size == 0 {
            items.push(put_item(
                self.put_item_builder(item::chain_listing(chain))
                    .condition_expression("attribute_not_exists(pk)"),
            )?);
        }

        // The stock moves only with this chain's appends, all conditioned on its head.
        let stock = item::to_item(&entered.stock, stock_key(&d.station, chain));
        items.push(put_item(self.put_item_builder(stock))?);

        for (t, read) in entered
            .tickets
            .iter()
            .zip(tickets_read.into_iter().chain(std::iter::repeat(None)))
        {
            let it = item::to_item(t, ticket_key(&mill_key(&t.mill, &t.ticket)));
            let put = match read {
                None => self
                    .put_item_builder(it)
                    .condition_expression("attribute_not_exists(pk)"),
                Some(old) => self
                    .put_item_builder(it)
                    .condition_expression("drawn_g = :drawn")
                    .expression_attribute_values(":drawn", n(old.drawn_g)),
            };
            items.push(put_item(put)?);
        }
        if let Some(b) = &entered.batch {
            let it = item::to_item(b, batch_key(&mill_key(&b.mill, &b.batch)));
            let put = match &batch_read {
                None => self
                    .put_item_builder(it)
                    .condition_expression("attribute_not_exists(pk)"),
                Some(old) => self
                    .put_item_builder(it)
                    .condition_expression("donated = :donated")
                    .expression_attribute_values(":donated", n(old.donated)),
            };
            items.push(put_item(put)?);
        }
        if let disposition::Report::Donation { school, .. } = &d.report {
            if !school_known {
                let mut it = school_key(school);
                it.insert("school".into(), s(school.as_str()));
                items.push(put_item(
                    self.put_item_builder(it)
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
            self.put_item_builder(item::to_item(&kept, disposal_key(&d.key())))
                .condition_expression("attribute_not_exists(pk)"),
        )?);
        Ok(items)
    }

    fn put_item_builder(&self, it: Item) -> aws_sdk_dynamodb::types::builders::PutBuilder {
        Put::builder().table_name(&self.table).set_item(Some(it))
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
