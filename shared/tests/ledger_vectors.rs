//! Checks the test vectors of `docs/ledger-format.md` against the implementation.
//!
//! The document is normative: auditors implement verifiers from it. So every vector in it must
//! be canonical (byte for byte what we store), hash to its stated hash, recompute under the
//! default rulebook and factor table, and the vectors together must verify as a ledger against
//! the derived state the document gives. The hashes are also pinned here, so that a vector
//! re-sealed after an edit still fails: published vectors never change (format v2 has its own).

use greenloop::catalog::Catalog;
use greenloop::domain::{MemberId, Pepper};
use greenloop::factors::FactorTable;
use greenloop::ledger::canonical::scan;
use greenloop::ledger::verify::Verifier;
use greenloop::ledger::{chain_for_station, Entry, FORMAT_VERSION};
use greenloop::rulebook::{Day, DayBefore, Rulebook};
use greenloop::store::{Account, CampusTotals, ChainHead};

/// The hashes of vectors 1, 2, … as published. Cross-checked with an independent Python
/// computation (`hashlib.sha256(b"\x00" + json.dumps(..., sort_keys=True, separators=(",", ":"),
/// ensure_ascii=False))`) when the vectors were made.
const PINNED: [&str; 7] = [
    "a2ab6969f71bb38cfd2ab6bccf1a2edcab9e803ee1c6d65a5af76280acec6e81",
    "b845a4e6aea2bda1b499d3f81e771240f9aa4a20bfcc36431c977f48a893beb5",
    "45b08ca2c4ddf6884b5fd633bb43064541c7e25eb0b4abaa70f164ee14b16b87",
    "8e5d200a0c29503b2bb6605ff51a6c1a4af94067ef8a3a554661446540ddd0fd",
    "de41ba55bffbd4f708d8ef25013824ee0c4ac8e3c4a74bcfe0e4f907a5e81370",
    "244b0dfe3d1cafa06bf2378d6fe21adae992c81064db706739290ac0edb58572",
    "f18f9d65099bd3f037bdab2bab225e728e597be2b0fa4d5fcfb4a9dc31ac9f28",
];

/// The shard count and pepper the document says the vectors were made with.
const SHARDS: u32 = 4;
const PEPPER: &[u8] = b"greenloop-test-pepper";

fn doc() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/ledger-format.md");
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

/// A fenced code block: its info string, its content, and the first non-blank line after it.
struct Block {
    info: String,
    body: String,
    after: Option<String>,
}

fn blocks(text: &str) -> Vec<Block> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let Some(info) = lines[i].strip_prefix("```") else {
            i += 1;
            continue;
        };
        let close = (i + 1..lines.len())
            .find(|&j| lines[j] == "```")
            .unwrap_or_else(|| panic!("unclosed code fence at line {}", i + 1));
        let body: String = lines[i + 1..close]
            .iter()
            .map(|l| format!("{l}\n"))
            .collect();
        let after = lines[close + 1..]
            .iter()
            .find(|l| !l.trim().is_empty())
            .map(|l| l.to_string());
        out.push(Block {
            info: info.trim().to_owned(),
            body,
            after,
        });
        i = close + 1;
    }
    out
}

struct Vector {
    n: usize,
    /// The stored line, without its newline.
    line: String,
    expected: String,
}

/// Every `json vector-N` block with its `expected hash:` line, in document order.
fn vectors(blocks: &[Block]) -> Vec<Vector> {
    let mut out = Vec::new();
    for b in blocks {
        let Some(n) = b.info.strip_prefix("json vector-") else {
            continue;
        };
        let n: usize = n
            .parse()
            .unwrap_or_else(|_| panic!("bad vector marker {:?}", b.info));
        let line = b
            .body
            .strip_suffix('\n')
            .filter(|l| !l.contains('\n'))
            .unwrap_or_else(|| panic!("vector {n} must be exactly one line"))
            .to_owned();
        let expected = b
            .after
            .as_deref()
            .and_then(|l| l.strip_prefix("expected hash: "))
            .unwrap_or_else(|| panic!("vector {n} is not followed by an `expected hash:` line"))
            .trim_end()
            .to_owned();
        out.push(Vector { n, line, expected });
    }
    out
}

fn block<'a>(blocks: &'a [Block], info: &str) -> &'a Block {
    let mut found = blocks.iter().filter(|b| b.info == info);
    let b = found
        .next()
        .unwrap_or_else(|| panic!("no `{info}` block in the document"));
    assert!(found.next().is_none(), "more than one `{info}` block");
    b
}

