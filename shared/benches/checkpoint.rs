//! Checkpoints and proofs on the embedded store (redb in a directory under `target/`, bulk
//! mode), against SHA-256 measured in the same run.
//!
//! 1. **Proofs at `PROOF_BENCH_ENTRIES` entries (default 10,000,000):** producing inclusion and
//!    consistency proofs from the store (`tree::inclusion_proof`, `tree::consistency_proof`:
//!    O(log n) point reads) for 1,000 random seqs and size pairs, verifying them
//!    (`merkle::inclusion::verify`, `merkle::consistency::verify`; timed over 32 proofs, in
//!    cache as when a client has just parsed one), their length in hashes and their JSON as the
//!    API serves it. Ceiling: one interior-node hash, SHA-256 of 0x01 ‖ 64 bytes.
//!    The store is synthetic, because `tree::publish` parses and link-checks every entry and 10M
//!    planner entries would cost most of the time budget for a tree of the same shape: the bench
//!    pushes 10M made-up leaf hashes (`leaf_hash(seq.to_be_bytes())`) through a `Frontier`,
//!    stores the nodes it completes from level `tree::STORED_FROM` up with `put_tree_nodes`,
//!    stores each entry as the 75 bytes `{"hash":"<hex>"}` (all a level-0 read parses) and signs
//!    a checkpoint of the root. The frontier's roots at ~256 random sizes are kept: every proof
//!    must verify against them, and one must equal `merkle::root`'s. The store is cached in
//!    `target/checkpoint-bench/proofs-<N>/`, so reruns skip the build (delete it to rebuild).
//!    Real entries are ~650 bytes, so part 2 times producing on its real chain and on this store
//!    in the same rounds.
//! 2. **Checkpoint time vs chain size** (`CHECKPOINT_BENCH_SIZES`, default 10000,100000,1000000)
//!    with real entries from the planner (`credit::plan`, the action mix of `benches/verify.rs`),
//!    written straight into the `entries` and `heads` tables: the first `tree::publish`, which
//!    builds the whole tree, against a ceiling of SHA-256 over each entry's canonical bytes plus
//!    one node hash per entry; then a publish after the planner appends 1,000 more. Median of 3
//!    runs each; every signed root must be `merkle::root` of the chain's entry hashes.
//!
//! 3. **Brand figures on the same chains:** `checkpoint::brand::fold_all` after the publishes
//!    (every partner share of the chain folded into the stored figures, from an empty fold
//!    state), and the verifier's check of them (`brand::check::FoldCheck` over every stored
//!    entry), against the same SHA-256 ceiling. Median of 3 runs each; the folded standings
//!    must pass the check.
//!
//! ```sh
//! cargo bench -p greenloop --bench checkpoint
//! PROOF_BENCH_ENTRIES=1000000 CHECKPOINT_BENCH_SIZES=10000 cargo bench -p greenloop --bench checkpoint
//! cargo bench -p greenloop --bench checkpoint -- nomatch   # own medians only, no criterion
//! ```

use criterion::Criterion;
use greenloop::catalog::Rules;
use greenloop::checkpoint::tree::{self, consistency_proof, inclusion_proof, publish, STORED_FROM};
use greenloop::checkpoint::{Checkpoint, LogKey};
use greenloop::credit::plan;
use greenloop::domain::{Action, ActionKind, BoxLot, Items, MemberId, Pepper};
use greenloop::ledger::{leaf_hash, Digest, Entry, ZERO};
use greenloop::merkle::frontier::{nodes_needed, Frontier};
use greenloop::merkle::{consistency, inclusion, node, root};
use greenloop::proof::{verify_inclusion, InclusionProof};
use greenloop::store::embedded::{EmbeddedStore, ENTRIES, FILE_NAME, TREE};
use greenloop::store::CheckpointWrites;
use greenloop::store::{Account, ChainHead, CheckpointStore};
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
/// Private tables of the store, by name, for raw bulk writes.
const HEADS: TableDefinition<&str, &[u8]> = TableDefinition::new("heads");
const CHECKPOINTS: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("checkpoints");
/// The brand figures' tables, forgotten between fold runs.
const BRAND_TABLES: [&str; 5] = [
    "brand_cursors",
    "brand_standings",
    "brand_rows",
    "brand_members",
    "brand_index",
];

