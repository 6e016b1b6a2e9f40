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

use crate::digest::{leaf_hash, Digest};
use crate::domain::{check_id, Invalid, MAX_SAFE_INT};
use crate::factors::{Factor, FactorTable};
use serde::{Deserialize, Serialize};

/// The built-in disposition parameters; each value names where it comes from.
pub const DEFAULT_PARAMS: &str = include_str!("../data/disposition-2026.1.json");

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

/// Pulp a workbook batch draws from one weighbridge ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Draw {
    pub ticket: String,
    pub pulp_g: u64,
}

/// Most tickets one batch may draw from (a bounded entry, a bounded transaction).
pub const MAX_DRAWS: usize = 16;
/// Bounds that keep one typo from moving a national figure by orders of magnitude.
pub const MAX_PARCELS: u64 = 1_000_000;
pub const MAX_BALE_G: u64 = 100_000_000; // 100 t on one ticket
pub const MAX_WORKBOOKS: u64 = 10_000_000;

/// What a station reports. Field order within each kind is alphabetical, the RFC 8785 order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Report {
    /// Parcels the station sent out, and how many went in recycled boxes.
    Outgoing { parcels: u64, reused_boxes: u64 },
    /// Boxes baled and handed to `mill`, weighed on its weighbridge `ticket`.
    Baled {
        baled_g: u64,
        mill: String,
        ticket: String,
    },
    /// A mill batch: pulp drawn from the named tickets (all of `mill`), workbooks made.
    Workbooks {
        batch: String,
        draws: Vec<Draw>,
        mill: String,
        workbooks: u64,
    },
    /// Workbooks of a batch given to an elementary school through a public welfare
    /// organisation, which receipted them.
    Donation {
        batch: String,
        mill: String,
        organisation: String,
        receipt: String,
        school: String,
        workbooks: u64,
    },
}

impl Report {
    pub fn kind(&self) -> &'static str {
        match self {
            Report::Outgoing { .. } => "outgoing",
            Report::Baled { .. } => "baled",
            Report::Workbooks { .. } => "workbooks",
            Report::Donation { .. } => "donation",
        }
    }

    /// Checks a report on its own: ids, bounds, and what needs no stored state.
    pub fn validate(&self, params: &Params) -> Result<(), Invalid> {
        let bounded = |n: u64, max: u64, what: &str| {
            if n > max {
                Err(Invalid::new("too_much", format!("{what} is at most {max}")))
            } else {
                Ok(())
            }
        };
        match self {
            Report::Outgoing {
                parcels,
                reused_boxes,
            } => {
                bounded(*parcels, MAX_PARCELS, "parcels")?;
                if reused_boxes > parcels {
                    return Err(Invalid::new(
                        "reused_over_parcels",
                        "more parcels in recycled boxes than parcels sent",
                    ));
                }
                if *parcels == 0 {
                    return Err(Invalid::new("nothing_reported", "no parcels sent"));
                }
            }
            Report::Baled {
                baled_g,
                mill,
                ticket,
            } => {
                check_id("mill", mill)?;
                check_id("ticket", ticket)?;
                bounded(*baled_g, MAX_BALE_G, "baled_g")?;
                if *baled_g == 0 {
                    return Err(Invalid::new("nothing_reported", "a bale weighs above 0 g"));
                }
            }
            Report::Workbooks {
                batch,
                draws,
                mill,
                workbooks,
            } => {
                check_id("mill", mill)?;
                check_id("batch", batch)?;
                if draws.is_empty() || draws.len() > MAX_DRAWS {
                    return Err(Invalid::new(
                        "bad_draws",
                        format!("a batch draws from 1 to {MAX_DRAWS} tickets"),
                    ));
                }
                for (i, d) in draws.iter().enumerate() {
                    check_id("ticket", &d.ticket)?;
                    if d.pulp_g == 0 || d.pulp_g > MAX_BALE_G {
                        return Err(Invalid::new(
                            "bad_draws",
                            "each draw takes 1 g to 100 t of pulp",
                        ));
                    }
                    if draws[..i].iter().any(|o| o.ticket == d.ticket) {
                        return Err(Invalid::new("bad_draws", "a ticket is drawn from once"));
                    }
                }
                bounded(*workbooks, MAX_WORKBOOKS, "workbooks")?;
                let pulp_g = self.pulp_g();
                if *workbooks > params.max_workbooks(pulp_g) {
                    return Err(Invalid::new(
                        "workbooks_over_pulp",
                        format!(
                            "{pulp_g} g of pulp makes at most {} workbooks",
                            params.max_workbooks(pulp_g)
                        ),
                    ));
                }
            }
            Report::Donation {
                batch,
                mill,
                organisation,
                receipt,
                school,
                workbooks,
            } => {
                check_id("mill", mill)?;
                check_id("batch", batch)?;
                check_id("organisation", organisation)?;
                check_id("receipt", receipt)?;
                check_id("school", school)?;
                bounded(*workbooks, MAX_WORKBOOKS, "workbooks")?;
                if *workbooks == 0 {
                    return Err(Invalid::new(
                        "nothing_reported",
                        "a donation gives workbooks",
                    ));
                }
            }
        }
        Ok(())
    }

    /// Boxes this report takes out of the station's stock.
    pub fn boxes_out(&self, params: &Params) -> u64 {
        match self {
            Report::Outgoing { reused_boxes, .. } => *reused_boxes,
            Report::Baled { baled_g, .. } => params.boxes_in(*baled_g),
            _ => 0,
        }
    }

    /// Pulp a workbook batch draws, in total.
    pub fn pulp_g(&self) -> u64 {
        match self {
            Report::Workbooks { draws, .. } => draws.iter().map(|d| d.pulp_g).sum(),
            _ => 0,
        }
    }
}

