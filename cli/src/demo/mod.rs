//! `greenloop demo`: a simulated Double 11 campaign on the embedded store (or DynamoDB).
//!
//! It registers campuses and stations, affiliates members, then replays a stream of deliveries
//! in time order: QR-scan drop-offs, pledges, pickup bookings and completions, with duplicate
//! deliveries, a few conflicting ones, and actions outside the window. Crediting runs every few
//! thousand deliveries, as the stream-triggered function would, and at the end of each day the
//! stations report what became of the boxes they collected ([`disposal`]). Then it verifies
//! the ledger.
//!
//! The simulation is deterministic for a seed, and action ids include the seed, so running the
//! demo twice on the same data only replays: nothing is credited twice. Member pseudonyms are
//! random, as in production, drawn at each demo user's first sight and kept in the store's
//! mapping (`docs/privacy.md`), so two data directories name their members differently.
//!
//! This module runs the command; the registry tables are in [`fixtures`], the delivery stream
//! in [`simulation`], and the printed summary in [`summary`].

mod disposal;
mod fixtures;
mod simulation;
mod summary;

use crate::backend::Backend;
use crate::report::{print_report, progress};
use crate::RuleFiles;
use clap::Args;
use fixtures::{CAMPUSES, CITIES};
use greenloop::checkpoint::LogKey;
use greenloop::domain::{Campus, MemberId, Pepper, Station, Subject};
use greenloop::receipt::ReceiptKey;
use greenloop::store::Consent;
use greenloop::store::StoreError;
use greenloop::verify::verify_pinned;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use simulation::{deliver, simulate, skewed};
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;
use summary::print_summary;

/// Used when GREENLOOP_PEPPER is unset. Demo data only: never use it for real members.
/// The integration the demo's stations belong to: the key id the README's `serve` example signs
/// with (`GREENLOOP_WEBHOOK_SECRETS='qr-demo=…'`).
pub const DEMO_INTEGRATION: &str = "qr-demo";
const DEMO_PEPPER: &[u8] = b"greenloop-demo-pepper-not-a-secret";

/// The platform user id of demo member `i`: `greenloop erase --user demo-user-7` erases one.
pub fn demo_user(i: u32) -> String {
    format!("demo-user-{i}")
}

/// `GREENLOOP_PEPPER`, or the public demo pepper when it is unset (local use only; the Lambda
/// functions require it).
pub fn pepper() -> Result<Pepper, String> {
    match std::env::var("GREENLOOP_PEPPER") {
        Ok(p) => Pepper::new(p.into_bytes()).map_err(|e| format!("GREENLOOP_PEPPER: {e}")),
        Err(_) => Ok(Pepper::new(DEMO_PEPPER).expect("the demo pepper is long enough")),
    }
}

/// Used when GREENLOOP_LOG_KEY is unset: a public Ed25519 seed, so that the demo's checkpoints
/// can be checked by anyone and trusted by no one. Never sign a real ledger with it.
pub const DEMO_LOG_KEY: &str = "677265656e6c6f6f702d64656d6f2d6c6f672d6b65792d6e6f742d7365637265";

/// Used when GREENLOOP_RECEIPT_KEY is unset on the embedded store: a public seed, like
/// [`DEMO_LOG_KEY`]. Never sign a real member's receipt with it.
pub const DEMO_RECEIPT_KEY: &str =
    "677265656e6c6f6f702d64656d6f2d72656365697074732d6e6f742d73656372";

/// `GREENLOOP_RECEIPT_KEY`, or on the embedded store the public demo key when it is unset: a
/// DynamoDB table's members get receipts signed by the deployment's own key only.
pub async fn receipt_key(table: Option<&str>) -> Result<ReceiptKey, String> {
    match (std::env::var("GREENLOOP_RECEIPT_KEY"), table) {
        (Ok(_), _) => greenloop::config::receipt_key()
            .await
            .map_err(|e| e.to_string()),
        (Err(_), None) => Ok(ReceiptKey::from_hex(DEMO_RECEIPT_KEY).expect("a seed")),
        (Err(_), Some(_)) => Err(
            "GREENLOOP_RECEIPT_KEY is not set: a table's erasure receipts are signed with the \
             deployment's receipt key"
                .into(),
        ),
    }
}

/// `GREENLOOP_LOG_KEY`, or the public demo key when it is unset (local use only; the checkpoint
/// function requires it).
pub async fn log_key() -> Result<LogKey, String> {
    match std::env::var("GREENLOOP_LOG_KEY") {
        Ok(_) => greenloop::config::log_key()
            .await
            .map_err(|e| e.to_string()),
        Err(_) => Ok(LogKey::from_hex(DEMO_LOG_KEY).expect("the demo key is a seed")),
    }
}

