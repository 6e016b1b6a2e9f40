//! `greenloop`: simulate a campaign, verify a ledger, export it.
//!
//! Every failure ends as one readable line on stderr and a non-zero exit code: a bad flag, a
//! missing or corrupt database, an unreadable rulebook, a failed verification.

mod backend;
mod demo;
mod register;
mod remote;
mod report;
mod serve;

use backend::Backend;
use clap::{Args, Parser, Subcommand};
use greenloop::catalog::Rules;
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
    Verify {
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        /// Base URL of a deployment to verify instead of the local data.
        #[arg(long)]
        url: Option<String>,
        /// Auditor key for --url.
        #[arg(long, env = "GREENLOOP_AUDIT_KEY", hide_env_values = true)]
        key: Option<String>,
    },
    /// Serve the HTTP API on the embedded store, crediting in-process.
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: std::net::SocketAddr,
        /// Number of ledger chains.
        #[arg(long, env = "GREENLOOP_SHARDS", default_value_t = greenloop::config::DEFAULT_SHARDS)]
        shards: u32,
    },
    /// Mint an API key: a campus portal's, or an auditor's. The key is shown once; only its
    /// hash is stored.
    Keys {
        /// The campus this portal key is for.
        #[arg(long, conflicts_with = "auditor", required_unless_present = "auditor")]
        campus: Option<String>,
        /// Mint an auditor key instead.
        #[arg(long)]
        auditor: bool,
    },
    /// Write every ledger entry as JSON Lines to stdout, in (chain, seq) order.
    Export,
    /// Create the DynamoDB table named by --table, with its indexes and stream.
    CreateTable,
    /// Register campuses and post stations from a JSON file (see infra/registry.example.json).
    Register {
        /// The registry file.
        file: PathBuf,
    },
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
            let text = e.render().to_string();
            let first = text
                .lines()
                .next()
                .unwrap_or("invalid arguments")
                .trim_start_matches("error: ");
            eprintln!("greenloop: {first} (see greenloop --help)");
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

async fn run(cli: Cli) -> Result<ExitCode, String> {
    let table = cli.table.as_deref();
    match cli.command {
        Command::Demo(args) => demo::run(&cli.data, table, args).await,
        Command::Verify {
            json,
            url: Some(url),
            key,
        } => {
            let key = key.ok_or("--url needs an auditor key: --key or GREENLOOP_AUDIT_KEY")?;
            report::verify(&remote::RemoteLedger::new(&url, key)?, json).await
        }
        Command::Verify { json, .. } => {
            let backend = Backend::open(&cli.data, table, true).await?;
            report::verify(backend.store(), json).await
        }
        Command::Serve { addr, shards } => {
            greenloop::config::init_json_logs();
            let pepper = demo::pepper()?;
            let integrations = greenloop::config::integrations().map_err(|e| e.to_string())?;
            if !(1..=100).contains(&shards) {
                return Err("--shards must be 1 to 100".into());
            }
            let store = Backend::open(&cli.data, table, false).await?.into_shared();
            serve::serve(store, pepper, integrations, Rules::defaults(), shards, addr).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Keys { campus, .. } => {
            let backend = Backend::open(&cli.data, table, false).await?;
            let grant = match campus {
                Some(campus) => greenloop::store::Grant::Campus { campus },
                None => greenloop::store::Grant::Auditor,
            };
            println!("{}", serve::mint(backend.store(), grant).await?);
            Ok(ExitCode::SUCCESS)
        }
        Command::CreateTable => {
            let table = table.ok_or("create-table needs --table NAME (or GREENLOOP_TABLE)")?;
            let store = greenloop::store::dynamodb::DynamoStore::from_env(table).await;
            store.create_table().await.map_err(|e| e.to_string())?;
            println!("created DynamoDB table {table}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Register { file } => {
            let backend = Backend::open(&cli.data, table, false).await?;
            println!("{}", register::register(backend.store(), &file).await?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Export => {
            let backend = Backend::open(&cli.data, table, true).await?;
            let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout());
            match greenloop::audit::export_store(backend.store(), &mut out).await {
                Ok(_) => Ok(ExitCode::SUCCESS),
                Err(greenloop::audit::ExportError::Io(e))
                    if e.kind() == std::io::ErrorKind::BrokenPipe =>
                {
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => Err(e.to_string()),
            }
        }
    }
}
