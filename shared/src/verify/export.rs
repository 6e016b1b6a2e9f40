//! A DynamoDB export to S3 (DynamoDB JSON format) as a [`LedgerSource`], so that an auditor with
//! a copy of an `ExportTableToPointInTime` export can verify the ledger without table access.
//!
//! [`Snapshot::read`] checks each data file against the manifests and keeps the ledger's items
//! in memory, decoded by the DynamoDB store's own item readers, so an export reads as the table
//! does. An export is a point in time, not a transaction: an append may show half-applied at its
//! edge, and is shown as it is. [`write_export`] writes an export in AWS's shape.

use crate::store::dynamodb::item::{
    from_item, get_json, get_s, queued_ms, read_account, read_head, Item, GSI1SK,
};
use crate::store::{Account, Backlog, CampusDay, CampusTotals, ChainHead, LedgerSource, Result};
use async_trait::async_trait;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use greenloop_core::catalog::Catalog;
use greenloop_core::checkpoint::SignedCheckpoint;
use greenloop_core::domain::MemberId;
use greenloop_core::factors::FactorTable;
use greenloop_core::rulebook::Rulebook;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::io::BufRead;
use std::ops::Bound;
use std::path::{Path, PathBuf};

mod dynamodb_json;

pub use dynamodb_json::{
    attribute_from_json, attribute_to_json, item_from_json, item_to_json, write_export,
};

const SUMMARY: &str = "manifest-summary.json";
const FILES: &str = "manifest-files.json";

/// What a report says about the export it verified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExportSummary {
    pub export_arn: String,
    pub table_arn: String,
    /// The point in time the export shows, as AWS writes it (ISO 8601).
    pub export_time: String,
    /// Items read, over every data file.
    pub items: u64,
    pub files: usize,
    /// Items that are not ledger data (actions, stations, keys, tree nodes, ...), skipped.
    pub other_items: u64,
}

/// Why an export cannot be read: every message names the file, and the line when there is one.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{}: {source}", .path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// No export folder where one was looked for, or several.
    #[error("{}: {why}", .path.display())]
    NoExport { path: PathBuf, why: String },
    /// A listed data file that is missing, or an MD5 or item count other than the manifests say.
    #[error("{}: {why}", .path.display())]
    Mismatch { path: PathBuf, why: String },
    /// A line of a manifest or data file that does not read as what it should be, or where the
    /// gzip data breaks off.
    #[error("{} line {line}: {why}", .path.display())]
    Line {
        path: PathBuf,
        line: u64,
        why: String,
    },
}

