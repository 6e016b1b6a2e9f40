//! The DynamoDB store: one table, the same semantics as the embedded store, proven by the same
//! behaviour suite against AWS's DynamoDB Local.
//!
//! Recording is a conditional put keyed by the action id, so it is idempotent forever. Crediting
//! appends a batch in one `TransactWriteItems` (`append`). Every query is a key read or an
//! index query; nothing scans the table. The layout is in [`item`] and `docs/table-design.md`.
//! The endpoint comes from standard AWS configuration (`AWS_ENDPOINT_URL_DYNAMODB`).

mod append;
mod brands;
mod campus;
mod checkpoints;
mod disposition;
mod intake;
pub mod item;
mod pseudonyms;
mod quarantine;
mod registry;
mod table;

use super::{
    reasons, Account, ActionRecord, AppendError, CampusTotals, ChainHead, CreditBatch,
    LedgerSource, Pending, Result, StoreError,
};
use crate::store::{CampusQueries, Campuses, Crediting, Members};
use async_trait::async_trait;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::KeysAndAttributes;
use aws_sdk_dynamodb::Client;
use greenloop_core::catalog::{Catalog, Rules};
use greenloop_core::checkpoint::SignedCheckpoint;
use greenloop_core::domain::{Invalid, MemberId};
use greenloop_core::factors::FactorTable;
use greenloop_core::ledger::{chain_for_station, chains, Digest, DEFAULT_SHARDS};
use greenloop_core::rulebook::Rulebook;
use item::{get_json, get_s, read_account, read_head, s, Item};
use std::collections::HashMap;

pub struct DynamoStore {
    client: Client,
    table: String,
    /// The chains stations are spread over: a pending action is queued in its chain's
    /// partition (`PENDING#<chain>`), so crediting must spread them the same way.
    shards: u32,
}

