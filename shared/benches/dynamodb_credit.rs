//! Crediting throughput on the DynamoDB store, against AWS's DynamoDB Local, next to its ceiling:
//! the raw conditional `PutItem` rate on a table of the same design.
//!
//! `cargo bench -p greenloop --bench dynamodb_credit` records `DDB_BENCH_ACTIONS`
//! actions (default 768: 96 for each of 8 chains, four full batches; DynamoDB Local is slow)
//! spread over members, campuses and stations into a fresh table per configuration (not
//! timed), then times crediting them as the stream delivers them: invocations of
//! `DDB_BENCH_RECORDS` records (default 1,000, the template's batch size), each grouped by
//! chain and credited with `credit_actions`, as `credit::trigger` does; for batch 24 and batch
//! 1: one invocation at a time on 1, 2, 4 and 8 chains (`DDB_BENCH_CHAINS`,
//! `DDB_BENCH_BATCHES`), then `DDB_BENCH_TASKS` (default 4) invocations at once, each with its
//! share of every chain, on the chain counts of `DDB_BENCH_CONTENDED_CHAINS` (default 1). A
//! sweep afterwards must find nothing. Every request the SDK sends is counted, by operation,
//! by an interceptor. After each configuration the whole ledger is verified and every action
//! must be credited exactly once. A second interceptor (`support/heat_recorder.rs`) prices
//! every request of each timed phase by partition, and the partition-heat model projects them
//! to `HEAT_RATE` actions/s over `HEAT_CHAINS` chains (`docs/scaling.md`).
//!
//! DynamoDB Local is a Java process on the same machine: absolute rates say little about AWS,
//! the ratios (to the PutItem ceiling, batched to unbatched, requests per action) more.

#[path = "../tests/support/dynamodb_local.rs"]
mod dynamodb_local;
#[path = "../tests/support/heat.rs"]
mod heat;
#[path = "support/heat_recorder.rs"]
mod heat_recorder;

use aws_sdk_dynamodb::config::interceptors::{
    BeforeDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use greenloop::catalog::Rules;
use greenloop::credit::{credit_actions, credit_pending_in, Budget, CreditRun, MAX_BATCH};
use greenloop::domain::{Action, ActionKind, BoxLot, Campus, Items, MemberId, Pepper};
use greenloop::ledger::chain_for_station;
use greenloop::store::dynamodb::DynamoStore;
use greenloop::store::{Affiliation, Intake, Registry};
use greenloop::verify::verify_store;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// 2026-11-01T00:00:00+08:00, the first second of the built-in campaign window.
const WINDOW_START: i64 = 1_793_462_400;
const CHAINS: [u32; 4] = [1, 2, 4, 8];
const BATCHES: [usize; 2] = [MAX_BATCH, 1];
/// Concurrent writers for the PutItem ceiling and for recording.
const PUT_TASKS: usize = 8;
const CAMPUSES: usize = 4;
/// Stations per chain of the largest configuration, so every chain of every one gets work.
const STATIONS_PER_CHAIN: usize = 8;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(default)
}

/// Every request the SDK transmits (retries included), by operation, and every non-2xx answer,
/// by error type (the request is gone by then, so the operation is not known).
#[derive(Debug, Default)]
struct Counts {
    sent: AtomicU64,
    by_op: Mutex<BTreeMap<String, OpStats>>,
    /// Requests on the wire, by the address of their execution's context (stable while the
    /// request's future is pinned): their operation and when they were sent.
    in_flight: Mutex<HashMap<usize, (String, Instant)>>,
}

/// One operation's requests: how many, how many failed (by error type), total latency.
#[derive(Debug, Default, Clone)]
struct OpStats {
    sent: u64,
    failed: BTreeMap<String, u64>,
    secs: f64,
}

impl Counts {
    fn reset(&self) {
        self.sent.store(0, Ordering::Relaxed);
        self.by_op.lock().unwrap().clear();
    }

    fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }
}

#[derive(Debug, Clone)]
struct Counter(Arc<Counts>);

