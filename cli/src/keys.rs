//! `greenloop keys`: mints portal, brand and auditor API keys (optionally expiring), revokes them by
//! key id, lists them; or makes a checkpoint signing key, which is stored nowhere.
//!
//! A minted key is printed once, on stdout alone, so that `KEY=$(greenloop keys ...)` captures
//! just the key; its id and expiry go to stderr. The store keeps only its record
//! ([`greenloop::store::ApiKey`]): the grant, the key's hash and its times.

use crate::backend::Backend;
use clap::{ArgGroup, Args};
use greenloop::checkpoint::LogKey;
use greenloop::domain::is_lower_hex;
use greenloop::store::api_key::{self, ID_LEN};
use greenloop::store::{ApiKey, Grant, Store, StoreError};
use serde::Serialize;
use std::path::Path;
use std::process::ExitCode;

#[derive(Args)]
#[command(group(
    ArgGroup::new("what")
        .required(true)
        .args(["campus", "brand", "auditor", "log", "receipt", "revoke", "list"]),
))]
#[command(group(ArgGroup::new("mint").args(["campus", "brand", "auditor"])))]
pub struct KeysArgs {
    /// Mint a portal key for this campus.
    #[arg(long)]
    campus: Option<String>,
    /// Mint a key for this partner brand: it reads the brand's own statement.
    #[arg(long)]
    brand: Option<String>,
    /// Mint an auditor key.
    #[arg(long)]
    auditor: bool,
    /// The minted key expires at this time: RFC 3339 (2026-12-01T00:00:00+08:00), or a date
    /// (2026-12-01), which means 00:00 UTC that day. It must be in the future.
    #[arg(
        long,
        value_name = "TIME",
        requires = "mint",
        conflicts_with = "expires_in_days"
    )]
    expires: Option<String>,
    /// The minted key expires this many days from now.
    #[arg(long, value_name = "N", requires = "mint")]
    expires_in_days: Option<u32>,
    /// Revoke the portal or auditor key with this id (the 16 hex digits after `glk_`, as
    /// `--list` shows them). It is refused from the next request on; its record stays listed.
    #[arg(long, value_name = "KEY_ID")]
    revoke: Option<String>,
    /// List every portal and auditor key: id, grant, status, created, expires, revoked. Never a
    /// key's secret or hash.
    #[arg(long)]
    list: bool,
    /// With --list: JSON Lines, one key per line.
    #[arg(long, requires = "list")]
    json: bool,
    /// Make a new checkpoint signing key instead: prints the secret seed for
    /// GREENLOOP_LOG_KEY and the public key auditors pin. Nothing is stored.
    #[arg(long)]
    log: bool,
    /// Make a new erasure receipt signing key instead: prints the secret seed for
    /// GREENLOOP_RECEIPT_KEY and the public key members check receipts with.
    #[arg(long)]
    receipt: bool,
}

pub async fn run(data: &Path, table: Option<&str>, args: KeysArgs) -> Result<ExitCode, String> {
    if args.log {
        return signing_key("GREENLOOP_LOG_KEY");
    }
    if args.receipt {
        return signing_key("GREENLOOP_RECEIPT_KEY");
    }
    let now = chrono::Utc::now().timestamp();
    // Refuse a bad expiry or id before touching the store.
    let expires_at = expiry(args.expires.as_deref(), args.expires_in_days, now)?;
    if let Some(id) = &args.revoke {
        if !is_lower_hex(id, ID_LEN) {
            return Err(format!(
                "--revoke {id:?}: a key id is {ID_LEN} lowercase hex digits (see keys --list)"
            ));
        }
    }
    let backend = Backend::open(data, table, false).await?;
    let store = backend.store();
    let location = backend.location();
    if let Some(id) = args.revoke {
        return revoke(store, &id, now, &location).await;
    }
    if args.list {
        return list(store, args.json, now, &location).await;
    }
    // clap requires one of the above, --campus, --brand or --auditor.
    let grant = match (args.campus, args.brand) {
        (Some(campus), _) => Grant::Campus { campus },
        (None, Some(brand)) => {
            partner(store, &brand, &location).await?;
            Grant::Brand { brand }
        }
        (None, None) => Grant::Auditor,
    };
    let minted = mint(store, grant, now, expires_at, &location).await?;
    println!("{}", minted.key);
    eprintln!(
        "key id {} ({}), shown once; expires {}",
        minted.record.id,
        grant_text(&minted.record.grant),
        minted.record.expires_at.map_or("never".into(), time)
    );
    Ok(ExitCode::SUCCESS)
}

/// Refuses a brand that no rulebook in the store (or, before any is published, the built-in
/// one) names as a partner: only partner brands have statements.
async fn partner(store: &dyn Store, brand: &str, location: &str) -> Result<(), String> {
    greenloop::domain::check_id("brand", brand).map_err(|e| format!("--brand: {}", e.message))?;
    let catalog = store.catalog().await.map_err(|e| e.to_string())?;
    let mut rulebooks: Vec<_> = catalog.rulebooks().cloned().collect();
    if rulebooks.is_empty() {
        rulebooks.push(greenloop::rulebook::Rulebook::default_double11());
    }
    if rulebooks.iter().any(|rb| rb.is_partner(brand)) {
        Ok(())
    } else {
        Err(format!(
            "{brand} is not a partner brand in {location}'s rulebooks"
        ))
    }
}