/// Where a ticket or batch is kept: `<mill>/<id>` (`/` is outside the id alphabet).
pub fn mill_key(mill: &str, id: &str) -> String {
    format!("{mill}/{id}")
}

/// A disposition report as intake receives it, before it has a place on a chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Disposal {
    /// The integration's own id for the report; with `integration`, recognised forever.
    pub id: String,
    pub integration: String,
    pub station: String,
    /// When it happened, in Unix seconds.
    pub at: i64,
    pub report: Report,
}

impl Disposal {
    pub fn key(&self) -> String {
        crate::domain::action_key(&self.integration, &self.id)
    }

    /// What tells a replay (the same body again) from a conflict (the same key, another body).
    pub fn digest(&self) -> Digest {
        leaf_hash(&serde_json::to_vec(self).expect("a report serializes"))
    }

    pub fn validate(&self, params: &Params) -> Result<(), Invalid> {
        check_id("report", &self.id)?;
        check_id("integration", &self.integration)?;
        check_id("station", &self.station)?;
        if self.at < 0 || self.at as u64 > MAX_SAFE_INT {
            return Err(Invalid::new("bad_time", "report time is out of range"));
        }
        self.report.validate(params)
    }
}

/// The value of a disposition entry's `type` member.
pub const TYPE: &str = "disposition";

/// A disposition entry: a [`Disposal`] placed on its station's chain. No member, no points,
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
        let mut v = serde_json::to_value(self).expect("an entry always serializes");
        v.as_object_mut().expect("an object").remove("hash");
        serde_jcs::to_vec(&v).expect("JSON values canonicalize")
    }

    pub fn compute_hash(&self) -> Digest {
        leaf_hash(&self.body())
    }

    pub fn seal(&mut self) {
        self.hash = self.compute_hash();
    }

    /// The stored form: RFC 8785 bytes including `hash`.
    pub fn to_json(&self) -> Vec<u8> {
        serde_jcs::to_vec(self).expect("an entry always serializes")
    }

    pub fn key(&self) -> String {
        crate::domain::action_key(&self.integration, &self.id)
    }

    /// Checks what needs nothing but the entry: format, bounds, the boxes it names.
    pub fn flaw(&self, params: &Params) -> Option<String> {
        if self.v != crate::ledger::FORMAT_VERSION {
            return Some(format!("format version {} is not 2", self.v));
        }
        if self.seq > MAX_SAFE_INT || self.boxes > MAX_SAFE_INT || self.stock_before > MAX_SAFE_INT
        {
            return Some("an integer is outside ±(2^53 - 1)".into());
        }
        let d = Disposal {
            id: self.id.clone(),
            integration: self.integration.clone(),
            station: self.station.clone(),
            at: self.at,
            report: self.report.clone(),
        };
        if let Err(e) = d.validate(params) {
            return Some(e.message);
        }
        let out = self.report.boxes_out(params);
        (self.boxes != out).then(|| format!("boxes is {} but the report takes {out}", self.boxes))
    }
}

