//! The partition-heat model of issue 14: what each DynamoDB request costs, on which partition of
//! the table and of each global secondary index, and what that becomes at a target rate of
//! credited actions over a number of ledger chains. See `docs/scaling.md`.
//!
//! It is pure (no I/O), so a known-answer test (`tests/heat_model.rs`) and the crediting bench
//! (`benches/dynamodb_credit.rs`, through `benches/support/heat_recorder.rs`) include the same
//! file with `#[path]`. It learns everything from what is sent and answered, in DynamoDB's JSON
//! wire format: the table's keys and indexes from a `CreateTable` request or a `DescribeTable`
//! answer, each item's attributes from the writes (a shadow copy), each request's partitions from
//! its keys, items and key condition. Nothing here knows Greenloop's key design.
#![allow(dead_code)] // the test and the bench each use part of it

use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// An item in DynamoDB's JSON: attribute name to `{"S": ..}`, `{"N": ..}`, ...
pub type Item = Map<String, Value>;

/// DynamoDB's per-partition limits: 1,000 write units and 3,000 read units a second.
pub const PARTITION_WCU: f64 = 1_000.0;
pub const PARTITION_RCU: f64 = 3_000.0;
/// On-demand prices, us-east-1, after the price cut of 1 November 2024: $0.625 per million
/// write request units, $0.125 per million read request units.
pub const USD_PER_MILLION_WRU: f64 = 0.625;
pub const USD_PER_MILLION_RRU: f64 = 0.125;
/// Lambda on arm64, us-east-1: $0.0000133334 per GB-second, $0.20 per million invocations.
pub const USD_PER_GB_SECOND_ARM: f64 = 0.000_013_333_4;
pub const USD_PER_MILLION_INVOCATIONS: f64 = 0.20;

// ---------------------------------------------------------------------------------------------
// Item sizes, by DynamoDB's rules.

/// The size of an attribute value: strings their UTF-8 bytes, binaries their decoded bytes,
/// numbers 1 byte per two significant digits plus 1, booleans and nulls 1 byte, lists and maps
/// 3 bytes plus 1 byte and the size of each element (a map's element with its name), sets the
/// sum of their members.
pub fn value_size(av: &Value) -> u64 {
    let Some((t, v)) = av.as_object().and_then(|o| o.iter().next()) else {
        return 0;
    };
    match (t.as_str(), v) {
        ("S", Value::String(s)) => s.len() as u64,
        ("N", Value::String(n)) => number_size(n),
        ("B", Value::String(b)) => base64_len(b),
        ("BOOL", _) | ("NULL", _) => 1,
        ("SS", Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(|s| s.len() as u64)
            .sum(),
        ("NS", Value::Array(a)) => a.iter().filter_map(Value::as_str).map(number_size).sum(),
        ("BS", Value::Array(a)) => a.iter().filter_map(Value::as_str).map(base64_len).sum(),
        ("L", Value::Array(a)) => 3 + a.iter().map(|e| 1 + value_size(e)).sum::<u64>(),
        ("M", Value::Object(m)) => {
            3 + m
                .iter()
                .map(|(k, e)| 1 + k.len() as u64 + value_size(e))
                .sum::<u64>()
        }
        _ => 0,
    }
}

/// A number's size: leading and trailing zeros are not stored; 1 byte per two significant
/// digits, 1 more, and 1 for a sign.
pub fn number_size(n: &str) -> u64 {
    let mantissa = n.split(['e', 'E']).next().unwrap_or("");
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let significant = digits
        .trim_start_matches('0')
        .trim_end_matches('0')
        .len()
        .max(1) as u64;
    significant.div_ceil(2) + 1 + u64::from(n.starts_with('-'))
}

fn base64_len(b: &str) -> u64 {
    let padding = b.bytes().rev().take_while(|&c| c == b'=').count() as u64;
    (b.len() as u64 / 4 * 3).saturating_sub(padding)
}

/// An item's size: the sum of its attribute names' bytes and its values' sizes.
pub fn item_size(item: &Item) -> u64 {
    item.iter()
        .map(|(k, v)| k.len() as u64 + value_size(v))
        .sum()
}

/// A key attribute's value as the model names partitions: a string as is, a number's digits,
/// a binary as `b64:<base64>`.
pub fn key_text(av: &Value) -> String {
    match av.as_object().and_then(|o| o.iter().next()) {
        Some((t, Value::String(s))) if t == "B" => format!("b64:{s}"),
        Some((_, Value::String(s))) => s.clone(),
        _ => av.to_string(),
    }
}

// ---------------------------------------------------------------------------------------------
// Capacity units.

/// How a request reached an item or a partition.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Access {
    Write,
    Read { consistent: bool },
}

/// One partition touched by one request: a written item, a read item, or a query's items.
#[derive(Debug, Clone, PartialEq)]
pub struct Touch {
    /// `None` for the table, else the global secondary index.
    pub index: Option<String>,
    /// The partition key's value.
    pub partition: String,
    /// A table write's sort key: a partition whose rows are one per chain (a campus's day
    /// rows) is judged per chain's rows (`heat_key`).
    pub sort: Option<String>,
    pub access: Access,
    pub transactional: bool,
    /// The bytes the units are counted from: an item's, or all of a query's items (summed
    /// before rounding).
    pub bytes: u64,
}

impl Touch {
    /// Capacity units: a write 1 per KB started, a read 1 per 4 KB started if consistent and
    /// half that if not, twice either inside a transaction; at least one unit's worth.
    pub fn units(&self) -> f64 {
        let tx = if self.transactional { 2.0 } else { 1.0 };
        match self.access {
            Access::Write => tx * self.bytes.div_ceil(1024).max(1) as f64,
            Access::Read { consistent } => {
                let per = if consistent { 1.0 } else { 0.5 };
                tx * per * self.bytes.div_ceil(4096).max(1) as f64
            }
        }
    }

    pub fn is_write(&self) -> bool {
        self.access == Access::Write
    }
}

/// One request the SDK sent, as the model counts it.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// `PutItem`, `TransactWriteItems`, ...
    pub op: String,
    pub table: String,
    /// The HTTP status of DynamoDB's answer.
    pub status: u16,
    /// Seconds from sending to the answer.
    pub secs: f64,
    pub touches: Vec<Touch>,
}

// ---------------------------------------------------------------------------------------------
// The table's design, learnt from `CreateTable` or `DescribeTable`.

