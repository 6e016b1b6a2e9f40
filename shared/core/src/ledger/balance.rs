//! The mass balance, recomputed from the entries alone (the rules are in
//! [`crate::disposition`]). Per station and chain it runs in chain order, so the first entry
//! that takes out more boxes than are in stock is named where it stands; tickets and batches
//! span chains, so their sums are checked once every chain is read.

use super::problem::Problem;
use crate::disposition::{adds, mill_key, DispositionEntry, Params, Report, Totals};
use rustc_hash::FxHashMap;
use std::collections::BTreeSet;

/// Where an entry stands: chain index and seq.
type Place = (u32, u64);

#[derive(Default)]
pub(super) struct Balance {
    /// Per chain index, each station's stock: boxes collected minus boxes out.
    stock: Vec<FxHashMap<String, u64>>,
    reports: FxHashMap<String, Place>,
    /// `mill/ticket` → grams baled, and where.
    tickets: FxHashMap<String, (u64, Place)>,
    /// `mill/batch` → workbooks made, and where.
    batches: FxHashMap<String, (u64, Place)>,
    /// In the order read: (where, station, `mill/ticket`, grams).
    draws: Vec<(Place, String, String, u64)>,
    /// In the order read: (where, station, `mill/batch`, workbooks).
    donations: Vec<(Place, String, String, u64)>,
    /// Per chain index, the disposition totals its entries add up to (`schools` left 0).
    totals: Vec<Totals>,
    /// Schools given workbooks, over all chains.
    schools: BTreeSet<String>,
}

impl Balance {
    /// Boxes of an accepted drop-off at `station`, on chain `chain`.
    pub(super) fn collect(&mut self, chain: u32, station: &str, boxes: u64) {
        self.totals_of(chain).collected += boxes;
        let stock = self.chain(chain);
        match stock.get_mut(station) {
            Some(n) => *n += boxes,
            None => {
                stock.insert(station.to_owned(), boxes);
            }
        }
    }

    fn totals_of(&mut self, chain: u32) -> &mut Totals {
        let i = chain as usize;
        if self.totals.len() <= i {
            self.totals.resize_with(i + 1, Totals::default);
        }
        &mut self.totals[i]
    }

    fn chain(&mut self, chain: u32) -> &mut FxHashMap<String, u64> {
        let i = chain as usize;
        if self.stock.len() <= i {
            self.stock.resize_with(i + 1, FxHashMap::default);
        }
        &mut self.stock[i]
    }

    /// A disposition entry, in chain order. Its station's stock is checked now; what spans
    /// chains waits for [`Balance::check`]. An error names the entry where the stock breaks.
    pub(super) fn dispose(
        &mut self,
        d: &DispositionEntry,
        chain: u32,
        names: &dyn Fn(u32) -> String,
    ) -> Result<(), Problem> {
        let place = (chain, d.seq);
        let bad = |detail: String| Problem::MassBalance {
            chain: names(chain),
            seq: d.seq,
            station: d.station.clone(),
            detail,
        };
        if let Some(&(first_chain, first_seq)) = self.reports.get(&d.key()) {
            return Err(Problem::DuplicateReport {
                chain: names(chain),
                seq: d.seq,
                report: d.key(),
                first_chain: names(first_chain),
                first_seq,
            });
        }
        self.reports.insert(d.key(), place);
        let stock = self.chain(chain).get(&d.station).copied().unwrap_or(0);
        if d.stock_before != stock {
            return Err(bad(format!(
                "stock_before is {} but its drop-offs and reports leave {stock}",
                d.stock_before
            )));
        }
        if d.boxes > stock {
            return Err(bad(format!(
                "{} takes {} boxes out of a stock of {stock}",
                d.report.kind(),
                d.boxes
            )));
        }
        if d.boxes > 0 {
            *self.chain(chain).entry(d.station.clone()).or_default() -= d.boxes;
        }
        self.totals_of(chain).add(&adds(&d.report, d.boxes));
        if let Report::Donation { school, .. } = &d.report {
            self.schools.insert(school.clone());
        }
        match &d.report {
            Report::Baled {
                baled_g,
                mill,
                ticket,
            } => {
                let key = mill_key(mill, ticket);
                if let Some(&(_, (c, s))) = self.tickets.get(&key) {
                    return Err(bad(format!(
                        "ticket {key} was already used at chain {} seq {s}",
                        names(c)
                    )));
                }
                self.tickets.insert(key, (*baled_g, place));
            }
            Report::Workbooks {
                batch,
                draws,
                mill,
                workbooks,
            } => {
                let key = mill_key(mill, batch);
                if let Some(&(_, (c, s))) = self.batches.get(&key) {
                    return Err(bad(format!(
                        "batch {key} was already reported at chain {} seq {s}",
                        names(c)
                    )));
                }
                self.batches.insert(key, (*workbooks, place));
                for dr in draws {
                    let t = mill_key(mill, &dr.ticket);
                    self.draws.push((place, d.station.clone(), t, dr.pulp_g));
                }
            }
            Report::Donation {
                batch,
                mill,
                workbooks,
                ..
            } => {
                let b = mill_key(mill, batch);
                self.donations
                    .push((place, d.station.clone(), b, *workbooks));
            }
            Report::Outgoing { .. } => {}
        }
        Ok(())
    }