fn parse(v: &Vector) -> Entry {
    serde_json::from_str(&v.line)
        .unwrap_or_else(|e| panic!("vector {} is not a v2 entry: {e}", v.n))
}

#[test]
fn vectors_are_numbered_and_pinned() {
    let vs = vectors(&blocks(&doc()));
    assert!(vs.len() >= 3, "the document needs at least 3 vectors");
    let numbers: Vec<usize> = vs.iter().map(|v| v.n).collect();
    assert_eq!(
        numbers,
        (1..=vs.len()).collect::<Vec<_>>(),
        "vectors 1, 2, 3, … in order"
    );
    let hashes: Vec<&str> = vs.iter().map(|v| v.expected.as_str()).collect();
    assert_eq!(hashes, PINNED, "published vectors never change");
}

#[test]
fn each_vector_is_canonical_and_hashes_as_stated() {
    let blocks = blocks(&doc());
    for v in vectors(&blocks) {
        let n = v.n;
        let e = parse(&v);
        let computed = e.compute_hash(&mut Vec::new()).to_string();
        assert_eq!(
            computed, v.expected,
            "vector {n}: computed hash vs `expected hash:`"
        );
        assert_eq!(
            e.hash.to_string(),
            v.expected,
            "vector {n}: stored hash vs `expected hash:`"
        );
        // Canonical: exactly the stored form, which the fast path also reads and hashes.
        assert_eq!(
            String::from_utf8(e.to_json()).unwrap(),
            v.line,
            "vector {n} is not canonical"
        );
        let scanned = scan(v.line.as_bytes()).unwrap_or_else(|| panic!("vector {n}: fast path"));
        assert_eq!(scanned.entry, e);
        assert_eq!(scanned.leaf_hash(v.line.as_bytes()), e.hash);
        // The stated preimage C is the canonical body without `hash`.
        let pre = block(&blocks, &format!("text preimage-{n}"));
        let mut body = Vec::new();
        e.write_body(&mut body);
        assert_eq!(
            format!("{}\n", String::from_utf8(body).unwrap()),
            pre.body,
            "vector {n}: preimage"
        );
        assert_eq!(e.v, FORMAT_VERSION);
        assert!(e.integers_are_safe(), "vector {n}: integers");
        e.items.validate_for(e.kind).unwrap();
    }
}

#[test]
fn amounts_recompute_under_the_default_versions() {
    let rb = Rulebook::default_double11();
    let f = FactorTable::default_2026();
    let pepper = Pepper::new(PEPPER.to_vec()).unwrap();
    let members: Vec<MemberId> = ["alice", "bob", "carol"]
        .iter()
        .map(|u| MemberId::pseudonym(&pepper, u))
        .collect();
    for v in vectors(&blocks(&doc())) {
        let (n, e) = (v.n, parse(&v));
        assert_eq!(e.rulebook, rb.version, "vector {n}");
        assert_eq!(e.factors, f.version, "vector {n}");
        let before = DayBefore {
            points: e.day_before,
            items: e.day_items_before,
        };
        let a = rb.assess(e.kind, &e.items, e.at, &before);
        assert_eq!(e.points, a.points, "vector {n}: points");
        assert_eq!(e.bonus, a.bonus, "vector {n}: bonus");
        assert_eq!(e.reason, a.reason, "vector {n}: reason");
        assert_eq!(Day::parse(&e.day), Some(a.day), "vector {n}: day");
        let co2e_g = a.co2e_g(f.co2e_g(e.kind, &e.items));
        assert_eq!(e.co2e_g, co2e_g, "vector {n}: co2e_g");
        assert_eq!(
            e.chain,
            chain_for_station(&e.station, SHARDS),
            "vector {n}: chain"
        );
        assert!(
            members.contains(&e.member),
            "vector {n}: member is a test pseudonym"
        );
    }
}

/// The published export: the vectors in (chain, seq) order, one per line.
#[test]
fn export_block_is_the_vectors_in_chain_seq_order() {
    let blocks = blocks(&doc());
    let mut entries: Vec<(String, u64, String)> = vectors(&blocks)
        .into_iter()
        .map(|v| {
            let e = parse(&v);
            (e.chain, e.seq, v.line)
        })
        .collect();
    entries.sort();
    let expected: String = entries.iter().map(|(_, _, l)| format!("{l}\n")).collect();
    assert_eq!(block(&blocks, "jsonl export").body, expected);
}

fn verify(export: &str, state: &serde_json::Value) -> greenloop::ledger::verify::Report {
    verify_in(&Catalog::builtin(), export, state)
}

