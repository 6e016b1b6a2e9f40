//! Brand statements and the stored brand figures.
//!
//! - [`fold_all`] is the checkpoint job's second step: it folds each chain's newly checkpointed
//!   entries into the stored brand figures ([`greenloop_core::brand::fold`]).
//! - [`statement_page`] answers a brand's statement from those figures, a page at a time, each
//!   entry proven in its chain's latest checkpoint: the route a brand's key reads.
//! - [`brand_statement`] builds a whole statement from the ledger itself, with no stored figures:
//!   a pass over the checkpointed ledger, for the operator (`greenloop proof brand`), and any
//!   brand id, partner or not.
//!
//! The brand checks either offline (`greenloop proof check`).

use super::tree::{proofs_in_latest, TreeError};
use crate::store::{BrandFolding, BrandQueries, CheckpointStore, LedgerSource, StoreError};
use greenloop_core::brand::fold::{partner_shares, plan, Cursor, StatementPage};
use greenloop_core::brand::{figures, Attributed, Statement};
use greenloop_core::ledger::Leaf;

/// Most items one fold writes: one DynamoDB transaction's.
pub const FOLD_ITEMS: usize = 100;

/// Reads of a first page's standing and rows before giving up on a brand being folded into.
const STATE_TRIES: u32 = 8;

/// Most entries in one page of a brand statement, as for a member's.
pub const STATEMENT_PAGE: usize = super::tree::STATEMENT_PAGE;

/// What folding did for one chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Folded {
    pub chain: String,
    /// Where its cursor is now.
    pub to: Cursor,
    /// Shares folded in by this run.
    pub shares: usize,
    /// Why the chain stopped short of its checkpoint, if it did: another run folding it, or an
    /// entry that cannot be read or names an unknown version. The other chains go on.
    pub stopped: Option<String>,
}

/// Folds every chain's entries up to its latest checkpoint into the brand figures. A chain
/// that fails is reported in its [`Folded`] and the rest go on; only a failure to list the
/// chains or read the catalog is an error.
pub async fn fold_all<S: LedgerSource + CheckpointStore + BrandFolding + ?Sized>(
    store: &S,
) -> Result<Vec<Folded>, StoreError> {
    let catalog = store.catalog().await?;
    let mut heads = store.chain_heads().await?;
    heads.sort_by(|a, b| a.chain.cmp(&b.chain));
    let mut out = Vec::with_capacity(heads.len());
    for h in heads {
        let mut folded = Folded {
            chain: h.chain.clone(),
            to: Cursor::default(),
            shares: 0,
            stopped: None,
        };
        if let Err(why) = fold_chain(store, &catalog, &mut folded).await {
            folded.stopped = Some(why);
        }
        out.push(folded);
    }
    Ok(out)
}

/// Folds one chain from its cursor to its latest checkpoint, a page of entries at a time.
async fn fold_chain<S: LedgerSource + CheckpointStore + BrandFolding + ?Sized>(
    store: &S,
    catalog: &greenloop_core::catalog::Catalog,
    folded: &mut Folded,
) -> Result<(), String> {
    let chain = folded.chain.clone();
    let size = match store.checkpoint(&chain, None).await {
        Ok(c) => c.map_or(0, |c| c.checkpoint.size),
        Err(e) => return Err(e.to_string()),
    };
    folded.to = store
        .brand_cursor(&chain)
        .await
        .map_err(|e| e.to_string())?;
    while folded.to.seq < size {
        let from = folded.to;
        let page = store
            .entries(&chain, from.seq, PAGE.min((size - from.seq) as usize))
            .await
            .map_err(|e| e.to_string())?;
        if page.is_empty() {
            return Err(format!("entries from seq {} are missing", from.seq));
        }
        let end = Cursor::end(from.seq + page.len() as u64);
        let mut found = Vec::new();
        for (i, bytes) in page.iter().enumerate() {
            let seq = from.seq + i as u64;
            let text = std::str::from_utf8(bytes).map_err(|_| format!("seq {seq} is not UTF-8"))?;
            let leaf = match Leaf::read(bytes) {
                Ok((leaf, _)) => leaf,
                Err(why) => return Err(format!("seq {seq} cannot be read: {why}")),
            };
            // Credit entries and corrections; a disposition names no brand.
            if let Some(a) = Attributed::of(&leaf, catalog)? {
                found.extend(partner_shares(&a, text));
            }
        }
        for fold in plan(&chain, from, end, found, FOLD_ITEMS) {
            store.fold_brands(&fold).await.map_err(|e| e.to_string())?;
            folded.shares += fold.shares.len();
            folded.to = fold.to;
        }
    }
    Ok(())
}

