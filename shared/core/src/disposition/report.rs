//! What a station reports, and the checks a report passes on its own: ids, bounds, and what
//! needs no stored state (reuse within parcels, workbooks within what the pulp can make).

use super::Params;
use crate::digest::{leaf_hash, Digest};
use crate::domain::{check_id, Invalid, MAX_SAFE_INT};
use serde::{Deserialize, Serialize};

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
        validate_parts(
            &self.id,
            &self.integration,
            &self.station,
            self.at,
            &self.report,
            params,
        )
    }
}

/// [`Disposal::validate`] on its parts, which an entry carries too.
pub(super) fn validate_parts(
    id: &str,
    integration: &str,
    station: &str,
    at: i64,
    report: &Report,
    params: &Params,
) -> Result<(), Invalid> {
    check_id("report", id)?;
    check_id("integration", integration)?;
    check_id("station", station)?;
    if at < 0 || at as u64 > MAX_SAFE_INT {
        return Err(Invalid::new("bad_time", "report time is out of range"));
    }
    report.validate(params)
}
