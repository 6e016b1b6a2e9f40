//! A store that fails on purpose: [`Faulty`] wraps any [`Store`], delegates every role to it,
//! and before or after the calls crediting makes (the chain head, the accounts, the pending
//! queue, the append, quarantining, publishing rules) draws from a seeded schedule whether to
//! inject a fault:
//!
//! - **transient**: the call fails with [`StoreError::Unavailable`] and is not made;
//! - **lost response**: the call is made (a write is committed), then reported as failed;
//! - **crash**: the call hangs forever, before or after it is made, and so does every later
//!   call, as if the process had died there. [`Faulty::run_until_crash`] drops the future
//!   being run at that point and revives the store for a fresh run.
//!
//! The same seed gives the same draws in the same order, so a failing run can be replayed as
//! far as task scheduling allows. Faults are counted by class ([`FaultCounts`]).

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
use greenloop::store::{
    Account, ActionRecord, Affiliation, ApiKey, AppendError, Backlog, CampusDay, CampusQueries,
    CampusTotals, ChainHead, CheckpointStore, CheckpointWrites, CreditBatch, Crediting, Directory,
    Intake, LedgerSource, Members, Pending, Quarantine, Quarantined, Recorded, Registry, Requeued,
    Store, StoreError,
};
use greenloop::store::{Affiliated, Campuses, Claim, Consent, PublicRanking};
use greenloop::store::{BrandEntry, BrandFolding, BrandQueries};
use greenloop::store::{Disposed, Disposing, DispositionQueries};
use greenloop::store::{Erased, Erasing, Mapping, Pseudonyms};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::Notify;

/// The calls a schedule may fault: the ones a crediting run makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    PutRules,
    PendingActions,
    ChainHead,
    Accounts,
    Append,
    Quarantine,
    Dispose,
    FoldBrands,
}

impl Op {
    pub const ALL: [Op; 8] = [
        Op::PutRules,
        Op::PendingActions,
        Op::ChainHead,
        Op::Accounts,
        Op::Append,
        Op::Quarantine,
        Op::Dispose,
        Op::FoldBrands,
    ];
}

/// How often each class of fault fires, per faulted call (each a probability in 0..=1).
#[derive(Debug, Clone, PartialEq)]
pub struct Faults {
    pub transient: f64,
    pub lost: f64,
    pub crash: f64,
    /// The calls faults fire on.
    pub ops: Vec<Op>,
}

impl Faults {
    /// No faults: the wrapper only delegates.
    pub fn none() -> Self {
        Faults {
            transient: 0.0,
            lost: 0.0,
            crash: 0.0,
            ops: Op::ALL.to_vec(),
        }
    }
}

/// Faults injected so far, by class.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FaultCounts {
    pub transient: u64,
    pub lost: u64,
    pub crash: u64,
}

impl FaultCounts {
    pub fn total(&self) -> u64 {
        self.transient + self.lost + self.crash
    }
}

/// One append that went through: when, on which chain, how many entries.
#[derive(Debug, Clone)]
pub struct Appended {
    pub at: Instant,
    pub chain: String,
    pub entries: usize,
}

/// What the schedule decided for one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Pass,
    Transient,
    Lost,
    CrashBefore,
    CrashAfter,
}

/// A fault-injecting wrapper around any store; see the module documentation.
pub struct Faulty {
    inner: Arc<dyn Store>,
    schedule: Mutex<(Faults, StdRng)>,
    transient: AtomicU64,
    lost: AtomicU64,
    crashes: AtomicU64,
    /// Set by a crash: every call hangs until [`Faulty::revive`].
    dead: AtomicBool,
    crashed: Notify,
    appended: Mutex<Vec<Appended>>,
}

impl Faulty {
    /// Wraps `inner`, drawing faults from a generator seeded with `seed`.
    pub fn new(inner: Arc<dyn Store>, faults: Faults, seed: u64) -> Self {
        Faulty {
            inner,
            schedule: Mutex::new((faults, StdRng::seed_from_u64(seed))),
            transient: AtomicU64::new(0),
            lost: AtomicU64::new(0),
            crashes: AtomicU64::new(0),
            dead: AtomicBool::new(false),
            crashed: Notify::new(),
            appended: Mutex::new(Vec::new()),
        }
    }

    /// The store underneath, without faults.
    pub fn inner(&self) -> &Arc<dyn Store> {
        &self.inner
    }

    /// Changes the fault rates from the next call on (the generator goes on as it was).
    pub fn set_faults(&self, faults: Faults) {
        self.schedule.lock().expect("schedule").0 = faults;
    }

    pub fn counts(&self) -> FaultCounts {
        FaultCounts {
            transient: self.transient.load(Ordering::Relaxed),
            lost: self.lost.load(Ordering::Relaxed),
            crash: self.crashes.load(Ordering::Relaxed),
        }
    }