impl Intercept for Counter {
    fn name(&self) -> &'static str {
        "RequestCounter"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.sent.fetch_add(1, Ordering::Relaxed);
        // `X-Amz-Target: DynamoDB_20120810.<Operation>`.
        let op = context
            .request()
            .headers()
            .get("x-amz-target")
            .and_then(|t| t.rsplit('.').next())
            .unwrap_or("?")
            .to_owned();
        self.0
            .by_op
            .lock()
            .unwrap()
            .entry(op.clone())
            .or_default()
            .sent += 1;
        let key = context.inner() as *const _ as usize;
        self.0
            .in_flight
            .lock()
            .unwrap()
            .insert(key, (op, Instant::now()));
        Ok(())
    }

    fn read_before_deserialization(
        &self,
        context: &BeforeDeserializationInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let key = context.inner() as *const _ as usize;
        let Some((op, sent)) = self.0.in_flight.lock().unwrap().remove(&key) else {
            return Ok(());
        };
        let mut by_op = self.0.by_op.lock().unwrap();
        let stats = by_op.entry(op).or_default();
        stats.secs += sent.elapsed().as_secs_f64();
        let response = context.response();
        if !response.status().is_success() {
            let kind = response
                .headers()
                .get("x-amzn-errortype")
                .map(|t| t.split(':').next().unwrap_or(t).to_owned())
                .unwrap_or_else(|| format!("HTTP {}", response.status().as_u16()));
            *stats.failed.entry(kind).or_default() += 1;
        }
        Ok(())
    }
}

/// Stations such that each chain of the 8-chain layout (hence of 1, 2 and 4) has the same
/// number of them.
fn stations() -> Vec<String> {
    let shards = *CHAINS.iter().max().unwrap();
    let mut per_chain: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for i in 0.. {
        let st = format!("st-{i:04}");
        let list = per_chain.entry(chain_for_station(&st, shards)).or_default();
        if list.len() < STATIONS_PER_CHAIN {
            list.push(st);
        }
        if per_chain.len() == shards as usize
            && per_chain.values().all(|l| l.len() == STATIONS_PER_CHAIN)
        {
            break;
        }
    }
    // Interleave the chains, so consecutive actions land on different chains.
    (0..STATIONS_PER_CHAIN)
        .flat_map(|k| per_chain.values().map(move |l| l[k].clone()))
        .collect()
}

/// The `i`th action: scans (boxes, books, clothing) and pledges over the campaign window,
/// members and stations spread so consecutive actions share neither.
fn nth(i: usize, members: &[MemberId], stations: &[String]) -> Action {
    let at = WINDOW_START + (i as i64 * 7_919) % (20 * 86_400);
    let items = match i % 5 {
        0 | 1 => Items {
            boxes: vec![BoxLot {
                brand: i.is_multiple_of(3).then(|| "brand-03".to_owned()),
                count: 1 + (i % 4) as u32,
            }],
            ..Items::default()
        },
        2 => Items {
            books: 1 + (i % 6) as u32,
            ..Items::default()
        },
        3 => Items {
            clothing_g: 400 + 37 * (i % 50) as u64,
            shoes: (i % 2) as u32,
            ..Items::default()
        },
        _ => Items {
            boxes: vec![BoxLot {
                brand: None,
                count: 1 + (i % 3) as u32,
            }],
            ..Items::default()
        },
    };
    Action {
        id: format!("bench-{i:06}"),
        integration: "qr-1".into(),
        kind: if i % 5 == 4 {
            ActionKind::Pledge
        } else {
            ActionKind::Scan
        },
        member: members[(i * 7) % members.len()].clone(),
        station: stations[i % stations.len()].clone(),
        at,
        items,
    }
}

async fn fresh_store(client: &Client, prefix: &str, chains: u32) -> Arc<DynamoStore> {
    let store =
        DynamoStore::new(client.clone(), dynamodb_local::unique_table(prefix)).with_shards(chains);
    store.create_table().await.expect("create the table");
    Arc::new(store)
}

/// Runs `f(i)` for `i` in `0..n` on `tasks` concurrent tasks.
async fn spread<F, Fut>(n: usize, tasks: usize, f: F)
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let f = Arc::new(f);
    let next = Arc::new(AtomicU64::new(0));
    let handles: Vec<_> = (0..tasks)
        .map(|_| {
            let (f, next) = (Arc::clone(&f), Arc::clone(&next));
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                    if i >= n {
                        break;
                    }
                    f(i).await;
                }
            })
        })
        .collect();
    for h in handles {
        h.await.expect("a task panicked");
    }
}

/// Conditional PutItems of small items into a fresh table of the store's design: the ceiling.
async fn put_ceiling(client: &Client, counts: &Counts, n: usize) -> f64 {
    let store = fresh_store(client, "ceiling", 1).await;
    let table = store.table().to_owned();
    let client = client.clone();
    counts.reset();
    let t = Instant::now();
    spread(n, PUT_TASKS, move |i| {
        let (client, table) = (client.clone(), table.clone());
        async move {
            client
                .put_item()
                .table_name(table)
                .item("pk", AttributeValue::S(format!("PUT#{i:08}")))
                .item("sk", AttributeValue::S("X".into()))
                .item("v", AttributeValue::N(i.to_string()))
                .condition_expression("attribute_not_exists(pk)")
                .send()
                .await
                .expect("put");
        }
    })
    .await;
    let rate = n as f64 / t.elapsed().as_secs_f64();
    if counts.sent() != n as u64 {
        eprintln!(
            "note: {} requests for {n} puts (SDK retries)",
            counts.sent()
        );
    }
    rate
}

