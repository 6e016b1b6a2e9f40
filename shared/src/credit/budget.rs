//! How far a crediting run may go (its [`Budget`]: batch size, deadline, retries) and how it
//! waits: capped exponential backoff with full jitter.

use super::MAX_BATCH;
use crate::store::StoreError;
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
    pub fn expired(&self) -> bool {
        self.deadline.is_some_and(|d| Instant::now() >= d)
    }

    /// How long to wait before retry number `attempt` (from 0) of a transient fault, or None if
    /// the retries are used up or the wait would end past the deadline.
    pub fn backoff(&self, attempt: u32) -> Option<Duration> {
        let wait = jittered(FAULT_BASE, attempt, self.max_backoff);
        let in_time = self.deadline.is_none_or(|end| Instant::now() + wait < end);
        (attempt < self.retries && in_time).then_some(wait)
    }
}

/// Calls `f` until it succeeds, fails for good, or the budget's retries or time run out.
pub async fn retrying<T, F, Fut>(
    budget: &Budget,
    retried: &mut u64,
    mut f: F,
) -> Result<T, StoreError>
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

/// Backoff after a transient fault: long enough for throttling to ease.
const FAULT_BASE: Duration = Duration::from_millis(10);

/// Exponential backoff from `base` with full jitter, capped at `cap`.
pub fn jittered(base: Duration, attempt: u32, cap: Duration) -> Duration {
    let ceiling = base.saturating_mul(1 << attempt.min(16)).min(cap);
    ceiling.mul_f64(rand::random::<f64>())
}
