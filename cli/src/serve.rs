//! `greenloop serve`: every router in one local server on the embedded store, with the
//! crediting stage running in-process; and `greenloop keys`, which mints API keys.

use greenloop::catalog::Rules;
use greenloop::credit::credit_continuously;
use greenloop::domain::Pepper;
use greenloop::http::{self, App, Integrations};
use greenloop::ledger::leaf_hash;
use greenloop::store::{Grant, Store};
use std::net::SocketAddr;
use std::sync::Arc;

/// Serves until interrupted.
pub async fn serve(
    store: Arc<dyn Store>,
    pepper: Pepper,
    integrations: Integrations,
    rules: Rules,
    shards: u32,
    addr: SocketAddr,
) -> Result<(), String> {
    if integrations.is_empty() {
        return Err(
            "GREENLOOP_WEBHOOK_SECRETS is not set; intake needs key-id=secret (16+ bytes)".into(),
        );
    }
    store.put_rules(&rules).await.map_err(|e| e.to_string())?;
    let app = App::new(store.clone(), pepper, integrations.clone(), rules.clone());
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
    println!(
        "  webhook key ids: {}",
        integrations.key_ids().collect::<Vec<_>>().join(", ")
    );
    println!("  crediting in-process onto {shards} chains; Ctrl-C stops");
    axum::serve(listener, http::router(app))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(|e| format!("server stopped: {e}"))
}

/// Mints an API key, stores only its hash, and returns the key to show once.
pub async fn mint(store: &dyn Store, grant: Grant) -> Result<String, String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| format!("no randomness: {e}"))?;
    let key = format!("glk_{}", hex::encode(bytes));
    store
        .put_api_key(&leaf_hash(key.as_bytes()), &grant)
        .await
        .map_err(|e| e.to_string())?;
    Ok(key)
}
