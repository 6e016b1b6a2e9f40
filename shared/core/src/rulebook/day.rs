//! The campaign calendar day: days since 1970-01-01 in the rulebook's time zone, written
//! `YYYY-MM-DD`. Integer civil-date arithmetic (H. Hinnant's algorithm), no time library.

/// A campaign calendar day: days since 1970-01-01 in the rulebook's time zone. Written
/// `YYYY-MM-DD`. Integer civil-date arithmetic (H. Hinnant's algorithm), no time library.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Day(pub i64);

impl Day {
    pub fn of(at: i64, utc_offset_s: i32) -> Day {
        Day((at + i64::from(utc_offset_s)).div_euclid(86_400))
    }

    /// (year, month, day) of the proleptic Gregorian calendar.
    pub fn civil(self) -> (i64, u32, u32) {
        let z = self.0 + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        (yoe + era * 400 + i64::from(m <= 2), m, d)
    }

    fn from_civil(y: i64, m: u32, d: u32) -> Day {
        let y = if m <= 2 { y - 1 } else { y };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let mp = if m > 2 { m - 3 } else { m + 9 } as i64;
        let doy = (153 * mp + 2) / 5 + d as i64 - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        Day(era * 146_097 + doe - 719_468)
    }

    /// Reads exactly `YYYY-MM-DD` naming a real date.
    pub fn parse(s: &str) -> Option<Day> {
        let b = s.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return None;
        }
        let num = |r: std::ops::Range<usize>| -> Option<u32> {
            b[r].iter().try_fold(0u32, |n, &c| {
                c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
            })
        };
        let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
        let day = Day::from_civil(i64::from(y), m, d);
        (day.civil() == (i64::from(y), m, d)).then_some(day)
    }
}

impl std::fmt::Display for Day {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (y, m, d) = self.civil();
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;
    use proptest::prelude::*;

    #[test]
    fn day_parse_is_strict() {
        assert!(Day::parse("2026-11-11").is_some());
        for bad in [
            "2026-02-30",
            "2026-13-01",
            "2026-1-011",
            "2026/11/11",
            "+026-11-11",
            "",
        ] {
            assert_eq!(Day::parse(bad), None, "{bad}");
        }
    }

    proptest! {
        #[test]
        fn day_agrees_with_chrono(at in -10_000_000_000i64..10_000_000_000, offset in -86_399i32..86_399) {
            let tz = chrono::FixedOffset::east_opt(offset).unwrap();
            let expected = DateTime::from_timestamp(at, 0).unwrap().with_timezone(&tz).format("%Y-%m-%d").to_string();
            let day = Day::of(at, offset);
            prop_assert_eq!(day.to_string(), expected.clone());
            prop_assert_eq!(Day::parse(&expected), Some(day));
        }
    }
}
