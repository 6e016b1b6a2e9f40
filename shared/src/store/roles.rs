//! The store, split by role. Each role is what one kind of caller may touch, in the shape of the
//! IAM roles of `docs/permissions.md`; each function's code takes the narrowest sum it needs.
//!
//! | role | methods | who |
//! |---|---|---|
//! | [`Campuses`] | the campus registry (reads) | `scan`, `credit` (for the public ranking), `campus`, `audit` |
//! | [`Directory`] | campuses, stations, API key records by id (reads) | `scan`, `campus`, `audit` |
//! | [`Registry`] | writes campuses and stations; mints, revokes and lists API keys | the operator (`greenloop register`, `keys`) |
//! | [`Intake`] | records actions and pickups, reads their status | `scan`; `credit` reads status |
//! | [`Disposing`] | enters stations' disposition reports on their chains | `dispose` |
//! | [`DispositionQueries`] | stations' stock and the chains' disposition totals | `audit` |
//! | [`Members`] | accounts and a member's entries | `scan`, `credit`, `campus`, `audit` |
//! | [`Pseudonyms`] | the person-to-pseudonym mapping (reads, create-only writes) | `scan`, `campus` |
//! | [`Erasing`] | deletes a mapping and keeps its erasure receipt | `scan`, the operator (`greenloop erase`) |
//! | [`Crediting`] | the pending queue, chain heads, appends, quarantining, publishing rules, keeping the public ranking | `credit` |
//! | [`Quarantine`] | lists quarantined actions, puts them back in the queue | the operator (`greenloop quarantine`) |
//! | [`CampusQueries`] | per-day campus totals, leaderboards | `campus` |
//! | [`PublicRanking`] | the public ranking of campuses (one item) | `campus`, `credit` |
//! | [`Affiliation`] | sets a member's campus, with or without their consent to move | `campus` (its affiliation role) |
//! | [`LedgerSource`] | the whole ledger, read in pages | `audit`, `checkpoint`, verifiers |
//! | [`CheckpointStore`] | checkpoints and tree nodes (reads) | `audit`, `checkpoint` |
//! | [`CheckpointWrites`] | keeps checkpoints and tree nodes | `checkpoint` |
//! | [`BrandFolding`] | folds checkpointed entries into the stored brand figures | `checkpoint` |
//! | [`BrandQueries`] | the stored brand figures and each brand's entry index | `audit` |
//!
//! The sums per function ([`ScanStore`], [`DisposeStore`], [`CreditStore`], [`CampusStore`], [`AuditStore`],
//! [`TreeStore`]) are supertraits of [`Store`], so an `Arc<dyn Store>` narrows to any of them by
//! coercion. Each has a blanket implementation: anything with the roles has the sum.

use super::{
    ApiKey, AppendError, Claim, CreditBatch, Disposed, Erased, Mapping, Pending, Recorded,
    Requeued, Result,
};
use async_trait::async_trait;
use greenloop_core::brand::fold::{BrandStanding, Cursor, Fold};
use greenloop_core::brand::Row;
use greenloop_core::catalog::{Catalog, Rules};
use greenloop_core::checkpoint::SignedCheckpoint;
use greenloop_core::digest::Digest;
use greenloop_core::disposition::{Disposal, Params, StationStock, Totals};
use greenloop_core::domain::{Action, Campus, MemberId, Station, Subject};
use greenloop_core::factors::FactorTable;
use greenloop_core::ledger::{chain_for_station, chain_name};
use greenloop_core::merkle::frontier::Node;
use greenloop_core::ranking::{BoardRow, Ranking, Standing};
use greenloop_core::receipt::ErasureReceipt;
use greenloop_core::records::{
    Account, ActionRecord, Backlog, CampusDay, CampusTotals, ChainHead, Quarantined,
};
use std::collections::HashMap;

/// The campus registry, read.
#[async_trait]
pub trait Campuses: Send + Sync {
    async fn campuses(&self) -> Result<Vec<Campus>>;
}

/// The registry as every authenticated caller reads it.
#[async_trait]
pub trait Directory: Campuses {
    async fn station(&self, id: &str) -> Result<Option<Station>>;
    /// The record of API key `id` (the public part of the key), with one key read; None for an
    /// id never minted.
    async fn api_key(&self, id: &str) -> Result<Option<ApiKey>>;
}

