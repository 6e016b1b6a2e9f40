//! A brand's statement, built from a store: every checkpointed entry that names the brand,
//! each with its inclusion proof, and the figures they add up to
//! ([`greenloop_core::brand`]). The brand checks it offline (`greenloop proof check`).
//!
//! It reads each chain up to its latest checkpoint, so it costs a pass over the checkpointed
//! ledger: an operator's tool (`greenloop proof brand`), not a per-request route.

use super::tree::{inclusion_proof, TreeError};
use crate::store::{CheckpointStore, LedgerSource, StoreError};
use greenloop_core::brand::{figures, shares, Statement};
use greenloop_core::ledger::{Entry, Leaf};
use greenloop_core::proof::InclusionProof;
use serde_json::value::RawValue;

/// Entries read per page.
const PAGE: usize = 1_000;

/// The brand's statement as of each chain's latest checkpoint. A brand named by no
/// checkpointed entry gets an empty statement.
pub async fn brand_statement<S: LedgerSource + CheckpointStore + ?Sized>(
    store: &S,
    brand: &str,
) -> Result<Statement, TreeError> {
    let catalog = store.catalog().await?;
    let mut checkpoints = Vec::new();
    let mut proofs = Vec::new();
    let mut entries: Vec<Entry> = Vec::new();
    for head in store.chain_heads().await? {
        let Some(c) = store.checkpoint(&head.chain, None).await? else {
            continue;
        };
        let size = c.checkpoint.size;
        let mut named = false;
        let mut seq = 0;
        while seq < size {
            let page = store
                .entries(&head.chain, seq, PAGE.min((size - seq) as usize))
                .await?;
            if page.is_empty() {
                break;
            }
            for bytes in page {
                let this = seq;
                seq += 1;
                let Ok((Leaf::Credit(e), _)) = Leaf::read(&bytes) else {
                    continue;
                };
                let (Some(rb), Some(f)) =
                    (catalog.rulebook(&e.rulebook), catalog.factors(&e.factors))
                else {
                    continue;
                };
                if !shares(&e, rb, f).contains_key(brand) {
                    continue;
                }
                let corrupt = |what: String| TreeError::Store(StoreError::Corrupt(what));
                let text = String::from_utf8(bytes)
                    .map_err(|_| corrupt(format!("{} seq {this} is not UTF-8", head.chain)))?;
                proofs.push(InclusionProof {
                    chain: head.chain.clone(),
                    seq: this,
                    size,
                    entry: RawValue::from_string(text).map_err(|e| corrupt(e.to_string()))?,
                    proof: inclusion_proof(store, &head.chain, this, size).await?,
                });
                entries.push(e);
                named = true;
            }
        }
        if named {
            checkpoints.push(c);
        }
    }
    let (totals, members, rows) =
        figures(brand, entries.iter(), &catalog).map_err(TreeError::NotCheckpointed)?;
    Ok(Statement {
        brand: brand.to_owned(),
        totals,
        members,
        rows,
        checkpoints,
        proofs,
    })
}
