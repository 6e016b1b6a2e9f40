//! Plausibility: the most of each sort of item one member may bring in on one campaign day.
//!
//! An action that would take the member's accepted totals for its day past a limit, in any sort
//! it brings, is credited nothing, neither points nor grams (reason `implausible`), so one
//! forged or mistyped 500 kg pickup cannot move a campus ranking. Its items are not accepted, so
//! they do not count toward the day's totals and a refused outlier does not block the member's
//! genuine later actions. Entries carry the totals before them (`day_items_before`), as they
//! carry `day_before` for the points cap, so a verifier recomputes the verdict from the entry
//! alone and checks the totals along the member's chain. The defaults and their reasoning are
//! in `docs/ledger-format.md` §5.3.

use crate::domain::{DayItems, Invalid, MAX_BOOKS, MAX_BOXES, MAX_CLOTHING_G, MAX_SHOES};
use serde::{Deserialize, Serialize};

/// The limits, per member per campaign day, over all of the member's accepted actions of any
/// kind (a pledge's boxes count, as its items do everywhere else).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DailyLimits {
    pub books: u64,
    /// Boxes, counted over all lots.
    pub boxes: u64,
    pub clothing_g: u64,
    /// Pairs.
    pub shoes: u64,
}

/// A day's limit may not exceed this many of the largest single actions intake takes: beyond
/// that it is no limit, only a typo.
const MAX_ACTIONS_A_DAY: u64 = 100;

impl DailyLimits {
    /// Each limit is above 0 (0 would make every action bringing the sort implausible) and at
    /// most a hundred of the largest actions of its sort.
    pub(super) fn validate(&self) -> Result<(), Invalid> {
        let bounds = [
            ("books", self.books, u64::from(MAX_BOOKS)),
            ("boxes", self.boxes, MAX_BOXES),
            ("clothing_g", self.clothing_g, MAX_CLOTHING_G),
            ("shoes", self.shoes, u64::from(MAX_SHOES)),
        ];
        for (sort, limit, one_action) in bounds {
            let most = one_action * MAX_ACTIONS_A_DAY;
            if limit == 0 || limit > most {
                return Err(Invalid::new(
                    "bad_rulebook",
                    format!("daily_limits.{sort} must be 1 to {most}, not {limit}"),
                ));
            }
        }
        Ok(())
    }

