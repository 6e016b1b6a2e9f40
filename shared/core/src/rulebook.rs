//! The rulebook: bonus rates, partner-brand multipliers, the campaign window, the daily cap and
//! the daily plausibility limits.
//!
//! A rulebook is versioned data (JSON), never code constants: every ledger entry names the
//! version it was assessed under, so an auditor can recompute its points.
//!
//! Rounding (normative, see `docs/ledger-format.md`): all arithmetic is on integers. Each term
//! multiplies first and divides once, truncating toward zero:
//! - boxes: `floor(Σ count × box × pct / 100)`, where `pct` is the partner multiplier for a
//!   partner brand's lot and 100 otherwise;
//! - clothing: `floor(clothing_g × clothing_per_kg / 1000)`;
//! - shoes and books: `pairs × shoe_pair`, `books × book`.
//!
//! What an action is credited, in this order ([`Rulebook::assess`]):
//! 1. `implausible`, bonus 0 and no grams, if it would take the member's accepted items of its
//!    campaign day past a daily limit ([`DailyLimits::exceeded_by`]), inside the window or not;
//! 2. `outside_window`, bonus 0, if it happened outside the campaign window;
//! 3. otherwise as much of its points as the daily cap leaves room for: `ok`, or `capped`.

mod day;
mod limits;

pub use day::Day;
pub use limits::DailyLimits;

use crate::domain::{check_id, ActionKind, DayItems, Invalid, Items};
use chrono::DateTime;
use serde::{Deserialize, Serialize};

/// The default rulebook for Double 11 2026.
pub const DEFAULT_RULEBOOK: &str = include_str!("../data/rulebook-double11-2026.2.json");

/// Bonus points per unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Points {
    #[serde(rename = "box")]
    pub per_box: u32,
    pub pledged_box: u32,
    pub clothing_per_kg: u32,
    pub shoe_pair: u32,
    pub book: u32,
}

/// The campaign window, both ends inclusive, as RFC 3339 times.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Window {
    pub start: String,
    pub end: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Unchecked")]
pub struct Rulebook {
    pub version: String,
    /// The offset of the campaign's calendar day from UTC (28800 for UTC+08:00).
    pub utc_offset_s: i32,
    pub window: Window,
    pub points: Points,
    /// Multiplier, in percent, for boxes of a partner brand (200 means ×2).
    pub partner_multiplier_pct: u32,
    pub partner_brands: Vec<String>,
    /// Most points one member can be credited in one campaign day.
    pub daily_cap: u32,
    /// How late an action may arrive, in seconds: intake refuses one dated more than this
    /// before now (`stale_action`), and closes this long after the window ends.
    pub intake_grace_s: u32,
    /// The most of each sort of item one member may bring in on one campaign day.
    pub daily_limits: DailyLimits,
    #[serde(skip)]
    parsed: Parsed,
}

/// A rulebook as written, before validation: deserializing a [`Rulebook`] always goes through
/// this and [`Rulebook::prepare`], so no path can skip the checks or the parsed window.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Unchecked {
    version: String,
    utc_offset_s: i32,
    window: Window,
    points: Points,
    partner_multiplier_pct: u32,
    partner_brands: Vec<String>,
    daily_cap: u32,
    intake_grace_s: u32,
    daily_limits: DailyLimits,
}

impl TryFrom<Unchecked> for Rulebook {
    type Error = Invalid;
    fn try_from(u: Unchecked) -> Result<Self, Invalid> {
        let mut rb = Rulebook {
            version: u.version,
            utc_offset_s: u.utc_offset_s,
            window: u.window,
            points: u.points,
            partner_multiplier_pct: u.partner_multiplier_pct,
            partner_brands: u.partner_brands,
            daily_cap: u.daily_cap,
            intake_grace_s: u.intake_grace_s,
            daily_limits: u.daily_limits,
            parsed: Parsed::default(),
        };
        rb.prepare()?;
        Ok(rb)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Parsed {
    start: i64,
    end: i64,
}

/// Why an entry earned what it earned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// Full points.
    Ok,
    /// Fewer points (maybe 0) because the member reached the daily cap.
    Capped,
    /// No points: the action happened outside the campaign window.
    OutsideWindow,
    /// No points and no grams: the action would take the member's items of the day past a
    /// daily plausibility limit. Its items do not count toward the day's totals.
    Implausible,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Ok => "ok",
            Reason::Capped => "capped",
            Reason::OutsideWindow => "outside_window",
            Reason::Implausible => "implausible",
        }
    }

    /// Whether the entry's items are accepted: counted toward the member's day totals and, as
    /// grams, toward carbon. All but an implausible entry's are.
    pub fn accepts_items(self) -> bool {
        self != Reason::Implausible
    }
}

