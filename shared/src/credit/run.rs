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
//! Each chain has one writer at a time ([`super::writer`]): a run claims a chain, credits it
//! from the head it last wrote, under the factor table in force ([`in_force`]), and releases
//! it. The stream's batches are credited as announced
//! ([`credit_actions`]); the sweep walks each chain's queue once, oldest first, with a cursor
//! ([`credit_pending_with`]). A run stops starting appends at its deadline.

use super::budget::{jittered, retrying, Budget};
use super::writer::Writer;
use super::{over_pledge_cap, plan, MAX_BATCH};
use crate::store::{reasons, AppendError, CreditStore, Pending, StoreError};
use greenloop_core::catalog::Rules;
use greenloop_core::domain::{Action, MemberId};
use greenloop_core::ledger::chains;
use greenloop_core::records::MAX_OPEN_PLEDGES;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

/// What a crediting run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CreditRun {
    pub credited: u64,
    pub batches: u64,
    /// Appends re-planned after another writer moved a head or an account first.
    pub conflicts: u64,
    /// Tries of a chain another task held: waits instead of races.
    pub waits: u64,
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
        self.waits += other.waits;
        self.note_queued(other.oldest_queued_ms);
        self.skipped += other.skipped;
        self.retried += other.retried;
        self.quarantined.extend(other.quarantined);
        self.stalled.extend(other.stalled);
        self.deadline_reached |= other.deadline_reached;
    }

    /// Keeps the earliest time an action found entered the queue.
    fn note_queued(&mut self, queued_ms: Option<i64>) {
        self.oldest_queued_ms = match (self.oldest_queued_ms, queued_ms) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
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

/// The sweep: claims each chain in turn (all side by side), walks its queue once and credits
/// it within `budget`. Fails only if the rules cannot be published after retries. A chain whose
/// queue cannot be listed, or that fails, is reported in [`CreditRun::stalled`]; the others go
/// on.
pub async fn credit_pending_with(
    store: &dyn CreditStore,
    rules: &Rules,
    shards: u32,
    budget: &Budget,
) -> Result<CreditRun, StoreError> {
    let mut run = CreditRun::default();
    publish(store, rules, budget, &mut run).await?;
    let names: Vec<String> = chains(shards).collect();
    let sweeps = names.iter().map(|chain| {
        on_chain(store, chain, budget, move |w, r| {
            Box::pin(async move {
                let rules = in_force(store, rules, budget, r).await?;
                drain(store, &rules, shards, w, budget, r).await
            })
        })
    });
    for r in futures_util::future::join_all(sweeps).await {
        run.add(r);
    }
    log_run(&run);
    Ok(run)
}

/// Credits `actions`, grouped by chain (each group oldest first), as a stream batch announced
/// them: no queue is listed. Each chain is claimed, credited and released side by side. An
/// action named twice is credited once; one credited already is skipped.
pub async fn credit_actions(
    store: &dyn CreditStore,
    rules: &Rules,
    by_chain: BTreeMap<String, Vec<Action>>,
    budget: &Budget,
) -> Result<CreditRun, StoreError> {
    let mut run = CreditRun::default();
    publish(store, rules, budget, &mut run).await?;
    let batch = budget.batch.clamp(1, MAX_BATCH);
    let appends = by_chain.iter().map(|(chain, actions)| {
        // A delivery announced twice is credited once: one batch never names an action twice.
        let mut seen = std::collections::HashSet::new();
        let actions: Vec<Action> = (actions.iter())
            .filter(|a| seen.insert(a.key()))
            .cloned()
            .collect();
        on_chain(store, chain, budget, move |w, r| {
            Box::pin(async move {
                let rules = in_force(store, rules, budget, r).await?;
                credit_claimed(store, &rules, w, actions, batch, true, budget, r).await
            })
        })
    });
    for r in futures_util::future::join_all(appends).await {
        run.add(r);
    }
    log_run(&run);
    Ok(run)
}

/// Publishes the rules an entry will name, unless they are the built-in ones every auditor
/// has: then no request at all.
async fn publish(
    store: &dyn CreditStore,
    rules: &Rules,
    budget: &Budget,
    run: &mut CreditRun,
) -> Result<(), StoreError> {
    let builtin = greenloop_core::catalog::Catalog::builtin();
    if builtin.rulebook(&rules.rulebook.version) == Some(&rules.rulebook)
        && builtin.factors(&rules.factors.version) == Some(&rules.factors)
    {
        return Ok(());
    }
    retrying(budget, &mut run.retried, || store.put_rules(rules)).await
}

/// The rules to credit under on a chain just claimed: `rules`, with the factor table
/// `requantify` put in force in place of its own, if one was. Read under the claim:
/// `requantify` puts a table in force before it claims any chain, so a chain it has corrected
/// is never credited under the table it replaced.
async fn in_force<'r>(
    store: &dyn CreditStore,
    rules: &'r Rules,
    budget: &Budget,
    run: &mut CreditRun,
) -> Result<Cow<'r, Rules>, StoreError> {
    let table = retrying(budget, &mut run.retried, || store.factors_in_force()).await?;
    Ok(match table {
        Some(factors) if factors != rules.factors => Cow::Owned(Rules {
            rulebook: rules.rulebook.clone(),
            factors,
        }),
        _ => Cow::Borrowed(rules),
    })
}

