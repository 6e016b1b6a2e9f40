//! What `greenloop verify` and the demo print: verification reports and number formatting.

use greenloop::catalog::Catalog;
use greenloop::checkpoint::PublicKey;
use greenloop::checkpoint::{Checkpoint, SignedCheckpoint};
use greenloop::ledger::verify::Report;
use greenloop::store::{Backlog, LedgerSource};
use greenloop::verify::export::Snapshot;
use greenloop::verify::{authenticate, edge, verify_kept};
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;

/// Exit code of a ledger that verifies while crediting is not healthy: actions quarantined, or
/// the oldest pending one older than allowed. A failed verification is 1; a bad flag is 2.
pub const CREDITING_UNHEALTHY: u8 = 3;

/// Verifies the store, then reads its backlog; prints both, and exits 1 on a ledger problem, or
/// [`CREDITING_UNHEALTHY`] on a sound ledger whose crediting is stuck or has set actions aside
/// (a pending action older than `max_pending_age_s`, or any quarantined).
pub async fn verify(
    store: &dyn LedgerSource,
    key: Option<&PublicKey>,
    kept: &[SignedCheckpoint],
    json: bool,
    max_pending_age_s: i64,
) -> Result<ExitCode, String> {
    let total: u64 = store
        .chain_heads()
        .await
        .map_err(|e| e.to_string())?
        .iter()
        .map(|h| h.size)
        .sum();
    let bar = if json {
        ProgressBar::hidden()
    } else {
        progress(total, "verifying")
    };
    let report = verify_kept(store, key, kept, |n| bar.inc(n))
        .await
        .map_err(|e| e.to_string())?;
    bar.finish_and_clear();
    let now_ms = chrono::Utc::now().timestamp_millis();
    let health = Health::read(store, now_ms, max_pending_age_s).await?;
    if json {
        health.print_json(&report);
    } else {
        print_report(&report);
        health.print();
    }
    Ok(health.exit_code(&report))
}

/// What a source says waits to be credited, judged at `at_ms` (now, or an export's time).
struct Health {
    backlog: Option<Backlog>,
    at_ms: i64,
    problem: Option<String>,
}

impl Health {
    async fn read(source: &dyn LedgerSource, at_ms: i64, max_age_s: i64) -> Result<Self, String> {
        let backlog = source.backlog().await.map_err(|e| e.to_string())?;
        let problem = backlog
            .as_ref()
            .and_then(|b| crediting_problem(b, at_ms, max_age_s));
        Ok(Health {
            backlog,
            at_ms,
            problem,
        })
    }

    /// `report` as JSON, with `backlog` and `crediting_problem` added.
    fn print_json(&self, report: &impl serde::Serialize) {
        let mut value = serde_json::to_value(report).expect("reports serialize");
        value["backlog"] = serde_json::to_value(&self.backlog).expect("backlogs serialize");
        value["crediting_problem"] = serde_json::to_value(&self.problem).expect("text");
        println!("{}", serde_json::to_string_pretty(&value).expect("JSON"));
    }

    /// The `crediting:` lines.
    fn print(&self) {
        let Some(b) = &self.backlog else { return };
        let oldest = b.oldest_pending_ms.map_or(String::new(), |t| {
            format!(
                ", the oldest queued {} s ago",
                (self.at_ms - t).max(0) / 1000
            )
        });
        println!(
            "crediting: {} pending{oldest}; {} quarantined",
            group(b.pending as i64),
            group(b.quarantined as i64)
        );
        if let Some(p) = &self.problem {
            println!("crediting: NOT HEALTHY: {p}");
        }
    }

    /// 1 for a ledger problem, [`CREDITING_UNHEALTHY`] for a sound ledger whose crediting is not
    /// healthy, 0 otherwise.
    fn exit_code(&self, report: &Report) -> ExitCode {
        if !report.is_ok() {
            ExitCode::FAILURE
        } else if self.problem.is_some() {
            ExitCode::from(CREDITING_UNHEALTHY)
        } else {
            ExitCode::SUCCESS
        }
    }
}

