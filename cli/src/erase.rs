//! `greenloop erase`: the operator erases a person's link to their member pseudonym (PIPL
//! art. 47), as the member's integration can with the signed erasure route, and prints the
//! signed receipt for the member to keep (`docs/privacy.md`). The ledger is not touched.

use crate::backend::Backend;
use clap::Args;
use greenloop::domain::{check_id, Subject};
use greenloop::erasure::{erase, Outcome, OPERATOR};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Args)]
pub struct EraseArgs {
    /// The person's platform user id.
    #[arg(long)]
    user: String,
    /// The request's id (the support ticket, say): asked again, the same request prints the
    /// same receipt.
    #[arg(long)]
    request: String,
    /// Also write the receipt to this file, as `greenloop proof check` reads it.
    #[arg(long)]
    save: Option<PathBuf>,
}

/// The subject of `user` under GREENLOOP_PEPPER, which a DynamoDB table requires (it must be
/// the deployment's); the embedded store falls back to the public demo pepper.
pub fn subject(table: Option<&str>, user: &str) -> Result<Subject, String> {
    if table.is_some() && std::env::var_os("GREENLOOP_PEPPER").is_none() {
        return Err(
            "--user on a DynamoDB table needs GREENLOOP_PEPPER, the deployment's pepper".into(),
        );
    }
    if user.is_empty() || user.chars().count() > 128 || user.chars().any(char::is_control) {
        return Err("--user: 1-128 characters, none of them control characters".into());
    }
    Ok(Subject::of(&crate::demo::pepper()?, user))
}

pub async fn run(data: &Path, table: Option<&str>, args: EraseArgs) -> Result<ExitCode, String> {
    check_id("request", &args.request).map_err(|e| format!("--request: {e}"))?;
    let subject = subject(table, &args.user)?;
    let key = crate::demo::receipt_key(table).await?;
    let backend = Backend::open(data, table, true).await?;
    let now = chrono::Utc::now().timestamp();
    let outcome = erase(
        backend.store(),
        &key,
        &subject,
        OPERATOR,
        &args.request,
        now,
    )
    .await
    .map_err(|e| e.to_string())?;
    let receipt = match outcome {
        Outcome::Erased(r) => r,
        Outcome::Replay(r) => {
            eprintln!("request {} was answered before: its receipt", args.request);
            r
        }
        Outcome::Unknown => {
            return Err("no member is known by this user id (never seen, or erased)".into())
        }
    };
    let bundle = serde_json::json!({ "erasure": { "receipt": receipt } });
    let text = serde_json::to_string_pretty(&bundle).expect("a receipt serializes");
    if let Some(path) = &args.save {
        std::fs::write(path, format!("{text}\n"))
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    println!("{text}");
    eprintln!(
        "check it with: greenloop proof check FILE --log-key {}",
        key.public().to_hex()
    );
    Ok(ExitCode::SUCCESS)
}
