//! `greenloop`: simulate a campaign, verify a ledger, export it.
//!
//! Every failure ends as one readable line on stderr and a non-zero exit code: a bad flag, a
//! missing or corrupt database, an unreadable rulebook, a failed verification.
//!
//! This file holds the command line and the options several commands share; each command's
//! work is in the module named after it (`demo`, `verify`, `checkpoint`, ...).

mod affiliate;
mod backend;
mod checkpoint;
mod demo;
mod erase;
mod figures;
mod keys;
mod proof;
mod quarantine;
mod register;
mod remote;
mod report;
mod requantify;
mod serve;
mod verify;

use backend::Backend;
use clap::{Args, Parser, Subcommand};
use greenloop::catalog::Rules;
use greenloop::checkpoint::PublicKey;
use greenloop::factors::FactorTable;
use greenloop::rulebook::Rulebook;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "greenloop",
    version,
    about = "Greenloop: recycling bonuses on a verifiable ledger"
)]
struct Cli {
    /// Data directory holding the embedded database.
    #[arg(
        long,
        global = true,
        env = "GREENLOOP_DATA",
        default_value = "greenloop-data"
    )]
    data: PathBuf,
    /// Use this DynamoDB table instead of the embedded store; endpoint and region come from the
    /// standard AWS configuration (e.g. AWS_ENDPOINT_URL_DYNAMODB for DynamoDB Local).
    #[arg(long, global = true, env = "GREENLOOP_TABLE")]
    table: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Simulate a Double 11 campaign on the embedded store and print a summary.
    Demo(demo::DemoArgs),
    /// Verify the ledger in the data directory, or a deployment's through its audit API.
    Verify(verify::VerifyArgs),
    /// Sign checkpoints of the chains (`sign`), or print the signed ones (`list`).
    Checkpoint {
        #[command(subcommand)]
        command: checkpoint::CheckpointCommand,
    },
    /// Fetch an inclusion, consistency or member proof, check it against the pinned log key,
    /// and optionally save it for an offline check.
    Proof(proof::ProofArgs),
    /// Serve the HTTP API on the embedded store, crediting in-process.
    Serve(serve::ServeArgs),
    /// Mint an API key (a campus portal's or an auditor's, optionally expiring), revoke one by
    /// its id, or list them. A key is shown once; only its id, hash and grant are stored.
    Keys(keys::KeysArgs),
    /// Write every ledger entry as JSON Lines to stdout, in (chain, seq) order.
    Export,
    /// Create the DynamoDB table named by --table, with its indexes and stream.
    CreateTable,
    /// List the actions crediting quarantined (`list`), or put them back in the queue after a
    /// fix (`retry ID...`).
    Quarantine {
        #[command(subcommand)]
        command: quarantine::QuarantineCommand,
    },
    /// Set a member's campus as the operator, moving them from another campus if need be (a
    /// portal can only enrol a member with no campus).
    Affiliate(affiliate::AffiliateArgs),
    /// Publish a new carbon factor table, put it in force for crediting, and append a correction
    /// entry for every credited entry whose grams it moves; run again, it appends nothing.
    Requantify(requantify::RequantifyArgs),
    /// Erase a person's link to their member pseudonym (PIPL art. 47) and print the signed
    /// receipt; their pseudonymous entries stay in the ledger.
    Erase(erase::EraseArgs),
    /// Print the campaign's figures: what became of the collected boxes (`disposition`).
    Report {
        #[command(subcommand)]
        command: figures::ReportCommand,
    },
    /// Register campuses and post stations from a JSON file (see infra/registry.example.json).
    Register {
        /// The registry file.
        file: PathBuf,
    },
}

/// The log's public key, pinned by whoever checks its checkpoints.
#[derive(Args, Clone)]
pub struct LogKeyArg {
    /// The log's Ed25519 public key, 64 hex digits, as published by the operator.
    #[arg(long = "log-key", global = true, env = "GREENLOOP_LOG_PUBLIC_KEY")]
    log_key: Option<String>,
}

impl LogKeyArg {
    fn pinned(&self) -> Result<Option<PublicKey>, String> {
        self.log_key
            .as_deref()
            .map(|k| PublicKey::from_hex(k).map_err(|e| format!("--log-key: {e}")))
            .transpose()
    }
}

