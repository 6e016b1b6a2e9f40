//! Disposition on the embedded store: a report entered on its station's chain, with the
//! station's stock, the mill's tickets and batches and the chain's totals, in one redb write
//! transaction (which also serialises it with crediting's appends); and the figures, read.

use super::{decode, encode, get, EmbeddedStore, ENTRIES, HEADS};
use crate::store::{
    ChainHead, CreditBatch, Disposed, Disposing, DispositionQueries, Result, StoreError,
};
use async_trait::async_trait;
use greenloop_core::disposition::{
    self, batch_named, tickets_named, Disposal, DispositionEntry, Kept, Params, Standing,
    StationStock, Totals,
};
use greenloop_core::ledger::chain_for_station;
use redb::{ReadableTable, TableDefinition};

/// (station, chain) → [`StationStock`].
pub(super) const STOCKS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("stocks");
/// chain → [`Totals`].
pub(super) const TOTALS: TableDefinition<&str, &[u8]> = TableDefinition::new("disposition_totals");
/// `mill/ticket` → [`disposition::Ticket`].
const TICKETS: TableDefinition<&str, &[u8]> = TableDefinition::new("tickets");
/// `mill/batch` → [`disposition::Batch`].
const BATCHES: TableDefinition<&str, &[u8]> = TableDefinition::new("batches");
/// Schools given workbooks, each once.
const SCHOOLS: TableDefinition<&str, ()> = TableDefinition::new("schools");
/// `integration/id` → where the report was entered, and the digest of its body.
const DISPOSALS: TableDefinition<&str, &[u8]> = TableDefinition::new("disposals");

/// Every table of this module, created when the store opens.
pub(super) fn create(txn: &redb::WriteTransaction) -> Result<()> {
    txn.open_table(STOCKS)?;
    for t in [TOTALS, TICKETS, BATCHES, DISPOSALS] {
        txn.open_table(t)?;
    }
    txn.open_table(SCHOOLS)?;
    Ok(())
}

#[async_trait]
impl Disposing for EmbeddedStore {
    async fn dispose(&self, d: &Disposal, params: &Params) -> Result<Disposed> {
        let chain = chain_for_station(&d.station, self.shards);
        let digest = d.digest();
        self.write(|txn| -> Result<Disposed> {
            let mut kept = txn.open_table(DISPOSALS)?;
            if let Some(k) = get::<Kept>(&kept, &d.key())? {
                if k.digest != digest {
                    return Err(StoreError::Conflict(d.key()));
                }
                let entries = txn.open_table(ENTRIES)?;
                let bytes = entries
                    .get((k.chain.as_str(), k.seq))?
                    .ok_or_else(|| StoreError::Corrupt(format!("report {} vanished", d.key())))?;
                let entry: DispositionEntry = decode(bytes.value())?;
                return Ok(Disposed {
                    entry,
                    replay: true,
                });
            }
            let mut heads = txn.open_table(HEADS)?;
            let mut stocks = txn.open_table(STOCKS)?;
            let mut tickets = txn.open_table(TICKETS)?;
            let mut batches = txn.open_table(BATCHES)?;
            let mut schools = txn.open_table(SCHOOLS)?;
            let head: ChainHead = get(&heads, &chain)?.unwrap_or_else(|| ChainHead::empty(&chain));
            let stock = match stocks.get((d.station.as_str(), chain.as_str()))? {
                Some(v) => decode(v.value())?,
                None => StationStock::empty(&d.station, &chain),
            };
            let mut named = Vec::new();
            for key in tickets_named(&d.report) {
                named.push(get(&tickets, &key)?);
            }
            let batch = match batch_named(&d.report) {
                Some(key) => get(&batches, &key)?,
                None => None,
            };
            let school_known = match &d.report {
                disposition::Report::Donation { school, .. } => {
                    schools.get(school.as_str())?.is_some()
                }
                _ => false,
            };
            let standing = Standing {
                head,
                stock,
                tickets: named,
                batch,
                school_known,
            };
            let entered = disposition::enter(d, &standing, params)?;
            let e = &entered.entry;
            let mut entries = txn.open_table(ENTRIES)?;
            if entries
                .insert((chain.as_str(), e.seq), e.to_json().as_slice())?
                .is_some()
            {
                return Err(StoreError::Corrupt(format!(
                    "chain {chain} seq {} is taken",
                    e.seq
                )));
            }
            let new_head = ChainHead {
                chain: chain.clone(),
                size: e.seq + 1,
                hash: e.hash,
            };
            heads.insert(chain.as_str(), encode(&new_head).as_slice())?;
            stocks.insert(
                (d.station.as_str(), chain.as_str()),
                encode(&entered.stock).as_slice(),
            )?;
            for t in &entered.tickets {
                let key = disposition::mill_key(&t.mill, &t.ticket);
                tickets.insert(key.as_str(), encode(t).as_slice())?;
            }
            if let Some(b) = &entered.batch {
                let key = disposition::mill_key(&b.mill, &b.batch);
                batches.insert(key.as_str(), encode(b).as_slice())?;
            }
            if let disposition::Report::Donation { school, .. } = &d.report {
                schools.insert(school.as_str(), ())?;
            }
            add_totals(txn, &chain, &entered.totals)?;
            let k = Kept {
                digest,
                chain: chain.clone(),
                seq: e.seq,
            };
            kept.insert(d.key().as_str(), encode(&k).as_slice())?;
            Ok(Disposed {
                entry: entered.entry,
                replay: false,
            })
        })
    }
}

/// Adds to a chain's disposition totals.
pub(super) fn add_totals(txn: &redb::WriteTransaction, chain: &str, delta: &Totals) -> Result<()> {
    let mut totals = txn.open_table(TOTALS)?;
    let mut t: Totals = get(&totals, chain)?.unwrap_or_default();
    t.add(delta);
    totals.insert(chain, encode(&t).as_slice())?;
    Ok(())
}

/// Crediting's part: boxes of accepted drop-offs, added to each station's stock on `chain` and
/// to the chain's totals.
pub(super) fn collect(txn: &redb::WriteTransaction, batch: &CreditBatch) -> Result<()> {
    if batch.collected.is_empty() {
        return Ok(());
    }
    let chain = batch.expected.chain.as_str();
    let mut stocks = txn.open_table(STOCKS)?;
    for (station, boxes) in &batch.collected {
        let key = (station.as_str(), chain);
        let mut s: StationStock = match stocks.get(key)? {
            Some(v) => decode(v.value())?,
            None => StationStock::empty(station, chain),
        };
        s.collected += boxes;
        stocks.insert(key, encode(&s).as_slice())?;
    }
    drop(stocks);
    add_totals(
        txn,
        chain,
        &Totals {
            collected: batch.collected_boxes(),
            ..Totals::default()
        },
    )
}

#[async_trait]
impl DispositionQueries for EmbeddedStore {
    async fn station_stock(&self, station: &str) -> Result<Vec<StationStock>> {
        let txn = self.read()?;
        let t = txn.open_table(STOCKS)?;
        let mut out = Vec::new();
        for row in t.range((station, "")..)? {
            let (k, v) = row?;
            if k.value().0 != station {
                break;
            }
            out.push(decode(v.value())?);
        }
        Ok(out)
    }

    async fn disposition_totals(&self) -> Result<Vec<(String, Totals)>> {
        let txn = self.read()?;
        let t = txn.open_table(TOTALS)?;
        let mut out = Vec::new();
        for row in t.iter()? {
            let (k, v) = row?;
            out.push((k.value().to_owned(), decode(v.value())?));
        }
        Ok(out)
    }
}
