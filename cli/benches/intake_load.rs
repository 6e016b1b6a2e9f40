//! Load on the local server over loopback TCP, set up as `greenloop serve` sets it up: the
//! embedded store in a temporary directory, `App::new`, `greenloop::http::router` on
//! 127.0.0.1:0, and `credit_continuously` woken by `app.recorded`. (It serves with
//! `axum::serve`; `greenloop serve` runs hyper itself, with each request head checked first,
//! a copy of the head and body on the way in.)
//!
//! `cargo bench -p greenloop-cli --bench intake_load` runs, in one process:
//!
//! 0. the durable-write ceiling: single-row redb commits/s, fsynced and not, on the same disk,
//!    and `put_rules` of unchanged rules (what each crediting pass starts with);
//! 1. the HTTP ceiling: `GET /health` from `INTAKE_BENCH_CONNS` keep-alive connections (32);
//! 2. intake: distinct signed `POST /v1/scans` on the same connections; every answer must be 202;
//! 3. crediting: from the end of intake until no action is pending, then a verification (every
//!    scan credited once, the chains and totals intact);
//! 4. on a second server whose crediting task is held back: the same intake, alone;
//! 5. then its crediting task starts, and drains the backlog; verified the same way.
//!
//! It prints a table of rates, latency percentiles, crediting's appends (entries per durable
//! commit) and ratios. Phases 1, 2 and 4 last `INTAKE_BENCH_SECS` seconds each (10);
//! `INTAKE_BENCH_USERS` (10000) sets how many users send scans; `INTAKE_BENCH_DIR` picks where
//! the temporary data directory goes.
//!
//! The client is a bare hyper HTTP/1.1 connection per task on its own tokio runtime, so that
//! client and server are separate like two processes; they still share the machine's cores.

use greenloop::brand::fold::{BrandStanding, Cursor, Fold};
use greenloop::brand::Row;
use greenloop::catalog::Catalog;
use greenloop::catalog::Rules;
use greenloop::checkpoint::SignedCheckpoint;
use greenloop::config::DEFAULT_SHARDS;
use greenloop::credit::{credit_continuously, MAX_BATCH};
use greenloop::disposition::{Disposal, Params, StationStock, Totals};
use greenloop::domain::Action;
use greenloop::domain::{Campus, MemberId, Pepper, Station, Subject};
use greenloop::factors::FactorTable;
use greenloop::http::signature::{sign, Message, KEY_ID_HEADER, SIGNATURE_HEADER};
use greenloop::http::{self, App, Integrations};
use greenloop::merkle::frontier::Node;
use greenloop::ranking::{BoardRow, Ranking, Standing};
use greenloop::receipt::ErasureReceipt;
use greenloop::store::embedded::EmbeddedStore;
use greenloop::store::{
    Account, ActionRecord, ApiKey, AppendError, Backlog, CampusDay, CampusTotals, ChainHead,
    CheckpointStore, CreditBatch, LedgerSource, Pending, Quarantine, Quarantined, Recorded,
    Requeued, Result as StoreResult, Store,
};
use greenloop::store::{Affiliated, Campuses, Claim, Consent, PublicRanking};
use greenloop::store::{
    Affiliation, CampusQueries, CheckpointWrites, Crediting, Directory, Intake, Members, Registry,
};
use greenloop::store::{BrandEntry, BrandFolding, BrandQueries};
use greenloop::store::{Disposed, Disposing, DispositionQueries};
use greenloop::store::{Erased, Erasing, Mapping, Pseudonyms};
use greenloop::verify::verify_store;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

const KEY_ID: &str = "bench-qr";
const SECRET: &str = "bench-secret-0123456789abcdef";
const PEPPER: &[u8] = b"intake-bench-pepper-0123456789";
/// Scans are dated up to a day back: inside the rulebook's grace and the bench's window.
const SPREAD: i64 = 86_400;
const STATIONS: usize = 50;
const CAMPUSES: [(&str, &str, &str); 4] = [
    ("sjtu", "Shanghai Jiao Tong University", "Shanghai"),
    ("scu", "Sichuan University", "Chengdu"),
    ("tju", "Tianjin University", "Tianjin"),
    ("thu", "Tsinghua University", "Beijing"),
];
const CITIES: [&str; 6] = [
    "Shanghai", "Chengdu", "Tianjin", "Beijing", "Hangzhou", "Shenzhen",
];

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&v| v > 0)
        .unwrap_or(default)
}

