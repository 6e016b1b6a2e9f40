//! The general path: what an entry yields on its own (parsed, hashed, its amounts recomputed),
//! in parallel over a batch, then the checks that need its place in its chain, in the
//! documented order. It names every problem the verifier reports about an entry.

use super::{ChainSummary, Problem, Verifier};
use crate::catalog::Catalog;
use crate::digest::Digest;
use crate::disposition::{DispositionEntry, Params};
use crate::domain::check_id;
use crate::ledger::{CorrectionEntry, Entry, Leaf, FORMAT_VERSION};
use crate::rulebook::{Day, DayBefore};

impl Verifier<'_> {
    /// Inspects the buffered entries in parallel, then checks them in order.
    pub(super) fn flush(&mut self) {
        if self.ends.is_empty() {
            return;
        }
        let mut slices = Vec::with_capacity(self.ends.len());
        let mut start = 0;
        for &end in &self.ends {
            slices.push(&self.arena[start..end]);
            start = end;
        }
        let (catalog, params) = (self.catalog, self.params);
        let inspected = parallel_map(&slices, self.threads, |s| inspect(catalog, params, s));
        self.arena.clear();
        self.ends.clear();
        for ins in inspected {
            let idx = self.chains.len() - 1;
            if self.chains[idx].problem.is_some() {
                break;
            }
            self.accept(ins, idx);
        }
    }

    /// The in-order checks of an inspected entry; then it joins chain `idx` and the tally.
    pub(super) fn accept(&mut self, ins: Inspected, idx: usize) {
        let leaf = match self.in_order(ins, idx) {
            Ok(leaf) => leaf,
            Err(p) => return self.chains[idx].problem = Some(p),
        };
        if let Leaf::Disposition(d) = &leaf {
            // The station's stock, in chain order: before the tree takes the entry.
            let names = |c: u32| self.chains[c as usize].summary.chain.clone();
            if let Err(p) = self.balance.dispose(d, idx as u32, &names) {
                return self.chains[idx].problem = Some(p);
            }
        }
        let state = &mut self.chains[idx];
        let seq = state.summary.entries;
        if let Err(p) = state.take(leaf.hash()) {
            state.problem = Some(p);
            return;
        }
        match leaf {
            Leaf::Credit(entry) => {
                if let Some(boxes) = crate::ledger::collected_boxes(&entry) {
                    self.balance.collect(idx as u32, &entry.station, boxes);
                }
                self.tally.add(entry, idx as u32);
            }
            Leaf::Disposition(_) => {
                state.typed.insert(seq);
            }
            Leaf::Correction(c) => {
                state.typed.insert(seq);
                state.corrected.entry(c.corrects.seq).or_default().push((
                    c.from.clone(),
                    c.to.clone(),
                    seq,
                ));
                self.tally.add_correction(&c, idx as u32);
            }
        }
    }

    /// A correction's place (`docs/ledger-format.md` §13.3): it corrects a credit entry before
    /// it in this chain, as stored there; not for a pair of versions it was corrected for
    /// before; and from the version the entry counts under now.
    fn corrects(&self, c: &CorrectionEntry, idx: usize) -> Result<(), Problem> {
        let state = &self.chains[idx];
        let (chain, seq) = (&state.summary.chain, state.summary.entries);
        let e = &c.corrects;
        let at = usize::try_from(e.seq).unwrap_or(usize::MAX);
        if e.chain != *chain
            || e.seq >= seq
            || state.typed.contains(&e.seq)
            || state.hashes.get(at) != Some(&e.hash)
        {
            return Err(Problem::Correction {
                chain: chain.clone(),
                seq,
                detail: format!(
                    "it corrects chain {} seq {} (hash {}), which is no credit entry before it in this chain",
                    e.chain,
                    e.seq,
                    e.hash.short()
                ),
            });
        }
        let history = state.corrected.get(&e.seq);
        let before = history.and_then(|h| h.iter().find(|(f, t, _)| *f == c.from && *t == c.to));
        if let Some((_, _, first_seq)) = before {
            return Err(Problem::DuplicateCorrection {
                chain: chain.clone(),
                seq,
                corrected: e.seq,
                from: c.from.clone(),
                to: c.to.clone(),
                first_seq: *first_seq,
            });
        }
        let counted = history
            .and_then(|h| h.last())
            .map_or(e.factors.as_str(), |(_, to, _)| to.as_str());
        if counted != c.from {
            return Err(Problem::Correction {
                chain: chain.clone(),
                seq,
                detail: format!(
                    "from is {} but entry {} counts under {counted}",
                    c.from, e.seq
                ),
            });
        }
        Ok(())
    }

    /// The checks that need the entry's place in its chain, in the documented order.
    fn in_order(&self, ins: Inspected, idx: usize) -> Result<Leaf, Problem> {
        let ChainSummary {
            chain,
            entries: seq,
            ..
        } = &self.chains[idx].summary;
        let (chain, seq) = (chain.as_str(), *seq);
        let malformed = |detail| Problem::Malformed {
            chain: chain.into(),
            seq,
            detail,
        };
        let (leaf, computed, flaw) = match ins {
            Inspected::Unreadable(detail) => return Err(malformed(detail)),
            Inspected::Read {
                entry,
                computed,
                flaw,
            } => (Leaf::Credit(entry), computed, flaw),
            Inspected::Disposition {
                entry,
                computed,
                flaw,
            } => (Leaf::Disposition(entry), computed, flaw),
            Inspected::Correction {
                entry,
                computed,
                flaw,
            } => (Leaf::Correction(entry), computed, flaw),
        };
        let flaw = match flaw {
            Some(Flaw::Format(detail)) => return Err(malformed(detail)),
            other => other,
        };
        self.linked(&leaf, computed, idx)?;
        if let (Leaf::Correction(c), None | Some(Flaw::Recomputed { .. })) = (&leaf, &flaw) {
            self.corrects(c, idx)?;
        }
        match flaw {
            Some(Flaw::UnknownVersion(version)) => Err(Problem::UnknownVersion {
                chain: chain.into(),
                seq,
                version,
            }),
            Some(Flaw::Recomputed {
                field,
                stored,
                recomputed,
            }) => Err(Problem::Recomputed {
                chain: chain.into(),
                seq,
                field,
                stored,
                recomputed,
            }),
            Some(Flaw::Format(_)) => unreachable!("handled first"),
            None => Ok(leaf),
        }
    }

    /// The links every entry has, whatever its type: chain, seq, prev, hash.
    fn linked(&self, leaf: &Leaf, computed: Digest, idx: usize) -> Result<(), Problem> {
        let ChainSummary {
            chain,
            entries: seq,
            head,
            ..
        } = &self.chains[idx].summary;
        let (chain, seq) = (chain.as_str(), *seq);
        if leaf.chain() != chain {
            return Err(Problem::WrongChain {
                chain: chain.into(),
                seq,
                found: leaf.chain().into(),
            });
        }
        if leaf.seq() != seq {
            let (expected, found, chain) = (seq, leaf.seq(), chain.to_owned());
            return Err(if found > expected {
                Problem::SeqGap {
                    chain,
                    expected,
                    found,
                }
            } else {
                Problem::DuplicateSeq {
                    chain,
                    expected,
                    found,
                }
            });
        }
        if leaf.prev() != *head {
            return Err(Problem::BrokenPrev {
                chain: chain.into(),
                seq,
                expected: *head,
                found: leaf.prev(),
            });
        }
        if computed != leaf.hash() {
            return Err(Problem::BadHash {
                chain: chain.into(),
                seq,
                stored: leaf.hash(),
                computed,
            });
        }
        Ok(())
    }
}

