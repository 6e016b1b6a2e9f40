//! The attacks, each written once for any [`Target`]: build the fixture ledger, check that it
//! verifies, tamper with the storage below the store, verify again, and check that the first
//! problem is exactly the one that names the attack, its chain and its place.

use crate::fixture::{self, FIRST, SIZE};
use crate::targets::{Edit, Target};
use greenloop::ledger::verify::{Problem, Report};
use greenloop::ledger::{Digest, Entry, ZERO};
use greenloop::merkle::root;
use greenloop::store::Members;
use greenloop::store::{ChainHead, LedgerSource};

/// The first problem, once there is one and it reads with `named` (a chain, or a member).
pub fn first<'r>(report: &'r Report, named: &str) -> &'r Problem {
    assert!(
        !report.is_ok(),
        "the tampering went unnoticed: {:?}",
        report.chains
    );
    let p = report.first_problem().unwrap();
    let text = p.to_string();
    assert!(text.contains(named), "{text:?} should name {named}");
    p
}

/// Checks that `p` matches `pattern` (with an optional guard), showing every problem if not.
macro_rules! expect_problem {
    ($report:expr, $p:expr, $pattern:pat $(if $guard:expr)?) => {
        assert!(
            matches!($p, $pattern $(if $guard)?),
            "first problem: {:?}\nall: {:#?}",
            $p,
            $report.problems
        )
    };
}
pub(crate) use expect_problem;

pub async fn untampered_ledger_verifies<T: Target>(t: T) {
    fixture::verified(t.store()).await;
}

/// An entry's body edited and its hash recomputed. `station` is an input no rule recomputes,
/// so the forged entry passes every check of its own: only the next entry's `prev`, which still
/// names the original, gives it away.
pub async fn edited_entry_resealed_breaks_the_next_link<T: Target>(mut t: T) {
    let l = fixture::verified(t.store()).await;
    let (chain, k) = (&l.chains[1], 10);
    let original = fixture::entry(t.store(), chain, k).await;
    let mut forged = original.clone();
    forged.station = "st-forged".into();
    forged.seal();
    t.apply(vec![Edit::entry(&forged)]).await;
    let report = fixture::verify(t.store(), &l.key).await;
    let p = first(&report, chain);
    expect_problem!(report, p, Problem::BrokenPrev { chain: c, seq, expected, found }
        if c == chain && *seq == k + 1 && *expected == forged.hash && *found == original.hash);
}

/// The bonus itself inflated and the hash recomputed: the rules recompute it from the inputs.
pub async fn inflated_bonus_resealed_fails_recomputation<T: Target>(mut t: T) {
    let l = fixture::verified(t.store()).await;
    let (chain, k) = (&l.chains[0], 7);
    let original = fixture::entry(t.store(), chain, k).await;
    let mut forged = original.clone();
    forged.bonus += 50;
    forged.seal();
    t.apply(vec![Edit::entry(&forged)]).await;
    let report = fixture::verify(t.store(), &l.key).await;
    let p = first(&report, chain);
    expect_problem!(report, p, Problem::Recomputed { chain: c, seq, field: "bonus", stored, recomputed }
        if c == chain && *seq == k && *stored == forged.bonus.to_string()
            && *recomputed == original.bonus.to_string());
}

/// An entry's body edited, its stored hash left as it was.
pub async fn edited_entry_unsealed_has_a_bad_hash<T: Target>(mut t: T) {
    let l = fixture::verified(t.store()).await;
    let (chain, k) = (&l.chains[1], 3);
    let mut forged = fixture::entry(t.store(), chain, k).await;
    forged.station = "st-forged".into();
    t.apply(vec![Edit::entry(&forged)]).await;
    let computed = forged.compute_hash(&mut Vec::new());
    let report = fixture::verify(t.store(), &l.key).await;
    let p = first(&report, chain);
    expect_problem!(report, p, Problem::BadHash { chain: c, seq, stored, computed: got }
        if c == chain && *seq == k && *stored == forged.hash && *got == computed);
}

