//! `greenloop serve`: every router in one local server on the embedded store, with the
//! crediting stage running in-process.
//!
//! Connections are served by hyper directly rather than by `axum::serve`, so that each one can
//! be wrapped in [`heads::Heads`], which answers the requests hyper would refuse before routing
//! (too long, too large, malformed) with JSON errors too.

mod heads;

use crate::backend::Backend;
use clap::Args;
use greenloop::catalog::Rules;
use greenloop::checkpoint::LogKey;
use greenloop::credit::credit_continuously;
use greenloop::domain::Pepper;
use greenloop::http::{self, App, Integrations};
use greenloop::receipt::ReceiptKey;
use greenloop::rulebook::Rulebook;
use greenloop::store::Store;
use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// Number of ledger chains.
    #[arg(long, env = "GREENLOOP_SHARDS", default_value_t = greenloop::config::DEFAULT_SHARDS)]
    shards: u32,
    /// The rules intake and crediting apply.
    #[command(flatten)]
    rules: crate::RuleFiles,
    /// Rehearse on today's clock: the rulebook's window moved to start yesterday and last a
    /// week, as rulebook version `rehearsal-<today>` (intake takes only recent actions).
    #[arg(long, conflicts_with = "rulebook")]
    rehearsal: bool,
    /// Sign each chain that grew every this many seconds (0: never), with GREENLOOP_LOG_KEY (or,
    /// on the embedded store only, the public demo key), and fold the brand figures, as the
    /// checkpoint function does in AWS.
    #[arg(long, default_value_t = 60)]
    checkpoint_every: u64,
}

/// Checks the configuration before opening the store, then serves.
pub async fn run(data: &Path, table: Option<&str>, args: ServeArgs) -> Result<ExitCode, String> {
    greenloop::config::init_json_logs();
    let pepper = crate::demo::pepper()?;
    let integrations = greenloop::config::integrations().map_err(|e| e.to_string())?;
    let mut rules = args.rules.load()?;
    if args.rehearsal {
        rules.rulebook = rehearsal(&rules.rulebook, chrono::Utc::now().timestamp())?;
    }
    if !(1..=greenloop::config::MAX_SHARDS).contains(&args.shards) {
        return Err(format!(
            "--shards must be 1 to {}",
            greenloop::config::MAX_SHARDS
        ));
    }
    // The public demo key signs only the embedded store: never a table, which may be a real
    // deployment's, whose checkpoints only its own key may sign.
    let signing = match (table, std::env::var_os("GREENLOOP_LOG_KEY")) {
        (Some(_), None) => None,
        _ => Some(crate::demo::log_key().await?),
    };
    let mut site = greenloop::config::site().map_err(|e| e.to_string())?;
    if let Some(key) = &signing {
        site.log_key = Some(key.public());
    }
    let store = Backend::open(data, table, false)
        .await?
        .with_shards(args.shards)
        .into_shared();
    match signing {
        Some(key) if args.checkpoint_every > 0 => {
            let every = std::time::Duration::from_secs(args.checkpoint_every);
            tokio::spawn(sign_continuously(store.clone(), key, every));
        }
        Some(_) => {}
        None => eprintln!(
            "greenloop serve: no GREENLOOP_LOG_KEY, so no checkpoint is signed on a table"
        ),
    }
    // Likewise erasure receipts: the demo key on the embedded store only.
    let receipts = match (table, std::env::var_os("GREENLOOP_RECEIPT_KEY")) {
        (Some(_), None) => None,
        _ => Some(crate::demo::receipt_key(table).await?),
    };
    let config = Served {
        integrations,
        rules,
        shards: args.shards,
        site,
        receipts,
    };
    serve(store, pepper, config, args.addr).await?;
    Ok(ExitCode::SUCCESS)
}

/// `rulebook` with its window from the start of yesterday for eight days, in its own time zone,
/// named after today: the same day gives the same version and content.
fn rehearsal(rulebook: &Rulebook, now: i64) -> Result<Rulebook, String> {
    let today = rulebook.day_of(now);
    let start = (today.0 - 1) * 86_400 - i64::from(rulebook.utc_offset_s);
    rulebook
        .with_window(&format!("rehearsal-{today}"), start, start + 8 * 86_400 - 1)
        .map_err(|e| format!("--rehearsal: {e}"))
}

/// What the server runs with, beside its store and pepper.
pub struct Served {
    pub integrations: Integrations,
    pub rules: Rules,
    pub shards: u32,
    pub site: http::Site,
    /// The key erasure receipts are signed with; without one, erasure answers 404.
    pub receipts: Option<ReceiptKey>,
}

/// Signs and folds every `every`, as the scheduled checkpoint function does; a failed run is
/// logged and the next one tries again.
async fn sign_continuously(store: Arc<dyn Store>, key: LogKey, every: std::time::Duration) {
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        let now = chrono::Utc::now().timestamp();
        if let Err(e) = greenloop::checkpoint::tree::publish_all(store.as_ref(), &key, now).await {
            tracing::warn!(error = %e, "checkpoint run failed");
            continue;
        }
        if let Err(e) = crate::checkpoint::fold_brands(store.as_ref()).await {
            tracing::warn!(error = %e, "brand figures stopped short");
        }
    }
}

/// Serves until interrupted.
pub async fn serve(
    store: Arc<dyn Store>,
    pepper: Pepper,
    config: Served,
    addr: SocketAddr,
) -> Result<(), String> {
    let Served {
        integrations,
        rules,
        shards,
        site,
        receipts,
    } = config;
    store.put_rules(&rules).await.map_err(|e| e.to_string())?;
    let mut app = App::new(store.clone(), pepper, integrations.clone(), rules.clone());
    app.site = Arc::new(site);
    app.receipts = receipts.map(Arc::new);
    tokio::spawn(credit_continuously(
        store,
        rules,
        shards,
        app.recorded.clone(),
    ));
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let bound = listener.local_addr().map_err(|e| e.to_string())?;
    println!("greenloop serving on http://{bound}");
    if integrations.is_empty() {
        // The pages and every read route still serve: enough to look at the demo's data.
        println!("  no GREENLOOP_WEBHOOK_SECRETS (key-id=secret, 16+ bytes): intake refuses every delivery");
    } else {
        println!(
            "  webhook key ids: {}",
            integrations.key_ids().collect::<Vec<_>>().join(", ")
        );
    }
    println!("  crediting in-process onto {shards} chains; Ctrl-C stops");
    println!("  the public page: http://{bound}/  the campus dashboard: http://{bound}/campus");
    accept(listener, http::router(app)).await;
    Ok(())
}

/// Serves each connection with hyper over [`heads::Heads`] until Ctrl-C, then lets the open
/// ones finish their requests.
async fn accept(listener: tokio::net::TcpListener, router: axum::Router) {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut stop = std::pin::pin!(tokio::signal::ctrl_c());
    loop {
        let tcp = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => tcp,
                Err(e) => {
                    // Out of file descriptors, say: wait rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = &mut stop => break,
        };
        let _ = tcp.set_nodelay(true);
        let io = hyper_util::rt::TokioIo::new(heads::Heads::new(tcp));
        let service = hyper_util::service::TowerToHyperService::new(router.clone());
        // Half-close allowed: a refused head ends the reading side while the requests before
        // it are still being answered.
        let conn = hyper::server::conn::http1::Builder::new()
            .half_close(true)
            .serve_connection(io, service);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
}
