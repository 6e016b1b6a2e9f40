//! The embedded store: one redb file, `greenloop.redb`, in the data directory.
//!
//! redb gives serializable write transactions, so an append checks the chain head, the accounts
//! and the actions' status and writes everything in one transaction, or nothing. Values are JSON;
//! entries are kept exactly as their canonical bytes, which is also the export format.
//!
//! Calls do their (short, local) I/O inline on the calling task.

use super::{
    action_digest, completion, key_exists, Account, ActionRecord, ActionStatus, ApiKey,
    AppendError, CampusTotals, ChainHead, Completion, Grant, LedgerSource, Recorded, Result,
    StoreError,
};
use crate::store::{Campuses, Directory, Intake, Members, Registry};
use async_trait::async_trait;
use greenloop_core::catalog::Catalog;
use greenloop_core::checkpoint::SignedCheckpoint;
use greenloop_core::domain::{Action, ActionKind, Campus, MemberId, Station};
use greenloop_core::factors::FactorTable;
use greenloop_core::rulebook::Rulebook;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

mod brands;
mod campus;
mod checkpoints;
mod crediting;
mod disposition;
mod pseudonyms;
mod quarantine;
pub use checkpoints::TREE;

/// The database file inside a data directory.
pub const FILE_NAME: &str = "greenloop.redb";

/// Ledger entries by (chain, seq), as canonical JSON bytes. Public so that tests can tamper with
/// the file the way an attacker with disk access would.
pub const ENTRIES: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("entries");
const HEADS: TableDefinition<&str, &[u8]> = TableDefinition::new("heads");
const ACTIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("actions");
const PENDING: TableDefinition<u64, &str> = TableDefinition::new("pending");
const ACCOUNTS: TableDefinition<&str, &[u8]> = TableDefinition::new("accounts");
/// Per-day campus totals by (campus, day).
const CAMPUS_DAYS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("campus_days");
/// Each member's entries in order: (member, n) → (chain, seq).
const MEMBER_LOG: TableDefinition<(&str, u64), (&str, u64)> = TableDefinition::new("member_log");
/// API key records ([`super::ApiKey`]) by key id. (The `api_keys` table of earlier versions,
/// grants by the hash of a key without an id, is no longer read: such keys must be minted again.)
const KEYS: TableDefinition<&str, &[u8]> = TableDefinition::new("api_key_records");
const CAMPUSES: TableDefinition<&str, &[u8]> = TableDefinition::new("campuses");
const STATIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("stations");
const RULES: TableDefinition<&str, &[u8]> = TableDefinition::new("rules");
/// The factor table in force for crediting, under [`IN_FORCE_FACTORS`].
const IN_FORCE: TableDefinition<&str, &[u8]> = TableDefinition::new("in_force");
const IN_FORCE_FACTORS: &str = "factors";
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
/// Quarantined actions by id, as JSON [`super::Quarantined`].
const QUARANTINE: TableDefinition<&str, &[u8]> = TableDefinition::new("quarantine");

/// The largest value an item may have here: DynamoDB's item size limit, so that what one store
/// refuses the other refuses too (only accounts can grow towards it).
pub const MAX_ITEM_BYTES: usize = 400 * 1024;

/// An action as kept here: the record, plus its key in `PENDING` and when it entered the
/// queue (Unix milliseconds) while it waits.
#[derive(Serialize, Deserialize)]
pub(super) struct Kept {
    record: ActionRecord,
    pending: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    queued_ms: Option<i64>,
}

/// What can be read of a kept action whose action cannot: its status and where it waits.
#[derive(Deserialize)]
struct Bare {
    record: BareRecord,
    pending: Option<u64>,
}

#[derive(Deserialize)]
struct BareRecord {
    status: Option<ActionStatus>,
}

/// A kept action, or [`StoreError::Unreadable`] with what could be read of its status.
fn read_kept(id: &str, bytes: &[u8]) -> Result<Kept> {
    serde_json::from_slice::<Kept>(bytes).map_err(|e| StoreError::Unreadable {
        id: id.to_owned(),
        status: serde_json::from_slice::<Bare>(bytes)
            .ok()
            .and_then(|b| b.record.status),
        error: e.to_string(),
    })
}