/// Mints a key and keeps its record; the key itself is returned to be shown once.
async fn mint(
    store: &dyn Store,
    grant: Grant,
    now: i64,
    expires_at: Option<i64>,
    location: &str,
) -> Result<api_key::Minted, String> {
    let minted =
        api_key::mint(grant, now, expires_at).map_err(|e| format!("no randomness: {e}"))?;
    store
        .put_api_key(&minted.record)
        .await
        .map_err(|e| match (e, &minted.record.grant) {
            (StoreError::NotFound(_), Grant::Campus { campus }) => {
                format!("no campus {campus} in {location} (register it first)")
            }
            (other, _) => other.to_string(),
        })?;
    Ok(minted)
}

/// The expiry asked for, as Unix seconds; an expiry that is not in the future is refused.
fn expiry(expires: Option<&str>, in_days: Option<u32>, now: i64) -> Result<Option<i64>, String> {
    let (at, asked) = match (expires, in_days) {
        (Some(text), _) => (parse_time(text)?, format!("--expires {text}")),
        (None, Some(days)) => (
            now + i64::from(days) * 86_400,
            format!("--expires-in-days {days}"),
        ),
        (None, None) => return Ok(None),
    };
    if at <= now {
        return Err(format!(
            "{asked} is not in the future ({}); a key must expire later than now",
            time(at)
        ));
    }
    Ok(Some(at))
}

/// RFC 3339, or a bare date meaning 00:00 UTC that day.
fn parse_time(text: &str) -> Result<i64, String> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(t.timestamp());
    }
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc().timestamp())
        .ok_or_else(|| {
            format!(
                "--expires {text:?}: expected an RFC 3339 time (2026-12-01T00:00:00+08:00) or a \
                 date (2026-12-01)"
            )
        })
}

async fn revoke(store: &dyn Store, id: &str, now: i64, location: &str) -> Result<ExitCode, String> {
    let key = store.revoke_api_key(id, now).await.map_err(|e| match e {
        StoreError::NotFound(_) => format!("no API key {id} in {location}"),
        other => other.to_string(),
    })?;
    match key.revoked_at {
        Some(at) if at != now => println!("{id}: already revoked at {}", time(at)),
        _ => println!("{id}: revoked; refused from the next request on"),
    }
    Ok(ExitCode::SUCCESS)
}

/// A key as `--list --json` shows it: everything but the hash.
#[derive(Serialize)]
struct Listed<'a> {
    id: &'a str,
    grant: &'a Grant,
    status: &'static str,
    created_at: i64,
    expires_at: Option<i64>,
    revoked_at: Option<i64>,
}

async fn list(store: &dyn Store, json: bool, now: i64, location: &str) -> Result<ExitCode, String> {
    let mut keys = store.api_keys().await.map_err(|e| e.to_string())?;
    keys.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
    for k in &keys {
        let listed = Listed {
            id: &k.id,
            grant: &k.grant,
            status: status(k, now),
            created_at: k.created_at,
            expires_at: k.expires_at,
            revoked_at: k.revoked_at,
        };
        if json {
            println!("{}", serde_json::to_string(&listed).expect("JSON"));
        } else {
            let or_dash = |t: Option<i64>| t.map_or("-".into(), time);
            println!(
                "{}\t{}\t{}\tcreated {}\texpires {}\trevoked {}",
                k.id,
                grant_text(&k.grant),
                listed.status,
                time(k.created_at),
                or_dash(k.expires_at),
                or_dash(k.revoked_at)
            );
        }
    }
    if !json {
        eprintln!("{} API keys in {location}", keys.len());
    }
    Ok(ExitCode::SUCCESS)
}

/// What the API would answer the key's holder now.
fn status(k: &ApiKey, now: i64) -> &'static str {
    if k.revoked_at.is_some() {
        "revoked"
    } else if k.expired(now) {
        "expired"
    } else {
        "active"
    }
}

fn grant_text(g: &Grant) -> String {
    match g {
        Grant::Campus { campus } => format!("campus {campus}"),
        Grant::Auditor => "auditor".into(),
        Grant::Brand { brand } => format!("brand {brand}"),
    }
}

/// Unix seconds as RFC 3339 UTC.
fn time(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0).map_or_else(
        || t.to_string(),
        |d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    )
}

/// A new Ed25519 signing key for `var` (checkpoints, or erasure receipts): the seed to keep
/// secret and the public key to publish.
fn signing_key(var: &str) -> Result<ExitCode, String> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| format!("no randomness: {e}"))?;
    let key = LogKey::from_hex(&hex::encode(seed)).map_err(|e| e.to_string())?;
    println!("{var}={}", hex::encode(seed));
    println!("public key (pin it; publish it): {}", key.public().to_hex());
    Ok(ExitCode::SUCCESS)
}
