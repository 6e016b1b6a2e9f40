//! What a campus reads and sets in the embedded store: per-day totals, leaderboards, the public
//! ranking, and affiliations.

use super::{decode, encode, get, EmbeddedStore, ACCOUNTS, CAMPUSES, CAMPUS_DAYS};
use crate::store::{
    Account, Affiliated, Affiliation, CampusDay, CampusQueries, Consent, PublicRanking, Result,
    StoreError,
};
use async_trait::async_trait;
use greenloop_core::domain::MemberId;
use greenloop_core::ranking::{Ranking, Standing};
use redb::{ReadableTable, TableDefinition};

/// The public ranking, under [`RANKING_KEY`].
pub(super) const RANKING: TableDefinition<&str, &[u8]> = TableDefinition::new("ranking");
const RANKING_KEY: &str = "public";

#[async_trait]
impl CampusQueries for EmbeddedStore {
    async fn campus_days(&self, campus: &str) -> Result<Vec<CampusDay>> {
        let txn = self.read()?;
        let t = txn.open_table(CAMPUS_DAYS)?;
        let mut out = Vec::new();
        for row in t.range((campus, "")..)? {
            let (k, v) = row?;
            if k.value().0 != campus {
                break;
            }
            out.push(decode(v.value())?);
        }
        Ok(out)
    }

    // A full scan: fine for a campaign's members on one machine. DynamoDB reads an index.
    async fn leaderboard(
        &self,
        campus: &str,
        after: Option<&Standing>,
        limit: usize,
    ) -> Result<Vec<Account>> {
        let txn = self.read()?;
        let t = txn.open_table(ACCOUNTS)?;
        let mut out: Vec<(Standing, Account)> = Vec::new();
        for row in t.iter()? {
            let a: Account = decode(row?.1.value())?;
            let standing = Standing::of(&a);
            if a.campus.as_deref() == Some(campus) && after.is_none_or(|after| standing > *after) {
                out.push((standing, a));
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out.into_iter().take(limit).map(|(_, a)| a).collect())
    }
}

#[async_trait]
impl PublicRanking for EmbeddedStore {
    async fn ranking(&self) -> Result<Option<Ranking>> {
        self.get_json(RANKING, RANKING_KEY)
    }
}

impl EmbeddedStore {
    /// [`crate::store::Crediting::put_ranking`].
    pub(super) fn keep_ranking(&self, ranking: &Ranking) -> Result<bool> {
        self.write(|txn| -> Result<bool> {
            let mut t = txn.open_table(RANKING)?;
            let kept: Option<Ranking> = get(&t, RANKING_KEY)?;
            if kept.is_some_and(|k| k.as_of > ranking.as_of) {
                return Ok(false);
            }
            t.insert(RANKING_KEY, encode(ranking).as_slice())?;
            Ok(true)
        })
    }
}

#[async_trait]
impl Affiliation for EmbeddedStore {
    async fn affiliate(
        &self,
        member: &MemberId,
        campus: &str,
        consent: Consent,
    ) -> Result<Affiliated> {
        self.write(|txn| -> Result<Affiliated> {
            if txn.open_table(CAMPUSES)?.get(campus)?.is_none() {
                return Err(StoreError::NotFound(format!("campus {campus}")));
            }
            let mut t = txn.open_table(ACCOUNTS)?;
            let mut account: Account =
                get(&t, member.as_str())?.unwrap_or_else(|| Account::new(member.clone()));
            let done = match (account.campus.take(), consent) {
                (None, _) => Affiliated::Joined,
                (Some(c), _) if c == campus => return Ok(Affiliated::Unchanged),
                (Some(_), Consent::Enrol) => return Ok(Affiliated::Elsewhere),
                (Some(from), Consent::Transfer) => Affiliated::Moved { from },
            };
            account.campus = Some(campus.to_owned());
            t.insert(member.as_str(), encode(&account).as_slice())?;
            Ok(done)
        })
    }
}