fn get_kept(t: &impl ReadableTable<&'static str, &'static [u8]>, id: &str) -> Result<Option<Kept>> {
    t.get(id)?.map(|v| read_kept(id, v.value())).transpose()
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

pub struct EmbeddedStore {
    db: Database,
    path: PathBuf,
    /// When false, commits skip fsync until [`EmbeddedStore::flush`] (bulk loading).
    durable: AtomicBool,
    /// Claims on chains, by chain: holder and until when. Only one process opens the file, so
    /// they need not outlive it.
    claims: std::sync::Mutex<std::collections::HashMap<String, (String, i64)>>,
    /// Chains its stations spread over, for disposition reports, which intake enters itself.
    shards: u32,
}

impl EmbeddedStore {
    /// Opens the store in `dir`, creating the directory and the file if needed.
    pub fn open(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| {
            StoreError::Unavailable(format!(
                "cannot create data directory {}: {e}",
                dir.display()
            ))
        })?;
        Self::at(dir.join(FILE_NAME), |p| Database::create(p))
    }

    /// Opens an existing store in `dir`; a missing file is an error, not a new empty ledger.
    pub fn open_existing(dir: &Path) -> Result<Self> {
        let path = dir.join(FILE_NAME);
        if !path.is_file() {
            return Err(StoreError::NotFound(format!("database {}", path.display())));
        }
        Self::at(path, |p| Database::open(p))
    }

    fn at(path: PathBuf, open: fn(&Path) -> Result<Database, redb::DatabaseError>) -> Result<Self> {
        let db = open(&path).map_err(|e| match e {
            redb::DatabaseError::DatabaseAlreadyOpen => {
                StoreError::Unavailable(format!("{} is in use by another process", path.display()))
            }
            redb::DatabaseError::Storage(redb::StorageError::Io(io))
                if io.kind() != std::io::ErrorKind::InvalidData =>
            {
                StoreError::Unavailable(format!("{}: {io}", path.display()))
            }
            other => StoreError::Corrupt(format!("{}: {other}", path.display())),
        })?;
        let store = EmbeddedStore {
            db,
            path,
            durable: AtomicBool::new(true),
            claims: Default::default(),
            shards: greenloop_core::ledger::DEFAULT_SHARDS,
        };
        store.write(|txn| -> Result<()> {
            txn.open_table(ENTRIES)?;
            for t in [
                HEADS,
                ACTIONS,
                ACCOUNTS,
                CAMPUSES,
                STATIONS,
                RULES,
                IN_FORCE,
                KEYS,
                campus::RANKING,
            ] {
                txn.open_table(t)?;
            }
            txn.open_table(CAMPUS_DAYS)?;
            txn.open_table(MEMBER_LOG)?;
            txn.open_table(PENDING)?;
            txn.open_table(META)?;
            txn.open_table(QUARANTINE)?;
            txn.open_table(checkpoints::CHECKPOINTS)?;
            txn.open_table(checkpoints::LOG)?;
            txn.open_table(TREE)?;
            txn.open_table(campus::BOARD)?;
            disposition::create(txn)?;
            pseudonyms::create(txn)?;
            brands::create(txn)?;
            campus::index_boards(txn)
        })?;
        Ok(store)
    }

    /// The same store, entering disposition reports over `shards` chains
    /// (`GREENLOOP_SHARDS`), as crediting spreads the stations' actions.
    pub fn with_shards(mut self, shards: u32) -> Self {
        self.shards = shards.max(1);
        self
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bulk mode for simulations and imports: commits stay atomic but are not fsynced, so a
    /// crash may lose the latest commits, whole, never half of one. Turning it off flushes.
    pub fn set_bulk(&self, bulk: bool) -> Result<()> {
        self.durable.store(!bulk, Ordering::SeqCst);
        if !bulk {
            self.write(|_| -> Result<()> { Ok(()) })?;
        }
        Ok(())
    }

    /// Runs `f` in a write transaction; commits only if it returns `Ok`.
    fn write<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&redb::WriteTransaction) -> Result<T, E>,
    ) -> Result<T, E> {
        let mut txn = self.db.begin_write().map_err(StoreError::from)?;
        if !self.durable.load(Ordering::SeqCst) {
            txn.set_durability(redb::Durability::None)
                .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        }
        let out = f(&txn)?;
        txn.commit().map_err(StoreError::from)?;
        Ok(out)
    }

    fn read(&self) -> Result<redb::ReadTransaction> {
        Ok(self.db.begin_read()?)
    }

    fn get_json<T: DeserializeOwned>(
        &self,
        table: TableDefinition<&str, &[u8]>,
        key: &str,
    ) -> Result<Option<T>> {
        let txn = self.read()?;
        let t = txn.open_table(table)?;
        let v = t.get(key)?;
        v.map(|v| decode(v.value())).transpose()
    }

    fn all_json<T: DeserializeOwned>(&self, table: TableDefinition<&str, &[u8]>) -> Result<Vec<T>> {
        let txn = self.read()?;
        let t = txn.open_table(table)?;
        let mut out = Vec::new();
        for row in t.iter()? {
            let (_, v) = row?;
            out.push(decode(v.value())?);
        }
        Ok(out)
    }

    fn put_json<T: Serialize>(
        &self,
        table: TableDefinition<&str, &[u8]>,
        key: &str,
        value: &T,
    ) -> Result<()> {
        self.write(|txn| -> Result<()> {
            txn.open_table(table)?
                .insert(key, encode(value).as_slice())?;
            Ok(())
        })
    }
}

