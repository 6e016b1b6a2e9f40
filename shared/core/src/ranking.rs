//! Orders of merit: the public ranking of campuses, and where a member stands on their campus's
//! leaderboard.
//!
//! Both orders are total, so that a page boundary never falls inside a tie: campuses by CO2e
//! avoided, then by id; members by CO2e avoided, then by pseudonym. A leaderboard page is then
//! "the next `limit` after this standing", which a store answers with one ordered read however
//! many members tie.

use crate::domain::{Campus, Invalid, MemberId};
use crate::records::{Account, CampusDay, CampusTotals};
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::collections::BTreeMap;

/// The public ranking of campuses as last computed: one stored item, so a public read costs
/// one store request whatever the number of campuses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ranking {
    /// When it was computed (Unix seconds): entries credited after this are not in it yet.
    pub as_of: i64,
    /// Every registered campus, best first; a campus with no entry has zeros.
    pub campuses: Vec<RankedCampus>,
    /// The campuses' entries summed per campaign day, oldest first: the public page's chart.
    /// Absent from rankings kept before it existed.
    #[serde(default)]
    pub days: Vec<CampaignDay>,
}

/// Every campus's entries of one campaign day, summed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignDay {
    /// `YYYY-MM-DD`, the entries' `day`.
    pub day: String,
    pub bonus: i64,
    pub co2e_g: i64,
    pub entries: u64,
}

impl CampaignDay {
    pub fn add(&mut self, row: &CampusDay) {
        self.bonus += row.bonus;
        self.co2e_g += row.co2e_g;
        self.entries += row.entries;
    }
}

/// Campus rows summed per day, oldest first.
pub fn campaign_days(rows: &[CampusDay]) -> Vec<CampaignDay> {
    let mut days: BTreeMap<&str, CampaignDay> = BTreeMap::new();
    for r in rows {
        days.entry(&r.day)
            .or_insert_with(|| CampaignDay {
                day: r.day.clone(),
                bonus: 0,
                co2e_g: 0,
                entries: 0,
            })
            .add(r);
    }
    days.into_values().collect()
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RankedCampus {
    /// 1-based position in the ranking.
    pub rank: u32,
    pub campus: String,
    pub name: String,
    pub city: String,
    pub co2e_g: i64,
    pub bonus: i64,
    pub entries: u64,
}

impl Ranking {
    /// Ranks every campus in `campuses` by its totals in `totals` (most CO2e first, then by
    /// id). Totals of a campus no longer registered are left out.
    pub fn of(campuses: &[Campus], totals: &[CampusTotals], as_of: i64) -> Ranking {
        let mut rows: Vec<RankedCampus> = campuses
            .iter()
            .map(|c| {
                let t = totals.iter().find(|t| t.campus == c.id);
                RankedCampus {
                    rank: 0,
                    campus: c.id.clone(),
                    name: c.name.clone(),
                    city: c.city.clone(),
                    co2e_g: t.map_or(0, |t| t.co2e_g),
                    bonus: t.map_or(0, |t| t.bonus),
                    entries: t.map_or(0, |t| t.entries),
                }
            })
            .collect();
        rows.sort_by(|a, b| b.co2e_g.cmp(&a.co2e_g).then(a.campus.cmp(&b.campus)));
        for (i, r) in rows.iter_mut().enumerate() {
            r.rank = u32::try_from(i + 1).unwrap_or(u32::MAX);
        }
        Ranking {
            as_of,
            campuses: rows,
            days: Vec::new(),
        }
    }
}

/// Where a member stands on a leaderboard: ordered by CO2e avoided, most first, then by
/// pseudonym. `a < b` means `a` ranks above `b`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Standing {
    pub co2e_g: i64,
    pub member: MemberId,
}

impl Ord for Standing {
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .co2e_g
            .cmp(&self.co2e_g)
            .then_with(|| self.member.cmp(&other.member))
    }
}

impl PartialOrd for Standing {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Standing {
    pub fn of(account: &Account) -> Standing {
        Standing {
            co2e_g: account.co2e_g,
            member: account.member.clone(),
        }
    }

    /// A string that sorts, byte by byte, exactly as standings do: the CO2e turned around
    /// (`i64::MAX - co2e_g`, which is never negative) in 20 digits, then the pseudonym. A store
    /// with sorted string keys (a DynamoDB index) reads a leaderboard in order with it.
    pub fn sort_key(&self) -> String {
        let inverted = (i128::from(i64::MAX) - i128::from(self.co2e_g)) as u64;
        format!("{inverted:020}#{}", self.member.as_str())
    }
}

/// One row of a campus leaderboard: what the board shows of a member's account, and all a
/// store's board index holds, so a standing's move rewrites a small row, not the account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BoardRow {
    pub member: MemberId,
    #[serde(default)]
    pub campus: Option<String>,
    #[serde(default)]
    pub balance: i64,
    #[serde(default)]
    pub co2e_g: i64,
    #[serde(default)]
    pub entries: u64,
}

