//! The embedded store's checkpoints and tree nodes: two redb tables beside the entries.

use super::{decode, encode, EmbeddedStore, ENTRIES};
use crate::store::CheckpointWrites;
use crate::store::{stored_hash, CheckpointStore, Result, StoreError};
use async_trait::async_trait;
use greenloop_core::checkpoint::{keep_latest, SignedCheckpoint};
use greenloop_core::ledger::Digest;
use greenloop_core::merkle::frontier::Node;
use redb::{ReadableTable, TableDefinition};
use std::collections::HashMap;

/// Signed checkpoints by (chain, size), as JSON.
pub(super) const CHECKPOINTS: TableDefinition<(&str, u64), &[u8]> =
    TableDefinition::new("checkpoints");
/// The log's latest checkpoints, under [`LATEST`], as one JSON list.
pub(super) const LOG: TableDefinition<&str, &[u8]> = TableDefinition::new("log");
const LATEST: &str = "latest";
/// Tree nodes by (chain, level, index): 32 bytes each. Public so that tests can tamper.
pub const TREE: TableDefinition<(&str, u32, u64), &[u8]> = TableDefinition::new("tree");

#[async_trait]
impl CheckpointStore for EmbeddedStore {
    async fn checkpoint(&self, chain: &str, size: Option<u64>) -> Result<Option<SignedCheckpoint>> {
        let txn = self.read()?;
        let t = txn.open_table(CHECKPOINTS)?;
        let row = match size {
            Some(size) => t.get((chain, size))?,
            None => match t.range((chain, 0)..=(chain, u64::MAX))?.next_back() {
                Some(row) => Some(row?.1),
                None => None,
            },
        };
        row.map(|v| decode(v.value())).transpose()
    }

    async fn log_checkpoints(&self) -> Result<Vec<SignedCheckpoint>> {
        Ok(self.get_json(LOG, LATEST)?.unwrap_or_default())
    }

    async fn tree_nodes(
        &self,
        chain: &str,
        keys: &[(u32, u64)],
    ) -> Result<HashMap<(u32, u64), Digest>> {
        let txn = self.read()?;
        let (tree, entries) = (txn.open_table(TREE)?, txn.open_table(ENTRIES)?);
        let mut out = HashMap::with_capacity(keys.len());
        for &(level, index) in keys {
            let hash = if level == 0 {
                match entries.get((chain, index))? {
                    Some(v) => Some(stored_hash(v.value())?),
                    None => None,
                }
            } else {
                match tree.get((chain, level, index))? {
                    Some(v) => Some(Digest(v.value().try_into().map_err(|_| {
                        StoreError::Corrupt(format!("tree node {level}/{index} is not 32 bytes"))
                    })?)),
                    None => None,
                }
            };
            out.extend(hash.map(|h| ((level, index), h)));
        }
        Ok(out)
    }
}

#[async_trait]
impl CheckpointWrites for EmbeddedStore {
    async fn put_checkpoint(&self, c: &SignedCheckpoint) -> Result<bool> {
        let key = (c.checkpoint.chain.as_str(), c.checkpoint.size);
        self.write(|txn| -> Result<bool> {
            let mut t = txn.open_table(CHECKPOINTS)?;
            if t.get(key)?.is_some() {
                return Ok(false);
            }
            t.insert(key, encode(c).as_slice())?;
            Ok(true)
        })
    }

    async fn keep_log_checkpoints(&self, latest: &[SignedCheckpoint]) -> Result<()> {
        self.write(|txn| -> Result<()> {
            let mut t = txn.open_table(LOG)?;
            let mut kept: Vec<SignedCheckpoint> = match t.get(LATEST)? {
                Some(v) => decode(v.value())?,
                None => Vec::new(),
            };
            if keep_latest(&mut kept, latest) {
                t.insert(LATEST, encode(&kept).as_slice())?;
            }
            Ok(())
        })
    }

    async fn put_tree_nodes(&self, chain: &str, nodes: &[Node]) -> Result<()> {
        self.write(|txn| -> Result<()> {
            let mut t = txn.open_table(TREE)?;
            for n in nodes {
                t.insert((chain, n.level, n.index), n.hash.0.as_slice())?;
            }
            Ok(())
        })
    }
}