    /// The stored disposition totals of each chain against what its entries add up to, field by
    /// field in [`Totals`] order; schools, which a store counts on the chain that first saw
    /// each, against the distinct schools of the whole ledger.
    pub(super) fn compare(
        &self,
        names: &[String],
        stored: &[(String, Totals)],
        problems: &mut Vec<Problem>,
    ) {
        let mut chains: BTreeSet<&str> = names.iter().map(String::as_str).collect();
        chains.extend(stored.iter().map(|(c, _)| c.as_str()));
        let mut stored_schools = 0;
        for chain in chains {
            let kept = stored
                .iter()
                .find(|(c, _)| c == chain)
                .map(|(_, t)| *t)
                .unwrap_or_default();
            stored_schools += kept.schools;
            let derived = names
                .iter()
                .position(|n| n == chain)
                .and_then(|i| self.totals.get(i).copied())
                .unwrap_or_default();
            let pairs = [
                ("collected", kept.collected, derived.collected),
                ("reused", kept.reused, derived.reused),
                ("baled_boxes", kept.baled_boxes, derived.baled_boxes),
                ("baled_g", kept.baled_g, derived.baled_g),
                ("parcels", kept.parcels, derived.parcels),
                ("pulp_g", kept.pulp_g, derived.pulp_g),
                ("workbooks", kept.workbooks, derived.workbooks),
                ("donated", kept.donated, derived.donated),
                ("donations", kept.donations, derived.donations),
            ];
            if let Some((field, kept, derived)) = pairs.into_iter().find(|(_, k, d)| k != d) {
                problems.push(Problem::Disposition {
                    chain: chain.to_owned(),
                    field,
                    stored: kept.to_string(),
                    derived: derived.to_string(),
                });
            }
        }
        let schools = self.schools.len() as u64;
        if stored_schools != schools {
            problems.push(Problem::Disposition {
                chain: "all chains".into(),
                field: "schools",
                stored: stored_schools.to_string(),
                derived: schools.to_string(),
            });
        }
    }

    /// The sums that span chains: each draw's ticket exists and is not overdrawn, each
    /// donation's batch exists and is not over-given; and each factor table credits a box no
    /// more than either fate avoids.
    pub(super) fn check<'a>(
        &self,
        names: &dyn Fn(u32) -> String,
        factors: impl Iterator<Item = &'a crate::factors::FactorTable>,
        params: &Params,
        problems: &mut Vec<Problem>,
    ) {
        let overdrawn = first_over(&self.draws, |t| self.tickets.get(t).map(|x| x.0), "ticket");
        let overgiven = first_over(
            &self.donations,
            |b| self.batches.get(b).map(|x| x.0),
            "batch",
        );
        for ((chain, seq), station, detail) in overdrawn.into_iter().chain(overgiven) {
            problems.push(Problem::MassBalance {
                chain: names(chain),
                seq,
                station,
                detail,
            });
        }
        for f in factors {
            if !params.covers(f) {
                problems.push(Problem::CarbonClaim {
                    factors: f.version.clone(),
                    params: params.version.clone(),
                    detail: format!(
                        "a dropped-off box is credited {} g, more than pulping it avoids ({} g)",
                        f.box_reused.g_co2e,
                        params.pulped_box_g()
                    ),
                });
            }
        }
    }
}

/// The first use (draw or donation) that names an unknown source, or takes a source past what
/// it holds; `limit` gives what a source holds.
fn first_over(
    uses: &[(Place, String, String, u64)],
    limit: impl Fn(&str) -> Option<u64>,
    what: &str,
) -> Option<(Place, String, String)> {
    let mut taken: FxHashMap<&str, u64> = FxHashMap::default();
    for (place, station, source, n) in uses {
        let Some(holds) = limit(source) else {
            return Some((
                *place,
                station.clone(),
                format!("{what} {source} is not on the ledger"),
            ));
        };
        let t = taken.entry(source).or_default();
        *t += n;
        if *t > holds {
            return Some((
                *place,
                station.clone(),
                format!("{what} {source} holds {holds} but is drawn {t} in all"),
            ));
        }
    }
    None
}