/// What makes crediting unhealthy, in words, if anything does.
fn crediting_problem(b: &Backlog, now_ms: i64, max_pending_age_s: i64) -> Option<String> {
    let age_s = b.oldest_pending_ms.map(|t| (now_ms - t).max(0) / 1000);
    let stuck = age_s.filter(|&a| a > max_pending_age_s);
    match (stuck, b.quarantined) {
        (None, 0) => None,
        (Some(a), 0) => Some(format!(
            "the oldest pending action has waited {a} s (over {max_pending_age_s} s): crediting is stuck"
        )),
        (None, q) => Some(format!(
            "{q} actions quarantined (see `greenloop quarantine list`)"
        )),
        (Some(a), q) => Some(format!(
            "the oldest pending action has waited {a} s (over {max_pending_age_s} s), and {q} \
             actions are quarantined (see `greenloop quarantine list`)"
        )),
    }
}

/// Verifies a DynamoDB export against its checkpoints, prints the report with what lies at the
/// export's edge, and exits non-zero on any problem the edge does not explain.
///
/// The export's action items give its backlog: crediting counts as stuck when, at the export's
/// time, an action had waited longer than `max_pending_age_s` or any was quarantined.
pub async fn verify_export(
    snapshot: &Snapshot,
    key: Option<&PublicKey>,
    kept: &[SignedCheckpoint],
    json: bool,
    max_pending_age_s: i64,
) -> Result<ExitCode, String> {
    let s = snapshot.summary();
    if !json {
        println!(
            "export of {} at {}: {} items in {} files",
            s.table_arn,
            s.export_time,
            group(s.items as i64),
            s.files
        );
    }
    let total = snapshot
        .chains()
        .iter()
        .filter_map(|c| snapshot.last_seq(c))
        .map(|s| s + 1)
        .sum();
    let bar = if json {
        ProgressBar::hidden()
    } else {
        progress(total, "verifying")
    };
    let out = edge::verify_export(snapshot, key, kept, |n| bar.inc(n))
        .await
        .map_err(|e| e.to_string())?;
    bar.finish_and_clear();
    let at_ms = chrono::DateTime::parse_from_rfc3339(&s.export_time).map_or_else(
        |_| chrono::Utc::now().timestamp_millis(),
        |t| t.timestamp_millis(),
    );
    let health = Health::read(snapshot, at_ms, max_pending_age_s).await?;
    if json {
        health.print_json(&out);
    } else {
        for e in &out.edge {
            println!(
                "  {:<10} edge: {} entries past checkpoint {}, head {}, {} past the head",
                e.chain,
                group(e.past_checkpoint as i64),
                group(e.checkpoint as i64),
                e.head
                    .map_or("not exported".to_owned(), |h| group(h as i64)),
                group(e.past_head as i64)
            );
        }
        for p in out.in_flight.iter().take(10) {
            println!("  in flight at the edge (not a failure): {p}");
        }
        print_report(&out.report);
        health.print();
    }
    Ok(health.exit_code(&out.report))
}

