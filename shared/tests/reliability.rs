//! The fault-injection suite (`docs/reliability.md`): crediting a few hundred actions over
//! [`SHARDS`] chains while real faults fire, on the embedded store and on DynamoDB Local, then
//! a clean run; afterwards every acknowledged action must be credited exactly once or
//! quarantined with a reason, nothing lost, and every chain, balance and campus total must
//! verify.
//!
//! Faults come from `greenloop_testkit::faults::Faulty` (a store wrapper: transient errors,
//! lost responses, crashes at an await point) and, on DynamoDB, from
//! `support::fault_proxy` (an HTTP proxy answering throttling, losing responses after the
//! write, holding requests past the SDK's timeout). Each test prints one row of the table in
//! `docs/reliability.md`: `cargo test -p greenloop --test reliability -- --nocapture`.

mod support;

use greenloop::catalog::Rules;
use greenloop::credit::{credit_pending, credit_pending_with, Budget, CreditRun};
use greenloop::domain::Action;
use greenloop::ledger::chain_for_station;
use greenloop::store::dynamodb::{item, DynamoStore};
use greenloop::store::embedded::{EmbeddedStore, FILE_NAME, MAX_ITEM_BYTES};
use greenloop::store::{reasons, Account, ActionStatus, Store, StoreError};
use greenloop_testkit::faults::{Faults, Faulty};
use greenloop_testkit::outcome::{member_id, scan_action, tally, workload, Tally};
use greenloop_testkit::{SHARDS, WINDOW_START};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::dynamodb_local;
use support::fault_proxy::{FaultProxy, ProxyFaults};

/// Actions each scenario records.
const ACTIONS: usize = 300;
/// Faulty crediting passes before the clean run, at most.
const PASSES: usize = 40;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Embedded,
    Dynamo,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Embedded => "embedded",
            Kind::Dynamo => "dynamodb",
        }
    }
}

/// A fresh store: `clean` talks to it directly; `faulty_base` is what faults are layered on
/// (on DynamoDB, a client through the fault proxy).
struct Fresh {
    clean: Arc<dyn Store>,
    faulty_base: Arc<dyn Store>,
    proxy: Option<FaultProxy>,
    table: Option<String>,
    dir: Option<tempfile::TempDir>,
}

impl Fresh {
    async fn new(kind: Kind, proxy: Option<(ProxyFaults, u64)>) -> Fresh {
        match kind {
            Kind::Embedded => {
                let (store, dir) = support::temp_store();
                let store: Arc<dyn Store> = Arc::new(store);
                Fresh {
                    clean: Arc::clone(&store),
                    faulty_base: store,
                    proxy: None,
                    table: None,
                    dir: Some(dir),
                }
            }
            Kind::Dynamo => {
                let table = dynamodb_local::unique_table("reliability");
                let direct = DynamoStore::new(dynamodb_local::client().await, &table);
                direct.create_table().await.expect("create the table");
                let clean: Arc<dyn Store> = Arc::new(direct);
                let (faulty_base, proxy) = match proxy {
                    Some((faults, seed)) => {
                        let p = FaultProxy::start(&dynamodb_local::endpoint(), faults, seed).await;
                        let store: Arc<dyn Store> =
                            Arc::new(DynamoStore::new(p.client(2).await, &table));
                        (store, Some(p))
                    }
                    None => (Arc::clone(&clean), None),
                };
                Fresh {
                    clean,
                    faulty_base,
                    proxy,
                    table: Some(table),
                    dir: None,
                }
            }
        }
    }

    /// Faults the proxy injected, as a table cell.
    fn proxy_faults(&self) -> String {
        match &self.proxy {
            Some(p) => {
                let c = p.counts();
                format!(
                    "HTTP: {} throttled, {} lost, {} timed out",
                    c.throttled, c.lost, c.delayed
                )
            }
            None => String::new(),
        }
    }
}

/// Retries short enough that faulty passes go quickly.
fn budget(batch: usize) -> Budget {
    Budget {
        batch,
        max_backoff: Duration::from_millis(40),
        ..Budget::default()
    }
}

