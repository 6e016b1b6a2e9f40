//! A crediting run: drains the pending queue onto the chains, and never lets one fault stall
//! more than it must.
//!
//! Every failure is classified (`docs/reliability.md`):
//! - **transient** ([`StoreError::is_transient`]: throttling, timeouts, 5xx, a lost response,
//!   a transaction conflict): retried with capped exponential backoff and full jitter, within
//!   the run's [`Budget`]. A lost response needs nothing more: the retry re-plans from what is
//!   stored, and an action the lost write credited is then "not pending" and dropped;
//! - **permanent for one action** (its item cannot be read, its member's account cannot be read,
//!   the store refuses the write as too large, a pledge past the open-pledge cap): the batch is split in halves until the one action
//!   is found (log2 of the batch size appends), the rest is credited, and that action is
//!   quarantined with a stable reason;
//! - **the chain or the store is down** (retries used up, a chain head that cannot be read): the
//!   chain is given up for this run and everything on it stays pending. Chains run side by side,
//!   so another chain never waits for it.
//!
//! A run walks the queue once, oldest first, with a cursor, so actions left behind on a given-up
//! chain never hide the ones after them. It stops starting appends at its deadline, and stops
//! early when a whole pass found its actions credited by a concurrent run.

use super::{over_pledge_cap, plan, MAX_BATCH};
use crate::store::{reasons, AppendError, CreditStore, Pending, StoreError};
use greenloop_core::catalog::Rules;
use greenloop_core::domain::{Action, MemberId};
use greenloop_core::ledger::chain_for_station;
use greenloop_core::records::MAX_OPEN_PLEDGES;
use std::collections::BTreeMap;
use std::future::Future;
use std::time::{Duration, Instant};

/// How far one run may go.
#[derive(Debug, Clone)]
pub struct Budget {
    /// Most actions per append (1 to [`MAX_BATCH`]).
    pub batch: usize,
    /// No append starts after this instant; what is left stays pending for the next run.
    pub deadline: Option<Instant>,
    /// Retries of one step's transient faults before its chain is given up for this run.
    pub retries: u32,
    /// The longest single backoff between retries.
    pub max_backoff: Duration,
}

impl Default for Budget {
    /// [`MAX_BATCH`], no deadline, and 8 retries of at most 1 s (about 2.5 s of backoff in
    /// all, the worst case).
    fn default() -> Self {
        Budget {
            batch: MAX_BATCH,
            deadline: None,
            retries: 8,
            max_backoff: Duration::from_secs(1),
        }
    }
}

impl Budget {
    fn expired(&self) -> bool {
        self.deadline.is_some_and(|d| Instant::now() >= d)
    }

    /// How long to wait before retry number `attempt` (from 0) of a transient fault, or None if
    /// the retries are used up or the wait would end past the deadline.
    fn backoff(&self, attempt: u32) -> Option<Duration> {
        let wait = jittered(FAULT_BASE, attempt, self.max_backoff);
        let in_time = self.deadline.is_none_or(|end| Instant::now() + wait < end);
        (attempt < self.retries && in_time).then_some(wait)
    }
}

/// What a crediting run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CreditRun {
    pub credited: u64,
    pub batches: u64,
    /// Appends re-planned after another writer moved a head or an account first.
    pub conflicts: u64,
    /// Actions someone else credited first.
    pub skipped: u64,
    /// Transient faults retried.
    pub retried: u64,
    /// Actions this run quarantined.
    pub quarantined: Vec<String>,
    /// Chains given up for this run, with the fault that stopped each: their actions stay
    /// pending.
    pub stalled: BTreeMap<String, String>,
    /// The run stopped at its deadline with work possibly left.
    pub deadline_reached: bool,
    /// When the oldest action the run found entered the queue, Unix milliseconds.
    pub oldest_queued_ms: Option<i64>,
}

impl CreditRun {
    fn add(&mut self, other: CreditRun) {
        self.credited += other.credited;
        self.batches += other.batches;
        self.conflicts += other.conflicts;
        self.skipped += other.skipped;
        self.retried += other.retried;
        self.quarantined.extend(other.quarantined);
        self.stalled.extend(other.stalled);
        self.deadline_reached |= other.deadline_reached;
    }
}

/// Credits every pending action, [`MAX_BATCH`] at a time per chain, with the default
/// [`Budget`]: no deadline.
pub async fn credit_pending(
    store: &dyn CreditStore,
    rules: &Rules,
    shards: u32,
) -> Result<CreditRun, StoreError> {
    credit_pending_with(store, rules, shards, &Budget::default()).await
}

