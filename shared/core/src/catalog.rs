//! Every rulebook and factor-table version the ledger may name, so each entry's points and grams
//! can be recomputed from its inputs, and the pair of versions crediting uses now.

use crate::domain::Invalid;
use crate::factors::FactorTable;
use crate::rulebook::Rulebook;
use std::collections::BTreeMap;

/// The versions crediting applies to new actions.
#[derive(Debug, Clone)]
pub struct Rules {
    pub rulebook: Rulebook,
    pub factors: FactorTable,
}

impl Rules {
    pub fn defaults() -> Self {
        Rules {
            rulebook: Rulebook::default_double11(),
            factors: FactorTable::default_2026(),
        }
    }
}

/// Known versions, by name. A version's content never changes once published.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    rulebooks: BTreeMap<String, Rulebook>,
    factors: BTreeMap<String, FactorTable>,
}

impl Catalog {
    /// The built-in versions.
    pub fn builtin() -> Self {
        let mut c = Catalog::default();
        c.add(&Rules::defaults()).expect("built-ins agree");
        c
    }

    /// Adds both versions of `rules`; refuses a known version name with different content.
    pub fn add(&mut self, rules: &Rules) -> Result<(), Invalid> {
        self.add_rulebook(rules.rulebook.clone())?;
        self.add_factors(rules.factors.clone())
    }

    pub fn add_rulebook(&mut self, rb: Rulebook) -> Result<(), Invalid> {
        match self.rulebooks.get(&rb.version) {
            Some(known) if *known != rb => Err(changed("rulebook", &rb.version)),
            _ => {
                self.rulebooks.insert(rb.version.clone(), rb);
                Ok(())
            }
        }
    }

    pub fn add_factors(&mut self, f: FactorTable) -> Result<(), Invalid> {
        match self.factors.get(&f.version) {
            Some(known) if *known != f => Err(changed("factor table", &f.version)),
            _ => {
                self.factors.insert(f.version.clone(), f);
                Ok(())
            }
        }
    }

    pub fn rulebook(&self, version: &str) -> Option<&Rulebook> {
        self.rulebooks.get(version)
    }

    pub fn factors(&self, version: &str) -> Option<&FactorTable> {
        self.factors.get(version)
    }

    pub fn rulebooks(&self) -> impl Iterator<Item = &Rulebook> {
        self.rulebooks.values()
    }

    pub fn factor_tables(&self) -> impl Iterator<Item = &FactorTable> {
        self.factors.values()
    }
}

fn changed(what: &str, version: &str) -> Invalid {
    Invalid::new(
        "version_changed",
        format!(
            "{what} version {version} already exists with different content; publish a new version"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_cannot_change_content() {
        let mut c = Catalog::builtin();
        let mut rules = Rules::defaults();
        assert!(c.add(&rules).is_ok());
        rules.rulebook.daily_cap = 999;
        assert_eq!(c.add(&rules).unwrap_err().code, "version_changed");
        rules.rulebook.version = "double11-2026.2-changed".into();
        assert!(c.add(&rules).is_ok());
        assert_eq!(
            c.rulebook("double11-2026.2-changed").unwrap().daily_cap,
            999
        );
    }
}