/// Records `actions` through `store`; the ids it acknowledged.
async fn record(store: &dyn Store, actions: &[Action]) -> Vec<String> {
    let mut acknowledged = Vec::new();
    for a in actions {
        if store.record_action(a).await.is_ok() {
            acknowledged.push(a.key());
        }
    }
    acknowledged
}

async fn queue_empty(store: &dyn Store) -> bool {
    store
        .pending_actions(None, 1)
        .await
        .is_ok_and(|p| p.is_empty())
}

/// Faulty passes until the queue is empty or [`PASSES`] ran; each may fail or stall chains.
async fn faulty_passes(faulty: &Faulty, clean: &dyn Store, batch: usize) {
    let rules = Rules::defaults();
    for _ in 0..PASSES {
        let _ = credit_pending_with(faulty, &rules, SHARDS, &budget(batch)).await;
        if queue_empty(clean).await {
            break;
        }
    }
}

/// The clean run that drains what faults left, then the outcome.
async fn drain_and_tally(clean: &dyn Store, acknowledged: &[String]) -> Tally {
    let run = credit_pending(clean, &Rules::defaults(), SHARDS)
        .await
        .expect("the clean run");
    assert!(run.stalled.is_empty(), "the clean run stalled: {run:?}");
    tally(clean, acknowledged).await
}

/// Prints the scenario's row of the table and asserts nothing was lost or credited twice.
fn report(scenario: &str, kind: Kind, faults: &str, t: &Tally) {
    println!(
        "| {scenario} | {} | {faults} | {} | {} | {} | {} | {} |",
        kind.name(),
        t.acknowledged,
        t.credited,
        t.quarantined_total(),
        t.lost.len(),
        t.credited_twice.len()
    );
    assert!(t.lost.is_empty(), "lost: {:?}", t.lost);
    assert!(
        t.credited_twice.is_empty(),
        "credited twice: {:?}",
        t.credited_twice
    );
    assert_eq!(
        t.credited + t.quarantined_total(),
        t.acknowledged,
        "every acknowledged action is credited or quarantined"
    );
}

fn wrapper_faults(f: &Faulty) -> String {
    let c = f.counts();
    format!(
        "store: {} transient, {} lost, {} crashes",
        c.transient, c.lost, c.crash
    )
}

fn cell(parts: &[String]) -> String {
    parts
        .iter()
        .filter(|p| !p.is_empty())
        .cloned()
        .collect::<Vec<_>>()
        .join("; ")
}

// ---------------------------------------------------------------------------------------------
// Transient faults and lost responses at random points.

