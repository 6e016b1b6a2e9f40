//! What a run of faults left behind, read back from the store: for the fault-injection suite
//! (`shared/tests/reliability.rs`) and the invariants case. Every acknowledged action must end
//! credited exactly once, at the entry its status names, or quarantined with a reason; nothing
//! may stay pending or go missing; every chain, balance and campus total must verify.

use crate::{boxes, member, parsed_entries, scan, verify_store, WINDOW_START};
use greenloop::domain::{Action, MemberId};
use greenloop::ledger::Entry;
use greenloop::store::{ActionStatus, Store, StoreError};
use std::collections::{BTreeMap, BTreeSet};

/// `n` scan actions with ids `{prefix}-{i:05}`, over 16 stations (so over every chain of
/// [`crate::SHARDS`]) and 40 members, inside the campaign window.
pub fn workload(prefix: &str, n: usize) -> Vec<Action> {
    (0..n)
        .map(|i| {
            let at = WINDOW_START + ((i * 7_919) % (20 * 86_400)) as i64 / 8;
            let station = format!("st-rel-{}", i % 16);
            scan(
                &format!("{prefix}-{i:05}"),
                (i as u32 * 7) % 40,
                &station,
                at,
                boxes(1 + (i % 3) as u32, Some("brand-02")),
            )
        })
        .collect()
}

/// The suite's member pseudonym of platform user `user-{n}`, as [`workload`] uses.
pub fn member_id(n: u32) -> MemberId {
    member(n)
}

/// One action of the suite's shape: `boxes` partner boxes, at `station`, by `user-{who}`.
pub fn scan_action(id: &str, who: u32, station: &str, at: i64, count: u32) -> Action {
    scan(id, who, station, at, boxes(count, Some("brand-02")))
}

/// Where every acknowledged action ended.
#[derive(Debug, Clone, Default)]
pub struct Tally {
    pub acknowledged: usize,
    /// Credited once, at the entry its status names.
    pub credited: usize,
    /// Quarantined, by reason.
    pub quarantined: BTreeMap<String, usize>,
    /// Acknowledged but neither credited nor quarantined: missing or still pending.
    pub lost: Vec<String>,
    /// Action ids with more than one entry.
    pub credited_twice: Vec<String>,
    /// Every entry of every chain, in chain then seq order.
    pub entries: Vec<Entry>,
}

impl Tally {
    pub fn quarantined_total(&self) -> usize {
        self.quarantined.values().sum()
    }

    /// The chain each credited action's entry is on.
    pub fn chain_of(&self, action: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|e| e.action_key() == action)
            .map(|e| e.chain.as_str())
    }
}

/// Reads back what became of `acknowledged` (keys of actions recorded OK), after a clean run has drained
/// the queue. Panics, saying what broke, if a chain, an account or a campus total does not
/// verify, an entry names an action nobody acknowledged, a status disagrees with the entries,
/// or a quarantined action is not listed in the quarantine. Losses and duplicates are counted,
/// not asserted, so the caller can print them first.
pub async fn tally(store: &dyn Store, acknowledged: &[String]) -> Tally {
    let report = verify_store(store).await;
    assert!(
        report.is_ok(),
        "the ledger does not verify: {:?}",
        report.first_problem()
    );
    let mut entries: Vec<Entry> = Vec::new();
    let mut heads = store.chain_heads().await.expect("chain_heads");
    heads.sort_by(|a, b| a.chain.cmp(&b.chain));
    for h in &heads {
        entries.extend(parsed_entries(store, &h.chain).await);
    }
    let known: BTreeSet<&str> = acknowledged.iter().map(String::as_str).collect();
    let mut per_action: BTreeMap<String, Vec<&Entry>> = BTreeMap::new();
    for e in &entries {
        let key = e.action_key();
        assert!(
            known.contains(key.as_str()),
            "entry {}/{} credits {key}, which was never acknowledged",
            e.chain,
            e.seq,
        );
        per_action.entry(key).or_default().push(e);
    }
    let listed = quarantine_listing(store).await;
    let mut t = Tally {
        acknowledged: acknowledged.len(),
        credited_twice: per_action
            .iter()
            .filter(|(_, es)| es.len() > 1)
            .map(|(id, _)| id.to_string())
            .collect(),
        ..Tally::default()
    };
    for id in acknowledged {
        let status = match store.action(id).await {
            Ok(Some(r)) => Some(r.status),
            Ok(None) => None,
            // An item this version cannot read: what matters is the status it carries.
            Err(StoreError::Unreadable { status, .. }) => status,
            Err(e) => panic!("reading action {id}: {e}"),
        };
        let on_ledger = per_action.get(id);
        match status {
            Some(ActionStatus::Credited { chain, seq, bonus }) => {
                let e = on_ledger.and_then(|es| es.first()).unwrap_or_else(|| {
                    panic!("{id} says credited at {chain}/{seq}, but no entry credits it")
                });
                assert_eq!(
                    (e.chain.as_str(), e.seq, e.bonus),
                    (chain.as_str(), seq, bonus),
                    "the status of {id} names another entry than the one crediting it"
                );
                t.credited += 1;
            }
            Some(ActionStatus::Rejected { reason, message }) => {
                assert!(on_ledger.is_none(), "{id} is quarantined and credited");
                assert!(
                    !reason.is_empty() && !message.is_empty(),
                    "{id} quarantined without a reason"
                );
                assert_eq!(
                    listed.get(id.as_str()),
                    Some(&reason),
                    "{id} is rejected but the quarantine does not list it with its reason"
                );
                *t.quarantined.entry(reason).or_default() += 1;
            }
            Some(ActionStatus::Pending | ActionStatus::Booked) | None => t.lost.push(id.clone()),
        }
    }
    let pending = store.pending_actions(None, 10).await.expect("pending");
    assert!(
        pending.is_empty(),
        "still pending after a clean run: {:?}",
        pending.iter().map(|p| &p.id).collect::<Vec<_>>()
    );
    t.entries = entries;
    t
}

/// Every quarantined action's reason, by id, read in pages.
async fn quarantine_listing(store: &dyn Store) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut after: Option<String> = None;
    loop {
        let page = store
            .quarantined(after.as_deref(), 50)
            .await
            .expect("quarantined");
        let Some(last) = page.last() else {
            return out;
        };
        after = Some(last.action.clone());
        for q in page {
            out.insert(q.action, q.reason);
        }
    }
}