/// An entry deleted from the middle: the one after it turns up where it was.
pub async fn deleted_entry_is_a_seq_gap<T: Target>(mut t: T) {
    let l = fixture::verified(t.store()).await;
    let (chain, k) = (&l.chains[0], 25);
    t.apply(vec![Edit::DeleteEntry {
        chain: chain.clone(),
        seq: k,
    }])
    .await;
    let report = fixture::verify(t.store(), &l.key).await;
    let p = first(&report, chain);
    expect_problem!(report, p, Problem::SeqGap { chain: c, expected, found }
        if c == chain && *expected == k && *found == k + 1);
}

/// The last 8 entries dropped and the head rewritten to the shorter chain: the chain itself is
/// consistent, and only the checkpoint signed at 48 remembers its length.
pub async fn truncated_tail_with_rewritten_head_is_caught_by_the_checkpoint<T: Target>(mut t: T) {
    let l = fixture::verified(t.store()).await;
    let (chain, keep) = (&l.chains[1], 40);
    let last_kept = fixture::entry(t.store(), chain, keep - 1).await;
    let mut edits: Vec<Edit> = (keep..SIZE)
        .map(|seq| Edit::DeleteEntry {
            chain: chain.clone(),
            seq,
        })
        .collect();
    edits.push(Edit::SetHead(ChainHead {
        chain: chain.clone(),
        size: keep,
        hash: last_kept.hash,
    }));
    t.apply(edits).await;
    let report = fixture::verify(t.store(), &l.key).await;
    let p = first(&report, chain);
    expect_problem!(report, p, Problem::Truncated { chain: c, entries, checkpoint }
        if c == chain && *entries == keep && *checkpoint == SIZE);
}

/// How an attacker makes room for a forged entry at seq `k`.
#[derive(Clone, Copy)]
enum Insert {
    /// Entries `k..` moved up one key, their bytes untouched.
    Moved,
    /// Moved and renumbered (`seq + 1`, resealed), their `prev` untouched.
    Renumbered,
    /// Moved, renumbered and relinked to the forged entry: a consistent chain.
    Relinked,
}

/// A forged, sealed entry put at seq 20 of a chain (a copy of the entry there, under a new
/// action id), linked to entry 19, and the head moved to the longer chain.
async fn insert<T: Target>(mut t: T, how: Insert) {
    let l = fixture::verified(t.store()).await;
    let (chain, k) = (&l.chains[0], 20usize);
    let old = fixture::entries(t.store(), chain).await;
    let mut forged = old[k].clone();
    forged.action = "forged-insert".into();
    forged.station = "st-forged".into();
    forged.seal();
    let mut edits = vec![Edit::entry(&forged)];
    let mut chained: Vec<Digest> = old[..k].iter().map(|e| e.hash).collect();
    chained.push(forged.hash);
    for e in &old[k..] {
        let mut moved = e.clone();
        moved.seq += 1;
        match how {
            Insert::Moved => {}
            Insert::Renumbered => moved.seal(),
            Insert::Relinked => {
                moved.prev = *chained.last().unwrap();
                moved.seal();
            }
        }
        chained.push(moved.hash);
        edits.push(Edit::PutEntry {
            chain: chain.clone(),
            seq: e.seq + 1,
            // Moved as is: the old bytes, which still say seq `e.seq`.
            bytes: match how {
                Insert::Moved => e.to_json(),
                Insert::Renumbered | Insert::Relinked => moved.to_json(),
            },
        });
    }
    edits.push(Edit::SetHead(ChainHead {
        chain: chain.clone(),
        size: SIZE + 1,
        hash: *chained.last().unwrap(),
    }));
    t.apply(edits).await;
    let report = fixture::verify(t.store(), &l.key).await;
    let p = first(&report, chain);
    let k = k as u64;
    match how {
        // The forged entry passes as seq k; the old entry k, moved to k + 1, still says k.
        Insert::Moved => {
            expect_problem!(report, p, Problem::DuplicateSeq { chain: c, expected, found }
            if c == chain && *expected == k + 1 && *found == k)
        }
        // Renumbered entry k + 1 still links to entry k - 1, not to the forged entry.
        Insert::Renumbered => {
            expect_problem!(report, p, Problem::BrokenPrev { chain: c, seq, expected, found }
            if c == chain && *seq == k + 1 && *expected == forged.hash && *found == old[k as usize].prev)
        }
        // Every link holds, but the first 32 entries no longer give the root signed at 32.
        Insert::Relinked => {
            let signed = fixture::checkpoint(t.store(), chain, FIRST)
                .await
                .checkpoint
                .root;
            let computed = root(&chained[..FIRST as usize]);
            expect_problem!(report, p, Problem::CheckpointMismatch { chain: c, size, signed: s, computed: got }
                if c == chain && *size == FIRST && *s == signed && *got == computed)
        }
    }
}