    /// Whether an action bringing `brought` would take a member who already had `before`
    /// accepted that day past a limit: in some sort it brings (amount above 0), `before` plus
    /// the amount is over the limit. A sort the action does not bring is not judged, so a
    /// member over a limit of a newer, lower rulebook can still bring other sorts.
    pub fn exceeded_by(&self, before: &DayItems, brought: &DayItems) -> bool {
        let limits = [self.books, self.boxes, self.clothing_g, self.shoes];
        before
            .sorts()
            .into_iter()
            .zip(brought.sorts())
            .zip(limits)
            .any(|((had, adds), limit)| adds > 0 && had.saturating_add(adds) > limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ActionKind, BoxLot, Items};
    use crate::rulebook::{DayBefore, Reason, Rulebook};
    use proptest::prelude::*;

    fn limits() -> DailyLimits {
        DailyLimits {
            books: 50,
            boxes: 60,
            clothing_g: 30_000,
            shoes: 10,
        }
    }

    fn items(books: u64, boxes: u64, clothing_g: u64, shoes: u64) -> DayItems {
        DayItems {
            books,
            boxes,
            clothing_g,
            shoes,
        }
    }

    #[test]
    fn at_the_limit_passes_one_over_does_not() {
        let l = limits();
        let none = DayItems::default();
        assert!(!l.exceeded_by(&none, &items(50, 60, 30_000, 10)));
        assert!(!l.exceeded_by(&items(49, 0, 0, 0), &items(1, 0, 0, 0)));
        for over in [
            items(51, 0, 0, 0),
            items(0, 61, 0, 0),
            items(0, 0, 30_001, 0),
            items(0, 0, 0, 11),
        ] {
            assert!(l.exceeded_by(&none, &over), "{over}");
        }
        assert!(l.exceeded_by(&items(0, 59, 0, 0), &items(0, 2, 0, 0)));
    }

    #[test]
    fn only_the_sorts_brought_are_judged() {
        // Over the boxes limit already (an older, looser rulebook): shoes still pass.
        let l = limits();
        assert!(!l.exceeded_by(&items(0, 90, 0, 0), &items(0, 0, 0, 2)));
        assert!(l.exceeded_by(&items(0, 90, 0, 0), &items(0, 1, 0, 2)));
        // No overflow, whatever the stated totals.
        assert!(l.exceeded_by(&items(u64::MAX, 0, 0, 0), &items(1, 0, 0, 0)));
    }

    #[test]
    fn the_defaults_are_a_household_day() {
        assert_eq!(Rulebook::default_double11().daily_limits, limits());
    }

    #[test]
    fn limits_are_validated() {
        assert!(limits().validate().is_ok());
        let zero = DailyLimits {
            shoes: 0,
            ..limits()
        };
        assert!(zero.validate().unwrap_err().message.contains("shoes"));
        let huge = DailyLimits {
            clothing_g: MAX_CLOTHING_G * MAX_ACTIONS_A_DAY + 1,
            ..limits()
        };
        assert!(huge.validate().unwrap_err().message.contains("clothing_g"));
    }

    /// 2026-11-11 12:00 +08:00, inside the window; and 2026-11-21 12:00 +08:00, after it.
    const IN: i64 = 1_794_369_600;
    const AFTER: i64 = 1_795_233_600;

    fn boxes(count: u32) -> Items {
        Items {
            boxes: vec![BoxLot { brand: None, count }],
            ..Items::default()
        }
    }

    fn had(points: i64, items: DayItems) -> DayBefore {
        DayBefore { points, items }
    }

    #[test]
    fn at_the_limit_is_credited_one_over_is_implausible() {
        let r = Rulebook::default_double11();
        let at_limit = r.assess(ActionKind::Scan, &boxes(60), IN, &DayBefore::default());
        assert_eq!((at_limit.points, at_limit.bonus), (600, 200));
        assert_eq!(at_limit.reason, Reason::Capped);
        assert_eq!(at_limit.co2e_g(2_220), 2_220);
        let over = r.assess(ActionKind::Scan, &boxes(61), IN, &DayBefore::default());
        assert_eq!(
            (over.points, over.bonus),
            (610, 0),
            "points stay the items' worth"
        );
        assert_eq!(over.reason, Reason::Implausible);
        assert_eq!(over.co2e_g(2_257), 0, "no grams either");
        // The same, reached over the day: 59 accepted, then 1 more passes and 2 do not.
        let before = had(0, items(0, 59, 0, 0));
        let one = r.assess(ActionKind::Scan, &boxes(1), IN, &before);
        assert_eq!((one.bonus, one.reason), (10, Reason::Ok));
        let two = r.assess(ActionKind::Scan, &boxes(2), IN, &before);
        assert_eq!((two.bonus, two.reason), (0, Reason::Implausible));
        // The example: one 500 kg pickup.
        let pickup = Items {
            clothing_g: 500_000,
            ..Items::default()
        };
        let a = r.assess(ActionKind::Pickup, &pickup, IN, &DayBefore::default());
        assert_eq!(
            (a.points, a.bonus, a.reason),
            (2_500, 0, Reason::Implausible)
        );
        assert_eq!(a.co2e_g(1_500_000), 0);
    }

    #[test]
    fn implausible_comes_before_the_window_and_the_cap() {
        let r = Rulebook::default_double11();
        let after = r.assess(ActionKind::Scan, &boxes(61), AFTER, &DayBefore::default());
        assert_eq!((after.bonus, after.reason), (0, Reason::Implausible));
        assert_eq!(
            after.co2e_g(100),
            0,
            "outside the window grams count, but not these"
        );
        let plausible_after = r.assess(ActionKind::Scan, &boxes(60), AFTER, &DayBefore::default());
        assert_eq!(plausible_after.reason, Reason::OutsideWindow);
        assert_eq!(plausible_after.co2e_g(100), 100);
        let at_cap = had(200, items(0, 60, 0, 0));
        let a = r.assess(ActionKind::Scan, &boxes(1), IN, &at_cap);
        assert_eq!(a.reason, Reason::Implausible);
        let b = r.assess(
            ActionKind::Scan,
            &boxes(1),
            IN,
            &had(200, DayItems::default()),
        );
        assert_eq!(b.reason, Reason::Capped);
    }

    proptest! {
        /// Implausible exactly when a sort the action brings goes over; otherwise the verdict
        /// is the one the window and the cap give, as if there were no limits.
        #[test]
        fn limits_only_add_the_implausible_verdict(
            before in (0u64..80, 0u64..80, 0u64..40_000, 0u64..15),
            brought in (0u32..70, 0u32..70, 0u64..35_000, 0u32..15),
            points_before in 0i64..250, outside in any::<bool>(),
        ) {
            let r = Rulebook::default_double11();
            let (bb, bx, bc, bs) = before;
            let (nb, nx, nc, ns) = brought;
            let it = Items {
                books: nb,
                boxes: if nx > 0 { vec![BoxLot { brand: None, count: nx }] } else { vec![] },
                clothing_g: nc,
                shoes: ns,
            };
            let at = if outside { AFTER } else { IN };
            let a = r.assess(ActionKind::Scan, &it, at, &had(points_before, items(bb, bx, bc, bs)));
            let over = (nb > 0 && bb + u64::from(nb) > 50)
                || (nx > 0 && bx + u64::from(nx) > 60)
                || (nc > 0 && bc + nc > 30_000)
                || (ns > 0 && bs + u64::from(ns) > 10);
            prop_assert_eq!(a.reason == Reason::Implausible, over);
            let unlimited = r.assess(ActionKind::Scan, &it, at, &had(points_before, DayItems::default()));
            if over {
                prop_assert_eq!((a.bonus, a.co2e_g(7)), (0, 0));
                prop_assert_eq!(a.points, unlimited.points);
            } else {
                prop_assert_eq!(a, unlimited);
            }
        }
    }
}
