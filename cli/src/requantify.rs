//! `greenloop requantify --factors FILE`: publishes a new factor table, puts it in force for
//! crediting, and appends a correction entry for every credited entry whose grams it moves (`docs/ledger-format.md` §13). Idempotent
//! and resumable: run again, or after a crash half way, it corrects each entry exactly once.
//! Points are never requantified.

use crate::backend::Backend;
use crate::report::kg;
use clap::Args;
use greenloop::catalog::Rules;
use greenloop::factors::FactorTable;
use greenloop::requantify::requantify;
use greenloop::rulebook::Rulebook;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Args)]
pub struct RequantifyArgs {
    /// The new carbon factor table (a new version name: a published version never changes).
    #[arg(long)]
    factors: PathBuf,
    /// The rulebook published with it (default: the built-in Double 11 2026 rulebook). Points
    /// are never requantified; it is published only so that both versions are in the catalog.
    #[arg(long)]
    rulebook: Option<PathBuf>,
}

pub async fn run(
    data: &Path,
    table: Option<&str>,
    args: RequantifyArgs,
) -> Result<ExitCode, String> {
    let mut rules = Rules::defaults();
    rules.factors = FactorTable::from_json(&crate::read(&args.factors, "factor table")?)
        .map_err(|e| format!("factor table {}: {e}", args.factors.display()))?;
    if let Some(p) = &args.rulebook {
        rules.rulebook = Rulebook::from_json(&crate::read(p, "rulebook")?)
            .map_err(|e| format!("rulebook {}: {e}", p.display()))?;
    }
    let backend = Backend::open(data, table, true).await?;
    let now = chrono::Utc::now().timestamp();
    let done = requantify(backend.store(), &rules, now)
        .await
        .map_err(|e| e.to_string())?;
    println!(
        "requantified to {} over {} chains: {} entries corrected, {:+} g CO2e ({}); {} already counted under it, {} not moved by it; it is in force for crediting",
        rules.factors.version,
        done.chains,
        done.corrected,
        done.delta_g,
        kg(done.delta_g),
        done.current,
        done.unmoved
    );
    Ok(ExitCode::SUCCESS)
}
