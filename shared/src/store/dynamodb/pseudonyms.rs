//! The pseudonym mapping and erasure receipts on DynamoDB: one item per subject
//! (`SUBJECT#<subject>`), created with a conditional put, and erasure as one transaction that
//! deletes it and keeps the receipt (`ERASURE#<integration>/<request>`, expiring by TTL).

use super::item::{self, get_json, get_s, n, s};
use super::{sdk_err, DynamoStore};
use crate::store::{
    erasure_key, new_pseudonym, Erased, Erasing, Mapping, Pseudonyms, Result, StoreError,
};
use async_trait::async_trait;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{Delete, Put, TransactWriteItem};
use greenloop_core::domain::{MemberId, Subject};
use greenloop_core::receipt::ErasureReceipt;

/// The mapping item's attributes: the pseudonym, and who saw the person first.
const MEMBER: &str = "member";
const ORIGIN: &str = "origin";

#[async_trait]
impl Pseudonyms for DynamoStore {
    async fn mapping(&self, subject: &Subject) -> Result<Option<Mapping>> {
        let Some(found) = self.get(item::subject(subject)).await? else {
            return Ok(None);
        };
        Ok(Some(Mapping {
            member: MemberId::parse(get_s(&found, MEMBER)?)?,
            origin: get_s(&found, ORIGIN)?.to_owned(),
        }))
    }

    async fn member_or_new(&self, subject: &Subject, origin: &str) -> Result<MemberId> {
        let fresh = new_pseudonym()?;
        let mut it = item::subject(subject);
        it.insert(MEMBER.into(), s(fresh.as_str()));
        it.insert(ORIGIN.into(), s(origin));
        if self.put_new(it).await? {
            return Ok(fresh);
        }
        // Known already, or another first sight won: the stored pseudonym is the member's.
        self.mapping(subject)
            .await?
            .map(|m| m.member)
            .ok_or_else(|| StoreError::Unavailable("a new pseudonym mapping vanished".into()))
    }
}

#[async_trait]
impl Erasing for DynamoStore {
    async fn erase(
        &self,
        subject: &Subject,
        receipt: &ErasureReceipt,
        expires_at: i64,
    ) -> Result<Erased> {
        let e = &receipt.erasure;
        let key = erasure_key(&e.integration, &e.request);
        let mut kept = item::erasure(&key);
        kept.insert("receipt".into(), item::json(receipt));
        kept.insert(item::DROP_AFTER.into(), n(expires_at));
        let delete = Delete::builder()
            .table_name(self.table())
            .set_key(Some(item::subject(subject)))
            .condition_expression("#member = :member")
            .expression_attribute_names("#member", MEMBER)
            .expression_attribute_values(":member", s(e.member.as_str()))
            .build()
            .expect("key and table are set");
        let put = Put::builder()
            .table_name(self.table())
            .set_item(Some(kept))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .expect("item and table are set");
        let res = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().delete(delete).build())
            .transact_items(TransactWriteItem::builder().put(put).build())
            .send()
            .await;
        let err = match res {
            Ok(_) => return Ok(Erased::Erased),
            Err(err) => err,
        };
        let Some(TransactWriteItemsError::TransactionCanceledException(c)) = err.as_service_error()
        else {
            return Err(sdk_err(err));
        };
        let failed = |i: usize| {
            c.cancellation_reasons().get(i).and_then(|r| r.code()) == Some("ConditionalCheckFailed")
        };
        if failed(1) {
            // Answered before (the asker lost our answer): the kept receipt, whatever it says.
            let kept = self.get(item::erasure(&key)).await?.ok_or_else(|| {
                StoreError::Unavailable(format!("erasure receipt {key} vanished"))
            })?;
            return Ok(Erased::Replay(Box::new(get_json(&kept, "receipt")?)));
        }
        if failed(0) {
            return Ok(Erased::Gone);
        }
        Err(sdk_err(err))
    }

    async fn erasure_receipt(
        &self,
        integration: &str,
        request: &str,
        now: i64,
    ) -> Result<Option<ErasureReceipt>> {
        let Some(kept) = self
            .get(item::erasure(&erasure_key(integration, request)))
            .await?
        else {
            return Ok(None);
        };
        // TTL deletes within days of expiry, not at it: an expired receipt is gone already.
        let expires_at: i64 = item::get_n(&kept, item::DROP_AFTER)?;
        if expires_at <= now {
            return Ok(None);
        }
        Ok(Some(get_json(&kept, "receipt")?))
    }
}
