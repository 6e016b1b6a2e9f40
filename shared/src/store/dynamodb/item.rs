//! The single-table layout: every item's keys, and reading attributes back. See
//! `docs/table-design.md` for the why.

use crate::store::{Account, ChainHead, Result, StoreError};
use aws_sdk_dynamodb::types::builders::UpdateBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, Update};
use greenloop_core::disposition::Totals;
use greenloop_core::ledger::Digest;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

pub type Item = HashMap<String, AttributeValue>;

pub const PK: &str = "pk";
pub const SK: &str = "sk";
/// The general-purpose index: the pending queue per chain, the quarantine, registries, the chain
/// list.
pub const GSI1: &str = "gsi1";
pub const GSI1PK: &str = "gsi1pk";
pub const GSI1SK: &str = "gsi1sk";
/// Leaderboards: affiliated accounts by campus (`board_pk`), in standing order (`board_sk`,
/// [`greenloop_core::ranking::Standing::sort_key`]: CO2e descending, then member).
pub const BOARD: &str = "leaders";
pub const BOARD_PK: &str = "board_pk";
pub const BOARD_SK: &str = "board_sk";
/// Accounts in member order, keys only (`accounts_pk`, `accounts_sk`): written when an account
/// is created and never again, so crediting's account updates cost no index write.
pub const ACCOUNTS: &str = "accounts";
pub const ACCOUNTS_PK: &str = "accounts_pk";
pub const ACCOUNTS_SK: &str = "accounts_sk";
/// What the `leaders` index holds besides its keys: what a leaderboard row shows, and nothing
/// that grows, so each standing's move rewrites a small index item.
pub const BOARD_COLUMNS: [&str; 5] = ["member", "campus", "balance", "co2e_g", "entries"];
/// A member's entries in order: `member_pk`, `member_n`.
pub const MEMBER: &str = "member";
pub const MEMBER_PK: &str = "member_pk";
pub const MEMBER_N: &str = "member_n";

pub fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

pub fn key(pk: String, sk: &str) -> Item {
    HashMap::from([(PK.into(), s(pk)), (SK.into(), s(sk))])
}

pub fn action(id: &str) -> Item {
    key(format!("ACTION#{id}"), "ACTION")
}

/// A chain's head: its size and hash, and the claim of its one writer (`holder`, `until`).
/// It is in no index, so rewriting it at every append costs one item write.
pub fn head(chain: &str) -> Item {
    key(format!("CHAIN#{chain}"), "HEAD")
}

/// A chain's entry in the list of chains (`gsi1pk = CHAINS`): written once, with the chain's
/// first append, so the index partition every chain shares is not on the append path.
pub fn chain_listing(chain: &str) -> Item {
    let mut it = key(format!("CHAIN#{chain}"), "LISTED");
    it.insert("chain".into(), s(chain));
    it.insert(GSI1PK.into(), s(CHAINS_PARTITION));
    it.insert(GSI1SK.into(), s(chain));
    it
}

/// The general index's partition listing the chains.
pub const CHAINS_PARTITION: &str = "CHAINS";

pub fn entry_sk(seq: u64) -> String {
    format!("SEQ#{seq:020}")
}

pub fn entry(chain: &str, seq: u64) -> Item {
    key(format!("CHAIN#{chain}"), &entry_sk(seq))
}

/// A signed checkpoint, in a partition of its own per chain: the checkpoint job's role can write
/// it without any grant on the chain's entries.
pub fn checkpoint(chain: &str, size: u64) -> Item {
    key(format!("CKPT#{chain}"), &checkpoint_sk(size))
}

/// A checkpoint's sort key: sizes in 20 digits sort as numbers.
pub fn checkpoint_sk(size: u64) -> String {
    format!("SIZE#{size:020}")
}

/// A stored tree node: level (two digits) and index, so a level's nodes sort in order.
pub fn tree_node(chain: &str, level: u32, index: u64) -> Item {
    key(format!("TREE#{chain}"), &format!("{level:02}#{index:020}"))
}

pub fn account(member: &str) -> Item {
    key(format!("MEMBER#{member}"), "ACCOUNT")
}

/// Accounts are listed in member order through 256 index partitions, one per first two hex
/// digits, read in order: new members at a national peak spread thin over them.
pub fn accounts_bucket(member: &str) -> String {
    format!("ACCOUNTS#{}", &member[..2])
}

/// A `SET` on a member's account item, for `UpdateItem` or a transaction's `Update`.
///
/// Both writers of an account, crediting and affiliation, keep the member and give a new account
/// its place in the account listing; each adds the attributes it owns. A placeholder is declared only with the
/// clause that uses it, because DynamoDB refuses names and values the expression leaves unused.
pub(super) struct AccountSet {
    member: String,
    clauses: Vec<String>,
    names: HashMap<String, String>,
    values: Item,
}

