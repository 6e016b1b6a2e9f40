//! The embedded store's pseudonym mapping and erasure receipts: two redb tables.

use super::{decode, encode, EmbeddedStore};
use crate::store::{erasure_key, new_pseudonym, Erased, Erasing, Mapping, Pseudonyms, Result};
use async_trait::async_trait;
use greenloop_core::domain::{MemberId, Subject};
use greenloop_core::receipt::ErasureReceipt;
use redb::{ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

/// Subject → [`Mapping`] (JSON): the only rows that lead from a person to a member.
pub(super) const PSEUDONYMS: TableDefinition<&str, &[u8]> = TableDefinition::new("pseudonyms");
/// `<integration>/<request>` → the erasure receipt given, with when it may be dropped.
pub(super) const ERASURES: TableDefinition<&str, &[u8]> = TableDefinition::new("erasures");

#[derive(Serialize, Deserialize)]
struct Kept {
    receipt: ErasureReceipt,
    expires_at: i64,
}

pub(super) fn create(txn: &redb::WriteTransaction) -> Result<()> {
    txn.open_table(PSEUDONYMS)?;
    txn.open_table(ERASURES)?;
    Ok(())
}

#[async_trait]
impl Pseudonyms for EmbeddedStore {
    async fn mapping(&self, subject: &Subject) -> Result<Option<Mapping>> {
        let txn = self.read()?;
        let t = txn.open_table(PSEUDONYMS)?;
        let found = t.get(subject.as_str())?;
        found.map(|v| decode(v.value())).transpose()
    }

    async fn member_or_new(&self, subject: &Subject, origin: &str) -> Result<MemberId> {
        let fresh = Mapping {
            member: new_pseudonym()?,
            origin: origin.to_owned(),
        };
        self.write(|txn| -> Result<MemberId> {
            let mut t = txn.open_table(PSEUDONYMS)?;
            if let Some(m) = t.get(subject.as_str())? {
                return Ok(decode::<Mapping>(m.value())?.member);
            }
            t.insert(subject.as_str(), encode(&fresh).as_slice())?;
            Ok(fresh.member)
        })
    }
}

#[async_trait]
impl Erasing for EmbeddedStore {
    async fn erase(
        &self,
        subject: &Subject,
        receipt: &ErasureReceipt,
        expires_at: i64,
    ) -> Result<Erased> {
        let e = &receipt.erasure;
        let key = erasure_key(&e.integration, &e.request);
        self.write(|txn| -> Result<Erased> {
            let mut kept = txn.open_table(ERASURES)?;
            if let Some(v) = kept.get(key.as_str())? {
                return Ok(Erased::Replay(Box::new(decode::<Kept>(v.value())?.receipt)));
            }
            let mut map = txn.open_table(PSEUDONYMS)?;
            let names = match map.get(subject.as_str())? {
                Some(m) => decode::<Mapping>(m.value())?.member == e.member,
                None => false,
            };
            if !names {
                return Ok(Erased::Gone);
            }
            map.remove(subject.as_str())?;
            let row = encode(&Kept {
                receipt: receipt.clone(),
                expires_at,
            });
            kept.insert(key.as_str(), row.as_slice())?;
            Ok(Erased::Erased)
        })
    }

    async fn erasure_receipt(
        &self,
        integration: &str,
        request: &str,
        now: i64,
    ) -> Result<Option<ErasureReceipt>> {
        let kept: Option<Kept> = {
            let txn = self.read()?;
            let t = txn.open_table(ERASURES)?;
            let v = t.get(erasure_key(integration, request).as_str())?;
            v.map(|v| decode(v.value())).transpose()?
        };
        Ok(kept.filter(|k| k.expires_at > now).map(|k| k.receipt))
    }
}