impl DynamoStore {
    /// A store on `table` with the default number of chains ([`DEFAULT_SHARDS`]).
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoStore {
            client,
            table: table.into(),
            shards: DEFAULT_SHARDS,
        }
    }

    /// The same store, queueing actions over `shards` chains (`GREENLOOP_SHARDS`).
    pub fn with_shards(mut self, shards: u32) -> Self {
        self.shards = shards.max(1);
        self
    }

    /// The pending partition of an action, from its station.
    fn queue_of(&self, action: &greenloop_core::domain::Action) -> String {
        item::pending_partition(&chain_for_station(&action.station, self.shards))
    }

    /// A store on `table`, with the SDK configured from the environment.
    pub async fn from_env(table: impl Into<String>) -> Self {
        let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        Self::new(Client::new(&config), table)
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    async fn get(&self, key: Item) -> Result<Option<Item>> {
        Ok(self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk_err)?
            .item)
    }

    /// Puts an item only if none has its key: true if it was written, false if one was there.
    async fn put_new(&self, item: Item) -> Result<bool> {
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match put {
            Ok(_) => Ok(true),
            Err(e) if is_condition_failed(&e) => Ok(false),
            Err(e) => Err(sdk_err(e)),
        }
    }

    /// An `UpdateItem` of action `id`'s item, only while its `state` is `from`: the one way an
    /// action moves between states (completed, quarantined, put back). `#status` and `#state`
    /// are declared; the caller's update expression sets both.
    fn update_action(&self, id: &str, from: &str) -> UpdateItemBuilder {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(item::action(id)))
            .condition_expression("#state = :from")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":from", s(from))
    }

    /// Sends an [`DynamoStore::update_action`]: true if it was written, false if the action was
    /// no longer in that state.
    async fn moved(&self, update: UpdateItemBuilder) -> Result<bool> {
        match update.send().await {
            Ok(_) => Ok(true),
            Err(e) if is_condition_failed(&e) => Ok(false),
            Err(e) => Err(sdk_err(e)),
        }
    }

    async fn put_plain(&self, item: Item) -> Result<()> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(sdk_err)?;
        Ok(())
    }

    /// Every item of a query, page after page, up to `limit` (None: all).
    async fn query(
        &self,
        q: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
        limit: Option<usize>,
    ) -> Result<Vec<Item>> {
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let mut page = q.clone().set_exclusive_start_key(start.take());
            if let Some(l) = limit {
                page = page.limit((l - out.len()).min(1000) as i32);
            }
            let res = page.send().await.map_err(sdk_err)?;
            out.extend(res.items.unwrap_or_default());
            match res.last_evaluated_key {
                Some(k) if limit.is_none_or(|l| out.len() < l) => start = Some(k),
                _ => return Ok(out),
            }
        }
    }

    /// The items at `keys` that exist, by consistent `BatchGetItem`s of 100 keys, with only the
    /// attributes `projection` names (None: all). Keys DynamoDB leaves unprocessed are asked
    /// again with backoff; if some still are after that, the read fails rather than miss them.
    async fn batch_get(&self, keys: Vec<Item>, projection: Option<&[&str]>) -> Result<Vec<Item>> {
        let mut out = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(100) {
            let mut request = KeysAndAttributes::builder()
                .consistent_read(true)
                .set_keys(Some(chunk.to_vec()));
            if let Some(names) = projection {
                let placeholders: Vec<String> =
                    (0..names.len()).map(|i| format!("#p{i}")).collect();
                request = request.projection_expression(placeholders.join(", "));
                for (p, name) in placeholders.iter().zip(names) {
                    request = request.expression_attribute_names(p, *name);
                }
            }
            let request = request
                .build()
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            let mut request = HashMap::from([(self.table.clone(), request)]);
            for attempt in 0.. {
                let res = self
                    .client
                    .batch_get_item()
                    .set_request_items(Some(request))
                    .send()
                    .await
                    .map_err(sdk_err)?;
                out.extend(
                    res.responses
                        .unwrap_or_default()
                        .remove(&self.table)
                        .unwrap_or_default(),
                );
                match res.unprocessed_keys.filter(|k| !k.is_empty()) {
                    None => break,
                    Some(_) if attempt == 9 => {
                        return Err(StoreError::Unavailable(
                            "dynamodb: BatchGetItem left keys unprocessed 10 times".into(),
                        ))
                    }
                    Some(rest) => {
                        request = rest;
                        tokio::time::sleep(std::time::Duration::from_millis(10 << attempt)).await;
                    }
                }
            }
        }
        Ok(out)
    }

    fn index_query(&self, index: &str, pk_name: &str, pk: String) -> QueryBuilder {
        self.client
            .query()
            .table_name(&self.table)
            .index_name(index)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", pk_name)
            .expression_attribute_values(":pk", s(pk))
    }

    /// A query of one index partition from just after `after` in the index's sort key
    /// (`sk_name`), or from its start: one page of a cursor walk.
    fn index_query_after(
        &self,
        index: &str,
        (pk_name, sk_name): (&str, &str),
        pk: String,
        after: Option<&str>,
    ) -> QueryBuilder {
        let q = self.index_query(index, pk_name, pk);
        match after {
            None => q,
            Some(after) => q
                .key_condition_expression("#pk = :pk AND #sk > :after")
                .expression_attribute_names("#sk", sk_name)
                .expression_attribute_values(":after", s(after)),
        }
    }

    fn partition_query(&self, pk: String) -> QueryBuilder {
        self.client
            .query()
            .table_name(&self.table)
            .consistent_read(true)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(pk))
    }

    /// An action's record; an item whose action cannot be read is
    /// [`StoreError::Unreadable`], with its status if that can be read.
    async fn read_record(&self, id: &str) -> Result<Option<ActionRecord>> {
        let Some(it) = self.get(item::action(id)).await? else {
            return Ok(None);
        };
        let read = || -> Result<ActionRecord> {
            Ok(ActionRecord {
                action: get_json(&it, "action")?,
                digest: Digest::parse(get_s(&it, "digest")?)
                    .ok_or_else(|| StoreError::Corrupt("an unreadable digest".into()))?,
                status: get_json(&it, "status")?,
            })
        };
        read().map(Some).map_err(|e| StoreError::Unreadable {
            id: id.to_owned(),
            status: get_json(&it, "status").ok(),
            error: e.to_string(),
        })
    }
}

type QueryBuilder = aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
type UpdateItemBuilder =
    aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;

