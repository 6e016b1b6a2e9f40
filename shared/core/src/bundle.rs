//! Saved proof files (`docs/audit.md` §7): a proof with the checkpoints it is checked against,
//! all an offline check needs, and the one function that checks them.
//!
//! `greenloop proof check` and the public page's witness (this core compiled to WebAssembly)
//! both call [`check`], so a browser and the command line cannot disagree on a file.

use crate::brand;
use crate::catalog::Catalog;
use crate::checkpoint::{CheckpointError, PublicKey, SignedCheckpoint};
use crate::ledger::Leaf;
use crate::proof::{
    verify_checkpoint, verify_consistency, verify_inclusion, verify_statement, ConsistencyProof,
    InclusionProof, Statement,
};
use crate::receipt::ErasureReceipt;
use serde::{Deserialize, Serialize};

/// A saved proof. Externally tagged (`{"inclusion": {...}}`), because an internal tag would
/// buffer the entry and lose its exact bytes.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Bundle {
    /// One signed checkpoint, as the public log serves it.
    Checkpoint {
        checkpoint: SignedCheckpoint,
    },
    Inclusion {
        checkpoint: SignedCheckpoint,
        proof: InclusionProof,
    },
    Consistency {
        older: SignedCheckpoint,
        newer: SignedCheckpoint,
        proof: ConsistencyProof,
    },
    Statement {
        statement: Statement,
    },
    Brand {
        statement: brand::Statement,
    },
    /// A member's erasure receipt, checked under the receipt key (`docs/privacy.md`).
    Erasure {
        receipt: ErasureReceipt,
    },
}

/// Checks a bundle under the pinned key; the line to print when it holds, else why not.
pub fn check(key: &PublicKey, bundle: &Bundle) -> Result<String, String> {
    match bundle {
        Bundle::Checkpoint { checkpoint } => {
            let c = verify_checkpoint(key, checkpoint).map_err(|e| e.to_string())?;
            Ok(format!(
                "proof: OK: chain {}'s checkpoint of {} entries, root {}, is signed by the pinned key",
                c.chain,
                c.size,
                c.root.short()
            ))
        }
        Bundle::Inclusion { checkpoint, proof } => {
            let leaf = verify_inclusion(key, checkpoint, proof).map_err(|e| e.to_string())?;
            let what = match &leaf {
                Leaf::Credit(e) => format!("action {}, {} points", e.action, e.bonus),
                Leaf::Correction(c) => format!(
                    "correction of seq {}, {:+} g from {} to {}",
                    c.corrects.seq, c.co2e_g, c.from, c.to
                ),
                Leaf::Disposition(d) => {
                    format!(
                        "{} report {} of station {}",
                        d.report.kind(),
                        d.id,
                        d.station
                    )
                }
            };
            Ok(format!(
                "proof: OK: chain {} seq {} ({what}) is in the signed checkpoint of {} entries, root {} ({} hashes)",
                leaf.chain(),
                leaf.seq(),
                proof.size,
                checkpoint.checkpoint.root.short(),
                proof.proof.len()
            ))
        }
        Bundle::Consistency {
            older,
            newer,
            proof,
        } => {
            verify_consistency(key, older, newer, proof).map_err(|e| e.to_string())?;
            Ok(format!(
                "proof: OK: chain {}'s checkpoint of {} entries extends its checkpoint of {} ({} hashes)",
                proof.chain,
                proof.second,
                proof.first,
                proof.proof.len()
            ))
        }
        Bundle::Brand { statement } => {
            let v = brand::verify_statement(key, statement, &Catalog::builtin())
                .map_err(|e| e.to_string())?;
            Ok(format!(
                "proof: OK: brand {} has {} entries, all in signed checkpoints, over {} days and campuses; {} boxes, {} points credited because of the brand, {} g CO2e, {} members reached",
                v.brand,
                v.totals.entries,
                v.rows,
                v.totals.boxes,
                v.totals.points,
                v.totals.co2e_g,
                v.members
            ))
        }
        Bundle::Erasure { receipt } => {
            let e = receipt.verify(key).map_err(|e| match e {
                CheckpointError::Forged => {
                    "the signature does not match the receipt: forged or altered".to_owned()
                }
                other => other.to_string(),
            })?;
            let log = e
                .checkpoints
                .iter()
                .map(|c| format!("{} at {}", c.chain, c.size))
                .collect::<Vec<_>>()
                .join(", ");
            Ok(format!(
                "proof: OK: erasure receipt {} of {}: since {} no user id leads to member {}…; its {} entries stay in the ledger (head {}); the log then held {}",
                e.request,
                e.integration,
                e.erased_at,
                &e.member.as_str()[..12],
                e.entries,
                e.head.short(),
                if log.is_empty() { "no checkpoint".to_owned() } else { log }
            ))
        }
        Bundle::Statement { statement } => {
            let v = verify_statement(key, statement).map_err(|e| e.to_string())?;
            Ok(format!(
                "proof: OK: member {}… has {} entries, all in signed checkpoints and linked back to the first; balance {} points, {} g CO2e",
                &v.member[..12],
                v.entries,
                v.balance,
                v.co2e_g
            ))
        }
    }
}

/// [`check`] on JSON text: the key as 64 hex digits and a bundle, as a file or a browser holds
/// them. Unreadable input is a refusal like any other, never a panic.
pub fn check_json(key_hex: &str, bundle: &str) -> Result<String, String> {
    let key = PublicKey::from_hex(key_hex).map_err(|e| format!("the log key: {e}"))?;
    let bundle: Bundle =
        serde_json::from_str(bundle).map_err(|e| format!("not a proof bundle: {e}"))?;
    check(&key, &bundle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::{Checkpoint, LogKey};
    use crate::digest::Digest;

    const SEED: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";

    fn signed(size: u64, root: u8) -> SignedCheckpoint {
        LogKey::from_hex(SEED).unwrap().sign(Checkpoint {
            chain: "shard-00".into(),
            root: Digest([root; 32]),
            size,
            time: 1_794_412_800,
        })
    }

    #[test]
    fn a_checkpoint_bundle_holds_only_as_signed() {
        let key = LogKey::from_hex(SEED).unwrap().public();
        let good = Bundle::Checkpoint {
            checkpoint: signed(5, 1),
        };
        assert!(check(&key, &good).unwrap().contains("of 5 entries"));
        let mut forged = signed(5, 1);
        forged.checkpoint.size = 6;
        let err = check(&key, &Bundle::Checkpoint { checkpoint: forged }).unwrap_err();
        assert!(err.contains("forged"), "{err}");
    }

    #[test]
    fn equal_sizes_need_equal_roots() {
        let key = LogKey::from_hex(SEED).unwrap().public();
        let bundle = |root| Bundle::Consistency {
            older: signed(5, 1),
            newer: signed(5, root),
            proof: ConsistencyProof {
                chain: "shard-00".into(),
                first: 5,
                second: 5,
                proof: vec![],
            },
        };
        assert!(check(&key, &bundle(1)).is_ok());
        assert!(check(&key, &bundle(2)).is_err());
    }

    #[test]
    fn unreadable_json_and_keys_are_refused_in_words() {
        let key = LogKey::from_hex(SEED).unwrap().public().to_hex();
        assert!(check_json(&key, "{")
            .unwrap_err()
            .starts_with("not a proof bundle"));
        assert!(check_json("zz", "{}")
            .unwrap_err()
            .starts_with("the log key"));
        let text = serde_json::to_string(&Bundle::Checkpoint {
            checkpoint: signed(1, 3),
        })
        .unwrap();
        assert!(check_json(&key, &text).is_ok());
    }
}