impl BoardRow {
    pub fn of(account: &Account) -> BoardRow {
        BoardRow {
            member: account.member.clone(),
            campus: account.campus.clone(),
            balance: account.balance,
            co2e_g: account.co2e_g,
            entries: account.entries,
        }
    }

    pub fn standing(&self) -> Standing {
        Standing {
            co2e_g: self.co2e_g,
            member: self.member.clone(),
        }
    }
}

/// A leaderboard page's continuation: the rank and standing of the last row given. Written
/// `<rank>:<co2e_g>:<member>`; the rank only numbers the next page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoardCursor {
    pub rank: u64,
    pub standing: Standing,
}

impl BoardCursor {
    pub fn parse(s: &str) -> Result<BoardCursor, Invalid> {
        let bad = || {
            Invalid::new(
                "bad_cursor",
                "after must be a `next` from a leaderboard page",
            )
        };
        let mut parts = s.splitn(3, ':');
        let (Some(rank), Some(co2e), Some(member)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        // At most 16 digits, as the spec's pattern says: every such number fits, and no rank
        // or CO2e reaches 2^53.
        let digits =
            |t: &str| !t.is_empty() && t.len() <= 16 && t.bytes().all(|b| b.is_ascii_digit());
        let co2e_digits = co2e.strip_prefix('-').unwrap_or(co2e);
        if !digits(rank) || !digits(co2e_digits) {
            return Err(bad());
        }
        Ok(BoardCursor {
            rank: rank.parse().map_err(|_| bad())?,
            standing: Standing {
                co2e_g: co2e.parse().map_err(|_| bad())?,
                member: MemberId::parse(member).map_err(|_| bad())?,
            },
        })
    }
}

impl std::fmt::Display for BoardCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}:{}",
            self.rank,
            self.standing.co2e_g,
            self.standing.member.as_str()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn member(n: u64) -> MemberId {
        MemberId::parse(&format!("{n:064x}")).expect("pseudonym")
    }

    fn campus(id: &str) -> Campus {
        Campus {
            id: id.into(),
            name: format!("{id} university"),
            city: "Hangzhou".into(),
        }
    }

    #[test]
    fn ranking_breaks_ties_by_id_and_keeps_campuses_without_entries() {
        let campuses = [
            campus("zju"),
            campus("sjtu"),
            campus("fudan"),
            campus("pku"),
        ];
        let totals = [
            CampusTotals {
                campus: "zju".into(),
                co2e_g: 500,
                bonus: 5,
                entries: 2,
            },
            CampusTotals {
                campus: "fudan".into(),
                co2e_g: 500,
                bonus: 9,
                entries: 3,
            },
            CampusTotals {
                campus: "gone".into(),
                co2e_g: 9_000,
                bonus: 1,
                entries: 1,
            },
        ];
        let r = Ranking::of(&campuses, &totals, 7);
        let order: Vec<(&str, u32, i64)> = r
            .campuses
            .iter()
            .map(|c| (c.campus.as_str(), c.rank, c.co2e_g))
            .collect();
        assert_eq!(
            order,
            [
                ("fudan", 1, 500),
                ("zju", 2, 500),
                ("pku", 3, 0),
                ("sjtu", 4, 0)
            ]
        );
        assert_eq!(r.as_of, 7);
        assert_eq!(r.campuses[0].bonus, 9);
    }

    #[test]
    fn cursor_round_trips_and_refuses_what_it_did_not_write() {
        let c = BoardCursor {
            rank: 10,
            standing: Standing {
                co2e_g: -25,
                member: member(3),
            },
        };
        assert_eq!(BoardCursor::parse(&c.to_string()), Ok(c));
        let long = format!("12345678901234567:0:{}", member(1).as_str());
        for bad in ["", "1:2", "x:0:ab", "1:+5:ab", "1:0:not-hex", long.as_str()] {
            assert_eq!(
                BoardCursor::parse(bad).map_err(|e| e.code),
                Err("bad_cursor"),
                "{bad}"
            );
        }
    }

    proptest! {
        /// The sort key orders exactly as standings do, negative CO2e and ties included.
        #[test]
        fn sort_key_orders_as_standings(
            a in any::<i64>(), b in prop_oneof![any::<i64>(), Just(0i64)],
            ma in 0u64..4, mb in 0u64..4,
        ) {
            let x = Standing { co2e_g: a, member: member(ma) };
            let y = Standing { co2e_g: b, member: member(mb) };
            prop_assert_eq!(x.cmp(&y), x.sort_key().cmp(&y.sort_key()));
        }
    }
}