/// The work a task does on a chain it holds.
type OnChain<'a> = std::pin::Pin<Box<dyn Future<Output = Result<(), StoreError>> + Send + 'a>>;

/// Claims `chain`, does `work` on it, and releases it. A chain that fails is given up for this
/// run: reported in [`CreditRun::stalled`], its actions left pending.
async fn on_chain<'a, F>(
    store: &'a dyn CreditStore,
    chain: &'a str,
    budget: &'a Budget,
    work: F,
) -> CreditRun
where
    F: for<'w> FnOnce(&'w mut Writer<'a>, &'w mut CreditRun) -> OnChain<'w>,
{
    let mut run = CreditRun::default();
    let claimed = Writer::claim(store, chain, budget, &mut run.retried, &mut run.waits).await;
    let done = match claimed {
        Ok(Some(mut w)) => {
            let done = work(&mut w, &mut run).await;
            w.release(store).await;
            done
        }
        Ok(None) => {
            run.deadline_reached = true; // left for the next run
            Ok(())
        }
        Err(e) => Err(e),
    };
    if let Err(e) = done {
        tracing::error!(chain = %chain, error = %e, "chain given up for this run");
        run.stalled.insert(chain.to_owned(), e.to_string());
    }
    run
}

/// Walks the held chain's queue once, oldest first, with a cursor, so actions a fault left
/// behind never hide the ones after them; quarantines what cannot be read.
async fn drain(
    store: &dyn CreditStore,
    rules: &Rules,
    shards: u32,
    w: &mut Writer<'_>,
    budget: &Budget,
    run: &mut CreditRun,
) -> Result<(), StoreError> {
    let batch = budget.batch.clamp(1, MAX_BATCH);
    let listing = batch * 4;
    let mut after: Option<String> = None;
    loop {
        if budget.expired() {
            run.deadline_reached = true;
            return Ok(());
        }
        let listed = retrying(budget, &mut run.retried, || {
            store.pending_on(w.chain, shards, after.as_deref(), listing)
        })
        .await?;
        let Some(last) = listed.last() else {
            return Ok(());
        };
        after = Some(last.position.clone());
        run.note_queued(listed.iter().filter_map(|p| p.queued_ms).min());
        let mut actions = Vec::with_capacity(listed.len());
        for Pending { id, action, .. } in listed {
            match action {
                Ok(a) => actions.push(a),
                Err(why) => {
                    let done = quarantine(store, budget, run, &id, reasons::UNREADABLE, &why);
                    if let Err(e) = done.await {
                        // Still pending: the next run tries again.
                        tracing::error!(action = %id, error = %e, "could not quarantine");
                    }
                }
            }
        }
        let (credited, skipped) = (run.credited, run.skipped);
        credit_claimed(store, rules, w, actions, batch, false, budget, run).await?;
        // Everything this page tried, another writer credited first (one whose claim ran out
        // under it): following it would only repeat its work.
        if run.credited == credited && run.skipped > skipped {
            return Ok(());
        }
    }
}

