//! Crediting on the embedded store: the pending queue, publishing rule versions, and the
//! append, which checks the chain head, the accounts and the actions' status and writes
//! everything in one redb write transaction, or nothing.

use super::{
    decode, encode, get, get_kept, quarantine, read_kept, EmbeddedStore, Kept, ACCOUNTS, ACTIONS,
    CAMPUS_DAYS, ENTRIES, HEADS, IN_FORCE, IN_FORCE_FACTORS, MAX_ITEM_BYTES, MEMBER_LOG, PENDING,
    RULES,
};
use crate::store::{
    reasons, Account, ActionStatus, AppendError, CampusDay, ChainHead, Claim, CreditBatch,
    Crediting, LedgerSource, Pending, Result, StoreError,
};
use async_trait::async_trait;
use greenloop_core::catalog::Rules;
use greenloop_core::domain::Invalid;
use greenloop_core::factors::FactorTable;
use greenloop_core::ranking::Ranking;
use redb::ReadableTable;
use serde::{Deserialize, Serialize};
use std::ops::Bound;

#[async_trait]
impl Crediting for EmbeddedStore {
    async fn put_rules(&self, rules: &Rules) -> Result<()> {
        // Checks against the built-ins and what is stored; the write re-checks inside its
        // transaction, so two writers racing with different content cannot both win.
        let mut catalog = self.catalog().await?;
        let known = catalog.rulebook(&rules.rulebook.version) == Some(&rules.rulebook)
            && catalog.factors(&rules.factors.version) == Some(&rules.factors);
        if known {
            return Ok(()); // published already: no write, no fsync
        }
        catalog.add(rules)?;
        self.write(|txn| -> Result<()> {
            let mut t = txn.open_table(RULES)?;
            let rows = [
                (
                    format!("rulebook/{}", rules.rulebook.version),
                    encode(&rules.rulebook),
                ),
                (
                    format!("factors/{}", rules.factors.version),
                    encode(&rules.factors),
                ),
            ];
            for (key, value) in rows {
                let stored = t.get(key.as_str())?.map(|v| v.value().to_vec());
                match stored {
                    Some(old) if old != value => {
                        return Err(StoreError::Invalid(Invalid::new(
                            "version_conflict",
                            format!("{key} was already published with different content"),
                        )))
                    }
                    Some(_) => {}
                    None => {
                        t.insert(key.as_str(), value.as_slice())?;
                    }
                }
            }
            Ok(())
        })
    }

    async fn factors_in_force(&self) -> Result<Option<FactorTable>> {
        self.get_json(IN_FORCE, IN_FORCE_FACTORS)
    }

    async fn put_factors_in_force(&self, factors: &FactorTable) -> Result<()> {
        self.put_json(IN_FORCE, IN_FORCE_FACTORS, factors)
    }

    async fn pending_actions(&self, after: Option<&str>, limit: usize) -> Result<Vec<Pending>> {
        let from = match after {
            Some(p) => Bound::Excluded(p.parse::<u64>().map_err(|_| {
                StoreError::Invalid(Invalid::new("bad_position", "not a queue position"))
            })?),
            None => Bound::Unbounded,
        };
        let txn = self.read()?;
        let pending = txn.open_table(PENDING)?;
        let actions = txn.open_table(ACTIONS)?;
        let mut out = Vec::new();
        for row in pending.range::<u64>((from, Bound::Unbounded))?.take(limit) {
            let (key, id) = row?;
            let id = id.value();
            let kept = match actions.get(id)? {
                None => Err("the queue names an action that is not stored".to_owned()),
                Some(v) => read_kept(id, v.value()).map_err(|e| e.to_string()),
            };
            out.push(Pending {
                id: id.to_owned(),
                position: format!("{:020}", key.value()),
                queued_ms: kept.as_ref().ok().and_then(|k| k.queued_ms),
                action: kept.map(|k| k.record.action),
            });
        }
        Ok(out)
    }

    async fn quarantine(&self, id: &str, reason: &str, message: &str) -> Result<bool> {
        self.write(|txn| quarantine::put(txn, id, reason, message))
    }

    async fn put_ranking(&self, ranking: &Ranking) -> Result<bool> {
        self.keep_ranking(ranking)
    }

    async fn claim_chain(
        &self,
        chain: &str,
        holder: &str,
        now_ms: i64,
        until_ms: i64,
    ) -> Result<Claim> {
        {
            let mut claims = self.claims.lock().expect("claims lock");
            match claims.get(chain) {
                Some((other, until)) if other != holder && *until > now_ms => {
                    return Ok(Claim::Busy { until_ms: *until })
                }
                _ => {
                    claims.insert(chain.to_owned(), (holder.to_owned(), until_ms));
                }
            }
        }
        Ok(Claim::Held(self.chain_head(chain).await?))
    }

