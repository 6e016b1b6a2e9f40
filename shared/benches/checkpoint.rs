//! Checkpoints and proofs on the embedded store (redb, bulk mode), against SHA-256 measured in
//! the same run.
//!
//! 1. **Proofs at `PROOF_BENCH_ENTRIES` entries (default 10,000,000).** Producing an inclusion
//!    and a consistency proof from the store (`tree::inclusion_proof`, `tree::consistency_proof`:
//!    O(log n) point reads) and verifying them (`merkle::inclusion::verify`,
//!    `merkle::consistency::verify`) for random seqs and sizes; their length in hashes and bytes.
//!    Ceiling: one interior-node hash, SHA-256 of 0x01 ‖ 64 bytes (`merkle::node`).
//!    The store is synthetic, because `tree::publish` parses and link-checks every real entry
//!    and 10M planner entries would take most of the time budget for the same tree: the bench
//!    pushes 10M made-up leaf hashes (`leaf_hash(seq as big-endian bytes)`) through a
//!    `Frontier`, stores the nodes it completes from level `tree::STORED_FROM` up with
//!    `put_tree_nodes`, stores each entry as `{"hash":"<hex>"}` (all that level-0 reads parse)
//!    and signs a checkpoint of the root. Frontier roots at ~256 random sizes are kept beside
//!    it; every proof is checked against them, and one of them against `merkle::root`. The
//!    store is cached in `target/checkpoint-bench/proofs-<N>/` so reruns skip the build
//!    (delete the directory to rebuild). Level-0 reads of real entries parse ~600 bytes of JSON
//!    instead of 77, so producing is measured again on the real chain of part 2.
//! 2. **Checkpoint time vs chain size** (`CHECKPOINT_BENCH_SIZES`, default 10000,100000,1000000),
//!    with real entries from the planner (`credit::plan`, as `benches/verify.rs` makes them)
//!    written straight into the `entries` and `heads` tables: the first `tree::publish`
//!    (builds the whole tree) against a ceiling of SHA-256 over each entry's canonical bytes plus
//!    one node hash per entry, and an incremental publish after the planner appends 1,000 more.
//!    Median of 3 runs each; every checkpoint root is checked against `merkle::root`.
//!
//! ```sh
//! cargo bench -p greenloop-shared --bench checkpoint
//! PROOF_BENCH_ENTRIES=1000000 CHECKPOINT_BENCH_SIZES=10000 cargo bench -p greenloop-shared --bench checkpoint
//! ```

use criterion::Criterion;
use greenloop::audit::proof::{verify_inclusion, ConsistencyProof, InclusionProof};
use greenloop::catalog::Rules;
use greenloop::checkpoint::{Checkpoint, LogKey};
use greenloop::credit::plan;
use greenloop::domain::{Action, ActionKind, BoxLot, Items, MemberId, Pepper};
use greenloop::ledger::{leaf_hash, Digest, Entry, ZERO};
use greenloop::merkle::frontier::{nodes_needed, Frontier};
use greenloop::merkle::{consistency, inclusion, node, root};
use greenloop::store::embedded::{EmbeddedStore, ENTRIES, FILE_NAME, TREE};
use greenloop::store::{Account, ChainHead, CheckpointStore};
use greenloop::tree::{self, consistency_proof, inclusion_proof, publish, STORED_FROM};
use rand::{rngs::StdRng, Rng, SeedableRng};
use redb::{Database, TableDefinition};
use serde_json::value::RawValue;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hint::black_box;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::runtime::Runtime;

const CHAIN: &str = "shard-00";
const CHUNK: usize = 100_000;
/// The store's private tables, by name, for raw bulk writes.
const HEADS: TableDefinition<&str, &[u8]> = TableDefinition::new("heads");
const CHECKPOINTS: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("checkpoints");

fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn target() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"))
}

fn key() -> LogKey {
    LogKey::from_hex(&"07".repeat(32)).unwrap()
}

