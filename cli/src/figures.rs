//! `greenloop report`: the campaign's figures as the operator and the brand team read them,
//! from the store's running totals (one read per chain or per station), never by summing
//! entries. `disposition` prints what became of the collected boxes: nationwide, or for one
//! station.

use crate::backend::Backend;
use crate::report::{group, kg};
use clap::Subcommand;
use greenloop::disposition::Totals;
use greenloop::http::audit::{Disposition, StationDisposition};
use greenloop::store::Store;
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum ReportCommand {
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
            print_boxes(&Totals {
                collected: s.collected,
                reused: s.reused,
                baled_boxes: s.baled_boxes,
                baled_g: s.baled_g,
                parcels: s.parcels,
                ..Totals::default()
            });
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

/// Basis points as a percentage with two decimals, exactly.
fn rate(bp: Option<u64>) -> String {
    match bp {
        Some(bp) => format!("{}.{:02}%", bp / 100, bp % 100),
        None => "none reported".into(),
    }
}