/// [`verify`] under the versions of `catalog`.
fn verify_in(
    catalog: &Catalog,
    export: &str,
    state: &serde_json::Value,
) -> greenloop::ledger::verify::Report {
    let heads: Vec<ChainHead> = serde_json::from_value(state["heads"].clone()).unwrap();
    let accounts: Vec<Account> = serde_json::from_value(state["accounts"].clone()).unwrap();
    let totals: Vec<CampusTotals> = serde_json::from_value(state["campus_totals"].clone()).unwrap();
    let mut verifier = Verifier::with_threads(catalog, 1);
    let mut current: Option<String> = None;
    for line in export.lines() {
        let chain = parse_chain(line);
        if current.as_deref() != Some(chain.as_str()) {
            verifier.chain(&chain);
            current = Some(chain);
        }
        verifier.push(line.as_bytes());
    }
    verifier.finish(&heads, &accounts, &totals)
}

fn parse_chain(line: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    v["chain"].as_str().unwrap().to_owned()
}

/// Chains, prev and member_prev links, day_before counters, accounts, campus totals and heads:
/// the vectors are one consistent ledger, as the document claims.
#[test]
fn vectors_verify_as_a_ledger_against_the_derived_state() {
    let blocks = blocks(&doc());
    let export = &block(&blocks, "jsonl export").body;
    let state: serde_json::Value =
        serde_json::from_str(&block(&blocks, "json state").body).expect("the state block is JSON");
    let report = verify(export, &state);
    assert!(report.is_ok(), "{:?}", report.problems);
    assert!(report.totals_checked);
    assert_eq!(report.entries, vectors(&blocks).len() as u64);
    assert_eq!(
        (report.chains.len(), report.members, report.campuses),
        (2, 3, 2)
    );

    // And the check has teeth: one credited point more is caught.
    let tampered = export.replacen("\"bonus\":80,", "\"bonus\":81,", 1);
    assert_ne!(&tampered, export);
    let report = verify(&tampered, &state);
    assert!(
        matches!(
            report.first_problem(),
            Some(greenloop::ledger::verify::Problem::BadHash { seq: 0, .. })
        ),
        "{:?}",
        report.problems
    );
}

#[test]
fn the_checkpoint_and_its_inclusion_proof_are_as_stated() {
    use greenloop::checkpoint::{LogKey, PublicKey, SignedCheckpoint};
    use greenloop::ledger::Digest;
    use greenloop::merkle::{inclusion, root};
    let text = doc();
    let blocks = blocks(&text);
    let chain: Vec<Digest> = block(&blocks, "jsonl export")
        .body
        .lines()
        .map(|l| serde_json::from_str::<Entry>(l).unwrap())
        .filter(|e| e.chain == "shard-00")
        .map(|e| e.hash)
        .collect();
    assert_eq!(chain.len(), 3);
    let signed: SignedCheckpoint =
        serde_json::from_str(block(&blocks, "json checkpoint-1").body.trim()).unwrap();
    let c = &signed.checkpoint;
    assert_eq!((c.chain.as_str(), c.size), ("shard-00", 3));
    assert_eq!(
        c.root,
        root(&chain),
        "the root is the Merkle tree hash of the chain"
    );
    assert_eq!(
        c.message(),
        block(&blocks, "text checkpoint-message-1")
            .body
            .trim_end()
            .as_bytes(),
        "the signed message"
    );
    let public = text
        .lines()
        .find_map(|l| l.strip_prefix("public key: "))
        .expect("a public key line");
    let key = PublicKey::from_hex(public).unwrap();
    key.verify(&signed).expect("the signature verifies");
    // Ed25519 is deterministic: RFC 8032's test key signs exactly this.
    let rfc8032_test_1 = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
    assert_eq!(
        LogKey::from_hex(rfc8032_test_1).unwrap().sign(c.clone()),
        signed
    );
    let proof: Vec<Digest> = block(&blocks, "text inclusion-1")
        .body
        .lines()
        .map(|l| Digest::parse(l).unwrap())
        .collect();
    assert_eq!(inclusion::prove(&chain[..], 1, 3).unwrap(), proof);
    inclusion::verify(1, 3, &chain[1], &proof, &c.root).expect("the proof verifies");
}

/// The disposition vectors of §11.6, as published, pinned like the credit vectors.
const DISPOSITION_PINNED: [&str; 4] = [
    "023c5a212581f13482a827e36c399bbaeb0b7153d0e0286ba93a10663cd99a73",
    "fa9ac1d9a20c099bd521751a679a08425aa276e49e186066fe03c4aa037604fa",
    "fdf650b8a9708d02c5ab0c9a0e98637b2534e238168792f340791b35e0e8b506",
    "0e3b9c095c42731c23e2d038e61d121a0cb4a942740be8d7e8866d529ab7ee41",
];