fn db_err(e: impl Into<redb::Error>) -> StoreError {
    match e.into() {
        redb::Error::Corrupted(m) => StoreError::Corrupt(m),
        other => StoreError::Unavailable(other.to_string()),
    }
}

fn encode<T: Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).expect("store records serialize")
}

fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes)
        .map_err(|e| StoreError::Corrupt(format!("unreadable record: {e}")))
}

fn get<T: DeserializeOwned>(
    t: &impl ReadableTable<&'static str, &'static [u8]>,
    key: &str,
) -> Result<Option<T>> {
    t.get(key)?.map(|v| decode(v.value())).transpose()
}

#[async_trait]
impl LedgerSource for EmbeddedStore {
    async fn stored_disposition_totals(
        &self,
    ) -> Result<Option<Vec<(String, greenloop_core::disposition::Totals)>>> {
        Ok(Some(
            crate::store::DispositionQueries::disposition_totals(self).await?,
        ))
    }

    async fn stored_brand_figures(&self) -> Result<Option<crate::store::StoredBrands>> {
        brands::stored(self).map(Some)
    }

    async fn catalog(&self) -> Result<Catalog> {
        let mut catalog = Catalog::builtin();
        let txn = self.read()?;
        let t = txn.open_table(RULES)?;
        for row in t.iter()? {
            let (k, v) = row?;
            let text =
                std::str::from_utf8(v.value()).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            if k.value().starts_with("rulebook/") {
                catalog.add_rulebook(Rulebook::from_json(text)?)?;
            } else {
                catalog.add_factors(FactorTable::from_json(text)?)?;
            }
        }
        Ok(catalog)
    }

    async fn chain_heads(&self) -> Result<Vec<ChainHead>> {
        self.all_json(HEADS)
    }

    async fn entries(&self, chain: &str, from_seq: u64, limit: usize) -> Result<Vec<Vec<u8>>> {
        let txn = self.read()?;
        let t = txn.open_table(ENTRIES)?;
        let mut out = Vec::new();
        for row in t.range((chain, from_seq)..=(chain, u64::MAX))?.take(limit) {
            out.push(row?.1.value().to_vec());
        }
        Ok(out)
    }

    async fn account_page(&self, after: Option<&MemberId>, limit: usize) -> Result<Vec<Account>> {
        let txn = self.read()?;
        let t = txn.open_table(ACCOUNTS)?;
        let rows = match after {
            Some(m) => t.range::<&str>((
                std::ops::Bound::Excluded(m.as_str()),
                std::ops::Bound::Unbounded,
            )),
            None => t.range::<&str>(..),
        }?;
        let mut out = Vec::new();
        for row in rows.take(limit) {
            out.push(decode(row?.1.value())?);
        }
        Ok(out)
    }