/// One page of a brand's statement, from the stored figures: the standing, the rows (first
/// page only), and the index entries numbered below `before` (None: from the newest the
/// standing counts), newest first, at most `limit`, each proven in its chain's latest
/// checkpoint. A brand no folded entry names is not found.
pub async fn statement_page<S: BrandQueries + CheckpointStore + ?Sized>(
    store: &S,
    brand: &str,
    before: Option<u64>,
    limit: usize,
) -> Result<StatementPage, TreeError> {
    let standing = || async {
        store
            .brand_standing(brand)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("brand {brand}")))
    };
    let (standing, rows) = match before {
        // A later page: the entries before `before`, whatever was folded since the first.
        Some(_) => (standing().await?, None),
        // The first page: the standing and the rows as one state. A fold moves the standing
        // with every row it adds to, so rows read between two equal standings are theirs.
        None => {
            let mut tries = 0;
            loop {
                let first = standing().await?;
                let rows = store.brand_rows(brand).await?;
                if standing().await? == first {
                    break (first, Some(rows));
                }
                tries += 1;
                if tries == STATE_TRIES {
                    return Err(StoreError::Unavailable(format!(
                        "brand {brand}'s figures kept moving while read"
                    ))
                    .into());
                }
            }
        }
    };
    // Never past the standing as read: entries folded meanwhile wait for the next statement.
    let before = before.map_or(standing.totals.entries, |b| b.min(standing.totals.entries));
    let stored = store.brand_entries(brand, Some(before), limit).await?;
    let next = stored.last().map(|e| e.n).filter(|&n| n > 0);
    let placed = stored
        .into_iter()
        .map(|e| (e.chain, e.seq, e.entry))
        .collect();
    let (checkpoints, proofs) = proofs_in_latest(store, placed).await?;
    Ok(StatementPage {
        brand: standing.brand,
        totals: standing.totals,
        members: standing.members,
        rows,
        checkpoints,
        proofs,
        next,
    })
}

/// A brand's whole statement from the stored figures, page by page, joined.
pub async fn statement<S: BrandQueries + CheckpointStore + ?Sized>(
    store: &S,
    brand: &str,
) -> Result<Statement, TreeError> {
    let mut pages = vec![statement_page(store, brand, None, STATEMENT_PAGE).await?];
    while let Some(before) = pages.last().and_then(|p| p.next) {
        pages.push(statement_page(store, brand, Some(before), STATEMENT_PAGE).await?);
    }
    Ok(Statement::join_pages(pages).expect("the first page has the rows"))
}

/// Entries read per page.
const PAGE: usize = 1_000;

/// The brand's statement as of each chain's latest checkpoint. A brand named by no
/// checkpointed entry gets an empty statement.
pub async fn brand_statement<S: LedgerSource + CheckpointStore + ?Sized>(
    store: &S,
    brand: &str,
) -> Result<Statement, TreeError> {
    let catalog = store.catalog().await?;
    let mut placed = Vec::new();
    let mut entries: Vec<Leaf> = Vec::new();
    for head in store.chain_heads().await? {
        let Some(c) = store.checkpoint(&head.chain, None).await? else {
            continue;
        };
        let size = c.checkpoint.size;
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
                let Ok((leaf, _)) = Leaf::read(&bytes) else {
                    continue;
                };
                let Ok(Some(a)) = Attributed::of(&leaf, &catalog) else {
                    continue;
                };
                if a.shares.contains_key(brand) {
                    placed.push((head.chain.clone(), this, bytes));
                    entries.push(leaf);
                }
            }
        }
    }
    // Every proof on a chain from one batch of node reads, in its latest checkpoint.
    let (checkpoints, proofs) = proofs_in_latest(store, placed).await?;
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