impl AccountSet {
    pub(super) fn new(member: &str) -> Self {
        AccountSet {
            member: member.to_owned(),
            clauses: Vec::new(),
            names: HashMap::new(),
            values: Item::new(),
        }
        .set("member", s(member))
        .init(ACCOUNTS_PK, s(accounts_bucket(member)))
        .init(ACCOUNTS_SK, s(member))
    }

    /// `attribute = value`.
    pub(super) fn set(mut self, attribute: &str, value: AttributeValue) -> Self {
        self.declare(attribute, value);
        self.clauses.push(format!("#{attribute} = :{attribute}"));
        self
    }

    /// `attribute = value` unless the item has it already: a fresh account's starting value.
    pub(super) fn init(mut self, attribute: &str, value: AttributeValue) -> Self {
        self.declare(attribute, value);
        self.clauses.push(format!(
            "#{attribute} = if_not_exists(#{attribute}, :{attribute})"
        ));
        self
    }

    /// Declares `#attribute` and `:attribute`: every attribute goes through a name placeholder,
    /// so none can clash with DynamoDB's reserved words (`member` is one).
    fn declare(&mut self, attribute: &str, value: AttributeValue) {
        let clash = self
            .names
            .insert(format!("#{attribute}"), attribute.to_owned());
        assert!(clash.is_none(), "account attribute {attribute} set twice");
        self.values.insert(format!(":{attribute}"), value);
    }

    /// The update of the account item in `table`; a condition and its placeholders may follow.
    pub(super) fn into_update(self, table: &str) -> UpdateBuilder {
        Update::builder()
            .table_name(table)
            .set_key(Some(account(&self.member)))
            .update_expression(format!("SET {}", self.clauses.join(", ")))
            .set_expression_attribute_names(Some(self.names))
            .set_expression_attribute_values(Some(self.values))
    }
}

pub fn campus(id: &str) -> Item {
    key(format!("CAMPUS#{id}"), "META")
}

/// One chain's share of a campus's day: each chain adds to its own row, so batches on two
/// chains never contend for one item; a campus's rows are one query, summed per day.
pub fn campus_day(campus: &str, day: &str, chain: &str) -> Item {
    key(format!("CAMPUS#{campus}"), &format!("DAY#{day}#{chain}"))
}

pub fn station(id: &str) -> Item {
    key(format!("STATION#{id}"), "META")
}

pub fn api_key(id: &str) -> Item {
    key(format!("KEY#{id}"), "KEY")
}

/// The general index's partition listing every API key, by id: one small partition the operator
/// queries, while each request reads its own key's item.
pub const KEYS_PARTITION: &str = "KEYS";

pub fn rules(kind: &str, version: &str) -> Item {
    key("RULES".into(), &format!("{kind}#{version}"))
}

/// The factor table in force for crediting: one item, put by `requantify`.
pub fn factors_in_force() -> Item {
    key("IN_FORCE".into(), "FACTORS")
}

pub fn board(campus: &str) -> String {
    format!("BOARD#{campus}")
}

/// A person's pseudonym mapping: the subject's one item, holding `member`.
pub fn subject(subject: &greenloop_core::domain::Subject) -> Item {
    key(format!("SUBJECT#{}", subject.as_str()), "MAPPING")
}

/// An erasure receipt kept for its asker's request (`<integration>/<request>`), until
/// [`DROP_AFTER`], the table's TTL attribute.
pub fn erasure(key_: &str) -> Item {
    key(format!("ERASURE#{key_}"), "RECEIPT")
}

/// The table's time-to-live attribute, Unix seconds: only erasure receipts carry it (not
/// `expires_at`, which an API key's record carries and keeps after it expires).
pub const DROP_AFTER: &str = "drop_after";

/// The public ranking of campuses: one item, kept by crediting.
/// The log's latest checkpoints, one per chain: what the public log route reads.
pub fn log_checkpoints() -> Item {
    key("LOG".into(), "LATEST")
}

pub fn ranking() -> Item {
    key("RANKING".into(), "RANKING")
}

/// The pending-queue partition of a chain: the sweep reads one chain's backlog with one
/// query, and the stream's records name the chain of each action they announce.
pub fn pending_partition(chain: &str) -> String {
    format!("PENDING#{chain}")
}

/// A string attribute, or a corrupt-store error naming it.
pub fn get_s<'a>(item: &'a Item, name: &str) -> Result<&'a str, StoreError> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Ok(v),
        _ => Err(missing(name)),
    }
}

/// A number attribute, or a corrupt-store error naming it.
pub fn get_n<T: std::str::FromStr>(item: &Item, name: &str) -> Result<T, StoreError> {
    match item.get(name) {
        Some(AttributeValue::N(v)) => v.parse().map_err(|_| missing(name)),
        _ => Err(missing(name)),
    }
}