/// The ledger items of an export, in memory.
///
/// [`LedgerSource::chain_heads`] gives the exported HEAD items only, as the table would;
/// [`Snapshot::chains`] also lists the chains whose entries or checkpoints were exported without
/// a head (a half-applied edge), for a report to name. Nothing is repaired.
pub struct Snapshot {
    summary: ExportSummary,
    catalog: Catalog,
    heads: BTreeMap<String, ChainHead>,
    entries: BTreeMap<String, BTreeMap<u64, Vec<u8>>>,
    accounts: BTreeMap<MemberId, Account>,
    days: Vec<CampusDay>,
    checkpoints: BTreeMap<String, BTreeMap<u64, SignedCheckpoint>>,
    /// The pending queue and the quarantine as exported, from the action items' `state`.
    backlog: Backlog,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SummaryJson {
    #[serde(default)]
    export_arn: String,
    #[serde(default)]
    table_arn: String,
    #[serde(default)]
    export_time: String,
    output_format: String,
    export_type: Option<String>,
    item_count: u64,
    data_file_count: Option<u64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FileJson {
    item_count: u64,
    md5_checksum: Option<String>,
    data_file_s3_key: String,
}

/// A RULES document with where it was read: the catalog adds them once every file is read, in
/// key order, as the table's query returns them.
type RulesDoc = (String, String, PathBuf, u64);

impl Snapshot {
    /// Counts an action item into the backlog: pending (with when it was queued) or quarantined.
    fn count_action(&mut self, it: &Item) {
        match it
            .get("state")
            .and_then(|v| v.as_s().ok())
            .map(String::as_str)
        {
            Some("pending") => {
                self.backlog.pending += 1;
                self.backlog
                    .note_queued(get_s(it, GSI1SK).ok().and_then(queued_ms));
            }
            Some("rejected") => self.backlog.quarantined += 1,
            _ => {}
        }
    }

    /// Reads the export in `dir`: the export's own folder (holding `manifest-summary.json` and
    /// `data/`), or a folder above it (the S3 prefix, holding `AWSDynamoDB/<export id>/`).
    ///
    /// Checks every data file's item count and MD5 (`md5Checksum`, when listed) and the total item
    /// count; any mismatch, unreadable line or unreadable item is an error naming file and line.
    pub fn read(dir: &Path) -> Result<Snapshot, ExportError> {
        let root = locate(dir)?;
        let (summary_path, files_path) = (root.join(SUMMARY), root.join(FILES));
        let head: SummaryJson = serde_json::from_slice(&read_file(&summary_path)?)
            .map_err(|e| line_err(&summary_path, 1, e))?;
        if head.output_format != "DYNAMODB_JSON" {
            let why = format!(
                "outputFormat {}: only DYNAMODB_JSON is read",
                head.output_format
            );
            return Err(line_err(&summary_path, 1, why));
        }
        if let Some(t) = head.export_type.filter(|t| t != "FULL_EXPORT") {
            let why = format!("exportType {t}: only FULL_EXPORT is read");
            return Err(line_err(&summary_path, 1, why));
        }
        let mut files = Vec::new();
        for (i, line) in read_file(&files_path)?.split(|&b| b == b'\n').enumerate() {
            if !line.trim_ascii().is_empty() {
                let f: FileJson = serde_json::from_slice(line)
                    .map_err(|e| line_err(&files_path, i as u64 + 1, e))?;
                files.push((f, i as u64 + 1));
            }
        }
        if let Some(n) = head.data_file_count.filter(|&n| n != files.len() as u64) {
            let why = format!("dataFileCount is {n}, {FILES} lists {}", files.len());
            return Err(line_err(&summary_path, 1, why));
        }
        let mut snap = Snapshot {
            summary: ExportSummary {
                export_arn: head.export_arn,
                table_arn: head.table_arn,
                export_time: head.export_time,
                items: 0,
                files: files.len(),
                other_items: 0,
            },
            catalog: Catalog::builtin(),
            heads: BTreeMap::new(),
            entries: BTreeMap::new(),
            accounts: BTreeMap::new(),
            days: Vec::new(),
            checkpoints: BTreeMap::new(),
            backlog: Backlog::default(),
        };
        let mut rules = Vec::new();
        for (f, at) in &files {
            // Keys are S3 keys: the file is the one of that name in the export's data/ folder.
            let name = f.data_file_s3_key.rsplit('/').next().unwrap_or_default();
            if matches!(name, "" | "." | "..") {
                let why = format!("dataFileS3Key {} names no file", f.data_file_s3_key);
                return Err(line_err(&files_path, *at, why));
            }
            let path = root.join("data").join(name);
            let n = snap.read_data_file(&path, f, &mut rules)?;
            if n != f.item_count {
                let why = format!("{n} items, {FILES} says {}", f.item_count);
                return Err(ExportError::Mismatch { path, why });
            }
            snap.summary.items += n;
        }
        if snap.summary.items != head.item_count {
            let why = format!(
                "itemCount is {}, the data files hold {}",
                head.item_count, snap.summary.items
            );
            return Err(ExportError::Mismatch {
                path: summary_path,
                why,
            });
        }
        rules.sort();
        for (sk, doc, path, line) in rules {
            let added = if sk.starts_with("rulebook#") {
                Rulebook::from_json(&doc).and_then(|rb| snap.catalog.add_rulebook(rb))
            } else {
                FactorTable::from_json(&doc).and_then(|f| snap.catalog.add_factors(f))
            };
            added.map_err(|e| line_err(&path, line, e))?;
        }
        Ok(snap)
    }

    pub fn summary(&self) -> &ExportSummary {
        &self.summary
    }

    /// Every chain the export shows: with entries, a head, or checkpoints.
    pub fn chains(&self) -> Vec<String> {
        let heads = self.heads.keys().chain(self.entries.keys());
        let all: BTreeSet<&String> = heads.chain(self.checkpoints.keys()).collect();
        all.into_iter().cloned().collect()
    }

    /// The largest seq exported on a chain.
    pub fn last_seq(&self, chain: &str) -> Option<u64> {
        self.entries.get(chain)?.keys().next_back().copied()
    }

    /// Reads one gzipped data file; returns its item count.
    fn read_data_file(
        &mut self,
        path: &Path,
        f: &FileJson,
        rules: &mut Vec<RulesDoc>,
    ) -> Result<u64, ExportError> {
        let bytes = std::fs::read(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => ExportError::Mismatch {
                path: path.to_owned(),
                why: format!("missing, though {FILES} lists {}", f.data_file_s3_key),
            },
            _ => io_err(path, e),
        })?;
        if let Some(expected) = &f.md5_checksum {
            // AWS lists it in base64; hex is taken too.
            let d = md5::compute(&bytes);
            if *expected != BASE64.encode(d.0) && !expected.eq_ignore_ascii_case(&format!("{d:x}"))
            {
                let why = format!("MD5 is {}, {FILES} says {expected}", BASE64.encode(d.0));
                return Err(ExportError::Mismatch {
                    path: path.to_owned(),
                    why,
                });
            }
        }
        if bytes.is_empty() {
            return Ok(0); // an empty partition's file
        }
        let mut lines = std::io::BufReader::new(flate2::read::MultiGzDecoder::new(&bytes[..]));
        let (mut buf, mut line, mut items) = (Vec::new(), 0, 0);
        loop {
            buf.clear();
            match lines.read_until(b'\n', &mut buf) {
                Ok(0) => return Ok(items),
                Ok(_) => line += 1,
                Err(e) => return Err(line_err(path, line + 1, format!("unreadable gzip: {e}"))),
            }
            if buf.trim_ascii().is_empty() {
                continue;
            }
            let item = match serde_json::from_slice::<Value>(&buf) {
                Ok(v) => v
                    .get("Item")
                    .map_or(Err("a line without an Item".into()), item_from_json),
                Err(e) => Err(e.to_string()),
            };
            item.and_then(|it| self.add(it, path, line, rules))
                .map_err(|why| line_err(path, line, why))?;
            items += 1;
        }
    }

    /// Keeps one item if it is ledger data, by its keys (see `docs/table-design.md`).
    fn add(
        &mut self,
        it: Item,
        path: &Path,
        line: u64,
        rules: &mut Vec<RulesDoc>,
    ) -> Result<(), String> {
        let s = |e: crate::store::StoreError| e.to_string();
        let (pk, sk) = (get_s(&it, "pk").map_err(s)?, get_s(&it, "sk").map_err(s)?);
        let (pk, sk) = (pk.to_owned(), sk.to_owned());
        let (kind, id) = pk.split_once('#').unwrap_or((&pk, ""));
        let (at, n) = sk.split_once('#').unwrap_or((&sk, ""));
        let number = || {
            n.parse::<u64>()
                .map_err(|_| format!("item {pk} {sk}: bad number"))
        };
        let twice = match (kind, at) {
            ("CHAIN", "HEAD") => self
                .heads
                .insert(id.into(), read_head(&it).map_err(s)?)
                .is_some(),
            ("CHAIN", "SEQ") => {
                let json = get_s(&it, "json").map_err(s)?.as_bytes().to_vec();
                let chain = self.entries.entry(id.into()).or_default();
                chain.insert(number()?, json).is_some()
            }
            ("CKPT", "SIZE") => {
                let c: SignedCheckpoint = get_json(&it, "json").map_err(s)?;
                let chain = self.checkpoints.entry(id.into()).or_default();
                chain.insert(number()?, c).is_some()
            }
            ("MEMBER", "ACCOUNT") => {
                let a = read_account(it).map_err(s)?;
                self.accounts.insert(a.member.clone(), a).is_some()
            }
            ("CAMPUS", "DAY") => {
                self.days.push(from_item(it, "campus day").map_err(s)?);
                false
            }
            ("RULES", "rulebook" | "factors") => {
                let doc = get_s(&it, "doc").map_err(s)?.to_owned();
                rules.push((sk.clone(), doc, path.to_owned(), line));
                false
            }
            ("ACTION", "ACTION") => {
                self.count_action(&it);
                self.summary.other_items += 1;
                false
            }
            _ => {
                self.summary.other_items += 1;
                false
            }
        };
        if twice {
            return Err(format!("item {pk} {sk} appears twice"));
        }
        Ok(())
    }
}

#[async_trait]
impl LedgerSource for Snapshot {
    /// The built-ins plus the exported RULES documents, as the table's catalog is built.
    async fn catalog(&self) -> Result<Catalog> {
        Ok(self.catalog.clone())
    }

