//! `greenloop proof`: fetch a checkpoint's proof from a deployment (or the local store), check
//! it with the shared verifier against the pinned log key, and keep it as a bundle that
//! `greenloop proof check` verifies again offline, with nothing but the file and the key.

use crate::backend::Backend;
use crate::remote::{self, RemoteLedger};
use crate::LogKeyArg;
use clap::{Args, Subcommand};
pub use greenloop::bundle::{check, Bundle};
use greenloop::checkpoint::tree;
use greenloop::checkpoint::SignedCheckpoint;
use greenloop::domain::MemberId;
use greenloop::store::Store;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Args)]
pub struct ProofArgs {
    #[command(subcommand)]
    command: ProofCommand,
    /// Base URL of a deployment to ask instead of the local data.
    #[arg(long, global = true)]
    url: Option<String>,
    /// API key for --url: an auditor's, or for `proof brand` the brand's own.
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
}

/// Gets the bundle (fetched, or read for `proof check`), saves it if asked, and checks it.
pub async fn run(data: &Path, table: Option<&str>, args: ProofArgs) -> Result<ExitCode, String> {
    let pinned = args
        .log
        .pinned()?
        .ok_or("proof needs the log's public key: --log-key or GREENLOOP_LOG_PUBLIC_KEY")?;
    let command = &args.command;
    let bundle = match (command, args.url) {
        // Offline: the file and the key are all it needs.
        (ProofCommand::Check { file }, _) => read_bundle(file)?,
        (_, Some(url)) => {
            let remote = remote::connect(&url, args.key)?;
            Prover::Remote(remote).bundle(command).await?
        }
        (_, None) => {
            let backend = Backend::open(data, table, true).await?;
            Prover::Local(backend.store()).bundle(command).await?
        }
    };
    if let Some(path) = args.save {
        let text = serde_json::to_string_pretty(&bundle).expect("bundles serialize");
        std::fs::write(&path, text + "\n")
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    match check(&pinned, &bundle) {
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

#[derive(Subcommand)]
pub enum ProofCommand {
    /// Prove that one entry is in a checkpoint of its chain.
    Inclusion {
        #[arg(long)]
        chain: String,
        #[arg(long)]
        seq: u64,
        /// The checkpoint's size (default: the chain's latest checkpoint).
        #[arg(long)]
        size: Option<u64>,
    },
    /// Prove that a later checkpoint extends an earlier one.
    Consistency {
        #[arg(long)]
        chain: String,
        /// The earlier checkpoint's size (its checkpoint is fetched).
        #[arg(long, required_unless_present = "since", conflicts_with = "since")]
        first: Option<u64>,
        /// A checkpoints file you kept (`greenloop checkpoint list > FILE`): the earlier checkpoint
        /// is this chain's there, as kept, so a log that signed another one is caught.
        #[arg(long)]
        since: Option<PathBuf>,
        /// The later checkpoint's size (default: the latest).
        #[arg(long)]
        second: Option<u64>,
    },
    /// A member's whole history, each entry proven, adding up to their account.
    Statement {
        /// The member's pseudonym (64 hex digits).
        #[arg(long)]
        member: String,
    },
    /// A partner brand's statement: every checkpointed entry naming the brand, each proven,
    /// and its boxes, points and CO2e by day and campus. With --url, the deployment's stored
    /// statement (the brand's own key reads it); otherwise recomputed from the local store (or
    /// --table), as of each chain's latest checkpoint, for any brand.
    Brand {
        /// The brand's id, as the rulebook and the lots name it.
        #[arg(long)]
        brand: String,
    },
    /// Check a saved bundle offline.
    Check {
        /// A file written by --save.
        file: PathBuf,
    },
}

/// Where proofs come from: a deployment's audit API, or the local store.
pub enum Prover<'a> {
    Remote(RemoteLedger),
    Local(&'a dyn Store),
}

impl Prover<'_> {
    async fn checkpoint(&self, chain: &str, size: Option<u64>) -> Result<SignedCheckpoint, String> {
        let found = match self {
            Prover::Remote(r) => {
                let query: Vec<(&str, String)> =
                    size.map(|s| ("size", s.to_string())).into_iter().collect();
                Some(
                    r.get(&format!("/v1/audit/chains/{chain}/checkpoint"), &query)
                        .await,
                )
                .transpose()
                .map_err(|e| e.to_string())?
            }
            Prover::Local(s) => s.checkpoint(chain, size).await.map_err(|e| e.to_string())?,
        };
        found.ok_or_else(|| match size {
            Some(size) => format!("chain {chain} has no checkpoint at size {size}"),
            None => format!("chain {chain} has no checkpoint yet (run greenloop checkpoint sign)"),
        })
    }

    /// Fetches what a command asks for, with its checkpoints.
    pub async fn bundle(&self, command: &ProofCommand) -> Result<Bundle, String> {
        let err = |e: tree::TreeError| e.to_string();
        Ok(match command {
            ProofCommand::Inclusion { chain, seq, size } => {
                let checkpoint = self.checkpoint(chain, *size).await?;
                let size = Some(checkpoint.checkpoint.size);
                let proof = match self {
                    Prover::Remote(r) => {
                        let mut q = vec![("seq", seq.to_string())];
                        q.extend(size.map(|s| ("size", s.to_string())));
                        r.get(&format!("/v1/audit/chains/{chain}/inclusion"), &q)
                            .await
                            .map_err(|e| e.to_string())?
                    }
                    Prover::Local(s) => {
                        tree::inclusion(*s, chain, *seq, size).await.map_err(err)?
                    }
                };
                Bundle::Inclusion { checkpoint, proof }
            }
            ProofCommand::Consistency {
                chain,
                first,
                second,
                since,
            } => {
                // clap requires one of --since and --first.
                let older = match since {
                    Some(file) => kept(file, chain)?,
                    None => self.checkpoint(chain, *first).await?,
                };
                let first = &older.checkpoint.size;
                let newer = self.checkpoint(chain, *second).await?;
                let second = Some(newer.checkpoint.size);
                let proof = match self {
                    Prover::Remote(r) => {
                        let mut q = vec![("first", first.to_string())];
                        q.extend(second.map(|s| ("second", s.to_string())));
                        r.get(&format!("/v1/audit/chains/{chain}/consistency"), &q)
                            .await
                            .map_err(|e| e.to_string())?
                    }
                    Prover::Local(s) => tree::consistency(*s, chain, *first, second)
                        .await
                        .map_err(err)?,
                };
                Bundle::Consistency {
                    older,
                    newer,
                    proof,
                }
            }
            ProofCommand::Statement { member } => {
                let member = MemberId::parse(member).map_err(|e| e.message)?;
                let statement = match self {
                    Prover::Remote(r) => r.statement(&member).await.map_err(|e| e.to_string())?,
                    Prover::Local(s) => tree::statement(*s, &member).await.map_err(err)?,
                };
                Bundle::Statement { statement }
            }
            ProofCommand::Brand { brand } => {
                greenloop::domain::check_id("brand", brand).map_err(|e| e.message)?;
                let statement = match self {
                    Prover::Remote(r) => {
                        r.brand_statement(brand).await.map_err(|e| e.to_string())?
                    }
                    Prover::Local(s) => greenloop::checkpoint::brand::brand_statement(*s, brand)
                        .await
                        .map_err(err)?,
                };
                Bundle::Brand { statement }
            }
            ProofCommand::Check { file } => read_bundle(file)?,
        })
    }
}

/// The chain's checkpoint in a kept checkpoints file.
fn kept(file: &Path, chain: &str) -> Result<SignedCheckpoint, String> {
    crate::report::read_checkpoints(file)?
        .into_iter()
        .filter(|c| c.checkpoint.chain == chain)
        .max_by_key(|c| c.checkpoint.size)
        .ok_or_else(|| format!("{} has no checkpoint of chain {chain}", file.display()))
}

pub fn read_bundle(file: &Path) -> Result<Bundle, String> {
    serde_json::from_str(&crate::read(file, "proof bundle")?)
        .map_err(|e| format!("proof bundle {}: {e}", file.display()))
}
