//! Keeps the public ranking of campuses, so that `GET /v1/campuses` costs one store read
//! whatever the number of campuses.
//!
//! Computing it reads the campus list and every campus's rows per day (on DynamoDB, 1 + one
//! query per campus), which give both the ranking and the campaign's days for the public
//! page's chart. So crediting does it at most once per [`FRESH_S`] while it credits, and the
//! scheduled sweep does it every time it runs. The ranking names when it was computed
//! (`as_of`), and a slower writer never replaces a newer one.

use crate::store::{CreditStore, StoreError};
use greenloop_core::ranking::{campaign_days, Ranking};
use greenloop_core::records::CampusTotals;

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
    let mut days = Vec::new();
    for c in &campuses {
        days.extend(store.campus_days(&c.id).await?);
    }
    let ranking = Ranking {
        days: campaign_days(&days),
        ..Ranking::of(&campuses, &CampusTotals::sum(&days), now)
    };
    store.put_ranking(&ranking).await?;
    Ok(true)
}