/// The default rules with the campaign window around the bench's start, so that intake takes
/// every scan whatever the date; one value per run, as a deployment publishes one.
fn rules() -> Rules {
    static RULES: std::sync::OnceLock<Rules> = std::sync::OnceLock::new();
    RULES
        .get_or_init(|| {
            let mut rules = Rules::defaults();
            let now = unix_now();
            rules.rulebook = rules
                .rulebook
                .with_window("bench-window", now - 10 * 86_400, now + 10 * 86_400)
                .expect("a window around now");
            rules
        })
        .clone()
}

/// When the bench started, in Unix seconds.
fn started() -> i64 {
    static STARTED: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    *STARTED.get_or_init(unix_now)
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_secs() as i64
}

fn user(n: u64) -> String {
    format!("bench-user-{n:06}")
}

/// Single-row redb commits per second for `dur`, fsynced or not: the store's write ceiling.
fn redb_commits(dir: &Path, durable: bool, dur: Duration) -> f64 {
    const T: redb::TableDefinition<u64, &[u8]> = redb::TableDefinition::new("bench");
    let name = if durable { "durable.redb" } else { "none.redb" };
    let db = redb::Database::create(dir.join(name)).expect("a scratch redb");
    // About the size of one recorded action's JSON.
    let value = [b'x'; 400];
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < dur {
        let mut txn = db.begin_write().expect("a write transaction");
        if !durable {
            txn.set_durability(redb::Durability::None)
                .expect("durability");
        }
        txn.open_table(T)
            .expect("the table")
            .insert(n, value.as_slice())
            .expect("an insert");
        txn.commit().expect("a commit");
        n += 1;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

/// The embedded store, counting the crediting stage's writes: appends (each one durable commit
/// of up to `MAX_BATCH` entries) and `put_rules` calls (one per crediting pass). Everything
/// else passes straight through.
struct Counted {
    inner: EmbeddedStore,
    appends: AtomicU64,
    appended: AtomicU64,
    rules: AtomicU64,
}

/// What the crediting stage wrote, from [`Counted`].
#[derive(Clone, Copy, Default)]
struct Writes {
    appends: u64,
    appended: u64,
    passes: u64,
}

impl Writes {
    fn minus(self, before: Writes) -> Writes {
        Writes {
            appends: self.appends - before.appends,
            appended: self.appended - before.appended,
            passes: self.passes - before.passes,
        }
    }

    fn per_append(self) -> f64 {
        self.appended as f64 / self.appends.max(1) as f64
    }
}

impl Counted {
    fn writes(&self) -> Writes {
        Writes {
            appends: self.appends.load(Relaxed),
            appended: self.appended.load(Relaxed),
            passes: self.rules.load(Relaxed),
        }
    }
}

#[async_trait::async_trait]
impl LedgerSource for Counted {
    async fn catalog(&self) -> StoreResult<Catalog> {
        self.inner.catalog().await
    }
    async fn chain_heads(&self) -> StoreResult<Vec<ChainHead>> {
        self.inner.chain_heads().await
    }
    async fn entries(&self, chain: &str, from: u64, limit: usize) -> StoreResult<Vec<Vec<u8>>> {
        self.inner.entries(chain, from, limit).await
    }
    async fn account_page(
        &self,
        after: Option<&MemberId>,
        limit: usize,
    ) -> StoreResult<Vec<Account>> {
        self.inner.account_page(after, limit).await
    }
    async fn campus_totals(&self) -> StoreResult<Vec<CampusTotals>> {
        self.inner.campus_totals().await
    }
    async fn checkpoints(&self, chain: &str) -> StoreResult<Vec<SignedCheckpoint>> {
        self.inner.checkpoints(chain).await
    }
    async fn checkpoint_page(
        &self,
        chain: &str,
        after: Option<u64>,
        limit: usize,
    ) -> StoreResult<Vec<SignedCheckpoint>> {
        self.inner.checkpoint_page(chain, after, limit).await
    }
    async fn backlog(&self) -> StoreResult<Option<Backlog>> {
        self.inner.backlog().await
    }
    async fn chain_head(&self, chain: &str) -> StoreResult<ChainHead> {
        self.inner.chain_head(chain).await
    }
}

#[async_trait::async_trait]
impl Campuses for Counted {
    async fn campuses(&self) -> StoreResult<Vec<Campus>> {
        self.inner.campuses().await
    }
}

#[async_trait::async_trait]
impl Directory for Counted {
    async fn station(&self, id: &str) -> StoreResult<Option<Station>> {
        self.inner.station(id).await
    }
    async fn api_key(&self, id: &str) -> StoreResult<Option<ApiKey>> {
        self.inner.api_key(id).await
    }
}

#[async_trait::async_trait]
impl Registry for Counted {
    async fn put_campus(&self, campus: &Campus) -> StoreResult<()> {
        self.inner.put_campus(campus).await
    }
    async fn put_station(&self, station: &Station) -> StoreResult<()> {
        self.inner.put_station(station).await
    }
    async fn put_api_key(&self, key: &ApiKey) -> StoreResult<()> {
        self.inner.put_api_key(key).await
    }
    async fn revoke_api_key(&self, id: &str, at: i64) -> StoreResult<ApiKey> {
        self.inner.revoke_api_key(id, at).await
    }
    async fn api_keys(&self) -> StoreResult<Vec<ApiKey>> {
        self.inner.api_keys().await
    }
}

#[async_trait::async_trait]
impl Intake for Counted {
    async fn record_action(&self, action: &Action) -> StoreResult<Recorded> {
        self.inner.record_action(action).await
    }
    async fn complete_pickup(&self, id: &str, clothing_g: u64, at: i64) -> StoreResult<Recorded> {
        self.inner.complete_pickup(id, clothing_g, at).await
    }
    async fn action(&self, id: &str) -> StoreResult<Option<ActionRecord>> {
        self.inner.action(id).await
    }
}

#[async_trait::async_trait]
impl Members for Counted {
    async fn accounts(&self, members: &[MemberId]) -> StoreResult<Vec<Account>> {
        self.inner.accounts(members).await
    }
    async fn member_entries(
        &self,
        member: &MemberId,
        before: Option<u64>,
        limit: usize,
    ) -> StoreResult<Vec<(u64, Vec<u8>)>> {
        self.inner.member_entries(member, before, limit).await
    }
}

#[async_trait::async_trait]
impl Pseudonyms for Counted {
    async fn mapping(&self, subject: &Subject) -> StoreResult<Option<Mapping>> {
        self.inner.mapping(subject).await
    }
    async fn member_or_new(&self, subject: &Subject, origin: &str) -> StoreResult<MemberId> {
        self.inner.member_or_new(subject, origin).await
    }
}

#[async_trait::async_trait]
impl Erasing for Counted {
    async fn erase(
        &self,
        subject: &Subject,
        receipt: &ErasureReceipt,
        expires_at: i64,
    ) -> StoreResult<Erased> {
        self.inner.erase(subject, receipt, expires_at).await
    }
    async fn erasure_receipt(
        &self,
        integration: &str,
        request: &str,
        now: i64,
    ) -> StoreResult<Option<ErasureReceipt>> {
        self.inner.erasure_receipt(integration, request, now).await
    }
}

#[async_trait::async_trait]
impl Crediting for Counted {
    async fn put_rules(&self, rules: &Rules) -> StoreResult<()> {
        self.rules.fetch_add(1, Relaxed);
        self.inner.put_rules(rules).await
    }
    async fn factors_in_force(&self) -> StoreResult<Option<FactorTable>> {
        self.inner.factors_in_force().await
    }
    async fn put_factors_in_force(&self, factors: &FactorTable) -> StoreResult<()> {
        self.inner.put_factors_in_force(factors).await
    }
    async fn pending_actions(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<Pending>> {
        self.inner.pending_actions(after, limit).await
    }
    async fn claim_chain(
        &self,
        chain: &str,
        holder: &str,
        now_ms: i64,
        until_ms: i64,
    ) -> StoreResult<Claim> {
        self.inner
            .claim_chain(chain, holder, now_ms, until_ms)
            .await
    }
    async fn release_chain(&self, chain: &str, holder: &str) -> StoreResult<()> {
        self.inner.release_chain(chain, holder).await
    }
    async fn append(&self, batch: &CreditBatch) -> StoreResult<(), AppendError> {
        self.inner.append(batch).await?;
        self.appends.fetch_add(1, Relaxed);
        self.appended.fetch_add(batch.entries.len() as u64, Relaxed);
        Ok(())
    }
    async fn quarantine(&self, id: &str, reason: &str, message: &str) -> StoreResult<bool> {
        self.inner.quarantine(id, reason, message).await
    }
    async fn put_ranking(&self, ranking: &Ranking) -> StoreResult<bool> {
        self.inner.put_ranking(ranking).await
    }
}

#[async_trait::async_trait]
impl Quarantine for Counted {
    async fn quarantined(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<Quarantined>> {
        self.inner.quarantined(after, limit).await
    }
    async fn requeue(&self, id: &str) -> StoreResult<Requeued> {
        self.inner.requeue(id).await
    }
}

#[async_trait::async_trait]
impl CampusQueries for Counted {
    async fn campus_days(&self, campus: &str) -> StoreResult<Vec<CampusDay>> {
        self.inner.campus_days(campus).await
    }
    async fn leaderboard(
        &self,
        campus: &str,
        after: Option<&Standing>,
        limit: usize,
    ) -> StoreResult<Vec<BoardRow>> {
        self.inner.leaderboard(campus, after, limit).await
    }
}

#[async_trait::async_trait]
impl PublicRanking for Counted {
    async fn ranking(&self) -> StoreResult<Option<Ranking>> {
        self.inner.ranking().await
    }
}

#[async_trait::async_trait]
impl Affiliation for Counted {
    async fn affiliate(
        &self,
        member: &MemberId,
        campus: &str,
        consent: Consent,
    ) -> StoreResult<Affiliated> {
        self.inner.affiliate(member, campus, consent).await
    }
}

#[async_trait::async_trait]
impl CheckpointStore for Counted {
    async fn checkpoint(
        &self,
        chain: &str,
        size: Option<u64>,
    ) -> StoreResult<Option<SignedCheckpoint>> {
        self.inner.checkpoint(chain, size).await
    }
    async fn log_checkpoints(&self) -> StoreResult<Vec<SignedCheckpoint>> {
        self.inner.log_checkpoints().await
    }
    async fn tree_nodes(
        &self,
        chain: &str,
        keys: &[(u32, u64)],
    ) -> StoreResult<std::collections::HashMap<(u32, u64), greenloop::ledger::Digest>> {
        self.inner.tree_nodes(chain, keys).await
    }
}

#[async_trait::async_trait]
impl CheckpointWrites for Counted {
    async fn put_checkpoint(&self, c: &SignedCheckpoint) -> StoreResult<bool> {
        self.inner.put_checkpoint(c).await
    }
    async fn keep_log_checkpoints(&self, latest: &[SignedCheckpoint]) -> StoreResult<()> {
        self.inner.keep_log_checkpoints(latest).await
    }
    async fn put_tree_nodes(&self, chain: &str, nodes: &[Node]) -> StoreResult<()> {
        self.inner.put_tree_nodes(chain, nodes).await
    }
}

/// `put_rules` calls per second on an unchanged store: what each crediting pass pays first.
async fn put_rules_rate(dir: &Path, dur: Duration) -> f64 {
    let store = EmbeddedStore::open(dir).expect("a scratch store");
    let rules = rules();
    store.put_rules(&rules).await.expect("the rules");
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < dur {
        store.put_rules(&rules).await.expect("the rules");
        n += 1;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

/// A running server.
struct Server {
    addr: SocketAddr,
    store: Arc<dyn Store>,
    counted: Arc<Counted>,
    /// What intake wakes crediting with.
    recorded: Arc<tokio::sync::Notify>,
}

/// Registers campuses and stations and affiliates two users in five, then starts the server the
/// way `greenloop serve` does; with `credit` false the crediting task is held back (phase 4).
/// Runs on the server's runtime.
async fn start_server(dir: &Path, users: u64, credit: bool) -> Server {
    let rules = rules();
    let pepper = Pepper::new(PEPPER).expect("a long pepper");
    let integrations = Integrations::parse(&format!("{KEY_ID}={SECRET}")).expect("a secret");
    let embedded = EmbeddedStore::open(dir).expect("the embedded store");
    // Registration is setup, not the thing measured: no fsync per row.
    embedded.set_bulk(true).expect("bulk mode");
    for (id, name, city) in CAMPUSES {
        embedded
            .put_campus(&Campus {
                id: id.into(),
                name: name.into(),
                city: city.into(),
            })
            .await
            .expect("a campus");
    }
    for i in 0..STATIONS {
        embedded
            .put_station(&Station {
                id: format!("st-{i:04}"),
                city: CITIES[i % CITIES.len()].into(),
                campus: (i % 3 == 0).then(|| CAMPUSES[i % CAMPUSES.len()].0.to_owned()),
                integrations: vec![KEY_ID.into()],
            })
            .await
            .expect("a station");
    }
    for u in (0..users).filter(|u| u % 5 < 2) {
        let member = MemberId::pseudonym(&pepper, &user(u));
        let campus = CAMPUSES[u as usize % CAMPUSES.len()].0;
        embedded
            .affiliate(&member, campus, Consent::Enrol)
            .await
            .expect("an affiliation");
    }
    embedded.set_bulk(false).expect("durable mode");

    // From here on, what `greenloop serve` does.
    let counted = Arc::new(Counted {
        inner: embedded,
        appends: AtomicU64::new(0),
        appended: AtomicU64::new(0),
        rules: AtomicU64::new(0),
    });
    let store: Arc<dyn Store> = counted.clone();
    store.put_rules(&rules).await.expect("the rules");
    let app = App::new(store.clone(), pepper, integrations, rules.clone());
    let recorded = app.recorded.clone();
    if credit {
        tokio::spawn(credit_continuously(
            store.clone(),
            rules,
            DEFAULT_SHARDS,
            recorded.clone(),
        ));
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let addr = listener.local_addr().expect("the bound address");
    tokio::spawn(async move {
        axum::serve(listener, http::router(app))
            .await
            .expect("the server runs")
    });
    Server {
        addr,
        store,
        counted,
        recorded,
    }
}

/// A runtime built as `greenloop` builds its own.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// Verifies the ledger and checks that it holds exactly `scans` entries.
async fn verified(store: &dyn Store, scans: u64) -> greenloop::ledger::verify::Report {
    let report = verify_store(store, |_| {}).await.expect("the ledger reads");
    assert!(
        report.is_ok(),
        "verification failed: {}",
        report.first_problem().map_or("-".into(), |p| p.to_string())
    );
    assert_eq!(
        report.entries, scans,
        "every accepted scan is credited exactly once"
    );
    report
}

async fn connect(addr: SocketAddr) -> SendRequest<Full<Bytes>> {
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("a connection");
    stream.set_nodelay(true).expect("nodelay");
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("an HTTP/1.1 handshake");
    tokio::spawn(conn);
    sender
}

/// What one connection saw.
#[derive(Default)]
struct Tally {
    /// Microseconds from sending to the last byte of the answer.
    latencies: Vec<u32>,
    statuses: BTreeMap<u16, u64>,
    /// The first answer that was not the expected status.
    unexpected: Option<String>,
}

/// One keep-alive connection sending `make(n)` for n = 0, 1, … until `deadline`.
async fn drive(
    addr: SocketAddr,
    deadline: Instant,
    expect: StatusCode,
    make: impl Fn(u64) -> Request<Full<Bytes>>,
) -> Tally {
    let mut sender = connect(addr).await;
    let mut tally = Tally {
        latencies: Vec::with_capacity(1 << 16),
        ..Tally::default()
    };
    let mut n = 0u64;
    while Instant::now() < deadline {
        let req = make(n);
        n += 1;
        sender.ready().await.expect("the connection stays open");
        let t = Instant::now();
        let res = sender.send_request(req).await.expect("an answer");
        let status = res.status();
        let body = res
            .into_body()
            .collect()
            .await
            .expect("the whole body")
            .to_bytes();
        tally
            .latencies
            .push(t.elapsed().as_micros().min(u32::MAX as u128) as u32);
        *tally.statuses.entry(status.as_u16()).or_default() += 1;
        if status != expect && tally.unexpected.is_none() {
            tally.unexpected = Some(format!("{status}: {}", String::from_utf8_lossy(&body)));
        }
    }
    tally
}

/// A phase's merged result.
struct Phase {
    requests: u64,
    secs: f64,
    p50_ms: f64,
    p99_ms: f64,
    statuses: BTreeMap<u16, u64>,
    unexpected: Option<String>,
}

impl Phase {
    fn rate(&self) -> f64 {
        self.requests as f64 / self.secs
    }

    fn count(&self, status: StatusCode) -> u64 {
        self.statuses.get(&status.as_u16()).copied().unwrap_or(0)
    }

    /// Fails loudly when any answer was not `expect`.
    fn all(&self, expect: StatusCode, what: &str) {
        let good = self.count(expect);
        assert!(
            good == self.requests,
            "{what}: {} of {} answers were not {expect}: {:?}; first: {}",
            self.requests - good,
            self.requests,
            self.statuses,
            self.unexpected.as_deref().unwrap_or("-")
        );
    }
}

/// Runs `conns` connections for `secs`, each sending requests made by `make(conn, n)`.
async fn phase<F>(addr: SocketAddr, conns: u64, secs: u64, expect: StatusCode, make: F) -> Phase
where
    F: Fn(u64, u64) -> Request<Full<Bytes>> + Send + Sync + Copy + 'static,
{
    let start = Instant::now();
    let deadline = start + Duration::from_secs(secs);
    let tasks: Vec<_> = (0..conns)
        .map(|c| tokio::spawn(drive(addr, deadline, expect, move |n| make(c, n))))
        .collect();
    let mut latencies = Vec::new();
    let mut statuses = BTreeMap::new();
    let mut unexpected = None;
    for t in tasks {
        let tally = t.await.expect("a client task");
        latencies.extend(tally.latencies);
        for (s, n) in tally.statuses {
            *statuses.entry(s).or_default() += n;
        }
        unexpected = unexpected.or(tally.unexpected);
    }
    let secs = start.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let pct = |p: usize| {
        latencies
            .get((latencies.len() * p / 100).min(latencies.len().saturating_sub(1)))
            .map_or(f64::NAN, |&us| us as f64 / 1000.0)
    };
    Phase {
        requests: latencies.len() as u64,
        secs,
        p50_ms: pct(50),
        p99_ms: pct(99),
        statuses,
        unexpected,
    }
}

fn health(addr: SocketAddr) -> impl Fn(u64, u64) -> Request<Full<Bytes>> + Copy {
    move |_, _| {
        Request::builder()
            .method(Method::GET)
            .uri("/health")
            .header(hyper::header::HOST, addr.to_string())
            .body(Full::new(Bytes::new()))
            .expect("a request")
    }
}

/// The `k`th scan of the run: a distinct id, one of `users` users, one of the stations, a time
/// inside the window, and a realistic mix of boxes (a third of them a partner brand's) and books.
fn scan_body(k: u64, users: u64) -> Vec<u8> {
    let brand = match k % 3 {
        0 => serde_json::Value::from(format!("brand-{:02}", 1 + k % 50)),
        _ => serde_json::Value::Null,
    };
    serde_json::to_vec(&serde_json::json!({
        "scan_id": format!("load-{k:09}"),
        "user": user(k.wrapping_mul(7_919) % users),
        "station": format!("st-{:04}", k % STATIONS as u64),
        "at": started() - (k as i64 * 37) % SPREAD,
        "items": {
            "books": k % 3,
            "boxes": [{"brand": brand, "count": 1 + k % 4}],
            "clothing_g": 0,
            "shoes": 0,
        },
    }))
    .expect("JSON")
}

fn scans(
    addr: SocketAddr,
    conns: u64,
    users: u64,
) -> impl Fn(u64, u64) -> Request<Full<Bytes>> + Copy {
    move |c, n| {
        let body = scan_body(n * conns + c, users);
        let message = Message::new("POST", "/v1/scans", KEY_ID, &body);
        let signature = sign(SECRET.as_bytes(), &message, unix_now());
        Request::builder()
            .method(Method::POST)
            .uri("/v1/scans")
            .header(hyper::header::HOST, addr.to_string())
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .header(KEY_ID_HEADER, KEY_ID)
            .header(SIGNATURE_HEADER, signature)
            .body(Full::new(Bytes::from(body)))
            .expect("a request")
    }
}

async fn pending_count(store: &dyn Store) -> u64 {
    store
        .pending_actions(None, usize::MAX)
        .await
        .expect("the pending list")
        .len() as u64
}

/// Waits until nothing is pending.
async fn drained(store: &dyn Store, limit: Duration) {
    let start = Instant::now();
    loop {
        if store
            .pending_actions(None, 1)
            .await
            .expect("the pending list")
            .is_empty()
        {
            return;
        }
        assert!(
            start.elapsed() < limit,
            "crediting did not finish within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

fn main() {
    // `cargo bench` passes `--bench`; this harness has no filters to take.
    let secs = env_or("INTAKE_BENCH_SECS", 10);
    let conns = env_or("INTAKE_BENCH_CONNS", 32);
    let users = env_or("INTAKE_BENCH_USERS", 10_000);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let dir = match std::env::var_os("INTAKE_BENCH_DIR") {
        Some(d) => tempfile::tempdir_in(d),
        None => tempfile::tempdir(),
    }
    .expect("a temporary directory");
    println!(
        "intake_load: {conns} connections, {secs} s per phase, {users} users, {STATIONS} \
         stations, {DEFAULT_SHARDS} chains, {cores} cores shared by client and server"
    );
    println!("  data in {}", dir.path().display());

    // The client has a runtime of its own; each server gets one built as `greenloop` builds it.
    let client_rt = runtime();

    // 0. The durable-write ceiling, before any server exists.
    let scratch = dir.path().join("scratch");
    std::fs::create_dir_all(&scratch).expect("a scratch directory");
    let ceiling_time = Duration::from_secs(secs.clamp(1, 3));
    let durable = redb_commits(&scratch, true, ceiling_time);
    let volatile = redb_commits(&scratch, false, ceiling_time);
    let rules_rate = client_rt.block_on(put_rules_rate(&scratch.join("rules"), ceiling_time));

    // Phases 1-3 on a server exactly as `greenloop serve` runs it.
    let server_rt = runtime();
    let a = server_rt.block_on(start_server(&dir.path().join("serve"), users, true));
    let (health_phase, intake, pending_at_end, lag, live, report) = client_rt.block_on(async {
        // 1. Ceiling: a short warm-up, then the measured run.
        phase(a.addr, conns, 1, StatusCode::OK, health(a.addr)).await;
        let h = phase(a.addr, conns, secs, StatusCode::OK, health(a.addr)).await;
        h.all(StatusCode::OK, "GET /health");

        // 2. Intake, crediting in-process as it goes.
        let before = a.counted.writes();
        let i = phase(
            a.addr,
            conns,
            secs,
            StatusCode::ACCEPTED,
            scans(a.addr, conns, users),
        )
        .await;
        // 3. Crediting: from the end of intake until nothing is pending.
        let end = Instant::now();
        let pending = pending_count(a.store.as_ref()).await;
        drained(a.store.as_ref(), Duration::from_secs(600)).await;
        let lag = end.elapsed();
        let live = a.counted.writes().minus(before);
        i.all(StatusCode::ACCEPTED, "POST /v1/scans");
        let report = verified(a.store.as_ref(), i.requests).await;
        (h, i, pending, lag, live, report)
    });
    server_rt.shutdown_timeout(Duration::from_secs(5));

    // Phases 4-5 on a second server whose crediting task starts only after intake: intake
    // without a crediting writer beside it, then crediting alone on the backlog.
    let server_rt = runtime();
    let b = server_rt.block_on(start_server(&dir.path().join("held"), users, false));
    let (held, backlog, drain, alone) = client_rt.block_on(async {
        let i = phase(
            b.addr,
            conns,
            secs,
            StatusCode::ACCEPTED,
            scans(b.addr, conns, users),
        )
        .await;
        i.all(StatusCode::ACCEPTED, "POST /v1/scans, crediting held back");
        let backlog = pending_count(b.store.as_ref()).await;
        assert_eq!(backlog, i.requests, "nothing was credited yet");
        let before = b.counted.writes();
        let start = Instant::now();
        server_rt.spawn(credit_continuously(
            b.store.clone(),
            rules(),
            DEFAULT_SHARDS,
            b.recorded.clone(),
        ));
        drained(b.store.as_ref(), Duration::from_secs(600)).await;
        let drain = start.elapsed();
        let alone = b.counted.writes().minus(before);
        verified(b.store.as_ref(), i.requests).await;
        (i, backlog, drain, alone)
    });
    server_rt.shutdown_timeout(Duration::from_secs(5));

    let row = |name: &str, rate: f64, unit: &str, latency: Option<&Phase>| match latency {
        Some(p) => println!(
            "{name:<50} {rate:>9.0} {unit:<3} {:>9.2} {:>9.2}",
            p.p50_ms, p.p99_ms
        ),
        None => println!("{name:<50} {rate:>9.0} {unit:<3}"),
    };
    let value = |name: &str, v: String| println!("{name:<50} {v:>13}");
    let batches = |w: Writes| {
        format!(
            "{} in {} appends, {:.1} per append, {} passes",
            w.appended,
            w.appends,
            w.per_append(),
            w.passes
        )
    };
    println!();
    println!("{:<50} {:>13} {:>9} {:>9}", "", "rate", "p50 ms", "p99 ms");
    row(
        "1. GET /health (HTTP ceiling)",
        health_phase.rate(),
        "r/s",
        Some(&health_phase),
    );
    row(
        &format!("2. POST /v1/scans, signed, {} x 202", intake.requests),
        intake.rate(),
        "r/s",
        Some(&intake),
    );
    value(
        "   ratio intake / health",
        format!("{:.4}", intake.rate() / health_phase.rate()),
    );
    value(
        "3. credited while intake ran",
        format!("{}", intake.requests - pending_at_end),
    );
    value(
        "   pending at end of intake, drained in",
        format!("{pending_at_end} in {:.0} ms", lag.as_secs_f64() * 1000.0),
    );
    row(
        "   credited actions/s, intake start to drained",
        intake.requests as f64 / (intake.secs + lag.as_secs_f64()),
        "a/s",
        None,
    );
    value("   crediting writes", batches(live));
    row(
        &format!("4. POST /v1/scans, crediting held, {} x 202", held.requests),
        held.rate(),
        "r/s",
        Some(&held),
    );
    value(
        "   ratio intake (2) / intake held back (4)",
        format!("{:.3}", intake.rate() / held.rate()),
    );
    let credit_rate = backlog as f64 / drain.as_secs_f64();
    row(
        &format!("5. crediting a backlog of {backlog}, alone"),
        credit_rate,
        "a/s",
        None,
    );
    value("   crediting writes", batches(alone));
    row(
        "0. redb 1-row commits, durable (fsync)",
        durable,
        "c/s",
        None,
    );
    row(
        "   redb 1-row commits, Durability::None",
        volatile,
        "c/s",
        None,
    );
    row(
        "   put_rules, unchanged (once per pass)",
        rules_rate,
        "c/s",
        None,
    );
    value(
        "   ratio intake (2) / durable commits",
        format!("{:.3}", intake.rate() / durable),
    );
    value(
        "   ratio intake held back (4) / durable commits",
        format!("{:.3}", held.rate() / durable),
    );
    value(
        &format!("   ratio crediting (5) / ({MAX_BATCH} x durable)"),
        format!("{:.3}", credit_rate / (MAX_BATCH as f64 * durable)),
    );
    println!(
        "verification: OK, {} entries on {} chains, {} members, {} campuses (and OK after 4-5)",
        report.entries,
        report.chains.len(),
        report.members,
        report.campuses
    );
}

#[async_trait::async_trait]
impl Disposing for Counted {
    async fn dispose(&self, d: &Disposal, params: &Params) -> StoreResult<Disposed> {
        self.inner.dispose(d, params).await
    }
}

#[async_trait::async_trait]
impl BrandFolding for Counted {
    async fn brand_cursor(&self, chain: &str) -> StoreResult<Cursor> {
        self.inner.brand_cursor(chain).await
    }
    async fn fold_brands(&self, fold: &Fold) -> StoreResult<()> {
        self.inner.fold_brands(fold).await
    }
}

#[async_trait::async_trait]
impl BrandQueries for Counted {
    async fn brand_standings(&self) -> StoreResult<Vec<BrandStanding>> {
        self.inner.brand_standings().await
    }
    async fn brand_standing(&self, brand: &str) -> StoreResult<Option<BrandStanding>> {
        self.inner.brand_standing(brand).await
    }
    async fn brand_rows(&self, brand: &str) -> StoreResult<Vec<Row>> {
        self.inner.brand_rows(brand).await
    }
    async fn brand_entries(
        &self,
        brand: &str,
        before: Option<u64>,
        limit: usize,
    ) -> StoreResult<Vec<BrandEntry>> {
        self.inner.brand_entries(brand, before, limit).await
    }
}

#[async_trait::async_trait]
impl DispositionQueries for Counted {
    async fn station_stock(&self, station: &str) -> StoreResult<Vec<StationStock>> {
        self.inner.station_stock(station).await
    }
    async fn disposition_totals(&self) -> StoreResult<Vec<(String, Totals)>> {
        self.inner.disposition_totals().await
    }
}
