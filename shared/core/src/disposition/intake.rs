//! The stored records of the mass balance (a station's stock, tickets, batches, the chains'
//! totals) and entering a report against them: what both stores do, written once.

use super::{mill_key, Disposal, DispositionEntry, EntryType, Params, Report};
use crate::domain::Invalid;
use serde::{Deserialize, Serialize};

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
        self.totals().stock()
    }

    /// Its figures as [`Totals`] (a station has no mill figures).
    pub fn totals(&self) -> Totals {
        Totals {
            collected: self.collected,
            reused: self.reused,
            baled_boxes: self.baled_boxes,
            baled_g: self.baled_g,
            parcels: self.parcels,
            ..Totals::default()
        }
    }

    /// Adds what a report moves at the station (`delta`'s box and parcel figures).
    fn record(&mut self, delta: &Totals) {
        self.reused += delta.reused;
        self.baled_boxes += delta.baled_boxes;
        self.baled_g += delta.baled_g;
        self.parcels += delta.parcels;
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

/// What a store keeps of an entered report, under its key: the digest of its body (a retry with
/// the same one is a replay, another is a conflict) and where its entry is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Kept {
    pub digest: crate::digest::Digest,
    pub chain: String,
    pub seq: u64,
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

/// What a report taking `boxes` out of stock adds to its chain's totals, schools aside (a
/// school counts once in the whole ledger, which only the store or the verifier knows).
pub fn adds(report: &Report, boxes: u64) -> Totals {
    match report {
        Report::Outgoing {
            parcels,
            reused_boxes,
        } => Totals {
            parcels: *parcels,
            reused: *reused_boxes,
            ..Totals::default()
        },
        Report::Baled { baled_g, .. } => Totals {
            baled_boxes: boxes,
            baled_g: *baled_g,
            ..Totals::default()
        },
        Report::Workbooks { workbooks, .. } => Totals {
            pulp_g: report.pulp_g(),
            workbooks: *workbooks,
            ..Totals::default()
        },
        Report::Donation { workbooks, .. } => Totals {
            donated: *workbooks,
            donations: 1,
            ..Totals::default()
        },
    }
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
pub fn enter(d: &Disposal, st: &Standing, params: &Params) -> Result<Entered, Invalid> {
    let refuse = |code: &'static str, m: String| Err(Invalid::new(code, m));
    let boxes = d.report.boxes_out(params);
    let before = st.stock.stock();
    if boxes > before {
        return refuse(
            "over_stock",
            format!(
                "station {} has {before} boxes in stock on its chain; this report takes out {boxes}",
                d.station
            ),
        );
    }
    let mut totals = adds(&d.report, boxes);
    let mut stock = st.stock.clone();
    stock.record(&totals);
    let mut tickets = Vec::new();
    let mut batch = None;
    match &d.report {
        Report::Outgoing { .. } => {}
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
            for (draw, ticket) in draws.iter().zip(&st.tickets) {
                let Some(t) = ticket else {
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
                tickets.push(Ticket {
                    drawn_g: t.drawn_g + draw.pulp_g,
                    ..t.clone()
                });
            }
            batch = Some(Batch {
                mill: mill.clone(),
                batch: id.clone(),
                station: d.station.clone(),
                pulp_g: totals.pulp_g,
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
            let Some(b) = &st.batch else {
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
            batch = Some(Batch {
                donated: b.donated + workbooks,
                ..b.clone()
            });
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
        v: super::FORMAT_VERSION,
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
