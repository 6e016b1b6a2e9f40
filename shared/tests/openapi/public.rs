//! The scenario's public routes: the log and its consistency proofs (after the proof routes
//! have published checkpoints), the packaging figures, and the pages with their assets.

use crate::harness::{Harness, Req};
use greenloop::bundle::{check, Bundle};
use greenloop::checkpoint::{LogKey, SignedCheckpoint};
use greenloop::http::public::Log;
use greenloop::proof::ConsistencyProof;
use greenloop_testkit::TEST_LOG_KEY;

pub async fn public_routes(h: &Harness) {
    let key = LogKey::from_hex(TEST_LOG_KEY).unwrap().public();
    let a = h.send(Req::get("/v1/log"), 200).await;
    let log: Log = serde_json::from_str(&a.text).unwrap();
    assert_eq!(log.public_key.as_deref(), Some(key.to_hex().as_str()));
    assert!(!log.checkpoints.is_empty(), "the proof routes published");
    for c in &log.checkpoints {
        let bundle = Bundle::Checkpoint {
            checkpoint: c.clone(),
        };
        check(&key, &bundle).expect("every public checkpoint is signed by the log's key");
    }
    h.send(
        Req::get("/v1/log").header("if-none-match", a.etag.unwrap()),
        304,
    )
    .await;

    // The latest checkpoint extends the one-entry tree, and equal sizes need no hash.
    let latest: &SignedCheckpoint = &log.checkpoints[0];
    let (chain, size) = (&latest.checkpoint.chain, latest.checkpoint.size);
    let at = |q: &str| format!("/v1/log/chains/{chain}/consistency?{q}");
    for q in [format!("first=1&second={size}"), "first=1".to_owned()] {
        let a = h.send(Req::get(at(&q)), 200).await;
        let proof: ConsistencyProof = serde_json::from_str(&a.text).unwrap();
        assert_eq!((proof.first, proof.second), (1, size));
    }
    let same: ConsistencyProof = serde_json::from_str(
        &h.send(Req::get(at(&format!("first={size}"))), 200)
            .await
            .text,
    )
    .unwrap();
    assert!(same.proof.is_empty());
    h.err(
        Req::get(at(&format!("first={}&second={size}", size + 1))),
        409,
        "out_of_range",
    )
    .await;
    h.err(Req::get(at("second=1")), 400, "bad_query").await;
    h.err(
        Req::get(at(&format!("first=1&second={}", size + 1))),
        409,
        "not_checkpointed",
    )
    .await;
    h.err(
        Req::get("/v1/log/chains/shard%2000/consistency?first=1"),
        422,
        "invalid_id",
    )
    .await;
    h.err(
        Req::get("/v1/log/chains/%FF/consistency?first=1"),
        400,
        "bad_path",
    )
    .await;

    let a = h.send(Req::get("/v1/packaging"), 200).await;
    assert!(a.json["totals"]["collected"].as_u64().is_some());
    h.send(
        Req::get("/v1/packaging").header("if-none-match", a.etag.unwrap()),
        304,
    )
    .await;

    // The pages and their assets: documented types, revalidation, and 404 for anything else.
    for uri in ["/", "/campus", "/assets/public.js", "/assets/verifier.wasm"] {
        let a = h.send(Req::get(uri), 200).await;
        h.send(Req::get(uri).header("if-none-match", a.etag.unwrap()), 304)
            .await;
    }
    h.send(Req::get("/assets/style.css"), 200).await;
    h.err(Req::get("/assets/missing.js"), 404, "not_found")
        .await;
}
