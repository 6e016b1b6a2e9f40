//! A deployment's audit API as a [`LedgerSource`], so `greenloop verify --url` runs the same
//! verifier over HTTP that `greenloop verify` runs over the local store.

use greenloop::catalog::Catalog;
use greenloop::checkpoint::tree::STATEMENT_PAGE;
use greenloop::checkpoint::SignedCheckpoint;
use greenloop::domain::MemberId;
use greenloop::http::audit::{CheckpointsPage, EntriesPage, RulesPage, MAX_PAGE};
use greenloop::proof::{Statement, StatementPage};
use greenloop::store::{
    Account, Backlog, CampusTotals, ChainHead, LedgerSource, Result, StoreError,
};
use serde::de::DeserializeOwned;

/// The deployment behind `--url`, which needs an auditor key.
pub fn connect(url: &str, key: Option<String>) -> Result<RemoteLedger, String> {
    let key = key.ok_or("--url needs an auditor key: --key or GREENLOOP_AUDIT_KEY")?;
    RemoteLedger::new(url, key)
}

pub struct RemoteLedger {
    base: String,
    key: String,
    client: reqwest::Client,
}

impl RemoteLedger {
    pub fn new(base: &str, key: String) -> Result<Self, String> {
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(format!(
                "--url must start with http:// or https://, not {base:?}"
            ));
        }
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(60))
            .build()
            .map_err(|e| format!("cannot start an HTTP client: {e}"))?;
        Ok(RemoteLedger {
            base: base.trim_end_matches('/').to_owned(),
            key,
            client,
        })
    }

    pub async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T> {
        let url = format!("{}{path}", self.base);
        let res = self
            .client
            .get(&url)
            .bearer_auth(&self.key)
            .query(query)
            .send()
            .await
            .map_err(|e| StoreError::Unavailable(format!("{url}: {e}")))?;
        let status = res.status();
        let body = res
            .bytes()
            .await
            .map_err(|e| StoreError::Unavailable(format!("{url}: {e}")))?;
        if !status.is_success() {
            let message = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v.get("message")?.as_str().map(str::to_owned))
                .unwrap_or_default();
            return Err(StoreError::Unavailable(format!(
                "{url} answered {status}: {message}"
            )));
        }
        serde_json::from_slice(&body)
            .map_err(|e| StoreError::Corrupt(format!("{url} sent unreadable JSON: {e}")))
    }

    /// One page of a chain's checkpoints, as the audit API answers it.
    async fn checkpoints_page(
        &self,
        chain: &str,
        after: Option<u64>,
        limit: usize,
    ) -> Result<CheckpointsPage> {
        let mut query = vec![("limit", limit.to_string())];
        query.extend(after.map(|a| ("after", a.to_string())));
        self.get(&format!("/v1/audit/chains/{chain}/checkpoints"), &query)
            .await
    }

    /// A member's whole statement, page after page, joined (`Statement::join`).
    pub async fn statement(&self, member: &MemberId) -> Result<Statement> {
        self.statement_in_pages(member, STATEMENT_PAGE).await
    }

    /// A member's statement, `limit` entries a page.
    async fn statement_in_pages(&self, member: &MemberId, limit: usize) -> Result<Statement> {
        let path = format!("/v1/audit/members/{member}/statement");
        let mut pages: Vec<StatementPage> = Vec::new();
        let mut before: Option<u64> = None;
        loop {
            let mut query = vec![("limit", limit.to_string())];
            query.extend(before.map(|b| ("before", b.to_string())));
            let page: StatementPage = self.get(&path, &query).await?;
            let next = page.next;
            pages.push(page);
            before = advance(&format!("statement of {member}"), before, next, Walk::Back)?;
            if before.is_none() {
                break;
            }
        }
        Ok(Statement::join(pages).expect("one page at least"))
    }

    /// A brand's whole statement from `GET /v1/brands/{brand}/statement`, page after page,
    /// joined: what a brand's own key reads.
    pub async fn brand_statement(&self, brand: &str) -> Result<greenloop::brand::Statement> {
        let path = format!("/v1/brands/{brand}/statement");
        let mut pages: Vec<greenloop::brand::fold::StatementPage> = Vec::new();
        let mut before: Option<u64> = None;
        loop {
            let mut query = vec![("limit", STATEMENT_PAGE.to_string())];
            query.extend(before.map(|b| ("before", b.to_string())));
            let page: greenloop::brand::fold::StatementPage = self.get(&path, &query).await?;
            let next = page.next;
            pages.push(page);
            before = advance(&format!("statement of {brand}"), before, next, Walk::Back)?;
            if before.is_none() {
                break;
            }
        }
        greenloop::brand::Statement::join_pages(pages).ok_or_else(|| {
            StoreError::Corrupt(format!("statement of {brand}: no rows on its first page"))
        })
    }

    /// A chain's checkpoints, `limit` a page.
    async fn all_checkpoints(&self, chain: &str, limit: usize) -> Result<Vec<SignedCheckpoint>> {
        let mut all: Vec<SignedCheckpoint> = Vec::new();
        let mut after = None;
        loop {
            let page = self.checkpoints_page(chain, after, limit).await?;
            all.extend(page.checkpoints);
            after = advance(
                &format!("checkpoints of {chain}"),
                after,
                page.next,
                Walk::On,
            )?;
            if after.is_none() {
                return Ok(all);
            }
        }
    }
}

