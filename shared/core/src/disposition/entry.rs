//! A disposition entry: a report placed on its station's chain (format 2.1), its RFC 8785
//! bytes and its hash.

use super::report::validate_parts;
use super::{Params, Report};
use crate::digest::{leaf_hash, Digest};
use crate::domain::MAX_SAFE_INT;
use serde::{Deserialize, Serialize};

/// A disposition entry: a [`super::Disposal`] placed on its station's chain. No member, no points,
/// no grams. `hash` = SHA-256(0x00 ‖ JCS(entry without `hash`)), as for every entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DispositionEntry {
    pub at: i64,
    /// Boxes it takes out of the station's stock ([`Report::boxes_out`]).
    pub boxes: u64,
    pub chain: String,
    pub hash: Digest,
    pub id: String,
    pub integration: String,
    /// The [`Params`] version it was checked under.
    pub params: String,
    pub prev: Digest,
    pub report: Report,
    pub seq: u64,
    pub station: String,
    /// The station's stock on this chain before it: boxes collected minus boxes out.
    pub stock_before: u64,
    #[serde(rename = "type")]
    pub kind: EntryType,
    pub v: u32,
}

/// Only `"disposition"`: what tells a disposition entry from a credit entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryType {
    Disposition,
}

impl DispositionEntry {
    /// C, the RFC 8785 bytes of the entry without `hash`.
    pub fn body(&self) -> Vec<u8> {
        crate::jcs::without_hash(self)
    }

    pub fn compute_hash(&self) -> Digest {
        leaf_hash(&self.body())
    }

    pub fn seal(&mut self) {
        self.hash = self.compute_hash();
    }

    /// The stored form: RFC 8785 bytes including `hash`.
    pub fn to_json(&self) -> Vec<u8> {
        crate::jcs::bytes(self)
    }

    pub fn key(&self) -> String {
        crate::domain::action_key(&self.integration, &self.id)
    }

    /// Checks what needs nothing but the entry: format, bounds, the boxes it names.
    pub fn flaw(&self, params: &Params) -> Option<String> {
        if self.v != super::FORMAT_VERSION {
            return Some(format!(
                "format version {} is not {}",
                self.v,
                super::FORMAT_VERSION
            ));
        }
        if self.seq > MAX_SAFE_INT || self.boxes > MAX_SAFE_INT || self.stock_before > MAX_SAFE_INT
        {
            return Some("an integer is outside ±(2^53 - 1)".into());
        }
        let valid = validate_parts(
            &self.id,
            &self.integration,
            &self.station,
            self.at,
            &self.report,
            params,
        );
        if let Err(e) = valid {
            return Some(e.message);
        }
        let out = self.report.boxes_out(params);
        (self.boxes != out).then(|| format!("boxes is {} but the report takes {out}", self.boxes))
    }
}
