//! The demo's packaging second life: at the end of each campaign day, once the day's drop-offs
//! are credited, every station reports what it did with its stock, through the same store call
//! intake makes (`Disposing::dispose`), so the mass balance is enforced as in production.
//!
//! - Each station sends out parcels, about half of them in recycled boxes taken from its stock
//!   (so the national reuse rate comes out near one half), and carries the rest to the next day.
//! - Every third day a station bales most of what is left for the mill of its region, on a
//!   weighbridge ticket.
//! - Every fifth day each mill pulps the tickets it holds, several stations' at once, into a
//!   workbook batch (reported by the station whose ticket came first), and gives the workbooks
//!   to elementary schools through public welfare organisations, in two or three donations.
//!
//! Seeded like the rest of the demo. A data directory that already holds disposition figures is
//! left as it is: a second run replays the actions and reports nothing new.

use greenloop::disposition::{Disposal, Draw, Params, Report};
use greenloop::store::{Store, StoreError};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const MILLS: [&str; 6] = [
    "mill-east",
    "mill-north",
    "mill-south",
    "mill-west",
    "mill-central",
    "mill-northeast",
];
const ORGANISATIONS: [&str; 2] = ["cfpa", "cydf"];

/// How the stations' reports fared.
#[derive(Default)]
pub(super) struct Reported {
    pub(super) entered: u64,
    /// Refused by the mass balance: none, when the demo keeps to its stock.
    pub(super) refused: u64,
    /// The data directory already had disposition figures: nothing was reported.
    pub(super) skipped: bool,
}

pub(super) struct Disposals {
    rng: StdRng,
    seed: u64,
    integration: String,
    /// (station, its mill).
    stations: Vec<(String, usize)>,
    /// Per mill, the tickets not pulped yet: (ticket, grams, the station that baled it).
    tickets: Vec<Vec<(String, u64, String)>>,
    pub(super) reported: Reported,
}

impl Disposals {
    /// `stations`: (station id, city) of every station, in registry order.
    pub(super) fn new(seed: u64, integration: &str, stations: &[(String, String)]) -> Self {
        let mill_of = |city: &str| city.bytes().map(usize::from).sum::<usize>() % MILLS.len();
        Disposals {
            rng: StdRng::seed_from_u64(seed ^ 0x0d15_7051),
            seed,
            integration: integration.to_owned(),
            stations: stations
                .iter()
                .map(|(s, city)| (s.clone(), mill_of(city)))
                .collect(),
            tickets: vec![Vec::new(); MILLS.len()],
            reported: Reported::default(),
        }
    }

    /// Whether the store holds disposition figures already (a second run on the same data).
    pub(super) async fn already_reported(store: &dyn Store) -> Result<bool, StoreError> {
        Ok(store
            .disposition_totals()
            .await?
            .iter()
            .any(|(_, t)| t.parcels > 0 || t.baled_g > 0))
    }

    /// Day `day` (0 = Nov 1) ends at `at`: every station reports.
    pub(super) async fn day(&mut self, store: &dyn Store, day: u32, at: i64) -> Result<(), String> {
        let params = Params::builtin();
        for i in 0..self.stations.len() {
            let (station, mill) = self.stations[i].clone();
            let stock: u64 = store
                .station_stock(&station)
                .await
                .map_err(|e| e.to_string())?
                .iter()
                .map(|s| s.stock())
                .sum();
            let mut left = stock;
            if stock > 0 {
                let reused = (stock as f64 * self.rng.gen_range(0.35..0.55)) as u64;
                if reused > 0 {
                    let parcels = (reused as f64 * self.rng.gen_range(1.8..2.2)).ceil() as u64;
                    let r = Report::Outgoing {
                        parcels,
                        reused_boxes: reused,
                    };
                    self.report(store, &station, &format!("out-{day}"), at, r)
                        .await?;
                    left -= reused;
                }
            }
            if (day + i as u32).is_multiple_of(3) && left >= 10 {
                let boxes = left * 7 / 10;
                // Lighter than the 300 g the balance assumes, so the bale fits the stock.
                let baled_g = boxes * self.rng.gen_range(240..=300);
                let ticket = format!("T{}-{day:02}-{i:04}", self.seed);
                let r = Report::Baled {
                    baled_g,
                    mill: MILLS[mill].into(),
                    ticket: ticket.clone(),
                };
                debug_assert!(params.boxes_in(baled_g) <= left);
                if self
                    .report(store, &station, &format!("bale-{day}"), at, r)
                    .await?
                {
                    self.tickets[mill].push((ticket, baled_g, station.clone()));
                }
            }
        }
        if day % 5 == 4 {
            for mill in 0..MILLS.len() {
                self.pulp(store, mill, day, at).await?;
            }
        }
        Ok(())
    }

    /// A mill pulps the tickets it holds, 16 at most per batch, and gives the workbooks away.
    async fn pulp(
        &mut self,
        store: &dyn Store,
        mill: usize,
        day: u32,
        at: i64,
    ) -> Result<(), String> {
        let params = Params::builtin();
        let held = std::mem::take(&mut self.tickets[mill]);
        for (n, chunk) in held.chunks(16).enumerate() {
            let station = chunk[0].2.clone();
            let batch = format!("B{}-{day:02}-{n}", self.seed);
            let draws: Vec<Draw> = chunk
                .iter()
                .map(|(ticket, g, _)| Draw {
                    ticket: ticket.clone(),
                    pulp_g: *g,
                })
                .collect();
            let pulp_g: u64 = draws.iter().map(|d| d.pulp_g).sum();
            // Some fibre is lost and the books vary: 85% kept, 80 g a book.
            let workbooks = (pulp_g * 85 / 100 / 80).min(params.max_workbooks(pulp_g));
            let r = Report::Workbooks {
                batch: batch.clone(),
                draws,
                mill: MILLS[mill].into(),
                workbooks,
            };
            if !self
                .report(store, &station, &format!("wb-{batch}"), at, r)
                .await?
            {
                continue;
            }
            let mut left = workbooks;
            let gifts = self.rng.gen_range(2..=3);
            for g in 0..gifts {
                let n = if g + 1 == gifts { left } else { left / 2 };
                if n == 0 {
                    continue;
                }
                left -= n;
                let school = format!("school-{}-{}", MILLS[mill], self.rng.gen_range(1..=40));
                let organisation = ORGANISATIONS[self.rng.gen_range(0..ORGANISATIONS.len())];
                let r = Report::Donation {
                    batch: batch.clone(),
                    mill: MILLS[mill].into(),
                    organisation: organisation.into(),
                    receipt: format!("R-{batch}-{g}"),
                    school,
                    workbooks: n,
                };
                self.report(store, &station, &format!("give-{batch}-{g}"), at, r)
                    .await?;
            }
        }
        Ok(())
    }

    /// Enters one report; false if the balance refused it.
    async fn report(
        &mut self,
        store: &dyn Store,
        station: &str,
        id: &str,
        at: i64,
        report: Report,
    ) -> Result<bool, String> {
        let d = Disposal {
            id: format!("s{}-{id}-{station}", self.seed)
                .chars()
                .take(64)
                .collect(),
            integration: self.integration.clone(),
            station: station.to_owned(),
            at,
            report,
        };
        d.validate(Params::builtin()).map_err(|e| e.to_string())?;
        match store.dispose(&d, Params::builtin()).await {
            Ok(_) => {
                self.reported.entered += 1;
                Ok(true)
            }
            Err(StoreError::Invalid(_)) => {
                self.reported.refused += 1;
                Ok(false)
            }
            Err(e) => Err(e.to_string()),
        }
    }
}
