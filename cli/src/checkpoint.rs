//! `greenloop checkpoint sign` and `greenloop checkpoint list`: the operator signs each chain's
//! Merkle root, and an auditor keeps a copy of what was signed.

use crate::backend::Backend;
use crate::{remote, report};
use clap::Subcommand;
use greenloop::store::LedgerSource;
use std::path::Path;
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum CheckpointCommand {
    /// Sign a checkpoint of every chain that grew since its last one, with the log key in
    /// GREENLOOP_LOG_KEY (a 64-hex-digit Ed25519 seed).
    Sign,
    /// Print every chain's signed checkpoints as JSON (to keep, and to check an export with).
    List {
        /// Base URL of a deployment to ask instead of the local data.
        #[arg(long)]
        url: Option<String>,
        /// Auditor key for --url.
        #[arg(long, env = "GREENLOOP_AUDIT_KEY", hide_env_values = true)]
        key: Option<String>,
    },
}

pub async fn run(
    data: &Path,
    table: Option<&str>,
    command: CheckpointCommand,
) -> Result<ExitCode, String> {
    match command {
        CheckpointCommand::Sign => sign(data, table).await,
        CheckpointCommand::List { url, key } => list(data, table, url, key).await,
    }
}

/// Signs every chain that grew, and prints one line per chain.
async fn sign(data: &Path, table: Option<&str>) -> Result<ExitCode, String> {
    let log_key = greenloop::config::log_key()
        .await
        .map_err(|e| format!("{e} (make a key with greenloop keys --log)"))?;
    let backend = Backend::open(data, table, true).await?;
    let now = chrono::Utc::now().timestamp();
    let published = greenloop::checkpoint::tree::publish_all(backend.store(), &log_key, now)
        .await
        .map_err(|e| e.to_string())?;
    for p in &published {
        let c = &p.checkpoint.checkpoint;
        println!(
            "  {:<10} {:>9} entries  root {}  {}",
            c.chain,
            report::group(c.size as i64),
            c.root.short(),
            match p.entries {
                0 => "unchanged".to_owned(),
                n => format!("signed, {} new", report::group(n as i64)),
            }
        );
    }
    let shares = fold_brands(backend.store()).await?;
    println!(
        "brand figures: {} shares folded in",
        report::group(shares as i64)
    );
    println!(
        "checkpoints: {} chains, log key {} (public key {})",
        published.len(),
        log_key.public().id(),
        log_key.public().to_hex()
    );
    Ok(ExitCode::SUCCESS)
}

/// Folds every chain's newly checkpointed entries into the brand figures (as the checkpoint
/// function does after signing): the shares folded in; an error naming each chain that
/// stopped short, once every other chain is folded.
pub async fn fold_brands(store: &dyn greenloop::store::Store) -> Result<usize, String> {
    let folded = greenloop::checkpoint::brand::fold_all(store)
        .await
        .map_err(|e| e.to_string())?;
    let stopped: Vec<String> = folded
        .iter()
        .filter_map(|f| {
            Some(format!(
                "chain {} at seq {}: {}",
                f.chain,
                f.to.seq,
                f.stopped.as_ref()?
            ))
        })
        .collect();
    if !stopped.is_empty() {
        return Err(format!(
            "brand figures stopped short on {}",
            stopped.join("; ")
        ));
    }
    Ok(folded.iter().map(|f| f.shares).sum())
}

/// Prints every chain's signed checkpoints, from the local store or a deployment.
async fn list(
    data: &Path,
    table: Option<&str>,
    url: Option<String>,
    key: Option<String>,
) -> Result<ExitCode, String> {
    let backend;
    let remote;
    let source: &dyn LedgerSource = match url {
        Some(url) => {
            remote = remote::connect(&url, key)?;
            &remote
        }
        None => {
            backend = Backend::open(data, table, true).await?;
            backend.store()
        }
    };
    let mut all = Vec::new();
    for head in source.chain_heads().await.map_err(|e| e.to_string())? {
        all.extend(
            source
                .checkpoints(&head.chain)
                .await
                .map_err(|e| e.to_string())?,
        );
    }
    println!(
        "{}",
        serde_json::to_string_pretty(&all).expect("checkpoints serialize")
    );
    Ok(ExitCode::SUCCESS)
}
