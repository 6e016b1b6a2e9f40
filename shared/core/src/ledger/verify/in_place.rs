//! The fast path: every check of one entry, on its stored bytes in place, with no copy or
//! allocation. It only accepts; an entry it does not accept goes to [`super::inspect`], which
//! finds and names the problem.

use super::{accepted, Credit, Verifier};
use crate::domain::check_id;
use crate::ledger::canonical::{self, EntryRef};
use crate::ledger::FORMAT_VERSION;
use crate::rulebook::{Day, DayBefore};

impl Verifier<'_> {
    /// Every check of one entry, in place: the stored bytes are read without copying or
    /// allocating ([`canonical::scan_ref`]). Only an entry that passes them all is taken; on
    /// anything else this returns false having changed nothing the report sees, and the general
    /// path ([`super::inspect`]) finds and names the problem, so verdicts are the general path's.
    pub(super) fn push_direct(&mut self, stored: &[u8]) -> bool {
        let Some(s) = canonical::scan_ref(stored) else {
            return false;
        };
        let e = &s.entry;
        let idx = self.chains.len() - 1;
        let summary = &self.chains[idx].summary;
        // Format (scan_ref already holds every integer within ±(2^53 - 1)), then place.
        if e.v != FORMAT_VERSION
            || !e.items.valid_for(e.kind)
            || check_id("integration", e.integration).is_err()
            || e.chain != summary.chain
            || e.seq != summary.entries
            || e.prev != summary.head
        {
            return false;
        }
        let Some(day) = self.recomputes(e) else {
            return false;
        };
        let hash = s.leaf_hash(stored);
        if hash != e.hash {
            return false;
        }
        let state = &mut self.chains[idx];
        if let Err(p) = state.take(hash) {
            state.problem = Some(p);
            return true;
        }
        if let Some(boxes) = super::collected(e.kind, e.reason, e.items.box_count) {
            self.balance.collect(idx as u32, e.station, boxes);
        }
        self.tally.add_credit(
            Credit {
                member: e.member,
                campus: e.campus,
                integration: e.integration,
                action: e.action,
                seq: e.seq,
                hash,
                member_prev: e.member_prev,
                day,
                day_before: e.day_before,
                day_items_before: e.day_items_before,
                accepted: accepted(e.reason, e.items.day_items()),
                bonus: e.bonus,
                co2e_g: e.co2e_g,
            },
            idx as u32,
        );
        true
    }

    /// Whether the entry's amounts recompute exactly as [`recompute`] checks them; then the
    /// entry's day.
    fn recomputes(&mut self, e: &EntryRef<'_>) -> Option<Day> {
        let rulebook = match self.last.rulebook {
            Some(r) if r.version == e.rulebook => r,
            _ => {
                let r = self.catalog.rulebook(e.rulebook)?;
                self.last.rulebook = Some(r);
                r
            }
        };
        let factors = match self.last.factors {
            Some(f) if f.version == e.factors => f,
            _ => {
                let f = self.catalog.factors(e.factors)?;
                self.last.factors = Some(f);
                f
            }
        };
        let items = &e.items;
        let points = rulebook.points_of(
            e.kind,
            items.books,
            items.lots(),
            items.clothing_g,
            items.shoes,
        );
        let before = DayBefore {
            points: e.day_before,
            items: e.day_items_before,
        };
        let a = rulebook.assess_points(points, &items.day_items(), e.at, &before);
        let co2e_g = a.co2e_g(factors.co2e_g_of(
            e.kind,
            items.box_count,
            items.clothing_g,
            items.shoes,
            items.books,
        ));
        if e.points != a.points || e.bonus != a.bonus || e.reason != a.reason || e.co2e_g != co2e_g
        {
            return None;
        }
        let day = match self.last.day {
            Some((text, day)) if text == e.day.as_bytes() => day,
            _ => {
                let day = Day::parse(e.day)?;
                self.last.day = Some((e.day.as_bytes().try_into().ok()?, day));
                day
            }
        };
        (day == a.day).then_some(day)
    }
}
