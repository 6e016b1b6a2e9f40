//! The ledger every tamper test starts from, written through the `Store` trait so both stores
//! hold the same one: two chains of 48 entries, five members on both chains, two campuses, and
//! checkpoints signed at 32 and at 48 entries per chain.

use greenloop::catalog::Rules;
use greenloop::checkpoint::{LogKey, SignedCheckpoint};
use greenloop::credit::credit_pending;
use greenloop::domain::{Action, ActionKind, BoxLot, Campus, Items, MemberId, Pepper};
use greenloop::ledger::verify::Report;
use greenloop::ledger::{chain_for_station, Entry};
use greenloop::store::Consent;
use greenloop::store::Store;
use greenloop::verify::verify_pinned;
use greenloop_testkit::{SHARDS, TEST_LOG_KEY, WINDOW_END, WINDOW_START};
use std::collections::{BTreeMap, BTreeSet};

/// Entries on each chain once the fixture is built.
pub const SIZE: u64 = 48;
/// The size of the first checkpoint of each chain.
pub const FIRST: u64 = 32;
const MEMBERS: u32 = 5;
/// When the two checkpoint runs sign (Unix seconds; any time will do).
const FIRST_SIGNED: i64 = WINDOW_START + 10 * 86_400;
pub const LAST_SIGNED: i64 = WINDOW_START + 19 * 86_400;

/// What a test needs to know about the ledger it attacks.
pub struct Ledger {
    /// The two chains, in name order.
    pub chains: [String; 2],
    /// Every member, each with entries on both chains.
    pub members: Vec<MemberId>,
    pub key: LogKey,
}

/// The log's key: the suite's fixed test key.
pub fn log_key() -> LogKey {
    LogKey::from_hex(TEST_LOG_KEY).expect("the suite's test key")
}

/// Another key, for checkpoints the log did not sign.
pub fn other_key() -> LogKey {
    LogKey::from_hex(&"42".repeat(32)).expect("a key")
}

fn member(n: u32) -> MemberId {
    let pepper = Pepper::new(b"greenloop-tamper-test-pepper".to_vec()).expect("pepper");
    MemberId::pseudonym(&pepper, &format!("user-{n}"))
}

/// Two stations on different chains, ordered by chain name.
pub fn stations() -> [(String, String); 2] {
    let mut found: BTreeMap<String, String> = BTreeMap::new();
    for i in 0.. {
        let station = format!("st-t{i}");
        found
            .entry(chain_for_station(&station, SHARDS))
            .or_insert(station);
        if found.len() == 2 {
            break;
        }
    }
    let mut it = found.into_iter().map(|(chain, station)| (station, chain));
    [it.next().unwrap(), it.next().unwrap()]
}

/// Action `i`: stations alternate, so chain `i % 2`; members cycle over five, an odd number,
/// so each lands on both chains. Three hours apart: 96 actions span 12 days of the window,
/// and no member comes near the daily cap of 200 points.
fn action(i: u32, stations: &[(String, String); 2]) -> Action {
    let items = if i.is_multiple_of(3) {
        Items {
            boxes: vec![BoxLot {
                brand: Some("brand-01".into()),
                count: 1 + i % 4,
            }],
            ..Items::default()
        }
    } else {
        Items {
            books: 1 + i % 5,
            ..Items::default()
        }
    };
    let at = WINDOW_START + 600 + i64::from(i) * 3 * 3_600;
    assert!(at <= WINDOW_END, "action {i} lies in the campaign window");
    Action {
        id: format!("tamper-{i}"),
        integration: "qr-1".into(),
        kind: ActionKind::Scan,
        member: member(i % MEMBERS),
        station: stations[(i % 2) as usize].0.clone(),
        at,
        items,
    }
}

async fn record_and_credit<S: Store>(store: &S, actions: std::ops::Range<u32>) {
    let stations = stations();
    let n = actions.len() as u64;
    for i in actions {
        store
            .record_action(&action(i, &stations))
            .await
            .expect("record_action");
    }
    let run = credit_pending(store, &Rules::defaults(), SHARDS)
        .await
        .expect("credit_pending");
    assert_eq!(run.credited, n, "every action credited");
}

