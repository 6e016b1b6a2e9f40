//! Verification throughput over a 1,000,000-entry chain, against raw SHA-256 over the same
//! canonical bytes (the ceiling: every entry must be hashed at least once).
//!
//! `cargo bench -p greenloop --bench verify` prints criterion's entries/s for both, then
//! a ratio from interleaved runs in the same process. Set `VERIFY_BENCH_ENTRIES` to change the
//! chain length.
//!
//! Then the JSON Lines case: an export of `VERIFY_JSONL_ENTRIES` entries (default 10,000,000)
//! over 4 chains, built once with the real planner and kept under `target/verify-bench/`, is
//! verified with `verify::jsonl::verify_lines` on 1 thread, without and with a checkpoint at
//! each chain's end, against raw SHA-256 of the same lines, all read the same way from the page
//! cache, in interleaved runs. `VERIFY_JSONL_ENTRIES=0` skips it; `VERIFY_SKIP_1M=1` skips the
//! in-memory case.

use criterion::{criterion_group, Criterion, Throughput};
use greenloop::catalog::{Catalog, Rules};
use greenloop::checkpoint::Checkpoint;
use greenloop::credit::plan;
use greenloop::domain::{Action, ActionKind, BoxLot, Items, MemberId, Pepper};
use greenloop::ledger::{chain_for_station, leaf_hash, verify::Verifier};
use greenloop::merkle::frontier::Frontier;
use greenloop::store::{Account, CampusTotals, ChainHead};
use greenloop::verify::jsonl::verify_lines;
use std::collections::{BTreeMap, HashMap};
use std::hint::black_box;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
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
    let mut i = 0usize;
    while i < n {
        let batch: Vec<Action> = (i..(i + 1000).min(n))
            .map(|k| action(k, n, &members))
            .collect();
        for m in batch.iter().map(|a| &a.member) {
            accounts.entry(m.clone()).or_insert_with(|| new_account(m));
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

/// A member's account before their first action: 80 % of members are on one of 80 campuses.
fn new_account(m: &MemberId) -> Account {
    let mut a = Account::new(m.clone());
    let c = m.as_str().as_bytes()[0] as usize % 100;
    a.campus = (c < 80).then(|| format!("campus-{c:02}"));
    a
}

/// The `k`th of `n` bench actions: mixed kinds, 20,000 members, over the campaign's 20 days.
fn action(k: usize, n: usize, members: &[MemberId]) -> Action {
    let start = 1_793_462_400;
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
                brand: (k.is_multiple_of(3) && kind == ActionKind::Scan)
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
        integration: "qr-1".into(),
        kind,
        member,
        station: format!("st-{:04}", k % 500),
        at: start + ((k as i64 * 1_728_000) / n as i64),
        items,
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

const SHARDS: u32 = 4;

fn jsonl_entries() -> usize {
    std::env::var("VERIFY_JSONL_ENTRIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000_000)
}

/// The export of `n` entries over [`SHARDS`] chains, and a checkpoint at each chain's end:
/// built once with the real planner (actions go to the chain of their station, so members'
/// `member_prev` chains cross chains), then reused from `target/verify-bench/`.
fn jsonl_export(n: usize) -> (PathBuf, BTreeMap<String, Vec<Checkpoint>>) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/verify-bench");
    let path = dir.join(format!("export-{n}.jsonl"));
    let cps_path = dir.join(format!("export-{n}.checkpoints.json"));
    if let (true, Ok(text)) = (path.exists(), std::fs::read(&cps_path)) {
        let cps: Vec<Checkpoint> = serde_json::from_slice(&text).unwrap();
        return (path, by_chain(cps));
    }
    std::fs::create_dir_all(&dir).unwrap();
    let t = Instant::now();
    let rules = Rules::defaults();
    let pepper = Pepper::new(b"bench-pepper-0123456789".to_vec()).unwrap();
    let members: Vec<MemberId> = (0..20_000)
        .map(|i| MemberId::pseudonym(&pepper, &format!("u{i}")))
        .collect();
    let mut accounts: HashMap<MemberId, Account> = HashMap::new();
    let names: Vec<String> = (0..SHARDS).map(|c| format!("shard-{c:02}")).collect();
    let mut heads: Vec<ChainHead> = names.iter().map(|c| ChainHead::empty(c)).collect();
    let mut trees = vec![Frontier::default(); names.len()];
    let parts: Vec<PathBuf> = names
        .iter()
        .map(|c| dir.join(format!("export-{n}.{c}.part")))
        .collect();
    let mut out: Vec<BufWriter<std::fs::File>> = parts
        .iter()
        .map(|p| BufWriter::with_capacity(1 << 20, std::fs::File::create(p).unwrap()))
        .collect();
    let mut i = 0usize;
    while i < n {
        let mut by_chain: Vec<Vec<Action>> = vec![Vec::new(); names.len()];
        for k in i..(i + 4000).min(n) {
            let a = action(k, n, &members);
            let c = chain_for_station(&a.station, SHARDS);
            by_chain[names.iter().position(|x| *x == c).unwrap()].push(a);
        }
        i = (i + 4000).min(n);
        for (c, batch) in by_chain.iter().enumerate() {
            let known: Vec<Account> = batch
                .iter()
                .map(|a| {
                    accounts
                        .entry(a.member.clone())
                        .or_insert_with(|| new_account(&a.member))
                        .clone()
                })
                .collect();
            let b = plan(&heads[c], &known, batch, &rules);
            heads[c] = b.new_head();
            for u in b.accounts {
                accounts.insert(u.account.member.clone(), u.account);
            }
            for e in &b.entries {
                out[c].write_all(&e.to_json()).unwrap();
                out[c].write_all(b"\n").unwrap();
                trees[c].push(e.hash);
            }
        }
        if i.is_multiple_of(1_000_000) {
            eprintln!("  planned {i} of {n} entries, {:.0?}", t.elapsed());
        }
    }
    drop(out);
    let tmp = dir.join(format!("export-{n}.jsonl.tmp"));
    let mut all = BufWriter::with_capacity(1 << 20, std::fs::File::create(&tmp).unwrap());
    for p in &parts {
        std::io::copy(&mut std::fs::File::open(p).unwrap(), &mut all).unwrap();
        std::fs::remove_file(p).unwrap();
    }
    all.flush().unwrap();
    drop(all);
    std::fs::rename(&tmp, &path).unwrap();
    let cps: Vec<Checkpoint> = names
        .iter()
        .zip(&trees)
        .map(|(c, t)| Checkpoint {
            chain: c.clone(),
            root: t.root(),
            size: t.size(),
            time: 0,
        })
        .collect();
    std::fs::write(&cps_path, serde_json::to_vec(&cps).unwrap()).unwrap();
    eprintln!("built {} in {:.0?}", path.display(), t.elapsed());
    (path, by_chain(cps))
}

fn by_chain(cps: Vec<Checkpoint>) -> BTreeMap<String, Vec<Checkpoint>> {
    cps.into_iter()
        .map(|c| (c.chain.clone(), vec![c]))
        .collect()
}

fn reader(path: &Path) -> BufReader<std::fs::File> {
    BufReader::with_capacity(1 << 20, std::fs::File::open(path).unwrap())
}

/// Calls `f` on each line of `path` (without its newline), read as `verify_lines` reads it:
/// 1 MiB buffer fills from the page cache, lines checked in place.
fn each_line(path: &Path, mut f: impl FnMut(&[u8])) -> u64 {
    let mut input = reader(path);
    let (mut n, mut partial) = (0u64, Vec::new());
    loop {
        let buf = input.fill_buf().unwrap();
        if buf.is_empty() {
            break;
        }
        let mut used = 0;
        while used < buf.len() {
            match memchr::memchr(b'\n', &buf[used..]) {
                Some(i) if partial.is_empty() => {
                    f(&buf[used..used + i]);
                    used += i + 1;
                }
                Some(i) => {
                    partial.extend_from_slice(&buf[used..used + i]);
                    f(&partial);
                    partial.clear();
                    used += i + 1;
                }
                None => {
                    partial.extend_from_slice(&buf[used..]);
                    used = buf.len();
                    continue;
                }
            }
            n += 1;
        }
        input.consume(used);
    }
    n
}

/// Raw SHA-256, the ceiling: each line hashed once as it is stored (`0x00 ‖ line`).
fn sha_lines(path: &Path) -> u64 {
    each_line(path, |l| {
        black_box(leaf_hash(l));
    })
}

/// Raw SHA-256 of as many bytes as the verifier hashes: each line less the 74 bytes of its
/// `,"hash":"…"` member, in the same two pieces (cut at a fixed offset: SHA-256 costs the same
/// whichever 74 bytes are left out, and no search is timed).
fn sha_preimages(path: &Path) -> u64 {
    use sha2::{Digest as _, Sha256};
    const HASH_MEMBER: usize = 74;
    const AT: usize = 100;
    each_line(path, |l| {
        let mut h = Sha256::new();
        h.update([0u8]);
        h.update(&l[..AT]);
        h.update(&l[AT + HASH_MEMBER..]);
        black_box(h.finalize());
    })
}

fn verify_jsonl(path: &Path, catalog: &Catalog, cps: &BTreeMap<String, Vec<Checkpoint>>) -> u64 {
    let report = verify_lines(reader(path), catalog, cps, 1, |_| {}).unwrap();
    assert!(report.is_ok(), "{:?}", report.first_problem());
    assert_eq!(report.chains.len(), SHARDS as usize);
    if !cps.is_empty() {
        assert!(report.chains.iter().all(|c| c.checkpoint.is_some()));
    }
    report.entries
}

fn bench_jsonl() {
    let n = jsonl_entries();
    if n == 0 {
        return;
    }
    let (path, cps) = jsonl_export(n);
    let size = std::fs::metadata(&path).unwrap().len();
    let catalog = Catalog::builtin();
    let none = BTreeMap::new();
    // One warm read, so every timed pass reads the file from the page cache.
    let lines = sha_lines(&path);
    assert_eq!(lines, n as u64);
    eprintln!(
        "JSONL export: {n} entries over {SHARDS} chains, {size} bytes ({} per line)",
        size / n as u64
    );
    let rounds: usize = std::env::var("VERIFY_JSONL_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    // Wall time, and this thread's CPU time: on a shared machine the second is the steadier.
    let mut times = [Vec::new(), Vec::new(), Vec::new(), Vec::new()];
    let mut cpu = [Vec::new(), Vec::new(), Vec::new(), Vec::new()];
    let mut timed = |k: usize, f: &mut dyn FnMut() -> u64| {
        let (t, c) = (Instant::now(), thread_cpu());
        assert_eq!(f(), n as u64);
        cpu[k].push(thread_cpu() - c);
        times[k].push(t.elapsed());
    };
    for _ in 0..rounds {
        timed(0, &mut || sha_lines(&path));
        timed(1, &mut || sha_preimages(&path));
        timed(2, &mut || verify_jsonl(&path, &catalog, &none));
        timed(3, &mut || verify_jsonl(&path, &catalog, &cps));
    }
    let median = |t: &[Duration]| {
        let mut t = t.to_vec();
        t.sort();
        n as f64 / t[t.len() / 2].as_secs_f64()
    };
    let rates = |t: &[Vec<Duration>]| [0, 1, 2, 3].map(|k| median(&t[k]));
    let [sha, pre, plain, with_cps] = rates(&times);
    let [c_sha, c_pre, c_plain, c_cps] = rates(&cpu);
    println!("JSONL, median of {rounds} interleaved runs over {n} entries, 1 thread, page cache:");
    println!(
        "  by CPU time: SHA-256 of lines {c_sha:.0}/s, of preimage-sized lines {c_pre:.0}/s; \
         verify_lines {c_plain:.0}/s (ratio {:.3}, to preimages {:.3}), with checkpoints \
         {c_cps:.0}/s (ratio {:.3}, to preimages {:.3})",
        c_plain / c_sha,
        c_plain / c_pre,
        c_cps / c_sha,
        c_cps / c_pre
    );
    println!("  by wall time:");
    println!("  raw SHA-256 of each line as stored:        {sha:.0} entries/s");
    println!("  raw SHA-256 of each line less its hash:    {pre:.0} entries/s");
    println!(
        "  verify_lines, no checkpoints:   {plain:.0} entries/s, ratio {:.3} (to preimages {:.3})",
        plain / sha,
        plain / pre
    );
    println!(
        "  verify_lines, with checkpoints: {with_cps:.0} entries/s, ratio {:.3} (to preimages {:.3})",
        with_cps / sha,
        with_cps / pre
    );
}

/// CPU time of the calling thread.
fn thread_cpu() -> Duration {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is a valid timespec for the call to fill in.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    assert_eq!(rc, 0);
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

criterion_group!(benches, bench);

fn main() {
    if std::env::var_os("VERIFY_SKIP_1M").is_none() {
        benches();
    }
    bench_jsonl();
    Criterion::default().configure_from_args().final_summary();
}