pub async fn inserted_entry_with_the_rest_moved_as_is<T: Target>(t: T) {
    insert(t, Insert::Moved).await;
}

pub async fn inserted_entry_with_the_rest_renumbered<T: Target>(t: T) {
    insert(t, Insert::Renumbered).await;
}

pub async fn inserted_entry_with_the_rest_relinked<T: Target>(t: T) {
    insert(t, Insert::Relinked).await;
}

/// Entries 30 and 31 swapped. Each carries its own seq, so position 30 holds seq 31: the
/// verifier names it a gap (a later seq where 30 was due), not a duplicate.
pub async fn swapped_entries_are_a_seq_gap<T: Target>(mut t: T) {
    let l = fixture::verified(t.store()).await;
    let (chain, a) = (&l.chains[1], 30);
    let (x, y) = (
        fixture::stored(t.store(), chain, a).await,
        fixture::stored(t.store(), chain, a + 1).await,
    );
    t.apply(vec![
        Edit::PutEntry {
            chain: chain.clone(),
            seq: a,
            bytes: y,
        },
        Edit::PutEntry {
            chain: chain.clone(),
            seq: a + 1,
            bytes: x,
        },
    ])
    .await;
    let report = fixture::verify(t.store(), &l.key).await;
    let p = first(&report, chain);
    expect_problem!(report, p, Problem::SeqGap { chain: c, expected, found }
        if c == chain && *expected == a && *found == a + 1);
}

/// Every entry of a chain rewritten (another station), resealed and relinked from zero, and
/// the head moved: consistent on its own, it no longer gives the first signed root.
fn rewritten(old: &[Entry]) -> (Vec<Entry>, Vec<Edit>) {
    let mut prev = ZERO;
    let mut new = Vec::with_capacity(old.len());
    for e in old {
        let mut r = e.clone();
        r.station = "st-rewritten".into();
        r.prev = prev;
        r.seal();
        prev = r.hash;
        new.push(r);
    }
    let last = new.last().unwrap();
    let mut edits: Vec<Edit> = new.iter().map(Edit::entry).collect();
    edits.push(Edit::SetHead(ChainHead {
        chain: last.chain.clone(),
        size: last.seq + 1,
        hash: last.hash,
    }));
    (new, edits)
}

pub async fn rewritten_chain_mismatches_its_checkpoint<T: Target>(mut t: T) {
    let l = fixture::verified(t.store()).await;
    let chain = &l.chains[0];
    let (new, edits) = rewritten(&fixture::entries(t.store(), chain).await);
    let signed = fixture::checkpoint(t.store(), chain, FIRST)
        .await
        .checkpoint
        .root;
    t.apply(edits).await;
    let computed = root(
        &new[..FIRST as usize]
            .iter()
            .map(|e| e.hash)
            .collect::<Vec<_>>(),
    );
    let report = fixture::verify(t.store(), &l.key).await;
    let p = first(&report, chain);
    expect_problem!(report, p, Problem::CheckpointMismatch { chain: c, size, signed: s, computed: got }
        if c == chain && *size == FIRST && *s == signed && *got == computed);
}