fn leaf(seq: u64) -> Digest {
    leaf_hash(&seq.to_be_bytes())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Seconds per call of `f(i)` for `i` in `0..ops`.
fn per_op(ops: usize, mut f: impl FnMut(usize)) -> f64 {
    let t = Instant::now();
    (0..ops).for_each(&mut f);
    t.elapsed().as_secs_f64() / ops as f64
}

/// (min, mean, max).
fn spread(v: impl Iterator<Item = usize>) -> (usize, f64, usize) {
    let v: Vec<usize> = v.collect();
    let mean = v.iter().sum::<usize>() as f64 / v.len() as f64;
    (*v.iter().min().unwrap(), mean, *v.iter().max().unwrap())
}

/// The store reads behind a proof, as `tree::nodes` makes them: (entries, stored nodes).
/// Levels 1 to `STORED_FROM - 1` are read as their 2, 4 or 8 entries.
fn reads(keys: &[(u32, u64)]) -> (usize, usize) {
    let (mut entries, mut nodes) = (Vec::new(), 0);
    for &(level, i) in keys {
        match level {
            0 => entries.push(i),
            l if l >= STORED_FROM => nodes += 1,
            l => entries.extend(i << l..(i + 1) << l),
        }
    }
    entries.sort_unstable();
    entries.dedup();
    (entries.len(), nodes)
}

/// The cached synthetic store of `n` entries, and the frontier roots recorded while building it.
fn proof_store(rt: &Runtime, n: u64) -> (PathBuf, BTreeMap<u64, Digest>) {
    let dir = target().join(format!("checkpoint-bench/proofs-{n}"));
    let marker = dir.join("roots.txt");
    if let Ok(text) = std::fs::read_to_string(&marker) {
        eprintln!("proof store: reusing {}", dir.display());
        let roots = text.lines().map(|l| {
            let (size, hex) = l.split_once(' ').unwrap();
            (size.parse().unwrap(), Digest::parse(hex).unwrap())
        });
        return (dir, roots.collect());
    }
    let t = Instant::now();
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut rng = StdRng::seed_from_u64(1);
    let mut want: BTreeSet<u64> = (0..256).map(|_| rng.gen_range(1..=n)).collect();
    want.extend([n, 1_000_003.min(n)]);
    let (mut f, mut nodes, mut roots) = (Frontier::default(), Vec::new(), BTreeMap::new());
    let db = Database::create(dir.join(FILE_NAME)).unwrap();
    let mut json = Vec::with_capacity(80);
    for start in (0..n).step_by(CHUNK) {
        let txn = db.begin_write().unwrap();
        let mut table = txn.open_table(ENTRIES).unwrap();
        for seq in start..(start + CHUNK as u64).min(n) {
            let h = leaf(seq);
            json.clear();
            write!(json, r#"{{"hash":"{h}"}}"#).unwrap();
            table.insert((CHAIN, seq), json.as_slice()).unwrap();
            nodes.extend(f.push(h).into_iter().filter(|x| x.level >= STORED_FROM));
            if want.contains(&(seq + 1)) {
                roots.insert(seq + 1, f.root());
            }
        }
        drop(table);
        txn.commit().unwrap();
    }
    drop(db);
    let store = EmbeddedStore::open(&dir).unwrap();
    store.set_bulk(true).unwrap();
    for chunk in nodes.chunks(CHUNK) {
        rt.block_on(store.put_tree_nodes(CHAIN, chunk)).unwrap();
    }
    let (root, size, chain) = (f.root(), n, CHAIN.to_owned());
    let signed = key().sign(Checkpoint {
        chain,
        root,
        size,
        time: 0,
    });
    assert!(rt.block_on(store.put_checkpoint(&signed)).unwrap());
    store.set_bulk(false).unwrap();
    let text: String = roots.iter().map(|(s, r)| format!("{s} {r}\n")).collect();
    std::fs::write(&marker, text).unwrap();
    eprintln!(
        "proof store: {n} entries, {} stored nodes, built in {:.1} s",
        nodes.len(),
        t.elapsed().as_secs_f64()
    );
    (dir, roots)
}

fn proofs(c: &mut Criterion, rt: &Runtime) {
    let n: u64 = env("PROOF_BENCH_ENTRIES", 10_000_000);
    let (dir, roots) = proof_store(rt, n);
    let m = 1_000_003.min(n);
    assert_eq!(roots[&m], root(&(0..m).map(leaf).collect::<Vec<_>>()));
    let root_n = roots[&n];
    let store = EmbeddedStore::open_existing(&dir).unwrap();
    store.set_bulk(true).unwrap();
    let mut rng = StdRng::seed_from_u64(2);
    let seqs: Vec<u64> = (0..1000).map(|_| rng.gen_range(0..n)).collect();
    let leaves: Vec<Digest> = seqs.iter().map(|&s| leaf(s)).collect();
    let sizes: Vec<u64> = roots.keys().copied().collect();
    let pairs: Vec<(u64, u64)> = (0..1000)
        .map(|_| [0; 2].map(|_| sizes[rng.gen_range(0..sizes.len())]))
        .filter(|[a, b]| a != b)
        .map(|[a, b]| (a.min(b), a.max(b)))
        .collect();
    let produce_incl = |i: usize| {
        rt.block_on(inclusion_proof(&store, CHAIN, seqs[i], n))
            .unwrap()
    };
    let produce_cons = |i: usize| {
        let (a, b) = pairs[i];
        rt.block_on(consistency_proof(&store, CHAIN, a, b)).unwrap()
    };
    let incl: Vec<Vec<Digest>> = (0..seqs.len()).map(produce_incl).collect();
    let cons: Vec<Vec<Digest>> = (0..pairs.len()).map(produce_cons).collect();
    let verify_incl =
        |i: usize| inclusion::verify(seqs[i], n, &leaves[i], &incl[i], &root_n).unwrap();
    let verify_cons = |i: usize| {
        let (a, b) = pairs[i];
        consistency::verify(a, b, &roots[&a], &roots[&b], &cons[i]).unwrap()
    };
    (0..seqs.len()).for_each(verify_incl);
    (0..pairs.len()).for_each(verify_cons);

    let mut g = c.benchmark_group(format!("proofs_{n}"));
    g.sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    let x = leaf(1);
    g.bench_function("node_hash", |b| {
        b.iter(|| node(black_box(&x), black_box(&x)))
    });
    let mut i = 0;
    let mut next = |len: usize| {
        i = (i + 1) % len;
        i
    };
    g.bench_function("inclusion_verify", |b| {
        b.iter(|| verify_incl(next(seqs.len())))
    });
    g.bench_function("consistency_verify", |b| {
        b.iter(|| verify_cons(next(pairs.len())))
    });
    g.bench_function("inclusion_produce", |b| {
        b.iter(|| produce_incl(next(seqs.len())))
    });
    g.bench_function("consistency_produce", |b| {
        b.iter(|| produce_cons(next(pairs.len())))
    });
    g.finish();

    // Interleaved rounds, so the ratios see the same machine weather.
    let mut t: [Vec<f64>; 6] = Default::default();
    let api = |i: usize| {
        rt.block_on(tree::inclusion(&store, CHAIN, seqs[i], None))
            .unwrap()
    };
    for _ in 0..5 {
        let mut acc = x;
        t[0].push(per_op(200_000, |_| acc = node(&acc, &x)));
        black_box(acc);
        t[1].push(per_op(seqs.len(), verify_incl));
        t[2].push(per_op(pairs.len(), verify_cons));
        t[3].push(per_op(seqs.len(), |i| drop(black_box(produce_incl(i)))));
        t[4].push(per_op(pairs.len(), |i| drop(black_box(produce_cons(i)))));
        t[5].push(per_op(seqs.len(), |i| drop(black_box(api(i)))));
    }
    let [hash, vi, vc, pi, pc, pa] = t.map(median);
    let incl_reads: Vec<_> = seqs
        .iter()
        .map(|&s| reads(&nodes_needed(|t| inclusion::prove(t, s, n))))
        .collect();
    let cons_reads: Vec<_> = pairs
        .iter()
        .map(|&(a, b)| reads(&nodes_needed(|t| consistency::prove(t, a, b))))
        .collect();
    // The API's JSON, with a real entry in place of the synthetic one.
    let real = String::from_utf8(Gen::new(CHAIN).next(1)[0].to_json()).unwrap();
    let mut served = api(0);
    served.entry = RawValue::from_string(real).unwrap();
    let incl_json: Vec<usize> = incl
        .iter()
        .zip(&seqs)
        .map(|(p, &seq)| {
            let (chain, entry, proof) = (CHAIN.into(), served.entry.clone(), p.clone());
            let p = InclusionProof {
                chain,
                seq,
                size: n,
                entry,
                proof,
            };
            serde_json::to_vec(&p).unwrap().len()
        })
        .collect();
    let cons_json = cons.iter().zip(&pairs).map(|(p, &(first, second))| {
        let (chain, proof) = (CHAIN.into(), p.clone());
        let p = ConsistencyProof {
            chain,
            first,
            second,
            proof,
        };
        serde_json::to_vec(&p).unwrap().len()
    });
    println!("\nproofs at {n} entries, median of 5 interleaved rounds (1,000 random proofs each):");
    println!(
        "  ceiling: one node hash (SHA-256 of 65 bytes) = {:.0} ns",
        hash * 1e9
    );
    for (what, proofs, rd, json, produce, verify) in [
        (
            "inclusion",
            &incl,
            &incl_reads,
            spread(incl_json.into_iter()),
            pi,
            vi,
        ),
        ("consistency", &cons, &cons_reads, spread(cons_json), pc, vc),
    ] {
        let (lo, mean, hi) = spread(proofs.iter().map(Vec::len));
        let (e, s) = (
            spread(rd.iter().map(|r| r.0)).1,
            spread(rd.iter().map(|r| r.1)).1,
        );
        println!(
            "  {what}: {lo}-{hi} hashes (mean {mean:.1}) = {:.0} bytes raw, JSON {}-{} bytes",
            mean * 32.0,
            json.0,
            json.2
        );
        println!(
            "    produce {:.1} µs = {:.1} reads ({e:.1} entries + {s:.1} nodes), {:.2} µs/read, \
             {:.0} node hashes",
            produce * 1e6,
            e + s,
            produce * 1e6 / (e + s),
            produce / hash
        );
        println!(
            "    verify {:.2} µs = the time of {:.1} node hashes",
            verify * 1e6,
            verify / hash
        );
    }
    println!(
        "  API inclusion (checkpoint lookup + proof + entry): {:.1} µs",
        pa * 1e6
    );
    store.set_bulk(false).unwrap();
}

/// Deterministic actions credited by the real planner, continuing from the chain head.
struct Gen {
    rules: Rules,
    members: Vec<MemberId>,
    accounts: HashMap<MemberId, Account>,
    head: ChainHead,
    k: usize,
}

impl Gen {
    fn new(chain: &str) -> Gen {
        let pepper = Pepper::new(b"bench-pepper-0123456789".to_vec()).unwrap();
        let members = (0..20_000)
            .map(|i| MemberId::pseudonym(&pepper, &format!("u{i}")))
            .collect();
        let (rules, accounts, head) = (Rules::defaults(), HashMap::new(), ChainHead::empty(chain));
        Gen {
            rules,
            members,
            accounts,
            head,
            k: 0,
        }
    }

    /// Action `k`: the mix of `benches/verify.rs`, one every 1.728 s (20 days per million).
    fn action(&self, k: usize) -> Action {
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
        Action {
            id: format!("bench-{k:08}"),
            kind,
            member: self.members[(k * 7919) % self.members.len()].clone(),
            station: format!("st-{:04}", k % 500),
            at: 1_793_462_400 + k as i64 * 1728 / 1000,
            items,
        }
    }

    /// The next `n` entries, planned 1,000 actions at a time as crediting does.
    fn next(&mut self, n: usize) -> Vec<Entry> {
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            let batch: Vec<Action> = (self.k..self.k + (n - out.len()).min(1000))
                .map(|k| self.action(k))
                .collect();
            for m in batch.iter().map(|a| &a.member) {
                self.accounts.entry(m.clone()).or_insert_with(|| {
                    let mut a = Account::new(m.clone());
                    let c = m.as_str().as_bytes()[0] as usize % 100;
                    a.campus = (c < 80).then(|| format!("campus-{c:02}"));
                    a
                });
            }
            let known: Vec<Account> = batch
                .iter()
                .map(|a| self.accounts[&a.member].clone())
                .collect();
            let b = plan(&self.head, &known, &batch, &self.rules);
            self.head = b.new_head();
            for u in b.accounts {
                self.accounts.insert(u.account.member.clone(), u.account);
            }
            self.k += batch.len();
            out.extend(b.entries);
        }
        out
    }
}

/// Writes entries and the new head straight into the store's tables, in one transaction.
fn put_raw(dir: &Path, entries: &[Entry], head: &ChainHead) {
    let db = Database::create(dir.join(FILE_NAME)).unwrap();
    let txn = db.begin_write().unwrap();
    let mut t = txn.open_table(ENTRIES).unwrap();
    for e in entries {
        t.insert((head.chain.as_str(), e.seq), e.to_json().as_slice())
            .unwrap();
    }
    drop(t);
    let head_json = serde_json::to_vec(head).unwrap();
    txn.open_table(HEADS)
        .unwrap()
        .insert(head.chain.as_str(), head_json.as_slice())
        .unwrap();
    txn.commit().unwrap();
}

/// Forgets the tree and the checkpoints, so the next publish builds from scratch.
fn clear_tree(dir: &Path) {
    let db = Database::create(dir.join(FILE_NAME)).unwrap();
    let txn = db.begin_write().unwrap();
    txn.delete_table(TREE).unwrap();
    txn.delete_table(CHECKPOINTS).unwrap();
    txn.commit().unwrap();
}

/// Canonical bytes (the hash preimages) of entries, concatenated.
#[derive(Default)]
struct Bodies(Vec<u8>, Vec<usize>);

impl Bodies {
    fn push(&mut self, e: &Entry, buf: &mut Vec<u8>) {
        e.write_body(buf);
        self.0.extend_from_slice(buf);
        self.1.push(self.0.len());
    }

    /// The ceiling: what building the tree must hash, one leaf hash and one node hash per entry.
    fn ceiling(&self) -> f64 {
        let t = Instant::now();
        let (mut acc, mut start) = (ZERO, 0);
        for &end in &self.1 {
            acc = node(&acc, &leaf_hash(&self.0[start..end]));
            start = end;
        }
        black_box(acc);
        t.elapsed().as_secs_f64()
    }
}

/// Times one `tree::publish` on a freshly opened store in bulk mode; checks what it signed.
fn timed_publish(rt: &Runtime, dir: &Path, key: &LogKey, entries: u64, hashes: &[Digest]) -> f64 {
    let store = EmbeddedStore::open_existing(dir).unwrap();
    store.set_bulk(true).unwrap();
    let t = Instant::now();
    let p = rt.block_on(publish(&store, key, CHAIN, 1)).unwrap();
    let s = t.elapsed().as_secs_f64();
    assert_eq!(p.entries, entries);
    assert_eq!(p.checkpoint.checkpoint.root, root(hashes));
    store.set_bulk(false).unwrap();
    s
}

/// Proofs on the real chain: level-0 reads parse whole entries here.
fn real_proofs(rt: &Runtime, dir: &Path, key: &LogKey, size: u64) {
    let store = EmbeddedStore::open_existing(dir).unwrap();
    let mut rng = StdRng::seed_from_u64(3);
    let seqs: Vec<u64> = (0..500).map(|_| rng.gen_range(0..size)).collect();
    let signed = rt.block_on(store.checkpoint(CHAIN, None)).unwrap().unwrap();
    let api = |i: usize| {
        rt.block_on(tree::inclusion(&store, CHAIN, seqs[i], None))
            .unwrap()
    };
    let served: Vec<InclusionProof> = (0..seqs.len()).map(api).collect();
    let json = spread(served.iter().map(|p| serde_json::to_vec(p).unwrap().len()));
    let public = key.public();
    let mut t: [Vec<f64>; 4] = Default::default();
    for _ in 0..5 {
        let (x, mut acc) = (leaf(1), leaf(2));
        t[0].push(per_op(200_000, |_| acc = node(&acc, &x)));
        black_box(acc);
        t[1].push(per_op(seqs.len(), |i| {
            drop(black_box(
                rt.block_on(inclusion_proof(&store, CHAIN, seqs[i], size)),
            ))
        }));
        t[2].push(per_op(seqs.len(), |i| drop(black_box(api(i)))));
        t[3].push(per_op(seqs.len(), |i| {
            verify_inclusion(&public, &signed, &served[i]).unwrap();
        }));
    }
    let [hash, produce, served_t, audit] = t.map(median);
    println!("\ninclusion proofs on the real chain of {size} entries (median of 5 rounds):");
    println!(
        "  produce {:.1} µs ({:.0} node hashes); API response {:.1} µs, JSON {}-{} bytes",
        produce * 1e6,
        produce / hash,
        served_t * 1e6,
        json.0,
        json.2
    );
    println!(
        "  audit::proof::verify_inclusion (signature, entry, path) {:.1} µs ({:.0} node hashes)",
        audit * 1e6,
        audit / hash
    );
}

fn checkpoints(rt: &Runtime) {
    let sizes: Vec<usize> = std::env::var("CHECKPOINT_BENCH_SIZES")
        .unwrap_or_else(|_| "10000,100000,1000000".into())
        .split(',')
        .map(|s| s.trim().parse().unwrap())
        .collect();
    let key = key();
    let tmp = tempfile::Builder::new()
        .prefix("checkpoint-bench-")
        .tempdir_in(target())
        .unwrap();
    let mut rows = Vec::new();
    for &n in &sizes {
        let dir = tmp.path().join(format!("chain-{n}"));
        std::fs::create_dir_all(&dir).unwrap();
        let (mut gen, mut bodies, mut buf) = (Gen::new(CHAIN), Bodies::default(), Vec::new());
        let mut hashes = Vec::with_capacity(n + 3000);
        let t = Instant::now();
        while hashes.len() < n {
            let entries = gen.next((n - hashes.len()).min(CHUNK));
            put_raw(&dir, &entries, &gen.head);
            for e in &entries {
                bodies.push(e, &mut buf);
                hashes.push(e.hash);
            }
        }
        let mean = bodies.0.len() / n;
        eprintln!(
            "chain of {n}: planned and written in {:.1} s",
            t.elapsed().as_secs_f64()
        );
        let (mut first, mut ceil) = (Vec::new(), Vec::new());
        for _ in 0..3 {
            clear_tree(&dir);
            ceil.push(bodies.ceiling());
            first.push(timed_publish(rt, &dir, &key, n as u64, &hashes));
        }
        let (mut inc, mut inc_ceil) = (Vec::new(), Vec::new());
        for _ in 0..3 {
            let entries = gen.next(1000);
            put_raw(&dir, &entries, &gen.head);
            let mut more = Bodies::default();
            entries.iter().for_each(|e| more.push(e, &mut buf));
            hashes.extend(entries.iter().map(|e| e.hash));
            inc_ceil.push(more.ceiling());
            inc.push(timed_publish(rt, &dir, &key, 1000, &hashes));
        }
        let (f, c, i, ic) = (median(first), median(ceil), median(inc), median(inc_ceil));
        rows.push(format!(
            "| {n} | {mean} | {:.3} s | {:.0} | {:.0} | {:.3} | {:.2} ms | {:.3} |",
            f,
            n as f64 / f,
            n as f64 / c,
            c / f,
            i * 1e3,
            ic / i
        ));
        if n == *sizes.iter().max().unwrap() {
            real_proofs(rt, &dir, &key, hashes.len() as u64);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
    println!("\ncheckpoints on real entries, bulk mode, median of 3 runs (ceiling: SHA-256 of");
    println!("each entry's canonical bytes + one node hash per entry, same run):\n");
    println!("| entries | body bytes | first publish | entries/s | ceiling entries/s | ratio | +1,000: publish | ratio |");
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    rows.iter().for_each(|r| println!("{r}"));
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut c = Criterion::default().configure_from_args();
    proofs(&mut c, &rt);
    checkpoints(&rt);
    c.final_summary();
}
