//! The verifier on disposition entries: a station's stock recomputed in chain order, tickets
//! and batches across chains, and the carbon attribution. Each dishonest ledger here is
//! re-hashed and re-linked, so only the mass balance can catch it; both paths must agree.

use super::tests::{build, scan, Built, IN};
use super::{Problem, Report, Verifier};
use crate::catalog::Catalog;
use crate::disposition::{DispositionEntry, Draw, EntryType, Params, Report as Disposal, Totals};
use crate::ledger::{Digest, ZERO};
use crate::records::ChainHead;

/// Station st-1 collects 40 + 20 boxes on shard-00 and 10 on shard-01 (accepted drop-offs,
/// capped or not); member 1's 2 boxes make 72 in all.
fn collected() -> Built {
    build(
        &[
            scan(0, 0, 40, 0, IN),
            scan(0, 1, 2, 0, IN + 60),
            scan(0, 0, 20, 0, IN + 120),
            scan(1, 2, 10, 0, IN + 180),
        ],
        |_, _| {},
    )
}

/// A ledger as stored: each chain's bytes, in seq order.
struct Stored {
    chains: Vec<(String, Vec<Vec<u8>>)>,
    heads: Vec<(u64, Digest)>,
    built: Built,
}

impl Stored {
    fn of(built: Built) -> Self {
        let chains = built
            .chains
            .iter()
            .map(|(c, es)| (c.clone(), es.iter().map(|e| e.to_json()).collect()))
            .collect();
        let heads = built
            .chains
            .iter()
            .map(|(_, es)| (es.len() as u64, es.last().map_or(ZERO, |e| e.hash)))
            .collect();
        Stored {
            chains,
            heads,
            built,
        }
    }

    /// Appends a disposition report at station st-1 on `chain`, as intake would (its boxes
    /// and stock from `stock`), then lets `edit` lie before it is sealed.
    fn dispose(
        &mut self,
        chain: usize,
        id: &str,
        stock: u64,
        report: Disposal,
        edit: impl FnOnce(&mut DispositionEntry),
    ) -> u64 {
        let params = Params::default_2026();
        let (size, prev) = self.heads[chain];
        let mut d = DispositionEntry {
            at: IN + 86_400,
            boxes: report.boxes_out(&params),
            chain: self.chains[chain].0.clone(),
            hash: ZERO,
            id: id.into(),
            integration: "qr-1".into(),
            params: params.version.clone(),
            prev,
            report,
            seq: size,
            station: "st-1".into(),
            stock_before: stock,
            kind: EntryType::Disposition,
            v: 2,
        };
        edit(&mut d);
        d.seal();
        self.chains[chain].1.push(d.to_json());
        self.heads[chain] = (size + 1, d.hash);
        size
    }

    fn verify(&self, threads: usize) -> Report {
        self.verify_with(threads, None)
    }

    fn verify_with(&self, threads: usize, stored: Option<Vec<(String, Totals)>>) -> Report {
        let catalog = Catalog::builtin();
        let mut v = Verifier::with_threads(&catalog, threads);
        if let Some(stored) = stored {
            v.disposition_totals(stored);
        }
        let mut heads = Vec::new();
        for ((chain, entries), (size, hash)) in self.chains.iter().zip(&self.heads) {
            v.chain(chain);
            entries.iter().for_each(|e| v.push(e));
            heads.push(ChainHead {
                chain: chain.clone(),
                size: *size,
                hash: *hash,
            });
        }
        v.finish(&heads, &self.built.accounts, &[])
    }

    /// The problems both paths report, which must agree.
    fn problems(&self) -> Vec<Problem> {
        let (fast, general) = (self.verify(1), self.verify(2));
        assert_eq!(fast.problems, general.problems, "the two paths disagree");
        fast.problems
    }
}

fn reused(n: u64) -> Disposal {
    Disposal::Outgoing {
        parcels: 100,
        reused_boxes: n,
    }
}

fn bale(ticket: &str, baled_g: u64) -> Disposal {
    Disposal::Baled {
        baled_g,
        mill: "mill-1".into(),
        ticket: ticket.into(),
    }
}

