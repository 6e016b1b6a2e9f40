//! `greenloop demo`: a simulated Double 11 campaign on the embedded store (or DynamoDB).
//!
//! It registers campuses and stations, affiliates members, then replays a stream of deliveries
//! in time order: QR-scan drop-offs, pledges, pickup bookings and completions, with duplicate
//! deliveries, a few conflicting ones, and actions outside the window. Crediting runs every few
//! thousand deliveries, as the stream-triggered function would. Then it verifies the ledger.
//!
//! The simulation is deterministic for a seed, and action ids include the seed, so running the
//! demo twice on the same data only replays: nothing is credited twice.

use crate::backend::Backend;
use crate::report::{group, kg, print_report, progress};
use crate::RuleFiles;
use clap::Args;
use greenloop::checkpoint::LogKey;
use greenloop::credit::credit_pending;
use greenloop::domain::{Action, ActionKind, BoxLot, Campus, Items, MemberId, Pepper, Station};
use greenloop::store::{Store, StoreError};
use greenloop::verify::verify_pinned;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

/// Universities of the Campus Carbon Asset Management System (the first three are named in the
/// announcement), with their cities.
const CAMPUSES: [(&str, &str, &str); 40] = [
    ("sjtu", "Shanghai Jiao Tong University", "Shanghai"),
    ("scu", "Sichuan University", "Chengdu"),
    ("tju", "Tianjin University", "Tianjin"),
    ("thu", "Tsinghua University", "Beijing"),
    ("pku", "Peking University", "Beijing"),
    ("fudan", "Fudan University", "Shanghai"),
    ("zju", "Zhejiang University", "Hangzhou"),
    ("nju", "Nanjing University", "Nanjing"),
    ("whu", "Wuhan University", "Wuhan"),
    ("sysu", "Sun Yat-sen University", "Guangzhou"),
    ("xjtu", "Xi'an Jiaotong University", "Xi'an"),
    ("hit", "Harbin Institute of Technology", "Harbin"),
    (
        "ustc",
        "University of Science and Technology of China",
        "Hefei",
    ),
    ("tongji", "Tongji University", "Shanghai"),
    ("nankai", "Nankai University", "Tianjin"),
    ("xmu", "Xiamen University", "Xiamen"),
    ("sdu", "Shandong University", "Jinan"),
    ("jlu", "Jilin University", "Changchun"),
    ("csu", "Central South University", "Changsha"),
    (
        "hust",
        "Huazhong University of Science and Technology",
        "Wuhan",
    ),
    ("scut", "South China University of Technology", "Guangzhou"),
    ("cqu", "Chongqing University", "Chongqing"),
    ("lzu", "Lanzhou University", "Lanzhou"),
    ("seu", "Southeast University", "Nanjing"),
    ("buaa", "Beihang University", "Beijing"),
    ("bit", "Beijing Institute of Technology", "Beijing"),
    ("ruc", "Renmin University of China", "Beijing"),
    ("bnu", "Beijing Normal University", "Beijing"),
    ("ecnu", "East China Normal University", "Shanghai"),
    ("dlut", "Dalian University of Technology", "Dalian"),
    ("neu", "Northeastern University", "Shenyang"),
    ("nwpu", "Northwestern Polytechnical University", "Xi'an"),
    ("ouc", "Ocean University of China", "Qingdao"),
    ("hnu", "Hunan University", "Changsha"),
    (
        "uestc",
        "University of Electronic Science and Technology of China",
        "Chengdu",
    ),
    ("cau", "China Agricultural University", "Beijing"),
    ("nwafu", "Northwest A&F University", "Yangling"),
    ("zzu", "Zhengzhou University", "Zhengzhou"),
    ("ynu", "Yunnan University", "Kunming"),
    ("muc", "Minzu University of China", "Beijing"),
];

