//! `greenloop`: simulate a campaign, verify a ledger, export it.
//!
//! Every failure ends as one readable line on stderr and a non-zero exit code: a bad flag, a
//! missing or corrupt database, an unreadable rulebook, a failed verification.

mod backend;
mod demo;
mod proof;
mod register;
mod remote;
mod report;
mod serve;

use backend::Backend;
use clap::{Args, Parser, Subcommand};
use greenloop::catalog::Rules;
use greenloop::checkpoint::{LogKey, PublicKey};
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
        /// A DynamoDB export to S3 (the directory with manifest-summary.json and data/) to
        /// verify instead of a live store.
        #[arg(long, conflicts_with = "url")]
        export: Option<PathBuf>,
        /// A JSON Lines export (`greenloop export`) to verify instead: its chains, entries and
        /// member chains, against --checkpoints.
        #[arg(long, conflicts_with_all = ["url", "export"])]
        jsonl: Option<PathBuf>,
        /// Signed checkpoints you kept, as `greenloop checkpoints` writes them: the ledger must
        /// still match them, even if the log no longer holds them.
        #[arg(long)]
        checkpoints: Option<PathBuf>,
        #[command(flatten)]
        log: LogKeyArg,
    },
    /// Sign a checkpoint of every chain that grew since its last one, with the log key in
    /// GREENLOOP_LOG_KEY (a 64-hex-digit Ed25519 seed).
    Checkpoint,
    /// Print every chain's signed checkpoints as JSON (to keep, and to check an export with).
    Checkpoints {
        /// Base URL of a deployment to ask instead of the local data.
        #[arg(long)]
        url: Option<String>,
        /// Auditor key for --url.
        #[arg(long, env = "GREENLOOP_AUDIT_KEY", hide_env_values = true)]
        key: Option<String>,
    },
    /// Fetch an inclusion, consistency or member proof, check it against the pinned log key,
    /// and optionally save it for an offline check.
    Proof {
        #[command(subcommand)]
        command: proof::ProofCommand,
        /// Base URL of a deployment to ask instead of the local data.
        #[arg(long, global = true)]
        url: Option<String>,
        /// Auditor key for --url.
        #[arg(
            long,
            global = true,
            env = "GREENLOOP_AUDIT_KEY",
            hide_env_values = true
        )]
        key: Option<String>,
        /// Write the proof and its checkpoints to this file (check it later with `proof check`).
        #[arg(long, global = true)]
        save: Option<PathBuf>,
        #[command(flatten)]
        log: LogKeyArg,
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
        #[arg(long, conflicts_with = "auditor", required_unless_present_any = ["auditor", "log"])]
        campus: Option<String>,
        /// Mint an auditor key instead.
        #[arg(long)]
        auditor: bool,
        /// Make a new checkpoint signing key instead: prints the secret seed for
        /// GREENLOOP_LOG_KEY and the public key auditors pin. Nothing is stored.
        #[arg(long, conflicts_with_all = ["campus", "auditor"])]
        log: bool,
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
            url,
            key,
            export,
            jsonl,
            checkpoints,
            log,
        } => {
            let pinned = log.pinned()?;
            let kept = match checkpoints {
                Some(path) => report::read_checkpoints(&path)?,
                None => Vec::new(),
            };
            if let Some(file) = jsonl {
                return report::verify_jsonl(&file, &kept, pinned.as_ref(), json);
            }
            if let Some(dir) = export {
                let snapshot =
                    greenloop::verify::export::Snapshot::read(&dir).map_err(|e| e.to_string())?;
                return report::verify_export(&snapshot, pinned.as_ref(), &kept, json).await;
            }
            if let Some(url) = url {
                let key = key.ok_or("--url needs an auditor key: --key or GREENLOOP_AUDIT_KEY")?;
                let remote = remote::RemoteLedger::new(&url, key)?;
                return report::verify(&remote, pinned.as_ref(), &kept, json).await;
            }
            let backend = Backend::open(&cli.data, table, true).await?;
            report::verify(backend.store(), pinned.as_ref(), &kept, json).await
        }
        Command::Checkpoint => {
            let log_key = greenloop::config::log_key()
                .await
                .map_err(|e| format!("{e} (make a key with greenloop keys --log)"))?;
            let backend = Backend::open(&cli.data, table, true).await?;
            let now = chrono::Utc::now().timestamp();
            let published =
                greenloop::checkpoint::tree::publish_all(backend.store(), &log_key, now)
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
            println!(
                "checkpoints: {} chains, log key {} (public key {})",
                published.len(),
                log_key.public().id(),
                log_key.public().to_hex()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Checkpoints { url, key } => {
            let backend;
            let remote;
            let source: &dyn greenloop::store::LedgerSource = match url {
                Some(url) => {
                    let key =
                        key.ok_or("--url needs an auditor key: --key or GREENLOOP_AUDIT_KEY")?;
                    remote = remote::RemoteLedger::new(&url, key)?;
                    &remote
                }
                None => {
                    backend = Backend::open(&cli.data, table, true).await?;
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
        Command::Proof {
            command,
            url,
            key,
            save,
            log,
        } => {
            let pinned = log
                .pinned()?
                .ok_or("proof needs the log's public key: --log-key or GREENLOOP_LOG_PUBLIC_KEY")?;
            let bundle = match (&command, url) {
                // Offline: the file and the key are all it needs.
                (proof::ProofCommand::Check { file }, _) => proof::read_bundle(file)?,
                (_, Some(url)) => {
                    let key =
                        key.ok_or("--url needs an auditor key: --key or GREENLOOP_AUDIT_KEY")?;
                    let remote = remote::RemoteLedger::new(&url, key)?;
                    proof::Prover::Remote(remote).bundle(&command).await?
                }
                (_, None) => {
                    let backend = Backend::open(&cli.data, table, true).await?;
                    proof::Prover::Local(backend.store())
                        .bundle(&command)
                        .await?
                }
            };
            if let Some(path) = save {
                let text = serde_json::to_string_pretty(&bundle).expect("bundles serialize");
                std::fs::write(&path, text + "\n")
                    .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            }
            match proof::check(&pinned, &bundle) {
                Ok(line) => {
                    println!("{line}");
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    println!("proof: FAILED: {e}");
                    Ok(ExitCode::FAILURE)
                }
            }
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
        Command::Keys { log: true, .. } => {
            let mut seed = [0u8; 32];
            getrandom::fill(&mut seed).map_err(|e| format!("no randomness: {e}"))?;
            let key = LogKey::from_hex(&hex::encode(seed)).expect("32 bytes are a seed");
            println!("GREENLOOP_LOG_KEY={}", hex::encode(seed));
            println!("public key (pin it; publish it): {}", key.public().to_hex());
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
    }
}