fn target() -> PathBuf {
    let dir = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from);
    dir.unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"))
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

/// (min, mean, max)
fn spread(v: impl Iterator<Item = usize>) -> (usize, f64, usize) {
    let v: Vec<usize> = v.collect();
    let mean = v.iter().sum::<usize>() as f64 / v.len() as f64;
    (*v.iter().min().unwrap(), mean, *v.iter().max().unwrap())
}

/// A timed operation: name, calls per round, the call (given the call's number).
type Op<'a> = (&'static str, usize, Box<dyn Fn(usize) + 'a>);

/// Median seconds per call of each op over 25 short rounds, the ops interleaved in every round
/// so that the ratios see the same machine weather.
fn interleaved(ops: &[Op]) -> Vec<f64> {
    let mut t = vec![Vec::new(); ops.len()];
    for r in 0..25 {
        for (k, (_, calls, f)) in ops.iter().enumerate() {
            let s = Instant::now();
            (r * calls..(r + 1) * calls).for_each(f);
            t[k].push(s.elapsed().as_secs_f64() / *calls as f64);
        }
    }
    t.into_iter().map(median).collect()
}

/// The ceiling of the proof figures: one interior-node hash.
fn node_op(leaves: &[Digest]) -> Op<'_> {
    let f = |i: usize| {
        black_box(node(&leaves[i % 1000], &leaves[(i + 1) % 1000]));
    };
    ("node_hash", 40_000, Box::new(f))
}

/// Mean store reads behind proofs, as `tree::nodes` makes them: (entries, stored nodes).
/// Levels 1 to `STORED_FROM - 1` are read as their 2, 4 or 8 entries.
fn reads(proofs: impl Iterator<Item = Vec<(u32, u64)>>) -> (f64, f64) {
    let (mut entries, mut nodes, mut count) = (0, 0, 0);
    for keys in proofs {
        let mut read = Vec::new();
        for (level, i) in keys {
            match level {
                0 => read.push(i),
                l if l >= STORED_FROM => nodes += 1,
                l => read.extend(i << l..(i + 1) << l),
            }
        }
        read.sort_unstable();
        read.dedup();
        (entries, count) = (entries + read.len(), count + 1);
    }
    (entries as f64 / count as f64, nodes as f64 / count as f64)
}

/// The cached synthetic store of `n` entries, and the frontier roots recorded while building it.
fn proof_store(rt: &Runtime, n: u64) -> (PathBuf, BTreeMap<u64, Digest>) {
    let dir = target().join(format!("checkpoint-bench/proofs-{n}"));
    let marker = dir.join("roots.txt");
    if let Ok(text) = std::fs::read_to_string(&marker) {
        eprintln!("proof store: reusing {}", dir.display());
        let roots = text.lines().filter_map(|l| l.split_once(' '));
        let roots = roots.map(|(s, r)| (s.parse().unwrap(), Digest::parse(r).unwrap()));
        return (dir, roots.collect());
    }
    let t = Instant::now();
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut rng = StdRng::seed_from_u64(1);
    let mut want: BTreeSet<u64> = (0..256).map(|_| rng.gen_range(1..=n)).collect();
    want.extend([n, 1_000_003.min(n)]);
    let (mut f, mut nodes, mut roots) = (Frontier::default(), Vec::new(), BTreeMap::new());
    let (db, mut json) = (Database::create(dir.join(FILE_NAME)).unwrap(), Vec::new());
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
    let (chain, root, size, time) = (CHAIN.to_owned(), f.root(), n, 0);
    let signed = key().sign(Checkpoint {
        chain,
        root,
        size,
        time,
    });
    assert!(rt.block_on(store.put_checkpoint(&signed)).unwrap());
    store.set_bulk(false).unwrap();
    let text: String = roots.iter().map(|(s, r)| format!("{s} {r}\n")).collect();
    std::fs::write(&marker, text).unwrap();
    let secs = t.elapsed().as_secs_f64();
    eprintln!(
        "proof store: {n} entries, {} nodes, built in {secs:.1} s",
        nodes.len()
    );
    (dir, roots)
}