#[derive(Debug, Clone, PartialEq)]
pub enum Projection {
    All,
    KeysOnly,
    Include(BTreeSet<String>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Index {
    pub name: String,
    pub pk: String,
    pub sk: Option<String>,
    pub projection: Projection,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Schema {
    pub pk: String,
    pub sk: Option<String>,
    pub indexes: Vec<Index>,
}

fn key_schema(v: &Value) -> Option<(String, Option<String>)> {
    let mut pk = None;
    let mut sk = None;
    for k in v.as_array()? {
        let name = k.get("AttributeName")?.as_str()?.to_owned();
        match k.get("KeyType")?.as_str()? {
            "HASH" => pk = Some(name),
            _ => sk = Some(name),
        }
    }
    Some((pk?, sk))
}

impl Schema {
    /// The table name and design from a `CreateTable` request or the `Table` of a
    /// `DescribeTable` answer (the same fields).
    pub fn from_description(t: &Value) -> Option<(String, Schema)> {
        let name = t.get("TableName")?.as_str()?.to_owned();
        let (pk, sk) = key_schema(t.get("KeySchema")?)?;
        let mut indexes = Vec::new();
        for g in t
            .get("GlobalSecondaryIndexes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let (ipk, isk) = key_schema(g.get("KeySchema")?)?;
            let p = g.get("Projection");
            let projection = match p
                .and_then(|p| p.get("ProjectionType"))
                .and_then(Value::as_str)
            {
                Some("KEYS_ONLY") => Projection::KeysOnly,
                Some("INCLUDE") => Projection::Include(
                    p.and_then(|p| p.get("NonKeyAttributes"))
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .filter_map(|a| a.as_str().map(str::to_owned))
                        .collect(),
                ),
                _ => Projection::All,
            };
            indexes.push(Index {
                name: g.get("IndexName")?.as_str()?.to_owned(),
                pk: ipk,
                sk: isk,
                projection,
            });
        }
        Some((name, Schema { pk, sk, indexes }))
    }

    fn index(&self, name: &str) -> Option<&Index> {
        self.indexes.iter().find(|i| i.name == name)
    }

    /// The item's table key as one string (its identity in the shadow).
    fn identity(&self, item: &Item) -> Option<String> {
        let pk = item.get(&self.pk)?;
        let sk = match &self.sk {
            Some(sk) => item.get(sk)?.to_string(),
            None => String::new(),
        };
        Some(format!("{pk}\u{0}{sk}"))
    }

    /// The item as `index` holds it: `None` when the item lacks one of the index's keys (a
    /// sparse index leaves it out), else the table's and index's keys and what is projected.
    pub fn projected(&self, index: &Index, item: &Item) -> Option<Item> {
        if !item.contains_key(&index.pk) || index.sk.as_ref().is_some_and(|s| !item.contains_key(s))
        {
            return None;
        }
        let keys = [
            Some(&self.pk),
            self.sk.as_ref(),
            Some(&index.pk),
            index.sk.as_ref(),
        ];
        Some(
            item.iter()
                .filter(|(k, _)| {
                    keys.contains(&Some(*k))
                        || match &index.projection {
                            Projection::All => true,
                            Projection::KeysOnly => false,
                            Projection::Include(a) => a.contains(*k),
                        }
                })
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        )
    }
}

// ---------------------------------------------------------------------------------------------
// UpdateExpression: SET (values, paths, `+`/`-`, if_not_exists, list_append), REMOVE, ADD and
// DELETE on top-level attributes. A nested path (`a.b`, `a[0]`) marks the attribute changed
// without computing its new value, and is counted as approximate.

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Eq,
    Plus,
    Minus,
    Open,
    Close,
    Comma,
}

fn tokens(expr: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let mut word = String::new();
    for c in expr.chars() {
        let punct = match c {
            '=' => Some(Token::Eq),
            '+' => Some(Token::Plus),
            '-' => Some(Token::Minus),
            '(' => Some(Token::Open),
            ')' => Some(Token::Close),
            ',' => Some(Token::Comma),
            _ => None,
        };
        if c.is_whitespace() || punct.is_some() {
            if !word.is_empty() {
                out.push(Token::Word(std::mem::take(&mut word)));
            }
            out.extend(punct);
        } else {
            word.push(c);
        }
    }
    if !word.is_empty() {
        out.push(Token::Word(word));
    }
    out
}

/// What applying an update expression needs: the placeholders.
struct Placeholders<'a> {
    names: Option<&'a Map<String, Value>>,
    values: Option<&'a Map<String, Value>>,
}

impl Placeholders<'_> {
    /// A path's top-level attribute, and whether the path goes deeper.
    fn attribute(&self, path: &str) -> (String, bool) {
        let end = path.find(['.', '[']).unwrap_or(path.len());
        let head = &path[..end];
        let name = match head.strip_prefix('#') {
            Some(_) => self
                .names
                .and_then(|n| n.get(head))
                .and_then(Value::as_str)
                .unwrap_or(head)
                .to_owned(),
            None => head.to_owned(),
        };
        (name, end < path.len())
    }

    fn value(&self, placeholder: &str) -> Option<Value> {
        self.values?.get(placeholder).cloned()
    }
}

/// Applies `expr` to `before` (every operand reads the item as it was); returns the new item
/// and how many actions it could only approximate.
pub fn apply_update(
    before: &Item,
    expr: &str,
    names: Option<&Map<String, Value>>,
    values: Option<&Map<String, Value>>,
) -> (Item, u32) {
    let p = Placeholders { names, values };
    let toks = tokens(expr);
    let mut after = before.clone();
    let mut approximate = 0;
    let mut section = String::new();
    let mut i = 0;
    while i < toks.len() {
        match &toks[i] {
            Token::Word(w)
                if ["SET", "REMOVE", "ADD", "DELETE"].contains(&w.to_uppercase().as_str()) =>
            {
                section = w.to_uppercase();
                i += 1;
                continue;
            }
            Token::Comma => {
                i += 1;
                continue;
            }
            Token::Word(_) => {}
            _ => {
                // Not an expression this parser knows: skip the token.
                approximate += 1;
                i += 1;
                continue;
            }
        }
        let Token::Word(path) = &toks[i] else {
            unreachable!()
        };
        let (attr, nested) = p.attribute(path);
        i += 1;
        match section.as_str() {
            "SET" => {
                if toks.get(i) == Some(&Token::Eq) {
                    i += 1;
                }
                let mut v = operand(&toks, &mut i, before, &p);
                while let Some(op @ (Token::Plus | Token::Minus)) = toks.get(i).cloned() {
                    i += 1;
                    let rhs = operand(&toks, &mut i, before, &p);
                    v = arithmetic(v, rhs, op == Token::Plus);
                }
                if nested {
                    approximate += 1;
                } else if let Some(v) = v {
                    after.insert(attr, v);
                } else {
                    approximate += 1;
                }
            }
            "REMOVE" => {
                if nested {
                    approximate += 1;
                } else {
                    after.remove(&attr);
                }
            }
            "ADD" | "DELETE" => {
                let v = operand(&toks, &mut i, before, &p);
                match (nested, v) {
                    (false, Some(v)) => {
                        let old = before.get(&attr).cloned();
                        let new = if section == "ADD" {
                            add(old, v)
                        } else {
                            delete(old, v)
                        };
                        match new {
                            Some(n) => after.insert(attr, n),
                            None => after.remove(&attr),
                        };
                    }
                    _ => approximate += 1,
                }
            }
            _ => approximate += 1,
        }
    }
    (after, approximate)
}

