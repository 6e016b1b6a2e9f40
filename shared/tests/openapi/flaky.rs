//! A store that can be taken down, for the 503s, or made to read as corrupt, for the 500s, an
//! action whose item reads as unreadable, for the 409, and
//! that answers for API keys the real store
//! refuses to mint, for the 404 of a campus that is not registered.

use async_trait::async_trait;
use greenloop::brand::fold::{BrandStanding, Cursor, Fold};
use greenloop::brand::Row;
use greenloop::catalog::{Catalog, Rules};
use greenloop::checkpoint::SignedCheckpoint;
use greenloop::disposition::{Disposal, Params, StationStock, Totals};
use greenloop::domain::{Action, Campus, MemberId, Station, Subject};
use greenloop::factors::FactorTable;
use greenloop::ledger::Digest;
use greenloop::merkle::frontier::Node;
use greenloop::ranking::{BoardRow, Ranking, Standing};
use greenloop::receipt::ErasureReceipt;
use greenloop::store::embedded::EmbeddedStore;
use greenloop::store::{
    Account, ActionRecord, ActionStatus, ApiKey, AppendError, Backlog, CampusDay, CampusTotals,
    ChainHead, CheckpointStore, Claim, CreditBatch, LedgerSource, Pending, Quarantine, Quarantined,
    Recorded, Requeued, StoreError,
};
use greenloop::store::{Affiliated, Campuses, Consent, PublicRanking};
use greenloop::store::{
    Affiliation, CampusQueries, CheckpointWrites, Crediting, Directory, Intake, Members, Registry,
};
use greenloop::store::{BrandEntry, BrandFolding, BrandQueries};
use greenloop::store::{Disposed, Disposing, DispositionQueries};
use greenloop::store::{Erased, Erasing, Mapping, Pseudonyms};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

pub struct Flaky {
    pub inner: EmbeddedStore,
    pub down: AtomicBool,
    /// Every call fails as a store holding data this version cannot read.
    pub corrupt: AtomicBool,
    /// Grants the real store would refuse to mint: a key for a campus that is not (or no
    /// longer) registered, which the campus routes answer with 404.
    pub orphans: Mutex<HashMap<String, ApiKey>>,
    /// Actions whose item reads as written by a newer version, with the status that can be read.
    pub unreadable: Mutex<HashMap<String, Option<ActionStatus>>>,
}

impl Flaky {
    pub fn unreadable(&self, id: &str, status: Option<ActionStatus>) {
        self.unreadable
            .lock()
            .unwrap()
            .insert(id.to_owned(), status);
    }

