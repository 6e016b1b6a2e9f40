//! Crediting on the embedded store: the pending queue, publishing rule versions, and the
//! append, which checks the chain head, the accounts and the actions' status and writes
//! everything in one redb write transaction, or nothing.

use super::{
    decode, encode, get, get_kept, quarantine, read_kept, EmbeddedStore, Kept, ACCOUNTS, ACTIONS,
    CAMPUS_DAYS, ENTRIES, HEADS, MAX_ITEM_BYTES, MEMBER_LOG, PENDING, RULES,
};
use crate::store::{
    reasons, Account, ActionStatus, AppendError, CampusDay, ChainHead, CreditBatch, Crediting,
    LedgerSource, Pending, Result, StoreError,
};
use async_trait::async_trait;
use greenloop_core::catalog::Rules;
use greenloop_core::domain::Invalid;
use redb::ReadableTable;
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

    async fn append(&self, batch: &CreditBatch) -> Result<(), AppendError> {
        let chain = batch.expected.chain.as_str();
        self.write(|txn| -> Result<(), AppendError> {
            let mut actions = txn.open_table(ACTIONS)?;
            let mut gone = Vec::new();
            for e in &batch.entries {
                let kept = get_kept(&actions, &e.action)?;
                if kept.is_none_or(|k| k.record.status != ActionStatus::Pending) {
                    gone.push(e.action.clone());
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
            // Each member's next place in the member log.
            let mut next: std::collections::HashMap<&str, u64> = Default::default();
            for u in &batch.accounts {
                let member = u.account.member.as_str();
                let raw = accounts.get(member)?.map(|v| v.value().to_vec());
                let stored: Account = match &raw {
                    Some(bytes) => decode(bytes)?,
                    None => Account::new(u.account.member.clone()),
                };
                if stored.head != u.expected_head {
                    return Err(AppendError::AccountMoved(u.account.member.clone()));
                }
                next.insert(member, stored.entries);
                let next = Account {
                    campus: stored.campus,
                    ..u.account.clone()
                };
                let bytes = keep_unknown_fields(raw.as_deref(), &next);
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
                let mut kept: Kept = get_kept(&actions, &e.action)?
                    .ok_or_else(|| StoreError::Corrupt(format!("action {} vanished", e.action)))?;
                kept.record.status = ActionStatus::Credited {
                    chain: chain.to_owned(),
                    seq: e.seq,
                    bonus: e.bonus,
                };
                if let Some(k) = kept.pending.take() {
                    pending.remove(k)?;
                }
                actions.insert(e.action.as_str(), encode(&kept).as_slice())?;
                if entries
                    .insert((chain, e.seq), e.to_json().as_slice())?
                    .is_some()
                {
                    return Err(AppendError::HeadMoved(chain.to_owned()));
                }
                let n = next.get_mut(e.member.as_str()).ok_or_else(|| {
                    StoreError::Invalid(Invalid::new(
                        "bad_batch",
                        format!("entry {} has no account update", e.seq),
                    ))
                })?;
                log.insert((e.member.as_str(), *n), (chain, e.seq))?;
                *n += 1;
            }
            let mut days = txn.open_table(CAMPUS_DAYS)?;
            for d in &batch.campuses {
                let key = (d.campus.as_str(), d.day.as_str());
                let mut t: CampusDay = match days.get(key)? {
                    Some(v) => decode(v.value())?,
                    None => CampusDay {
                        campus: d.campus.clone(),
                        day: d.day.clone(),
                        ..CampusDay::default()
                    },
                };
                t.bonus += d.bonus;
                t.co2e_g += d.co2e_g;
                t.entries += d.entries;
                days.insert(key, encode(&t).as_slice())?;
            }
            heads.insert(chain, encode(&batch.new_head()).as_slice())?;
            Ok(())
        })
    }
}

/// The account as JSON, with whatever fields a newer version stored beside the ones this
/// version knows, as DynamoDB's `UpdateItem` keeps attributes it does not name.
fn keep_unknown_fields(stored: Option<&[u8]>, account: &Account) -> Vec<u8> {
    use serde_json::{Map, Value};
    static KNOWN: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    let known = KNOWN.get_or_init(|| {
        // Every field, including those left out when empty.
        let mut full = Account::new(account.member.clone());
        full.campus = Some(String::new());
        full.open_pledges.push(crate::store::OpenPledge {
            action: String::new(),
            boxes: 1,
            returned: 0,
        });
        match serde_json::to_value(&full) {
            Ok(Value::Object(m)) => m.into_iter().map(|(k, _)| k).collect(),
            _ => Vec::new(),
        }
    });
    let mut out = match stored.map(serde_json::from_slice::<Map<String, Value>>) {
        Some(Ok(mut m)) => {
            m.retain(|k, _| !known.contains(k));
            m
        }
        _ => Map::new(),
    };
    if let Ok(Value::Object(m)) = serde_json::to_value(account) {
        out.extend(m);
    }
    encode(&out)
}
