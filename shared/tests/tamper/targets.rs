//! The two stores under attack, each with raw write access to its storage: the redb file of the
//! embedded store, and the DynamoDB Local table of the DynamoDB store. Attacks are written once
//! as [`Edit`]s; each target applies them below the `Store` API, as an attacker would.

use crate::support;
use crate::support::dynamodb_local;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::AttributeValue;
use greenloop::brand::fold::BrandStanding;
use greenloop::brand::Figures;
use greenloop::domain::MemberId;
use greenloop::ledger::Entry;
use greenloop::store::dynamodb::{item, DynamoStore};
use greenloop::store::embedded::{EmbeddedStore, ENTRIES, FILE_NAME};
use greenloop::store::{Account, ChainHead, Store};
use redb::{Database, ReadableTable, TableDefinition};

/// The embedded store's private tables, opened by name.
const HEADS: TableDefinition<&str, &[u8]> = TableDefinition::new("heads");
const ACCOUNTS: TableDefinition<&str, &[u8]> = TableDefinition::new("accounts");
const CHECKPOINTS: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("checkpoints");
const DISPOSITION_TOTALS: TableDefinition<&str, &[u8]> = TableDefinition::new("disposition_totals");
const BRAND_STANDINGS: TableDefinition<&str, &[u8]> = TableDefinition::new("brand_standings");
const BRAND_ROWS: TableDefinition<(&str, &str, &str), &[u8]> = TableDefinition::new("brand_rows");
const BRAND_INDEX: TableDefinition<(&str, u64), (&str, u64, &[u8])> =
    TableDefinition::new("brand_index");

/// One write an attacker makes to the storage.
#[derive(Debug, Clone)]
pub enum Edit {
    /// Stores `bytes` as the entry at (chain, seq), whatever they say.
    PutEntry {
        chain: String,
        seq: u64,
        bytes: Vec<u8>,
    },
    DeleteEntry {
        chain: String,
        seq: u64,
    },
    SetHead(ChainHead),
    SetBalance {
        member: MemberId,
        balance: i64,
    },
    /// Stores `json` as the checkpoint at (chain, size), whatever it says.
    PutCheckpoint {
        chain: String,
        size: u64,
        json: String,
    },
    DeleteCheckpoint {
        chain: String,
        size: u64,
    },
    /// Sets a chain's stored disposition figure `reused` (boxes reused), leaving the entries.
    SetReused {
        chain: String,
        reused: u64,
    },
    /// Stores a brand's standing (its figures and members), whatever it says.
    SetBrandStanding(BrandStanding),
    /// Stores a brand's row of (day, campus), or deletes it (None).
    SetBrandRow {
        brand: String,
        day: String,
        campus: Option<String>,
        figures: Option<Figures>,
    },
    /// Deletes entry `n` of a brand's index.
    DeleteBrandEntry {
        brand: String,
        n: u64,
    },
}

impl Edit {
    /// Writes an entry where it says it belongs.
    pub fn entry(e: &Entry) -> Edit {
        Edit::PutEntry {
            chain: e.chain.clone(),
            seq: e.seq,
            bytes: e.to_json(),
        }
    }
}

/// A fresh store of one kind, and raw write access to what it keeps.
pub(crate) trait Target: Sized {
    type Store: Store;
    async fn fresh(name: &str) -> Self;
    fn store(&self) -> &Self::Store;
    /// Applies the edits straight to the storage, bypassing the store.
    async fn apply(&mut self, edits: Vec<Edit>);
}

/// The embedded store in a temporary directory. Edits close it, rewrite the redb file, and
/// open it again.
pub struct Embedded {
    store: Option<EmbeddedStore>,
    dir: tempfile::TempDir,
}

impl Target for Embedded {
    type Store = EmbeddedStore;

    async fn fresh(_name: &str) -> Self {
        let (store, dir) = support::temp_store();
        Embedded {
            store: Some(store),
            dir,
        }
    }

    fn store(&self) -> &EmbeddedStore {
        self.store
            .as_ref()
            .expect("the store is open between edits")
    }