/// [`credit_pending`] with at most `batch` actions per append; benches compare batch sizes.
pub async fn credit_pending_in(
    store: &dyn CreditStore,
    rules: &Rules,
    shards: u32,
    batch: usize,
) -> Result<CreditRun, StoreError> {
    let budget = Budget {
        batch,
        ..Budget::default()
    };
    credit_pending_with(store, rules, shards, &budget).await
}

/// Walks the pending queue once and credits it within `budget`. Fails only if the queue
/// cannot be listed (or the rules published) after retries: the store is down, and everything
/// stays pending. A chain that fails is reported in [`CreditRun::stalled`]; the others go on.
pub async fn credit_pending_with(
    store: &dyn CreditStore,
    rules: &Rules,
    shards: u32,
    budget: &Budget,
) -> Result<CreditRun, StoreError> {
    let batch = budget.batch.clamp(1, MAX_BATCH);
    let mut run = CreditRun::default();
    retrying(budget, &mut run.retried, || store.put_rules(rules)).await?;
    let listing = batch * shards.max(1) as usize * 4;
    let mut after: Option<String> = None;
    loop {
        if budget.expired() {
            run.deadline_reached = true;
            break;
        }
        let listed = retrying(budget, &mut run.retried, || {
            store.pending_actions(after.as_deref(), listing)
        })
        .await?;
        let Some(last) = listed.last() else { break };
        after = Some(last.position.clone());
        if run.oldest_queued_ms.is_none() {
            run.oldest_queued_ms = listed.iter().filter_map(|p| p.queued_ms).min();
        }
        let mut by_chain: BTreeMap<String, Vec<Action>> = BTreeMap::new();
        for Pending { id, action, .. } in listed {
            match action {
                Ok(a) => {
                    let chain = chain_for_station(&a.station, shards);
                    if !run.stalled.contains_key(&chain) {
                        by_chain.entry(chain).or_default().push(a);
                    }
                }
                Err(why) => {
                    let done = quarantine(store, budget, &mut run, &id, reasons::UNREADABLE, &why);
                    if let Err(e) = done.await {
                        // Still pending: the next run tries again.
                        tracing::error!(action = %id, error = %e, "could not quarantine");
                    }
                }
            }
        }
        // Chains side by side: one chain's retries, faults or bisection never hold another.
        let chains = by_chain.into_iter().map(|(chain, actions)| async move {
            let mut r = CreditRun::default();
            if let Err(e) = credit_chain(store, rules, &chain, actions, batch, budget, &mut r).await
            {
                tracing::error!(chain = %chain, error = %e, "chain given up for this run");
                r.stalled.insert(chain, e.to_string());
            }
            r
        });
        let (credited, skipped) = (run.credited, run.skipped);
        for r in futures_util::future::join_all(chains).await {
            run.add(r);
        }
        // Everything this pass tried, another run credited first: it is draining the queue
        // ahead of this one, and following it would only repeat its work.
        if run.credited == credited && run.skipped > skipped {
            break;
        }
    }
    log_run(&run);
    Ok(run)
}

fn log_run(run: &CreditRun) {
    if run.batches + run.skipped > 0 || !run.quarantined.is_empty() || !run.stalled.is_empty() {
        tracing::info!(
            credited = run.credited,
            batches = run.batches,
            conflicts = run.conflicts,
            skipped = run.skipped,
            retried = run.retried,
            quarantined = run.quarantined.len(),
            stalled = run.stalled.len(),
            deadline_reached = run.deadline_reached,
            "crediting run"
        );
    }
}

/// Credits `actions` (all of one chain, oldest first) in appends of `batch`, stopping at the
/// deadline. An error means the chain is given up for this run.
pub async fn credit_chain(
    store: &dyn CreditStore,
    rules: &Rules,
    chain: &str,
    actions: Vec<Action>,
    batch: usize,
    budget: &Budget,
    run: &mut CreditRun,
) -> Result<(), StoreError> {
    for chunk in actions.chunks(batch.clamp(1, MAX_BATCH)) {
        if budget.expired() {
            run.deadline_reached = true;
            return Ok(());
        }
        append(store, rules, chain, chunk.to_vec(), budget, run).await?;
    }
    Ok(())
}