/// The same rewrite with the chain's checkpoints deleted too. The store's checkpoints are as
/// writable as its entries, so the verifier can no longer compare roots; what is left is that
/// the rewritten hashes no longer match the other chain's `member_prev` links. (An attacker who
/// rewrote every chain and every account would leave only an auditor's own copy of a checkpoint
/// to catch it.)
pub async fn rewritten_chain_with_checkpoints_deleted_breaks_member_links<T: Target>(mut t: T) {
    let l = fixture::verified(t.store()).await;
    let chain = &l.chains[0];
    rewrite_and_delete_checkpoints(&mut t, chain).await;
    let report = fixture::verify(t.store(), &l.key).await;
    let p = first(&report, chain);
    expect_problem!(report, p, Problem::MemberChain { chain: c, detail, .. }
        if c == chain && detail.contains("does not lead back"));
    assert_eq!(report.chains[0].checkpoint, None, "nothing was matched");
}

/// The same rewrite, checkpoints deleted, against the checkpoints an auditor kept before: the
/// kept copy still binds the chain, so the rewrite is a mismatch again.
pub async fn rewritten_chain_with_checkpoints_deleted_mismatches_kept_checkpoints<T: Target>(
    mut t: T,
) {
    let l = fixture::verified(t.store()).await;
    let chain = &l.chains[0];
    let mut kept = Vec::new();
    for c in &l.chains {
        kept.extend(t.store().checkpoints(c).await.expect("checkpoints"));
    }
    rewrite_and_delete_checkpoints(&mut t, chain).await;
    let report = greenloop::verify::verify_kept(t.store(), Some(&l.key.public()), &kept, |_| {})
        .await
        .expect("verify");
    let p = first(&report, chain);
    expect_problem!(report, p, Problem::CheckpointMismatch { chain: c, size, .. }
        if c == chain && *size == FIRST);
}

/// Rewrites `chain` whole (as above) and deletes both its checkpoints.
async fn rewrite_and_delete_checkpoints<T: Target>(t: &mut T, chain: &str) {
    let (_, mut edits) = rewritten(&fixture::entries(t.store(), chain).await);
    for size in [FIRST, SIZE] {
        edits.push(Edit::DeleteCheckpoint {
            chain: chain.to_owned(),
            size,
        });
    }
    t.apply(edits).await;
}

/// A balance changed with no entry behind it.
pub async fn edited_balance_disagrees_with_the_entries<T: Target>(mut t: T) {
    let l = fixture::verified(t.store()).await;
    let member = l.members[2].clone();
    let before = t
        .store()
        .accounts(std::slice::from_ref(&member))
        .await
        .unwrap()[0]
        .balance;
    t.apply(vec![Edit::SetBalance {
        member: member.clone(),
        balance: before + 1_000,
    }])
    .await;
    let report = fixture::verify(t.store(), &l.key).await;
    // An account names its member (the first 12 digits), not a chain.
    let p = first(&report, &member.as_str()[..12]);
    expect_problem!(report, p, Problem::Account { member: m, field: "balance", stored, derived }
        if m == member.as_str() && *stored == (before + 1_000).to_string()
            && *derived == before.to_string());
}

/// Rewrites the last entry of `chain` with `forge`, reseals it, moves the head to it and drops
/// the checkpoint signed at its size, so that links, head and checkpoints all hold: only the
/// amounts can give the forgery away. Returns the forged entry.
async fn forge_tail<T: Target>(t: &mut T, chain: &str, forge: impl FnOnce(&mut Entry)) -> Entry {
    let mut forged = fixture::entry(t.store(), chain, SIZE - 1).await;
    forge(&mut forged);
    forged.seal();
    t.apply(vec![
        Edit::entry(&forged),
        Edit::SetHead(ChainHead {
            chain: chain.to_owned(),
            size: SIZE,
            hash: forged.hash,
        }),
        Edit::DeleteCheckpoint {
            chain: chain.to_owned(),
            size: SIZE,
        },
    ])
    .await;
    forged
}

