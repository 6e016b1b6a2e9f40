//! `greenloop quarantine`: the operator's view of the actions crediting set aside (`list`), and
//! putting them back in the queue once the cause is fixed (`retry`). Both work on the embedded
//! store and on a DynamoDB table (`--table`). See `docs/reliability.md`.

use crate::backend::Backend;
use clap::Subcommand;
use greenloop::store::{Requeued, StoreError};
use std::path::Path;
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum QuarantineCommand {
    /// Print every quarantined action: its key (`<integration>/<id>`), reason code, when, and
    /// what was seen.
    List {
        /// Print JSON Lines, one quarantined action per line.
        #[arg(long)]
        json: bool,
    },
    /// Put quarantined actions back in the pending queue, after a fix; crediting takes them
    /// on its next run. Running it twice is harmless.
    Retry {
        /// Action keys, `<integration>/<id>`, as `list` prints them.
        #[arg(required = true)]
        ids: Vec<String>,
    },
}

/// Quarantined actions read per page.
const PAGE: usize = 500;

pub async fn run(
    data: &Path,
    table: Option<&str>,
    command: QuarantineCommand,
) -> Result<ExitCode, String> {
    let backend = Backend::open(data, table, true).await?;
    let store = backend.store();
    match command {
        QuarantineCommand::List { json } => {
            let mut after: Option<String> = None;
            let mut total = 0usize;
            loop {
                let page = store
                    .quarantined(after.as_deref(), PAGE)
                    .await
                    .map_err(|e| e.to_string())?;
                for q in &page {
                    if json {
                        println!("{}", serde_json::to_string(q).expect("JSON"));
                    } else {
                        let at = chrono::DateTime::from_timestamp_millis(q.at_ms)
                            .map_or_else(|| q.at_ms.to_string(), |t| t.to_rfc3339());
                        println!("{}\t{}\t{}\t{}", q.action, q.reason, at, q.message);
                    }
                }
                total += page.len();
                match page.last() {
                    Some(last) if page.len() == PAGE => after = Some(last.action.clone()),
                    _ => break,
                }
            }
            if !json {
                eprintln!("{total} quarantined in {}", backend.location());
            }
            Ok(ExitCode::SUCCESS)
        }
        QuarantineCommand::Retry { ids } => {
            for id in &ids {
                let done = store.requeue(id).await.map_err(|e| match e {
                    StoreError::NotFound(_) => format!("no action {id} in {}", backend.location()),
                    other => other.to_string(),
                })?;
                match done {
                    Requeued::Requeued => println!("{id}: back in the queue"),
                    Requeued::AlreadyPending => println!("{id}: already pending"),
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