fn batch(id: &str, draws: &[(&str, u64)], workbooks: u64) -> Disposal {
    Disposal::Workbooks {
        batch: id.into(),
        draws: draws
            .iter()
            .map(|&(t, g)| Draw {
                ticket: t.into(),
                pulp_g: g,
            })
            .collect(),
        mill: "mill-1".into(),
        workbooks,
    }
}

fn donation(batch: &str, workbooks: u64) -> Disposal {
    Disposal::Donation {
        batch: batch.into(),
        mill: "mill-1".into(),
        organisation: "cfpa".into(),
        receipt: format!("r-{batch}-{workbooks}"),
        school: "school-1".into(),
        workbooks,
    }
}

/// The honest life of st-1's boxes on shard-00 (62 collected): 30 reused, 6 kg baled (20
/// boxes), 12 in stock; shard-01 bales 3 kg (10 boxes); a mill batch draws from both tickets,
/// and gives its workbooks away in two donations.
fn honest() -> Stored {
    let mut s = Stored::of(collected());
    s.dispose(0, "out-1", 62, reused(30), |_| {});
    s.dispose(0, "bale-1", 32, bale("T-1", 6_000), |_| {});
    s.dispose(1, "bale-2", 10, bale("T-2", 3_000), |_| {});
    // 8.5 kg of pulp keeps 7.65 kg: at most 153 workbooks of 50 g.
    s.dispose(
        1,
        "wb-1",
        0,
        batch("B-1", &[("T-1", 6_000), ("T-2", 2_500)], 150),
        |_| {},
    );
    s.dispose(0, "give-1", 12, donation("B-1", 100), |_| {});
    s.dispose(0, "give-2", 12, donation("B-1", 50), |_| {});
    s
}

#[test]
fn an_honest_disposition_ledger_verifies() {
    let s = honest();
    assert_eq!(s.problems(), vec![]);
    assert_eq!(s.verify(1).entries, 4 + 6);
}

#[test]
fn reusing_more_than_the_stock_is_named_at_its_entry() {
    let mut s = Stored::of(collected());
    let seq = s.dispose(0, "out-1", 62, reused(63), |_| {});
    let p = s.problems();
    assert!(
        matches!(&p[..], [Problem::MassBalance { chain, seq: at, station, detail }]
            if chain == "shard-00" && *at == seq && station == "st-1" && detail.contains("63 boxes out of a stock of 62")),
        "{p:?}"
    );
}

#[test]
fn an_inflated_reuse_count_rehashed_is_caught_by_the_balance() {
    // The honest ledger, then a forger raises the first reuse from 30 to 50 and re-hashes
    // everything after it: every hash and link is right, the stock is not.
    let mut s = Stored::of(collected());
    s.dispose(0, "out-1", 62, reused(30), |d| {
        d.report = reused(50);
        d.boxes = 50;
    });
    s.dispose(0, "bale-1", 32, bale("T-1", 6_000), |_| {});
    let p = s.problems();
    assert!(
        matches!(&p[..], [Problem::MassBalance { seq: 4, detail, .. }] if detail.contains("stock_before is 32 but")),
        "{p:?}"
    );
}

#[test]
fn a_lying_stock_or_box_count_is_named() {
    let mut s = Stored::of(collected());
    s.dispose(0, "out-1", 70, reused(1), |_| {});
    assert!(matches!(
        &s.problems()[..],
        [Problem::MassBalance { seq: 3, .. }]
    ));
    let mut s = Stored::of(collected());
    // 6 kg is 20 boxes: a bale that takes out 2 is malformed.
    s.dispose(0, "bale-1", 62, bale("T-1", 6_000), |d| d.boxes = 2);
    assert!(matches!(
        &s.problems()[..],
        [Problem::Malformed { seq: 3, .. }]
    ));
}