/// An entry that misstates the member's accepted items of the day before it, as a producer
/// would to pass a later action as plausible. Here the items it does not bring (shoes), so it
/// recomputes on its own: the member's walk, which sums the day, names it.
pub async fn misstated_day_items_before_fails_the_member_walk<T: Target>(mut t: T) {
    let l = fixture::verified(t.store()).await;
    let chain = &l.chains[1];
    let forged = forge_tail(&mut t, chain, |e| e.day_items_before.shoes += 3).await;
    let report = fixture::verify(t.store(), &l.key).await;
    let p = first(&report, chain);
    expect_problem!(report, p, Problem::MemberChain { chain: c, seq, member, detail }
        if c == chain && *seq == SIZE - 1 && member == forged.member.as_str()
            && detail.starts_with("day_items_before is {")
            && detail.contains("\"shoes\":3} but the member had accepted {"));
}

/// A plausible entry relabelled `implausible` (no bonus, no grams), as a producer would to
/// drop a member's points or a campus's carbon: the verdict recomputes from the entry's inputs.
pub async fn plausible_entry_relabelled_implausible_fails_recomputation<T: Target>(mut t: T) {
    let l = fixture::verified(t.store()).await;
    let chain = &l.chains[0];
    let original = fixture::entry(t.store(), chain, SIZE - 1).await;
    assert!(
        original.bonus > 0,
        "the fixture keeps members below the cap"
    );
    forge_tail(&mut t, chain, |e| {
        (e.bonus, e.co2e_g) = (0, 0);
        e.reason = greenloop::rulebook::Reason::Implausible;
    })
    .await;
    let report = fixture::verify(t.store(), &l.key).await;
    let p = first(&report, chain);
    expect_problem!(report, p, Problem::Recomputed { chain: c, seq, field: "bonus", stored, recomputed }
        if c == chain && *seq == SIZE - 1 && stored == "0"
            && *recomputed == original.bonus.to_string());
}

/// A station's reuse report inflated after the fact (more boxes reused than it ever collected),
/// resealed, with the head moved to it: hashes and links hold, and no checkpoint covers it yet.
/// The verifier recomputes the station's stock from the entries alone and names the report.
pub async fn inflated_reuse_resealed_is_caught_by_the_mass_balance<T: Target>(mut t: T) {
    use greenloop::disposition::{Disposal, DispositionEntry, Params, Report};
    use greenloop::store::Disposing;
    let l = fixture::verified(t.store()).await;
    let (station, chain) = fixture::stations()[0].clone();
    let honest = Disposal {
        id: "out-1".into(),
        integration: "qr-1".into(),
        station: station.clone(),
        at: greenloop_testkit::WINDOW_END,
        report: Report::Outgoing {
            parcels: 4,
            reused_boxes: 2,
        },
    };
    let entered = t
        .store()
        .dispose(&honest, Params::builtin())
        .await
        .expect("an honest report is entered")
        .entry;
    assert_eq!(
        (entered.chain.as_str(), entered.seq),
        (chain.as_str(), SIZE)
    );
    let report = fixture::verify(t.store(), &l.key).await;
    assert!(report.is_ok(), "{:?}", report.problems);

    let stock = entered.stock_before;
    let mut forged: DispositionEntry = entered.clone();
    forged.report = Report::Outgoing {
        parcels: 2 * (stock + 5),
        reused_boxes: stock + 5,
    };
    forged.boxes = stock + 5;
    forged.seal();
    t.apply(vec![
        Edit::PutEntry {
            chain: chain.clone(),
            seq: SIZE,
            bytes: forged.to_json(),
        },
        Edit::SetHead(ChainHead {
            chain: chain.clone(),
            size: SIZE + 1,
            hash: forged.hash,
        }),
    ])
    .await;
    let report = fixture::verify(t.store(), &l.key).await;
    let p = first(&report, &chain);
    expect_problem!(report, p, Problem::MassBalance { chain: c, seq, station: s, detail }
        if *c == chain && *seq == SIZE && *s == station
            && *detail == format!("outgoing takes {} boxes out of a stock of {stock}", stock + 5));
}