fn proofs(c: &mut Criterion, rt: &Runtime) -> (EmbeddedStore, u64) {
    let n = std::env::var("PROOF_BENCH_ENTRIES").map_or(10_000_000, |v| v.parse().unwrap());
    let (dir, roots) = proof_store(rt, n);
    let m = 1_000_003.min(n);
    assert_eq!(roots[&m], root(&(0..m).map(leaf).collect::<Vec<_>>()));
    let store = EmbeddedStore::open_existing(&dir).unwrap();
    store.set_bulk(true).unwrap();
    let mut rng = StdRng::seed_from_u64(2);
    let seqs: Vec<u64> = (0..1000).map(|_| rng.gen_range(0..n)).collect();
    let leaves: Vec<Digest> = seqs.iter().map(|&s| leaf(s)).collect();
    let sizes: Vec<u64> = roots.keys().copied().collect();
    let pairs: Vec<(u64, u64)> = (0..1100)
        .map(|_| [0; 2].map(|_| sizes[rng.gen_range(0..sizes.len())]))
        .filter_map(|[a, b]| (a != b).then_some((a.min(b), a.max(b))))
        .take(1000)
        .collect();
    let incl_of = |i: usize| rt.block_on(inclusion_proof(&store, CHAIN, seqs[i % 1000], n));
    let cons_of = |i: usize| {
        let (a, b) = pairs[i % 1000];
        rt.block_on(consistency_proof(&store, CHAIN, a, b))
    };
    let api = |i: usize| rt.block_on(tree::inclusion(&store, CHAIN, seqs[i % 1000], None));
    let incl: Vec<Vec<Digest>> = (0..1000).map(|i| incl_of(i).unwrap()).collect();
    let cons: Vec<Vec<Digest>> = (0..1000).map(|i| cons_of(i).unwrap()).collect();
    // Timed over 32 proofs, so each is in cache as when a client has just parsed it.
    let verify_incl = |i: usize| {
        let i = i % 32;
        inclusion::verify(seqs[i], n, &leaves[i], &incl[i], &roots[&n]).unwrap()
    };
    let verify_cons = |i: usize| {
        let ((a, b), p) = (pairs[i % 32], &cons[i % 32]);
        consistency::verify(a, b, &roots[&a], &roots[&b], p).unwrap()
    };
    for i in 0..1000 {
        inclusion::verify(seqs[i], n, &leaves[i], &incl[i], &roots[&n]).unwrap();
        let (a, b) = pairs[i];
        consistency::verify(a, b, &roots[&a], &roots[&b], &cons[i]).unwrap();
    }
    let ops: [Op; 6] = [
        node_op(&leaves),
        ("inclusion_verify", 2000, Box::new(verify_incl)),
        ("consistency_verify", 2000, Box::new(verify_cons)),
        ("inclusion_produce", 200, Box::new(|i| drop(incl_of(i)))),
        ("consistency_produce", 200, Box::new(|i| drop(cons_of(i)))),
        ("api_inclusion", 200, Box::new(|i| drop(api(i)))),
    ];
    let mut g = c.benchmark_group(format!("proofs_{n}"));
    g.sample_size(20).measurement_time(Duration::from_secs(3));
    for (name, _, f) in &ops {
        let mut i = 0..;
        g.bench_function(*name, |b| b.iter(|| f(i.next().unwrap())));
    }
    g.finish();
    let t = interleaved(&ops);

    // The API's JSON, with a real entry in place of the synthetic one.
    let real = String::from_utf8(Gen::new(CHAIN).next(1)[0].to_json()).unwrap();
    let real = RawValue::from_string(real).unwrap();
    let incl_json = (0..1000).map(|i| {
        let mut served = api(i).unwrap();
        served.entry = real.clone();
        serde_json::to_vec(&served).unwrap().len()
    });
    let cons_json = pairs.iter().map(|&(a, b)| {
        let served = rt.block_on(tree::consistency(&store, CHAIN, a, Some(b)));
        serde_json::to_vec(&served.unwrap()).unwrap().len()
    });
    let keys = |s: u64| nodes_needed(|t| inclusion::prove(t, s, n));
    let reads = [
        reads(seqs.iter().map(|&s| keys(s))),
        reads(
            pairs
                .iter()
                .map(|&(a, b)| nodes_needed(|t| consistency::prove(t, a, b))),
        ),
    ];
    let (json, proofs) = ([spread(incl_json), spread(cons_json)], [&incl, &cons]);
    println!("\nproofs at {n} entries, 1,000 random ones, median of 25 interleaved rounds:");
    println!(
        "  ceiling: one node hash (SHA-256 of 65 bytes) {:.0} ns",
        t[0] * 1e9
    );
    for (k, what) in ["inclusion", "consistency"].into_iter().enumerate() {
        let ((lo, mean, hi), (jlo, _, jhi)) = (spread(proofs[k].iter().map(Vec::len)), json[k]);
        let ((e, s), produce, verify, bytes) = (reads[k], t[3 + k], t[1 + k], mean * 32.0);
        println!("  {what}: {lo}-{hi} hashes, mean {mean:.1} = {bytes:.0} bytes; API JSON {jlo}-{jhi} bytes");
        let (us, per_read, hashes) = (produce * 1e6, produce * 1e6 / (e + s), produce / t[0]);
        println!("    produce {us:.1} µs = {:.1} reads ({e:.1} entries + {s:.1} nodes), {per_read:.2} µs/read, = {hashes:.0} node hashes", e + s);
        let (us, hashes) = (verify * 1e6, verify / t[0]);
        println!("    verify {us:.2} µs = the time of {hashes:.1} node hashes");
    }
    println!(
        "  API inclusion (checkpoint, proof, entry) {:.1} µs",
        t[5] * 1e6
    );
    drop(ops);
    (store, n)
}