/// A station's boxes on one chain (a station's stock is kept per chain: the one its drop-offs
/// are credited to), and what it reported about them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct StationStock {
    pub station: String,
    pub chain: String,
    /// Boxes of accepted drop-offs.
    pub collected: u64,
    pub reused: u64,
    pub baled_boxes: u64,
    pub baled_g: u64,
    pub parcels: u64,
}

impl StationStock {
    pub fn empty(station: &str, chain: &str) -> Self {
        StationStock {
            station: station.to_owned(),
            chain: chain.to_owned(),
            ..Self::default()
        }
    }

    /// Boxes collected and not yet reused or baled.
    pub fn stock(&self) -> u64 {
        self.collected
            .saturating_sub(self.reused + self.baled_boxes)
    }
}

/// A weighbridge ticket: grams a mill received from a station, and how much batches drew.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ticket {
    pub mill: String,
    pub ticket: String,
    pub station: String,
    pub baled_g: u64,
    pub drawn_g: u64,
}

/// A mill's workbook batch, and how many of its workbooks were given away.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Batch {
    pub mill: String,
    pub batch: String,
    pub station: String,
    pub pulp_g: u64,
    pub workbooks: u64,
    pub donated: u64,
}

/// Disposition figures summed over some stations: one chain's, or, summed, the nation's.
/// `collected` moves with crediting, the rest with disposition entries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    pub collected: u64,
    pub reused: u64,
    pub baled_boxes: u64,
    pub baled_g: u64,
    pub parcels: u64,
    pub pulp_g: u64,
    pub workbooks: u64,
    pub donated: u64,
    pub donations: u64,
    /// Schools given workbooks for the first time (so, summed, schools reached).
    pub schools: u64,
}

impl Totals {
    pub fn add(&mut self, o: &Totals) {
        self.collected += o.collected;
        self.reused += o.reused;
        self.baled_boxes += o.baled_boxes;
        self.baled_g += o.baled_g;
        self.parcels += o.parcels;
        self.pulp_g += o.pulp_g;
        self.workbooks += o.workbooks;
        self.donated += o.donated;
        self.donations += o.donations;
        self.schools += o.schools;
    }

    /// Boxes collected and not yet reused or baled.
    pub fn stock(&self) -> u64 {
        self.collected
            .saturating_sub(self.reused + self.baled_boxes)
    }

    /// Outgoing parcels sent in recycled boxes, in basis points (1/100 of a percent), rounded
    /// down; None before any parcel was reported.
    pub fn reuse_rate_bp(&self) -> Option<u64> {
        (self.parcels > 0).then(|| self.reused * 10_000 / self.parcels)
    }
}

/// What entering a report needs read first: the chain's head, the station's stock on it, the
/// tickets the report names (for a bale, its own, if already used; for a batch, each draw's, in
/// order), the batch it names, and whether its school was given workbooks before.
#[derive(Debug, Clone)]
pub struct Standing {
    pub head: crate::records::ChainHead,
    pub stock: StationStock,
    pub tickets: Vec<Option<Ticket>>,
    pub batch: Option<Batch>,
    pub school_known: bool,
}

/// A report entered: its entry, and the records to write with it, atomically.
#[derive(Debug, Clone)]
pub struct Entered {
    pub entry: DispositionEntry,
    pub stock: StationStock,
    /// Tickets as they stand after the entry (a new one for a bale; the drawn ones for a batch).
    pub tickets: Vec<Ticket>,
    pub batch: Option<Batch>,
    /// What the entry adds to its chain's totals.
    pub totals: Totals,
}

/// The tickets a report reads: its own for a bale, its draws' for a batch.
pub fn tickets_named(r: &Report) -> Vec<String> {
    match r {
        Report::Baled { mill, ticket, .. } => vec![mill_key(mill, ticket)],
        Report::Workbooks { mill, draws, .. } => {
            draws.iter().map(|d| mill_key(mill, &d.ticket)).collect()
        }
        _ => Vec::new(),
    }
}

