//! What the public page's witness costs per chain, natively, against its ceiling: one raw
//! Ed25519 verification of a checkpoint's message (RFC 8032, strict), which no check of a signed
//! checkpoint can avoid.
//!
//! `cargo bench -p greenloop-wasm --bench witness` measures, on a checkpoint of a chain of
//! 1,000,000 entries and a consistency proof from 999,000 entries to it (the proof a returning
//! visitor checks):
//! - `ed25519_verify`: `verify_strict` of the checkpoint's message (the ceiling);
//! - `check_checkpoint`: `bundle::check_json` of a checkpoint bundle, from JSON text as the
//!   browser passes it (parse, key id, message, signature);
//! - `check_consistency`: the same for the consistency bundle (two signatures, the RFC 9162 walk).
//!
//! It prints each mean and its ratio to `ed25519_verify`, and writes the two bundles to
//! `target/witness-bench/` for `infra/bench-witness`, which times the same bundles through the
//! committed `shared/web/verifier.wasm` in Node.js (V8, Chromium's engine).

#[path = "../../benches/support/mean.rs"]
mod mean;

use criterion::{black_box, Criterion};
use greenloop_core::bundle::check_json;
use greenloop_core::checkpoint::{Checkpoint, LogKey, SignedCheckpoint};
use greenloop_core::digest::Digest;
use greenloop_core::merkle::{self, consistency, Subtrees};
use mean::mean_ns;
use sha2::{Digest as _, Sha256};
use std::time::Duration;

const SEED: &str = "62656e63682d6c6f672d6b65792d6e6f742d7365637265742d2d2d2d2d2d2d2d";
const SIZE: u64 = 1_000_000;
const FIRST: u64 = 999_000;

/// A tree of made-up leaves, answering subtree hashes from the leaves.
struct Leaves(Vec<Digest>);

impl Subtrees for Leaves {
    fn subtree(&self, start: u64, end: u64) -> Digest {
        merkle::root(&self.0[start as usize..end as usize])
    }
}

fn main() {
    let key = LogKey::from_hex(SEED).unwrap();
    let public = key.public().to_hex();
    let leaves = Leaves(
        (0..SIZE)
            .map(|i| Digest(Sha256::digest(i.to_le_bytes()).into()))
            .collect(),
    );
    let signed = |size: u64| -> SignedCheckpoint {
        key.sign(Checkpoint {
            chain: "shard-00".into(),
            root: merkle::root(&leaves.0[..size as usize]),
            size,
            time: 1_794_412_800,
        })
    };
    let (older, newer) = (signed(FIRST), signed(SIZE));
    let proof = consistency::prove(&leaves, FIRST, SIZE).unwrap();
    let checkpoint = serde_json::json!({"checkpoint": {"checkpoint": newer}}).to_string();
    let extends = serde_json::json!({"consistency": {
        "older": older, "newer": newer,
        "proof": {"chain": "shard-00", "first": FIRST, "second": SIZE, "proof": proof}
    }})
    .to_string();
    assert!(check_json(&public, &checkpoint).is_ok());
    assert!(check_json(&public, &extends).is_ok());
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/witness-bench");
    std::fs::create_dir_all(&out).unwrap();
    for (name, bundle) in [("checkpoint", &checkpoint), ("consistency", &extends)] {
        let request = serde_json::json!({"key": public, "bundle": serde_json::from_str::<serde_json::Value>(bundle).unwrap()});
        std::fs::write(out.join(format!("{name}.json")), request.to_string()).unwrap();
    }

    let verifying =
        ed25519_dalek::VerifyingKey::from_bytes(&hex::decode(&public).unwrap().try_into().unwrap())
            .unwrap();
    let signature =
        ed25519_dalek::Signature::from_slice(&hex::decode(&newer.signature).unwrap()).unwrap();
    let message = newer.checkpoint.message();

    let mut c = Criterion::default()
        .configure_from_args()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    let ceiling = mean_ns(&mut c, "ed25519_verify", || {
        verifying
            .verify_strict(black_box(&message), &signature)
            .unwrap();
    });
    let one = mean_ns(&mut c, "check_checkpoint", || {
        check_json(&public, black_box(&checkpoint)).unwrap();
    });
    let two = mean_ns(&mut c, "check_consistency", || {
        check_json(&public, black_box(&extends)).unwrap();
    });
    println!("native means: ed25519_verify {ceiling:.0} ns; check_checkpoint {one:.0} ns ({:.2}x); check_consistency {two:.0} ns ({:.2}x, {} hashes)", one / ceiling, two / ceiling, proof.len());
    println!("native_ns checkpoint={one:.0} consistency={two:.0} ed25519={ceiling:.0}");
}