    async fn apply(&mut self, edits: Vec<Edit>) {
        drop(self.store.take());
        let db = Database::open(self.dir.path().join(FILE_NAME)).expect("open the redb file");
        let txn = db.begin_write().expect("write transaction");
        {
            let mut entries = txn.open_table(ENTRIES).unwrap();
            let mut heads = txn.open_table(HEADS).unwrap();
            let mut accounts = txn.open_table(ACCOUNTS).unwrap();
            let mut checkpoints = txn.open_table(CHECKPOINTS).unwrap();
            let mut disposition = txn.open_table(DISPOSITION_TOTALS).unwrap();
            let mut standings = txn.open_table(BRAND_STANDINGS).unwrap();
            let mut index = txn.open_table(BRAND_INDEX).unwrap();
            let mut rows = txn.open_table(BRAND_ROWS).unwrap();
            for edit in edits {
                match edit {
                    Edit::PutEntry { chain, seq, bytes } => {
                        entries
                            .insert((chain.as_str(), seq), bytes.as_slice())
                            .unwrap();
                    }
                    Edit::DeleteEntry { chain, seq } => {
                        entries.remove((chain.as_str(), seq)).unwrap();
                    }
                    Edit::SetHead(head) => {
                        let json = serde_json::to_vec(&head).unwrap();
                        heads.insert(head.chain.as_str(), json.as_slice()).unwrap();
                    }
                    Edit::SetBalance { member, balance } => {
                        let mut account: Account = {
                            let row = accounts.get(member.as_str()).unwrap();
                            serde_json::from_slice(row.expect("an account").value()).unwrap()
                        };
                        account.balance = balance;
                        let json = serde_json::to_vec(&account).unwrap();
                        accounts.insert(member.as_str(), json.as_slice()).unwrap();
                    }
                    Edit::PutCheckpoint { chain, size, json } => {
                        checkpoints
                            .insert((chain.as_str(), size), json.as_bytes())
                            .unwrap();
                    }
                    Edit::DeleteCheckpoint { chain, size } => {
                        checkpoints.remove((chain.as_str(), size)).unwrap();
                    }
                    Edit::SetReused { chain, reused } => {
                        let mut t: serde_json::Value = {
                            let row = disposition.get(chain.as_str()).unwrap();
                            serde_json::from_slice(row.expect("totals").value()).unwrap()
                        };
                        t["reused"] = reused.into();
                        let json = serde_json::to_vec(&t).unwrap();
                        disposition.insert(chain.as_str(), json.as_slice()).unwrap();
                    }
                    Edit::SetBrandStanding(st) => {
                        let json = serde_json::to_vec(&st).unwrap();
                        standings
                            .insert(st.brand.as_str(), json.as_slice())
                            .unwrap();
                    }
                    Edit::SetBrandRow {
                        brand,
                        day,
                        campus,
                        figures,
                    } => {
                        let key = (
                            brand.as_str(),
                            day.as_str(),
                            campus.as_deref().unwrap_or(""),
                        );
                        match figures {
                            Some(f) => {
                                let json = serde_json::to_vec(&f).unwrap();
                                rows.insert(key, json.as_slice()).unwrap();
                            }
                            None => {
                                rows.remove(key).unwrap().expect("a row");
                            }
                        }
                    }
                    Edit::DeleteBrandEntry { brand, n } => {
                        index
                            .remove((brand.as_str(), n))
                            .unwrap()
                            .expect("an index entry");
                    }
                }
            }
        }
        txn.commit().expect("commit the edits");
        drop(db);
        self.store = Some(EmbeddedStore::open_existing(self.dir.path()).expect("reopen"));
    }
}

/// The DynamoDB store on a fresh table of DynamoDB Local, and a client of its own that writes
/// items directly.
pub struct Dynamo {
    store: DynamoStore,
    client: aws_sdk_dynamodb::Client,
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

/// An SDK failure, with the service's own words.
fn sdk(e: impl std::error::Error) -> String {
    DisplayErrorContext(e).to_string()
}

impl Target for Dynamo {
    type Store = DynamoStore;

    async fn fresh(name: &str) -> Self {
        let client = dynamodb_local::client().await;
        let store = DynamoStore::new(client.clone(), dynamodb_local::unique_table(name));
        store.create_table().await.expect("create the table");
        Dynamo { store, client }
    }

    fn store(&self) -> &DynamoStore {
        &self.store
    }