/// A SET operand at `toks[*i]`: a value placeholder, a path, or a function of operands.
fn operand(toks: &[Token], i: &mut usize, item: &Item, p: &Placeholders<'_>) -> Option<Value> {
    let Some(Token::Word(w)) = toks.get(*i) else {
        *i += 1;
        return None;
    };
    *i += 1;
    if toks.get(*i) == Some(&Token::Open) {
        *i += 1;
        let mut args = Vec::new();
        let mut paths = Vec::new();
        while *i < toks.len() && toks[*i] != Token::Close {
            if toks[*i] == Token::Comma {
                *i += 1;
                continue;
            }
            if let Some(Token::Word(a)) = toks.get(*i) {
                paths.push(a.clone());
            }
            args.push(operand(toks, i, item, p));
        }
        *i += 1;
        return match w.as_str() {
            "if_not_exists" => args
                .first()
                .cloned()
                .flatten()
                .or(args.get(1).cloned().flatten()),
            "list_append" => {
                let list = |v: &Option<Value>| {
                    v.as_ref()
                        .and_then(|v| v.get("L"))
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default()
                };
                let mut l = list(args.first()?);
                l.extend(list(args.get(1)?));
                Some(serde_json::json!({ "L": l }))
            }
            _ => None,
        };
    }
    if w.starts_with(':') {
        return p.value(w);
    }
    let (attr, nested) = p.attribute(w);
    if nested {
        return None;
    }
    item.get(&attr).cloned()
}

fn number(v: &Option<Value>) -> Option<f64> {
    v.as_ref()?.get("N")?.as_str()?.parse().ok()
}

fn number_value(x: f64) -> Value {
    let text = if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    };
    serde_json::json!({ "N": text })
}

fn arithmetic(a: Option<Value>, b: Option<Value>, plus: bool) -> Option<Value> {
    let (x, y) = (number(&a)?, number(&b)?);
    Some(number_value(if plus { x + y } else { x - y }))
}

/// ADD: a number is added to, a set joined; a missing attribute takes the value.
fn add(old: Option<Value>, v: Value) -> Option<Value> {
    let Some(old) = old else { return Some(v) };
    if let (Some(x), Some(y)) = (number(&Some(old.clone())), number(&Some(v.clone()))) {
        return Some(number_value(x + y));
    }
    let (Some((t, Value::Array(a))), Some((_, Value::Array(b)))) = (
        old.as_object().and_then(|o| o.iter().next()),
        v.as_object().and_then(|o| o.iter().next()),
    ) else {
        return Some(v);
    };
    let mut set = a.clone();
    set.extend(b.iter().filter(|x| !a.contains(x)).cloned());
    Some(serde_json::json!({ t.clone(): set }))
}

/// DELETE: a set loses the members; an empty set is removed.
fn delete(old: Option<Value>, v: Value) -> Option<Value> {
    let old = old?;
    let (Some((t, Value::Array(a))), Some((_, Value::Array(b)))) = (
        old.as_object().and_then(|o| o.iter().next()),
        v.as_object().and_then(|o| o.iter().next()),
    ) else {
        return Some(old);
    };
    let left: Vec<Value> = a.iter().filter(|x| !b.contains(x)).cloned().collect();
    (!left.is_empty()).then(|| serde_json::json!({ t.clone(): left }))
}

// ---------------------------------------------------------------------------------------------
// The shadow: every table's items as the writes left them, and the request parser.

/// What the shadow has noticed about itself; printed beside the model.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ShadowStats {
    /// Update actions it could not compute exactly.
    pub approximate: u64,
    /// Items read back whole whose size it could check, and those whose size differed.
    pub checked: u64,
    pub differed: u64,
    /// The first few that differed: partition key, the shadow's size and the answer's.
    pub differed_keys: Vec<String>,
    /// Writes to a table whose design it never saw.
    pub unknown_table: u64,
}

/// One write of a request, before DynamoDB's answer.
#[derive(Debug, Clone)]
enum Write {
    Put(Item),
    Update {
        key: Item,
        expr: String,
        names: Option<Map<String, Value>>,
        values: Option<Map<String, Value>>,
    },
    Delete(Item),
    Check(Item),
}

/// One read of a request, before DynamoDB's answer.
#[derive(Debug, Clone)]
enum Read {
    Keys {
        keys: Vec<Item>,
        consistent: bool,
        projected: bool,
    },
    Query {
        index: Option<String>,
        partition: String,
        consistent: bool,
        projected: bool,
    },
    Scan {
        index: Option<String>,
        consistent: bool,
    },
}

/// A request sent and not yet answered.
#[derive(Debug, Clone)]
pub struct Sent {
    op: String,
    transactional: bool,
    /// (table, write) in request order.
    writes: Vec<(String, Write)>,
    reads: Vec<(String, Read)>,
    /// A `CreateTable` request carries the design.
    design: Option<(String, Schema)>,
}

impl Sent {
    /// The table the request is about (the first named), for filtering.
    pub fn table(&self) -> Option<&str> {
        self.writes
            .first()
            .map(|(t, _)| t.as_str())
            .or(self.reads.first().map(|(t, _)| t.as_str()))
            .or(self.design.as_ref().map(|(t, _)| t.as_str()))
    }
}

#[derive(Debug, Default)]
pub struct Shadow {
    pub schemas: HashMap<String, Schema>,
    /// table → item identity → item.
    items: HashMap<String, HashMap<String, Item>>,
    pub stats: ShadowStats,
}

fn obj(v: &Value, field: &str) -> Option<Map<String, Value>> {
    v.get(field).and_then(Value::as_object).cloned()
}

fn text(v: &Value, field: &str) -> String {
    v.get(field)
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned()
}

impl Shadow {
    /// Forgets every table but `keep`.
    pub fn retain(&mut self, keep: &str) {
        self.items.retain(|t, _| t == keep);
    }

