//! The DynamoDB store's checkpoints and tree nodes. Checkpoints live in `CKPT#<chain>`
//! partitions, nodes in `TREE#<chain>`: apart from the entries, so the checkpoint job's role
//! writes these and nothing of the ledger.

use super::append::pause;
use super::item::{get_n, n};
use super::{get_json, get_s, is_condition_failed, item, s, sdk_err, DynamoStore, Item};
use crate::store::CheckpointWrites;
use crate::store::{stored_hash, CheckpointStore, Result, StoreError};
use async_trait::async_trait;
use greenloop_core::checkpoint::{keep_latest, SignedCheckpoint};
use greenloop_core::ledger::Digest;
use greenloop_core::merkle::frontier::Node;
use std::collections::HashMap;

/// Merges tried before a run of racing checkpoint runs is reported.
const MERGE_ATTEMPTS: u32 = 8;

impl DynamoStore {
    /// A chain's checkpoints above size `after`, smallest size first, at most `limit` (None:
    /// all): one query on `CKPT#<chain>`, `sk > SIZE#<after>`.
    pub(super) async fn list_checkpoints(
        &self,
        chain: &str,
        after: Option<u64>,
        limit: Option<usize>,
    ) -> Result<Vec<SignedCheckpoint>> {
        let mut q = self.partition_query(format!("CKPT#{chain}"));
        if let Some(size) = after {
            q = q
                .key_condition_expression("pk = :pk AND sk > :after")
                .expression_attribute_values(":after", s(item::checkpoint_sk(size)));
        }
        self.query(q, limit)
            .await?
            .iter()
            .map(|it| get_json(it, "json"))
            .collect()
    }
}

#[async_trait]
impl CheckpointStore for DynamoStore {
    async fn checkpoint(&self, chain: &str, size: Option<u64>) -> Result<Option<SignedCheckpoint>> {
        let it = match size {
            Some(size) => self.get(item::checkpoint(chain, size)).await?,
            None => {
                let q = self
                    .partition_query(format!("CKPT#{chain}"))
                    .scan_index_forward(false);
                self.query(q, Some(1)).await?.pop()
            }
        };
        it.map(|it| get_json(&it, "json")).transpose()
    }

    async fn log_checkpoints(&self) -> Result<Vec<SignedCheckpoint>> {
        match self.get(item::log_checkpoints()).await? {
            Some(it) => get_json(&it, "json"),
            None => Ok(Vec::new()),
        }
    }

    async fn tree_nodes(
        &self,
        chain: &str,
        keys: &[(u32, u64)],
    ) -> Result<HashMap<(u32, u64), Digest>> {
        // Level 0 is the entry itself: its hash is read out of its JSON.
        let wanted: Vec<Item> = keys
            .iter()
            .map(|&(level, index)| match level {
                0 => item::entry(chain, index),
                _ => item::tree_node(chain, level, index),
            })
            .collect();
        let mut out = HashMap::with_capacity(keys.len());
        for it in self
            .batch_get(wanted, Some(&["pk", "sk", "hash", "json"]))
            .await?
        {
            let (pk, sk) = (get_s(&it, item::PK)?, get_s(&it, item::SK)?);
            let corrupt = || StoreError::Corrupt(format!("tree node {pk} {sk}"));
            let place = if let Some(seq) = sk.strip_prefix("SEQ#") {
                (0, seq.parse().map_err(|_| corrupt())?)
            } else {
                let (level, index) = sk.split_once('#').ok_or_else(corrupt)?;
                (
                    level.parse().map_err(|_| corrupt())?,
                    index.parse().map_err(|_| corrupt())?,
                )
            };
            let hash = if place.0 == 0 {
                stored_hash(get_s(&it, "json")?.as_bytes())?
            } else {
                Digest::parse(get_s(&it, "hash")?).ok_or_else(corrupt)?
            };
            out.insert(place, hash);
        }
        Ok(out)
    }
}

#[async_trait]
impl CheckpointWrites for DynamoStore {
    async fn put_checkpoint(&self, c: &SignedCheckpoint) -> Result<bool> {
        let mut it = item::checkpoint(&c.checkpoint.chain, c.checkpoint.size);
        it.insert("json".into(), item::json(c));
        self.put_new(it).await
    }

    /// Read, merge, and put conditioned on the version read; a racing run's put in between
    /// fails the condition and the merge is done again on what it kept.
    async fn keep_log_checkpoints(&self, latest: &[SignedCheckpoint]) -> Result<()> {
        for attempt in 0..MERGE_ATTEMPTS {
            let stored = self.get(item::log_checkpoints()).await?;
            let (mut kept, version): (Vec<SignedCheckpoint>, Option<u64>) = match &stored {
                Some(it) => (get_json(it, "json")?, Some(get_n(it, "version")?)),
                None => (Vec::new(), None),
            };
            if !keep_latest(&mut kept, latest) {
                return Ok(());
            }
            let mut it = item::log_checkpoints();
            it.insert("json".into(), item::json(&kept));
            it.insert("version".into(), n(version.map_or(1, |v| v + 1)));
            let put = self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(it));
            let put = match version {
                Some(v) => put
                    .condition_expression("version = :v")
                    .expression_attribute_values(":v", n(v)),
                None => put.condition_expression("attribute_not_exists(pk)"),
            };
            match put.send().await {
                Ok(_) => return Ok(()),
                Err(e) if is_condition_failed(&e) => pause(attempt).await,
                Err(e) => return Err(sdk_err(e)),
            }
        }
        Err(StoreError::Unavailable(
            "the log's latest checkpoints kept changing under this run".into(),
        ))
    }

    /// One `PutItem` per node, not `BatchWriteItem`: that action would also let the checkpoint
    /// role delete. Nodes are one per 16 entries, so a run writes few.
    async fn put_tree_nodes(&self, chain: &str, nodes: &[Node]) -> Result<()> {
        for n in nodes {
            let mut it = item::tree_node(chain, n.level, n.index);
            it.insert("hash".into(), s(n.hash.to_string()));
            self.put_plain(it).await?;
        }
        Ok(())
    }
}