/// What a member already had on an action's campaign day, before it, in member-chain order: the
/// inputs an entry carries as `day_before` and `day_items_before`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DayBefore {
    /// Points credited (the sum of `bonus`), for the daily cap.
    pub points: i64,
    /// Items accepted, for the plausibility limits.
    pub items: DayItems,
}

/// The outcome of applying a rulebook to one action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assessment {
    /// Points the items are worth before window and cap.
    pub points: i64,
    /// Points actually credited.
    pub bonus: i64,
    pub reason: Reason,
    /// The campaign calendar day of the action.
    pub day: Day,
}

impl Assessment {
    /// The grams an entry records for items that avoid `grams`: none when they are implausible.
    pub fn co2e_g(&self, grams: i64) -> i64 {
        if self.reason.accepts_items() {
            grams
        } else {
            0
        }
    }
}

const MAX_RATE: u32 = 100_000;

impl Rulebook {
    /// Parses and validates a rulebook document.
    pub fn from_json(text: &str) -> Result<Self, Invalid> {
        serde_json::from_str(text)
            .map_err(|e| Invalid::new("bad_rulebook", format!("rulebook is not valid: {e}")))
    }

    /// The built-in Double 11 2026 rulebook.
    pub fn default_double11() -> Self {
        Self::from_json(DEFAULT_RULEBOOK).expect("the built-in rulebook is valid")
    }

    fn prepare(&mut self) -> Result<(), Invalid> {
        let bad = |m: String| Invalid::new("bad_rulebook", m);
        check_id("rulebook version", &self.version)?;
        if self.utc_offset_s.abs() >= 86_400 {
            return Err(bad("utc_offset_s must be within ±24 h".into()));
        }
        let time = |s: &str| {
            DateTime::parse_from_rfc3339(s)
                .map(|t| t.timestamp())
                .map_err(|e| bad(format!("window time {s:?}: {e}")))
        };
        let (start, end) = (time(&self.window.start)?, time(&self.window.end)?);
        if start > end {
            return Err(bad("window starts after it ends".into()));
        }
        let p = &self.points;
        let rates = [
            p.per_box,
            p.pledged_box,
            p.clothing_per_kg,
            p.shoe_pair,
            p.book,
        ];
        if self.intake_grace_s > 30 * 86_400 {
            return Err(bad("intake_grace_s is over 30 days".into()));
        }
        if rates.iter().any(|&r| r > MAX_RATE) || self.partner_multiplier_pct > 1_000 {
            return Err(bad("a rate is implausibly large".into()));
        }
        for b in &self.partner_brands {
            check_id("brand", b)?;
        }
        self.daily_limits.validate()?;
        self.parsed = Parsed { start, end };
        Ok(())
    }

    /// This rulebook as version `version` with the window `[start, end]` (Unix seconds), for a
    /// rehearsal or a test campaign that runs now; everything else is kept.
    pub fn with_window(&self, version: &str, start: i64, end: i64) -> Result<Self, Invalid> {
        let tz = chrono::FixedOffset::east_opt(self.utc_offset_s)
            .ok_or_else(|| Invalid::new("bad_rulebook", "utc_offset_s is out of range"))?;
        let time = |t: i64| {
            DateTime::from_timestamp(t, 0)
                .map(|d| d.with_timezone(&tz).to_rfc3339())
                .ok_or_else(|| Invalid::new("bad_rulebook", "window time is out of range"))
        };
        let mut rb = self.clone();
        rb.version = version.to_owned();
        rb.window = Window {
            start: time(start)?,
            end: time(end)?,
        };
        rb.prepare()?;
        Ok(rb)
    }

