//! Verification throughput over a 1,000,000-entry chain, against raw SHA-256 over the same
//! canonical bytes (the ceiling: every entry must be hashed at least once).
//!
//! `cargo bench -p greenloop-shared --bench verify` prints criterion's entries/s for both, then
//! a ratio from interleaved runs in the same process. Set `VERIFY_BENCH_ENTRIES` to change the
//! chain length.

use criterion::{criterion_group, Criterion, Throughput};
use greenloop::catalog::{Catalog, Rules};
use greenloop::credit::plan;
use greenloop::domain::{Action, ActionKind, BoxLot, Items, MemberId, Pepper};
use greenloop::ledger::{leaf_hash, verify::Verifier};
use greenloop::store::{Account, CampusTotals, ChainHead};
use std::collections::{BTreeMap, HashMap};
use std::hint::black_box;
use std::time::{Duration, Instant};

/// A chain as a store would hand it to the verifier, plus the stored totals.
struct Ledger {
    stored: Vec<Vec<u8>>,
    bodies: Vec<Vec<u8>>,
    head: ChainHead,
    accounts: Vec<Account>,
    totals: Vec<CampusTotals>,
}

fn entries() -> usize {
    std::env::var("VERIFY_BENCH_ENTRIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000)
}

/// Builds the chain with the real planner: 20,000 members on 100 campuses, mixed actions.
fn ledger(n: usize) -> Ledger {
    let rules = Rules::defaults();
    let pepper = Pepper::new(b"bench-pepper-0123456789".to_vec()).unwrap();
    let members: Vec<MemberId> = (0..20_000)
        .map(|i| MemberId::pseudonym(&pepper, &format!("u{i}")))
        .collect();
    let mut accounts: HashMap<MemberId, Account> = HashMap::new();
    let mut totals: BTreeMap<String, CampusTotals> = BTreeMap::new();
    let mut head = ChainHead::empty("shard-00");
    let (mut stored, mut bodies) = (Vec::with_capacity(n), Vec::with_capacity(n));
    let start = 1_793_462_400;
    let mut i = 0usize;
    while i < n {
        let batch: Vec<Action> = (i..(i + 1000).min(n))
            .map(|k| {
                let kind = [
                    ActionKind::Scan,
                    ActionKind::Scan,
                    ActionKind::Pledge,
                    ActionKind::Pickup,
                ][k % 4];
                let items = match kind {
                    ActionKind::Pickup => Items {
                        clothing_g: 500 + (k as u64 * 37) % 5000,
                        ..Items::default()
                    },
                    _ => Items {
                        boxes: vec![BoxLot {
                            brand: (k % 3 == 0 && kind == ActionKind::Scan)
                                .then(|| format!("brand-{:02}", 1 + k % 50)),
                            count: 1 + (k % 5) as u32,
                        }],
                        books: if kind == ActionKind::Scan {
                            (k % 4) as u32
                        } else {
                            0
                        },
                        ..Items::default()
                    },
                };
                let member = members[(k * 7919) % members.len()].clone();
                Action {
                    id: format!("bench-{k:08}"),
                    kind,
                    member,
                    station: format!("st-{:04}", k % 500),
                    at: start + ((k as i64 * 1_728_000) / n as i64),
                    items,
                }
            })
            .collect();
        for m in batch.iter().map(|a| &a.member) {
            accounts.entry(m.clone()).or_insert_with(|| {
                let mut a = Account::new(m.clone());
                let c = m.as_str().as_bytes()[0] as usize % 100;
                a.campus = (c < 80).then(|| format!("campus-{c:02}"));
                a
            });
        }
        let known: Vec<Account> = batch.iter().map(|a| accounts[&a.member].clone()).collect();
        let b = plan(&head, &known, &batch, &rules);
        head = b.new_head();
        for u in b.accounts {
            accounts.insert(u.account.member.clone(), u.account);
        }
        for c in b.campuses {
            let t = totals.entry(c.campus.clone()).or_default();
            t.campus.clone_from(&c.campus);
            t.add(&c);
        }
        for e in &b.entries {
            stored.push(e.to_json());
            let mut body = Vec::new();
            e.write_body(&mut body);
            bodies.push(body);
        }
        i += batch.len();
    }
    Ledger {
        stored,
        bodies,
        head,
        accounts: accounts.into_values().filter(|a| a.entries > 0).collect(),
        totals: totals.into_values().collect(),
    }
}

fn raw_sha256(l: &Ledger) {
    for b in &l.bodies {
        black_box(leaf_hash(b));
    }
}

fn verify(l: &Ledger, catalog: &Catalog, threads: usize) {
    let mut v = Verifier::with_threads(catalog, threads);
    v.chain(&l.head.chain);
    for e in &l.stored {
        v.push(e);
    }
    let report = v.finish(std::slice::from_ref(&l.head), &l.accounts, &l.totals);
    assert!(report.is_ok(), "{:?}", report.first_problem());
}

fn bench(c: &mut Criterion) {
    let n = entries();
    let l = ledger(n);
    let catalog = Catalog::builtin();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let bytes: usize = l.bodies.iter().map(Vec::len).sum();
    eprintln!(
        "chain: {n} entries, mean canonical body {} bytes",
        bytes / n
    );

    let mut g = c.benchmark_group("verify_1m_chain");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(20))
        .throughput(Throughput::Elements(n as u64));
    g.bench_function("raw_sha256_of_canonical_bytes", |b| {
        b.iter(|| raw_sha256(&l))
    });
    g.bench_function("full_verification_1_thread", |b| {
        b.iter(|| verify(&l, &catalog, 1))
    });
    g.bench_function(format!("full_verification_{threads}_threads"), |b| {
        b.iter(|| verify(&l, &catalog, threads))
    });
    g.finish();

    // The ratios, from interleaved runs so all three see the same machine weather.
    let mut times = [Vec::new(), Vec::new(), Vec::new()];
    for _ in 0..5 {
        let t = Instant::now();
        raw_sha256(&l);
        times[0].push(t.elapsed());
        for (k, th) in [(1, 1), (2, threads)] {
            let t = Instant::now();
            verify(&l, &catalog, th);
            times[k].push(t.elapsed());
        }
    }
    let mut rate = |k: usize| {
        times[k].sort();
        n as f64 / times[k][2].as_secs_f64()
    };
    let (sha, one, all) = (rate(0), rate(1), rate(2));
    println!("median of 5 interleaved runs over {n} entries:");
    println!("  raw SHA-256 of the canonical bytes (1 thread): {sha:.0} entries/s");
    println!(
        "  full verification, 1 thread:  {one:.0} entries/s, ratio {:.3}",
        one / sha
    );
    println!(
        "  full verification, {threads} threads: {all:.0} entries/s, ratio {:.3}",
        all / sha
    );
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