    /// Only the exported HEAD items: see [`Snapshot::chains`].
    async fn chain_heads(&self) -> Result<Vec<ChainHead>> {
        Ok(self.heads.values().cloned().collect())
    }

    async fn entries(&self, chain: &str, from_seq: u64, limit: usize) -> Result<Vec<Vec<u8>>> {
        let Some(entries) = self.entries.get(chain) else {
            return Ok(Vec::new());
        };
        Ok(entries
            .range(from_seq..)
            .take(limit)
            .map(|(_, e)| e.clone())
            .collect())
    }

    async fn account_page(&self, after: Option<&MemberId>, limit: usize) -> Result<Vec<Account>> {
        let from = after.map_or(Bound::Unbounded, Bound::Excluded);
        let page = self.accounts.range((from, Bound::Unbounded)).take(limit);
        Ok(page.map(|(_, a)| a.clone()).collect())
    }

    /// The sum of every exported campus day row.
    async fn campus_totals(&self) -> Result<Vec<CampusTotals>> {
        Ok(CampusTotals::sum(&self.days))
    }

    async fn checkpoints(&self, chain: &str) -> Result<Vec<SignedCheckpoint>> {
        Ok(self
            .checkpoints
            .get(chain)
            .map(|c| c.values().cloned().collect())
            .unwrap_or_default())
    }

