//! Checkpoints: signed heads of each chain's Merkle tree.
//!
//! The checkpoint itself, its signature and the log's keys are pure, and come from the core
//! ([`greenloop_core::checkpoint`], re-exported here). [`tree`] is the `checkpoint` function's
//! job: it keeps each chain's tree in the store, signs new roots, and answers proofs from it.
//! [`brand`] builds a brand's statement from those proofs.

pub use greenloop_core::checkpoint::*;

pub mod brand;
pub mod tree;