/// The registry's writes: what an operator sets up before and during a campaign.
#[async_trait]
pub trait Registry: Directory {
    async fn put_campus(&self, campus: &Campus) -> Result<()>;
    async fn put_station(&self, station: &Station) -> Result<()>;
    /// Keeps a new API key's record under its id; the key itself is never stored. Create-only:
    /// an id in use is [`super::StoreError::Invalid`] (`key_exists`), and so is a record
    /// [`ApiKey::validate`] refuses; a campus grant for an unknown campus is
    /// [`super::StoreError::NotFound`].
    async fn put_api_key(&self, key: &ApiKey) -> Result<()>;
    /// Revokes API key `id` at `at` (Unix seconds) and returns its record. The record stays, so
    /// the listing keeps the history. Revoking again changes nothing: the first time is kept.
    /// An unknown id is [`super::StoreError::NotFound`].
    async fn revoke_api_key(&self, id: &str, at: i64) -> Result<ApiKey>;
    /// Every API key's record, revoked and expired ones too, in id order.
    async fn api_keys(&self) -> Result<Vec<ApiKey>>;
}

/// Recording what the webhooks deliver.
#[async_trait]
pub trait Intake: Send + Sync {
    /// Records an action once, forever, under its key ([`Action::key`]: integration and id).
    /// Same key and body: a replay. Same key, other body: [`super::StoreError::Conflict`],
    /// naming the key. Every other method that takes an action `id` takes this key.
    async fn record_action(&self, action: &Action) -> Result<Recorded>;
    /// Completes the booked pickup keyed `id` with the courier's weighed amount; idempotent
    /// the same way.
    async fn complete_pickup(&self, id: &str, clothing_g: u64, at: i64) -> Result<Recorded>;
    /// The action keyed `id` (`<integration>/<id>`).
    async fn action(&self, id: &str) -> Result<Option<ActionRecord>>;
}

