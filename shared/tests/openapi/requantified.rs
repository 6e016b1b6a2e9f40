//! After a requantification: a member's history on their campus portal lists the correction
//! of their entry among their entries, byte-exact, and their grams moved by its delta.

use crate::harness::{rehash, Harness, Req, CAMPUS_A_KEY, NOW};
use greenloop::catalog::Rules;
use greenloop::factors::FactorTable;
use greenloop::requantify::requantify;
use serde_json::value::RawValue;
use serde_json::Value;

pub async fn member_history(h: &Harness) {
    let alice = || Req::get("/v1/campuses/campus-a/members/alice?limit=100").bearer(CAMPUS_A_KEY);
    let before = h.ok(alice(), 200).await;
    // Books count 171 g more each: alice's scan-1 brought 2.
    let mut factors = FactorTable::default_2026();
    factors.version = "factors-openapi.2".into();
    factors.book_recycled.g_co2e += 171;
    let rules = Rules {
        factors,
        ..Rules::defaults()
    };
    requantify(h.store.as_ref(), &rules, NOW)
        .await
        .expect("requantify");

    let answer = h.send(alice(), 200).await;
    let after = &answer.json;
    let recent = |v: &Value| v["recent"].as_array().cloned().unwrap_or_default();
    assert_eq!(recent(after).len(), recent(&before).len() + 1);
    let newest = &recent(after)[0];
    assert_eq!(newest["type"], "correction", "newest first");
    assert_eq!(newest["corrects"]["action"], "scan-1");
    assert_eq!(newest["co2e_g"], 2 * 171);
    assert_eq!(
        after["co2e_g"].as_i64(),
        before["co2e_g"].as_i64().map(|g| g + 2 * 171)
    );
    assert_eq!(after["balance"], before["balance"], "points never move");
    assert_eq!(
        after["entries"].as_i64(),
        before["entries"].as_i64().map(|n| n + 1)
    );
    // Served as stored: its bytes re-hash to its own hash.
    #[derive(serde::Deserialize)]
    struct Recent {
        recent: Vec<Box<RawValue>>,
    }
    let served: Recent = serde_json::from_str(&answer.text).unwrap();
    let (hash, recomputed) = rehash(served.recent[0].get());
    assert_eq!(hash, recomputed);
}