fn log_run(run: &CreditRun) {
    if run.batches + run.skipped > 0 || !run.quarantined.is_empty() || !run.stalled.is_empty() {
        tracing::info!(
            credited = run.credited,
            batches = run.batches,
            conflicts = run.conflicts,
            waits = run.waits,
            skipped = run.skipped,
            retried = run.retried,
            quarantined = run.quarantined.len(),
            stalled = run.stalled.len(),
            deadline_reached = run.deadline_reached,
            "crediting run"
        );
    }
}

/// Credits `actions` (all of the held chain, oldest first) in appends of `batch`, stopping at
/// the deadline; with `last`, the last append also ends the claim. An error means the chain is
/// given up for this run.
#[allow(clippy::too_many_arguments)]
pub async fn credit_claimed(
    store: &dyn CreditStore,
    rules: &Rules,
    w: &mut Writer<'_>,
    actions: Vec<Action>,
    batch: usize,
    last: bool,
    budget: &Budget,
    run: &mut CreditRun,
) -> Result<(), StoreError> {
    let chunks: Vec<&[Action]> = actions.chunks(batch.clamp(1, MAX_BATCH)).collect();
    for (i, chunk) in chunks.iter().enumerate() {
        if budget.expired() {
            run.deadline_reached = true;
            return Ok(());
        }
        w.ending = last && i + 1 == chunks.len();
        append(store, rules, w, chunk.to_vec(), budget, run).await?;
    }
    Ok(())
}

/// Appends `actions` to `chain` in one batch: re-plans on conflicts, retries transient faults,
/// and bisects a batch a permanent fault refuses down to the action to quarantine.
fn append<'a, 'c: 'a>(
    store: &'a dyn CreditStore,
    rules: &'a Rules,
    w: &'a mut Writer<'c>,
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
                w.renew(store).await.map_err(Step::Chain)?;
                let head = w.head(store).await.map_err(Step::Chain)?;
                let mut members: Vec<MemberId> = actions.iter().map(|a| a.member.clone()).collect();
                members.sort();
                members.dedup();
                let accounts = store.accounts(&members).await.map_err(Step::Accounts)?;
                let mut planned = plan(&head, &accounts, &actions, rules);
                if let Some(e) = over_pledge_cap(&planned) {
                    return Err(Step::Rule(e.action_key()));
                }
                planned.release = w.ending_holder();
                match store.append(&planned).await {
                    Ok(()) => {
                        w.wrote(planned.new_head(), planned.release.is_some());
                        Ok::<u64, Step>(planned.entries.len() as u64)
                    }
                    // Refused as planned: nothing was written, the head stands.
                    Err(e @ (AppendError::NotPending(_) | AppendError::AccountMoved(_))) => {
                        Err(Step::Append(e))
                    }
                    // Moved, or unknown after a fault (a lost response may hide a commit).
                    Err(e) => {
                        w.forget();
                        Err(Step::Append(e))
                    }
                }
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
                    // Perhaps the claim ran out and another writer holds it: go on without
                    // ending it.
                    w.ending = false;
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
                    return isolate(store, rules, w, actions, budget, run, e).await
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
    w: &mut Writer<'_>,
    mut actions: Vec<Action>,
    budget: &Budget,
    run: &mut CreditRun,
    fault: StoreError,
) -> Result<(), StoreError> {
    w.ending = false; // many appends follow: the claim is released after them
    if actions.len() == 1 {
        let reason = match &fault {
            StoreError::Refused { code, .. } => code,
            StoreError::Unreadable { .. } => reasons::UNREADABLE,
            _ => reasons::UNREADABLE_ACCOUNT,
        };
        tracing::warn!(action = %actions[0].key(), chain = w.chain, reason, "quarantining");
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
    append(store, rules, w, actions, budget, run).await?;
    append(store, rules, w, second, budget, run).await
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

/// Backoff after losing a race to another writer: short, because the winner is already done.
const CONTENTION_BASE: Duration = Duration::from_micros(200);
const CONTENTION_CAP: Duration = Duration::from_millis(50);

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
