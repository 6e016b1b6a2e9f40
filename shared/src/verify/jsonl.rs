//! Verifying a JSON Lines export (what `greenloop export` writes, see [`super::export_store`]):
//! one stored entry per line, chains in name order, each chain in seq order.
//!
//! [`verify_lines`] streams the lines through a [`Verifier`]: a new chain starts whenever a
//! line names another chain than the line before it, each chain's signed checkpoints are
//! matched as it grows, and the export ends with the cross-chain checks that need only entries
//! ([`Verifier::finish_entries_only`]): an export carries no stored heads, accounts or totals.
//! Lines are checked where they sit in the reader's buffer; only a line that straddles two
//! buffer fills is copied.

use greenloop_core::catalog::Catalog;
use greenloop_core::checkpoint::Checkpoint;
use greenloop_core::ledger::verify::{Problem, Report, Verifier};
use std::collections::{BTreeMap, HashMap};
use std::io::BufRead;

/// How often `progress` hears of lines, in lines.
const PROGRESS_EVERY: u64 = 1 << 16;

/// Verifies the export read from `input`: every entry check, each chain against its
/// `checkpoints` (already authenticated; a chain they name that the export lacks is truncated),
/// then duplicate actions, member chains and daily counters. `threads` as in
/// [`Verifier::with_threads`]. `progress` is told how many lines were just read.
///
/// A line that is not an entry is reported as malformed in the chain it interrupts; a chain
/// whose lines come back after another chain's is reported once, and its later lines are not
/// examined. Either stops the cross-chain checks, as any chain failure does. Errors are the
/// reader's only.
pub fn verify_lines(
    mut input: impl BufRead,
    catalog: &Catalog,
    checkpoints: &BTreeMap<String, Vec<Checkpoint>>,
    threads: usize,
    mut progress: impl FnMut(u64),
) -> std::io::Result<Report> {
    let mut lines = Lines {
        verifier: Verifier::with_threads(catalog, threads),
        checkpoints,
        current: None,
        skipping: false,
        seen: HashMap::new(),
        line: 0,
        unreported: 0,
    };
    // A line cut by the end of the reader's buffer, gathered here.
    let mut partial: Vec<u8> = Vec::new();
    loop {
        let buf = input.fill_buf()?;
        if buf.is_empty() {
            break;
        }
        let mut used = 0;
        if !partial.is_empty() {
            match find_newline(buf) {
                Some(i) => {
                    partial.extend_from_slice(&buf[..i]);
                    lines.take(&partial);
                    partial.clear();
                    used = i + 1;
                }
                None => {
                    partial.extend_from_slice(buf);
                    used = buf.len();
                }
            }
        }
        while used < buf.len() {
            match find_newline(&buf[used..]) {
                Some(i) => {
                    lines.take(&buf[used..used + i]);
                    used += i + 1;
                }
                None => {
                    partial.extend_from_slice(&buf[used..]);
                    used = buf.len();
                }
            }
        }
        input.consume(used);
        if lines.unreported >= PROGRESS_EVERY {
            progress(std::mem::take(&mut lines.unreported));
        }
    }
    if !partial.is_empty() {
        // The last line, without a newline after it.
        lines.take(&partial);
    }
    if lines.unreported > 0 {
        progress(lines.unreported);
    }
    let Lines {
        mut verifier, seen, ..
    } = lines;
    for (chain, signed) in checkpoints {
        let largest = signed.iter().map(|c| c.size).max().unwrap_or(0);
        if largest > 0 && !seen.contains_key(chain) {
            verifier.note(Problem::Truncated {
                chain: chain.clone(),
                entries: 0,
                checkpoint: largest,
            });
        }
    }
    Ok(verifier.finish_entries_only())
}

/// The state of a pass over the lines.
struct Lines<'c, 'k> {
    verifier: Verifier<'c>,
    checkpoints: &'k BTreeMap<String, Vec<Checkpoint>>,
    /// The chain of the lines being read.
    current: Option<String>,
    /// The current chain came back after another one: its lines are passed over.
    skipping: bool,
    /// Lines seen per chain.
    seen: HashMap<String, u64>,
    /// 1-based number of the last line taken.
    line: u64,
    unreported: u64,
}