/// Members' accounts and entries, read by member.
#[async_trait]
pub trait Members: Send + Sync {
    /// Accounts for these members; a member never seen gets a fresh account.
    async fn accounts(&self, members: &[MemberId]) -> Result<Vec<Account>>;
    /// A member's stored entries strictly before their own sequence number `before` (None:
    /// from the newest), newest first, at most `limit`, each with that number: 0 for the
    /// member's first entry, so an account of `entries` holds numbers `0..entries`. The
    /// smallest number of a page is the `before` of the next.
    async fn member_entries(
        &self,
        member: &MemberId,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<(u64, Vec<u8>)>>;
}

/// The mapping from a person to their random member pseudonym (`docs/privacy.md`): one item
/// per [`Subject`], the only place a person leads to a member.
#[async_trait]
pub trait Pseudonyms: Send + Sync {
    /// What `subject` maps to; None if never seen, or erased.
    async fn mapping(&self, subject: &Subject) -> Result<Option<Mapping>>;
    /// The member `subject` maps to, drawing a random pseudonym at first sight with a
    /// create-only write (concurrent first sights agree on one member), noting `origin`, who
    /// saw the person first. The write comes first: callers that expect the person to be
    /// known read [`Pseudonyms::mapping`] before, so a first sight costs no second read.
    async fn member_or_new(&self, subject: &Subject, origin: &str) -> Result<MemberId>;
}

/// Erasing a person (PIPL art. 47): their mapping goes, the pseudonymous ledger stays.
#[async_trait]
pub trait Erasing: Pseudonyms {
    /// In one atomic write: deletes `subject`'s mapping if it still names `receipt`'s member,
    /// and keeps the receipt under its integration and request until `expires_at` (Unix
    /// seconds), so that the same request asked again is answered the same.
    /// [`Erased::Replay`] (with the kept receipt) if that request was answered before;
    /// [`Erased::Gone`] if the mapping no longer names that member (erased, or never seen).
    async fn erase(
        &self,
        subject: &Subject,
        receipt: &ErasureReceipt,
        expires_at: i64,
    ) -> Result<Erased>;
    /// The receipt kept for `integration`'s `request`, if it has not expired at `now`.
    async fn erasure_receipt(
        &self,
        integration: &str,
        request: &str,
        now: i64,
    ) -> Result<Option<ErasureReceipt>>;
}

/// Turning pending actions into entries: the only role that appends to a chain.
#[async_trait]
pub trait Crediting: Send + Sync {
    /// Publishes a rulebook and factor table version (idempotent; content of a version is fixed),
    /// so that every entry names versions an auditor can read.
    async fn put_rules(&self, rules: &Rules) -> Result<()>;
    /// The factor table in force: the last one `requantify` put in force (None: none was, and
    /// crediting applies its own). Read consistently, under a chain's claim.
    async fn factors_in_force(&self) -> Result<Option<FactorTable>>;
    /// Puts `factors`, published already ([`Crediting::put_rules`]), in force for crediting.
    async fn put_factors_in_force(&self, factors: &FactorTable) -> Result<()>;
    /// Pending actions, oldest recorded first, from just `after` a queue position (None: the
    /// front), at most `limit`. An item that cannot be read is listed too, with why, so that
    /// one bad item never hides the rest.
    async fn pending_actions(&self, after: Option<&str>, limit: usize) -> Result<Vec<Pending>>;
    /// The pending actions of one chain (stations spread over `shards` chains), as
    /// [`Crediting::pending_actions`] lists them; an unreadable one is listed on the first chain,
    /// which every sweep reads. Stores that queue per chain answer it with one read; the
    /// default filters the whole queue, for stores that are local.
    async fn pending_on(
        &self,
        chain: &str,
        shards: u32,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Pending>> {
        pending_filtered(self, chain, shards, after, limit).await
    }
    /// Makes `holder` the chain's one writer until `until_ms` (Unix milliseconds), unless
    /// another holder's claim runs past `now_ms`; claiming again extends one's own claim.
    /// Answers with the chain's head, so a claim costs no extra read. A claim only saves
    /// wasted work: every append is still conditioned on the head, so two writers can never
    /// fork a chain or credit an action twice, and a dead holder's claim simply runs out.
    async fn claim_chain(
        &self,
        chain: &str,
        holder: &str,
        now_ms: i64,
        until_ms: i64,
    ) -> Result<Claim>;
    /// Ends `holder`'s claim on the chain; nothing if it is not the holder any more.
    async fn release_chain(&self, chain: &str, holder: &str) -> Result<()>;
    /// Appends a batch atomically, only if the chain head and every account are as planned and
    /// every action is still pending.
    async fn append(&self, batch: &CreditBatch) -> Result<(), AppendError>;
    /// Takes a pending action out of the queue into quarantine: status `rejected` with a
    /// [`greenloop_core::records::reasons`] code and a message, listed for the operator. Only
    /// if it is still pending (true); false if it is not (credited meanwhile, or quarantined
    /// already). Works on an item that cannot be read.
    async fn quarantine(&self, id: &str, reason: &str, message: &str) -> Result<bool>;
    /// Keeps the public ranking, unless the one stored is newer (false then), so a slow writer
    /// never puts an older ranking back. One of the same second replaces it.
    async fn put_ranking(&self, ranking: &Ranking) -> Result<bool>;
}

/// [`Crediting::pending_on`] by filtering the whole queue: for local stores, and for a store
/// asked about another number of chains than it queues by.
pub async fn pending_filtered<S: Crediting + ?Sized>(
    store: &S,
    chain: &str,
    shards: u32,
    after: Option<&str>,
    limit: usize,
) -> Result<Vec<Pending>> {
    let first = chain_name(0);
    let mut after = after.map(str::to_owned);
    let mut found = Vec::new();
    while found.len() < limit {
        let page = store
            .pending_actions(after.as_deref(), limit.max(64))
            .await?;
        let Some(last) = page.last() else { break };
        after = Some(last.position.clone());
        found.extend(page.into_iter().filter(|p| match &p.action {
            Ok(a) => chain_for_station(&a.station, shards) == chain,
            Err(_) => chain == first,
        }));
    }
    found.truncate(limit);
    Ok(found)
}

/// The operator's view of the quarantine.
#[async_trait]
pub trait Quarantine: Send + Sync {
    /// Quarantined actions in action-id order, after `after`, at most `limit`.
    async fn quarantined(&self, after: Option<&str>, limit: usize) -> Result<Vec<Quarantined>>;
    /// Puts a quarantined action back at the end of the pending queue, after a fix. Idempotent:
    /// an action already pending is left as it is. An unknown id is
    /// [`super::StoreError::NotFound`]; a credited or booked one is
    /// [`super::StoreError::Invalid`].
    async fn requeue(&self, id: &str) -> Result<Requeued>;
}

/// What a university portal reads beyond accounts.
#[async_trait]
pub trait CampusQueries: Send + Sync {
    /// One campus's per-day rows, in day order.
    async fn campus_days(&self, campus: &str) -> Result<Vec<CampusDay>>;
    /// The board rows of a campus's affiliated members in [`Standing`] order (most CO2e avoided
    /// first, then by member), those strictly after `after`, at most `limit`. Ties cost
    /// nothing: a store reads one ordered page, however many members share a score.
    async fn leaderboard(
        &self,
        campus: &str,
        after: Option<&Standing>,
        limit: usize,
    ) -> Result<Vec<BoardRow>>;
}

/// The public ranking of campuses, read: what the public route answers, and what crediting
/// checks the age of before it computes a new one.
#[async_trait]
pub trait PublicRanking: Send + Sync {
    /// The ranking as crediting last kept it ([`Crediting::put_ranking`]): one read.
    async fn ranking(&self) -> Result<Option<Ranking>>;
}

/// Whether an affiliation may move a member who is affiliated elsewhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Consent {
    /// A portal asks: it may enrol a member with no campus, never take one from another campus.
    Enrol,
    /// The member asked, through the integration that authenticated them, or an operator acts:
    /// the member moves from whatever campus they had.
    Transfer,
}

impl Consent {
    /// What affiliating with `campus` a member whose campus is `current` does: the one rule both
    /// stores apply. Only [`Affiliated::Joined`] and [`Affiliated::Moved`] write.
    pub fn decide(self, current: Option<String>, campus: &str) -> Affiliated {
        match (current, self) {
            (None, _) => Affiliated::Joined,
            (Some(c), _) if c == campus => Affiliated::Unchanged,
            (Some(_), Consent::Enrol) => Affiliated::Elsewhere,
            (Some(from), Consent::Transfer) => Affiliated::Moved { from },
        }
    }
}

/// What an affiliation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Affiliated {
    /// The member had no campus (or no account) and now has this one.
    Joined,
    /// The member already had this campus; nothing was written.
    Unchanged,
    /// The member moved here from `from`, by consent.
    Moved { from: String },
    /// Refused, nothing written: the member is affiliated with another campus and did not
    /// consent to move.
    Elsewhere,
}