/// Which way a walk's cursor must move: back through a statement, on through checkpoints.
#[derive(Clone, Copy)]
enum Walk {
    Back,
    On,
}

/// A page walk's next cursor (None: the walk is done), refused unless it moves the walk's way
/// from `at`: a cursor that does not move would loop forever.
fn advance(what: &str, at: Option<u64>, next: Option<u64>, walk: Walk) -> Result<Option<u64>> {
    let moves = |n: u64| {
        at.is_none_or(|a| match walk {
            Walk::Back => n < a,
            Walk::On => n > a,
        })
    };
    match next {
        Some(n) if !moves(n) => Err(StoreError::Corrupt(format!(
            "{what}: the next page at {n} does not move on from {at:?}"
        ))),
        next => Ok(next),
    }
}

#[greenloop::async_trait]
impl LedgerSource for RemoteLedger {
    async fn catalog(&self) -> Result<Catalog> {
        let page: RulesPage = self.get("/v1/audit/rules", &[]).await?;
        let mut catalog = Catalog::builtin();
        for rb in page.rulebooks {
            catalog.add_rulebook(rb)?;
        }
        for f in page.factors {
            catalog.add_factors(f)?;
        }
        Ok(catalog)
    }

    async fn chain_heads(&self) -> Result<Vec<ChainHead>> {
        self.get("/v1/audit/heads", &[]).await
    }

    async fn entries(&self, chain: &str, from_seq: u64, limit: usize) -> Result<Vec<Vec<u8>>> {
        let page: EntriesPage = self
            .get(
                &format!("/v1/audit/chains/{chain}/entries"),
                &[
                    ("from", from_seq.to_string()),
                    ("limit", limit.min(1000).to_string()),
                ],
            )
            .await?;
        Ok(page
            .entries
            .into_iter()
            .map(|e| e.get().as_bytes().to_vec())
            .collect())
    }

    async fn account_page(&self, after: Option<&MemberId>, limit: usize) -> Result<Vec<Account>> {
        let mut query = vec![("limit", limit.min(1000).to_string())];
        if let Some(m) = after {
            query.push(("after", m.to_string()));
        }
        self.get("/v1/audit/accounts", &query).await
    }

    async fn campus_totals(&self) -> Result<Vec<CampusTotals>> {
        self.get("/v1/audit/campus-totals", &[]).await
    }

