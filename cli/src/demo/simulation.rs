//! The demo's delivery stream: generating a campaign's actions from a seed, and replaying them
//! through the intake with crediting, as the deployed functions would.

use super::disposal::Disposals;
use super::DemoArgs;
use crate::report::progress;
use greenloop::catalog::Rules;
use greenloop::credit::{credit_pending, CreditRun};
use greenloop::domain::{Action, ActionKind, BoxLot, Items, MemberId};
use greenloop::store::{Store, StoreError};
use rand::rngs::StdRng;
use rand::Rng;

/// One delivery to the intake. Deliveries are replayed in order of arrival.
pub(super) enum Delivery {
    Record {
        action: Action,
        arrives: i64,
    },
    Complete {
        /// The booked action's key (integration and id).
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

/// How the intake answered the deliveries.
#[derive(Default)]
pub(super) struct Intake {
    pub(super) recorded: u64,
    pub(super) replays: u64,
    pub(super) conflicts: u64,
    pub(super) booked: u64,
}

/// The window's first day starts: 2026-11-01 00:00 +08:00, the default window's start.
const START: i64 = 1_793_462_400;
const DAY: i64 = 86_400;
/// Days the stations report on: the 20 of the window and two after it, to clear their stock.
const REPORT_DAYS: u32 = 22;

/// Replays the deliveries in order through the intake, crediting every 5,000 of them as the
/// stream-triggered function would, then once more at the end. At the end of each campaign day
/// the day's drop-offs are credited and the stations report what became of their boxes.
pub(super) async fn deliver(
    store: &dyn Store,
    deliveries: &[Delivery],
    rules: &Rules,
    shards: u32,
    mut disposals: Option<&mut Disposals>,
) -> Result<(Intake, CreditRun), String> {
    let err = |e: StoreError| e.to_string();
    let bar = progress(deliveries.len() as u64, "delivering");
    let mut intake = Intake::default();
    let mut credit = CreditRun::default();
    let mut day = 0;
    for (i, d) in deliveries.iter().enumerate() {
        while day < REPORT_DAYS && d.arrives() >= START + i64::from(day + 1) * DAY {
            if let Some(disposals) = disposals.as_deref_mut() {
                let run = credit_pending(store, rules, shards).await.map_err(err)?;
                accumulate(&mut credit, &run);
                disposals
                    .day(store, day, START + i64::from(day + 1) * DAY - 1)
                    .await?;
            }
            day += 1;
        }
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
            let run = credit_pending(store, rules, shards).await.map_err(err)?;
            accumulate(&mut credit, &run);
        }
        bar.inc(1);
    }
    let run = credit_pending(store, rules, shards).await.map_err(err)?;
    accumulate(&mut credit, &run);
    if let Some(disposals) = disposals {
        for day in day..REPORT_DAYS {
            disposals
                .day(store, day, START + i64::from(day + 1) * DAY - 1)
                .await?;
        }
    }
    let now = chrono::Utc::now().timestamp();
    greenloop::credit::ranking::keep(store, now, 0)
        .await
        .map_err(err)?;
    bar.finish_and_clear();
    Ok((intake, credit))
}

fn accumulate(total: &mut CreditRun, run: &CreditRun) {
    total.credited += run.credited;
    total.batches += run.batches;
    total.conflicts += run.conflicts;
    total.skipped += run.skipped;
}

/// An index in `0..n`, favouring low indices: some campuses and members are far busier. With
/// n = 5,000 the busiest member gets about 0.3% of all actions, enough to meet the daily cap.
pub(super) fn skewed(rng: &mut StdRng, n: usize) -> usize {
    let u: f64 = rng.gen();
    (u.powf(1.5) * n as f64) as usize % n
}

/// Generates the campaign's deliveries, sorted by time.
pub(super) fn simulate(
    rng: &mut StdRng,
    args: &DemoArgs,
    rulebook: &greenloop::rulebook::Rulebook,
    members: &[(MemberId, Option<usize>)],
    campus_stations: &[Vec<String>],
    city_stations: &[String],
) -> Vec<Delivery> {
    let start = START;
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
            id,
            integration: super::DEMO_INTEGRATION.into(),
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
                id: action.key(),
                clothing_g,
                at: done,
            });
            if rng.gen_bool(0.05) {
                out.push(Delivery::Complete {
                    id: action.key(),
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
