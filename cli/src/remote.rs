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
        let path = format!("/v1/audit/members/{member}/statement");
        let mut pages: Vec<StatementPage> = Vec::new();
        let mut before: Option<u64> = None;
        loop {
            let mut query = vec![("limit", STATEMENT_PAGE.to_string())];
            query.extend(before.map(|b| ("before", b.to_string())));
            let page: StatementPage = self.get(&path, &query).await?;
            let next = page.next;
            pages.push(page);
            match next {
                Some(n) if before.is_none_or(|b| n < b) => before = Some(n),
                Some(n) => {
                    return Err(StoreError::Corrupt(format!(
                        "statement of {member}: the next page before {n} goes forward"
                    )))
                }
                None => break,
            }
        }
        Ok(Statement::join(pages).expect("one page at least"))
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

    /// Every page of them: the verifier needs them all.
    async fn checkpoints(&self, chain: &str) -> Result<Vec<SignedCheckpoint>> {
        let mut all: Vec<SignedCheckpoint> = Vec::new();
        let mut after = None;
        loop {
            let page = self.checkpoints_page(chain, after, MAX_PAGE).await?;
            all.extend(page.checkpoints);
            match page.next {
                // A cursor that does not move on would loop forever.
                Some(n) if after.is_none_or(|a| n > a) => after = Some(n),
                Some(n) => {
                    return Err(StoreError::Corrupt(format!(
                        "checkpoints of {chain}: the next page after {n} goes back"
                    )))
                }
                None => return Ok(all),
            }
        }
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