const CITIES: [&str; 12] = [
    "Shanghai",
    "Beijing",
    "Hangzhou",
    "Guangzhou",
    "Shenzhen",
    "Chengdu",
    "Wuhan",
    "Nanjing",
    "Xi'an",
    "Tianjin",
    "Chongqing",
    "Changsha",
];

/// Used when GREENLOOP_PEPPER is unset. Demo data only: never use it for real members.
const DEMO_PEPPER: &[u8] = b"greenloop-demo-pepper-not-a-secret";

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

/// One delivery to the intake. Deliveries are replayed in order of arrival.
enum Delivery {
    Record {
        action: Action,
        arrives: i64,
    },
    Complete {
        id: String,
        clothing_g: u64,
        at: i64,
    },
}

impl Delivery {
    fn arrives(&self) -> i64 {
        match self {
            Delivery::Record { arrives, .. } => *arrives,
            Delivery::Complete { at, .. } => *at,
        }
    }
}

#[derive(Default)]
struct Intake {
    recorded: u64,
    replays: u64,
    conflicts: u64,
    booked: u64,
}

pub async fn run(data: &Path, table: Option<&str>, args: DemoArgs) -> Result<ExitCode, String> {
    let started = Instant::now();
    let rules = args.rules.load()?;
    let pepper = pepper()?;
    // Opened only once the arguments are good: a refused command creates nothing.
    let backend = Backend::open(data, table, false).await?;
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
            });
            id
        })
        .collect();
    for s in &stations {
        store.put_station(s).await.map_err(err)?;
    }
    let members: Vec<(MemberId, Option<usize>)> = (0..args.members)
        .map(|i| {
            let campus = rng.gen_bool(0.7).then(|| skewed(&mut rng, campuses.len()));
            (
                MemberId::pseudonym(&pepper, &format!("demo-user-{i}")),
                campus,
            )
        })
        .collect();
    for (m, campus) in &members {
        if let Some(c) = campus {
            store.affiliate(m, campuses[*c].0).await.map_err(err)?;
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
    let bar = progress(deliveries.len() as u64, "delivering");
    let mut intake = Intake::default();
    let mut credit = greenloop::credit::CreditRun::default();
    for (i, d) in deliveries.iter().enumerate() {
        let outcome = match d {
            Delivery::Record { action, .. } => store.record_action(action).await,
            Delivery::Complete { id, clothing_g, at } => {
                store.complete_pickup(id, *clothing_g, *at).await
            }
        };
        match outcome {
            Ok(r) if r.replay => intake.replays += 1,
            Ok(r) if r.record.status == greenloop::store::ActionStatus::Booked => {
                intake.booked += 1
            }
            Ok(_) => intake.recorded += 1,
            Err(StoreError::Conflict(_)) => intake.conflicts += 1,
            Err(e) => return Err(e.to_string()),
        }
        if (i + 1) % 5_000 == 0 {
            let run = credit_pending(store, &rules, args.shards)
                .await
                .map_err(err)?;
            accumulate(&mut credit, &run);
        }
        bar.inc(1);
    }
    let run = credit_pending(store, &rules, args.shards)
        .await
        .map_err(err)?;
    accumulate(&mut credit, &run);
    bar.finish_and_clear();
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
    let bar = progress(total, "verifying");
    let public = log_key.public();
    let report = verify_pinned(store, Some(&public), |n| bar.inc(n))
        .await
        .map_err(err)?;
    bar.finish_and_clear();

    let registry = (stations.len(), members.len());
    print_summary(store, &args, &rules, &intake, &credit, registry)
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

fn accumulate(total: &mut greenloop::credit::CreditRun, run: &greenloop::credit::CreditRun) {
    total.credited += run.credited;
    total.batches += run.batches;
    total.conflicts += run.conflicts;
    total.skipped += run.skipped;
}

/// An index in `0..n`, favouring low indices: some campuses and members are far busier. With
/// n = 5,000 the busiest member gets about 0.3% of all actions, enough to meet the daily cap.
fn skewed(rng: &mut StdRng, n: usize) -> usize {
    let u: f64 = rng.gen();
    (u.powf(1.5) * n as f64) as usize % n
}

/// Generates the campaign's deliveries, sorted by time.
fn simulate(
    rng: &mut StdRng,
    args: &DemoArgs,
    rulebook: &greenloop::rulebook::Rulebook,
    members: &[(MemberId, Option<usize>)],
    campus_stations: &[Vec<String>],
    city_stations: &[String],
) -> Vec<Delivery> {
    const DAY: i64 = 86_400;
    let start = 1_793_462_400; // 2026-11-01 00:00 +08:00, the default window's start
    let mut out = Vec::with_capacity(args.actions as usize * 12 / 10);
    for i in 0..args.actions {
        let (member, campus) = &members[skewed(rng, members.len())];
        let at = if rng.gen_bool(0.03) {
            // Outside the window: the days just before and after the campaign.
            if rng.gen_bool(0.5) {
                start - rng.gen_range(1..3 * DAY)
            } else {
                start + 20 * DAY + rng.gen_range(0..2 * DAY)
            }
        } else {
            start + rng.gen_range(0..20 * DAY)
        };
        let station = match campus {
            Some(c) if rng.gen_bool(0.75) => {
                campus_stations[*c][rng.gen_range(0..campus_stations[*c].len())].clone()
            }
            _ => city_stations[rng.gen_range(0..city_stations.len())].clone(),
        };
        let roll: f64 = rng.gen();
        let (kind, items) = if roll < 0.70 {
            (ActionKind::Scan, scan_items(rng, rulebook))
        } else if roll < 0.88 {
            let boxes = vec![BoxLot {
                brand: None,
                count: rng.gen_range(1..=5),
            }];
            (
                ActionKind::Pledge,
                Items {
                    boxes,
                    ..Items::default()
                },
            )
        } else {
            (ActionKind::Pickup, Items::default())
        };
        let id = format!("s{}-{}-{i:07}", args.seed, kind.as_str());
        let action = Action {
            id: id.clone(),
            kind,
            member: member.clone(),
            station,
            at,
            items,
        };
        if kind == ActionKind::Pickup && rng.gen_bool(0.9) {
            let done = at + rng.gen_range(3_600..3 * DAY);
            let clothing_g = rng.gen_range(500..8_000);
            out.push(Delivery::Complete {
                id: id.clone(),
                clothing_g,
                at: done,
            });
            if rng.gen_bool(0.05) {
                out.push(Delivery::Complete {
                    id,
                    clothing_g,
                    at: done,
                }); // courier app retried
            }
        }
        if rng.gen_bool(0.08) {
            // A platform retry: the same action delivered again a little later.
            let mut again = action.clone();
            let retry_at = at + rng.gen_range(1..600);
            if rng.gen_bool(0.03) {
                again.station = city_stations[0].clone(); // a buggy integration: same id, other body
            }
            out.push(Delivery::Record {
                action: again,
                arrives: retry_at,
            });
        }
        out.push(Delivery::Record {
            action,
            arrives: at,
        });
    }
    out.sort_by_key(Delivery::arrives);
    out
}

fn scan_items(rng: &mut StdRng, rulebook: &greenloop::rulebook::Rulebook) -> Items {
    let lots = (0..rng.gen_range(1..=2))
        .map(|_| {
            let brand = match rng.gen_range(0..100) {
                0..=44 => Some(
                    rulebook.partner_brands[rng.gen_range(0..rulebook.partner_brands.len())]
                        .clone(),
                ),
                45..=54 => Some(format!("other-{}", rng.gen_range(1..=20))),
                _ => None,
            };
            BoxLot {
                brand,
                count: rng.gen_range(1..=5),
            }
        })
        .collect();
    Items {
        boxes: lots,
        clothing_g: if rng.gen_bool(0.2) {
            rng.gen_range(300..3_000)
        } else {
            0
        },
        shoes: if rng.gen_bool(0.1) {
            rng.gen_range(1..=2)
        } else {
            0
        },
        books: if rng.gen_bool(0.15) {
            rng.gen_range(1..=6)
        } else {
            0
        },
    }
}

async fn print_summary(
    store: &dyn Store,
    args: &DemoArgs,
    rules: &greenloop::catalog::Rules,
    intake: &Intake,
    credit: &greenloop::credit::CreditRun,
    (stations, members): (usize, usize),
) -> Result<(), StoreError> {
    let names: BTreeMap<String, String> = store
        .campuses()
        .await?
        .into_iter()
        .map(|c| (c.id, c.name))
        .collect();
    let mut accounts = Vec::new();
    loop {
        let page = store
            .account_page(
                accounts
                    .last()
                    .map(|a: &greenloop::store::Account| &a.member),
                1_000,
            )
            .await?;
        if page.is_empty() {
            break;
        }
        accounts.extend(page);
    }
    let points: i64 = accounts.iter().map(|a| a.balance).sum();
    let co2e: i64 = accounts.iter().map(|a| a.co2e_g).sum();
    let delivered = intake.recorded + intake.replays + intake.conflicts + intake.booked;
    println!(
        "Greenloop demo: Double 11 2026, rulebook {}, factors {}, seed {}",
        rules.rulebook.version, rules.factors.version, args.seed
    );
    println!(
        "  registry   {} campuses, {} partner brands, {} stations, {} members ({} affiliated)",
        args.campuses,
        rules.rulebook.partner_brands.len(),
        group(stations as i64),
        group(members as i64),
        group(accounts.iter().filter(|a| a.campus.is_some()).count() as i64)
    );
    println!(
        "  intake     {} deliveries: {} actions recorded, {} bookings, {} replays answered, {} conflicting bodies refused",
        group(delivered as i64),
        group(intake.recorded as i64),
        group(intake.booked as i64),
        group(intake.replays as i64),
        group(intake.conflicts as i64)
    );
    println!(
        "  crediting  {} entries in {} batches; {} re-planned after a conflict, {} already credited",
        group(credit.credited as i64),
        group(credit.batches as i64),
        credit.conflicts,
        credit.skipped
    );
    println!(
        "  totals     {} points credited, {} CO2e avoided",
        group(points),
        kg(co2e)
    );

    let mut totals = store.campus_totals().await?;
    totals.sort_by(|a, b| b.co2e_g.cmp(&a.co2e_g).then(a.campus.cmp(&b.campus)));
    println!("Top campuses (by CO2e avoided)");
    for (i, t) in totals.iter().take(10).enumerate() {
        let name = names
            .get(&t.campus)
            .map_or(t.campus.as_str(), String::as_str);
        println!(
            "  {:>2}. {:<46} {:>14} {:>9} points {:>6} entries",
            i + 1,
            name,
            kg(t.co2e_g),
            group(t.bonus),
            group(t.entries as i64)
        );
    }
    if let Some(top) = totals.first() {
        let mut board: Vec<_> = accounts
            .iter()
            .filter(|a| a.campus.as_deref() == Some(top.campus.as_str()))
            .collect();
        board.sort_by(|a, b| b.balance.cmp(&a.balance).then(a.member.cmp(&b.member)));
        let name = names
            .get(&top.campus)
            .map_or(top.campus.as_str(), String::as_str);
        println!("Campus leaderboard: {name} (members by points; pseudonyms only)");
        for (i, a) in board.iter().take(5).enumerate() {
            println!(
                "  {:>2}. member {}…  {:>5} points {:>12} {:>4} entries",
                i + 1,
                &a.member.as_str()[..12],
                group(a.balance),
                kg(a.co2e_g),
                a.entries
            );
        }
    }
    Ok(())
}