#[derive(Args)]
pub struct DemoArgs {
    /// Seed of the simulation; the same seed gives the same campaign.
    #[arg(long, default_value_t = 11)]
    seed: u64,
    /// Members taking part.
    #[arg(long, default_value_t = 5_000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    members: u32,
    /// Distinct actions delivered (duplicates come on top).
    #[arg(long, default_value_t = 30_000, value_parser = clap::value_parser!(u32).range(1..=5_000_000))]
    actions: u32,
    /// Campuses taking part (up to 40).
    #[arg(long, default_value_t = 40, value_parser = clap::value_parser!(u32).range(1..=40))]
    campuses: u32,
    /// Post stations beside the campus ones.
    #[arg(long, default_value_t = 360, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    stations: u32,
    /// Ledger chains to spread crediting over.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=64))]
    shards: u32,
    #[command(flatten)]
    rules: RuleFiles,
}

pub async fn run(data: &Path, table: Option<&str>, args: DemoArgs) -> Result<ExitCode, String> {
    let started = Instant::now();
    let rules = args.rules.load()?;
    let pepper = pepper()?;
    // Opened only once the arguments are good: a refused command creates nothing.
    let backend = Backend::open(data, table, false)
        .await?
        .with_shards(args.shards);
    backend.set_bulk(true)?;
    let store = backend.store();
    let err = |e: StoreError| e.to_string();

    // Registry: campuses, their stations, city stations, members and affiliations.
    let mut rng = StdRng::seed_from_u64(args.seed);
    let campuses = &CAMPUSES[..args.campuses as usize];
    let mut campus_stations: Vec<Vec<String>> = Vec::new();
    let mut stations = Vec::new();
    for (id, name, city) in campuses {
        store
            .put_campus(&Campus {
                id: id.to_string(),
                name: name.to_string(),
                city: city.to_string(),
            })
            .await
            .map_err(err)?;
        let mine: Vec<String> = (1..=rng.gen_range(1..=3))
            .map(|n| format!("st-{id}-{n}"))
            .collect();
        for s in &mine {
            stations.push(Station {
                id: s.clone(),
                city: city.to_string(),
                campus: Some(id.to_string()),
                integrations: vec![DEMO_INTEGRATION.into()],
            });
        }
        campus_stations.push(mine);
    }
    let city_stations: Vec<String> = (0..args.stations)
        .map(|n| {
            let city = CITIES[n as usize % CITIES.len()];
            let id = format!("st-{}-{n:04}", city.to_lowercase().replace('\'', ""));
            stations.push(Station {
                id: id.clone(),
                city: city.to_owned(),
                campus: None,
                integrations: vec![DEMO_INTEGRATION.into()],
            });
            id
        })
        .collect();
    for s in &stations {
        store.put_station(s).await.map_err(err)?;
    }
    // Each demo user is seen first through the demo's integration, which draws their random
    // pseudonym; a second run on the same data finds the same mappings.
    let mut members: Vec<(MemberId, Option<usize>)> = Vec::with_capacity(args.members as usize);
    for i in 0..args.members {
        let campus = rng.gen_bool(0.7).then(|| skewed(&mut rng, campuses.len()));
        let subject = Subject::of(&pepper, &demo_user(i));
        let member = store
            .member_or_new(&subject, DEMO_INTEGRATION)
            .await
            .map_err(err)?;
        members.push((member, campus));
    }
    for (m, campus) in &members {
        if let Some(c) = campus {
            store
                .affiliate(m, campuses[*c].0, Consent::Enrol)
                .await
                .map_err(err)?;
        }
    }

    // The delivery stream.
    let deliveries = simulate(
        &mut rng,
        &args,
        &rules.rulebook,
        &members,
        &campus_stations,
        &city_stations,
    );
    let mut disposals = disposal::Disposals::new(
        args.seed,
        DEMO_INTEGRATION,
        &stations
            .iter()
            .map(|s| (s.id.clone(), s.city.clone()))
            .collect::<Vec<_>>(),
    );
    let fresh = !disposal::Disposals::already_reported(store)
        .await
        .map_err(err)?;
    disposals.reported.skipped = !fresh;
    let (intake, credit) = deliver(
        store,
        &deliveries,
        &rules,
        args.shards,
        fresh.then_some(&mut disposals),
    )
    .await?;
    backend.set_bulk(false)?;

    let total = store
        .chain_heads()
        .await
        .map_err(err)?
        .iter()
        .map(|h| h.size)
        .sum();
    // Sign a checkpoint of every chain, then verify against them with the key pinned.
    let log_key = log_key().await?;
    let signed =
        greenloop::checkpoint::tree::publish_all(store, &log_key, chrono::Utc::now().timestamp())
            .await
            .map_err(err)?;
    crate::checkpoint::fold_brands(store).await?;
    let bar = progress(total, "verifying");
    let public = log_key.public();
    let report = verify_pinned(store, Some(&public), |n| bar.inc(n))
        .await
        .map_err(err)?;
    bar.finish_and_clear();

    let registry = (stations.len(), members.len());
    print_summary(
        store,
        &args,
        &rules,
        (&intake, &credit, &disposals.reported),
        registry,
    )
    .await
    .map_err(err)?;
    println!(
        "Chain heads ({} checkpoints signed by log key {}, public key {})",
        signed.len(),
        public.id(),
        public.to_hex()
    );
    print_report(&report);
    println!(
        "finished in {:.1} s; data in {}",
        started.elapsed().as_secs_f64(),
        backend.location()
    );
    Ok(if report.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
