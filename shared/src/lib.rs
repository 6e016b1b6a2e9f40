//! Greenloop's library: everything the Lambda functions and the `greenloop` tool share.
//!
//! Pure parts, free of I/O: [`domain`], [`rulebook`], [`factors`], [`catalog`], [`ledger`] and
//! the planning half of [`credit`]. Beside them: [`store`], which persists it all.

pub mod audit;
pub mod catalog;
pub mod credit;
pub mod domain;
pub mod factors;
pub mod ledger;
pub mod rulebook;
pub mod store;