/// Setting a member's campus.
#[async_trait]
pub trait Affiliation: Send + Sync {
    /// Sets a member's campus as `consent` allows. Later entries carry it; past entries keep
    /// theirs. An unknown campus is [`super::StoreError::NotFound`].
    async fn affiliate(
        &self,
        member: &MemberId,
        campus: &str,
        consent: Consent,
    ) -> Result<Affiliated>;
}

/// What an auditor reads: the published versions, the chains, and the derived state to check
/// against them. A [`Store`] is one; so are a remote deployment's audit API and an export.
#[async_trait]
pub trait LedgerSource: Send + Sync {
    /// Every version ever published here, plus the built-ins.
    async fn catalog(&self) -> Result<Catalog>;
    async fn chain_heads(&self) -> Result<Vec<ChainHead>>;
    /// One chain's head (empty if the chain has no entry). Stores answer it with one read.
    async fn chain_head(&self, chain: &str) -> Result<ChainHead> {
        Ok(self
            .chain_heads()
            .await?
            .into_iter()
            .find(|h| h.chain == chain)
            .unwrap_or_else(|| ChainHead::empty(chain)))
    }
    /// Stored entries (canonical JSON with `hash`) of a chain, from `from_seq`, at most `limit`.
    async fn entries(&self, chain: &str, from_seq: u64, limit: usize) -> Result<Vec<Vec<u8>>>;
    /// Accounts in member order, after `after`, at most `limit`.
    async fn account_page(&self, after: Option<&MemberId>, limit: usize) -> Result<Vec<Account>>;
    /// Campaign totals per campus: the sum of its per-day rows.
    async fn campus_totals(&self) -> Result<Vec<CampusTotals>>;
    /// A chain's published checkpoints, smallest size first.
    async fn checkpoints(&self, chain: &str) -> Result<Vec<SignedCheckpoint>>;
    /// A page of them: sizes above `after` (None: from the smallest), at most `limit`. Stores
    /// read just the page; the default reads them all and cuts, for sources held in memory.
    async fn checkpoint_page(
        &self,
        chain: &str,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<SignedCheckpoint>> {
        Ok(self
            .checkpoints(chain)
            .await?
            .into_iter()
            .filter(|c| after.is_none_or(|a| c.checkpoint.size > a))
            .take(limit)
            .collect())
    }
    /// What waits to be credited and what is quarantined, where the source knows (a store
    /// does; an export does not hold the queue).
    async fn backlog(&self) -> Result<Option<Backlog>> {
        Ok(None)
    }
    /// Each chain's stored disposition totals, where the source keeps them, for the verifier
    /// to compare with the entries ([`DispositionQueries::disposition_totals`] on a store).
    async fn stored_disposition_totals(&self) -> Result<Option<Vec<(String, Totals)>>> {
        Ok(None)
    }
    /// The stored brand figures, where the source keeps them, for the verifier to compare with
    /// the entries: each chain's fold cursor and every standing, read as one consistent state.
    async fn stored_brand_figures(&self) -> Result<Option<StoredBrands>> {
        Ok(None)
    }
}

/// The stored brand figures as a verifier reads them: how far each chain is folded, and what
/// the standings say the folded entries add up to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBrands {
    pub cursors: Vec<(String, Cursor)>,
    pub standings: Vec<BrandStanding>,
}