/// Rulebook and factor table files, for the commands that credit.
#[derive(Args, Clone)]
pub struct RuleFiles {
    /// A rulebook JSON file (default: the built-in Double 11 2026 rulebook).
    #[arg(long)]
    rulebook: Option<PathBuf>,
    /// A carbon factor table JSON file (default: the built-in 2026 table).
    #[arg(long)]
    factors: Option<PathBuf>,
}

impl RuleFiles {
    pub fn load(&self) -> Result<Rules, String> {
        let mut rules = Rules::defaults();
        if let Some(p) = &self.rulebook {
            rules.rulebook = Rulebook::from_json(&read(p, "rulebook")?)
                .map_err(|e| format!("rulebook {}: {e}", p.display()))?;
        }
        if let Some(p) = &self.factors {
            rules.factors = FactorTable::from_json(&read(p, "factor table")?)
                .map_err(|e| format!("factor table {}: {e}", p.display()))?;
        }
        Ok(rules)
    }
}

fn read(path: &Path, what: &str) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {what} {}: {e}", path.display()))
}

fn main() -> ExitCode {
    // A bug must still end as one line, not a backtrace.
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        eprintln!("greenloop: internal error: {msg}");
    }));
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            let _ = e.print(); // --help, --version
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            // clap's message is its first paragraph (a list of missing arguments continues
            // it on the next lines); usage and tips follow a blank line.
            let text = e.render().to_string();
            let message = text
                .lines()
                .take_while(|l| !l.trim().is_empty())
                .map(str::trim)
                .collect::<Vec<_>>()
                .join(" ");
            let message = message.trim_start_matches("error: ");
            let message = if message.is_empty() {
                "invalid arguments"
            } else {
                message
            };
            eprintln!("greenloop: {message} (see greenloop --help)");
            return ExitCode::from(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("greenloop: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Hands the command to its function: the module named after it, or below for the small ones.
async fn run(cli: Cli) -> Result<ExitCode, String> {
    let (data, table) = (cli.data.as_path(), cli.table.as_deref());
    match cli.command {
        Command::Demo(args) => demo::run(data, table, args).await,
        Command::Verify(args) => verify::run(data, table, args).await,
        Command::Checkpoint { command } => checkpoint::run(data, table, command).await,
        Command::Proof(args) => proof::run(data, table, args).await,
        Command::Serve(args) => serve::run(data, table, args).await,
        Command::Keys(args) => keys::run(data, table, args).await,
        Command::Export => export(data, table).await,
        Command::CreateTable => create_table(table).await,
        Command::Quarantine { command } => quarantine::run(data, table, command).await,
        Command::Register { file } => register::run(data, table, &file).await,
        Command::Report { command } => {
            let backend = Backend::open(data, table, true).await?;
            figures::run(&backend, command).await
        }
        Command::Affiliate(args) => affiliate::run(data, table, args).await,
        Command::Erase(args) => erase::run(data, table, args).await,
        Command::Requantify(args) => requantify::run(data, table, args).await,
    }
}

/// `greenloop export`: every entry as JSON Lines on stdout. A closed pipe (`| head`) is not an
/// error.
async fn export(data: &Path, table: Option<&str>) -> Result<ExitCode, String> {
    let backend = Backend::open(data, table, true).await?;
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout());
    match greenloop::verify::export_store(backend.store(), &mut out).await {
        Ok(_) => Ok(ExitCode::SUCCESS),
        Err(greenloop::verify::ExportError::Io(e))
            if e.kind() == std::io::ErrorKind::BrokenPipe =>
        {
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Err(e.to_string()),
    }
}

/// `greenloop create-table`: the DynamoDB table named by --table.
async fn create_table(table: Option<&str>) -> Result<ExitCode, String> {
    let table = table.ok_or("create-table needs --table NAME (or GREENLOOP_TABLE)")?;
    let store = greenloop::store::dynamodb::DynamoStore::from_env(table).await;
    store.create_table().await.map_err(|e| e.to_string())?;
    println!("created DynamoDB table {table}");
    Ok(ExitCode::SUCCESS)
}