    /// The queue and the quarantine at the export's time (ages count from `export_time`).
    async fn backlog(&self) -> Result<Option<Backlog>> {
        Ok(Some(self.backlog.clone()))
    }
}

/// The export's own folder: `dir`, or the one export folder under `dir/AWSDynamoDB` or `dir`.
fn locate(dir: &Path) -> Result<PathBuf, ExportError> {
    if dir.join(SUMMARY).is_file() {
        return Ok(dir.to_owned());
    }
    let under = |d: PathBuf| std::fs::read_dir(d).into_iter().flatten().flatten();
    let mut found: Vec<PathBuf> = (under(dir.join("AWSDynamoDB")).chain(under(dir.to_owned())))
        .map(|e| e.path())
        .filter(|p| p.join(SUMMARY).is_file())
        .collect();
    found.sort();
    let why = match &found[..] {
        [one] => return Ok(one.clone()),
        [] => format!("no {SUMMARY} here nor in an export folder under it"),
        several => {
            let names: Vec<_> = several.iter().map(|p| p.display().to_string()).collect();
            format!("several exports ({}): name one", names.join(", "))
        }
    };
    Err(ExportError::NoExport {
        path: dir.to_owned(),
        why,
    })
}

fn read_file(path: &Path) -> Result<Vec<u8>, ExportError> {
    std::fs::read(path).map_err(|e| io_err(path, e))
}

fn io_err(path: &Path, source: std::io::Error) -> ExportError {
    ExportError::Io {
        path: path.to_owned(),
        source,
    }
}

fn line_err(path: &Path, line: u64, why: impl ToString) -> ExportError {
    ExportError::Line {
        path: path.to_owned(),
        line,
        why: why.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::primitives::Blob;
    use aws_sdk_dynamodb::types::AttributeValue;
    use serde_json::json;
    use std::io::Write;

    /// An item with every attribute type, nested.
    fn every_type(seq: u64) -> Item {
        let (s, n) = (
            |v: &str| AttributeValue::S(v.into()),
            |v: &str| AttributeValue::N(v.into()),
        );
        let blob = |b: &[u8]| Blob::new(b.to_vec());
        let inner = Item::from([("n".to_owned(), n("-1.5e3"))]);
        Item::from([
            ("pk".into(), s("CHAIN#c-0")),
            ("sk".into(), s(&format!("SEQ#{seq:020}"))),
            ("json".into(), s("{\"a\":\"é \\\" \\n ☃\"}")),
            ("size".into(), n("3")),
            ("b".into(), AttributeValue::B(blob(&[0, 1, 2, 255]))),
            ("t".into(), AttributeValue::Bool(true)),
            ("null".into(), AttributeValue::Null(true)),
            ("m".into(), AttributeValue::M(inner.clone())),
            (
                "l".into(),
                AttributeValue::L(vec![
                    s("x"),
                    AttributeValue::M(inner),
                    AttributeValue::L(vec![]),
                ]),
            ),
            (
                "ss".into(),
                AttributeValue::Ss(vec!["a".into(), "b".into()]),
            ),
            (
                "ns".into(),
                AttributeValue::Ns(vec!["1".into(), "2.5".into()]),
            ),
            (
                "bs".into(),
                AttributeValue::Bs([&b""[..], b"f", b"fo", b"foo", b"foob"].map(blob).to_vec()),
            ),
        ])
    }

    #[test]
    fn attribute_values_round_trip() {
        let it = every_type(0);
        let j = item_to_json(&it).unwrap();
        assert_eq!(j["b"], json!({"B": "AAEC/w=="}));
        assert_eq!(
            j["bs"],
            json!({"BS": ["", "Zg==", "Zm8=", "Zm9v", "Zm9vYg=="]})
        );
        assert_eq!(
            (&j["size"], &j["null"]),
            (&json!({"N": "3"}), &json!({"NULL": true}))
        );
        // Through text, as the data files carry it.
        let back = item_from_json(&serde_json::from_str(&j.to_string()).unwrap()).unwrap();
        assert_eq!(back, it);
        for bad in [
            json!({"N": 3}),
            json!({"X": "1"}),
            json!({"S": "a", "N": "1"}),
            json!({"B": "A=A="}),
        ] {
            assert!(attribute_from_json(&bad).is_err(), "{bad} is refused");
        }
    }

    /// An export of one data file holding `body`, whose manifests claim `count` items.
    fn raw_export(dir: &Path, body: &str, count: u64) {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(body.as_bytes()).unwrap();
        std::fs::create_dir_all(dir.join("data")).unwrap();
        std::fs::write(
            dir.join("data/abcdefghijklmnopqrstuvwxyz.json.gz"),
            gz.finish().unwrap(),
        )
        .unwrap();
        let key = "AWSDynamoDB/1-a/data/abcdefghijklmnopqrstuvwxyz.json.gz";
        let files = format!("{{\"itemCount\":{count},\"dataFileS3Key\":\"{key}\"}}\n");
        std::fs::write(dir.join(FILES), files).unwrap();
        let summary = json!({"outputFormat": "DYNAMODB_JSON", "itemCount": count});
        std::fs::write(dir.join(SUMMARY), summary.to_string()).unwrap();
    }

    fn refusal(dir: &Path) -> String {
        Snapshot::read(dir)
            .err()
            .expect("the export is refused")
            .to_string()
    }

    /// The exported action items give the backlog: pending ones (the oldest by its queue
    /// position) and quarantined ones; booked and credited ones are neither.
    #[tokio::test]
    async fn action_items_give_the_backlog() {
        let action = |id: &str, state: &str, position: Option<&str>| {
            let mut it = json!({"pk": {"S": format!("ACTION#{id}")}, "sk": {"S": "ACTION"},
                                "state": {"S": state}});
            if let Some(p) = position {
                it["gsi1sk"] = json!({"S": p});
            }
            json!({ "Item": it }).to_string()
        };
        let body = [
            action("a", "pending", Some("00000001700000000000#a")),
            action("b", "pending", Some("00000001600000123000#b")),
            action("c", "rejected", None),
            action("d", "credited", None),
            action("e", "booked", None),
        ]
        .join("\n");
        let dir = tempfile::tempdir().unwrap();
        raw_export(dir.path(), &body, 5);
        let snap = Snapshot::read(dir.path()).unwrap();
        let backlog = snap.backlog().await.unwrap().unwrap();
        assert_eq!(
            backlog,
            Backlog {
                pending: 2,
                oldest_pending_ms: Some(1_600_000_123),
                quarantined: 1,
            }
        );
        assert_eq!(snap.summary().other_items, 5);
    }

    #[test]
    fn a_malformed_line_is_named_by_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let good = json!({"Item": item_to_json(&every_type(0)).unwrap()}).to_string();
        raw_export(
            dir.path(),
            &format!("{good}\n{{\"Item\":{{\"pk\":{{\"S\":1}}}}}}\n"),
            2,
        );
        let e = refusal(dir.path());
        assert!(
            e.ends_with("abcdefghijklmnopqrstuvwxyz.json.gz line 2: pk: S holds a non-string"),
            "{e}"
        );
        raw_export(dir.path(), &format!("{good}\n\n{}\n", &good[..20]), 2);
        let e = refusal(dir.path());
        assert!(
            e.contains("abcdefghijklmnopqrstuvwxyz.json.gz line 3: "),
            "{e}"
        );
    }

    #[test]
    fn item_counts_must_match_the_manifests() {
        let dir = tempfile::tempdir().unwrap();
        let good = json!({"Item": item_to_json(&every_type(0)).unwrap()}).to_string();
        raw_export(dir.path(), &good, 1);
        let snap = Snapshot::read(dir.path()).expect("a good export reads");
        assert_eq!(
            (snap.summary().items, snap.summary().files, snap.chains()),
            (1, 1, vec!["c-0".into()])
        );
        raw_export(dir.path(), &good, 2);
        let e = refusal(dir.path());
        assert!(
            e.ends_with("abcdefghijklmnopqrstuvwxyz.json.gz: 1 items, manifest-files.json says 2"),
            "{e}"
        );
        raw_export(dir.path(), &good, 1);
        let summary = json!({"outputFormat": "DYNAMODB_JSON", "itemCount": 5});
        std::fs::write(dir.path().join(SUMMARY), summary.to_string()).unwrap();
        let e = refusal(dir.path());
        assert!(
            e.ends_with("manifest-summary.json: itemCount is 5, the data files hold 1"),
            "{e}"
        );
    }

    #[test]
    fn the_writer_is_deterministic_and_reads_back() {
        let items: Vec<Item> = (0..10).map(every_type).collect();
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        write_export(a.path(), &items, 3, 7).unwrap();
        write_export(b.path(), &items, 3, 7).unwrap();
        let manifest = |d: &Path| std::fs::read_to_string(d.join(FILES)).unwrap();
        assert_eq!(
            manifest(a.path()),
            manifest(b.path()),
            "same seed, same export"
        );
        let snap = Snapshot::read(a.path()).unwrap();
        assert_eq!((snap.summary().items, snap.summary().files), (10, 3));
        assert_eq!(snap.summary().other_items, 0);
    }
}