/// A JSON document kept in a string attribute.
pub fn get_json<T: serde::de::DeserializeOwned>(item: &Item, name: &str) -> Result<T, StoreError> {
    serde_json::from_str(get_s(item, name)?)
        .map_err(|e| StoreError::Corrupt(format!("attribute {name}: {e}")))
}

pub fn json<T: serde::Serialize>(v: &T) -> AttributeValue {
    s(serde_json::to_string(v).expect("store records serialize"))
}

fn missing(name: &str) -> StoreError {
    StoreError::Corrupt(format!("an item lacks a readable {name} attribute"))
}

/// A head item as stored; one a claim created before the chain's first append (no `size`)
/// is an empty chain.
pub fn read_head(it: &Item) -> Result<ChainHead> {
    let chain = get_s(it, "chain")?;
    if !it.contains_key("size") {
        return Ok(ChainHead::empty(chain));
    }
    Ok(ChainHead {
        chain: chain.to_owned(),
        size: get_n(it, "size")?,
        hash: Digest::parse(get_s(it, "hash")?)
            .ok_or_else(|| StoreError::Corrupt("head hash".into()))?,
    })
}

pub fn read_account(it: Item) -> Result<Account> {
    serde_dynamo::from_item(it).map_err(|e| StoreError::Corrupt(format!("account: {e}")))
}

pub fn from_item<T: serde::de::DeserializeOwned>(it: Item, what: &str) -> Result<T> {
    serde_dynamo::from_item(it).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

pub fn to_item<T: serde::Serialize>(v: &T, mut keys: Item) -> Item {
    let it: Item = serde_dynamo::to_item(v).expect("store records serialize");
    keys.extend(it);
    keys
}

/// A queue position for a newly pending action: microseconds, strictly increasing in this
/// process, so "oldest first" holds for what one writer records.
pub fn queue_position(id: &str) -> String {
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = chrono::Utc::now().timestamp_micros().max(0) as u64;
    let mut prev = LAST.load(Ordering::Relaxed);
    let t = loop {
        let t = now.max(prev + 1);
        match LAST.compare_exchange(prev, t, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => break t,
            Err(p) => prev = p,
        }
    };
    format!("{t:020}#{id}")
}

/// When an action entered the queue, Unix milliseconds, from its queue position.
pub fn queued_ms(position: &str) -> Option<i64> {
    let micros: i64 = position.split('#').next()?.parse().ok()?;
    Some(micros / 1000)
}

// ---- disposition: the head item's totals and a station's stock (`store/dynamodb/disposition.rs`)

/// The head item's totals attributes, in [`Totals`] order.
pub const TOTALS: [&str; 10] = [
    "d_collected",
    "d_reused",
    "d_baled_boxes",
    "d_baled_g",
    "d_parcels",
    "d_pulp_g",
    "d_workbooks",
    "d_donated",
    "d_donations",
    "d_schools",
];

fn totals_values(t: &Totals) -> [u64; 10] {
    [
        t.collected,
        t.reused,
        t.baled_boxes,
        t.baled_g,
        t.parcels,
        t.pulp_g,
        t.workbooks,
        t.donated,
        t.donations,
        t.schools,
    ]
}

pub fn read_totals(it: &Item) -> Result<Totals> {
    let v: Vec<u64> = TOTALS
        .iter()
        .map(|a| match it.get(*a) {
            None => Ok(0),
            Some(_) => get_n(it, a),
        })
        .collect::<Result<_>>()?;
    Ok(Totals {
        collected: v[0],
        reused: v[1],
        baled_boxes: v[2],
        baled_g: v[3],
        parcels: v[4],
        pulp_g: v[5],
        workbooks: v[6],
        donated: v[7],
        donations: v[8],
        schools: v[9],
    })
}

/// `ADD` clauses for the nonzero totals of `t`, with their names and values, onto `up`.
pub fn add_totals(
    mut up: aws_sdk_dynamodb::types::builders::UpdateBuilder,
    t: &Totals,
) -> (aws_sdk_dynamodb::types::builders::UpdateBuilder, String) {
    let mut adds = Vec::new();
    for (i, (name, v)) in TOTALS.iter().zip(totals_values(t)).enumerate() {
        if v > 0 {
            adds.push(format!("#t{i} :t{i}"));
            up = up
                .expression_attribute_names(format!("#t{i}"), *name)
                .expression_attribute_values(format!(":t{i}"), n(v));
        }
    }
    let clause = if adds.is_empty() {
        String::new()
    } else {
        format!(" ADD {}", adds.join(", "))
    };
    (up, clause)
}

/// A station's stock on one chain: its own partition, apart from the station's registry item,
/// so that the writers of stock (crediting, disposition) cannot touch the registry.
pub fn stock_key(station: &str, chain: &str) -> Item {
    key(format!("STOCK#{station}"), &format!("CHAIN#{chain}"))
}