    async fn campus_totals(&self) -> Result<Vec<CampusTotals>> {
        let txn = self.read()?;
        let t = txn.open_table(CAMPUS_DAYS)?;
        let mut days = Vec::new();
        for row in t.iter()? {
            days.push(decode(row?.1.value())?);
        }
        Ok(CampusTotals::sum(&days))
    }

    async fn checkpoints(&self, chain: &str) -> Result<Vec<SignedCheckpoint>> {
        self.checkpoint_page(chain, None, usize::MAX).await
    }

    async fn checkpoint_page(
        &self,
        chain: &str,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<SignedCheckpoint>> {
        use std::ops::Bound::{Excluded, Included};
        if after == Some(u64::MAX) || limit == 0 {
            return Ok(Vec::new());
        }
        let txn = self.read()?;
        let t = txn.open_table(checkpoints::CHECKPOINTS)?;
        let start = match after {
            Some(size) => Excluded((chain, size)),
            None => Included((chain, 0)),
        };
        let mut out = Vec::new();
        for row in t.range((start, Included((chain, u64::MAX))))?.take(limit) {
            out.push(decode(row?.1.value())?);
        }
        Ok(out)
    }

    async fn backlog(&self) -> Result<Option<super::Backlog>> {
        self.backlog_now().map(Some)
    }

    async fn chain_head(&self, chain: &str) -> Result<ChainHead> {
        Ok(self
            .get_json(HEADS, chain)?
            .unwrap_or_else(|| ChainHead::empty(chain)))
    }
}

#[async_trait]
impl Campuses for EmbeddedStore {
    async fn campuses(&self) -> Result<Vec<Campus>> {
        self.all_json(CAMPUSES)
    }
}

#[async_trait]
impl Directory for EmbeddedStore {
    async fn station(&self, id: &str) -> Result<Option<Station>> {
        self.get_json(STATIONS, id)
    }

    async fn api_key(&self, id: &str) -> Result<Option<ApiKey>> {
        self.get_json(KEYS, id)
    }
}

#[async_trait]
impl Registry for EmbeddedStore {
    async fn put_campus(&self, campus: &Campus) -> Result<()> {
        greenloop_core::domain::check_id("campus", &campus.id)?;
        self.put_json(CAMPUSES, &campus.id, campus)
    }

    async fn put_station(&self, station: &Station) -> Result<()> {
        station.validate()?;
        self.put_json(STATIONS, &station.id, station)
    }

    async fn put_api_key(&self, key: &ApiKey) -> Result<()> {
        key.validate()?;
        self.write(|txn| -> Result<()> {
            if let Grant::Campus { campus } = &key.grant {
                if txn.open_table(CAMPUSES)?.get(campus.as_str())?.is_none() {
                    return Err(StoreError::NotFound(format!("campus {campus}")));
                }
            }
            let mut keys = txn.open_table(KEYS)?;
            if keys.get(key.id.as_str())?.is_some() {
                return Err(key_exists(&key.id));
            }
            keys.insert(key.id.as_str(), encode(key).as_slice())?;
            Ok(())
        })
    }

    async fn revoke_api_key(&self, id: &str, at: i64) -> Result<ApiKey> {
        self.write(|txn| -> Result<ApiKey> {
            let mut keys = txn.open_table(KEYS)?;
            let mut key: ApiKey =
                get(&keys, id)?.ok_or_else(|| StoreError::NotFound(format!("API key {id}")))?;
            if key.revoked_at.is_none() {
                key.revoked_at = Some(at);
                keys.insert(id, encode(&key).as_slice())?;
            }
            Ok(key)
        })
    }