    /// The campaign calendar day that a Unix time falls on.
    pub fn day_of(&self, at: i64) -> Day {
        Day::of(at, self.utc_offset_s)
    }

    pub fn in_window(&self, at: i64) -> bool {
        self.parsed.start <= at && at <= self.parsed.end
    }

    /// When intake closes: the window's end plus the grace. Nothing is recorded after it.
    pub fn intake_closes(&self) -> i64 {
        self.parsed.end + i64::from(self.intake_grace_s)
    }

    /// Whether intake takes, at time `now`, an action dated `at`: refused as `intake_closed`
    /// after [`Rulebook::intake_closes`], as `stale_action` when dated more than the grace
    /// before `now`. (The future is the signature's business: see `TOLERANCE_S`.)
    pub fn admits(&self, at: i64, now: i64) -> Result<(), Invalid> {
        if now > self.intake_closes() {
            return Err(Invalid::new(
                "intake_closed",
                format!(
                    "intake for campaign {} closed {} s after its window ended",
                    self.version, self.intake_grace_s
                ),
            ));
        }
        if at < now - i64::from(self.intake_grace_s) {
            return Err(Invalid::new(
                "stale_action",
                format!(
                    "the action is dated more than {} s ago; send actions within the grace",
                    self.intake_grace_s
                ),
            ));
        }
        Ok(())
    }

    pub fn is_partner(&self, brand: &str) -> bool {
        self.partner_brands.iter().any(|b| b == brand)
    }

    /// What the items of an action are worth, before window and cap.
    pub fn points(&self, kind: ActionKind, items: &Items) -> i64 {
        self.points_of(
            kind,
            items.books,
            items.boxes.iter().map(|l| (l.brand.as_deref(), l.count)),
            items.clothing_g,
            items.shoes,
        )
    }

    /// [`Rulebook::points`] from the items' parts, so a reader that borrows them from stored
    /// bytes need not build an [`Items`]: `lots` yields each box lot's (brand, count).
    pub fn points_of<'b>(
        &self,
        kind: ActionKind,
        books: u32,
        lots: impl Iterator<Item = (Option<&'b str>, u32)>,
        clothing_g: u64,
        shoes: u32,
    ) -> i64 {
        let p = &self.points;
        let per_kg = |g: u64| (g as i64 * p.clothing_per_kg as i64) / 1000;
        match kind {
            ActionKind::Scan => {
                let box_pct: i64 = lots
                    .map(|(brand, count)| {
                        let pct = match brand {
                            Some(b) if self.is_partner(b) => self.partner_multiplier_pct,
                            _ => 100,
                        };
                        count as i64 * p.per_box as i64 * pct as i64
                    })
                    .sum();
                box_pct / 100
                    + per_kg(clothing_g)
                    + shoes as i64 * p.shoe_pair as i64
                    + books as i64 * p.book as i64
            }
            ActionKind::Pledge => {
                let boxes: u64 = lots.map(|(_, count)| u64::from(count)).sum();
                boxes as i64 * p.pledged_box as i64
            }
            ActionKind::Pickup => per_kg(clothing_g),
        }
    }

    /// Applies the daily limits, the window and the daily cap, in that order. `before` is what
    /// the member already had on the action's campaign day.
    pub fn assess(
        &self,
        kind: ActionKind,
        items: &Items,
        at: i64,
        before: &DayBefore,
    ) -> Assessment {
        self.assess_points(self.points(kind, items), &DayItems::of(items), at, before)
    }