/// What an entry yields on its own, without its neighbours: the parallel part of the work.
// `Read` is the common case; boxing it would cost an allocation per entry.
#[allow(clippy::large_enum_variant)]
pub(super) enum Inspected {
    Unreadable(String),
    Read {
        entry: Entry,
        computed: Digest,
        flaw: Option<Flaw>,
    },
    Disposition {
        entry: DispositionEntry,
        computed: Digest,
        flaw: Option<Flaw>,
    },
    Correction {
        entry: Box<CorrectionEntry>,
        computed: Digest,
        flaw: Option<Flaw>,
    },
}

/// A problem an entry has on its own; it becomes a [`Problem`] once its place is known.
pub(super) enum Flaw {
    /// Checked before the chain checks.
    Format(String),
    UnknownVersion(String),
    Recomputed {
        field: &'static str,
        stored: String,
        recomputed: String,
    },
}

pub(super) fn inspect(catalog: &Catalog, params: &Params, stored: &[u8]) -> Inspected {
    match Leaf::read(stored) {
        Err(detail) => Inspected::Unreadable(detail),
        Ok((Leaf::Credit(entry), computed)) => {
            let flaw = format_flaw(&entry).or_else(|| recompute(catalog, &entry));
            Inspected::Read {
                entry,
                computed,
                flaw,
            }
        }
        Ok((Leaf::Correction(entry), computed)) => {
            let flaw = match entry.flaw() {
                Some(detail) => Some(Flaw::Format(detail)),
                None => match entry.recompute(catalog) {
                    Err(version) => Some(Flaw::UnknownVersion(version)),
                    Ok(delta) if delta != entry.co2e_g => Some(Flaw::Recomputed {
                        field: "co2e_g",
                        stored: entry.co2e_g.to_string(),
                        recomputed: delta.to_string(),
                    }),
                    Ok(_) => None,
                },
            };
            Inspected::Correction {
                entry,
                computed,
                flaw,
            }
        }
        Ok((Leaf::Disposition(entry), computed)) => {
            let flaw = match entry.flaw(params) {
                Some(detail) => Some(Flaw::Format(detail)),
                None if entry.params != params.version => {
                    Some(Flaw::UnknownVersion(entry.params.clone()))
                }
                None => None,
            };
            Inspected::Disposition {
                entry,
                computed,
                flaw,
            }
        }
    }
}

