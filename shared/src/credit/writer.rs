//! One writer per chain: a crediting task claims a chain before it appends to it, and keeps
//! the head it last wrote, so a batch costs the accounts' read and the transaction, nothing
//! more.
//!
//! The claim is a lease on the chain's head item ([`Crediting::claim_chain`]): a holder and an
//! expiry [`CLAIM`] ahead, renewed when half of it has run, ended by the writer's last append.
//! A second task that finds the chain claimed waits for it (jittered, up to its deadline)
//! instead of racing it. Safety never rests on the claim: every append is still conditioned on
//! the head, each account and each action being as planned, so two writers (a claim that ran
//! out under a slow holder) cost a re-plan, never a fork or a double credit. A holder that dies
//! leaves a claim that runs out by itself.

use super::budget::{jittered, retrying, Budget};
use crate::store::{ChainHead, Claim, CreditStore, StoreError};
use std::time::{Duration, Instant};

/// How long a claim lasts unless renewed: the `credit` function's timeout, so a holder that
/// dies frees its chain at the latest when its invocation would have ended, and a stream
/// invocation (which stops 10 s before its timeout) never has to renew. Long local runs renew
/// it at half-time.
pub const CLAIM: Duration = Duration::from_secs(60);
/// Waits between tries of a claimed chain: from 20 ms, doubling, at most 500 ms, jittered.
const WAIT_BASE: Duration = Duration::from_millis(20);
const WAIT_CAP: Duration = Duration::from_millis(500);

/// A task's hold on one chain.
pub struct Writer<'a> {
    pub chain: &'a str,
    holder: String,
    /// The head as this writer last read or wrote it; None when it must be read again.
    head: Option<ChainHead>,
    claimed: Instant,
    /// The next append is the writer's last here: it ends the claim too.
    pub ending: bool,
    /// An append ended the claim.
    ended: bool,
}

impl<'a> Writer<'a> {
    /// Claims `chain`, waiting while another task holds it; None if the deadline came first.
    /// Counts transient faults retried and tries that found the chain held.
    pub async fn claim(
        store: &dyn CreditStore,
        chain: &'a str,
        budget: &Budget,
        retried: &mut u64,
        waited: &mut u64,
    ) -> Result<Option<Writer<'a>>, StoreError> {
        let holder = format!("{:016x}", rand::random::<u64>());
        let mut waits = 0u32;
        loop {
            if budget.expired() {
                return Ok(None);
            }
            let now = now_ms();
            let until = now + CLAIM.as_millis() as i64;
            let claim = retrying(budget, retried, || {
                store.claim_chain(chain, &holder, now, until)
            })
            .await?;
            match claim {
                Claim::Held(head) => {
                    return Ok(Some(Writer {
                        chain,
                        holder,
                        head: Some(head),
                        claimed: Instant::now(),
                        ending: false,
                        ended: false,
                    }))
                }
                Claim::Busy { until_ms } => {
                    *waited += 1;
                    let left = Duration::from_millis(until_ms.saturating_sub(now).max(1) as u64);
                    let wait = jittered(WAIT_BASE, waits, WAIT_CAP).min(left);
                    waits += 1;
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    /// Renews the claim once half of it has run, taking the head it answers with. A renewal
    /// that finds the chain taken over changes nothing: the appends' conditions still hold.
    pub async fn renew(&mut self, store: &dyn CreditStore) -> Result<(), StoreError> {
        if self.claimed.elapsed() < CLAIM / 2 {
            return Ok(());
        }
        let now = now_ms();
        let until = now + CLAIM.as_millis() as i64;
        if let Claim::Held(head) = store
            .claim_chain(self.chain, &self.holder, now, until)
            .await?
        {
            self.head = Some(head);
            self.claimed = Instant::now();
        }
        Ok(())
    }

    /// The head to plan from: the one last written, or read again after [`Writer::forget`].
    pub async fn head(&mut self, store: &dyn CreditStore) -> Result<ChainHead, StoreError> {
        if self.head.is_none() {
            self.head = Some(store.chain_head(self.chain).await?);
        }
        Ok(self.head.clone().expect("just read"))
    }

    /// The head may have moved (another writer, or a write whose answer was lost): read it
    /// again before the next plan.
    pub fn forget(&mut self) {
        self.head = None;
    }

    /// The holder to name in an append that ends the claim, if the next one should.
    pub fn ending_holder(&self) -> Option<String> {
        self.ending.then(|| self.holder.clone())
    }

    /// An append was written, leaving `head`; if it named the holder, the claim is over.
    pub fn wrote(&mut self, head: ChainHead, ended_claim: bool) {
        self.head = Some(head);
        if ended_claim {
            self.ended = true;
            self.ending = false;
        }
    }

    /// Ends the claim, unless an append ended it. A failure is only logged: the claim runs out
    /// by itself.
    pub async fn release(self, store: &dyn CreditStore) {
        if self.ended {
            return;
        }
        if let Err(e) = store.release_chain(self.chain, &self.holder).await {
            tracing::warn!(chain = self.chain, error = %e, "claim not released; it runs out");
        }
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
