//! `greenloop report`: the campaign's figures as the operator and the brand team read them,
//! `disposition` prints what became of the collected boxes, nationwide or for one station, from
//! the store's running totals (one read per chain or per station); `brands` prints the brand
//! team's ranking, summed from every entry (a pass over the ledger: an operator's report).

use crate::backend::Backend;
use crate::report::{group, kg};
use clap::Subcommand;
use greenloop::brand::{Attributed, Ranked, Team};
use greenloop::disposition::Totals;
use greenloop::http::audit::{Disposition, StationDisposition};
use greenloop::ledger::Leaf;
use greenloop::store::Store;
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum ReportCommand {
    /// The Domestic Brands Green Decrement Team: every brand named by a drop-off, with its
    /// boxes returned, points credited because of it, CO2e and members reached, most boxes
    /// first. Read from every entry (a pass over the ledger).
    Brands {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        /// Partner brands only.
        #[arg(long)]
        partners: bool,
    },
    /// Grams of CO2e as first reported (the credit entries) and as requantified (with every
    /// correction entry), with the version trail: corrections per pair of factor versions.
    /// Read from every entry (a pass over the ledger).
    Carbon {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Boxes collected, reused, baled and in stock, the reuse rate of outgoing parcels, and
    /// the workbooks made from the pulp and donated: nationwide, or for one station.
    Disposition {
        /// One station's figures instead of the nation's.
        #[arg(long)]
        station: Option<String>,
        /// Print JSON (the audit API's body) instead of text.
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(backend: &Backend, command: ReportCommand) -> Result<ExitCode, String> {
    let store = backend.store();
    match command {
        ReportCommand::Brands { json, partners } => {
            let (ranking, _) = team(store).await?;
            let rows: Vec<_> = ranking
                .into_iter()
                .filter(|r| r.partner || !partners)
                .collect();
            if json {
                println!("{}", serde_json::to_string_pretty(&rows).expect("JSON"));
            } else {
                print_team(&rows);
            }
        }
        ReportCommand::Carbon { json } => {
            let c = carbon(store).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&c).expect("JSON"));
            } else {
                println!(
                    "carbon, as first reported: {} ({} credit entries)",
                    kg(c.first_reported_g),
                    group(c.entries as i64)
                );
                for t in &c.trail {
                    println!(
                        "  requantified {} -> {}: {} corrections, {:+} g ({})",
                        t.from,
                        t.to,
                        group(t.corrections as i64),
                        t.delta_g,
                        kg(t.delta_g)
                    );
                }
                println!("carbon, as requantified: {}", kg(c.requantified_g));
            }
        }
        ReportCommand::Disposition { station, json } => {
            disposition(store, station, json).await?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn disposition(store: &dyn Store, station: Option<String>, json: bool) -> Result<(), String> {
    let err = |e: greenloop::store::StoreError| e.to_string();
    match station {
        Some(id) => {
            greenloop::domain::check_id("station", &id).map_err(|e| e.to_string())?;
            let rows = store.station_stock(&id).await.map_err(err)?;
            if rows.is_empty() && store.station(&id).await.map_err(err)?.is_none() {
                return Err(format!("station {id} is not registered"));
            }
            let s = StationDisposition::of(id, rows);
            if json {
                println!("{}", serde_json::to_string_pretty(&s).expect("JSON"));
                return Ok(());
            }
            println!("Station {}", s.station);
            let mut t = Totals::default();
            s.chains.iter().for_each(|c| t.add(&c.totals()));
            print_boxes(&t);
        }
        None => {
            let d = Disposition::of(store.disposition_totals().await.map_err(err)?);
            if json {
                println!("{}", serde_json::to_string_pretty(&d).expect("JSON"));
                return Ok(());
            }
            println!("Packaging's second life (all stations)");
            print_totals(&d.totals);
        }
    }
    Ok(())
}

/// The national block, shared with the demo's summary.
pub fn print_totals(t: &Totals) {
    print_boxes(t);
    println!(
        "  workbooks  {} made from {} of pulp; {} donated in {} donations, {} schools reached",
        group(t.workbooks as i64),
        kg(t.pulp_g as i64),
        group(t.donated as i64),
        group(t.donations as i64),
        group(t.schools as i64)
    );
}

/// Boxes and outgoing parcels: a station's figures, or the first lines of the nation's.
fn print_boxes(t: &Totals) {
    println!(
        "  boxes      {} collected, {} reused, {} baled ({}), {} in stock",
        group(t.collected as i64),
        group(t.reused as i64),
        group(t.baled_boxes as i64),
        kg(t.baled_g as i64),
        group(t.stock() as i64)
    );
    println!(
        "  outgoing   {} parcels, {} in recycled boxes: reuse rate {}",
        group(t.parcels as i64),
        group(t.reused as i64),
        rate(t.reuse_rate_bp())
    );
}

/// The ledger's grams both ways, and the trail of versions between them.
#[derive(serde::Serialize)]
pub struct Carbon {
    pub entries: u64,
    pub first_reported_g: i64,
    pub trail: Vec<Trail>,
    pub requantified_g: i64,
}

/// The corrections from one factor version to another.
#[derive(serde::Serialize)]
pub struct Trail {
    pub from: String,
    pub to: String,
    pub corrections: u64,
    pub delta_g: i64,
}

/// [`Carbon`] from every entry of every chain.
pub async fn carbon(store: &dyn Store) -> Result<Carbon, String> {
    let (mut entries, mut first) = (0u64, 0i64);
    let mut trail: std::collections::BTreeMap<(String, String), (u64, i64)> = Default::default();
    each_leaf(store, |leaf| {
        match leaf? {
            Leaf::Credit(e) => {
                entries += 1;
                first += e.co2e_g;
            }
            Leaf::Correction(c) => {
                let t = trail.entry((c.from.clone(), c.to.clone())).or_default();
                t.0 += 1;
                t.1 += c.co2e_g;
            }
            Leaf::Disposition(_) => {}
        }
        Ok(())
    })
    .await?;
    let trail: Vec<Trail> = trail
        .into_iter()
        .map(|((from, to), (corrections, delta_g))| Trail {
            from,
            to,
            corrections,
            delta_g,
        })
        .collect();
    let requantified_g = first + trail.iter().map(|t| t.delta_g).sum::<i64>();
    Ok(Carbon {
        entries,
        first_reported_g: first,
        trail,
        requantified_g,
    })
}

/// The team ranking from every entry of every chain, under the versions each names; and the
/// number of entries read.
pub async fn team(store: &dyn Store) -> Result<(Vec<Ranked>, u64), String> {
    let catalog = store.catalog().await.map_err(|e| e.to_string())?;
    let mut team = Team::default();
    let read = each_leaf(store, |leaf| {
        // Credit entries and their corrections, under the versions they name.
        if let Ok(Ok(Some(a))) = leaf.as_ref().map(|l| Attributed::of(l, &catalog)) {
            team.add_shares(&a.credit.member, a.shares);
        }
        Ok(())
    })
    .await?;
    let ranking = team.ranking(|b| catalog.rulebooks().any(|rb| rb.is_partner(b)));
    Ok((ranking, read))
}

/// Calls `each` on every stored entry of every chain, read in pages, in (chain, seq) order;
/// the number of entries read.
async fn each_leaf(
    store: &dyn Store,
    mut each: impl FnMut(Result<Leaf, String>) -> Result<(), String>,
) -> Result<u64, String> {
    let err = |e: greenloop::store::StoreError| e.to_string();
    let mut read = 0;
    for head in store.chain_heads().await.map_err(err)? {
        let mut seq = 0;
        while seq < head.size {
            let page = store.entries(&head.chain, seq, 1_000).await.map_err(err)?;
            if page.is_empty() {
                break;
            }
            seq += page.len() as u64;
            for bytes in page {
                read += 1;
                let leaf = Leaf::read(&bytes).map(|(leaf, _)| leaf);
                each(leaf.map_err(|e| format!("chain {} seq {}: {e}", head.chain, seq)))?;
            }
        }
    }
    Ok(read)
}

/// The team ranking as text.
pub fn print_team(rows: &[Ranked]) {
    for r in rows {
        println!(
            "  {:>2}. {:<12} {:>9} boxes {:>11} points {:>13} {:>7} members{}",
            r.rank,
            r.brand,
            group(r.figures.boxes as i64),
            group(r.figures.points),
            kg(r.figures.co2e_g),
            group(r.members as i64),
            if r.partner { "" } else { "  (not a partner)" }
        );
    }
}

/// Basis points as a percentage with two decimals, exactly.
fn rate(bp: Option<u64>) -> String {
    match bp {
        Some(bp) => format!("{}.{:02}%", bp / 100, bp % 100),
        None => "none reported".into(),
    }
}