/// Appends `actions` to `chain` in one batch: re-plans on conflicts, retries transient faults,
/// and bisects a batch a permanent fault refuses down to the action to quarantine.
fn append<'a>(
    store: &'a dyn CreditStore,
    rules: &'a Rules,
    chain: &'a str,
    mut actions: Vec<Action>,
    budget: &'a Budget,
    run: &'a mut CreditRun,
) -> std::pin::Pin<Box<dyn Future<Output = Result<(), StoreError>> + Send + 'a>> {
    Box::pin(async move {
        let mut contention = 0u32;
        let mut faults = 0u32;
        loop {
            if actions.is_empty() {
                return Ok(());
            }
            let step = async {
                let head = store.chain_head(chain).await.map_err(Step::Chain)?;
                let mut members: Vec<MemberId> = actions.iter().map(|a| a.member.clone()).collect();
                members.sort();
                members.dedup();
                let accounts = store.accounts(&members).await.map_err(Step::Accounts)?;
                let planned = plan(&head, &accounts, &actions, rules);
                if let Some(e) = over_pledge_cap(&planned) {
                    return Err(Step::Rule(e.action_key()));
                }
                store.append(&planned).await.map_err(Step::Append)?;
                Ok::<u64, Step>(planned.entries.len() as u64)
            };
            let fault = match step.await {
                Ok(n) => {
                    run.credited += n;
                    run.batches += 1;
                    return Ok(());
                }
                Err(Step::Rule(id)) => {
                    let why =
                        format!("the member already has {MAX_OPEN_PLEDGES} return pledges open");
                    quarantine(
                        store,
                        budget,
                        run,
                        &id,
                        reasons::TOO_MANY_OPEN_PLEDGES,
                        &why,
                    )
                    .await?;
                    actions.retain(|a| a.key() != id);
                    continue;
                }
                Err(Step::Append(AppendError::NotPending(ids))) => {
                    let before = actions.len();
                    actions.retain(|a| !ids.contains(&a.key()));
                    if actions.len() == before {
                        return Err(StoreError::Corrupt(format!(
                            "append refused actions {ids:?} that the batch does not hold"
                        )));
                    }
                    run.skipped += (before - actions.len()) as u64;
                    continue;
                }
                Err(Step::Append(AppendError::HeadMoved(_) | AppendError::AccountMoved(_)))
                    if contention < 64 =>
                {
                    run.conflicts += 1;
                    tokio::time::sleep(jittered(CONTENTION_BASE, contention, CONTENTION_CAP)).await;
                    contention += 1;
                    continue;
                }
                Err(Step::Append(AppendError::HeadMoved(c))) => {
                    return Err(StoreError::Unavailable(format!(
                        "chain {c} stayed contended"
                    )))
                }
                Err(Step::Append(AppendError::AccountMoved(m))) => {
                    return Err(StoreError::Unavailable(format!(
                        "account {} stayed contended",
                        &m.as_str()[..12]
                    )))
                }
                Err(Step::Append(AppendError::Store(e))) => e.into_fault(false),
                Err(Step::Accounts(e)) => e.into_fault(true),
                Err(Step::Chain(e)) if e.is_transient() => Fault::Transient(e),
                Err(Step::Chain(e)) => Fault::Chain(e), // a head that cannot be read
            };
            match fault {
                Fault::Transient(e) => {
                    let Some(wait) = budget.backoff(faults) else {
                        return Err(e);
                    };
                    run.retried += 1;
                    faults += 1;
                    tokio::time::sleep(wait).await;
                }
                Fault::Culprit(e) => {
                    return isolate(store, rules, chain, actions, budget, run, e).await
                }
                Fault::Chain(e) => return Err(e),
            }
        }
    })
}

/// Which step of an append failed: the head is the chain's, the accounts are the members', a
/// rule seen only when planning is one action's.
enum Step {
    Chain(StoreError),
    Rule(String),
    Accounts(StoreError),
    Append(AppendError),
}

/// What a failed step means for the batch.
enum Fault {
    /// May pass: retry the whole step.
    Transient(StoreError),
    /// Belongs to one action of the batch: find it.
    Culprit(StoreError),
    /// Belongs to the chain (or the store): give the chain up for this run.
    Chain(StoreError),
}

