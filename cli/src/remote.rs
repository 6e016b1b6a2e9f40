//! A deployment's audit API as a [`LedgerSource`], so `greenloop verify --url` runs the same
//! verifier over HTTP that `greenloop verify` runs over the local store.

use greenloop::catalog::Catalog;
use greenloop::checkpoint::SignedCheckpoint;
use greenloop::domain::MemberId;
use greenloop::http::audit::{EntriesPage, RulesPage};
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

    async fn checkpoints(&self, chain: &str) -> Result<Vec<SignedCheckpoint>> {
        self.get(&format!("/v1/audit/chains/{chain}/checkpoints"), &[])
            .await
    }

    async fn backlog(&self) -> Result<Option<Backlog>> {
        self.get("/v1/audit/backlog", &[]).await.map(Some)
    }
}