/// Entering stations' disposition reports: an append to the station's chain, with the mass
/// balance (`greenloop_core::disposition`).
#[async_trait]
pub trait Disposing: Send + Sync {
    /// Enters a validated report on its station's chain (stations spread over the store's
    /// chains), atomically with the station's stock, the mill's tickets and batches and the
    /// chain's totals, if the balance allows it ([`greenloop_core::disposition::enter`]). A refusal is
    /// [`super::StoreError::Invalid`] with the rule's code, and writes nothing. The same key
    /// ([`Disposal::key`]) and body again: a replay, answered with the entry entered first; the
    /// same key with another body: [`super::StoreError::Conflict`]. Conditioned on the chain
    /// head like every append, so a crediting writer and a report never fork a chain.
    async fn dispose(&self, d: &Disposal, params: &Params) -> Result<Disposed>;
}

/// Disposition figures: each one read, never a sum over entries.
#[async_trait]
pub trait DispositionQueries: Send + Sync {
    /// A station's boxes, per chain (one row, unless the shard count changed).
    async fn station_stock(&self, station: &str) -> Result<Vec<StationStock>>;
    /// Every chain's totals; their sum is the nation's.
    async fn disposition_totals(&self) -> Result<Vec<(String, Totals)>>;
}

/// The signed Merkle tree over each chain, as read: published checkpoints, and the tree nodes
/// that let a proof be answered with O(log n) reads (`crate::checkpoint::tree`). Nothing here is
/// trusted by a verifier, which checks every proof against a signed root.
#[async_trait]
pub trait CheckpointStore: Send + Sync {
    /// The chain's checkpoint at `size`, or its latest one.
    async fn checkpoint(&self, chain: &str, size: Option<u64>) -> Result<Option<SignedCheckpoint>>;
    /// The latest checkpoint of every chain, in chain order, as the checkpoint job last kept
    /// them: one read, for the public log route.
    async fn log_checkpoints(&self) -> Result<Vec<SignedCheckpoint>>;
    /// Node hashes by (level, index): level 0 is the entry's own hash, higher levels are stored
    /// nodes. What the store does not have is left out of the answer.
    async fn tree_nodes(
        &self,
        chain: &str,
        keys: &[(u32, u64)],
    ) -> Result<HashMap<(u32, u64), Digest>>;
}

/// The tree's writes. Only the checkpoint job has them.
#[async_trait]
pub trait CheckpointWrites: CheckpointStore {
    /// Keeps a checkpoint, at most one per (chain, size): returns false, and keeps the first,
    /// when that size already has one.
    async fn put_checkpoint(&self, checkpoint: &SignedCheckpoint) -> Result<bool>;
    /// Merges `latest` into the kept latest checkpoints
    /// ([`greenloop_core::checkpoint::keep_latest`]), atomically: a racing run never takes a
    /// chain back.
    async fn keep_log_checkpoints(&self, latest: &[SignedCheckpoint]) -> Result<()>;
    /// Keeps completed tree nodes. A node's hash never changes, so writing one again is a no-op.
    async fn put_tree_nodes(&self, chain: &str, nodes: &[Node]) -> Result<()>;
}

/// The brand figures' writer (`greenloop_core::brand::fold`): the checkpoint job.
#[async_trait]
pub trait BrandFolding: Send + Sync {
    /// How far `chain` is folded; the default cursor if it never was.
    async fn brand_cursor(&self, chain: &str) -> Result<Cursor>;
    /// Writes `fold` at once, if the chain's cursor is still `fold.from`: the shares' figures,
    /// rows, member markers and index entries, and the cursor at `fold.to`. Conflict if the
    /// cursor moved (another run folded it) or a brand's figures moved under it.
    async fn fold_brands(&self, fold: &Fold) -> Result<()>;
}