fn format_flaw(e: &Entry) -> Option<Flaw> {
    if e.v != FORMAT_VERSION {
        return Some(Flaw::Format(format!(
            "format version {} is not {FORMAT_VERSION}",
            e.v
        )));
    }
    if !e.integers_are_safe() {
        return Some(Flaw::Format("an integer is outside ±(2^53 - 1)".into()));
    }
    check_id("integration", &e.integration)
        .and_then(|()| e.items.validate_for(e.kind))
        .err()
        .map(|bad| Flaw::Format(bad.message))
}

/// Recomputes the amounts from the entry's inputs under the versions it names.
fn recompute(catalog: &Catalog, e: &Entry) -> Option<Flaw> {
    let Some(rulebook) = catalog.rulebook(&e.rulebook) else {
        return Some(Flaw::UnknownVersion(e.rulebook.clone()));
    };
    let Some(factors) = catalog.factors(&e.factors) else {
        return Some(Flaw::UnknownVersion(e.factors.clone()));
    };
    let before = DayBefore {
        points: e.day_before,
        items: e.day_items_before,
    };
    let a = rulebook.assess(e.kind, &e.items, e.at, &before);
    let co2e_g = a.co2e_g(factors.co2e_g(e.kind, &e.items));
    let mismatch = |field, stored: String, recomputed: String| {
        Some(Flaw::Recomputed {
            field,
            stored,
            recomputed,
        })
    };
    if e.points != a.points {
        return mismatch("points", e.points.to_string(), a.points.to_string());
    }
    if e.bonus != a.bonus {
        return mismatch("bonus", e.bonus.to_string(), a.bonus.to_string());
    }
    if e.reason != a.reason {
        return mismatch("reason", e.reason.as_str().into(), a.reason.as_str().into());
    }
    if Day::parse(&e.day) != Some(a.day) {
        return mismatch("day", e.day.clone(), a.day.to_string());
    }
    if e.co2e_g != co2e_g {
        return mismatch("co2e_g", e.co2e_g.to_string(), co2e_g.to_string());
    }
    None
}

/// `f` over `items` on up to `threads` threads, results in input order.
fn parallel_map<T: Sync, R: Send>(
    items: &[T],
    threads: usize,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    if threads <= 1 || items.len() < 256 {
        return items.iter().map(&f).collect();
    }
    let chunk = items.len().div_ceil(threads);
    std::thread::scope(|s| {
        let f = &f;
        let mut parts = items.chunks(chunk);
        let first = parts.next().expect("items is not empty");
        let handles: Vec<_> = parts
            .map(|part| s.spawn(move || part.iter().map(f).collect::<Vec<R>>()))
            .collect();
        let mut out: Vec<R> = first.iter().map(f).collect();
        for h in handles {
            out.extend(h.join().expect("inspection does not panic"));
        }
        out
    })
}
