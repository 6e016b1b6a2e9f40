//! Packaging's second life: what a station does with the boxes members dropped off there.
//!
//! A station's integration reports four things, each a [`Report`] that becomes a disposition
//! entry on the station's chain (format 2.1, `docs/ledger-format.md`):
//! - **outgoing** parcels, and how many of them went out in recycled boxes;
//! - boxes **baled** for pulping: kilograms handed to a paper mill, on a weighbridge ticket;
//! - a mill's **workbooks** batch: pulp drawn from named tickets, workbooks made;
//! - a **donation** of workbooks from a batch to an elementary school, through a public welfare
//!   organisation, with its receipt.
//!
//! The mass balance (normative; the verifier and intake apply the same rules):
//! - per station and chain, at every entry: `stock = collected − reused − baled_boxes ≥ 0`,
//!   where `collected` counts the boxes of accepted drop-offs (scan entries whose items count)
//!   and `baled_boxes = ⌈baled_g / box_mass_g⌉` of each bale (rounded up: a station never bales
//!   fewer boxes than its kilograms stand for);
//! - per ticket: the pulp batches draw at most the ticket's kilograms, in total;
//! - per batch: `workbooks ≤ ⌊pulp_g × pulp_yield_pct / 100 / workbook_min_g⌋`, and donations
//!   give at most the batch's workbooks, in total.
//!
//! A disposition entry claims no carbon: members were credited at drop-off at the reuse factor,
//! the smaller of a box's two fates (`docs/carbon-method.md`), which [`Params::covers`] checks.
//!
//! Modules: [`report`] (what a station reports, checked on its own), [`entry`] (a report
//! placed on its chain), [`intake`] (the stored records of the balance, and entering a report
//! against them). The verifier's side is `ledger::balance`.

mod entry;
mod intake;
mod report;

pub use entry::{DispositionEntry, EntryType};
pub use intake::{
    adds, batch_named, enter, tickets_named, Batch, Entered, Kept, Standing, StationStock, Ticket,
    Totals,
};
pub use report::{
    mill_key, Disposal, Draw, Report, MAX_BALE_G, MAX_DRAWS, MAX_PARCELS, MAX_WORKBOOKS,
};

use crate::domain::{check_id, Invalid};
use crate::factors::{Factor, FactorTable};
use serde::{Deserialize, Serialize};

/// The `v` of a disposition entry: the ledger format's, 2 (`ledger::FORMAT_VERSION`, which the
/// ledger checks is the same; this module sits below the ledger and cannot name it).
pub const FORMAT_VERSION: u32 = 2;

/// The built-in disposition parameters; each value names where it comes from.
pub const DEFAULT_PARAMS: &str = include_str!("../../data/disposition-2026.1.json");

/// A number with its source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Quantity {
    pub value: u32,
    pub source: String,
}

/// Versioned operator data for the mass balance, like a factor table: an entry names the
/// version it was checked under.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    pub version: String,
    /// Grams per express box, to turn a bale's kilograms into boxes.
    pub box_mass_g: Quantity,
    /// The most of the pulp a mill batch may keep, in percent.
    pub pulp_yield_pct: Quantity,
    /// The lightest workbook, in grams.
    pub workbook_min_g: Quantity,
    /// What recycling a kilogram of corrugated board avoids: the pulping fate's factor.
    pub board_recycled: Factor,
}

impl Params {
    pub fn from_json(text: &str) -> Result<Self, Invalid> {
        let p: Params = serde_json::from_str(text)
            .map_err(|e| Invalid::new("bad_params", format!("disposition parameters: {e}")))?;
        check_id("disposition parameters version", &p.version)?;
        let sane = p.box_mass_g.value > 0
            && (1..=100).contains(&p.pulp_yield_pct.value)
            && p.workbook_min_g.value > 0
            && p.board_recycled.per == "kg";
        if !sane {
            return Err(Invalid::new(
                "bad_params",
                "box mass and workbook mass above 0, a yield of 1-100%, board per kg",
            ));
        }
        Ok(p)
    }

    pub fn default_2026() -> Self {
        Self::from_json(DEFAULT_PARAMS).expect("the built-in disposition parameters are valid")
    }

