//! Greenloop's library: everything the Lambda functions and the `greenloop` tool share. The
//! folder is `shared/` (the design card's name); the crate is `greenloop`.
//!
//! The pure core, which does no I/O, is its own crate, `greenloop-core` in `shared/core/`, and
//! is re-exported here by module: [`digest`], [`domain`], [`rulebook`], [`factors`],
//! [`catalog`], [`records`], [`merkle`], [`ledger`], [`proof`], [`receipt`], and the pure half of
//! [`checkpoint`]. Above it, one module per job, each named like the function that runs it:
//! - [`store`]: the store traits, split by role, and the embedded and DynamoDB stores;
//! - [`credit`]: crediting pending actions, and [`credit::trigger`], the `credit` function;
//! - [`checkpoint::tree`]: the `checkpoint` function, which signs each chain's Merkle root;
//! - [`erasure`]: erasing a person's link to their pseudonym, with a signed receipt;
//! - [`requantify`]: a new factor table's grams for credited entries, by correction entries;
//! - [`http`]: the routers of the `scan`, `campus` and `audit` functions and `greenloop serve`;
//! - [`verify`]: verifying a whole ledger from a store, a remote deployment or an export;
//! - [`config`]: what a function reads from its environment at init.

pub use async_trait::async_trait;
pub use greenloop_core::{
    brand, bundle, catalog, digest, disposition, domain, factors, ledger, merkle, proof, ranking,
    receipt, records, rulebook,
};

pub mod checkpoint;
pub mod config;
pub mod credit;
pub mod erasure;
pub mod http;
pub mod requantify;
pub mod store;
pub mod verify;