/// Any SDK failure as a store error, with the service's own words, classified: DynamoDB's
/// `ValidationException` (an item over 400 KB, a request it cannot take) is refused for good;
/// everything else (throttling, limits, 5xx, timeouts, a connection or response lost) may pass
/// and is [`StoreError::Unavailable`]. The SDK has already retried what it retries by itself.
pub(crate) fn sdk_err<E, R>(e: SdkError<E, R>) -> StoreError
where
    E: std::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let (code, said) = match e.as_service_error() {
        Some(se) => (
            se.code(),
            format!(
                "{}: {}",
                se.code().unwrap_or("error"),
                se.message().unwrap_or("no message")
            ),
        ),
        None => (None, DisplayErrorContext(&e).to_string()),
    };
    refusal(code, &said).unwrap_or_else(|| StoreError::Unavailable(format!("dynamodb: {said}")))
}

/// The refusal a DynamoDB error code (or a transaction's cancellation reason) stands for, if it
/// is one: retrying the same request cannot help.
pub(crate) fn refusal(code: Option<&str>, said: &str) -> Option<StoreError> {
    let code = match code? {
        "ValidationException" | "ValidationError" if said.contains("size") => {
            reasons::ITEM_TOO_LARGE
        }
        "ValidationException"
        | "ValidationError"
        | "ItemCollectionSizeLimitExceededException"
        | "ItemCollectionSizeLimitExceeded" => reasons::REFUSED_BY_STORE,
        _ => return None,
    };
    Some(StoreError::Refused {
        code,
        message: format!("dynamodb: {said}"),
    })
}

fn is_condition_failed<E: ProvideErrorMetadata, R>(e: &SdkError<E, R>) -> bool {
    e.as_service_error()
        .and_then(|se| se.code())
        .is_some_and(|c| c == "ConditionalCheckFailedException")
}

#[async_trait]
impl LedgerSource for DynamoStore {
    async fn stored_disposition_totals(
        &self,
    ) -> Result<Option<Vec<(String, greenloop_core::disposition::Totals)>>> {
        Ok(Some(
            crate::store::DispositionQueries::disposition_totals(self).await?,
        ))
    }

    async fn stored_brand_figures(&self) -> Result<Option<crate::store::StoredBrands>> {
        self.stored_brands().await.map(Some)
    }

    async fn catalog(&self) -> Result<Catalog> {
        let mut catalog = Catalog::builtin();
        for it in self
            .query(self.partition_query("RULES".into()), None)
            .await?
        {
            let doc = get_s(&it, "doc")?;
            if get_s(&it, item::SK)?.starts_with("rulebook#") {
                catalog.add_rulebook(Rulebook::from_json(doc)?)?;
            } else {
                catalog.add_factors(FactorTable::from_json(doc)?)?;
            }
        }
        Ok(catalog)
    }

    async fn chain_heads(&self) -> Result<Vec<ChainHead>> {
        // The index lists the chains; each head is then read consistently.
        let listed = self
            .query(
                self.index_query(item::GSI1, item::GSI1PK, item::CHAINS_PARTITION.into()),
                None,
            )
            .await?;
        let mut heads = Vec::new();
        for it in listed {
            let chain = get_s(&it, "chain")?;
            if let Some(h) = self.get(item::head(chain)).await? {
                heads.push(read_head(&h)?);
            }
        }
        Ok(heads)
    }