    /// The parameters intake enters reports under, parsed once.
    pub fn builtin() -> &'static Params {
        static PARAMS: std::sync::OnceLock<Params> = std::sync::OnceLock::new();
        PARAMS.get_or_init(Self::default_2026)
    }

    /// Boxes a bale of `baled_g` grams takes out of stock: ⌈baled_g / box_mass_g⌉.
    pub fn boxes_in(&self, baled_g: u64) -> u64 {
        baled_g.div_ceil(u64::from(self.box_mass_g.value))
    }

    /// The most workbooks `pulp_g` grams of pulp can make.
    pub fn max_workbooks(&self, pulp_g: u64) -> u64 {
        let kept = pulp_g as u128 * u128::from(self.pulp_yield_pct.value) / 100;
        (kept / u128::from(self.workbook_min_g.value)) as u64
    }

    /// Grams of CO2e one box avoids if pulped: ⌊box_mass_g × board_recycled / 1000⌋.
    pub fn pulped_box_g(&self) -> u64 {
        u64::from(self.box_mass_g.value) * u64::from(self.board_recycled.g_co2e) / 1000
    }

    /// Whether crediting a dropped-off box at `factors`' reuse factor claims no more than
    /// either fate avoids, so that no later fate needs a second claim or a take-back.
    pub fn covers(&self, factors: &FactorTable) -> bool {
        u64::from(factors.box_reused.g_co2e) <= self.pulped_box_g()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::digest::ZERO;

    pub fn bale() -> DispositionEntry {
        DispositionEntry {
            at: 1_793_548_800,
            boxes: 4,
            chain: "shard-01".into(),
            hash: ZERO,
            id: "bale-1".into(),
            integration: "qr-1".into(),
            params: "disposition-2026.1".into(),
            prev: ZERO,
            report: Report::Baled {
                baled_g: 1_000,
                mill: "mill-1".into(),
                ticket: "T-1".into(),
            },
            seq: 7,
            station: "st-0001".into(),
            stock_before: 10,
            kind: EntryType::Disposition,
            v: 2,
        }
    }

    #[test]
    fn params_round_boxes_up_and_bound_workbooks() {
        let p = Params::default_2026();
        assert_eq!(p.boxes_in(300), 1);
        assert_eq!(p.boxes_in(301), 2);
        assert_eq!(p.boxes_in(1), 1);
        // 1 kg of pulp keeps at most 900 g: 18 workbooks of 50 g.
        assert_eq!(p.max_workbooks(1_000), 18);
        assert_eq!(p.pulped_box_g(), 1_038);
        assert!(p.covers(&FactorTable::default_2026()));
        let mut greedy = FactorTable::default_2026();
        greedy.box_reused.g_co2e = 1_039;
        assert!(!p.covers(&greedy));
    }

    #[test]
    fn reports_are_checked_on_their_own() {
        let p = Params::default_2026();
        let code = |r: Report| r.validate(&p).err().map(|e| e.code);
        assert_eq!(
            code(Report::Outgoing {
                parcels: 10,
                reused_boxes: 11
            }),
            Some("reused_over_parcels")
        );
        let draw = |t: &str, g| Draw {
            ticket: t.into(),
            pulp_g: g,
        };
        let batch = |draws, workbooks| Report::Workbooks {
            batch: "b".into(),
            draws,
            mill: "m".into(),
            workbooks,
        };
        assert_eq!(code(batch(vec![draw("t", 1_000)], 18)), None);
        assert_eq!(
            code(batch(vec![draw("t", 1_000)], 19)),
            Some("workbooks_over_pulp")
        );
        assert_eq!(
            code(batch(vec![draw("t", 1), draw("t", 1)], 0)),
            Some("bad_draws")
        );
        assert_eq!(code(batch(vec![], 0)), Some("bad_draws"));
    }

    #[test]
    fn entry_hash_is_rfc8785_and_the_stored_form_parses_back() {
        let mut e = bale();
        e.seal();
        let json = e.to_json();
        let text = String::from_utf8(json.clone()).unwrap();
        assert!(text.starts_with(r#"{"at":1793548800,"boxes":4,"chain":"shard-01","#));
        assert!(text.contains(
            r#""report":{"baled_g":1000,"kind":"baled","mill":"mill-1","ticket":"T-1"}"#
        ));
        let back: DispositionEntry = serde_json::from_slice(&json).unwrap();
        assert_eq!(back, e);
        assert_eq!(back.compute_hash(), e.hash);
        let mut v: serde_json::Value = serde_json::from_slice(&json).unwrap();
        v["extra"] = 1.into();
        assert!(serde_json::from_value::<DispositionEntry>(v).is_err());
        assert_eq!(e.flaw(&Params::default_2026()), None);
        e.boxes = 3;
        assert!(e.flaw(&Params::default_2026()).unwrap().contains("takes 4"));
    }
}