/// Actions credited by the real planner, the mix of `benches/verify.rs`, from the chain head.
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
        let members = (0..20_000).map(|i| MemberId::pseudonym(&pepper, &format!("u{i}")));
        let (rules, members, accounts) = (Rules::defaults(), members.collect(), HashMap::new());
        let (head, k) = (ChainHead::empty(chain), 0);
        Gen {
            rules,
            members,
            accounts,
            head,
            k,
        }
    }

    /// Action `k`: one every 1.728 s (20 days per million).
    fn action(&self, k: usize) -> Action {
        use ActionKind::*;
        let (kind, mut items) = ([Scan, Scan, Pledge, Pickup][k % 4], Items::default());
        if kind == Pickup {
            items.clothing_g = 500 + (k as u64 * 37) % 5000;
        } else {
            let brand =
                (k.is_multiple_of(3) && kind == Scan).then(|| format!("brand-{:02}", 1 + k % 50));
            let count = 1 + (k % 5) as u32;
            items.boxes = vec![BoxLot { brand, count }];
            items.books = (kind == Scan) as u32 * (k % 4) as u32;
        }
        Action {
            id: format!("bench-{k:08}"),
            integration: "qr-1".into(),
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
            let batch = self.k..self.k + (n - out.len()).min(1000);
            let batch: Vec<Action> = batch.map(|k| self.action(k)).collect();
            for m in batch.iter().map(|a| &a.member) {
                self.accounts.entry(m.clone()).or_insert_with(|| {
                    let (mut a, c) = (Account::new(m.clone()), m.as_str().as_bytes()[0] % 100);
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

/// Writes entries and the new head straight into the store's tables, in one transaction;
/// or, with no entries, forgets the tree and the checkpoints, so the next publish starts over.
fn put_raw(dir: &Path, entries: &[Entry], head: &ChainHead) {
    let db = Database::create(dir.join(FILE_NAME)).unwrap();
    let txn = db.begin_write().unwrap();
    if entries.is_empty() {
        txn.delete_table(TREE).unwrap();
        txn.delete_table(CHECKPOINTS).unwrap();
    } else {
        let mut t = txn.open_table(ENTRIES).unwrap();
        for e in entries {
            t.insert((CHAIN, e.seq), e.to_json().as_slice()).unwrap();
        }
        let head = serde_json::to_vec(head).unwrap();
        txn.open_table(HEADS)
            .unwrap()
            .insert(CHAIN, head.as_slice())
            .unwrap();
    }
    txn.commit().unwrap();
}

/// Forgets the brand figures, so the next fold starts from every chain's first entry.
fn forget_brands(dir: &Path) {
    let db = Database::create(dir.join(FILE_NAME)).unwrap();
    let txn = db.begin_write().unwrap();
    for name in BRAND_TABLES {
        let t: TableDefinition<&str, &[u8]> = TableDefinition::new(name);
        // Each table's key type differs; deleting by name needs none of them.
        txn.delete_table(t).unwrap();
    }
    txn.commit().unwrap();
}

/// Times folding the whole chain into empty brand figures, then the verifier's check of them
/// over `stored` (every entry's stored bytes); (fold s, check s, shares folded).
fn timed_fold(rt: &Runtime, dir: &Path, stored: &[Vec<u8>]) -> (f64, f64, usize) {
    use greenloop::brand::check::FoldCheck;
    use greenloop::store::LedgerSource;
    forget_brands(dir);
    let store = EmbeddedStore::open_existing(dir).unwrap();
    store.set_bulk(true).unwrap();
    let t = Instant::now();
    let folded = rt
        .block_on(greenloop::checkpoint::brand::fold_all(&store))
        .unwrap();
    let fold = t.elapsed().as_secs_f64();
    assert!(folded.iter().all(|f| f.stopped.is_none()));
    let figures = rt.block_on(store.stored_brand_figures()).unwrap().unwrap();
    let catalog = rt.block_on(store.catalog()).unwrap();
    let t = Instant::now();
    let mut check = FoldCheck::new(&catalog, figures.cursors);
    for e in stored {
        check.push(CHAIN, e);
    }
    let problems = check.finish(&figures.standings);
    let checked = t.elapsed().as_secs_f64();
    assert!(problems.is_empty(), "{problems:?}");
    store.set_bulk(false).unwrap();
    (fold, checked, folded.iter().map(|f| f.shares).sum())
}

/// An entry's canonical bytes: its leaf hash's preimage.
fn body(e: &Entry) -> Vec<u8> {
    let mut b = Vec::new();
    e.write_body(&mut b);
    b
}

/// Seconds to hash what building the tree must hash: each entry's canonical bytes (the leaf
/// hash's preimage) and one node hash per entry.
fn ceiling(bodies: &[Vec<u8>]) -> f64 {
    let t = Instant::now();
    let hash = bodies.iter().fold(ZERO, |acc, b| node(&acc, &leaf_hash(b)));
    black_box(hash);
    t.elapsed().as_secs_f64()
}

/// Times one `tree::publish` on a freshly opened store in bulk mode; checks what it signed.
fn timed_publish(rt: &Runtime, dir: &Path, entries: u64, hashes: &[Digest]) -> f64 {
    let store = EmbeddedStore::open_existing(dir).unwrap();
    store.set_bulk(true).unwrap();
    let t = Instant::now();
    let p = rt.block_on(publish(&store, &key(), CHAIN, 1)).unwrap();
    let s = t.elapsed().as_secs_f64();
    assert_eq!(p.entries, entries);
    assert_eq!(p.checkpoint.checkpoint.root, root(hashes));
    store.set_bulk(false).unwrap();
    s
}

/// Inclusion proofs on the real chain, interleaved with the synthetic store's: level-0 reads
/// parse whole entries here.
fn real_proofs(rt: &Runtime, dir: &Path, size: u64, (synth, n): (&EmbeddedStore, u64)) {
    let store = EmbeddedStore::open_existing(dir).unwrap();
    let mut rng = StdRng::seed_from_u64(3);
    let seqs: Vec<(u64, u64)> = (0..1000)
        .map(|_| (rng.gen_range(0..size), rng.gen_range(0..n)))
        .collect();
    let leaves: Vec<Digest> = seqs.iter().map(|&s| leaf(s.0)).collect();
    let signed = rt.block_on(store.checkpoint(CHAIN, None)).unwrap().unwrap();
    let api = |i: usize| rt.block_on(tree::inclusion(&store, CHAIN, seqs[i % 1000].0, None));
    let served: Vec<InclusionProof> = (0..1000).map(|i| api(i).unwrap()).collect();
    let public = key().public();
    let audit = |i: usize| drop(verify_inclusion(&public, &signed, &served[i % 32]).unwrap());
    let real = |i: usize| drop(rt.block_on(inclusion_proof(&store, CHAIN, seqs[i % 1000].0, size)));
    let synthetic =
        |i: usize| drop(rt.block_on(inclusion_proof(synth, CHAIN, seqs[i % 1000].1, n)));
    let t = interleaved(&[
        node_op(&leaves),
        ("real", 200, Box::new(real)),
        ("synthetic", 200, Box::new(synthetic)),
        ("api", 200, Box::new(|i| drop(api(i)))),
        ("audit", 2000, Box::new(audit)),
    ]);
    let keys = |s: u64, n: u64| nodes_needed(|t| inclusion::prove(t, s, n));
    let real_reads = reads(seqs.iter().map(|s| keys(s.0, size)));
    let synth_reads = reads(seqs.iter().map(|s| keys(s.1, n)));
    println!("\ninclusion proofs on the real chain of {size} entries, interleaved with {n} synthetic (median of 25 rounds):");
    for (what, (e, s), t) in [("real", real_reads, t[1]), ("synthetic", synth_reads, t[2])] {
        let (us, per_read) = (t * 1e6, t * 1e6 / (e + s));
        println!("  produce, {what}: {us:.1} µs = {e:.1} entry + {s:.1} node reads, {per_read:.2} µs/read");
    }
    let [hash, api, audit] = [t[0], t[3], t[4]].map(|s| (s * 1e6, s / t[0]));
    println!(
        "  node hash {:.0} ns; API response {:.1} µs = {:.0} node hashes",
        hash.0 * 1e3,
        api.0,
        api.1
    );
    println!(
        "  audit::proof::verify_inclusion (signature, entry, path) {:.1} µs = {:.0} node hashes",
        audit.0, audit.1
    );
}

fn checkpoints(rt: &Runtime, synth: (&EmbeddedStore, u64)) {
    let sizes = std::env::var("CHECKPOINT_BENCH_SIZES");
    let sizes = sizes
        .as_deref()
        .unwrap_or("10000,100000,1000000")
        .split(',');
    let sizes: Vec<usize> = sizes.map(|s| s.trim().parse().unwrap()).collect();
    let tmp = tempfile::Builder::new()
        .prefix("checkpoint-bench-")
        .tempdir_in(target())
        .unwrap();
    println!(
        "\ncheckpoints on real entries, bulk mode, median of 3 runs; ceiling: SHA-256 of each"
    );
    println!("entry's canonical bytes + one node hash per entry, in the same run\n");
    println!("| entries | first publish | entries/s | ceiling entries/s | ratio | +1,000: publish | ceiling | ratio |");
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut folds = Vec::new();
    for &n in &sizes {
        let dir = tmp.path().join(format!("chain-{n}"));
        std::fs::create_dir_all(&dir).unwrap();
        let (mut gen, mut bodies, mut hashes) = (Gen::new(CHAIN), Vec::new(), Vec::new());
        let t = Instant::now();
        while hashes.len() < n {
            let entries = gen.next((n - hashes.len()).min(CHUNK));
            put_raw(&dir, &entries, &gen.head);
            bodies.extend(entries.iter().map(body));
            hashes.extend(entries.iter().map(|e| e.hash));
        }
        eprintln!(
            "chain of {n}: planned and written in {:.1} s",
            t.elapsed().as_secs_f64()
        );
        let (mut first, mut ceil, mut inc, mut inc_ceil) = (vec![], vec![], vec![], vec![]);
        for _ in 0..3 {
            put_raw(&dir, &[], &gen.head);
            ceil.push(ceiling(&bodies));
            first.push(timed_publish(rt, &dir, n as u64, &hashes));
        }
        drop(bodies);
        for _ in 0..3 {
            let entries = gen.next(1000);
            put_raw(&dir, &entries, &gen.head);
            hashes.extend(entries.iter().map(|e| e.hash));
            inc_ceil.push(ceiling(&entries.iter().map(body).collect::<Vec<_>>()));
            inc.push(timed_publish(rt, &dir, 1000, &hashes));
        }
        let [f, c, i, ic] = [first, ceil, inc, inc_ceil].map(median);
        let (rate, ceil_rate, inc_ms, ic_ms) = (n as f64 / f, n as f64 / c, i * 1e3, ic * 1e3);
        println!("| {n} | {f:.3} s | {rate:.0} | {ceil_rate:.0} | {:.3} | {inc_ms:.2} ms | {ic_ms:.2} ms | {:.3} |", c / f, ic / i);
        folds.push(brand_figures(rt, &dir, hashes.len()));
        if n == *sizes.iter().max().unwrap() {
            real_proofs(rt, &dir, hashes.len() as u64, synth);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
    println!("\nbrand figures on the same chains (after the +1,000s), median of 3 runs; ceiling:");
    println!("SHA-256 of each entry's canonical bytes + one node hash per entry, in the same run;");
    println!(
        "the brand check's cost as a share of the verifier's (entries only) on the same entries\n"
    );
    println!("| entries | partner shares | fold | entries/s | ratio | brand check | entries/s | ratio | verifier | check / verifier |");
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for row in folds {
        println!("| {row} |");
    }
}

/// Folds the chain of `size` entries (checkpointed to its end) into empty brand figures three
/// times and checks them: one table row.
fn brand_figures(rt: &Runtime, dir: &Path, size: usize) -> String {
    let store = EmbeddedStore::open_existing(dir).unwrap();
    let mut stored = Vec::with_capacity(size);
    while stored.len() < size {
        let page = rt
            .block_on(greenloop::store::LedgerSource::entries(
                &store,
                CHAIN,
                stored.len() as u64,
                CHUNK,
            ))
            .unwrap();
        stored.extend(page);
    }
    drop(store);
    let bodies: Vec<Vec<u8>> = stored
        .iter()
        .map(|b| {
            let e: Entry = serde_json::from_slice(b).unwrap();
            body(&e)
        })
        .collect();
    let catalog = greenloop::catalog::Catalog::builtin();
    let (mut fold, mut check, mut ceil, mut shares) = (vec![], vec![], vec![], 0);
    let mut verify = vec![];
    for _ in 0..3 {
        ceil.push(ceiling(&bodies));
        let t = Instant::now();
        let mut v = greenloop::ledger::verify::Verifier::new(&catalog);
        v.chain(CHAIN);
        stored.iter().for_each(|e| v.push(e));
        assert!(v.finish_entries_only().is_ok());
        verify.push(t.elapsed().as_secs_f64());
        let (f, c, s) = timed_fold(rt, dir, &stored);
        (shares, fold, check) = (s, [fold, vec![f]].concat(), [check, vec![c]].concat());
    }
    let n = stored.len() as f64;
    let [f, c, h, v] = [fold, check, ceil, verify].map(median);
    format!(
        "{} | {shares} | {f:.3} s | {:.0} | {:.3} | {c:.3} s | {:.0} | {:.3} | {v:.3} s | {:.3}",
        stored.len(),
        n / f,
        h / f,
        n / c,
        h / c,
        c / v
    )
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut c = Criterion::default().configure_from_args();
    let (synth, n) = proofs(&mut c, &rt);
    checkpoints(&rt, (&synth, n));
    synth.set_bulk(false).unwrap();
    c.final_summary();
}