#[test]
fn cross_chain_sums_name_the_first_use_too_many() {
    // A batch drawing more than its tickets hold.
    let mut s = Stored::of(collected());
    s.dispose(0, "bale-1", 62, bale("T-1", 3_000), |_| {});
    s.dispose(1, "wb-1", 10, batch("B-1", &[("T-1", 3_001)], 10), |_| {});
    assert!(
        matches!(&s.problems()[..], [Problem::MassBalance { chain, seq: 1, detail, .. }]
            if chain == "shard-01" && detail.contains("ticket mill-1/T-1 holds 3000")),
        "{:?}",
        s.problems()
    );
    // A draw from a ticket that is on no chain.
    let mut s = Stored::of(collected());
    s.dispose(1, "wb-1", 10, batch("B-1", &[("T-9", 1_000)], 10), |_| {});
    assert!(
        matches!(&s.problems()[..], [Problem::MassBalance { detail, .. }] if detail.contains("not on the ledger"))
    );
    // Donations past the batch.
    let mut s = honest();
    s.dispose(1, "give-3", 0, donation("B-1", 1), |_| {});
    assert!(
        matches!(&s.problems()[..], [Problem::MassBalance { detail, .. }] if detail.contains("holds 150 but is drawn 151")),
        "{:?}",
        s.problems()
    );
}

#[test]
fn a_reused_ticket_or_report_is_named() {
    let mut s = Stored::of(collected());
    s.dispose(0, "bale-1", 62, bale("T-1", 300), |_| {});
    s.dispose(0, "bale-2", 61, bale("T-1", 300), |_| {});
    assert!(
        matches!(&s.problems()[..], [Problem::MassBalance { seq: 4, detail, .. }] if detail.contains("already used"))
    );
    let mut s = Stored::of(collected());
    s.dispose(0, "bale-1", 62, bale("T-1", 300), |_| {});
    s.dispose(1, "bale-1", 10, bale("T-2", 300), |_| {});
    assert!(
        matches!(&s.problems()[..], [Problem::DuplicateReport { chain, first_chain, .. }] if chain == "shard-01" && first_chain == "shard-00")
    );
}

#[test]
fn a_disposition_entry_with_a_wrong_link_or_hash_is_named_like_any() {
    let mut s = honest();
    let last = s.chains[0].1.len() - 1;
    let text = String::from_utf8(s.chains[0].1[last].clone()).unwrap();
    s.chains[0].1[last] = text
        .replace("\"workbooks\":50", "\"workbooks\":49")
        .into_bytes();
    assert!(matches!(&s.problems()[..], [Problem::BadHash { .. }]));
    let mut s = honest();
    s.dispose(0, "x", 12, reused(1), |d| {
        d.params = "disposition-1999".into()
    });
    assert!(
        matches!(&s.problems()[..], [Problem::UnknownVersion { version, .. }] if version == "disposition-1999")
    );
}

/// The totals a store keeps for `honest()`: per chain, and its one school counted once.
fn honest_totals() -> Vec<(String, Totals)> {
    vec![
        (
            "shard-00".into(),
            Totals {
                collected: 62,
                reused: 30,
                baled_boxes: 20,
                baled_g: 6_000,
                parcels: 100,
                donated: 150,
                donations: 2,
                schools: 1,
                ..Totals::default()
            },
        ),
        (
            "shard-01".into(),
            Totals {
                collected: 10,
                baled_boxes: 10,
                baled_g: 3_000,
                pulp_g: 8_500,
                workbooks: 150,
                ..Totals::default()
            },
        ),
    ]
}

#[test]
fn stored_disposition_totals_are_compared_with_the_entries() {
    let s = honest();
    for threads in [1, 2] {
        let report = s.verify_with(threads, Some(honest_totals()));
        assert_eq!(report.problems, vec![], "{threads} thread(s)");
    }
    let mut edited = honest_totals();
    edited[0].1.reused += 5;
    edited[1].1.schools = 1;
    let p = s.verify_with(1, Some(edited)).problems;
    assert_eq!(
        p,
        vec![
            Problem::Disposition {
                chain: "shard-00".into(),
                field: "reused",
                stored: "35".into(),
                derived: "30".into()
            },
            Problem::Disposition {
                chain: "all chains".into(),
                field: "schools",
                stored: "2".into(),
                derived: "1".into()
            },
        ]
    );
    // A chain whose totals were never kept is all zeros.
    let p = s.verify_with(1, Some(vec![])).problems;
    assert!(
        matches!(&p[0], Problem::Disposition { chain, field: "collected", .. } if chain == "shard-00"),
        "{p:?}"
    );
}
