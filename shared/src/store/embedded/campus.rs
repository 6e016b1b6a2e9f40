//! What a campus reads and sets in the embedded store: per-day totals, leaderboards (an index in
//! standing order, kept by every write of an account), the public ranking, and affiliations.

use super::{decode, encode, get, EmbeddedStore, ACCOUNTS, CAMPUSES, CAMPUS_DAYS, META};
use crate::store::{
    Account, Affiliated, Affiliation, CampusDay, CampusQueries, Consent, PublicRanking, Result,
    StoreError,
};
use async_trait::async_trait;
use greenloop_core::domain::MemberId;
use greenloop_core::ranking::{BoardRow, Ranking, Standing};
use redb::{ReadableTable, TableDefinition};
use std::ops::Bound;

/// The public ranking, under [`RANKING_KEY`].
pub(super) const RANKING: TableDefinition<&str, &[u8]> = TableDefinition::new("ranking");
const RANKING_KEY: &str = "public";

/// Leaderboards: (campus, [`Standing::sort_key`]) of every affiliated account, so that a page
/// is a range read in standing order, not a scan of every account.
pub(super) const BOARD: TableDefinition<(&str, &str), ()> = TableDefinition::new("board");
/// Set in `meta` once [`BOARD`] holds every affiliated account (a file from before it existed
/// is indexed once, when opened).
const BOARD_INDEXED: &str = "board_indexed";

/// The boards as a write transaction holds them.
pub(super) type Boards<'txn> = redb::Table<'txn, (&'static str, &'static str), ()>;

/// Moves an account's place on the boards from what `before` was (if it had a campus) to what
/// `after` is; append and affiliation call it whenever they rewrite an account, with the table
/// opened once per transaction.
pub(super) fn reposition(
    boards: &mut Boards,
    before: Option<&Account>,
    after: &Account,
) -> Result<()> {
    let place = |a: &Account| a.campus.clone().map(|c| (c, Standing::of(a).sort_key()));
    let (was, now) = (before.and_then(place), place(after));
    if was == now {
        return Ok(());
    }
    if let Some((c, key)) = &was {
        boards.remove((c.as_str(), key.as_str()))?;
    }
    if let Some((c, key)) = &now {
        boards.insert((c.as_str(), key.as_str()), ())?;
    }
    Ok(())
}

/// Indexes every affiliated account on [`BOARD`], once per file.
pub(super) fn index_boards(txn: &redb::WriteTransaction) -> Result<()> {
    let mut meta = txn.open_table(META)?;
    if meta.get(BOARD_INDEXED)?.is_some() {
        return Ok(());
    }
    let accounts = txn.open_table(ACCOUNTS)?;
    let mut boards = txn.open_table(BOARD)?;
    for row in accounts.iter()? {
        let a: Account = decode(row?.1.value())?;
        reposition(&mut boards, None, &a)?;
    }
    meta.insert(BOARD_INDEXED, 1)?;
    Ok(())
}

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

    async fn leaderboard(
        &self,
        campus: &str,
        after: Option<&Standing>,
        limit: usize,
    ) -> Result<Vec<BoardRow>> {
        let txn = self.read()?;
        let board = txn.open_table(BOARD)?;
        let accounts = txn.open_table(ACCOUNTS)?;
        let from = after.map(Standing::sort_key);
        let start = match &from {
            Some(k) => Bound::Excluded((campus, k.as_str())),
            None => Bound::Included((campus, "")),
        };
        let mut out = Vec::new();
        for row in board.range::<(&str, &str)>((start, Bound::Unbounded))? {
            let (key, _) = row?;
            let (c, standing) = key.value();
            if c != campus || out.len() == limit {
                break;
            }
            let member = standing.split_once('#').map_or("", |(_, m)| m);
            let account: Account = get(&accounts, member)?.ok_or_else(|| {
                StoreError::Corrupt(format!("the board of {campus} names a missing account"))
            })?;
            out.push(BoardRow::of(&account));
        }
        Ok(out)
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
            let done = consent.decide(account.campus.clone(), campus);
            if matches!(done, Affiliated::Unchanged | Affiliated::Elsewhere) {
                return Ok(done);
            }
            let before = account.clone();
            account.campus = Some(campus.to_owned());
            t.insert(member.as_str(), encode(&account).as_slice())?;
            reposition(&mut txn.open_table(BOARD)?, Some(&before), &account)?;
            Ok(done)
        })
    }
}