    async fn entries(&self, chain: &str, from_seq: u64, limit: usize) -> Result<Vec<Vec<u8>>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let q = self
            .partition_query(format!("CHAIN#{chain}"))
            .key_condition_expression("pk = :pk AND sk BETWEEN :from AND :to")
            .expression_attribute_values(":from", s(item::entry_sk(from_seq)))
            .expression_attribute_values(":to", s(item::entry_sk(u64::MAX)));
        self.query(q, Some(limit))
            .await?
            .iter()
            .map(|it| Ok(get_s(it, "json")?.as_bytes().to_vec()))
            .collect()
    }

    async fn account_page(&self, after: Option<&MemberId>, limit: usize) -> Result<Vec<Account>> {
        // The keys-only index gives the members in order; their accounts are read consistently.
        let mut keys = Vec::new();
        let first = after.map_or(0, |m| {
            u32::from_str_radix(&m.as_str()[..2], 16).expect("hex")
        });
        for bucket in first..256 {
            if keys.len() >= limit {
                break;
            }
            let q = self.index_query_after(
                item::ACCOUNTS,
                (item::ACCOUNTS_PK, item::ACCOUNTS_SK),
                format!("ACCOUNTS#{bucket:02x}"),
                after.filter(|_| bucket == first).map(MemberId::as_str),
            );
            for it in self.query(q, Some(limit - keys.len())).await? {
                keys.push(item::account(get_s(&it, item::ACCOUNTS_SK)?));
            }
        }
        let mut accounts = self
            .batch_get(keys, None)
            .await?
            .into_iter()
            .map(read_account)
            .collect::<Result<Vec<Account>>>()?;
        accounts.sort_by(|a, b| a.member.cmp(&b.member));
        Ok(accounts)
    }

    async fn campus_totals(&self) -> Result<Vec<CampusTotals>> {
        let mut days = Vec::new();
        for c in self.campuses().await? {
            days.extend(self.campus_days(&c.id).await?);
        }
        Ok(CampusTotals::sum(&days))
    }

    async fn checkpoints(&self, chain: &str) -> Result<Vec<SignedCheckpoint>> {
        self.list_checkpoints(chain, None, None).await
    }

    async fn checkpoint_page(
        &self,
        chain: &str,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<SignedCheckpoint>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        self.list_checkpoints(chain, after, Some(limit)).await
    }

    async fn backlog(&self) -> Result<Option<super::Backlog>> {
        self.backlog_now().await.map(Some)
    }

    async fn chain_head(&self, chain: &str) -> Result<ChainHead> {
        match self.get(item::head(chain)).await? {
            Some(it) => read_head(&it),
            None => Ok(ChainHead::empty(chain)),
        }
    }
}

#[async_trait]
impl Members for DynamoStore {
    async fn accounts(&self, members: &[MemberId]) -> Result<Vec<Account>> {
        let mut unique: Vec<&MemberId> = members.iter().collect();
        unique.sort();
        unique.dedup();
        let keys = unique.iter().map(|m| item::account(m.as_str())).collect();
        let mut found: HashMap<String, Account> = HashMap::new();
        for it in self.batch_get(keys, None).await? {
            let a = read_account(it)?;
            found.insert(a.member.as_str().to_owned(), a);
        }
        Ok(members
            .iter()
            .map(|m| {
                found
                    .get(m.as_str())
                    .cloned()
                    .unwrap_or_else(|| Account::new(m.clone()))
            })
            .collect())
    }

    /// One query of the `member` index, descending, from below `before`.
    async fn member_entries(
        &self,
        member: &MemberId,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<(u64, Vec<u8>)>> {
        if limit == 0 || before == Some(0) {
            return Ok(Vec::new());
        }
        let mut q = self
            .index_query(item::MEMBER, item::MEMBER_PK, member.as_str().to_owned())
            .scan_index_forward(false);
        if let Some(n) = before {
            q = q
                .key_condition_expression("#pk = :pk AND #n < :before")
                .expression_attribute_names("#n", item::MEMBER_N)
                .expression_attribute_values(":before", item::n(n));
        }
        self.query(q, Some(limit))
            .await?
            .iter()
            .map(|it| {
                let n = item::get_n(it, item::MEMBER_N)?;
                Ok((n, get_s(it, "json")?.as_bytes().to_vec()))
            })
            .collect()
    }
}

#[async_trait]
impl Crediting for DynamoStore {
    async fn put_rules(&self, rules: &Rules) -> Result<()> {
        let mut catalog = self.catalog().await?;
        let known = catalog.rulebook(&rules.rulebook.version) == Some(&rules.rulebook)
            && catalog.factors(&rules.factors.version) == Some(&rules.factors);
        if known {
            return Ok(());
        }
        catalog.add(rules)?;
        let docs = [
            (
                "rulebook",
                &rules.rulebook.version,
                item::json(&rules.rulebook),
            ),
            (
                "factors",
                &rules.factors.version,
                item::json(&rules.factors),
            ),
        ];
        for (kind, version, doc) in docs {
            let mut it = item::rules(kind, version);
            it.insert("doc".into(), doc.clone());
            let res = self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(it))
                .condition_expression("attribute_not_exists(pk) OR doc = :doc")
                .expression_attribute_values(":doc", doc)
                .send()
                .await;
            match res {
                Ok(_) => {}
                Err(e) if is_condition_failed(&e) => {
                    return Err(Invalid::new(
                        "version_conflict",
                        format!("{kind}/{version} was already published with different content"),
                    )
                    .into())
                }
                Err(e) => return Err(sdk_err(e)),
            }
        }
        Ok(())
    }

