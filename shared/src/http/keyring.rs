//! The webhook secrets as intake sees them, re-read from their source every [`TTL`].
//!
//! Deployed, the secrets live in SSM Parameter Store. Reading them only at a function's init
//! would leave a leaked secret working in every warm instance until it happened to be
//! recycled; re-reading them every couple of minutes makes removing a secret from the
//! parameter take effect within [`TTL`], with no redeploy. A re-read that fails keeps the
//! secrets held (intake goes on) and is tried again after [`RETRY`]; it is logged as a warning.

use super::signature::Integrations;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::time::Instant;

/// How long secrets are used before they are read again.
pub const TTL: Duration = Duration::from_secs(120);
/// How soon a failed re-read is tried again.
pub const RETRY: Duration = Duration::from_secs(15);

/// Reads the current secrets from their source.
pub type Fetch = Arc<
    dyn Fn() -> Pin<Box<dyn Future<Output = Result<Integrations, String>> + Send>> + Send + Sync,
>;

/// The integrations' secrets, fixed or refreshed from a source.
pub struct Keyring {
    held: RwLock<Held>,
    /// Where to read them again, and how often; None for fixed secrets.
    source: Option<(Fetch, Duration)>,
    /// One re-read at a time; the others wait for it rather than call SSM too.
    refreshing: tokio::sync::Mutex<()>,
}

struct Held {
    keys: Arc<Integrations>,
    due: Instant,
}

impl Keyring {
    /// Secrets that never change (configured in the environment, or in tests).
    pub fn fixed(keys: Integrations) -> Self {
        Keyring {
            held: RwLock::new(Held {
                keys: Arc::new(keys),
                due: Instant::now(),
            }),
            source: None,
            refreshing: tokio::sync::Mutex::new(()),
        }
    }

    /// `keys`, read just now, then read again through `fetch` once `ttl` has passed.
    pub fn refreshing(keys: Integrations, ttl: Duration, fetch: Fetch) -> Self {
        Keyring {
            held: RwLock::new(Held {
                keys: Arc::new(keys),
                due: Instant::now() + ttl,
            }),
            source: Some((fetch, ttl)),
            refreshing: tokio::sync::Mutex::new(()),
        }
    }

    /// The secrets to check a request against now.
    pub async fn current(&self) -> Arc<Integrations> {
        let Some((fetch, ttl)) = &self.source else {
            return self.held().0;
        };
        if let (keys, false) = self.held() {
            return keys;
        }
        let _one = self.refreshing.lock().await;
        let (keys, due) = self.held();
        if !due {
            return keys; // another request re-read them while this one waited
        }
        let (keys, next) = match fetch().await {
            Ok(fresh) => (Arc::new(fresh), *ttl),
            Err(error) => {
                tracing::warn!(%error, "re-reading the webhook secrets failed; keeping those held");
                (keys, RETRY)
            }
        };
        *self.held.write().unwrap_or_else(|p| p.into_inner()) = Held {
            keys: Arc::clone(&keys),
            due: Instant::now() + next,
        };
        keys
    }

    /// The secrets held, and whether they are due to be read again.
    fn held(&self) -> (Arc<Integrations>, bool) {
        let h = self.held.read().unwrap_or_else(|p| p.into_inner());
        (Arc::clone(&h.keys), Instant::now() >= h.due)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;

    /// A source whose content the test changes, counting reads; `None` fails the read.
    fn source(config: Arc<Mutex<Option<String>>>, reads: Arc<AtomicUsize>) -> Fetch {
        Arc::new(move || {
            let config = config.lock().unwrap().clone();
            reads.fetch_add(1, Ordering::SeqCst);
            Box::pin(async move {
                Integrations::parse(&config.ok_or("unreachable")?).map_err(|e| e.to_string())
            })
        })
    }

    fn ids(k: &Integrations) -> Vec<String> {
        k.key_ids().map(str::to_owned).collect()
    }

    #[tokio::test(start_paused = true)]
    async fn a_removed_secret_stops_working_within_the_ttl() {
        let both = "qr-1=secret-one-0123456789;qr-2=secret-two-0123456789";
        let config = Arc::new(Mutex::new(Some(both.to_owned())));
        let reads = Arc::new(AtomicUsize::new(0));
        let ring = Keyring::refreshing(
            Integrations::parse(both).unwrap(),
            TTL,
            source(config.clone(), reads.clone()),
        );
        // The leaked qr-2 is removed at the source.
        *config.lock().unwrap() = Some("qr-1=secret-one-0123456789".into());
        tokio::time::advance(TTL - Duration::from_secs(1)).await;
        assert_eq!(ids(&*ring.current().await), ["qr-1", "qr-2"]);
        assert_eq!(reads.load(Ordering::SeqCst), 0, "cached within the ttl");
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(ids(&*ring.current().await), ["qr-1"]);
        assert_eq!(ids(&*ring.current().await), ["qr-1"]);
        assert_eq!(reads.load(Ordering::SeqCst), 1, "one read per ttl");
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_read_keeps_the_secrets_and_retries_soon() {
        let one = "qr-1=secret-one-0123456789";
        let config = Arc::new(Mutex::new(None));
        let reads = Arc::new(AtomicUsize::new(0));
        let ring = Keyring::refreshing(
            Integrations::parse(one).unwrap(),
            TTL,
            source(config.clone(), reads.clone()),
        );
        tokio::time::advance(TTL).await;
        assert_eq!(ids(&*ring.current().await), ["qr-1"], "kept on failure");
        assert_eq!(reads.load(Ordering::SeqCst), 1);
        *config.lock().unwrap() = Some("qr-3=secret-three-0123456789".into());
        tokio::time::advance(RETRY - Duration::from_secs(1)).await;
        assert_eq!(
            ids(&*ring.current().await),
            ["qr-1"],
            "no read before the retry"
        );
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(ids(&*ring.current().await), ["qr-3"]);
        assert_eq!(reads.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn fixed_secrets_are_never_read_again() {
        let ring = Keyring::fixed(Integrations::parse("qr-1=secret-one-0123456789").unwrap());
        assert_eq!(ids(&*ring.current().await), ["qr-1"]);
    }
}