    /// Every append that went through (lost responses included: they were written), in order.
    pub fn appended(&self) -> Vec<Appended> {
        self.appended.lock().expect("appended").clone()
    }

    /// Brings a crashed store back: calls no longer hang.
    pub fn revive(&self) {
        self.dead.store(false, Ordering::SeqCst);
    }

    /// Runs `work` until it ends (`Some`) or a crash is injected while it runs (`None`): then
    /// `work` is dropped where it hung, as a dead process's work is, and the store revived.
    pub async fn run_until_crash<F: Future>(&self, work: F) -> Option<F::Output> {
        let crashed = self.crashed.notified();
        tokio::pin!(crashed);
        // Registered before `work` is first polled, so a crash in its first poll is seen.
        crashed.as_mut().enable();
        let out = tokio::select! {
            out = work => Some(out),
            _ = crashed => None,
        };
        self.revive();
        out
    }

    fn draw(&self, op: Op) -> Fate {
        let mut guard = self.schedule.lock().expect("schedule");
        let (faults, rng) = &mut *guard;
        if !faults.ops.contains(&op) {
            return Fate::Pass;
        }
        let x: f64 = rng.gen();
        let crash_before: bool = rng.gen();
        if x < faults.transient {
            Fate::Transient
        } else if x < faults.transient + faults.lost {
            Fate::Lost
        } else if x < faults.transient + faults.lost + faults.crash {
            if crash_before {
                Fate::CrashBefore
            } else {
                Fate::CrashAfter
            }
        } else {
            Fate::Pass
        }
    }

    /// Hangs forever if the store has crashed.
    async fn alive(&self) {
        if self.dead.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
    }

    /// Dies here: counts the crash, wakes [`Faulty::run_until_crash`], and never returns.
    async fn crash(&self) -> ! {
        if !self.dead.swap(true, Ordering::SeqCst) {
            self.crashes.fetch_add(1, Ordering::Relaxed);
            // A permit, in case the runner is not waiting yet; only the first crash sends one.
            self.crashed.notify_one();
        }
        std::future::pending::<()>().await;
        unreachable!("a pending future never completes")
    }

    /// What to do before a faulted call: fail it, crash, or let it through.
    async fn before(&self, op: Op) -> Result<Fate, StoreError> {
        self.alive().await;
        match self.draw(op) {
            Fate::Transient => {
                self.transient.fetch_add(1, Ordering::Relaxed);
                Err(StoreError::Unavailable("injected throttling".into()))
            }
            Fate::CrashBefore => self.crash().await,
            fate => Ok(fate),
        }
    }

    /// What to answer after a faulted call was made: its answer, a lost one, or a crash.
    async fn after<T, E: From<StoreError>>(&self, fate: Fate, out: Result<T, E>) -> Result<T, E> {
        self.alive().await; // another task crashed the store meanwhile: this answer is lost too
        match fate {
            Fate::Lost => {
                self.lost.fetch_add(1, Ordering::Relaxed);
                Err(StoreError::Unavailable("injected lost response".into()).into())
            }
            Fate::CrashAfter => self.crash().await,
            _ => out,
        }
    }
}

/// Delegates one call, hanging if the store has crashed.
macro_rules! pass {
    ($self:ident . $method:ident ( $($arg:expr),* )) => {{
        $self.alive().await;
        $self.inner.$method($($arg),*).await
    }};
}

/// Delegates one call through the schedule.
macro_rules! faulted {
    ($op:expr, $self:ident . $method:ident ( $($arg:expr),* )) => {{
        let fate = $self.before($op).await?;
        let out = $self.inner.$method($($arg),*).await;
        $self.after(fate, out).await
    }};
}