struct Outcome {
    tasks: usize,
    chains: u32,
    batch: usize,
    secs: f64,
    run: CreditRun,
    rounds: u32,
    requests: u64,
    sweep_requests: u64,
    by_op: BTreeMap<String, OpStats>,
}

impl Outcome {
    fn rate(&self) -> f64 {
        self.run.credited as f64 / self.secs
    }
}

/// Records `n` actions into a fresh store (not timed), then times crediting them as the
/// stream delivers them: waves of `tasks` concurrent invocations of `records` records each
/// (`credit_actions`, as the trigger calls it); then a sweep must find nothing, and the ledger
/// verifies.
async fn credit_config(
    client: &Client,
    counts: &Counts,
    n: usize,
    records: usize,
    (tasks, chains, batch): (usize, u32, usize),
) -> Outcome {
    let store = fresh_store(client, &format!("credit-{chains}-{batch}"), chains).await;
    let pepper = Pepper::new(b"dynamodb-bench-pepper".to_vec()).expect("pepper");
    let members: Vec<MemberId> = (0..(n / 4).max(8))
        .map(|i| MemberId::pseudonym(&pepper, &format!("user-{i}")))
        .collect();
    let stations = Arc::new(stations());
    let all_members = members.clone();
    for c in 0..CAMPUSES {
        store
            .put_campus(&Campus {
                id: format!("campus-{c}"),
                name: format!("University {c}"),
                city: "Shanghai".into(),
            })
            .await
            .expect("put_campus");
    }
    // Three members in four are affiliated, so batches also carry campus-day totals.
    let affiliated: Vec<MemberId> = members
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 4 != 3)
        .map(|(_, m)| m.clone())
        .collect();
    {
        let (store, affiliated) = (Arc::clone(&store), Arc::new(affiliated));
        spread(affiliated.len(), PUT_TASKS, move |i| {
            let (store, affiliated) = (Arc::clone(&store), Arc::clone(&affiliated));
            async move {
                let campus = format!("campus-{}", i % CAMPUSES);
                store
                    .affiliate(&affiliated[i], &campus, greenloop::store::Consent::Enrol)
                    .await
                    .expect("affiliate");
            }
        })
        .await;
    }
    let all: Vec<Action> = (0..n).map(|i| nth(i, &members, &stations)).collect();
    // The partition-heat model scales campus partitions by the actions of affiliated members.
    let campus_actions = (0..n).filter(|i| (i * 7) % members.len() % 4 != 3).count() as u64;
    {
        let (store, members, stations) =
            (Arc::clone(&store), Arc::new(members), Arc::clone(&stations));
        spread(n, PUT_TASKS, move |i| {
            let (store, members, stations) = (
                Arc::clone(&store),
                Arc::clone(&members),
                Arc::clone(&stations),
            );
            async move {
                let r = store
                    .record_action(&nth(i, &members, &stations))
                    .await
                    .expect("record");
                assert!(!r.replay);
            }
        })
        .await;
    }

    // The stream's deliveries: record i goes to invocation (i / records) * tasks + i % tasks,
    // so `tasks` invocations run at once, each with its share of every chain, as stream shards
    // split a table's writes; each groups its records by chain, as the trigger does.
    let per_wave = records * tasks;
    let waves: Vec<Vec<BTreeMap<String, Vec<Action>>>> = all
        .chunks(per_wave)
        .map(|wave| {
            let mut invocations = vec![BTreeMap::<String, Vec<Action>>::new(); tasks];
            for (i, a) in wave.iter().enumerate() {
                let chain = chain_for_station(&a.station, chains);
                invocations[i % tasks]
                    .entry(chain)
                    .or_default()
                    .push(a.clone());
            }
            invocations
        })
        .collect();
    let budget = Budget {
        batch,
        ..Budget::default()
    };

    // A deployment's chains exist long before a peak: one untimed action per chain first, so
    // the timed phase measures steady crediting, not each chain's one-time listing.
    let mut warm: BTreeMap<String, Vec<Action>> = BTreeMap::new();
    for (k, st) in stations.iter().enumerate() {
        let chain = chain_for_station(st, chains);
        if let std::collections::btree_map::Entry::Vacant(slot) = warm.entry(chain) {
            let mut a = nth(k, &all_members, &stations);
            a.id = format!("warm-{}", slot.key());
            a.station = st.clone();
            store.record_action(&a).await.expect("record");
            slot.insert(vec![a]);
        }
    }
    let warmed = warm.len() as u64;
    credit_actions(&*store, &Rules::defaults(), warm, &budget)
        .await
        .expect("warm-up");

    heat_recorder::start(client, store.table()).await;
    counts.reset();
    let t = Instant::now();
    let mut run = CreditRun::default();
    let rounds = waves.len() as u32;
    for wave in waves {
        let workers: Vec<_> = wave
            .into_iter()
            .map(|by_chain| {
                let (store, budget) = (Arc::clone(&store), budget.clone());
                tokio::spawn(async move {
                    credit_actions(&*store, &Rules::defaults(), by_chain, &budget).await
                })
            })
            .collect();
        for w in workers {
            let r = w.await.expect("crediting task").expect("crediting");
            run.credited += r.credited;
            run.batches += r.batches;
            run.conflicts += r.conflicts;
            run.waits += r.waits;
            run.skipped += r.skipped;
        }
    }
    let secs = t.elapsed().as_secs_f64();
    let requests = counts.sent();
    heat_recorder::stop(heat::Phase {
        actions: run.credited,
        chains: crate::stations()
            .iter()
            .map(|s| chain_for_station(s, chains))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect(),
        campuses: (0..CAMPUSES).map(|c| format!("campus-{c}")).collect(),
        campus_actions,
        secs,
        tasks,
        batch,
        requests: Vec::new(),
    });
    let by_op = counts.by_op.lock().unwrap().clone();
    // The sweep after it, not timed: it must find nothing left; its cost is a claim, a query
    // and a release per chain, whatever the traffic.
    counts.reset();
    let swept = credit_pending_in(&*store, &Rules::defaults(), chains, batch)
        .await
        .expect("sweep");
    assert_eq!(swept.credited, 0, "the stream path left nothing pending");
    let sweep_requests = counts.sent();

    let report = verify_store(&*store, |_| {}).await.expect("verify");
    assert!(report.is_ok(), "{:?}", report.first_problem());
    assert_eq!(
        report.entries,
        n as u64 + warmed,
        "every action credited exactly once"
    );
    assert_eq!(
        run.credited, n as u64,
        "the runs credited every action once"
    );
    assert_eq!(report.chains.len(), chains as usize, "every chain got work");
    Outcome {
        tasks,
        chains,
        batch,
        secs,
        run,
        rounds,
        requests,
        sweep_requests,
        by_op,
    }
}

