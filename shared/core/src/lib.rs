//! Greenloop's pure core: the domain, the rulebook, carbon factors, the ledger, the Merkle tree,
//! checkpoints and proof verification. It does no I/O and builds for `wasm32-unknown-unknown`,
//! so the verifiers an auditor runs in `greenloop` run unchanged in a browser.
//!
//! Modules, bottom up (each uses only those before it):
//! - [`digest`]: SHA-256 values and the RFC 6962 leaf hash;
//! - `jcs`: RFC 8785 bytes of typed entries, which their hashes cover;
//! - [`domain`]: actions, stations, campuses, member pseudonyms and input validation;
//! - [`rulebook`], [`factors`], [`catalog`]: the versioned rules that turn an action into points
//!   and grams of CO2e;
//! - [`disposition`]: what stations do with collected boxes, and the mass balance;
//! - [`records`]: what the store keeps about the ledger (heads, accounts, campus totals);
//! - [`merkle`]: RFC 6962 tree math, inclusion and consistency;
//! - [`checkpoint`]: signed tree heads;
//! - [`ledger`]: entries, their canonical bytes, and the verifier;
//! - [`proof`]: the proofs an auditor is handed, and their one verifier;
//! - [`receipt`]: signed erasure receipts, what a member keeps when their link is erased;
//! - [`bundle`]: saved proof files and the one check of them, the CLI's and the browser's;
//! - [`brand`]: what each partner brand's boxes brought in, and a brand's statement.

pub mod brand;
pub mod bundle;
pub mod catalog;
pub mod checkpoint;
pub mod digest;
pub mod disposition;
pub mod domain;
pub mod factors;
mod jcs;
pub mod ledger;
pub mod merkle;
pub mod proof;
pub mod ranking;
pub mod receipt;
pub mod records;
pub mod rulebook;