    async fn api_keys(&self) -> Result<Vec<ApiKey>> {
        self.all_json(KEYS)
    }
}

#[async_trait]
impl Intake for EmbeddedStore {
    async fn record_action(&self, action: &Action) -> Result<Recorded> {
        action.validate()?;
        let digest = action_digest(action);
        let key = action.key();
        self.write(|txn| -> Result<Recorded> {
            let mut actions = txn.open_table(ACTIONS)?;
            if let Some(kept) = get_kept(&actions, &key)? {
                if kept.record.digest != digest {
                    return Err(StoreError::Conflict(key.clone()));
                }
                return Ok(Recorded {
                    record: kept.record,
                    replay: true,
                });
            }
            let booking = action.kind == ActionKind::Pickup && action.items.is_empty();
            let (status, pending) = if booking {
                (ActionStatus::Booked, None)
            } else {
                (ActionStatus::Pending, Some(enqueue(txn, &key)?))
            };
            let record = ActionRecord {
                action: action.clone(),
                digest,
                status,
            };
            actions.insert(
                key.as_str(),
                encode(&Kept {
                    record: record.clone(),
                    pending,
                    queued_ms: pending.map(|_| now_ms()),
                })
                .as_slice(),
            )?;
            Ok(Recorded {
                record,
                replay: false,
            })
        })
    }

    async fn complete_pickup(&self, id: &str, clothing_g: u64, at: i64) -> Result<Recorded> {
        self.write(|txn| -> Result<Recorded> {
            let mut actions = txn.open_table(ACTIONS)?;
            let mut kept = get_kept(&actions, id)?
                .ok_or_else(|| StoreError::NotFound(format!("appointment {id}")))?;
            let done = match completion(&kept.record, id, clothing_g, at)? {
                Completion::Replay => {
                    return Ok(Recorded {
                        record: kept.record,
                        replay: true,
                    })
                }
                Completion::Complete(done) => done,
            };
            kept.record.action = done;
            kept.record.status = ActionStatus::Pending;
            kept.pending = Some(enqueue(txn, id)?);
            kept.queued_ms = Some(now_ms());
            actions.insert(id, encode(&kept).as_slice())?;
            Ok(Recorded {
                record: kept.record,
                replay: false,
            })
        })
    }

    async fn action(&self, id: &str) -> Result<Option<ActionRecord>> {
        let txn = self.read()?;
        Ok(get_kept(&txn.open_table(ACTIONS)?, id)?.map(|k| k.record))
    }
}

#[async_trait]
impl Members for EmbeddedStore {
    async fn accounts(&self, members: &[MemberId]) -> Result<Vec<Account>> {
        let txn = self.read()?;
        let t = txn.open_table(ACCOUNTS)?;
        members
            .iter()
            .map(|m| Ok(get(&t, m.as_str())?.unwrap_or_else(|| Account::new(m.clone()))))
            .collect()
    }

    async fn member_entries(
        &self,
        member: &MemberId,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<(u64, Vec<u8>)>> {
        use std::ops::Bound::{Excluded, Included};
        if before == Some(0) || limit == 0 {
            return Ok(Vec::new());
        }
        let txn = self.read()?;
        let log = txn.open_table(MEMBER_LOG)?;
        let entries = txn.open_table(ENTRIES)?;
        let m = member.as_str();
        let end = match before {
            Some(n) => Excluded((m, n)),
            None => Included((m, u64::MAX)),
        };
        let mut out = Vec::new();
        for row in log.range((Included((m, 0)), end))?.rev().take(limit) {
            let (key, place) = row?;
            let (chain, seq) = place.value();
            let e = entries.get((chain, seq))?.ok_or_else(|| {
                StoreError::Corrupt(format!("member log points at missing {chain}/{seq}"))
            })?;
            out.push((key.value().1, e.value().to_vec()));
        }
        Ok(out)
    }
}

/// Puts an action id at the back of the pending queue and returns its key.
fn enqueue(txn: &redb::WriteTransaction, id: &str) -> Result<u64> {
    let mut meta = txn.open_table(META)?;
    let key = meta.get("pending_next")?.map_or(0, |v| v.value());
    meta.insert("pending_next", key + 1)?;
    txn.open_table(PENDING)?.insert(key, id)?;
    Ok(key)
}

/// redb's errors, so that `?` reads them as the store's: `Corrupted` is corrupt data, anything
/// else an unavailable store. Appends take them too.
macro_rules! from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> Self {
                db_err(e)
            }
        }
        impl From<$t> for AppendError {
            fn from(e: $t) -> Self {
                AppendError::Store(db_err(e))
            }
        }
    )*};
}

from_redb!(
    redb::Error,
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);