/// Each `json <kind>-N` block (N = 1, 2, ...): its line, its stated hash and the body of its
/// `text <kind>-preimage-N` block.
fn stated(blocks: &[Block], kind: &str) -> Vec<(String, String, String)> {
    (1..)
        .map_while(|n| {
            let b = blocks
                .iter()
                .find(|b| b.info == format!("json {kind}-{n}"))?;
            let hash = b
                .after
                .as_deref()
                .and_then(|l| l.strip_prefix("expected hash: "))
                .unwrap_or_else(|| panic!("{kind}-{n} has no expected hash line"));
            let pre = block(blocks, &format!("text {kind}-preimage-{n}"));
            Some((
                b.body.trim_end().to_owned(),
                hash.to_owned(),
                pre.body.trim_end().to_owned(),
            ))
        })
        .collect()
}

/// Each disposition vector: its line, its stated hash and its stated preimage.
fn dispositions(blocks: &[Block]) -> Vec<(String, String, String)> {
    stated(blocks, "disposition")
}

/// §11.6: each disposition vector is canonical, hashes as stated over its stated preimage,
/// and, appended to the §8 ledger, the whole verifies (the mass balance included); an
/// inflated reuse report, resealed, is named by the balance.
#[test]
fn disposition_vectors_hash_and_balance_as_stated() {
    use greenloop::disposition::DispositionEntry;
    use greenloop::ledger::verify::Problem;
    let blocks = blocks(&doc());
    let ds = dispositions(&blocks);
    assert_eq!(ds.len(), DISPOSITION_PINNED.len());
    for (i, ((line, hash, preimage), pinned)) in ds.iter().zip(DISPOSITION_PINNED).enumerate() {
        let e: DispositionEntry = serde_json::from_str(line).expect("a disposition entry");
        assert_eq!(
            String::from_utf8(e.to_json()).unwrap(),
            *line,
            "D{} is canonical",
            i + 1
        );
        assert_eq!(
            String::from_utf8(e.body()).unwrap(),
            *preimage,
            "D{} preimage",
            i + 1
        );
        assert_eq!(
            (e.compute_hash().to_string(), hash.as_str()),
            (pinned.to_owned(), pinned)
        );
        assert_eq!(e.hash.to_string(), pinned);
    }
    let export = &block(&blocks, "jsonl export").body;
    let mut state: serde_json::Value =
        serde_json::from_str(&block(&blocks, "json state").body).expect("the state block is JSON");
    // The heads §11.6 gives.
    state["heads"] = serde_json::json!([
        {"chain": "shard-00", "size": 5, "hash": DISPOSITION_PINNED[1]},
        {"chain": "shard-01", "size": 6, "hash": DISPOSITION_PINNED[3]},
    ]);
    let with = |d: &[String]| {
        let mut lines: Vec<String> = export.lines().map(str::to_owned).collect();
        lines.extend(d.iter().cloned());
        lines.sort_by_key(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (
                v["chain"].as_str().unwrap().to_owned(),
                v["seq"].as_u64().unwrap(),
            )
        });
        lines.join("\n")
    };
    let lines: Vec<String> = ds.iter().map(|d| d.0.clone()).collect();
    let report = verify(&with(&lines), &state);
    assert!(report.is_ok(), "{:?}", report.problems);

    let mut d1: DispositionEntry = serde_json::from_str(&lines[0]).unwrap();
    d1.report = greenloop::disposition::Report::Outgoing {
        parcels: 12,
        reused_boxes: 6,
    };
    d1.boxes = 6;
    d1.seal();
    let mut d2: DispositionEntry = serde_json::from_str(&lines[1]).unwrap();
    d2.prev = d1.hash;
    d2.seal();
    let forged = [
        String::from_utf8(d1.to_json()).unwrap(),
        String::from_utf8(d2.to_json()).unwrap(),
        lines[2].clone(),
        lines[3].clone(),
    ];
    state["heads"][0]["hash"] = serde_json::json!(d2.hash);
    let report = verify(&with(&forged), &state);
    assert!(
        matches!(report.first_problem(), Some(Problem::MassBalance { chain, seq: 3, station, detail })
            if chain == "shard-00" && station == "st-0004" && detail == "outgoing takes 6 boxes out of a stock of 5"),
        "{:?}",
        report.problems
    );
}