impl Lines<'_, '_> {
    /// One line, without its newline.
    fn take(&mut self, line: &[u8]) {
        self.line += 1;
        self.unreported += 1;
        let Some(chain) = chain_of(line) else {
            match &self.current {
                // The verifier names what is wrong with it, at its place in the chain.
                Some(_) if !self.skipping => self.verifier.push(line),
                Some(_) => {}
                None => self.verifier.note(Problem::Malformed {
                    chain: String::new(),
                    seq: 0,
                    detail: format!("line {} is not a ledger entry of any chain", self.line),
                }),
            }
            return;
        };
        if self.current.as_deref() != Some(&*chain) {
            self.switch(&chain);
        }
        if !self.skipping {
            *self
                .seen
                .get_mut(&*chain)
                .expect("switch() counts the chain") += 1;
            self.verifier.push(line);
        }
    }

    /// The lines turn to `chain`.
    fn switch(&mut self, chain: &str) {
        self.current = Some(chain.to_owned());
        if let Some(&lines) = self.seen.get(chain) {
            self.skipping = true;
            self.verifier.note(Problem::Malformed {
                chain: chain.to_owned(),
                seq: lines,
                detail: format!(
                    "line {}: the chain's entries resume after another chain's; an export keeps \
                     each chain's entries together, so the rest of this run is not examined",
                    self.line
                ),
            });
            return;
        }
        self.skipping = false;
        self.seen.insert(chain.to_owned(), 0);
        self.verifier.chain(chain);
        self.verifier
            .checkpoints(self.checkpoints.get(chain).cloned().unwrap_or_default());
    }
}

/// The top-level `chain` of a line, read cheaply from a line laid out as stored, or by a JSON
/// parse otherwise. None if the line is no JSON object with a string `chain`.
fn chain_of(line: &[u8]) -> Option<std::borrow::Cow<'_, str>> {
    if let Some(chain) = stored_chain(line) {
        return Some(chain.into());
    }
    #[derive(serde::Deserialize)]
    struct Named {
        chain: String,
    }
    serde_json::from_slice::<Named>(line)
        .ok()
        .map(|n| n.chain.into())
}

/// The chain of a line that starts `{` and has `,"chain":"<name without escapes>"` before any
/// other `{`. In JSON, `,"` cannot occur inside a string, so that is the top-level key: no
/// nested object has opened yet.
fn stored_chain(line: &[u8]) -> Option<&str> {
    const KEY: &[u8] = b",\"chain\":\"";
    if line.first() != Some(&b'{') {
        return None;
    }
    let mut i = 1;
    let start = loop {
        match line.get(i)? {
            b',' if line[i..].starts_with(KEY) => break i + KEY.len(),
            b'{' => return None,
            _ => i += 1,
        }
    };
    let len = line[start..]
        .iter()
        .position(|&b| b == b'"' || b == b'\\')?;
    if line[start + len] != b'"' {
        return None;
    }
    std::str::from_utf8(&line[start..start + len]).ok()
}