    async fn stored_disposition_totals(
        &self,
    ) -> Result<Option<Vec<(String, greenloop::disposition::Totals)>>> {
        let d: greenloop::http::audit::Disposition = self.get("/v1/audit/disposition", &[]).await?;
        Ok(Some(
            d.chains.into_iter().map(|c| (c.chain, c.totals)).collect(),
        ))
    }

    /// Every page of them: the verifier needs them all.
    async fn checkpoints(&self, chain: &str) -> Result<Vec<SignedCheckpoint>> {
        self.all_checkpoints(chain, MAX_PAGE).await
    }

    async fn checkpoint_page(
        &self,
        chain: &str,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<SignedCheckpoint>> {
        Ok(self
            .checkpoints_page(chain, after, limit.min(MAX_PAGE))
            .await?
            .checkpoints)
    }

    async fn backlog(&self) -> Result<Option<Backlog>> {
        self.get("/v1/audit/backlog", &[]).await.map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use greenloop::catalog::Rules;
    use greenloop::checkpoint::{tree, LogKey};
    use greenloop::domain::{Action, ActionKind, Items, Pepper};
    use greenloop::http::{router, App, Integrations};
    use greenloop::proof::verify_statement;
    use greenloop::store::embedded::EmbeddedStore;
    use greenloop::store::{ApiKey, Grant, Store};
    use std::sync::Arc;

    const AUDITOR: &str =
        "glk_a0000000000000a0_cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc";
    /// Inside the built-in campaign window.
    const AT: i64 = 1_793_462_400;

    /// Credits `n` scans of one member at one station, numbered from `from`.
    async fn credit(store: &dyn Store, member: &MemberId, from: u32, n: u32) {
        for i in from..from + n {
            let action = Action {
                id: format!("s-{i}"),
                integration: "qr-1".into(),
                kind: ActionKind::Scan,
                member: member.clone(),
                station: "st-1".into(),
                at: AT + i64::from(i) * 60,
                items: Items {
                    books: 1,
                    ..Items::default()
                },
            };
            store.record_action(&action).await.unwrap();
        }
        greenloop::credit::credit_pending(store, &Rules::defaults(), 1)
            .await
            .unwrap();
    }

    /// The walkers follow `next` over real pages: the statement's pages join to one that
    /// verifies, and the checkpoints come back whole, each once.
    #[tokio::test]
    async fn statement_and_checkpoints_are_read_page_after_page() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(EmbeddedStore::open(dir.path()).unwrap());
        let auditor = ApiKey::of_key(AUDITOR, Grant::Auditor, 0, None).unwrap();
        store.put_api_key(&auditor).await.unwrap();
        let pepper = Pepper::new(b"remote-test-pepper-0123".to_vec()).unwrap();
        let member = MemberId::pseudonym(&pepper, "user-1");
        let key = LogKey::from_hex(crate::demo::DEMO_LOG_KEY).unwrap();
        credit(store.as_ref(), &member, 0, 4).await;
        tree::publish_all(store.as_ref(), &key, 1_000)
            .await
            .unwrap();
        credit(store.as_ref(), &member, 4, 3).await;
        tree::publish_all(store.as_ref(), &key, 2_000)
            .await
            .unwrap();

        let app = App::new(
            store.clone(),
            pepper,
            Integrations::default(),
            Rules::defaults(),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router(app)).await });
        let remote = RemoteLedger::new(&format!("http://{addr}"), AUDITOR.into()).unwrap();

        let statement = remote.statement_in_pages(&member, 2).await.unwrap();
        let verified = verify_statement(&key.public(), &statement).expect("it verifies");
        assert_eq!(verified.entries, 7, "4 pages of 2 joined");
        assert_eq!(statement.proofs.len(), 7);

        let chain = store.chain_heads().await.unwrap()[0].chain.clone();
        let all = store.checkpoints(&chain).await.unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(remote.all_checkpoints(&chain, 1).await.unwrap(), all);
        assert_eq!(remote.checkpoints(&chain).await.unwrap(), all);
    }
}