async fn transient_and_lost(kind: Kind) {
    // On DynamoDB the faults are the service's own, from the proxy; the wrapper adds lost
    // responses on both stores.
    let fresh = Fresh::new(
        kind,
        Some((
            ProxyFaults {
                throttle: 0.06,
                lost: 0.05,
                delay: 0.004,
            },
            7,
        )),
    )
    .await;
    let acknowledged = record(fresh.clean.as_ref(), &workload("tl", ACTIONS)).await;
    let faults = Faults {
        transient: 0.15,
        lost: 0.1,
        ..Faults::none()
    };
    let faulty = Faulty::new(Arc::clone(&fresh.faulty_base), faults, 11);
    faulty_passes(&faulty, fresh.clean.as_ref(), 8).await;
    if let Some(p) = &fresh.proxy {
        p.set_faults(ProxyFaults::NONE);
    }
    let t = drain_and_tally(fresh.clean.as_ref(), &acknowledged).await;
    let injected = cell(&[wrapper_faults(&faulty), fresh.proxy_faults()]);
    report("transient + lost responses", kind, &injected, &t);
    assert!(faulty.counts().transient > 0 && faulty.counts().lost > 0);
    assert_eq!(
        t.quarantined_total(),
        0,
        "a transient fault quarantined something: {:?}",
        t.quarantined
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_and_lost_embedded() {
    transient_and_lost(Kind::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_and_lost_dynamodb() {
    transient_and_lost(Kind::Dynamo).await;
}

// ---------------------------------------------------------------------------------------------
// Poison: an undecodable action and an account at the item size limit, on one chain.

/// The station the poison is recorded at, and its chain.
const POISON_STATION: &str = "st-rel-0";
/// The member whose account is at the size limit (the workload's members are 0..40).
const BIG: u32 = 900;
/// The undecodable action's key (integration `qr-1`, id `poison-undecodable`).
const UNDECODABLE: &str = "qr-1/poison-undecodable";

/// The big member's actions, all on the poisoned chain.
fn big_member_actions() -> Vec<Action> {
    (0..3)
        .map(|i| {
            scan_action(
                &format!("poison-big-{i}"),
                BIG,
                POISON_STATION,
                WINDOW_START + 3_600 * i,
                2,
            )
        })
        .collect()
}

/// Records the workload and the poison; the keys acknowledged (the undecodable one included).
async fn poisoned(kind: Kind) -> (Fresh, Vec<String>) {
    let mut fresh = Fresh::new(kind, None).await;
    let mut acknowledged = record(fresh.clean.as_ref(), &workload("po", ACTIONS)).await;
    acknowledged.extend(record(fresh.clean.as_ref(), &big_member_actions()).await);
    let undecodable = scan_action("poison-undecodable", 901, POISON_STATION, WINDOW_START, 1);
    match kind {
        Kind::Embedded => {
            acknowledged.extend(record(fresh.clean.as_ref(), &[undecodable]).await);
            let dir = fresh.dir.take().expect("the store's directory");
            // redb holds the file exclusively: close the store, edit the file, reopen.
            drop(fresh);
            poison_embedded_file(&dir.path().join(FILE_NAME));
            let store: Arc<dyn Store> =
                Arc::new(EmbeddedStore::open_existing(dir.path()).expect("reopen"));
            fresh = Fresh {
                clean: Arc::clone(&store),
                faulty_base: store,
                proxy: None,
                table: None,
                dir: Some(dir),
            };
        }
        Kind::Dynamo => {
            let table = fresh.table.clone().expect("table");
            poison_dynamodb_table(&table).await;
            acknowledged.push(UNDECODABLE.to_owned());
        }
    }
    (fresh, acknowledged)
}

/// Overwrites the undecodable action's `record.action` with something that is not an action,
/// and writes the big member's account right at the item size limit (its campus fills it).
fn poison_embedded_file(path: &std::path::Path) {
    use redb::{ReadableTable, TableDefinition};
    let actions: TableDefinition<&str, &[u8]> = TableDefinition::new("actions");
    let accounts: TableDefinition<&str, &[u8]> = TableDefinition::new("accounts");
    let db = redb::Database::open(path).expect("open the redb file");
    let txn = db.begin_write().expect("write");
    {
        let mut t = txn.open_table(actions).expect("actions");
        let bytes = t
            .get(UNDECODABLE)
            .expect("read")
            .expect("recorded")
            .value()
            .to_vec();
        let mut kept: serde_json::Value = serde_json::from_slice(&bytes).expect("JSON");
        kept["record"]["action"] = serde_json::json!({"id": 3});
        t.insert(
            UNDECODABLE,
            serde_json::to_vec(&kept).expect("JSON").as_slice(),
        )
        .expect("write");
        let m = member_id(BIG);
        let mut account = Account::new(m.clone());
        account.campus = Some(String::new());
        let base = serde_json::to_vec(&account).expect("JSON").len();
        account.campus = Some("c".repeat(MAX_ITEM_BYTES - base));
        let full = serde_json::to_vec(&account).expect("JSON");
        assert_eq!(full.len(), MAX_ITEM_BYTES, "exactly at the limit");
        txn.open_table(accounts)
            .expect("accounts")
            .insert(m.as_str(), full.as_slice())
            .expect("write");
    }
    txn.commit().expect("commit");
}

/// Puts a raw pending action item whose `action` is not an action, and the big member's
/// account item padded to within a byte of DynamoDB's 400 KB limit.
async fn poison_dynamodb_table(table: &str) {
    use aws_sdk_dynamodb::types::AttributeValue;
    let client = dynamodb_local::client().await;
    let mut it = item::action(UNDECODABLE);
    it.insert("action".into(), item::s(r#"{"id":3}"#));
    it.insert("state".into(), item::s("pending"));
    it.insert("status".into(), item::json(&ActionStatus::Pending));
    it.insert(
        item::GSI1PK.into(),
        item::s(item::pending_partition("shard-00")),
    );
    it.insert(
        item::GSI1SK.into(),
        item::s(item::queue_position(UNDECODABLE)),
    );
    client
        .put_item()
        .table_name(table)
        .set_item(Some(it))
        .send()
        .await
        .expect("put the undecodable action");

    let m = member_id(BIG);
    let mut account = item::to_item(&Account::new(m.clone()), item::account(m.as_str()));
    account.insert(
        item::ACCOUNTS_PK.into(),
        item::s(item::accounts_bucket(m.as_str())),
    );
    account.insert(item::ACCOUNTS_SK.into(), item::s(m.as_str()));
    // The largest padding DynamoDB takes: the item is then at its limit.
    let (mut fits, mut too_big) = (300_000usize, 409_601usize);
    while too_big - fits > 1 {
        let mid = (fits + too_big) / 2;
        let mut padded = account.clone();
        padded.insert("padding".into(), AttributeValue::S("p".repeat(mid)));
        let put = client
            .put_item()
            .table_name(table)
            .set_item(Some(padded))
            .send()
            .await;
        match put {
            Ok(_) => fits = mid,
            Err(_) => too_big = mid,
        }
    }
    let mut padded = account;
    padded.insert("padding".into(), AttributeValue::S("p".repeat(fits)));
    client
        .put_item()
        .table_name(table)
        .set_item(Some(padded))
        .send()
        .await
        .expect("put the padded account");
}

/// Entries the run appended on chains other than `skip`, per second from `start` to the last.
fn rate_elsewhere(faulty: &Faulty, skip: &str, start: Instant) -> f64 {
    let appended = faulty.appended();
    let others: Vec<_> = appended.iter().filter(|a| a.chain != skip).collect();
    let n: usize = others.iter().map(|a| a.entries).sum();
    let end = others.iter().map(|a| a.at).max().unwrap_or(start);
    n as f64 / (end - start).as_secs_f64().max(1e-6)
}

/// One clean crediting run through a counting wrapper: the run and the other chains' rate.
async fn timed_run(store: &Arc<dyn Store>, skip: &str) -> (CreditRun, f64) {
    let counting = Faulty::new(Arc::clone(store), Faults::none(), 0);
    let start = Instant::now();
    let run = credit_pending(&counting, &Rules::defaults(), SHARDS)
        .await
        .expect("crediting");
    (run, rate_elsewhere(&counting, skip, start))
}

/// An action's status, also of an item this version cannot read.
async fn status_of(store: &dyn Store, id: &str) -> ActionStatus {
    match store.action(id).await {
        Ok(Some(r)) => r.status,
        Err(StoreError::Unreadable {
            status: Some(s), ..
        }) => s,
        other => panic!("{id}: {other:?}"),
    }
}

async fn poison(kind: Kind) {
    let chain = chain_for_station(POISON_STATION, SHARDS);
    // The same workload without poison, for the rate the other chains reach.
    let baseline = Fresh::new(kind, None).await;
    record(baseline.clean.as_ref(), &workload("po", ACTIONS)).await;
    let (_, base_rate) = timed_run(&baseline.clean, &chain).await;

    let (fresh, acknowledged) = poisoned(kind).await;
    let (run, rate) = timed_run(&fresh.clean, &chain).await;
    assert!(run.stalled.is_empty(), "a chain stalled: {:?}", run.stalled);
    let t = drain_and_tally(fresh.clean.as_ref(), &acknowledged).await;
    report(
        "poison: undecodable action + account at 400 KB",
        kind,
        "1 undecodable item; 1 account at the size limit (3 actions)",
        &t,
    );
    println!(
        "other chains on {}: {rate:.0} entries/s with poison on {chain}, {base_rate:.0} without \
         (ratio {:.2})",
        kind.name(),
        rate / base_rate
    );

    // The culprits, and only they, are quarantined, each with its reason.
    let unreadable = status_of(fresh.clean.as_ref(), UNDECODABLE).await;
    assert!(
        matches!(&unreadable, ActionStatus::Rejected { reason, .. } if reason == reasons::UNREADABLE),
        "{unreadable:?}"
    );
    for a in big_member_actions() {
        let s = status_of(fresh.clean.as_ref(), &a.key()).await;
        assert!(
            matches!(&s, ActionStatus::Rejected { reason, .. } if reason == reasons::ITEM_TOO_LARGE),
            "{}: {s:?}",
            a.id
        );
    }
    assert_eq!(t.quarantined_total(), 4, "{:?}", t.quarantined);
    // The poisoned chain's other actions are credited.
    let on_chain = workload("po", ACTIONS)
        .into_iter()
        .filter(|a| chain_for_station(&a.station, SHARDS) == chain)
        .collect::<Vec<_>>();
    assert!(!on_chain.is_empty());
    for a in &on_chain {
        assert_eq!(
            t.chain_of(&a.key()),
            Some(chain.as_str()),
            "{} not credited",
            a.id
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_embedded() {
    poison(Kind::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_dynamodb() {
    poison(Kind::Dynamo).await;
}

// ---------------------------------------------------------------------------------------------
// Crashes: the crediting future dropped at a random await point, many times over.

async fn crashes(kind: Kind) {
    let fresh = Fresh::new(kind, None).await;
    let rules = Rules::defaults();
    let faults = Faults {
        transient: 0.05,
        crash: 0.08,
        ..Faults::none()
    };
    let faulty = Faulty::new(Arc::clone(&fresh.faulty_base), faults, 23);
    let all = workload("cr", ACTIONS);
    let mut acknowledged = Vec::new();
    let mut passes = 0;
    let small = budget(4);
    // Waves of intake, each credited through crashes until its queue is empty.
    for wave in all.chunks(ACTIONS / 6) {
        acknowledged.extend(record(fresh.clean.as_ref(), wave).await);
        for _ in 0..PASSES {
            passes += 1;
            let work = credit_pending_with(&faulty, &rules, SHARDS, &small);
            let _ = faulty.run_until_crash(work).await;
            if queue_empty(fresh.clean.as_ref()).await {
                break;
            }
        }
    }
    let t = drain_and_tally(fresh.clean.as_ref(), &acknowledged).await;
    let injected = format!("{} ({passes} passes)", wrapper_faults(&faulty));
    report("crash at a random await point", kind, &injected, &t);
    assert!(
        faulty.counts().crash >= 20,
        "too few crashes to mean much: {:?}",
        faulty.counts()
    );
    assert_eq!(t.quarantined_total(), 0, "{:?}", t.quarantined);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crashes_embedded() {
    crashes(Kind::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crashes_dynamodb() {
    crashes(Kind::Dynamo).await;
}

// ---------------------------------------------------------------------------------------------
// Two crediting runs racing, with intake going on, while faults fire.

async fn race(kind: Kind) {
    let fresh = Fresh::new(
        kind,
        Some((
            ProxyFaults {
                throttle: 0.05,
                lost: 0.03,
                delay: 0.003,
            },
            31,
        )),
    )
    .await;
    let faults = Faults {
        transient: 0.1,
        lost: 0.08,
        ..Faults::none()
    };
    let faulty = Arc::new(Faulty::new(Arc::clone(&fresh.faulty_base), faults, 37));
    let all = workload("ra", ACTIONS);
    let mut acknowledged = record(fresh.clean.as_ref(), &all[..ACTIONS / 2]).await;
    let intake = {
        let (store, rest) = (Arc::clone(&fresh.clean), all[ACTIONS / 2..].to_vec());
        tokio::spawn(async move { record(store.as_ref(), &rest).await })
    };
    let runners: Vec<_> = (0..2)
        .map(|_| {
            let (faulty, clean) = (Arc::clone(&faulty), Arc::clone(&fresh.clean));
            tokio::spawn(async move {
                let mut conflicts = 0;
                for _ in 0..PASSES {
                    if let Ok(r) =
                        credit_pending_with(faulty.as_ref(), &Rules::defaults(), SHARDS, &budget(8))
                            .await
                    {
                        conflicts += r.conflicts + r.skipped;
                    }
                    if queue_empty(clean.as_ref()).await {
                        break;
                    }
                }
                conflicts
            })
        })
        .collect();
    acknowledged.extend(intake.await.expect("intake"));
    let mut contended = 0;
    for r in runners {
        contended += r.await.expect("a runner panicked");
    }
    if let Some(p) = &fresh.proxy {
        p.set_faults(ProxyFaults::NONE);
    }
    let t = drain_and_tally(fresh.clean.as_ref(), &acknowledged).await;
    let injected = cell(&[
        wrapper_faults(&faulty),
        fresh.proxy_faults(),
        format!("{contended} conflicts or skips"),
    ]);
    report("two runs racing, intake on", kind, &injected, &t);
    assert_eq!(t.quarantined_total(), 0, "{:?}", t.quarantined);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn race_embedded() {
    race(Kind::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn race_dynamodb() {
    race(Kind::Dynamo).await;
}

// ---------------------------------------------------------------------------------------------
// Disposition reports under faults, while crediting appends to the same chains.

/// Reports each scenario sends.
const REPORTS: usize = 40;

/// Sends a report the way a webhook sender does: again after a 503 (a transient fault or a lost
/// answer), until an answer comes; whether that answer was a replay.
async fn send_report(store: &dyn Store, d: &greenloop::disposition::Disposal) -> bool {
    use greenloop::disposition::Params;
    for _ in 0..200 {
        match store.dispose(d, Params::builtin()).await {
            Ok(done) => return done.replay,
            Err(e) if e.is_transient() => tokio::time::sleep(Duration::from_millis(2)).await,
            Err(e) => panic!("report {} refused: {e}", d.id),
        }
    }
    panic!("report {} never went through", d.id)
}

async fn disposition_under_faults(kind: Kind) {
    use greenloop::disposition::{Disposal, Report};
    let fresh = Fresh::new(
        kind,
        Some((
            ProxyFaults {
                throttle: 0.06,
                lost: 0.05,
                delay: 0.0,
            },
            5,
        )),
    )
    .await;
    // 16 stations collect boxes; credited cleanly, so every report has stock to draw on.
    let first = workload("dp", ACTIONS);
    record(fresh.clean.as_ref(), &first).await;
    credit_pending(fresh.clean.as_ref(), &Rules::defaults(), SHARDS)
        .await
        .expect("credit");
    // More drop-offs, credited while the reports go in: the two writers meet on the heads.
    let more = workload("dq", ACTIONS);
    record(fresh.clean.as_ref(), &more).await;
    let faults = Faults {
        transient: 0.2,
        lost: 0.2,
        ops: vec![greenloop_testkit::faults::Op::Dispose],
        ..Faults::none()
    };
    let faulty = Arc::new(Faulty::new(Arc::clone(&fresh.faulty_base), faults, 23));
    let crediting = {
        let clean = Arc::clone(&fresh.clean);
        tokio::spawn(async move {
            credit_pending(clean.as_ref(), &Rules::defaults(), SHARDS)
                .await
                .expect("credit")
        })
    };
    let mut replays = 0;
    for i in 0..REPORTS {
        let d = Disposal {
            id: format!("out-{i:03}"),
            integration: "qr-1".into(),
            station: format!("st-rel-{}", i % 16),
            at: WINDOW_START + 86_400,
            report: Report::Outgoing {
                parcels: 2,
                reused_boxes: 1,
            },
        };
        replays += usize::from(send_report(faulty.as_ref(), &d).await);
    }
    crediting.await.expect("crediting ran");
    if let Some(p) = &fresh.proxy {
        p.set_faults(ProxyFaults::NONE);
    }
    // Each report entered exactly once, whatever was lost and retried.
    let mut reused = 0;
    let mut entered = 0;
    for i in 0..16 {
        let rows = fresh
            .clean
            .station_stock(&format!("st-rel-{i}"))
            .await
            .expect("station_stock");
        reused += rows.iter().map(|r| r.reused).sum::<u64>();
    }
    for h in fresh.clean.chain_heads().await.expect("heads") {
        for bytes in fresh
            .clean
            .entries(&h.chain, 0, 10_000)
            .await
            .expect("entries")
        {
            entered += usize::from(greenloop::ledger::leaf::is_typed(&bytes));
        }
    }
    let report = greenloop::verify::verify_store(fresh.clean.as_ref(), |_| {})
        .await
        .expect("verify");
    let injected = cell(&[wrapper_faults(&faulty), fresh.proxy_faults()]);
    println!(
        "| disposition reports during crediting | {} | {injected} | {REPORTS} reports sent, {entered} entered, {replays} answered as replays | {} |",
        kind.name(),
        if report.is_ok() { "verifies" } else { "FAILS" }
    );
    assert_eq!(
        (entered, reused),
        (REPORTS, REPORTS as u64),
        "each report entered once"
    );
    assert!(report.is_ok(), "{:?}", report.problems);
    let lost = faulty.counts().lost;
    assert!(lost > 0 && faulty.counts().transient > 0, "faults fired");
    assert!(replays > 0, "a lost answer is a replay when sent again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disposition_under_faults_embedded() {
    disposition_under_faults(Kind::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disposition_under_faults_dynamodb() {
    disposition_under_faults(Kind::Dynamo).await;
}

/// The brand figures under faults: folds refused, committed with their answer lost, and two
/// runs racing over the same chains, pass after pass until every chain reaches its checkpoint.
/// Each share is counted once: the stored statement is the ledger's own.
async fn brand_figures_under_faults(kind: Kind) {
    use greenloop::checkpoint::brand::{brand_statement, fold_all, statement};
    let fresh = Fresh::new(
        kind,
        Some((
            ProxyFaults {
                throttle: 0.06,
                lost: 0.05,
                delay: 0.0,
            },
            7,
        )),
    )
    .await;
    record(fresh.clean.as_ref(), &workload("bf", ACTIONS)).await;
    credit_pending(fresh.clean.as_ref(), &Rules::defaults(), SHARDS)
        .await
        .expect("credit");
    let key = greenloop::checkpoint::LogKey::from_hex(greenloop_testkit::TEST_LOG_KEY).unwrap();
    greenloop::checkpoint::tree::publish_all(fresh.clean.as_ref(), &key, 1_000)
        .await
        .expect("publish");
    let faults = Faults {
        transient: 0.2,
        lost: 0.2,
        ops: vec![greenloop_testkit::faults::Op::FoldBrands],
        ..Faults::none()
    };
    let faulty = Arc::new(Faulty::new(Arc::clone(&fresh.faulty_base), faults, 31));
    let clean_pass = |r: Result<Vec<greenloop::checkpoint::brand::Folded>, StoreError>| {
        r.is_ok_and(|folded| folded.iter().all(|f| f.stopped.is_none()))
    };
    let mut passes = 0;
    loop {
        passes += 1;
        assert!(passes <= PASSES, "the brand figures never caught up");
        let (a, b) = tokio::join!(fold_all(faulty.as_ref()), fold_all(faulty.as_ref()));
        if clean_pass(a) && clean_pass(b) {
            break;
        }
    }
    if let Some(p) = &fresh.proxy {
        p.set_faults(ProxyFaults::NONE);
    }
    let stored = statement(fresh.clean.as_ref(), "brand-02")
        .await
        .expect("stored statement");
    let ledger = brand_statement(fresh.clean.as_ref(), "brand-02")
        .await
        .expect("ledger statement");
    let places = |s: &greenloop::brand::Statement| {
        let mut p: Vec<(String, u64)> = s.proofs.iter().map(|p| (p.chain.clone(), p.seq)).collect();
        p.sort();
        p
    };
    let injected = cell(&[wrapper_faults(&faulty), fresh.proxy_faults()]);
    let same = (stored.totals, stored.members, &stored.rows, places(&stored))
        == (ledger.totals, ledger.members, &ledger.rows, places(&ledger));
    println!(
        "| brand figures folded by two racing runs | {} | {injected} | {} entries in {passes} passes | {} |",
        kind.name(),
        ledger.totals.entries,
        if same { "the ledger's own" } else { "DIFFER" }
    );
    assert_eq!(
        ledger.totals.entries as usize, ACTIONS,
        "every scan names brand-02"
    );
    assert!(
        same,
        "stored {:?}, ledger {:?}",
        stored.totals, ledger.totals
    );
    assert!(
        faulty.counts().lost > 0 && faulty.counts().transient > 0,
        "faults fired"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn brand_figures_under_faults_embedded() {
    brand_figures_under_faults(Kind::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn brand_figures_under_faults_dynamodb() {
    brand_figures_under_faults(Kind::Dynamo).await;
}