    /// Reads a request body of operation `op` (from `X-Amz-Target`).
    pub fn sent(&self, op: &str, body: &Value) -> Sent {
        let mut s = Sent {
            op: op.to_owned(),
            transactional: op.starts_with("Transact"),
            writes: Vec::new(),
            reads: Vec::new(),
            design: None,
        };
        let write = |w: &Value| -> Option<Write> {
            if let Some(item) = obj(w, "Item") {
                return Some(Write::Put(item));
            }
            let key = obj(w, "Key")?;
            Some(match w.get("UpdateExpression").and_then(Value::as_str) {
                Some(expr) => Write::Update {
                    key,
                    expr: expr.to_owned(),
                    names: obj(w, "ExpressionAttributeNames"),
                    values: obj(w, "ExpressionAttributeValues"),
                },
                None => Write::Delete(key),
            })
        };
        let consistent = |v: &Value| v.get("ConsistentRead").and_then(Value::as_bool) == Some(true);
        let projected = |v: &Value| v.get("ProjectionExpression").is_some();
        match op {
            "PutItem" | "UpdateItem" | "DeleteItem" => {
                s.writes
                    .extend(write(body).map(|w| (text(body, "TableName"), w)));
            }
            "TransactWriteItems" => {
                for t in body
                    .get("TransactItems")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let entry = |kind: &str| t.get(kind).map(|w| (text(w, "TableName"), w));
                    if let Some((table, w)) = entry("ConditionCheck") {
                        s.writes
                            .extend(obj(w, "Key").map(|k| (table, Write::Check(k))));
                    } else if let Some((table, w)) =
                        entry("Put").or(entry("Update")).or(entry("Delete"))
                    {
                        s.writes.extend(write(w).map(|w| (table, w)));
                    }
                }
            }
            "BatchWriteItem" => {
                for (table, reqs) in body
                    .get("RequestItems")
                    .and_then(Value::as_object)
                    .into_iter()
                    .flatten()
                {
                    for r in reqs.as_array().into_iter().flatten() {
                        let w = r.get("PutRequest").or(r.get("DeleteRequest"));
                        s.writes
                            .extend(w.and_then(write).map(|w| (table.clone(), w)));
                    }
                }
            }
            "GetItem" => {
                if let Some(key) = obj(body, "Key") {
                    s.reads.push((
                        text(body, "TableName"),
                        Read::Keys {
                            keys: vec![key],
                            consistent: consistent(body),
                            projected: projected(body),
                        },
                    ));
                }
            }
            "BatchGetItem" => {
                for (table, r) in body
                    .get("RequestItems")
                    .and_then(Value::as_object)
                    .into_iter()
                    .flatten()
                {
                    let keys = r
                        .get("Keys")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .filter_map(|k| k.as_object().cloned())
                        .collect();
                    s.reads.push((
                        table.clone(),
                        Read::Keys {
                            keys,
                            consistent: consistent(r),
                            projected: projected(r),
                        },
                    ));
                }
            }
            "TransactGetItems" => {
                for t in body
                    .get("TransactItems")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    if let Some(g) = t.get("Get") {
                        s.reads.extend(obj(g, "Key").map(|k| {
                            (
                                text(g, "TableName"),
                                Read::Keys {
                                    keys: vec![k],
                                    consistent: true,
                                    projected: projected(g),
                                },
                            )
                        }));
                    }
                }
            }
            "Query" => {
                let table = text(body, "TableName");
                let index = body
                    .get("IndexName")
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                let partition = self.query_partition(&table, index.as_deref(), body);
                let projected =
                    projected(body) || body.get("Select").and_then(Value::as_str) == Some("COUNT");
                s.reads.push((
                    table,
                    Read::Query {
                        index,
                        partition,
                        consistent: consistent(body),
                        projected,
                    },
                ));
            }
            "Scan" => {
                let index = body
                    .get("IndexName")
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                s.reads.push((
                    text(body, "TableName"),
                    Read::Scan {
                        index,
                        consistent: consistent(body),
                    },
                ));
            }
            "CreateTable" => s.design = Schema::from_description(body),
            _ => {}
        }
        s
    }

    /// The partition key value of a query: the equality in its key condition on the table's
    /// or index's partition key (the first equality when the design is unknown).
    fn query_partition(&self, table: &str, index: Option<&str>, body: &Value) -> String {
        let expr = text(body, "KeyConditionExpression");
        let names = obj(body, "ExpressionAttributeNames");
        let values = obj(body, "ExpressionAttributeValues");
        let p = Placeholders {
            names: names.as_ref(),
            values: values.as_ref(),
        };
        let schema = self.schemas.get(table);
        let pk = match (schema, index) {
            (Some(s), Some(i)) => s.index(i).map(|i| i.pk.clone()),
            (Some(s), None) => Some(s.pk.clone()),
            _ => None,
        };
        let toks = tokens(&expr);
        for w in toks.windows(3) {
            if let [Token::Word(a), Token::Eq, Token::Word(b)] = w {
                let (path, placeholder) = if b.starts_with(':') { (a, b) } else { (b, a) };
                let (attr, _) = p.attribute(path);
                if pk.as_ref().is_none_or(|pk| *pk == attr) {
                    if let Some(v) = p.value(placeholder) {
                        return key_text(&v);
                    }
                }
            }
        }
        "?".into()
    }

    /// DynamoDB's answer to `sent`: what the request cost, on which partitions; the shadow
    /// takes the writes of a request that succeeded.
    ///
    /// A request refused by a condition (a 4xx answer such as `ConditionalCheckFailed` or
    /// `TransactionCanceled`) still costs its write units, as DynamoDB charges them, but changes
    /// nothing; one refused for throttling or failed inside DynamoDB (5xx) costs nothing: the
    /// SDK sends it again and the retry is counted.
    pub fn answered(
        &mut self,
        sent: Sent,
        status: u16,
        body: Option<&Value>,
        secs: f64,
    ) -> Request {
        let ok = (200..300).contains(&status);
        let error = body.map(|b| text(b, "__type")).unwrap_or_default();
        let charged = ok
            || (status < 500
                && ![
                    "Throttling",
                    "ProvisionedThroughputExceeded",
                    "RequestLimitExceeded",
                ]
                .iter()
                .any(|t| error.contains(t)));
        if let Some((table, schema)) = sent.design.clone() {
            self.schemas.insert(table, schema);
        }
        if let Some((table, schema)) = body
            .and_then(|b| b.get("Table").or(b.get("TableDescription")))
            .and_then(Schema::from_description)
        {
            self.schemas.insert(table, schema);
        }
        let mut touches = Vec::new();
        let tx = sent.transactional;
        let mut applied = Vec::new();
        for (table, w) in &sent.writes {
            let Some(schema) = self.schemas.get(table).cloned() else {
                self.stats.unknown_table += 1;
                continue;
            };
            let key = match w {
                Write::Put(i) => i.clone(),
                Write::Update { key, .. } | Write::Delete(key) | Write::Check(key) => key.clone(),
            };
            let Some(id) = schema.identity(&key) else {
                continue;
            };
            let partition = key.get(&schema.pk).map(key_text).unwrap_or_default();
            let before = self.items.get(table).and_then(|t| t.get(&id)).cloned();
            let after = match w {
                Write::Put(i) => Some(i.clone()),
                Write::Update {
                    key,
                    expr,
                    names,
                    values,
                } => {
                    let base = before.clone().unwrap_or_else(|| key.clone());
                    let (mut after, approx) =
                        apply_update(&base, expr, names.as_ref(), values.as_ref());
                    self.stats.approximate += u64::from(approx);
                    // The key is the key, whatever the expression says.
                    after.extend(key.clone());
                    Some(after)
                }
                Write::Delete(_) => None,
                Write::Check(_) => before.clone(),
            };
            let size = |i: &Option<Item>| i.as_ref().map_or(0, item_size);
            let bytes = match w {
                Write::Delete(_) | Write::Check(_) => size(&before),
                _ => size(&before).max(size(&after)),
            };
            if charged {
                touches.push(Touch {
                    index: None,
                    partition,
                    sort: schema.sk.as_ref().and_then(|sk| key.get(sk)).map(key_text),
                    access: Access::Write,
                    transactional: tx,
                    bytes,
                });
            }
            if ok && !matches!(w, Write::Check(_)) {
                touches.extend(index_writes(&schema, before.as_ref(), after.as_ref()));
                applied.push((table.clone(), id, after));
            }
        }
        for (table, id, after) in applied {
            let t = self.items.entry(table).or_default();
            match after {
                Some(i) => t.insert(id, i),
                None => t.remove(&id),
            };
        }
        if ok {
            for (table, r) in &sent.reads {
                touches.extend(self.read_touches(table, r, body, tx));
            }
        }
        let table = sent.table().unwrap_or("").to_owned();
        Request {
            op: sent.op,
            table,
            status,
            secs,
            touches,
        }
    }

    fn read_touches(
        &mut self,
        table: &str,
        r: &Read,
        body: Option<&Value>,
        tx: bool,
    ) -> Vec<Touch> {
        let schema = self.schemas.get(table).cloned();
        let empty = HashMap::new();
        let mut checked = (0, 0);
        let mut differed = Vec::new();
        let shadow = self.items.get(table).unwrap_or(&empty);
        let pk_of = |item: &Item| {
            schema
                .as_ref()
                .and_then(|s| item.get(&s.pk))
                .map(key_text)
                .unwrap_or_else(|| "?".into())
        };
        // The item's size as DynamoDB counts a read: the whole item as stored, from the
        // shadow, else what came back.
        let mut stored = |item: &Item, projected: bool| -> u64 {
            let whole = schema
                .as_ref()
                .and_then(|s| s.identity(item))
                .and_then(|id| shadow.get(&id));
            match whole {
                // Whole in the answer: the answer is the item as read (the shadow may not
                // have seen a concurrent write's answer yet); it checks the shadow.
                Some(w) if !projected => {
                    checked.0 += 1;
                    if item_size(w) != item_size(item) {
                        checked.1 += 1;
                        differed.push((item.clone(), item_size(w), item_size(item)));
                    }
                    item_size(item)
                }
                Some(w) => item_size(w),
                None => item_size(item),
            }
        };
        let answered_items = |field: &str| -> Vec<Item> {
            body.and_then(|b| b.get(field))
                .map(|v| match v {
                    Value::Array(a) => a.clone(),
                    Value::Object(o) => o
                        .get(table)
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default(),
                    _ => Vec::new(),
                })
                .unwrap_or_default()
                .into_iter()
                .map(|v| match v.get("Item") {
                    Some(i) => i.as_object().cloned().unwrap_or_default(),
                    None => v.as_object().cloned().unwrap_or_default(),
                })
                .filter(|i| !i.is_empty())
                .collect()
        };
        let mut out = Vec::new();
        match r {
            Read::Keys {
                keys,
                consistent,
                projected,
            } => {
                let got: Vec<Item> = match body.and_then(|b| b.get("Item")) {
                    Some(i) => i.as_object().cloned().into_iter().collect(),
                    None => answered_items("Responses"),
                };
                // Keys DynamoDB left unprocessed were not read.
                let unprocessed = body
                    .and_then(|b| b.get("UnprocessedKeys"))
                    .and_then(|u| u.get(table))
                    .and_then(|u| u.get("Keys"))
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                for key in keys {
                    if unprocessed.iter().any(|u| u.as_object() == Some(key)) {
                        continue;
                    }
                    let answer = got
                        .iter()
                        .find(|i| key.iter().all(|(k, v)| i.get(k) == Some(v)));
                    let bytes = match answer {
                        Some(i) => stored(i, *projected),
                        None => {
                            // Not in the answer: projected away or absent; the shadow knows.
                            let id = schema.as_ref().and_then(|s| s.identity(key));
                            id.and_then(|id| shadow.get(&id)).map_or(0, item_size)
                        }
                    };
                    out.push(Touch {
                        index: None,
                        partition: pk_of(key),
                        sort: None,
                        access: Access::Read {
                            consistent: *consistent,
                        },
                        transactional: tx,
                        bytes,
                    });
                }
            }
            Read::Query {
                index,
                partition,
                consistent,
                projected,
            } => {
                let items = answered_items("Items");
                let ix = index
                    .as_deref()
                    .and_then(|i| schema.as_ref()?.index(i).cloned());
                let size_in = |i: &Item| match (&ix, &schema) {
                    (Some(ix), Some(s)) => s.projected(ix, i).map_or(0, |p| item_size(&p)),
                    _ => item_size(i),
                };
                let bytes: u64 = if items.is_empty() {
                    // A count (or an empty page): the items scanned, at the partition's mean
                    // size in the shadow.
                    let scanned = body
                        .and_then(|b| b.get("ScannedCount"))
                        .and_then(Value::as_u64)
                        .unwrap_or(0);
                    let key_attr = ix
                        .as_ref()
                        .map(|i| i.pk.clone())
                        .or(schema.as_ref().map(|s| s.pk.clone()));
                    let sizes: Vec<u64> = shadow
                        .values()
                        .filter(|i| {
                            key_attr
                                .as_ref()
                                .and_then(|k| i.get(k))
                                .map(key_text)
                                .as_deref()
                                == Some(partition)
                        })
                        .map(size_in)
                        .collect();
                    scanned * sizes.iter().sum::<u64>() / (sizes.len().max(1) as u64)
                } else {
                    items
                        .iter()
                        .map(|i| {
                            let whole = schema
                                .as_ref()
                                .and_then(|s| s.identity(i))
                                .and_then(|id| shadow.get(&id));
                            // Without a projection expression the answer is the item (or the
                            // index entry) as read; with one, the shadow has it whole.
                            match whole {
                                Some(w) if !projected => {
                                    checked.0 += 1;
                                    if size_in(w) != item_size(i) {
                                        checked.1 += 1;
                                        differed.push((i.clone(), size_in(w), item_size(i)));
                                    }
                                    item_size(i)
                                }
                                Some(w) => size_in(w),
                                None => item_size(i),
                            }
                        })
                        .sum()
                };
                out.push(Touch {
                    index: index.clone(),
                    partition: partition.clone(),
                    sort: None,
                    access: Access::Read {
                        consistent: *consistent,
                    },
                    transactional: tx,
                    bytes,
                });
            }
            Read::Scan { index, consistent } => {
                let bytes = answered_items("Items").iter().map(item_size).sum();
                out.push(Touch {
                    index: index.clone(),
                    partition: "(scan)".into(),
                    sort: None,
                    access: Access::Read {
                        consistent: *consistent,
                    },
                    transactional: tx,
                    bytes,
                });
            }
        }
        self.stats.checked += checked.0;
        self.stats.differed += checked.1;
        for (item, shadow, answer) in differed {
            if self.stats.differed_keys.len() < 5 {
                let key = schema.as_ref().and_then(|s| item.get(&s.pk)).map(key_text);
                self.stats.differed_keys.push(format!(
                    "{} ({shadow} bytes in the shadow, {answer} read)",
                    key.unwrap_or_default()
                ));
            }
        }
        out
    }
}

