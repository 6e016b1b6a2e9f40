//! Carbon factors: integer grams of CO2e avoided per unit, each with its source.
//!
//! Like the rulebook, a factor table is versioned data; a changed factor is a new version, and
//! past entries are corrected by new entries, never rewritten.
//!
//! Rounding (normative):
//!
//! ```text
//! co2e_g = boxes × box_reused + floor(clothing_g × clothing_reused / 1000)
//!        + pairs × shoes_reused + books × book_recycled
//! ```
//!
//! A pledge moves no material yet, so it counts 0 g; its boxes count when they are dropped off.

use crate::domain::{check_id, ActionKind, Invalid, Items};
use serde::{Deserialize, Serialize};

/// The default factor table; each row names its public source.
pub const DEFAULT_FACTORS: &str = include_str!("../data/factors-2026.1.json");

/// One factor: grams of CO2e per unit, the unit, and where the number comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Factor {
    pub g_co2e: u32,
    pub per: String,
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Unchecked")]
pub struct FactorTable {
    pub version: String,
    pub box_reused: Factor,
    pub clothing_reused: Factor,
    pub shoes_reused: Factor,
    pub book_recycled: Factor,
}

/// A factor table as written, before validation: deserializing a [`FactorTable`] always goes
/// through this and [`FactorTable::check`], wherever the table comes from (a file, the store, a
/// remote audit API).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Unchecked {
    version: String,
    box_reused: Factor,
    clothing_reused: Factor,
    shoes_reused: Factor,
    book_recycled: Factor,
}

impl TryFrom<Unchecked> for FactorTable {
    type Error = Invalid;
    fn try_from(u: Unchecked) -> Result<Self, Invalid> {
        let t = FactorTable {
            version: u.version,
            box_reused: u.box_reused,
            clothing_reused: u.clothing_reused,
            shoes_reused: u.shoes_reused,
            book_recycled: u.book_recycled,
        };
        t.check()?;
        Ok(t)
    }
}

impl FactorTable {
    /// Parses and validates a factor table document.
    pub fn from_json(text: &str) -> Result<Self, Invalid> {
        serde_json::from_str(text)
            .map_err(|e| Invalid::new("bad_factors", format!("factor table is not valid: {e}")))
    }

    fn check(&self) -> Result<(), Invalid> {
        check_id("factor table version", &self.version)?;
        for (f, unit) in [
            (&self.box_reused, "box"),
            (&self.clothing_reused, "kg"),
            (&self.shoes_reused, "pair"),
            (&self.book_recycled, "book"),
        ] {
            if f.per != unit || f.source.trim().is_empty() || f.g_co2e > 1_000_000 {
                return Err(Invalid::new(
                    "bad_factors",
                    format!("factor per {unit} needs unit {unit:?}, a source and a sane value"),
                ));
            }
        }
        Ok(())
    }

    pub fn default_2026() -> Self {
        Self::from_json(DEFAULT_FACTORS).expect("the built-in factor table is valid")
    }

    /// Grams of CO2e avoided by the items of an action.
    pub fn co2e_g(&self, kind: ActionKind, items: &Items) -> i64 {
        self.co2e_g_of(
            kind,
            items.box_count(),
            items.clothing_g,
            items.shoes,
            items.books,
        )
    }

    /// [`FactorTable::co2e_g`] from the items' parts: `boxes` is the total box count.
    pub fn co2e_g_of(
        &self,
        kind: ActionKind,
        boxes: u64,
        clothing_g: u64,
        shoes: u32,
        books: u32,
    ) -> i64 {
        let clothing = (clothing_g as i64 * self.clothing_reused.g_co2e as i64) / 1000;
        match kind {
            ActionKind::Pledge => 0,
            ActionKind::Pickup => clothing,
            ActionKind::Scan => {
                boxes as i64 * self.box_reused.g_co2e as i64
                    + clothing
                    + shoes as i64 * self.shoes_reused.g_co2e as i64
                    + books as i64 * self.book_recycled.g_co2e as i64
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::BoxLot;

    #[test]
    fn defaults_follow_the_reference_table() {
        let f = FactorTable::default_2026();
        let items = Items {
            boxes: vec![BoxLot {
                brand: None,
                count: 2,
            }],
            clothing_g: 1_501,
            shoes: 1,
            books: 3,
        };
        // 2 × 37 + floor(1501 × 3000 / 1000) + 2000 + 3 × 1026
        assert_eq!(f.co2e_g(ActionKind::Scan, &items), 74 + 4503 + 2000 + 3078);
        assert_eq!(f.co2e_g(ActionKind::Pledge, &items), 0);
        let pickup = Items {
            clothing_g: 999,
            ..Items::default()
        };
        assert_eq!(f.co2e_g(ActionKind::Pickup, &pickup), 2997);
    }

    #[test]
    fn every_factor_needs_its_unit_and_source() {
        let no_source = DEFAULT_FACTORS.replacen("Cainiao network", "", 1).replace(
            "\"source\": \"'s published figure: 37 g CO2e saved per reused express box\"",
            "\"source\": \" \"",
        );
        assert!(FactorTable::from_json(&no_source).is_err());
        let wrong_unit = DEFAULT_FACTORS.replace("\"per\": \"kg\"", "\"per\": \"lb\"");
        assert!(FactorTable::from_json(&wrong_unit).is_err());
    }

    /// Every way in checks, not only `from_json`: a table read as part of another document (the
    /// store's catalog, the audit API's `/rules`) is held to the same rules.
    #[test]
    fn deserializing_anywhere_validates() {
        let mut v: serde_json::Value = serde_json::from_str(DEFAULT_FACTORS).unwrap();
        assert!(serde_json::from_value::<FactorTable>(v.clone()).is_ok());
        v["clothing_reused"]["per"] = "lb".into();
        let wrapped = serde_json::json!({ "factors": [v] });
        #[derive(Deserialize)]
        struct Rules {
            #[allow(dead_code)]
            factors: Vec<FactorTable>,
        }
        let err = serde_json::from_value::<Rules>(wrapped)
            .err()
            .expect("refused");
        assert!(err.to_string().contains("factor per kg"), "{err}");
    }
}