    async fn release_chain(&self, chain: &str, holder: &str) -> Result<()> {
        let mut claims = self.claims.lock().expect("claims lock");
        if claims.get(chain).is_some_and(|(h, _)| h == holder) {
            claims.remove(chain);
        }
        Ok(())
    }

    async fn append(&self, batch: &CreditBatch) -> Result<(), AppendError> {
        let chain = batch.expected.chain.as_str();
        self.write(|txn| -> Result<(), AppendError> {
            let mut actions = txn.open_table(ACTIONS)?;
            let mut gone = Vec::new();
            for e in &batch.entries {
                let kept = get_kept(&actions, &e.action_key())?;
                if kept.is_none_or(|k| k.record.status != ActionStatus::Pending) {
                    gone.push(e.action_key());
                }
            }
            if !gone.is_empty() {
                return Err(AppendError::NotPending(gone));
            }
            let mut heads = txn.open_table(HEADS)?;
            let head: ChainHead = get(&heads, chain)?.unwrap_or_else(|| ChainHead::empty(chain));
            if head != batch.expected {
                return Err(AppendError::HeadMoved(chain.to_owned()));
            }
            let mut accounts = txn.open_table(ACCOUNTS)?;
            let mut boards = txn.open_table(super::campus::BOARD)?;
            // Each member's next place in the member log.
            let mut next: std::collections::HashMap<&str, u64> = Default::default();
            for u in &batch.accounts {
                let member = u.account.member.as_str();
                let stored: StoredAccount = get(&accounts, member)?.unwrap_or_else(|| {
                    StoredAccount {
                        account: Account::new(u.account.member.clone()),
                        newer: Default::default(),
                    }
                });
                if stored.account.head != u.expected_head {
                    return Err(AppendError::AccountMoved(u.account.member.clone()));
                }
                next.insert(member, stored.account.entries);
                let account = Account {
                    campus: stored.account.campus.clone(),
                    ..u.account.clone()
                };
                super::campus::reposition(&mut boards, Some(&stored.account), &account)?;
                let bytes = encode(&StoredAccount {
                    account,
                    newer: stored.newer,
                });
                if bytes.len() > MAX_ITEM_BYTES {
                    return Err(StoreError::Refused {
                        code: reasons::ITEM_TOO_LARGE,
                        message: format!(
                            "account {} would be {} bytes, over the {MAX_ITEM_BYTES}-byte item limit",
                            &member[..12],
                            bytes.len()
                        ),
                    }
                    .into());
                }
                accounts.insert(member, bytes.as_slice())?;
            }
            let mut pending = txn.open_table(PENDING)?;
            let mut entries = txn.open_table(ENTRIES)?;
            let mut log = txn.open_table(MEMBER_LOG)?;
            for e in &batch.entries {
                let key = e.action_key();
                let mut kept: Kept = get_kept(&actions, &key)?
                    .ok_or_else(|| StoreError::Corrupt(format!("action {key} vanished")))?;
                kept.record.status = ActionStatus::Credited {
                    chain: chain.to_owned(),
                    seq: e.seq,
                    bonus: e.bonus,
                };
                if let Some(k) = kept.pending.take() {
                    pending.remove(k)?;
                }
                actions.insert(key.as_str(), encode(&kept).as_slice())?;
            }
            // Every entry, credits then corrections (which credit no action), in its chain and
            // its member's log.
            for (seq, member, json) in batch.stored() {
                if entries.insert((chain, seq), json.as_slice())?.is_some() {
                    return Err(AppendError::HeadMoved(chain.to_owned()));
                }
                let n = next.get_mut(member.as_str()).ok_or_else(|| {
                    StoreError::Invalid(Invalid::new(
                        "bad_batch",
                        format!("entry {seq} has no account update"),
                    ))
                })?;
                log.insert((member.as_str(), *n), (chain, seq))?;
                *n += 1;
            }
            let mut days = txn.open_table(CAMPUS_DAYS)?;
            for d in &batch.campuses {
                let key = (d.campus.as_str(), d.day.as_str());
                let mut t: CampusDay = match days.get(key)? {
                    Some(v) => decode(v.value())?,
                    None => CampusDay::empty(&d.campus, &d.day),
                };
                t.add(d);
                days.insert(key, encode(&t).as_slice())?;
            }
            heads.insert(chain, encode(&batch.new_head()).as_slice())?;
            drop(heads);
            super::disposition::collect(txn, batch)?;
            Ok(())
        })?;
        if let Some(holder) = &batch.release {
            self.release_chain(chain, holder).await?;
        }
        Ok(())
    }
}

/// An account as kept here, with whatever fields a newer version stored beside the ones this
/// version knows: crediting writes them back untouched, as DynamoDB's `UpdateItem` keeps the
/// attributes it does not name.
#[derive(Serialize, Deserialize)]
struct StoredAccount {
    #[serde(flatten)]
    account: Account,
    #[serde(flatten)]
    newer: serde_json::Map<String, serde_json::Value>,
}