    /// [`Rulebook::assess`] for items already worth `points` (see [`Rulebook::points_of`]) and
    /// amounting to `brought`.
    pub fn assess_points(
        &self,
        points: i64,
        brought: &DayItems,
        at: i64,
        before: &DayBefore,
    ) -> Assessment {
        let day = self.day_of(at);
        let (bonus, reason) = if self.daily_limits.exceeded_by(&before.items, brought) {
            (0, Reason::Implausible)
        } else if !self.in_window(at) {
            (0, Reason::OutsideWindow)
        } else {
            let room = (self.daily_cap as i64 - before.points).max(0);
            if points > room {
                (room, Reason::Capped)
            } else {
                (points, Reason::Ok)
            }
        };
        Assessment {
            points,
            bonus,
            reason,
            day,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::BoxLot;
    use proptest::prelude::*;

    fn rb() -> Rulebook {
        Rulebook::default_double11()
    }

    fn at(s: &str) -> i64 {
        DateTime::parse_from_rfc3339(s).unwrap().timestamp()
    }

    /// A day so far with `points` credited and no items.
    fn pts(points: i64) -> DayBefore {
        DayBefore {
            points,
            ..DayBefore::default()
        }
    }

    fn boxes(brand: Option<&str>, count: u32) -> Items {
        Items {
            boxes: vec![BoxLot {
                brand: brand.map(str::to_owned),
                count,
            }],
            ..Items::default()
        }
    }

    #[test]
    fn default_rates_match_the_brief() {
        let r = rb();
        assert_eq!(r.points(ActionKind::Scan, &boxes(None, 3)), 30);
        assert_eq!(r.points(ActionKind::Scan, &boxes(Some("brand-07"), 3)), 60);
        assert_eq!(
            r.points(ActionKind::Scan, &boxes(Some("not-a-partner"), 3)),
            30
        );
        assert_eq!(r.points(ActionKind::Pledge, &boxes(None, 4)), 8);
        let mixed = Items {
            books: 2,
            shoes: 1,
            clothing_g: 1999,
            ..Items::default()
        };
        // 2 books × 3 + 1 pair × 8 + floor(1999 × 5 / 1000) = 6 + 8 + 9
        assert_eq!(r.points(ActionKind::Scan, &mixed), 23);
        let pickup = Items {
            clothing_g: 2500,
            ..Items::default()
        };
        assert_eq!(r.points(ActionKind::Pickup, &pickup), 12);
        assert_eq!(r.daily_cap, 200);
    }

    #[test]
    fn window_is_inclusive_and_in_utc_plus_8() {
        let r = rb();
        let items = boxes(None, 1);
        let first = r.assess(
            ActionKind::Scan,
            &items,
            at("2026-11-01T00:00:00+08:00"),
            &pts(0),
        );
        assert_eq!((first.bonus, first.reason), (10, Reason::Ok));
        assert_eq!(first.day.to_string(), "2026-11-01");
        let before = r.assess(
            ActionKind::Scan,
            &items,
            at("2026-10-31T23:59:59+08:00"),
            &pts(0),
        );
        assert_eq!((before.bonus, before.reason), (0, Reason::OutsideWindow));
        assert_eq!(before.points, 10);
        let last = r.assess(
            ActionKind::Scan,
            &items,
            at("2026-11-20T23:59:59+08:00"),
            &pts(0),
        );
        assert_eq!(last.reason, Reason::Ok);
        let after = r.assess(
            ActionKind::Scan,
            &items,
            at("2026-11-21T00:00:00+08:00"),
            &pts(0),
        );
        assert_eq!(after.reason, Reason::OutsideWindow);
        // 16:30 UTC on the 10th is already the 11th in China.
        assert_eq!(
            r.day_of(at("2026-11-10T16:30:00Z")).to_string(),
            "2026-11-11"
        );
    }

    #[test]
    fn cap_clips_then_zeroes() {
        let r = rb();
        let t = at("2026-11-11T12:00:00+08:00");
        let a = r.assess(ActionKind::Scan, &boxes(None, 5), t, &pts(190));
        assert_eq!((a.points, a.bonus, a.reason), (50, 10, Reason::Capped));
        let b = r.assess(ActionKind::Scan, &boxes(None, 5), t, &pts(200));
        assert_eq!((b.bonus, b.reason), (0, Reason::Capped));
    }

    #[test]
    fn intake_takes_actions_within_the_grace_until_it_closes() {
        let r = rb();
        let grace = i64::from(r.intake_grace_s);
        assert_eq!(grace, 48 * 3600);
        let now = at("2026-11-20T12:00:00+08:00");
        assert!(r.admits(now, now).is_ok());
        assert!(r.admits(now - grace, now).is_ok());
        assert_eq!(
            r.admits(now - grace - 1, now).unwrap_err().code,
            "stale_action"
        );
        // On 20 November, 1-19 November are out of reach: no backdated bonus days.
        let first = at("2026-11-01T12:00:00+08:00");
        assert_eq!(r.admits(first, now).unwrap_err().code, "stale_action");
        let end = at("2026-11-20T23:59:59+08:00");
        assert_eq!(r.intake_closes(), end + grace);
        assert!(r.admits(end, end + grace).is_ok());
        assert_eq!(
            r.admits(end, end + grace + 1).unwrap_err().code,
            "intake_closed"
        );
    }

    #[test]
    fn a_rehearsal_window_moves_only_the_window() {
        let r = rb();
        let now = 1_900_000_000;
        let moved = r.with_window("rehearsal-1", now - 10, now + 10).unwrap();
        assert_eq!(moved.version, "rehearsal-1");
        assert!(moved.in_window(now - 10) && moved.in_window(now + 10));
        assert!(!moved.in_window(now - 11) && !moved.in_window(now + 11));
        assert_eq!(
            (moved.points.clone(), moved.daily_cap),
            (r.points.clone(), r.daily_cap)
        );
        let text = serde_json::to_string(&moved).unwrap();
        assert_eq!(Rulebook::from_json(&text).unwrap(), moved);
        assert!(r.with_window("x", now, now - 1).is_err());
    }

    #[test]
    fn bad_rulebooks_are_refused_with_a_reason() {
        assert!(Rulebook::from_json("{").is_err());
        let swapped =
            DEFAULT_RULEBOOK.replace("2026-11-01T00:00:00+08:00", "2026-12-01T00:00:00+08:00");
        assert!(Rulebook::from_json(&swapped)
            .unwrap_err()
            .message
            .contains("starts after"));
        let unknown = DEFAULT_RULEBOOK.replacen('{', "{\"bogus\": 1,", 1);
        assert!(Rulebook::from_json(&unknown).is_err());
    }

    proptest! {
        #[test]
        fn bonus_never_exceeds_points_or_cap(
            count in 1u32..1000, clothing in 0u64..500_000, shoes in 0u32..100, books in 0u32..1000,
            partner in any::<bool>(), day_before in 0i64..400, offset in -86_400i64 * 40..86_400 * 40,
        ) {
            let r = rb();
            let items = Items {
                boxes: vec![BoxLot { brand: partner.then(|| "brand-01".to_owned()), count }],
                clothing_g: clothing, shoes, books,
            };
            let t = at("2026-11-11T00:00:00+08:00") + offset;
            let a = r.assess(ActionKind::Scan, &items, t, &pts(day_before));
            prop_assert!(a.bonus >= 0);
            prop_assert!(a.bonus <= a.points);
            prop_assert!(a.bonus + day_before <= (r.daily_cap as i64).max(day_before));
            let plausible = !r.daily_limits.exceeded_by(&DayItems::default(), &DayItems::of(&items));
            if plausible && r.in_window(t) && day_before + a.points <= r.daily_cap as i64 {
                prop_assert_eq!(a.bonus, a.points);
            }
            // Points are monotone in every item count.
            let mut more = items.clone();
            more.books += 1;
            prop_assert!(r.points(ActionKind::Scan, &more) > a.points);
        }
    }

    #[test]
    fn every_deserialization_validates_and_prepares() {
        let rb = Rulebook::default_double11();
        let text = serde_json::to_string(&rb).unwrap();
        let back: Rulebook = serde_json::from_str(&text).unwrap();
        assert_eq!(back, rb, "the parsed window survives a serde round trip");
        assert!(back.in_window(1_793_462_400));
        let bad = text.replace("2026-11-01T00:00:00+08:00", "2026-12-31T00:00:00+08:00");
        assert!(
            serde_json::from_str::<Rulebook>(&bad).is_err(),
            "window starts after it ends"
        );
    }
}