/// The writes a table write makes to each global secondary index: an entry leaving (a delete
/// at the old entry's size), arriving (a put at the new one's), moving to another key (both),
/// or changing in place when a projected attribute changed (one write at the new size).
pub fn index_writes(schema: &Schema, before: Option<&Item>, after: Option<&Item>) -> Vec<Touch> {
    let mut out = Vec::new();
    for ix in &schema.indexes {
        let old = before.and_then(|b| schema.projected(ix, b));
        let new = after.and_then(|a| schema.projected(ix, a));
        let touch = |entry: &Item| Touch {
            index: Some(ix.name.clone()),
            partition: entry.get(&ix.pk).map(key_text).unwrap_or_default(),
            sort: None,
            access: Access::Write,
            transactional: false,
            bytes: item_size(entry),
        };
        let key_of = |e: &Item| {
            (
                e.get(&ix.pk).cloned(),
                ix.sk.as_ref().and_then(|s| e.get(s).cloned()),
            )
        };
        match (old, new) {
            (None, None) => {}
            (Some(o), None) => out.push(touch(&o)),
            (None, Some(n)) => out.push(touch(&n)),
            (Some(o), Some(n)) if key_of(&o) != key_of(&n) => {
                out.push(touch(&o));
                out.push(touch(&n));
            }
            (Some(o), Some(n)) if o != n => out.push(touch(&n)),
            _ => {}
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// The model: from a timed phase's requests to partitions' loads at a target rate.

/// A timed crediting phase: what was credited, over which chains, and every request it sent.
#[derive(Debug, Clone, Default)]
pub struct Phase {
    /// Actions credited.
    pub actions: u64,
    /// The chains' names (`shard-00`, ...): a partition key containing one is per chain.
    pub chains: Vec<String>,
    /// The campuses' ids: a partition key containing one is a campus's.
    pub campuses: Vec<String>,
    /// Actions credited to a campus (their member is affiliated).
    pub campus_actions: u64,
    /// Wall time of the phase, and how many crediting tasks ran at once in it.
    pub secs: f64,
    pub tasks: usize,
    /// Actions per batch the phase was run with (for labels).
    pub batch: usize,
    pub requests: Vec<Request>,
}

/// How a class of partitions scales with the rate and the chains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// Names a chain: the class's load is divided over the chains.
    PerChain,
    /// Names a campus: the busiest campus carries its share of all actions.
    Campus,
    /// Names both: the busiest campus's share, divided over the chains.
    CampusPerChain,
    /// One value per action, member, station...: an item's load is bounded by its entity.
    Spread,
    /// Anything else: one partition whose load grows with the rate.
    Fixed,
}

impl Kind {
    pub fn label(self) -> &'static str {
        match self {
            Kind::PerChain => "per chain",
            Kind::Campus => "campus",
            Kind::CampusPerChain => "campus, per chain",
            Kind::Spread => "spread",
            Kind::Fixed => "fixed",
        }
    }
}

/// A class is spread when it had at least this many distinct keys, and at least one for every
/// `SPREAD_ACTIONS_PER_KEY` actions: a fixed set (16 queue buckets, a singleton) stays small
/// however many actions there are; members, stations and actions grow with them.
pub const SPREAD_MIN_KEYS: usize = 20;
pub const SPREAD_ACTIONS_PER_KEY: u64 = 10;

/// `name` occurs in `key` as a whole token (not followed or preceded by a letter or digit, so
/// `shard-1` is not in `shard-10`).
fn token_at(key: &str, name: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(at) = key[from..].find(name).map(|i| i + from) {
        let before = key[..at].chars().next_back();
        let after = key[at + name.len()..].chars().next();
        if !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// A partition key's class: the key with its chain and campus replaced by `<chain>` and
/// `<campus>`; any other key up to its first `#`, then `<id>`; a key without `#` is its own
/// class unless it has a digit (an id, hex or numbered), then `<id>`.
/// The unit of heat a touch falls on: its partition, or, for a table write to a row of one
/// chain (the chain named in the sort key but not in the partition key, as a campus's day
/// rows are), that chain's rows of the partition. Writes spread evenly over such rows, not at a
/// growing key, so DynamoDB splits the partition along them for heat; a chain's own growing
/// rows (`CHAIN#<chain>`) are named by the partition key and stay one unit.
pub fn heat_key(t: &Touch, chains: &[String]) -> String {
    let in_rows = |c: &&String| {
        t.sort
            .as_deref()
            .is_some_and(|sk| token_at(sk, c).is_some())
            && token_at(&t.partition, c).is_none()
    };
    match chains.iter().filter(in_rows).max_by_key(|c| c.len()) {
        Some(chain) => format!("{}#{chain}", t.partition),
        None => t.partition.clone(),
    }
}

pub fn classify(
    key: &str,
    chains: &[String],
    campuses: &[String],
) -> (String, Option<String>, Option<String>) {
    let mut class = key.to_owned();
    let longest = |names: &[String], class: &str| {
        names
            .iter()
            .filter(|n| !n.is_empty() && token_at(class, n).is_some())
            .max_by_key(|n| n.len())
            .cloned()
    };
    let chain = longest(chains, &class);
    if let Some(c) = &chain {
        let at = token_at(&class, c).expect("found");
        class.replace_range(at..at + c.len(), "<chain>");
    }
    let campus = longest(campuses, &class);
    if let Some(c) = &campus {
        let at = token_at(&class, c).expect("found");
        class.replace_range(at..at + c.len(), "<campus>");
    }
    if chain.is_none() && campus.is_none() {
        if let Some(at) = class.find('#') {
            class.truncate(at + 1);
            class.push_str("<id>");
        } else if class.chars().any(|c| c.is_ascii_digit()) {
            class = "<id>".into();
        }
    }
    (class, chain, campus)
}

/// Units of one class of partitions in one phase.
#[derive(Debug, Clone, Default)]
pub struct Class {
    pub index: Option<String>,
    pub class: String,
    pub kind: Option<Kind>,
    /// Units per key.
    pub wcu: BTreeMap<String, f64>,
    pub rcu: BTreeMap<String, f64>,
    /// Units per chain (for per-chain classes).
    pub chain_wcu: BTreeMap<String, f64>,
    pub chain_rcu: BTreeMap<String, f64>,
}

impl Class {
    pub fn keys(&self) -> usize {
        self.wcu
            .keys()
            .chain(self.rcu.keys())
            .collect::<BTreeSet<_>>()
            .len()
    }
    // `+ 0.0`: an empty sum is -0.0, which prints as such.
    pub fn total_wcu(&self) -> f64 {
        self.wcu.values().sum::<f64>() + 0.0
    }
    pub fn total_rcu(&self) -> f64 {
        self.rcu.values().sum::<f64>() + 0.0
    }
    fn hottest(map: &BTreeMap<String, f64>) -> (String, f64) {
        map.iter()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map_or((String::new(), 0.0), |(k, v)| (k.clone(), *v))
    }
    /// The busiest chain's load over the mean chain's (1 when even), over `chains` chains.
    fn imbalance(map: &BTreeMap<String, f64>, chains: usize) -> f64 {
        let total: f64 = map.values().sum();
        if total == 0.0 || chains == 0 {
            return 1.0;
        }
        Self::hottest(map).1 / (total / chains as f64)
    }
}

/// Parameters of the projection; `Params::default()` documents each default.
#[derive(Debug, Clone)]
pub struct Params {
    /// Busiest campus's share of all credited actions. Default 5%: about 100 universities take
    /// part; a large one (≈50,000 students and staff) at the earlier campaign's 3 boxes a head
    /// is ≈150,000 of its 6 million boxes, 2.5%; doubled for a campus rush.
    pub busiest_campus_share: f64,
    /// Credited actions a second that one member, station or action can take part in.
    /// Default 1: one person scanning one QR code at a time; the rulebook's daily caps keep a
    /// member far below it over a day.
    pub entity_rate: f64,
    /// The share of a partition's limits a per-chain partition may use at the target rate.
    pub headroom: f64,
    /// The credit function's memory (infra/template.yaml: 512 MB) and stream batch size (100).
    pub lambda_gb: f64,
    pub stream_batch: f64,
    /// A transaction's latency for Lambda's concurrency; `None`: as measured (DynamoDB Local's
    /// is far slower than AWS's).
    pub transaction_secs: Option<f64>,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            busiest_campus_share: 0.05,
            entity_rate: 1.0,
            headroom: 0.5,
            lambda_gb: 0.5,
            stream_batch: 100.0,
            transaction_secs: None,
        }
    }
}

/// A phase's requests, by class of partition; the per-action figures of the model.
#[derive(Debug, Clone)]
pub struct Heat {
    pub phase_actions: u64,
    pub chains: usize,
    pub campus_actions: u64,
    pub classes: Vec<Class>,
    pub requests: u64,
    pub by_op: BTreeMap<String, u64>,
    /// Transactions sent (`TransactWriteItems`, refused ones too, not 5xx) and their mean latency.
    pub transactions: u64,
    pub transaction_secs: f64,
    pub secs: f64,
    pub tasks: usize,
    pub batch: usize,
}

/// One index's (or the table's) hottest partitions at a rate and a number of chains.
#[derive(Debug, Clone, PartialEq)]
pub struct Hot {
    pub index: Option<String>,
    /// The hottest class (a fixed partition: its hottest key) and its kind.
    pub write_class: String,
    pub write_kind: Kind,
    pub wcu_s: f64,
    pub read_class: String,
    pub read_kind: Kind,
    pub rcu_s: f64,
}

/// The model's answer at one rate and number of chains.
#[derive(Debug, Clone)]
pub struct AtRate {
    pub rate: f64,
    pub chains: u32,
    pub hot: Vec<Hot>,
    pub transactions_s: f64,
    /// Lambda invocations in flight (Little's law) at the measured transaction latency.
    pub concurrency: f64,
    pub usd_dynamodb: f64,
    pub usd_lambda: f64,
}

impl Heat {
    pub fn of(phase: &Phase) -> Heat {
        let mut classes: BTreeMap<(Option<String>, String), Class> = BTreeMap::new();
        let mut by_op = BTreeMap::new();
        let (mut transactions, mut transaction_secs) = (0, 0.0);
        for r in &phase.requests {
            *by_op.entry(r.op.clone()).or_insert(0) += 1;
            // DynamoDB Local's internal errors (5xx) are its own, not a transaction AWS runs.
            if r.op == "TransactWriteItems" && r.status < 500 {
                transactions += 1;
                transaction_secs += r.secs;
            }
            for t in &r.touches {
                let key = heat_key(t, &phase.chains);
                let (class, chain, campus) = classify(&key, &phase.chains, &phase.campuses);
                let c = classes.entry((t.index.clone(), class.clone())).or_default();
                c.index = t.index.clone();
                c.class = class;
                c.kind = Some(match (&chain, &campus) {
                    (Some(_), Some(_)) => Kind::CampusPerChain,
                    (Some(_), None) => Kind::PerChain,
                    (None, Some(_)) => Kind::Campus,
                    (None, None) => Kind::Fixed,
                });
                let (by_key, by_chain) = if t.is_write() {
                    (&mut c.wcu, &mut c.chain_wcu)
                } else {
                    (&mut c.rcu, &mut c.chain_rcu)
                };
                *by_key.entry(key.clone()).or_insert(0.0) += t.units();
                if let Some(chain) = chain {
                    *by_chain.entry(chain).or_insert(0.0) += t.units();
                }
            }
        }
        let mut classes: Vec<Class> = classes.into_values().collect();
        for c in &mut classes {
            let k = c.keys();
            if c.kind == Some(Kind::Fixed)
                && k >= SPREAD_MIN_KEYS
                && k as u64 * SPREAD_ACTIONS_PER_KEY >= phase.actions
            {
                c.kind = Some(Kind::Spread);
            }
        }
        Heat {
            phase_actions: phase.actions.max(1),
            chains: phase.chains.len().max(1),
            campus_actions: phase.campus_actions,
            classes,
            requests: phase.requests.len() as u64,
            by_op,
            transactions,
            transaction_secs,
            secs: phase.secs,
            tasks: phase.tasks,
            batch: phase.batch,
        }
    }

    fn per_action(&self, units: f64) -> f64 {
        units / self.phase_actions as f64
    }

    /// Write and read units per credited action, on the table and on the indexes.
    pub fn units_per_action(&self) -> (f64, f64, f64, f64) {
        let sum = |table: bool, write: bool| -> f64 {
            self.classes
                .iter()
                .filter(|c| c.index.is_none() == table)
                .map(|c| if write { c.total_wcu() } else { c.total_rcu() })
                .sum::<f64>()
                / self.phase_actions as f64
                + 0.0
        };
        (
            sum(true, true),
            sum(false, true),
            sum(true, false),
            sum(false, false),
        )
    }

    /// Units a second on the class's hottest partition at `rate` actions a second over
    /// `chains` chains: (write, read).
    pub fn class_load(&self, c: &Class, p: &Params, rate: f64, chains: u32) -> (f64, f64) {
        let n = f64::from(chains.max(1));
        let campus =
            |total: f64| total / self.campus_actions.max(1) as f64 * rate * p.busiest_campus_share;
        let load = |by_key: &BTreeMap<String, f64>, by_chain: &BTreeMap<String, f64>| -> f64 {
            let total: f64 = by_key.values().sum();
            let imbalance = Class::imbalance(by_chain, self.chains);
            match c.kind.unwrap_or(Kind::Fixed) {
                Kind::PerChain => self.per_action(total) * rate * imbalance / n,
                // The busiest campus's key: its share of all actions, at the class's load
                // per campus action.
                Kind::Campus => campus(total),
                Kind::CampusPerChain => campus(total) * imbalance / n,
                Kind::Spread => self.per_action(total) * p.entity_rate,
                Kind::Fixed => self.per_action(Class::hottest(by_key).1) * rate,
            }
        };
        // `+ 0.0`: a load of nothing is -0.0 (an empty sum), which prints as such.
        (
            load(&c.wcu, &c.chain_wcu) + 0.0,
            load(&c.rcu, &c.chain_rcu) + 0.0,
        )
    }

    /// Chains needed for every per-chain partition to stay under `headroom` of its limits at
    /// `rate`: N = ceil(rate × w / (headroom × 1,000)), w the write units per action on the
    /// busiest chain's partition of the class were all actions its (likewise reads, 3,000).
    pub fn chains_needed(&self, p: &Params, rate: f64) -> u32 {
        let mut need: f64 = 1.0;
        for c in &self.classes {
            let share = match c.kind {
                Some(Kind::PerChain) => 1.0,
                Some(Kind::CampusPerChain) => {
                    p.busiest_campus_share * self.phase_actions as f64
                        / self.campus_actions.max(1) as f64
                }
                _ => continue,
            };
            let w = self.per_action(c.total_wcu())
                * Class::imbalance(&c.chain_wcu, self.chains)
                * share;
            let r = self.per_action(c.total_rcu())
                * Class::imbalance(&c.chain_rcu, self.chains)
                * share;
            need = need
                .max((rate * w / (p.headroom * PARTITION_WCU)).ceil())
                .max((rate * r / (p.headroom * PARTITION_RCU)).ceil());
        }
        need as u32
    }

    /// The hottest partition of the table and of each index at `rate` over `chains`.
    pub fn project(&self, p: &Params, rate: f64, chains: u32) -> AtRate {
        let mut by_index: BTreeMap<Option<String>, Hot> = BTreeMap::new();
        for c in &self.classes {
            let (w, r) = self.class_load(c, p, rate, chains);
            let h = by_index.entry(c.index.clone()).or_insert(Hot {
                index: c.index.clone(),
                write_class: String::new(),
                write_kind: Kind::Fixed,
                wcu_s: 0.0,
                read_class: String::new(),
                read_kind: Kind::Fixed,
                rcu_s: 0.0,
            });
            let kind = c.kind.unwrap_or(Kind::Fixed);
            let name = |by_key: &BTreeMap<String, f64>| match kind {
                Kind::Fixed => Class::hottest(by_key).0,
                _ => c.class.clone(),
            };
            if w > h.wcu_s {
                (h.write_class, h.write_kind, h.wcu_s) = (name(&c.wcu), kind, w);
            }
            if r > h.rcu_s {
                (h.read_class, h.read_kind, h.rcu_s) = (name(&c.rcu), kind, r);
            }
        }
        let (tw, iw, tr, ir) = self.units_per_action();
        let tx_per_action = self.transactions as f64 / self.phase_actions as f64;
        let latency = p
            .transaction_secs
            .unwrap_or(self.transaction_secs / self.transactions.max(1) as f64);
        let lambda_secs_per_action =
            self.secs * self.tasks.max(1) as f64 / self.phase_actions as f64;
        AtRate {
            rate,
            chains,
            hot: by_index.into_values().collect(),
            transactions_s: rate * tx_per_action,
            concurrency: rate * tx_per_action * latency,
            usd_dynamodb: (tw + iw) * USD_PER_MILLION_WRU + (tr + ir) * USD_PER_MILLION_RRU,
            usd_lambda: 1e6 * lambda_secs_per_action * p.lambda_gb * USD_PER_GB_SECOND_ARM
                + USD_PER_MILLION_INVOCATIONS / p.stream_batch,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Markdown, in the format of docs/scaling.md.

fn pct(x: f64, limit: f64) -> String {
    format!("{:.1}%", 100.0 * x / limit)
}

fn index_name(i: &Option<String>) -> String {
    i.clone().map_or("table".into(), |i| format!("`{i}`"))
}

/// Every class of partitions: what it costs per credited action and where it is at `rate`
/// over `chains`.
pub fn classes_markdown(h: &Heat, p: &Params, rate: f64, chains: u32) -> String {
    let mut s = format!(
        "| table/index | partitions | kind | keys seen | WCU/action | RCU/action | chain imbalance (W/R) | \
         hottest WCU/s at {rate:.0}/s, {chains} chains | % of 1,000 | hottest RCU/s | % of 3,000 |\n\
         |---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n"
    );
    for c in &h.classes {
        let (w, r) = h.class_load(c, p, rate, chains);
        let kind = c.kind.unwrap_or(Kind::Fixed);
        let imbalance = if matches!(kind, Kind::PerChain | Kind::CampusPerChain) {
            format!(
                "{:.2} / {:.2}",
                Class::imbalance(&c.chain_wcu, h.chains),
                Class::imbalance(&c.chain_rcu, h.chains)
            )
        } else {
            "-".into()
        };
        let note = if kind == Kind::Spread {
            format!(" (one item at {}/s)", p.entity_rate)
        } else {
            String::new()
        };
        s += &format!(
            "| {} | `{}` | {}{} | {} | {:.3} | {:.3} | {} | {:.1} | {} | {:.1} | {} |\n",
            index_name(&c.index),
            c.class,
            kind.label(),
            note,
            c.keys(),
            h.per_action(c.total_wcu()),
            h.per_action(c.total_rcu()),
            imbalance,
            w,
            pct(w, PARTITION_WCU),
            r,
            pct(r, PARTITION_RCU)
        );
    }
    s
}

/// The hottest partition of the table and each index, one row per (rate, chains, index).
pub fn hot_markdown(rows: &[AtRate]) -> String {
    let mut s = String::from(
        "| actions/s | chains | table/index | hottest write partition | WCU/s | % of 1,000 | \
         hottest read partition | RCU/s | % of 3,000 |\n|---:|---:|---|---|---:|---:|---|---:|---:|\n",
    );
    for p in rows {
        for h in &p.hot {
            let name = |c: &str, kind: Kind| {
                if c.is_empty() {
                    "-".to_owned()
                } else {
                    format!("`{c}` ({})", kind.label())
                }
            };
            s += &format!(
                "| {:.0} | {} | {} | {} | {:.1} | {} | {} | {:.1} | {} |\n",
                p.rate,
                p.chains,
                index_name(&h.index),
                name(&h.write_class, h.write_kind),
                h.wcu_s,
                pct(h.wcu_s, PARTITION_WCU),
                name(&h.read_class, h.read_kind),
                h.rcu_s,
                pct(h.rcu_s, PARTITION_RCU)
            );
        }
    }
    s
}

/// Transactions, Lambda concurrency and cost, one row per (rate, chains).
pub fn summary_markdown(h: &Heat, p: &Params, rows: &[AtRate]) -> String {
    let mut s = String::from(
        "| actions/s | chains | transactions/s | Lambda concurrency (≤ chains) | chains for 50% | \
         DynamoDB $/million actions | Lambda $/million actions |\n|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in rows {
        let capped = if r.concurrency > f64::from(r.chains) {
            " **over**"
        } else {
            ""
        };
        s += &format!(
            "| {:.0} | {} | {:.1} | {:.1}{} | {} | {:.2} | {:.2} |\n",
            r.rate,
            r.chains,
            r.transactions_s,
            r.concurrency,
            capped,
            h.chains_needed(p, r.rate),
            r.usd_dynamodb,
            r.usd_lambda
        );
    }
    s
}

/// Per configuration: requests, units and cost per credited action.
pub fn configurations_markdown(heats: &[Heat]) -> String {
    let mut s = String::from(
        "| tasks | chains | batch | requests/action | table WCU/action | index WCU/action | \
         table RCU/action | index RCU/action | transaction latency ms | DynamoDB $/million actions |\n\
         |---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for h in heats {
        let (tw, iw, tr, ir) = h.units_per_action();
        s += &format!(
            "| {} | {} | {} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.0} | {:.2} |\n",
            h.tasks,
            h.chains,
            h.batch,
            h.requests as f64 / h.phase_actions as f64,
            tw,
            iw,
            tr,
            ir,
            1e3 * h.transaction_secs / h.transactions.max(1) as f64,
            (tw + iw) * USD_PER_MILLION_WRU + (tr + ir) * USD_PER_MILLION_RRU
        );
    }
    s
}