    async fn factors_in_force(&self) -> Result<Option<FactorTable>> {
        match self.get(item::factors_in_force()).await? {
            Some(it) => Ok(Some(FactorTable::from_json(get_s(&it, "doc")?)?)),
            None => Ok(None),
        }
    }

    async fn put_factors_in_force(&self, factors: &FactorTable) -> Result<()> {
        let mut it = item::factors_in_force();
        it.insert("doc".into(), item::json(factors));
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(it))
            .send()
            .await
            .map_err(sdk_err)?;
        Ok(())
    }

    async fn pending_actions(&self, after: Option<&str>, limit: usize) -> Result<Vec<Pending>> {
        let mut found: Vec<Pending> = Vec::new();
        for chain in chains(self.shards) {
            found.extend(self.queued(&chain, after, limit).await?);
        }
        found.sort_by(|a, b| a.position.cmp(&b.position));
        found.truncate(limit);
        Ok(found)
    }

    /// One query of the chain's partition.
    async fn pending_on(
        &self,
        chain: &str,
        shards: u32,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Pending>> {
        if shards.max(1) != self.shards {
            // Queued by another count of chains: still found, by reading every partition.
            tracing::warn!(
                queued_over = self.shards,
                asked = shards,
                "GREENLOOP_SHARDS differs between intake and crediting"
            );
            return super::pending_filtered(self, chain, shards, after, limit).await;
        }
        self.queued(chain, after, limit).await
    }

    async fn claim_chain(
        &self,
        chain: &str,
        holder: &str,
        now_ms: i64,
        until_ms: i64,
    ) -> Result<super::Claim> {
        self.claim(chain, holder, now_ms, until_ms).await
    }

    async fn release_chain(&self, chain: &str, holder: &str) -> Result<()> {
        self.release(chain, holder).await
    }

    async fn quarantine(&self, id: &str, reason: &str, message: &str) -> Result<bool> {
        self.put_in_quarantine(id, reason, message).await
    }

    async fn put_ranking(&self, ranking: &greenloop_core::ranking::Ranking) -> Result<bool> {
        self.keep_ranking(ranking).await
    }

    async fn append(&self, batch: &CreditBatch) -> Result<(), AppendError> {
        self.transact_append(batch).await
    }
}

impl DynamoStore {
    /// A chain's queue partition, from just after a queue position.
    async fn queued(&self, chain: &str, after: Option<&str>, limit: usize) -> Result<Vec<Pending>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let q = self.index_query_after(
            item::GSI1,
            (item::GSI1PK, item::GSI1SK),
            item::pending_partition(chain),
            after,
        );
        let mut found = Vec::new();
        for it in self.query(q, Some(limit)).await? {
            // The index lags the table: only what still says pending is listed.
            if it
                .get("state")
                .and_then(|v| v.as_s().ok())
                .map(String::as_str)
                != Some("pending")
            {
                continue;
            }
            let (Ok(pk), Ok(position)) = (get_s(&it, item::PK), get_s(&it, item::GSI1SK)) else {
                continue; // not an action item: nothing to credit or quarantine
            };
            found.push(Pending {
                id: pk.trim_start_matches("ACTION#").to_owned(),
                position: position.to_owned(),
                queued_ms: item::queued_ms(position),
                action: get_json(&it, "action").map_err(|e| e.to_string()),
            });
        }
        Ok(found)
    }
}