/// §13.6: the factor table the correction vectors requantify to, as the document gives it.
fn revised_factors(blocks: &[Block]) -> greenloop::factors::FactorTable {
    let text = &block(blocks, "json factors-2026.2").body;
    greenloop::factors::FactorTable::from_json(text).expect("the revised table is valid")
}

const CORRECTION_PINNED: [&str; 2] = [
    "80981da0617d19d19b0e06e7d7c75df3a79a84428d5be99fc6922baadcb72b52",
    "2d7710ab70aef74a7c0f99c10452ec535c5fa2ec3f68db83c56ee598d86210db",
];

/// §13.6: the corrections are what the two factor tables make of vectors 4 and 3, placed after
/// the disposition vectors; each hashes as stated over its stated preimage; with them the
/// whole ledger verifies against the state §13.6 gives; and a delta moved by one gram is named.
#[test]
fn correction_vectors_recompute_hash_and_verify_as_stated() {
    use greenloop::ledger::verify::Problem;
    use greenloop::ledger::CorrectionEntry;
    let blocks = blocks(&doc());
    let old = greenloop::factors::FactorTable::default_2026();
    let new = revised_factors(&blocks);
    let v: Vec<Entry> = vectors(&blocks).iter().map(parse).collect();
    let d = dispositions(&blocks);
    let d2: greenloop::disposition::DispositionEntry = serde_json::from_str(&d[1].0).unwrap();
    let d4: greenloop::disposition::DispositionEntry = serde_json::from_str(&d[3].0).unwrap();
    const AT: i64 = 1_795_500_000;
    // Alice's head is vector 5: C1 corrects vector 4 on shard-00, C2 vector 3 on shard-01.
    let c1 = CorrectionEntry::new(v[3].clone(), &old, &new, 5, d2.hash, v[4].hash, AT);
    let c2 = CorrectionEntry::new(v[2].clone(), &old, &new, 6, d4.hash, c1.hash, AT);
    assert_eq!((c1.co2e_g, c2.co2e_g), (2 * 171, 4 * 171));
    let made = [c1, c2];
    let cs = stated(&blocks, "correction");
    assert_eq!(cs.len(), CORRECTION_PINNED.len());
    for (i, ((line, hash, preimage), c)) in cs.iter().zip(&made).enumerate() {
        assert_eq!(
            String::from_utf8(c.to_json()).unwrap(),
            *line,
            "C{} as made",
            i + 1
        );
        assert_eq!(
            String::from_utf8(c.body()).unwrap(),
            *preimage,
            "C{} preimage",
            i + 1
        );
        let pinned = CORRECTION_PINNED[i];
        assert_eq!(
            (c.hash.to_string(), hash.as_str()),
            (pinned.to_owned(), pinned)
        );
        let read: CorrectionEntry = serde_json::from_str(line).expect("a correction entry");
        assert_eq!(read.compute_hash(), c.hash);
    }

    let mut state: serde_json::Value =
        serde_json::from_str(&block(&blocks, "json correction-state").body).expect("JSON");
    let export = &block(&blocks, "jsonl export").body;
    let mut lines: Vec<String> = export.lines().map(str::to_owned).collect();
    lines.extend(d.iter().map(|d| d.0.clone()));
    let with = |cs: &[String]| {
        let mut all = lines.clone();
        all.extend(cs.iter().cloned());
        all.sort_by_key(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (
                v["chain"].as_str().unwrap().to_owned(),
                v["seq"].as_u64().unwrap(),
            )
        });
        all.join("\n")
    };
    let mut catalog = Catalog::builtin();
    catalog.add_factors(new.clone()).unwrap();
    let verify_with = |text: &str, state: &serde_json::Value| verify_in(&catalog, text, state);
    let stated: Vec<String> = cs.iter().map(|c| c.0.clone()).collect();
    let report = verify_with(&with(&stated), &state);
    assert!(report.is_ok(), "{:?}", report.problems);

    let mut forged = made[1].clone();
    forged.co2e_g += 1;
    forged.seal();
    state["heads"][1]["hash"] = serde_json::json!(forged.hash);
    let forged = [
        stated[0].clone(),
        String::from_utf8(forged.to_json()).unwrap(),
    ];
    let report = verify_with(&with(&forged), &state);
    assert!(
        matches!(report.first_problem(), Some(Problem::Recomputed { chain, seq: 6, field: "co2e_g", stored, recomputed })
            if chain == "shard-01" && stored == "685" && recomputed == "684"),
        "{:?}",
        report.problems
    );
}