/// The batch a report reads: its own, or the one it gives from.
pub fn batch_named(r: &Report) -> Option<String> {
    match r {
        Report::Workbooks { mill, batch, .. } | Report::Donation { mill, batch, .. } => {
            Some(mill_key(mill, batch))
        }
        _ => None,
    }
}

/// Enters a validated report on its chain, if the mass balance allows it; the refusal says
/// which rule it breaks (intake answers 422 with it, and writes nothing).
pub fn enter(d: &Disposal, st: Standing, params: &Params) -> Result<Entered, Invalid> {
    let refuse = |code: &'static str, m: String| Err(Invalid::new(code, m));
    let mut stock = st.stock;
    let boxes = d.report.boxes_out(params);
    let before = stock.stock();
    if boxes > before {
        return refuse(
            "over_stock",
            format!(
                "station {} has {before} boxes in stock on its chain; this report takes out {boxes}",
                d.station
            ),
        );
    }
    let mut totals = Totals::default();
    let mut tickets = Vec::new();
    let mut batch = None;
    match &d.report {
        Report::Outgoing {
            parcels,
            reused_boxes,
        } => {
            stock.parcels += parcels;
            stock.reused += reused_boxes;
            totals.parcels = *parcels;
            totals.reused = *reused_boxes;
        }
        Report::Baled {
            baled_g,
            mill,
            ticket,
        } => {
            if st.tickets.first().is_some_and(Option::is_some) {
                return refuse(
                    "ticket_used",
                    format!("ticket {ticket} of mill {mill} was already reported"),
                );
            }
            stock.baled_boxes += boxes;
            stock.baled_g += baled_g;
            totals.baled_boxes = boxes;
            totals.baled_g = *baled_g;
            tickets.push(Ticket {
                mill: mill.clone(),
                ticket: ticket.clone(),
                station: d.station.clone(),
                baled_g: *baled_g,
                drawn_g: 0,
            });
        }
        Report::Workbooks {
            batch: id,
            draws,
            mill,
            workbooks,
        } => {
            if st.batch.is_some() {
                return refuse(
                    "batch_used",
                    format!("batch {id} of mill {mill} was already reported"),
                );
            }
            for (draw, ticket) in draws.iter().zip(st.tickets) {
                let Some(mut t) = ticket else {
                    return refuse(
                        "unknown_ticket",
                        format!("mill {mill} has no ticket {}", draw.ticket),
                    );
                };
                if t.drawn_g + draw.pulp_g > t.baled_g {
                    return refuse(
                        "over_ticket",
                        format!(
                            "ticket {} holds {} g, {} g already drawn; this batch draws {} g",
                            t.ticket, t.baled_g, t.drawn_g, draw.pulp_g
                        ),
                    );
                }
                t.drawn_g += draw.pulp_g;
                tickets.push(t);
            }
            let pulp_g = d.report.pulp_g();
            totals.pulp_g = pulp_g;
            totals.workbooks = *workbooks;
            batch = Some(Batch {
                mill: mill.clone(),
                batch: id.clone(),
                station: d.station.clone(),
                pulp_g,
                workbooks: *workbooks,
                donated: 0,
            });
        }
        Report::Donation {
            batch: id,
            mill,
            workbooks,
            ..
        } => {
            let Some(mut b) = st.batch else {
                return refuse("unknown_batch", format!("mill {mill} has no batch {id}"));
            };
            if b.donated + workbooks > b.workbooks {
                return refuse(
                    "over_batch",
                    format!(
                        "batch {id} made {} workbooks, {} already given; this donation gives {workbooks}",
                        b.workbooks, b.donated
                    ),
                );
            }
            b.donated += workbooks;
            batch = Some(b);
            totals.donated = *workbooks;
            totals.donations = 1;
            totals.schools = u64::from(!st.school_known);
        }
    }
    let mut entry = DispositionEntry {
        at: d.at,
        boxes,
        chain: st.head.chain.clone(),
        hash: st.head.hash,
        id: d.id.clone(),
        integration: d.integration.clone(),
        params: params.version.clone(),
        prev: st.head.hash,
        report: d.report.clone(),
        seq: st.head.size,
        station: d.station.clone(),
        stock_before: before,
        kind: EntryType::Disposition,
        v: crate::ledger::FORMAT_VERSION,
    };
    entry.seal();
    Ok(Entered {
        entry,
        stock,
        tickets,
        batch,
        totals,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::ledger::ZERO;

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
