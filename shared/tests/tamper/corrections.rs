//! Attacks on correction entries (format 2.2): a requantification's corrections forged after
//! the fact. Each forgery is resealed and the head moved to it, so hashes and links hold; the
//! verifier names it by what only a correction's own rules can see.

use crate::attacks::{expect_problem, first};
use crate::fixture;
use crate::targets::{Edit, Target};
use greenloop::catalog::Rules;
use greenloop::factors::FactorTable;
use greenloop::ledger::verify::Problem;
use greenloop::ledger::{CorrectionEntry, Leaf};
use greenloop::requantify::requantify;
use greenloop::store::{ChainHead, LedgerSource, Members};

fn old() -> FactorTable {
    FactorTable::default_2026()
}

fn revised() -> FactorTable {
    let mut factors = old();
    factors.version = "factors-2026.2".into();
    factors.book_recycled.g_co2e = 1_197;
    factors
}

/// The fixture's ledger, requantified: books count 1,197 g (the factor table the ledger
/// format's correction vectors use). It verifies; returns the ledger and the last correction
/// of its first chain.
async fn requantified<T: Target>(t: &T) -> (fixture::Ledger, CorrectionEntry) {
    let l = fixture::verified(t.store()).await;
    let rules = Rules {
        rulebook: Rules::defaults().rulebook,
        factors: revised(),
    };
    let done = requantify(t.store(), &rules, fixture::LAST_SIGNED + 60)
        .await
        .expect("requantify");
    assert!(done.corrected > 0, "the fixture's books are corrected");
    let report = fixture::verify(t.store(), &l.key).await;
    assert!(
        report.is_ok(),
        "requantified, it verifies: {:?}",
        report.problems
    );
    let chain = &l.chains[0];
    let head = t.store().chain_head(chain).await.expect("head");
    // A member's statement holds their corrections and adds up with them.
    greenloop::checkpoint::tree::publish_all(t.store(), &l.key, fixture::LAST_SIGNED + 120)
        .await
        .expect("publish");
    let member = &l.members[0];
    let account = t
        .store()
        .accounts(std::slice::from_ref(member))
        .await
        .expect("account")
        .remove(0);
    let statement = greenloop::checkpoint::tree::statement(t.store(), member)
        .await
        .expect("statement");
    let verified = greenloop::proof::verify_statement(&l.key.public(), &statement)
        .expect("the statement verifies");
    assert_eq!(
        (verified.entries, verified.co2e_g),
        (account.entries, account.co2e_g)
    );
    assert!(
        statement
            .proofs
            .iter()
            .any(|p| p.entry.get().contains("\"type\":\"correction\"")),
        "the statement holds corrections"
    );
    let bytes = fixture::stored(t.store(), chain, head.size - 1).await;
    let Ok((Leaf::Correction(last), _)) = Leaf::read(&bytes) else {
        panic!("the chain ends with a correction");
    };
    (l, *last)
}

/// Appends `c` (resealed) at the head of its chain, or puts it in its own place if it is the
/// last entry, moving the head to it.
async fn put<T: Target>(t: &mut T, mut c: CorrectionEntry) -> CorrectionEntry {
    c.seal();
    t.apply(vec![
        Edit::PutEntry {
            chain: c.chain.clone(),
            seq: c.seq,
            bytes: c.to_json(),
        },
        Edit::SetHead(ChainHead {
            chain: c.chain.clone(),
            size: c.seq + 1,
            hash: c.hash,
        }),
    ])
    .await;
    c
}

/// A correction's delta inflated: the two versions and the corrected entry give it.
pub async fn correction_with_a_wrong_delta_fails_recomputation<T: Target>(mut t: T) {
    let (l, last) = requantified(&t).await;
    let mut forged = last.clone();
    forged.co2e_g += 1_000;
    let forged = put(&mut t, forged).await;
    let report = fixture::verify(t.store(), &l.key).await;
    let p = first(&report, &forged.chain);
    expect_problem!(report, p, Problem::Recomputed { chain, seq, field: "co2e_g", stored, recomputed }
        if *chain == forged.chain && *seq == forged.seq
            && *stored == forged.co2e_g.to_string() && *recomputed == last.co2e_g.to_string());
}

/// The same correction appended again (the same entry, the same pair of versions), linked as
/// the member's next entry: the second is named, with the first.
pub async fn duplicated_correction_is_named<T: Target>(mut t: T) {
    let (l, last) = requantified(&t).await;
    let account = t
        .store()
        .accounts(std::slice::from_ref(&last.member))
        .await
        .expect("account")
        .remove(0);
    let mut again = last.clone();
    again.seq = last.seq + 1;
    again.prev = last.hash;
    again.member_prev = account.head;
    let again = put(&mut t, again).await;
    let report = fixture::verify(t.store(), &l.key).await;
    let p = first(&report, &again.chain);
    expect_problem!(report, p, Problem::DuplicateCorrection { chain, seq, corrected, from, to, first_seq }
        if *chain == again.chain && *seq == again.seq && *corrected == last.corrects.seq
            && from == "factors-2026.1" && to == "factors-2026.2" && *first_seq == last.seq);
}

/// A correction of an entry the chain does not hold: a credit entry made up for it (the real
/// one's items inflated and resealed), so the correction recomputes on its own.
pub async fn correction_of_a_non_existent_entry_is_named<T: Target>(mut t: T) {
    let (l, last) = requantified(&t).await;
    let mut ghost = last.clone();
    ghost.corrects.items.books += 7;
    ghost.corrects.seal();
    ghost.co2e_g = greenloop::ledger::correction::delta(&ghost.corrects, &old(), &revised());
    let ghost = put(&mut t, ghost).await;
    let report = fixture::verify(t.store(), &l.key).await;
    let p = first(&report, &ghost.chain);
    expect_problem!(report, p, Problem::Correction { chain, seq, detail }
        if *chain == ghost.chain && *seq == ghost.seq
            && detail.contains(&format!("seq {}", last.corrects.seq))
            && detail.contains("no credit entry before it"));
}