/// Verifies a JSON Lines export on one core (the fast path: see `Verifier::new`), against the
/// checkpoints the auditor `kept` (authenticated with `key` when given), and prints the report.
pub fn verify_jsonl(
    file: &Path,
    kept: &[SignedCheckpoint],
    key: Option<&PublicKey>,
    json: bool,
) -> Result<ExitCode, String> {
    let mut problems = Vec::new();
    let mut by_chain: BTreeMap<String, Vec<SignedCheckpoint>> = BTreeMap::new();
    for c in kept {
        by_chain
            .entry(c.checkpoint.chain.clone())
            .or_default()
            .push(c.clone());
    }
    let by_chain: BTreeMap<String, Vec<Checkpoint>> = by_chain
        .into_iter()
        .map(|(chain, signed)| {
            let ok = authenticate(key, &chain, signed, &mut problems);
            (chain, ok)
        })
        .collect();
    let input =
        std::fs::File::open(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let size = input.metadata().map(|m| m.len()).unwrap_or(0);
    let bar = if json {
        ProgressBar::hidden()
    } else {
        progress(size, "verifying")
    };
    let reader = std::io::BufReader::with_capacity(1 << 20, bar.wrap_read(input));
    let catalog = Catalog::builtin();
    let mut report = greenloop::verify::jsonl::verify_lines(reader, &catalog, &by_chain, 1, |_| {})
        .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    bar.finish_and_clear();
    report.checkpoints_authenticated = key.is_some();
    report.problems.splice(0..0, problems);
    Ok(emit(&report, json))
}

/// The signed checkpoints in a file `greenloop checkpoint list` wrote.
pub fn read_checkpoints(path: &Path) -> Result<Vec<SignedCheckpoint>, String> {
    serde_json::from_str(&crate::read(path, "checkpoints file")?)
        .map_err(|e| format!("checkpoints file {}: {e}", path.display()))
}

/// Prints the report, as JSON or for people; the exit code says whether it found a problem.
fn emit(report: &Report, json: bool) -> ExitCode {
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(report).expect("reports serialize")
        );
    } else {
        print_report(report);
    }
    if report.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

pub fn print_report(report: &Report) {
    for c in &report.chains {
        let checkpoint = match &c.checkpoint {
            Some(k) if k.size == c.entries => {
                format!("checkpoint {} matched", group(k.size as i64))
            }
            Some(k) => format!(
                "checkpoint {} matched, {} entries after it",
                group(k.size as i64),
                group((c.entries - k.size) as i64)
            ),
            None => "no checkpoint matched".to_owned(),
        };
        println!(
            "  {:<10} {:>9} entries  head {}  {checkpoint}",
            c.chain,
            group(c.entries as i64),
            c.head.short()
        );
    }
    if !report.checkpoints_authenticated {
        println!("  (checkpoint signatures not checked: pin the log's key with --log-key)");
    }
    match report.first_problem() {
        None if !report.totals_checked => println!(
            "verification: OK: {} entries on {} chains; {} member chains match (accounts and campus totals are not in this input)",
            group(report.entries as i64),
            report.chains.len(),
            group(report.members as i64),
        ),
        None => println!(
            "verification: OK: {} entries on {} chains; {} member chains, {} campus totals and every account match the entries",
            group(report.entries as i64),
            report.chains.len(),
            group(report.members as i64),
            report.campuses
        ),
        Some(first) => {
            println!("verification: FAILED: {first}");
            for p in report.problems.iter().skip(1).take(9) {
                println!("  also: {p}");
            }
            if report.problems.len() > 10 {
                println!("  … and {} more", report.problems.len() - 10);
            }
            if !report.totals_checked {
                println!("  (accounts and campus totals were not compared because a chain failed)");
            }
        }
    }
}

/// A progress bar on stderr; hidden when stderr is not a terminal.
pub fn progress(len: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template("{msg:>12} [{bar:30}] {pos}/{len} ({per_sec}, {eta})")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    bar.set_message(what.to_owned());
    bar
}

/// 1234567 → "1,234,567".
pub fn group(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    if n < 0 {
        format!("-{out}")
    } else {
        out
    }
}

/// Integer grams as kilograms with three decimals, exactly (no floats).
pub fn kg(grams: i64) -> String {
    let sign = if grams < 0 { "-" } else { "" };
    let g = grams.unsigned_abs();
    format!("{sign}{}.{:03} kg", group((g / 1000) as i64), g % 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_grouped_and_exact() {
        assert_eq!(group(0), "0");
        assert_eq!(group(999), "999");
        assert_eq!(group(1_000), "1,000");
        assert_eq!(group(-1_234_567), "-1,234,567");
        assert_eq!(kg(1_234_005), "1,234.005 kg");
        assert_eq!(kg(-37), "-0.037 kg");
    }
}