/// The first `\n` in `bytes` (memchr: SIMD where the CPU has it).
fn find_newline(bytes: &[u8]) -> Option<usize> {
    memchr::memchr(b'\n', bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credit::plan;
    use crate::store::{Account, ChainHead};
    use greenloop_core::catalog::Rules;
    use greenloop_core::domain::{Action, ActionKind, BoxLot, Items, MemberId, Pepper};
    use greenloop_core::ledger::{Entry, ZERO};
    use greenloop_core::merkle::frontier::Frontier;
    use std::collections::HashMap;

    /// `n` entries over the chains `names`, credited with the real planner: members act on
    /// several chains, so member chains cross chains.
    fn export(names: &[&str], n: usize) -> Vec<Vec<Entry>> {
        let rules = Rules::defaults();
        let pepper = Pepper::new(b"jsonl-test-pepper-0123".to_vec()).unwrap();
        let members: Vec<MemberId> = (0..7)
            .map(|i| MemberId::pseudonym(&pepper, &format!("u{i}")))
            .collect();
        let mut accounts: HashMap<MemberId, Account> = HashMap::new();
        let mut heads: Vec<ChainHead> = names.iter().map(|c| ChainHead::empty(c)).collect();
        let mut chains = vec![Vec::new(); names.len()];
        for k in 0..n {
            let member = members[k % members.len()].clone();
            let action = Action {
                id: format!("t-{k:05}"),
                integration: "qr-1".into(),
                kind: ActionKind::Scan,
                member: member.clone(),
                station: format!("st-{:04}", k % 9),
                at: 1_793_462_400 + 600 * k as i64,
                items: Items {
                    boxes: vec![BoxLot {
                        brand: k.is_multiple_of(2).then(|| "brand-01".to_owned()),
                        count: 1 + (k % 3) as u32,
                    }],
                    books: (k % 2) as u32,
                    ..Items::default()
                },
            };
            let known = accounts
                .entry(member.clone())
                .or_insert_with(|| {
                    let mut a = Account::new(member.clone());
                    a.campus = Some("campus-01".into());
                    a
                })
                .clone();
            let c = k % names.len();
            let b = plan(&heads[c], &[known], &[action], &rules);
            heads[c] = b.new_head();
            for u in b.accounts {
                accounts.insert(u.account.member.clone(), u.account);
            }
            chains[c].extend(b.entries);
        }
        chains
    }

    fn lines(chains: &[Vec<Entry>]) -> Vec<u8> {
        let mut out = Vec::new();
        for e in chains.iter().flatten() {
            out.extend(e.to_json());
            out.push(b'\n');
        }
        out
    }

    fn verify(bytes: &[u8], checkpoints: &BTreeMap<String, Vec<Checkpoint>>) -> Report {
        let catalog = Catalog::builtin();
        let mut heard = 0;
        // A small buffer, so that lines straddle buffer fills.
        let reader = std::io::BufReader::with_capacity(100, bytes);
        let report = verify_lines(reader, &catalog, checkpoints, 1, |n| heard += n).unwrap();
        assert_eq!(
            heard,
            bytes
                .split(|&b| b == b'\n')
                .filter(|l| !l.is_empty())
                .count() as u64
        );
        report
    }

    #[test]
    fn a_good_export_verifies_with_its_checkpoints() {
        let chains = export(&["shard-00", "shard-01"], 40);
        let bytes = lines(&chains);
        let mut checkpoints = BTreeMap::new();
        for c in &chains {
            let mut tree = Frontier::default();
            c.iter().for_each(|e| {
                tree.push_with(e.hash, |_| {});
            });
            checkpoints.insert(
                c[0].chain.clone(),
                vec![Checkpoint {
                    chain: c[0].chain.clone(),
                    root: tree.root(),
                    size: tree.size(),
                    time: 0,
                }],
            );
        }
        let report = verify(&bytes, &checkpoints);
        assert!(report.is_ok(), "{:?}", report.problems);
        assert_eq!(report.entries, 40);
        assert_eq!(report.chains.len(), 2);
        assert_eq!(report.chains[1].chain, "shard-01");
        assert_eq!(
            report.chains[1].checkpoint.as_ref().map(|c| c.size),
            Some(20)
        );
        assert_eq!(report.members, 7);
        // Also on several threads, and without a newline after the last line.
        let catalog = Catalog::builtin();
        let two = verify_lines(&bytes[..bytes.len() - 1], &catalog, &checkpoints, 2, |_| {});
        assert!(two.unwrap().is_ok());
        // A checkpoint for a chain the export lacks: its entries were dropped.
        checkpoints.insert(
            "shard-02".into(),
            vec![Checkpoint {
                chain: "shard-02".into(),
                root: ZERO,
                size: 3,
                time: 0,
            }],
        );
        let report = verify(&bytes, &checkpoints);
        assert_eq!(
            report.problems,
            vec![Problem::Truncated {
                chain: "shard-02".into(),
                entries: 0,
                checkpoint: 3
            }]
        );
    }

    #[test]
    fn a_tampered_line_is_named_by_chain_and_seq() {
        let mut chains = export(&["shard-00", "shard-01"], 30);
        chains[1][4].bonus += 1;
        let report = verify(&lines(&chains), &BTreeMap::new());
        assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
        assert!(
            matches!(&report.problems[0], Problem::BadHash { chain, seq: 4, .. } if chain == "shard-01"),
            "{:?}",
            report.problems
        );
        assert!(!report.totals_checked);
        // Resealed, the same change no longer recomputes.
        chains[1][4].seal();
        let report = verify(&lines(&chains), &BTreeMap::new());
        assert!(
            matches!(&report.problems[0], Problem::Recomputed { chain, seq: 4, field: "bonus", .. } if chain == "shard-01"),
            "{:?}",
            report.problems
        );
    }

    #[test]
    fn cross_chain_checks_run_on_the_entries() {
        let mut chains = export(&["shard-00", "shard-01"], 20);
        // The same action credited on both chains, each chain intact on its own.
        let mut dup = chains[0][2].clone();
        let last = chains[1].last().unwrap().clone();
        dup.chain = last.chain.clone();
        dup.seq = last.seq + 1;
        dup.prev = last.hash;
        dup.member_prev = ZERO;
        dup.day_before = 0;
        dup.seal();
        chains[1].push(dup);
        let report = verify(&lines(&chains), &BTreeMap::new());
        assert!(
            report.problems.iter().any(|p| matches!(p, Problem::DuplicateAction { chain, seq: 10, first_chain, first_seq: 2, .. } if chain == "shard-01" && first_chain == "shard-00")),
            "{:?}",
            report.problems
        );
        assert!(
            report
                .problems
                .iter()
                .any(|p| matches!(p, Problem::MemberChain { .. })),
            "{:?}",
            report.problems
        );
        // No head, account or total is reported missing: the export has none.
        assert!(report.problems.iter().all(|p| matches!(
            p,
            Problem::DuplicateAction { .. } | Problem::MemberChain { .. }
        )));
    }

    #[test]
    fn a_chain_that_comes_back_and_a_stray_line_are_problems() {
        let chains = export(&["shard-00", "shard-01"], 20);
        let mut shuffled = vec![chains[0][..5].to_vec(), chains[1].clone()];
        shuffled.push(chains[0][5..].to_vec());
        let report = verify(&lines(&shuffled), &BTreeMap::new());
        assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
        assert!(
            matches!(&report.problems[0], Problem::Malformed { chain, seq: 5, detail } if chain == "shard-00" && detail.contains("line 16")),
            "{:?}",
            report.problems
        );
        assert_eq!(report.chains.len(), 2);

        let mut bytes = lines(&chains);
        let at = bytes.len() - chains[1].last().unwrap().to_json().len() - 1;
        bytes.splice(at..at, b"not json\n".iter().copied());
        let report = verify(&bytes, &BTreeMap::new());
        assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
        assert!(
            matches!(&report.problems[0], Problem::Malformed { chain, seq: 9, .. } if chain == "shard-01"),
            "{:?}",
            report.problems
        );
        let report = verify(b"{}\n", &BTreeMap::new());
        assert!(
            matches!(&report.problems[..], [Problem::Malformed { chain, seq: 0, .. }] if chain.is_empty()),
            "{:?}",
            report.problems
        );
    }

    #[test]
    fn finds_newlines_and_chains() {
        for n in 0..40 {
            let mut b = vec![b'x'; n];
            assert_eq!(find_newline(&b), None);
            b.push(b'\n');
            b.extend_from_slice(b"ab\n");
            assert_eq!(find_newline(&b), Some(n));
        }
        assert_eq!(
            stored_chain(br#"{"action":"a","campus":null,"chain":"shard-01","x":1}"#),
            Some("shard-01")
        );
        assert_eq!(stored_chain(br#"{"items":{"a":1},"chain":"x"}"#), None);
        assert_eq!(
            stored_chain(br#"{"a":"b\",\"chain\":\"x","chain":"y"}"#),
            Some("y")
        );
        assert_eq!(
            chain_of(br#"{"items":{"chain":"z"},"chain":"y"}"#).as_deref(),
            Some("y")
        );
        assert_eq!(chain_of(br#"{ "chain" : "w" }"#).as_deref(), Some("w"));
        assert_eq!(chain_of(b"nope"), None);
    }
}