/// One entry of a brand's index: its number in the index, where it is, and the entry as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrandEntry {
    pub n: u64,
    pub chain: String,
    pub seq: u64,
    pub entry: Vec<u8>,
}

/// The stored brand figures, read.
#[async_trait]
pub trait BrandQueries: Send + Sync {
    /// Every partner brand's standing, in one read: the team ranking.
    async fn brand_standings(&self) -> Result<Vec<BrandStanding>>;
    /// One brand's standing; None for a brand no folded entry names.
    async fn brand_standing(&self, brand: &str) -> Result<Option<BrandStanding>>;
    /// The brand's rows by day and campus, in (day, campus) order.
    async fn brand_rows(&self, brand: &str) -> Result<Vec<Row>>;
    /// Entries of the brand's index numbered below `before` (None: all), newest first, at most
    /// `limit`.
    async fn brand_entries(
        &self,
        brand: &str,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<BrandEntry>>;
}

/// The `scan` function: registry reads, intake, accounts for a pledge's returned boxes, the
/// pseudonym mapping, and erasure (whose receipt names the log's latest checkpoints).
pub trait ScanStore: Directory + Intake + Members + Erasing + CheckpointStore {}
impl<T: Directory + Intake + Members + Erasing + CheckpointStore + ?Sized> ScanStore for T {}

/// The `dispose` function: the registry (whose stations an integration owns) and disposition.
pub trait DisposeStore: Directory + Disposing {}
impl<T: Directory + Disposing + ?Sized> DisposeStore for T {}

/// The `credit` function: crediting, action status, and the accounts it updates.
/// The campus list and their rows per day are for the public ranking it keeps.
pub trait CreditStore:
    Crediting + Intake + Members + LedgerSource + Campuses + CampusQueries + PublicRanking
{
}
impl<
        T: Crediting
            + Intake
            + Members
            + LedgerSource
            + Campuses
            + CampusQueries
            + PublicRanking
            + ?Sized,
    > CreditStore for T
{
}

/// The `campus` function: portal queries, campus totals, the affiliation write, and the
/// pseudonym mapping (a portal looks a member up, and enrols one at first sight).
pub trait CampusStore:
    Directory + CampusQueries + PublicRanking + Members + Affiliation + LedgerSource + Pseudonyms
{
}
impl<
        T: Directory
            + CampusQueries
            + PublicRanking
            + Members
            + Affiliation
            + LedgerSource
            + Pseudonyms
            + ?Sized,
    > CampusStore for T
{
}

/// The `audit` function: the whole ledger, checkpoints and proofs, read-only.
pub trait AuditStore:
    Directory + LedgerSource + CheckpointStore + Members + DispositionQueries + BrandStore + PublicStore
{
}
impl<
        T: Directory
            + LedgerSource
            + CheckpointStore
            + Members
            + DispositionQueries
            + BrandStore
            + PublicStore
            + ?Sized,
    > AuditStore for T
{
}

/// The public log and packaging routes (served by `audit`): checkpoints, consistency proofs
/// (which check the chain's latest checkpoint), the disposition totals. No key records: they
/// take no key.
pub trait PublicStore: LedgerSource + CheckpointStore + DispositionQueries {}
impl<T: LedgerSource + CheckpointStore + DispositionQueries + ?Sized> PublicStore for T {}

/// The brand routes (served by `audit`): key records, the brand figures, and proofs.
pub trait BrandStore: Directory + CheckpointStore + BrandQueries {}
impl<T: Directory + CheckpointStore + BrandQueries + ?Sized> BrandStore for T {}

/// The `checkpoint` function: reads the chains, writes the tree and the brand figures.
pub trait TreeStore: LedgerSource + CheckpointWrites + BrandFolding {}
impl<T: LedgerSource + CheckpointWrites + BrandFolding + ?Sized> TreeStore for T {}

/// Everything Greenloop keeps: the sum of the roles. `greenloop` (the operator's tool) and the
/// tests hold one; each function narrows it to its own sum.
pub trait Store:
    Registry
    + ScanStore
    + DisposeStore
    + CreditStore
    + CampusStore
    + AuditStore
    + TreeStore
    + Quarantine
{
}
impl<
        T: Registry
            + ScanStore
            + DisposeStore
            + CreditStore
            + CampusStore
            + AuditStore
            + TreeStore
            + Quarantine
            + ?Sized,
    > Store for T
{
}