/// Builds the ledger on a fresh store and checks its shape.
pub async fn build<S: Store>(store: &S) -> Ledger {
    for (id, city) in [("campus-a", "Shanghai"), ("campus-b", "Nanjing")] {
        let campus = Campus {
            id: id.into(),
            name: format!("University {id}"),
            city: city.into(),
        };
        store.put_campus(&campus).await.expect("put_campus");
    }
    // Members 0-3 are affiliated, 4 is not: entries with and without a campus.
    for n in 0..4 {
        let campus = if n % 2 == 0 { "campus-a" } else { "campus-b" };
        store
            .affiliate(&member(n), campus, Consent::Enrol)
            .await
            .expect("affiliate");
    }
    let key = log_key();
    let per_chain = 2 * SIZE as u32;
    record_and_credit(store, 0..2 * FIRST as u32).await;
    greenloop::checkpoint::tree::publish_all(store, &key, FIRST_SIGNED)
        .await
        .expect("publish at 32");
    record_and_credit(store, 2 * FIRST as u32..per_chain).await;
    greenloop::checkpoint::tree::publish_all(store, &key, LAST_SIGNED)
        .await
        .expect("publish at 48");

    let chains = stations().map(|(_, chain)| chain);
    let mut seen: BTreeMap<MemberId, BTreeSet<String>> = BTreeMap::new();
    for chain in &chains {
        let head = store.chain_head(chain).await.expect("chain_head");
        assert_eq!(head.size, SIZE, "{chain} has {SIZE} entries");
        let sizes: Vec<u64> = store
            .checkpoints(chain)
            .await
            .expect("checkpoints")
            .iter()
            .map(|c| c.checkpoint.size)
            .collect();
        assert_eq!(sizes, [FIRST, SIZE], "{chain}'s checkpoints");
        for e in entries(store, chain).await {
            seen.entry(e.member).or_default().insert(e.chain);
        }
    }
    assert_eq!(seen.len(), MEMBERS as usize);
    assert!(
        seen.values().all(|c| c.len() == 2),
        "every member has entries on both chains"
    );
    Ledger {
        chains,
        members: seen.into_keys().collect(),
        key,
    }
}

/// Verifies the whole store against the log's pinned key.
pub async fn verify<S: Store>(store: &S, key: &LogKey) -> Report {
    verify_pinned(store, Some(&key.public()), |_| {})
        .await
        .expect("verification reads the store")
}

/// Builds the ledger and checks that, untampered, it verifies with nothing to report.
pub async fn verified<S: Store>(store: &S) -> Ledger {
    let ledger = build(store).await;
    let report = verify(store, &ledger.key).await;
    assert!(
        report.is_ok(),
        "the untampered ledger verifies: {:?}",
        report.problems
    );
    assert!(report.checkpoints_authenticated);
    assert_eq!(report.entries, 2 * SIZE);
    assert_eq!(report.members, u64::from(MEMBERS));
    for c in &report.chains {
        assert_eq!(c.entries, SIZE, "{}", c.chain);
        assert_eq!(
            c.checkpoint.as_ref().map(|c| c.size),
            Some(SIZE),
            "{} matched its latest checkpoint",
            c.chain
        );
    }
    ledger
}

/// The stored bytes of one entry.
pub async fn stored<S: Store>(store: &S, chain: &str, seq: u64) -> Vec<u8> {
    let mut page = store.entries(chain, seq, 1).await.expect("entries");
    assert_eq!(page.len(), 1, "{chain} has an entry at {seq}");
    page.pop().unwrap()
}

/// One entry, parsed.
pub async fn entry<S: Store>(store: &S, chain: &str, seq: u64) -> Entry {
    serde_json::from_slice(&stored(store, chain, seq).await).expect("a ledger entry")
}

/// Every entry of a chain, parsed, in seq order.
pub async fn entries<S: Store>(store: &S, chain: &str) -> Vec<Entry> {
    store
        .entries(chain, 0, 1_000)
        .await
        .expect("entries")
        .iter()
        .map(|b| serde_json::from_slice(b).expect("a ledger entry"))
        .collect()
}

/// A chain's checkpoint at `size`.
pub async fn checkpoint<S: Store>(store: &S, chain: &str, size: u64) -> SignedCheckpoint {
    store
        .checkpoint(chain, Some(size))
        .await
        .expect("checkpoint")
        .unwrap_or_else(|| panic!("{chain} has a checkpoint at {size}"))
}