/// A chain's stored disposition figures inflated (boxes reused) with no entry behind them, as
/// an operator would to flatter the reuse rate the audit API reports: the verifier sums the
/// figures from the entries and names the chain and field.
pub async fn inflated_reuse_figure_disagrees_with_the_entries<T: Target>(mut t: T) {
    use greenloop::disposition::{Disposal, Params, Report};
    use greenloop::store::Disposing;
    let l = fixture::verified(t.store()).await;
    let (station, chain) = fixture::stations()[0].clone();
    let honest = Disposal {
        id: "out-1".into(),
        integration: "qr-1".into(),
        station,
        at: greenloop_testkit::WINDOW_END,
        report: Report::Outgoing {
            parcels: 4,
            reused_boxes: 2,
        },
    };
    t.store()
        .dispose(&honest, Params::builtin())
        .await
        .expect("an honest report is entered");
    assert!(fixture::verify(t.store(), &l.key).await.is_ok());
    t.apply(vec![Edit::SetReused {
        chain: chain.clone(),
        reused: 200,
    }])
    .await;
    let report = fixture::verify(t.store(), &l.key).await;
    let p = first(&report, &chain);
    expect_problem!(report, p, Problem::Disposition { chain: c, field: "reused", stored, derived }
        if *c == chain && stored == "200" && derived == "2");
}

/// An entry left out of a brand's figures, rows and index together, as an operator would to
/// bill a brand less (or hide it in the ranking): the brand's statement still checks, since
/// its entries add up to its figures, which is the limit of a statement alone
/// (`docs/audit.md` §5); the verifier, summing every folded entry of the log, names the brand.
pub async fn brand_entry_left_out_passes_the_statement_but_not_the_verifier<T: Target>(mut t: T) {
    use greenloop::brand::{shares, verify_statement};
    use greenloop::checkpoint::brand::{fold_all, statement};
    use greenloop::store::BrandQueries;
    const BRAND: &str = "brand-01";
    let l = fixture::verified(t.store()).await;
    for f in fold_all(t.store()).await.expect("fold") {
        assert_eq!(f.stopped, None);
    }
    assert!(fixture::verify(t.store(), &l.key).await.is_ok());
    let catalog = t.store().catalog().await.unwrap();
    let whole = statement(t.store(), BRAND).await.expect("the statement");
    verify_statement(&l.key.public(), &whole, &catalog).expect("the honest statement checks");
    let mut standing = t
        .store()
        .brand_standing(BRAND)
        .await
        .unwrap()
        .expect("folded");
    let newest = t
        .store()
        .brand_entries(BRAND, None, 1)
        .await
        .unwrap()
        .remove(0);
    let e: Entry = serde_json::from_slice(&newest.entry).unwrap();
    let rb = catalog.rulebook(&e.rulebook).unwrap();
    let share = shares(&e, rb, catalog.factors(&e.factors).unwrap())[BRAND];
    let n = standing.totals.entries;
    let less = |f: &mut greenloop::brand::Figures| {
        f.entries -= 1;
        f.boxes -= share.boxes;
        f.points -= share.points;
        f.co2e_g -= share.co2e_g;
    };
    less(&mut standing.totals);
    let mut row = whole
        .rows
        .iter()
        .find(|r| r.day == e.day && r.campus == e.campus)
        .expect("the entry's row")
        .clone();
    less(&mut row.figures);
    t.apply(vec![
        Edit::DeleteBrandEntry {
            brand: BRAND.into(),
            n: newest.n,
        },
        Edit::SetBrandStanding(standing),
        Edit::SetBrandRow {
            brand: BRAND.into(),
            day: row.day,
            campus: row.campus,
            figures: (row.figures.entries > 0).then_some(row.figures),
        },
    ])
    .await;
    let s = statement(t.store(), BRAND)
        .await
        .expect("the statement is served");
    assert_eq!(s.totals.entries, n - 1);
    verify_statement(&l.key.public(), &s, &catalog)
        .expect("alone, a statement cannot show an entry it leaves out");
    let report = fixture::verify(t.store(), &l.key).await;
    expect_problem!(report, report.problems.last().unwrap(), Problem::BrandFigures { brand, field: "entries", stored, derived }
        if brand == BRAND && *stored == (n - 1).to_string() && *derived == n.to_string());
}