#[async_trait]
impl LedgerSource for Faulty {
    async fn catalog(&self) -> Result<Catalog, StoreError> {
        pass!(self.catalog())
    }
    async fn chain_heads(&self) -> Result<Vec<ChainHead>, StoreError> {
        pass!(self.chain_heads())
    }
    async fn chain_head(&self, chain: &str) -> Result<ChainHead, StoreError> {
        faulted!(Op::ChainHead, self.chain_head(chain))
    }
    async fn entries(
        &self,
        chain: &str,
        from_seq: u64,
        limit: usize,
    ) -> Result<Vec<Vec<u8>>, StoreError> {
        pass!(self.entries(chain, from_seq, limit))
    }
    async fn account_page(
        &self,
        after: Option<&MemberId>,
        limit: usize,
    ) -> Result<Vec<Account>, StoreError> {
        pass!(self.account_page(after, limit))
    }
    async fn campus_totals(&self) -> Result<Vec<CampusTotals>, StoreError> {
        pass!(self.campus_totals())
    }
    async fn checkpoints(&self, chain: &str) -> Result<Vec<SignedCheckpoint>, StoreError> {
        pass!(self.checkpoints(chain))
    }
    async fn checkpoint_page(
        &self,
        chain: &str,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<SignedCheckpoint>, StoreError> {
        pass!(self.checkpoint_page(chain, after, limit))
    }
    async fn backlog(&self) -> Result<Option<Backlog>, StoreError> {
        pass!(self.backlog())
    }
}

#[async_trait]
impl Campuses for Faulty {
    async fn campuses(&self) -> Result<Vec<Campus>, StoreError> {
        pass!(self.campuses())
    }
}

#[async_trait]
impl Directory for Faulty {
    async fn station(&self, id: &str) -> Result<Option<Station>, StoreError> {
        pass!(self.station(id))
    }
    async fn api_key(&self, id: &str) -> Result<Option<ApiKey>, StoreError> {
        pass!(self.api_key(id))
    }
}

#[async_trait]
impl Registry for Faulty {
    async fn put_campus(&self, campus: &Campus) -> Result<(), StoreError> {
        pass!(self.put_campus(campus))
    }
    async fn put_station(&self, station: &Station) -> Result<(), StoreError> {
        pass!(self.put_station(station))
    }
    async fn put_api_key(&self, key: &ApiKey) -> Result<(), StoreError> {
        pass!(self.put_api_key(key))
    }
    async fn revoke_api_key(&self, id: &str, at: i64) -> Result<ApiKey, StoreError> {
        pass!(self.revoke_api_key(id, at))
    }
    async fn api_keys(&self) -> Result<Vec<ApiKey>, StoreError> {
        pass!(self.api_keys())
    }
}

#[async_trait]
impl Intake for Faulty {
    async fn record_action(&self, action: &Action) -> Result<Recorded, StoreError> {
        pass!(self.record_action(action))
    }
    async fn complete_pickup(
        &self,
        id: &str,
        clothing_g: u64,
        at: i64,
    ) -> Result<Recorded, StoreError> {
        pass!(self.complete_pickup(id, clothing_g, at))
    }
    async fn action(&self, id: &str) -> Result<Option<ActionRecord>, StoreError> {
        pass!(self.action(id))
    }
}

#[async_trait]
impl Members for Faulty {
    async fn accounts(&self, members: &[MemberId]) -> Result<Vec<Account>, StoreError> {
        faulted!(Op::Accounts, self.accounts(members))
    }
    async fn member_entries(
        &self,
        member: &MemberId,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        pass!(self.member_entries(member, before, limit))
    }
}

#[async_trait]
impl Pseudonyms for Faulty {
    async fn mapping(&self, subject: &Subject) -> Result<Option<Mapping>, StoreError> {
        pass!(self.mapping(subject))
    }
    async fn member_or_new(&self, subject: &Subject, origin: &str) -> Result<MemberId, StoreError> {
        pass!(self.member_or_new(subject, origin))
    }
}

#[async_trait]
impl Erasing for Faulty {
    async fn erase(
        &self,
        subject: &Subject,
        receipt: &ErasureReceipt,
        expires_at: i64,
    ) -> Result<Erased, StoreError> {
        pass!(self.erase(subject, receipt, expires_at))
    }
    async fn erasure_receipt(
        &self,
        integration: &str,
        request: &str,
        now: i64,
    ) -> Result<Option<ErasureReceipt>, StoreError> {
        pass!(self.erasure_receipt(integration, request, now))
    }
}

#[async_trait]
impl Crediting for Faulty {
    async fn put_rules(&self, rules: &Rules) -> Result<(), StoreError> {
        faulted!(Op::PutRules, self.put_rules(rules))
    }
    async fn factors_in_force(&self) -> Result<Option<FactorTable>, StoreError> {
        pass!(self.factors_in_force())
    }
    async fn put_factors_in_force(&self, factors: &FactorTable) -> Result<(), StoreError> {
        pass!(self.put_factors_in_force(factors))
    }
    async fn pending_actions(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Pending>, StoreError> {
        faulted!(Op::PendingActions, self.pending_actions(after, limit))
    }
    async fn pending_on(
        &self,
        chain: &str,
        shards: u32,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Pending>, StoreError> {
        faulted!(
            Op::PendingActions,
            self.pending_on(chain, shards, after, limit)
        )
    }
    /// A claim answers with the chain's head: it fails as reading the head does.
    async fn claim_chain(
        &self,
        chain: &str,
        holder: &str,
        now_ms: i64,
        until_ms: i64,
    ) -> Result<Claim, StoreError> {
        faulted!(
            Op::ChainHead,
            self.claim_chain(chain, holder, now_ms, until_ms)
        )
    }
    async fn release_chain(&self, chain: &str, holder: &str) -> Result<(), StoreError> {
        pass!(self.release_chain(chain, holder))
    }
    async fn append(&self, batch: &CreditBatch) -> Result<(), AppendError> {
        let fate = self.before(Op::Append).await?;
        let out = self.inner.append(batch).await;
        if out.is_ok() {
            self.appended.lock().expect("appended").push(Appended {
                at: Instant::now(),
                chain: batch.expected.chain.clone(),
                entries: batch.entries.len(),
            });
        }
        self.after(fate, out).await
    }
    async fn quarantine(&self, id: &str, reason: &str, message: &str) -> Result<bool, StoreError> {
        faulted!(Op::Quarantine, self.quarantine(id, reason, message))
    }
    async fn put_ranking(&self, ranking: &Ranking) -> Result<bool, StoreError> {
        pass!(self.put_ranking(ranking))
    }
}

#[async_trait]
impl Quarantine for Faulty {
    async fn quarantined(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Quarantined>, StoreError> {
        pass!(self.quarantined(after, limit))
    }
    async fn requeue(&self, id: &str) -> Result<Requeued, StoreError> {
        pass!(self.requeue(id))
    }
}

#[async_trait]
impl CampusQueries for Faulty {
    async fn campus_days(&self, campus: &str) -> Result<Vec<CampusDay>, StoreError> {
        pass!(self.campus_days(campus))
    }
    async fn leaderboard(
        &self,
        campus: &str,
        after: Option<&Standing>,
        limit: usize,
    ) -> Result<Vec<BoardRow>, StoreError> {
        pass!(self.leaderboard(campus, after, limit))
    }
}

#[async_trait]
impl PublicRanking for Faulty {
    async fn ranking(&self) -> Result<Option<Ranking>, StoreError> {
        pass!(self.ranking())
    }
}

#[async_trait]
impl Affiliation for Faulty {
    async fn affiliate(
        &self,
        member: &MemberId,
        campus: &str,
        consent: Consent,
    ) -> Result<Affiliated, StoreError> {
        pass!(self.affiliate(member, campus, consent))
    }
}

#[async_trait]
impl CheckpointStore for Faulty {
    async fn checkpoint(
        &self,
        chain: &str,
        size: Option<u64>,
    ) -> Result<Option<SignedCheckpoint>, StoreError> {
        pass!(self.checkpoint(chain, size))
    }
    async fn log_checkpoints(&self) -> Result<Vec<SignedCheckpoint>, StoreError> {
        pass!(self.log_checkpoints())
    }
    async fn tree_nodes(
        &self,
        chain: &str,
        keys: &[(u32, u64)],
    ) -> Result<HashMap<(u32, u64), Digest>, StoreError> {
        pass!(self.tree_nodes(chain, keys))
    }
}

#[async_trait]
impl CheckpointWrites for Faulty {
    async fn put_checkpoint(&self, checkpoint: &SignedCheckpoint) -> Result<bool, StoreError> {
        pass!(self.put_checkpoint(checkpoint))
    }
    async fn keep_log_checkpoints(&self, latest: &[SignedCheckpoint]) -> Result<(), StoreError> {
        pass!(self.keep_log_checkpoints(latest))
    }
    async fn put_tree_nodes(&self, chain: &str, nodes: &[Node]) -> Result<(), StoreError> {
        pass!(self.put_tree_nodes(chain, nodes))
    }
}

#[async_trait]
impl Disposing for Faulty {
    async fn dispose(&self, d: &Disposal, params: &Params) -> Result<Disposed, StoreError> {
        faulted!(Op::Dispose, self.dispose(d, params))
    }
}

#[async_trait]
impl BrandFolding for Faulty {
    async fn brand_cursor(&self, chain: &str) -> Result<Cursor, StoreError> {
        pass!(self.brand_cursor(chain))
    }
    async fn fold_brands(&self, fold: &Fold) -> Result<(), StoreError> {
        faulted!(Op::FoldBrands, self.fold_brands(fold))
    }
}

#[async_trait]
impl BrandQueries for Faulty {
    async fn brand_standings(&self) -> Result<Vec<BrandStanding>, StoreError> {
        pass!(self.brand_standings())
    }
    async fn brand_standing(&self, brand: &str) -> Result<Option<BrandStanding>, StoreError> {
        pass!(self.brand_standing(brand))
    }
    async fn brand_rows(&self, brand: &str) -> Result<Vec<Row>, StoreError> {
        pass!(self.brand_rows(brand))
    }
    async fn brand_entries(
        &self,
        brand: &str,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<BrandEntry>, StoreError> {
        pass!(self.brand_entries(brand, before, limit))
    }
}

#[async_trait]
impl DispositionQueries for Faulty {
    async fn station_stock(&self, station: &str) -> Result<Vec<StationStock>, StoreError> {
        pass!(self.station_stock(station))
    }
    async fn disposition_totals(&self) -> Result<Vec<(String, Totals)>, StoreError> {
        pass!(self.disposition_totals())
    }
}
