//! The scenario's checkpoint and proof routes: before any checkpoint (empty, 404, 409), then
//! after publishing, where every proof served checks out with the shared verifier against the
//! log's pinned key.

use crate::harness::{Harness, Req, AUDITOR_KEY, CAMPUS_A_KEY};
use greenloop::checkpoint::{LogKey, SignedCheckpoint};
use greenloop::http::audit::CheckpointsPage;
use greenloop::proof::{
    verify_consistency, verify_inclusion, verify_statement, ConsistencyProof, InclusionProof,
    Statement, StatementPage,
};
use greenloop::store::LedgerSource;
use greenloop_testkit::TEST_LOG_KEY;
use serde_json::{json, Value};

/// Checkpoints and proofs, on the ledger the crediting half of the scenario wrote.
pub async fn proof_routes(h: &Harness) {
    let key = LogKey::from_hex(TEST_LOG_KEY).unwrap();
    let alice = h.member("alice").await;
    let heads = h
        .ok(Req::get("/v1/audit/heads").bearer(AUDITOR_KEY), 200)
        .await;
    let head = heads.as_array().unwrap()[0].clone();
    let chain = head["chain"].as_str().unwrap().to_owned();
    let size = head["size"].as_u64().unwrap();
    let at = |route: &str| format!("/v1/audit/chains/{chain}/{route}");

    // Before the first checkpoint: nothing signed, nothing provable.
    let none = h
        .ok(Req::get(at("checkpoints")).bearer(AUDITOR_KEY), 200)
        .await;
    assert_eq!(
        none,
        json!({"chain": chain, "checkpoints": [], "next": null})
    );
    h.err(
        Req::get(at("checkpoint")).bearer(AUDITOR_KEY),
        404,
        "not_found",
    )
    .await;
    h.err(
        Req::get(at("inclusion?seq=0")).bearer(AUDITOR_KEY),
        409,
        "not_checkpointed",
    )
    .await;
    h.err(
        Req::get(at("consistency?first=0")).bearer(AUDITOR_KEY),
        409,
        "not_checkpointed",
    )
    .await;
    let statement = format!("/v1/audit/members/{alice}/statement");
    h.err(
        Req::get(&statement).bearer(AUDITOR_KEY),
        409,
        "not_checkpointed",
    )
    .await;

    greenloop::checkpoint::tree::publish_all(h.store.as_ref(), &key, 1_800_000_000)
        .await
        .expect("checkpoints publish");
    let public = key.public();
    let list = h
        .send(Req::get(at("checkpoints")).bearer(AUDITOR_KEY), 200)
        .await;
    let list: CheckpointsPage = serde_json::from_str(&list.text).unwrap();
    assert_eq!((list.chain.as_str(), list.next), (chain.as_str(), None));
    let list = list.checkpoints;
    assert_eq!(list.len(), 1);
    // Above the only checkpoint's size: an empty last page.
    let after = h
        .ok(
            Req::get(at(&format!("checkpoints?after={size}&limit=1"))).bearer(AUDITOR_KEY),
            200,
        )
        .await;
    assert_eq!(after["checkpoints"], json!([]));
    assert_eq!(after["next"], Value::Null);
    for q in ["checkpoints?limit=0", "checkpoints?limit=1001"] {
        h.err(Req::get(at(q)).bearer(AUDITOR_KEY), 400, "bad_limit")
            .await;
    }
    for q in ["checkpoints?after=-1", "checkpoints?from=0"] {
        h.err(Req::get(at(q)).bearer(AUDITOR_KEY), 400, "bad_query")
            .await;
    }
    let latest = h
        .send(Req::get(at("checkpoint")).bearer(AUDITOR_KEY), 200)
        .await;
    let latest: SignedCheckpoint = serde_json::from_str(&latest.text).unwrap();
    assert_eq!(latest, list[0]);
    assert_eq!(latest.checkpoint.size, size);
    let sized = h
        .ok(
            Req::get(at(&format!("checkpoint?size={size}"))).bearer(AUDITOR_KEY),
            200,
        )
        .await;
    assert_eq!(sized["signature"], latest.signature.as_str());
    h.err(
        Req::get(at("checkpoint?size=999")).bearer(AUDITOR_KEY),
        404,
        "not_found",
    )
    .await;

    for seq in 0..size {
        let a = h
            .send(
                Req::get(at(&format!("inclusion?seq={seq}"))).bearer(AUDITOR_KEY),
                200,
            )
            .await;
        let proof: InclusionProof = serde_json::from_str(&a.text).unwrap();
        let entry = verify_inclusion(&public, &latest, &proof).expect("the proof checks out");
        assert_eq!(entry.seq(), seq);
    }
    let a = h
        .send(
            Req::get(at(&format!("consistency?first=1&second={size}"))).bearer(AUDITOR_KEY),
            200,
        )
        .await;
    let proof: ConsistencyProof = serde_json::from_str(&a.text).unwrap();
    assert_eq!((proof.first, proof.second), (1, size));
    // A one-entry tree's root is its entry's hash: the older "checkpoint" an auditor holds.
    let first_hash: Value =
        serde_json::from_slice(&h.store.entries(&chain, 0, 1).await.unwrap()[0]).unwrap();
    let older = key.sign(greenloop::checkpoint::Checkpoint {
        chain: chain.clone(),
        root: serde_json::from_value(first_hash["hash"].clone()).unwrap(),
        size: 1,
        time: 1_800_000_000,
    });
    verify_consistency(&public, &older, &latest, &proof)
        .expect("the larger tree extends the smaller");

    let a = h.send(Req::get(&statement).bearer(AUDITOR_KEY), 200).await;
    let whole: StatementPage = serde_json::from_str(&a.text).unwrap();
    assert_eq!(whole.next, None, "alice's whole history fits one page");
    let s = Statement::join([whole]).unwrap();
    let verified = verify_statement(&public, &s).expect("alice's statement checks out");
    assert!(verified.entries >= 2, "enough entries for pages of one");
    assert_eq!(verified.member, alice);
    // Pages of one entry, each carrying the account, join to the same statement.
    let mut pages: Vec<StatementPage> = Vec::new();
    let mut before = None;
    loop {
        let q = before.map_or(String::new(), |b| format!("&before={b}"));
        let a = h
            .send(
                Req::get(format!("{statement}?limit=1{q}")).bearer(AUDITOR_KEY),
                200,
            )
            .await;
        let page: StatementPage = serde_json::from_str(&a.text).unwrap();
        assert_eq!(page.proofs.len(), 1);
        assert_eq!((page.head, page.balance), (s.head, s.balance));
        before = page.next;
        pages.push(page);
        if before.is_none() {
            break;
        }
    }
    assert_eq!(pages.len() as u64, verified.entries);
    let joined = Statement::join(pages).unwrap();
    assert_eq!(
        serde_json::to_value(&joined).unwrap(),
        serde_json::to_value(&s).unwrap()
    );
    assert_eq!(verify_statement(&public, &joined), Ok(verified));
    for q in ["limit=0", "limit=101"] {
        h.err(
            Req::get(format!("{statement}?{q}")).bearer(AUDITOR_KEY),
            400,
            "bad_limit",
        )
        .await;
    }
    h.err(
        Req::get(format!("{statement}?after=1")).bearer(AUDITOR_KEY),
        400,
        "bad_query",
    )
    .await;

    // Questions outside the tree (409: well-formed, but about a tree or leaf that is not there),
    // and malformed ones (400).
    let bad = |q: &str| Req::get(at(q)).bearer(AUDITOR_KEY);
    h.err(bad(&format!("inclusion?seq={size}")), 409, "out_of_range")
        .await;
    h.err(
        bad(&format!("inclusion?seq=0&size={}", size + 1)),
        409,
        "not_checkpointed",
    )
    .await;
    h.err(bad("inclusion"), 400, "bad_query").await;
    h.err(
        bad(&format!("consistency?first={}&second={size}", size + 1)),
        409,
        "out_of_range",
    )
    .await;
    h.err(
        bad(&format!("consistency?first=1&second={}", size + 1)),
        409,
        "not_checkpointed",
    )
    .await;
    h.err(bad("consistency?first=x"), 400, "bad_query").await;
    h.err(bad("checkpoint?size=-1"), 400, "bad_query").await;
    let ghost = "0".repeat(64);
    h.err(
        Req::get(format!("/v1/audit/members/{ghost}/statement")).bearer(AUDITOR_KEY),
        404,
        "not_found",
    )
    .await;
    h.err(
        Req::get("/v1/audit/members/alice/statement").bearer(AUDITOR_KEY),
        422,
        "invalid_member",
    )
    .await;
    h.err(
        Req::get("/v1/audit/members/%FF/statement").bearer(AUDITOR_KEY),
        400,
        "bad_path",
    )
    .await;
    for route in [
        "checkpoints",
        "checkpoint",
        "inclusion?seq=0",
        "consistency?first=1",
    ] {
        h.err(
            Req::get(format!("/v1/audit/chains/%FF/{route}")).bearer(AUDITOR_KEY),
            400,
            "bad_path",
        )
        .await;
        h.err(
            Req::get(format!("/v1/audit/chains/shard%2000/{route}")).bearer(AUDITOR_KEY),
            422,
            "invalid_id",
        )
        .await;
        h.err(Req::get(at(route)), 401, "unauthorized").await;
        h.err(Req::get(at(route)).bearer(CAMPUS_A_KEY), 403, "forbidden")
            .await;
    }
    h.err(Req::get(&statement), 401, "unauthorized").await;
    h.err(Req::get(&statement).bearer(CAMPUS_A_KEY), 403, "forbidden")
        .await;
}