/// `Op: 1.23/action, 4.5 ms, 6 failed (Type)` for each operation.
fn per_op(by_op: &BTreeMap<String, OpStats>, n: usize) -> Vec<String> {
    by_op
        .iter()
        .map(|(op, st)| {
            let failed: u64 = st.failed.values().sum();
            let kinds: Vec<&str> = st.failed.keys().map(String::as_str).collect();
            let mut cell = format!(
                "{op} {:.2}/action, {:.1} ms",
                st.sent as f64 / n as f64,
                1e3 * st.secs / st.sent.max(1) as f64
            );
            if failed > 0 {
                cell += &format!(", {failed} failed ({})", kinds.join(", "));
            }
            cell
        })
        .collect()
}

/// A list of numbers from the environment, e.g. `DDB_BENCH_CHAINS=1,8`.
fn env_list<T: std::str::FromStr + Copy>(name: &str, default: &[T]) -> Vec<T> {
    std::env::var(name)
        .ok()
        .map(|v| v.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .filter(|v: &Vec<T>| !v.is_empty())
        .unwrap_or_else(|| default.to_vec())
}

async fn bench() {
    let n = env_or("DDB_BENCH_ACTIONS", 768);
    let records = env_or("DDB_BENCH_RECORDS", 1_000);
    let tasks = env_or("DDB_BENCH_TASKS", 4);
    let puts = env_or("DDB_BENCH_PUTS", 2_000);
    let started = Instant::now();
    let sdk_config = dynamodb_local::sdk_config().await;
    let counts = Arc::new(Counts::default());
    let client = Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&sdk_config)
            .interceptor(Counter(Arc::clone(&counts)))
            .interceptor(heat_recorder::interceptor())
            .build(),
    );
    eprintln!("DynamoDB Local at {}", dynamodb_local::endpoint());

    // Warm up the JVM a little, so the first measurement is not its JIT.
    put_ceiling(&client, &counts, puts / 4).await;
    let ceiling_before = put_ceiling(&client, &counts, puts).await;
    eprintln!("raw conditional PutItem, {PUT_TASKS} tasks: {ceiling_before:.0}/s");

    // One crediting task (no contention) on every chain layout, then `tasks` at once, on
    // `DDB_BENCH_CONTENDED_CHAINS` (default 1 only: contended batched crediting is slow on
    // DynamoDB Local, see docs/perf-dynamodb.md).
    let batches = env_list("DDB_BENCH_BATCHES", &BATCHES);
    let mut configs: Vec<(usize, u32, usize)> = Vec::new();
    for chains in env_list("DDB_BENCH_CHAINS", &CHAINS) {
        configs.extend(batches.iter().map(|&b| (1, chains, b)));
    }
    for chains in env_list("DDB_BENCH_CONTENDED_CHAINS", &[1]) {
        configs.extend(batches.iter().map(|&b| (tasks, chains, b)));
    }
    let mut outcomes = Vec::new();
    for (tasks, chains, batch) in configs {
        let o = credit_config(&client, &counts, n, records, (tasks, chains, batch)).await;
        eprintln!(
            "{tasks} tasks, chains {chains}, batch {batch:>2}: {:.1} actions/s, {:.3} \
             requests/action, {} conflicts, {} waits, {} skipped, {:.1}s; {}",
            o.rate(),
            o.requests as f64 / n as f64,
            o.run.conflicts,
            o.run.waits,
            o.run.skipped,
            o.secs,
            per_op(&o.by_op, n).join("; ")
        );
        outcomes.push(o);
    }
    let ceiling_after = put_ceiling(&client, &counts, puts).await;
    let ceiling = (ceiling_before + ceiling_after) / 2.0;

    println!();
    println!(
        "DynamoDB Local crediting bench: {n} actions per configuration (DDB_BENCH_ACTIONS), a \
         fresh table per configuration, credited from stream deliveries of {records} records \
         (DDB_BENCH_RECORDS) per invocation; tasks = invocations at once in a wave \
         (DDB_BENCH_TASKS for the contended rows)"
    );
    println!(
        "ceiling: raw conditional PutItem (attribute_not_exists(pk)), {PUT_TASKS} tasks, {puts} \
         items: {ceiling_before:.0}/s before, {ceiling_after:.0}/s after, mean {ceiling:.0}/s"
    );
    println!();
    println!(
        "| tasks | chains | batch | credited/s | ÷ PutItem/s | batched ÷ unbatched | requests/action | \
         unbatched ÷ batched requests | transactions | conflicts | waits | skipped | waves | \
         sweep requests | seconds |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for o in &outcomes {
        let unbatched = outcomes
            .iter()
            .find(|u| u.tasks == o.tasks && u.chains == o.chains && u.batch == 1);
        let (speedup, fewer) = unbatched.map_or(("-".to_owned(), "-".to_owned()), |u| {
            (
                format!("{:.2}", o.rate() / u.rate()),
                format!("{:.1}", u.requests as f64 / o.requests as f64),
            )
        });
        println!(
            "| {} | {} | {} | {:.1} | {:.3} | {} | {:.3} | {} | {} | {} | {} | {} | {} | {} | {:.1} |",
            o.tasks,
            o.chains,
            o.batch,
            o.rate(),
            o.rate() / ceiling,
            speedup,
            o.requests as f64 / n as f64,
            fewer,
            o.run.batches,
            o.run.conflicts,
            o.run.waits,
            o.run.skipped,
            o.rounds,
            o.sweep_requests,
            o.secs
        );
    }
    println!();
    println!(
        "by operation: requests per credited action, mean latency, failed requests (error type):"
    );
    println!("| tasks | chains | batch | operations |");
    println!("|---:|---:|---:|---|");
    for o in &outcomes {
        println!(
            "| {} | {} | {} | {} |",
            o.tasks,
            o.chains,
            o.batch,
            per_op(&o.by_op, n).join("<br>")
        );
    }
    println!();
    println!(
        "every configuration verified (audit::verify_store): {n} entries, no problems; total \
         bench time {:.0}s",
        started.elapsed().as_secs_f64()
    );
    heat_recorder::report();
}

fn main() {
    // `cargo bench` passes `--bench`; there is nothing to filter.
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
        .block_on(async {
            tokio::time::timeout(Duration::from_secs(1_800), bench())
                .await
                .expect("the bench finishes within 30 minutes")
        });
}