impl StoreError {
    /// Classifies a store error from an append (`accounts`: from reading the accounts, where
    /// anything unreadable is one member's).
    fn into_fault(self, accounts: bool) -> Fault {
        match self {
            e if e.is_transient() => Fault::Transient(e),
            e @ (StoreError::Refused { .. } | StoreError::Unreadable { .. }) => Fault::Culprit(e),
            e if accounts => Fault::Culprit(e),
            e => Fault::Chain(e),
        }
    }
}

/// A permanent fault refused `actions`: one action quarantined if it is alone, else each half
/// appended on its own, so the culprit is found in log2(len) more appends and the rest credited.
async fn isolate(
    store: &dyn CreditStore,
    rules: &Rules,
    chain: &str,
    mut actions: Vec<Action>,
    budget: &Budget,
    run: &mut CreditRun,
    fault: StoreError,
) -> Result<(), StoreError> {
    if actions.len() == 1 {
        let reason = match &fault {
            StoreError::Refused { code, .. } => code,
            StoreError::Unreadable { .. } => reasons::UNREADABLE,
            _ => reasons::UNREADABLE_ACCOUNT,
        };
        tracing::warn!(action = %actions[0].key(), chain, reason, "quarantining");
        return quarantine(
            store,
            budget,
            run,
            &actions[0].key(),
            reason,
            &fault.to_string(),
        )
        .await;
    }
    let second = actions.split_off(actions.len() / 2);
    append(store, rules, chain, actions, budget, run).await?;
    append(store, rules, chain, second, budget, run).await
}

/// Quarantines one action, retrying transient faults.
async fn quarantine(
    store: &dyn CreditStore,
    budget: &Budget,
    run: &mut CreditRun,
    id: &str,
    reason: &str,
    message: &str,
) -> Result<(), StoreError> {
    if retrying(budget, &mut run.retried, || {
        store.quarantine(id, reason, message)
    })
    .await?
    {
        run.quarantined.push(id.to_owned());
    }
    Ok(())
}

/// Calls `f` until it succeeds, fails for good, or the budget's retries or time run out.
async fn retrying<T, F, Fut>(budget: &Budget, retried: &mut u64, mut f: F) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, StoreError>>,
{
    let mut attempt = 0u32;
    loop {
        match f().await {
            Err(e) if e.is_transient() => {
                let Some(wait) = budget.backoff(attempt) else {
                    return Err(e);
                };
                *retried += 1;
                attempt += 1;
                tokio::time::sleep(wait).await;
            }
            other => return other,
        }
    }
}

/// Backoff after losing a race to another writer: short, because the winner is already done.
const CONTENTION_BASE: Duration = Duration::from_micros(200);
const CONTENTION_CAP: Duration = Duration::from_millis(50);
/// Backoff after a transient fault: long enough for throttling to ease.
const FAULT_BASE: Duration = Duration::from_millis(10);

/// Exponential backoff from `base` with full jitter, capped at `cap`.
fn jittered(base: Duration, attempt: u32, cap: Duration) -> Duration {
    let ceiling = base.saturating_mul(1 << attempt.min(16)).min(cap);
    ceiling.mul_f64(rand::random::<f64>())
}

/// How long in-process crediting waits after a wake-up before it reads the pending list.
const GATHER: Duration = Duration::from_millis(20);

/// Credits whatever is pending whenever `wake` is notified, and at least every second, and
/// keeps the public ranking: the in-process crediting stage of `greenloop serve`. Errors are
/// logged and retried.
pub async fn credit_continuously(
    store: std::sync::Arc<dyn CreditStore>,
    rules: Rules,
    shards: u32,
    wake: std::sync::Arc<tokio::sync::Notify>,
) {
    // Whether the public ranking misses something credited: it is refreshed once it is
    // FRESH_S old, so bursts share one refresh and the last one is not left out.
    let mut unranked = true;
    loop {
        match credit_pending(store.as_ref(), &rules, shards).await {
            Ok(run) => unranked |= run.credited > 0,
            Err(e) => tracing::warn!(error = %e, "crediting failed; retrying"),
        }
        if unranked {
            let now = chrono::Utc::now().timestamp();
            match super::ranking::keep(store.as_ref(), now, super::ranking::FRESH_S).await {
                Ok(refreshed) => unranked = !refreshed,
                Err(e) => tracing::warn!(error = %e, "the public ranking was not refreshed"),
            }
        }
        if tokio::time::timeout(Duration::from_secs(1), wake.notified())
            .await
            .is_ok()
        {
            // Let a burst of deliveries gather, so one append carries many of them.
            tokio::time::sleep(GATHER).await;
        }
    }
}
