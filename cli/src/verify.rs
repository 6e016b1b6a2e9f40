//! `greenloop verify`: chooses what to verify (the local store, a deployment's audit API, a
//! DynamoDB export or a JSON Lines export) and the kept checkpoints to hold it to; `report`
//! runs the verifier and prints what it found.

use crate::backend::Backend;
use crate::{remote, report, LogKeyArg};
use clap::Args;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Args)]
pub struct VerifyArgs {
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// Base URL of a deployment to verify instead of the local data.
    #[arg(long)]
    url: Option<String>,
    /// Auditor key for --url.
    #[arg(long, env = "GREENLOOP_AUDIT_KEY", hide_env_values = true)]
    key: Option<String>,
    /// A DynamoDB export to S3 (the directory with manifest-summary.json and data/) to
    /// verify instead of a live store.
    #[arg(long, conflicts_with = "url")]
    export: Option<PathBuf>,
    /// A JSON Lines export (`greenloop export`) to verify instead: its chains, entries and
    /// member chains, against --checkpoints.
    #[arg(long, conflicts_with_all = ["url", "export"])]
    jsonl: Option<PathBuf>,
    /// Signed checkpoints you kept, as `greenloop checkpoint list` writes them: the ledger must
    /// still match them, even if the log no longer holds them.
    #[arg(long)]
    checkpoints: Option<PathBuf>,
    /// How long the oldest pending action may wait, in seconds, before crediting counts as
    /// stuck (exit 3). The sweep runs every 5 minutes.
    #[arg(long, default_value_t = 600)]
    max_pending_age: i64,
    #[command(flatten)]
    log: LogKeyArg,
}

pub async fn run(data: &Path, table: Option<&str>, args: VerifyArgs) -> Result<ExitCode, String> {
    let pinned = args.log.pinned()?;
    let kept = match args.checkpoints {
        Some(path) => report::read_checkpoints(&path)?,
        None => Vec::new(),
    };
    if let Some(file) = args.jsonl {
        return report::verify_jsonl(&file, &kept, pinned.as_ref(), args.json);
    }
    if let Some(dir) = args.export {
        let snapshot =
            greenloop::verify::export::Snapshot::read(&dir).map_err(|e| e.to_string())?;
        return report::verify_export(
            &snapshot,
            pinned.as_ref(),
            &kept,
            args.json,
            args.max_pending_age,
        )
        .await;
    }
    if let Some(url) = args.url {
        let remote = remote::connect(&url, args.key)?;
        return report::verify(
            &remote,
            pinned.as_ref(),
            &kept,
            args.json,
            args.max_pending_age,
        )
        .await;
    }
    let backend = Backend::open(data, table, true).await?;
    report::verify(
        backend.store(),
        pinned.as_ref(),
        &kept,
        args.json,
        args.max_pending_age,
    )
    .await
}
