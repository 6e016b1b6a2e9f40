//! Greenloop's library: everything the Lambda functions and the `greenloop` tool share.
//!
//! Pure parts, free of I/O: [`domain`], [`rulebook`], [`factors`], [`catalog`], [`ledger`],
//! [`merkle`], [`checkpoint`] and the planning half of [`credit`]. Beside them: [`store`],
//! which persists it all, and [`http`], the routers the Lambda functions and `greenloop serve`
//! run.

pub mod audit;
pub use async_trait::async_trait;
pub mod catalog;
pub mod checkpoint;
pub mod config;
pub mod credit;
pub mod domain;
pub mod factors;
pub mod http;
pub mod ledger;
pub mod merkle;
pub mod rulebook;
pub mod store;
pub mod tree;
pub mod trigger;
