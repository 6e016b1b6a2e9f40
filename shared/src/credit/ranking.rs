//! Keeps the public ranking of campuses, so that `GET /v1/campuses` costs one store read
//! whatever the number of campuses.
//!
//! Computing it reads the campus list and every campus's totals (on DynamoDB, 2 + one query
//! per campus), so crediting does it at most once per [`FRESH_S`] while it credits, and the
//! scheduled sweep does it every time it runs. The ranking names when it was computed
//! (`as_of`), and a slower writer never replaces a newer one.

use crate::store::{CreditStore, StoreError};
use greenloop_core::ranking::Ranking;

/// The longest the ranking lags crediting while actions keep arriving, in seconds.
pub const FRESH_S: i64 = 10;

/// Computes and keeps a new ranking unless the one kept is younger than `max_age_s` seconds at
/// `now`. True if it computed one (a newer one kept meanwhile by another writer stays).
pub async fn keep<S: CreditStore + ?Sized>(
    store: &S,
    now: i64,
    max_age_s: i64,
) -> Result<bool, StoreError> {
    if let Some(kept) = store.ranking().await? {
        if now - kept.as_of < max_age_s {
            return Ok(false);
        }
    }
    let campuses = store.campuses().await?;
    let totals = store.campus_totals().await?;
    store
        .put_ranking(&Ranking::of(&campuses, &totals, now))
        .await?;
    Ok(true)
}