    pub fn readable(&self, id: &str) {
        self.unreadable.lock().unwrap().remove(id);
    }
    fn up(&self) -> Result<(), StoreError> {
        if self.down.load(Ordering::SeqCst) {
            Err(StoreError::Unavailable("taken down by the test".into()))
        } else if self.corrupt.load(Ordering::SeqCst) {
            Err(StoreError::Corrupt(
                "an item the test made unreadable".into(),
            ))
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl LedgerSource for Flaky {
    async fn catalog(&self) -> Result<Catalog, StoreError> {
        self.up()?;
        self.inner.catalog().await
    }
    async fn chain_heads(&self) -> Result<Vec<ChainHead>, StoreError> {
        self.up()?;
        self.inner.chain_heads().await
    }
    async fn entries(
        &self,
        chain: &str,
        from_seq: u64,
        limit: usize,
    ) -> Result<Vec<Vec<u8>>, StoreError> {
        self.up()?;
        self.inner.entries(chain, from_seq, limit).await
    }
    async fn account_page(
        &self,
        after: Option<&MemberId>,
        limit: usize,
    ) -> Result<Vec<Account>, StoreError> {
        self.up()?;
        self.inner.account_page(after, limit).await
    }
    async fn campus_totals(&self) -> Result<Vec<CampusTotals>, StoreError> {
        self.up()?;
        self.inner.campus_totals().await
    }
    async fn checkpoints(&self, chain: &str) -> Result<Vec<SignedCheckpoint>, StoreError> {
        self.up()?;
        self.inner.checkpoints(chain).await
    }
    async fn checkpoint_page(
        &self,
        chain: &str,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<SignedCheckpoint>, StoreError> {
        self.up()?;
        self.inner.checkpoint_page(chain, after, limit).await
    }
    async fn backlog(&self) -> Result<Option<Backlog>, StoreError> {
        self.up()?;
        self.inner.backlog().await
    }
    async fn chain_head(&self, chain: &str) -> Result<ChainHead, StoreError> {
        self.up()?;
        self.inner.chain_head(chain).await
    }
}

#[async_trait]
impl Campuses for Flaky {
    async fn campuses(&self) -> Result<Vec<Campus>, StoreError> {
        self.up()?;
        self.inner.campuses().await
    }
}

#[async_trait]
impl Directory for Flaky {
    async fn station(&self, id: &str) -> Result<Option<Station>, StoreError> {
        self.up()?;
        self.inner.station(id).await
    }
    async fn api_key(&self, id: &str) -> Result<Option<ApiKey>, StoreError> {
        self.up()?;
        if let Some(k) = self.orphans.lock().unwrap().get(id) {
            return Ok(Some(k.clone()));
        }
        self.inner.api_key(id).await
    }
}

#[async_trait]
impl Registry for Flaky {
    async fn put_campus(&self, campus: &Campus) -> Result<(), StoreError> {
        self.up()?;
        self.inner.put_campus(campus).await
    }
    async fn put_station(&self, station: &Station) -> Result<(), StoreError> {
        self.up()?;
        self.inner.put_station(station).await
    }
    async fn put_api_key(&self, key: &ApiKey) -> Result<(), StoreError> {
        self.up()?;
        self.inner.put_api_key(key).await
    }
    async fn revoke_api_key(&self, id: &str, at: i64) -> Result<ApiKey, StoreError> {
        self.up()?;
        self.inner.revoke_api_key(id, at).await
    }
    async fn api_keys(&self) -> Result<Vec<ApiKey>, StoreError> {
        self.up()?;
        self.inner.api_keys().await
    }
}

#[async_trait]
impl Intake for Flaky {
    async fn record_action(&self, action: &Action) -> Result<Recorded, StoreError> {
        self.up()?;
        self.inner.record_action(action).await
    }
    async fn complete_pickup(
        &self,
        id: &str,
        clothing_g: u64,
        at: i64,
    ) -> Result<Recorded, StoreError> {
        self.up()?;
        self.inner.complete_pickup(id, clothing_g, at).await
    }
    async fn action(&self, id: &str) -> Result<Option<ActionRecord>, StoreError> {
        self.up()?;
        if let Some(status) = self.unreadable.lock().unwrap().get(id) {
            return Err(StoreError::Unreadable {
                id: id.to_owned(),
                status: status.clone(),
                error: "unknown variant `drone`".into(),
            });
        }
        self.inner.action(id).await
    }
}

#[async_trait]
impl Members for Flaky {
    async fn accounts(&self, members: &[MemberId]) -> Result<Vec<Account>, StoreError> {
        self.up()?;
        self.inner.accounts(members).await
    }
    async fn member_entries(
        &self,
        member: &MemberId,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        self.up()?;
        self.inner.member_entries(member, before, limit).await
    }
}

#[async_trait]
impl Pseudonyms for Flaky {
    async fn mapping(&self, subject: &Subject) -> Result<Option<Mapping>, StoreError> {
        self.up()?;
        self.inner.mapping(subject).await
    }
    async fn member_or_new(&self, subject: &Subject, origin: &str) -> Result<MemberId, StoreError> {
        self.up()?;
        self.inner.member_or_new(subject, origin).await
    }
}

#[async_trait]
impl Erasing for Flaky {
    async fn erase(
        &self,
        subject: &Subject,
        receipt: &ErasureReceipt,
        expires_at: i64,
    ) -> Result<Erased, StoreError> {
        self.up()?;
        self.inner.erase(subject, receipt, expires_at).await
    }
    async fn erasure_receipt(
        &self,
        integration: &str,
        request: &str,
        now: i64,
    ) -> Result<Option<ErasureReceipt>, StoreError> {
        self.up()?;
        self.inner.erasure_receipt(integration, request, now).await
    }
}

#[async_trait]
impl Crediting for Flaky {
    async fn put_rules(&self, rules: &Rules) -> Result<(), StoreError> {
        self.up()?;
        self.inner.put_rules(rules).await
    }
    async fn factors_in_force(&self) -> Result<Option<FactorTable>, StoreError> {
        self.up()?;
        self.inner.factors_in_force().await
    }
    async fn put_factors_in_force(&self, factors: &FactorTable) -> Result<(), StoreError> {
        self.up()?;
        self.inner.put_factors_in_force(factors).await
    }
    async fn pending_actions(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Pending>, StoreError> {
        self.up()?;
        self.inner.pending_actions(after, limit).await
    }
    async fn claim_chain(
        &self,
        chain: &str,
        holder: &str,
        now_ms: i64,
        until_ms: i64,
    ) -> Result<Claim, StoreError> {
        self.up()?;
        self.inner
            .claim_chain(chain, holder, now_ms, until_ms)
            .await
    }
    async fn release_chain(&self, chain: &str, holder: &str) -> Result<(), StoreError> {
        self.up()?;
        self.inner.release_chain(chain, holder).await
    }
    async fn append(&self, batch: &CreditBatch) -> Result<(), AppendError> {
        self.up()?;
        self.inner.append(batch).await
    }
    async fn quarantine(&self, id: &str, reason: &str, message: &str) -> Result<bool, StoreError> {
        self.up()?;
        self.inner.quarantine(id, reason, message).await
    }
    async fn put_ranking(&self, ranking: &Ranking) -> Result<bool, StoreError> {
        self.up()?;
        self.inner.put_ranking(ranking).await
    }
}

#[async_trait]
impl Quarantine for Flaky {
    async fn quarantined(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Quarantined>, StoreError> {
        self.up()?;
        self.inner.quarantined(after, limit).await
    }
    async fn requeue(&self, id: &str) -> Result<Requeued, StoreError> {
        self.up()?;
        self.inner.requeue(id).await
    }
}

#[async_trait]
impl CampusQueries for Flaky {
    async fn campus_days(&self, campus: &str) -> Result<Vec<CampusDay>, StoreError> {
        self.up()?;
        self.inner.campus_days(campus).await
    }
    async fn leaderboard(
        &self,
        campus: &str,
        after: Option<&Standing>,
        limit: usize,
    ) -> Result<Vec<BoardRow>, StoreError> {
        self.up()?;
        self.inner.leaderboard(campus, after, limit).await
    }
}

#[async_trait]
impl PublicRanking for Flaky {
    async fn ranking(&self) -> Result<Option<Ranking>, StoreError> {
        self.up()?;
        self.inner.ranking().await
    }
}

#[async_trait]
impl Affiliation for Flaky {
    async fn affiliate(
        &self,
        member: &MemberId,
        campus: &str,
        consent: Consent,
    ) -> Result<Affiliated, StoreError> {
        self.up()?;
        self.inner.affiliate(member, campus, consent).await
    }
}

#[async_trait]
impl CheckpointStore for Flaky {
    async fn checkpoint(
        &self,
        chain: &str,
        size: Option<u64>,
    ) -> Result<Option<SignedCheckpoint>, StoreError> {
        self.up()?;
        self.inner.checkpoint(chain, size).await
    }
    async fn log_checkpoints(&self) -> Result<Vec<SignedCheckpoint>, StoreError> {
        self.up()?;
        self.inner.log_checkpoints().await
    }
    async fn tree_nodes(
        &self,
        chain: &str,
        keys: &[(u32, u64)],
    ) -> Result<HashMap<(u32, u64), Digest>, StoreError> {
        self.up()?;
        self.inner.tree_nodes(chain, keys).await
    }
}

#[async_trait]
impl CheckpointWrites for Flaky {
    async fn put_checkpoint(&self, c: &SignedCheckpoint) -> Result<bool, StoreError> {
        self.up()?;
        self.inner.put_checkpoint(c).await
    }
    async fn keep_log_checkpoints(&self, latest: &[SignedCheckpoint]) -> Result<(), StoreError> {
        self.up()?;
        self.inner.keep_log_checkpoints(latest).await
    }
    async fn put_tree_nodes(&self, chain: &str, nodes: &[Node]) -> Result<(), StoreError> {
        self.up()?;
        self.inner.put_tree_nodes(chain, nodes).await
    }
}

#[async_trait]
impl Disposing for Flaky {
    async fn dispose(&self, d: &Disposal, params: &Params) -> Result<Disposed, StoreError> {
        self.up()?;
        self.inner.dispose(d, params).await
    }
}

#[async_trait]
impl BrandFolding for Flaky {
    async fn brand_cursor(&self, chain: &str) -> Result<Cursor, StoreError> {
        self.up()?;
        self.inner.brand_cursor(chain).await
    }
    async fn fold_brands(&self, fold: &Fold) -> Result<(), StoreError> {
        self.up()?;
        self.inner.fold_brands(fold).await
    }
}

#[async_trait]
impl BrandQueries for Flaky {
    async fn brand_standings(&self) -> Result<Vec<BrandStanding>, StoreError> {
        self.up()?;
        self.inner.brand_standings().await
    }
    async fn brand_standing(&self, brand: &str) -> Result<Option<BrandStanding>, StoreError> {
        self.up()?;
        self.inner.brand_standing(brand).await
    }
    async fn brand_rows(&self, brand: &str) -> Result<Vec<Row>, StoreError> {
        self.up()?;
        self.inner.brand_rows(brand).await
    }
    async fn brand_entries(
        &self,
        brand: &str,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<BrandEntry>, StoreError> {
        self.up()?;
        self.inner.brand_entries(brand, before, limit).await
    }
}

#[async_trait]
impl DispositionQueries for Flaky {
    async fn station_stock(&self, station: &str) -> Result<Vec<StationStock>, StoreError> {
        self.up()?;
        self.inner.station_stock(station).await
    }
    async fn disposition_totals(&self) -> Result<Vec<(String, Totals)>, StoreError> {
        self.up()?;
        self.inner.disposition_totals().await
    }
}