    async fn apply(&mut self, edits: Vec<Edit>) {
        let table = self.store.table();
        for edit in edits {
            let done = match edit {
                // An update, not a put: an existing entry item keeps its member index
                // attributes (`member_pk`, `member_n`), as a careful attacker's would.
                Edit::PutEntry { chain, seq, bytes } => self
                    .client
                    .update_item()
                    .table_name(table)
                    .set_key(Some(item::entry(&chain, seq)))
                    .update_expression("SET #json = :json")
                    .expression_attribute_names("#json", "json")
                    .expression_attribute_values(":json", s(String::from_utf8(bytes).unwrap()))
                    .send()
                    .await
                    .map(drop)
                    .map_err(sdk),
                Edit::DeleteEntry { chain, seq } => self
                    .client
                    .delete_item()
                    .table_name(table)
                    .set_key(Some(item::entry(&chain, seq)))
                    .send()
                    .await
                    .map(drop)
                    .map_err(sdk),
                // Size and hash only: the head keeps its place in the chain list (gsi1).
                Edit::SetHead(head) => self
                    .client
                    .update_item()
                    .table_name(table)
                    .set_key(Some(item::head(&head.chain)))
                    .update_expression("SET #size = :size, #hash = :hash")
                    .expression_attribute_names("#size", "size")
                    .expression_attribute_names("#hash", "hash")
                    .expression_attribute_values(":size", item::n(head.size))
                    .expression_attribute_values(":hash", s(head.hash.to_string()))
                    .send()
                    .await
                    .map(drop)
                    .map_err(sdk),
                Edit::SetReused { chain, reused } => self
                    .client
                    .update_item()
                    .table_name(table)
                    .set_key(Some(item::head(&chain)))
                    .update_expression("SET d_reused = :reused")
                    .condition_expression("attribute_exists(pk)")
                    .expression_attribute_values(":reused", item::n(reused))
                    .send()
                    .await
                    .map(drop)
                    .map_err(sdk),
                Edit::SetBrandStanding(st) => {
                    let keys = item::key("BRANDS".into(), &st.brand);
                    self.client
                        .put_item()
                        .table_name(table)
                        .set_item(Some(item::to_item(&st, keys)))
                        .send()
                        .await
                        .map(drop)
                        .map_err(sdk)
                }
                Edit::SetBrandRow {
                    brand,
                    day,
                    campus,
                    figures,
                } => {
                    let key = item::key(
                        format!("BRAND#{brand}"),
                        &format!("ROW#{day}#{}", campus.as_deref().unwrap_or("")),
                    );
                    match figures {
                        Some(f) => {
                            let mut it = item::to_item(&f, key);
                            it.insert("day".into(), s(day));
                            it.insert(
                                "campus".into(),
                                campus.map_or(AttributeValue::Null(true), s),
                            );
                            self.client
                                .put_item()
                                .table_name(table)
                                .set_item(Some(it))
                                .send()
                                .await
                                .map(drop)
                                .map_err(sdk)
                        }
                        None => self
                            .client
                            .delete_item()
                            .table_name(table)
                            .set_key(Some(key))
                            .send()
                            .await
                            .map(drop)
                            .map_err(sdk),
                    }
                }
                Edit::DeleteBrandEntry { brand, n } => self
                    .client
                    .delete_item()
                    .table_name(table)
                    .set_key(Some(item::key(
                        format!("BRAND#{brand}"),
                        &format!("N#{n:020}"),
                    )))
                    .condition_expression("attribute_exists(pk)")
                    .send()
                    .await
                    .map(drop)
                    .map_err(sdk),
                Edit::SetBalance { member, balance } => self
                    .client
                    .update_item()
                    .table_name(table)
                    .set_key(Some(item::account(member.as_str())))
                    .update_expression("SET #balance = :balance")
                    .condition_expression("attribute_exists(pk)")
                    .expression_attribute_names("#balance", "balance")
                    .expression_attribute_values(":balance", item::n(balance))
                    .send()
                    .await
                    .map(drop)
                    .map_err(sdk),
                Edit::PutCheckpoint { chain, size, json } => {
                    let mut it = item::checkpoint(&chain, size);
                    it.insert("json".into(), s(json));
                    self.client
                        .put_item()
                        .table_name(table)
                        .set_item(Some(it))
                        .send()
                        .await
                        .map(drop)
                        .map_err(sdk)
                }
                Edit::DeleteCheckpoint { chain, size } => self
                    .client
                    .delete_item()
                    .table_name(table)
                    .set_key(Some(item::checkpoint(&chain, size)))
                    .send()
                    .await
                    .map(drop)
                    .map_err(sdk),
            };
            if let Err(e) = done {
                panic!("DynamoDB Local refused an edit: {e}");
            }
        }
    }
}
