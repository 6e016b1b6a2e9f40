//! Configuration from the environment, shared by the Lambda functions and `greenloop serve`.
//!
//! | variable | meaning |
//! |---|---|
//! | `GREENLOOP_PEPPER` | secret key of the pseudonym mapping's subjects, at least 16 bytes |
//! | `GREENLOOP_WEBHOOK_SECRETS` | `key-id=secret[,secret][;key-id=...]`, for intake |
//! | `GREENLOOP_LOG_KEY` | the checkpoint signing key, a 64-hex-digit Ed25519 seed (the `checkpoint` function only) |
//! | `GREENLOOP_RECEIPT_KEY` | the erasure receipt signing key, of the same kind (the `scan` function only) |
//! | `GREENLOOP_PEPPER_PARAMETER`, `GREENLOOP_WEBHOOK_SECRETS_PARAMETER`, `GREENLOOP_LOG_KEY_PARAMETER`, `GREENLOOP_RECEIPT_KEY_PARAMETER` | deployed: instead of the value, the name of the SSM Parameter Store SecureString holding it |
//! | `GREENLOOP_TABLE` | DynamoDB table; when set, the store is DynamoDB (endpoint and region from the standard AWS configuration, e.g. `AWS_ENDPOINT_URL_DYNAMODB`) |
//! | `GREENLOOP_DATA` | otherwise, data directory of the embedded store (default `greenloop-data`) |
//! | `GREENLOOP_TLS_ROOTS` | `native`: the AWS SDK trusts the platform's root certificates instead of the compiled-in Amazon Trust Services roots ([`trust_store`]) |
//! | `GREENLOOP_SHARDS` | number of ledger chains crediting spreads over (default 4) |
//! | `RUST_LOG`, else `AWS_LAMBDA_LOG_LEVEL` (the template's `LogLevel`) | log level, `RUST_LOG` also per target (`info,greenloop=debug`); default `info`. At most `debug`: `trace` is clamped. The Lambda runtime, the AWS SDK and the HTTP stack ([`QUIET_CRATES`]) stay at `info` or quieter whatever the level, since below it they log raw events and requests ([`log_filter`]) |
//!
//! Secrets are read here and nowhere else; they are never logged. Each function asks only for
//! the secrets it uses ([`Secret`]), and its IAM role may read only those parameters. The
//! webhook secrets are read again from SSM every two minutes ([`crate::http::keyring`]), so
//! removing a leaked one takes effect without a redeploy.

use crate::http::pages::{frame_ancestors, DEFAULT_PORTAL_FRAME_ANCESTORS};
use crate::http::{keyring, App, Integrations, Keyring, Site};
use crate::store::dynamodb::DynamoStore;
use crate::store::embedded::EmbeddedStore;
use crate::store::{LedgerSource, Store};
use aws_config::SdkConfig;
use aws_sdk_dynamodb::config::SharedHttpClient;
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore};
use greenloop_core::catalog::Rules;
use greenloop_core::checkpoint::{LogKey, PublicKey};
use greenloop_core::domain::Pepper;
use greenloop_core::receipt::ReceiptKey;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::OnceCell;

/// Chains crediting spreads over unless configured.
pub use greenloop_core::ledger::DEFAULT_SHARDS;

/// The most chains a deployment may spread over: docs/scaling.md asks for about 210 at a
/// national peak of 50,000 credited actions a second, and this leaves room above it.
pub const MAX_SHARDS: u32 = 1_000;

/// A configuration problem, said in one line.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// A secret a function may need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Secret {
    Pepper,
    WebhookSecrets,
    /// The checkpoint signing key: a 64-hex-digit Ed25519 seed.
    LogKey,
    /// The erasure receipt signing key, of the same kind: held by `scan`, which serves erasure.
    ReceiptKey,
}

impl Secret {
    /// Whether this function's configuration holds the secret or names its parameter: a
    /// binary that serves two functions asks only for what the one it runs as was given.
    pub fn configured(self) -> bool {
        var(self.var()).is_some() || var(&format!("{}_PARAMETER", self.var())).is_some()
    }

    /// The variable holding the value; the same name with `_PARAMETER` names its SSM parameter.
    fn var(self) -> &'static str {
        match self {
            Secret::Pepper => "GREENLOOP_PEPPER",
            Secret::WebhookSecrets => "GREENLOOP_WEBHOOK_SECRETS",
            Secret::LogKey => "GREENLOOP_LOG_KEY",
            Secret::ReceiptKey => "GREENLOOP_RECEIPT_KEY",
        }
    }
}

/// The AWS SDK configuration, loaded once per process and shared by every client. In Lambda the
/// region and credentials are environment variables, so loading probes nothing (no instance
/// metadata, no network) and costs microseconds at init. Its HTTPS client trusts the roots of
/// [`trust_store`].
pub async fn aws() -> &'static SdkConfig {
    static AWS: OnceCell<SdkConfig> = OnceCell::const_new();
    AWS.get_or_init(|| aws_loader(trust_store()).load()).await
}

/// The loader [`aws`] uses: the standard AWS configuration from the environment, with the
/// SDK's HTTPS client trusting only `trust`.
pub fn aws_loader(trust: TrustStore) -> aws_config::ConfigLoader {
    aws_config::defaults(aws_config::BehaviorVersion::latest()).http_client(https_client(trust))
}

/// The root certificates of Amazon Trust Services, which every AWS endpoint's certificate
/// chains to: Amazon Root CA 1 to 4, and Starfield Services Root CA G2, which cross-signs them
/// for older clients. PEM, compiled in; each with its subject and SHA-256 fingerprint.
pub const AWS_ROOTS_PEM: &str = include_str!("aws_roots.pem");

/// The roots the SDK's HTTPS client trusts: [`AWS_ROOTS_PEM`], compiled in, unless
/// `GREENLOOP_TLS_ROOTS=native` asks for the platform's certificates (`SSL_CERT_FILE`,
/// `SSL_CERT_DIR`, else the system bundle), e.g. behind a TLS-inspecting proxy. Reading and
/// parsing the platform's bundle took 5 to 7 ms of every function's init (docs/performance.md,
/// "Lambda packages and cold start"); five compiled-in roots cost nothing measurable.
pub fn trust_store() -> TrustStore {
    if var("GREENLOOP_TLS_ROOTS").as_deref() == Some("native") {
        return TrustStore::default();
    }
    TrustStore::empty().with_pem_certificate(AWS_ROOTS_PEM.as_bytes())
}

/// The SDK's own HTTPS client (hyper, rustls with aws-lc, plain HTTP too, for DynamoDB Local),
/// trusting only `trust`. Certificates are verified as by the SDK's default client: chain to
/// a root in `trust`, validity, and the endpoint's name.
pub fn https_client(trust: TrustStore) -> SharedHttpClient {
    let context = TlsContext::builder()
        .with_trust_store(trust)
        .build()
        .expect("a TLS context of a trust store alone always builds");
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::AwsLc,
        ))
        .tls_context(context)
        .build_https()
}

/// The values of `needed`, in order: each from its variable, else from the SSM parameter its
/// `_PARAMETER` variable names. All parameters come in one `GetParameters` call.
pub async fn secrets(needed: &[Secret]) -> Result<Vec<String>, ConfigError> {
    let mut values: Vec<Option<String>> = needed.iter().map(|s| var(s.var())).collect();
    // (index in `needed`, parameter name) of each value still missing.
    let mut wanted = Vec::new();
    for (i, secret) in needed
        .iter()
        .enumerate()
        .filter(|(i, _)| values[*i].is_none())
    {
        let param = format!("{}_PARAMETER", secret.var());
        let name = var(&param)
            .ok_or_else(|| ConfigError(format!("neither {} nor {param} is set", secret.var())))?;
        wanted.push((i, name));
    }
    if !wanted.is_empty() {
        let found = aws_sdk_ssm::Client::new(aws().await)
            .get_parameters()
            .set_names(Some(wanted.iter().map(|(_, n)| n.clone()).collect()))
            .with_decryption(true)
            .send()
            .await
            .map_err(|e| {
                let e = aws_sdk_ssm::error::DisplayErrorContext(e);
                ConfigError(format!("SSM GetParameters: {e}"))
            })?;
        for p in found.parameters.unwrap_or_default() {
            if let Some((i, _)) = wanted.iter().find(|(_, n)| Some(n.as_str()) == p.name()) {
                values[*i] = p.value;
            }
        }
    }
    let mut out = Vec::with_capacity(needed.len());
    for (i, value) in values.into_iter().enumerate() {
        let missing = || match wanted.iter().find(|(w, _)| *w == i) {
            Some((_, name)) => format!("SSM parameter {name} not found"),
            None => format!("{} is empty", needed[i].var()),
        };
        out.push(value.ok_or_else(|| ConfigError(missing()))?);
    }
    Ok(out)
}

fn parse_pepper(value: String) -> Result<Pepper, ConfigError> {
    Pepper::new(value.into_bytes()).map_err(|e| ConfigError(format!("GREENLOOP_PEPPER: {e}")))
}

fn parse_integrations(value: &str) -> Result<Integrations, ConfigError> {
    Integrations::parse(value).map_err(|e| ConfigError(format!("GREENLOOP_WEBHOOK_SECRETS: {e}")))
}

/// The checkpoint signing key, from `GREENLOOP_LOG_KEY` or the SSM parameter
/// `GREENLOOP_LOG_KEY_PARAMETER` names.
pub async fn log_key() -> Result<LogKey, ConfigError> {
    let seed = secrets(&[Secret::LogKey]).await?.remove(0);
    LogKey::from_hex(&seed).map_err(|e| ConfigError(format!("GREENLOOP_LOG_KEY: {e}")))
}

/// The erasure receipt key, from `GREENLOOP_RECEIPT_KEY` or its SSM parameter.
pub async fn receipt_key() -> Result<ReceiptKey, ConfigError> {
    parse_receipt_key(&secrets(&[Secret::ReceiptKey]).await?.remove(0))
}

fn parse_receipt_key(seed: &str) -> Result<ReceiptKey, ConfigError> {
    ReceiptKey::from_hex(seed).map_err(|e| ConfigError(format!("GREENLOOP_RECEIPT_KEY: {e}")))
}

/// The member pepper from `GREENLOOP_PEPPER` (local commands).
pub fn pepper() -> Result<Pepper, ConfigError> {
    parse_pepper(
        var("GREENLOOP_PEPPER").ok_or_else(|| ConfigError("GREENLOOP_PEPPER is not set".into()))?,
    )
}

/// Webhook senders from `GREENLOOP_WEBHOOK_SECRETS` (local commands); none if unset.
pub fn integrations() -> Result<Integrations, ConfigError> {
    parse_integrations(&var("GREENLOOP_WEBHOOK_SECRETS").unwrap_or_default())
}

pub fn shards() -> Result<u32, ConfigError> {
    match var("GREENLOOP_SHARDS") {
        None => Ok(DEFAULT_SHARDS),
        Some(s) => s
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=MAX_SHARDS).contains(n))
            .ok_or_else(|| ConfigError(format!("GREENLOOP_SHARDS must be 1 to {MAX_SHARDS}"))),
    }
}

pub fn data_dir() -> PathBuf {
    var("GREENLOOP_DATA").map_or_else(|| PathBuf::from("greenloop-data"), PathBuf::from)
}

/// The DynamoDB table the environment names, if any.
pub fn table() -> Option<String> {
    var("GREENLOOP_TABLE")
}

/// The store the environment names: DynamoDB when `GREENLOOP_TABLE` is set, else embedded.
pub async fn store() -> Result<Arc<dyn Store>, ConfigError> {
    if let Some(table) = table() {
        let client = aws_sdk_dynamodb::Client::new(aws().await);
        return Ok(Arc::new(
            DynamoStore::new(client, table).with_shards(shards()?),
        ));
    }
    let store = EmbeddedStore::open(&data_dir()).map_err(|e| ConfigError(e.to_string()))?;
    Ok(Arc::new(store))
}

/// Reads the published rules once, so that the store's connection (for DynamoDB, the TLS
/// handshake) is made during a function's init, which Lambda runs at full CPU before the first
/// request, and not inside the first request. A failure is only logged: the first request
/// will retry it and answer for itself.
pub async fn warm_up(store: &dyn LedgerSource) {
    if let Err(e) = store.catalog().await {
        tracing::warn!(error = %e, "warm-up read failed");
    }
}

/// Everything an HTTP function needs, from the environment, with only the secrets in `needed`;
/// the store is warmed up.
pub async fn app(needed: &[Secret]) -> Result<App, ConfigError> {
    let store = store().await?;
    let mut pepper = None;
    let mut receipts = None;
    let mut ring = Keyring::fixed(Integrations::default());
    for (secret, value) in needed.iter().zip(secrets(needed).await?) {
        match secret {
            Secret::Pepper => pepper = Some(parse_pepper(value)?),
            Secret::WebhookSecrets => {
                ring = webhook_keyring(parse_integrations(&value)?, keyring::TTL)
            }
            Secret::ReceiptKey => receipts = Some(std::sync::Arc::new(parse_receipt_key(&value)?)),
            Secret::LogKey => {
                return Err(ConfigError("HTTP functions do not sign checkpoints".into()))
            }
        }
    }
    warm_up(store.as_ref()).await;
    let mut app = App::with_secrets(store, pepper, ring, Rules::defaults());
    app.receipts = receipts;
    app.site = std::sync::Arc::new(site()?);
    Ok(app)
}

/// What the pages and the public log publish, from `GREENLOOP_LOG_PUBLIC_KEY` (64 hex digits)
/// and `GREENLOOP_PORTAL_ORIGINS` (who may frame the dashboard: origins separated by spaces,
/// such as `https://portal.example.edu`; default any HTTPS page).
pub fn site() -> Result<Site, ConfigError> {
    let set = |name| var(name).filter(|v| !v.trim().is_empty());
    let log_key = set("GREENLOOP_LOG_PUBLIC_KEY")
        .map(|k| PublicKey::from_hex(&k))
        .transpose()
        .map_err(|e| ConfigError(format!("GREENLOOP_LOG_PUBLIC_KEY: {e}")))?;
    let portal_frame_ancestors = match set("GREENLOOP_PORTAL_ORIGINS") {
        Some(list) => frame_ancestors(&list).map_err(ConfigError)?,
        None => DEFAULT_PORTAL_FRAME_ANCESTORS.into(),
    };
    Ok(Site {
        log_key,
        portal_frame_ancestors,
    })
}

/// The webhook secrets just read: fixed when the environment holds them, else re-read from
/// their SSM parameter every `ttl` ([`keyring::TTL`] in the functions), so a secret removed
/// there stops working without a redeploy.
pub fn webhook_keyring(read: Integrations, ttl: std::time::Duration) -> Keyring {
    if var(Secret::WebhookSecrets.var()).is_some() {
        return Keyring::fixed(read);
    }
    let fetch: keyring::Fetch = std::sync::Arc::new(|| {
        Box::pin(async {
            let value = secrets(&[Secret::WebhookSecrets])
                .await
                .map_err(|e| e.0)?
                .remove(0);
            parse_integrations(&value).map_err(|e| e.0)
        })
    });
    Keyring::refreshing(read, ttl, fetch)
}

/// Crates held at `info` or quieter, whatever the level says: at debug and trace they log what
/// must never be logged. The Lambda runtime logs each raw event (bearer keys, signatures, paths
/// with user ids); the AWS SDK and the HTTP stack log requests and responses. A name matches
/// every target it begins: `aws_` is each AWS SDK and Smithy crate, `hyper` is `hyper_util`
/// too, `tower` is `tower_http`, `lambda_runtime` is its API client.
pub const QUIET_CRATES: &[&str] = &[
    "lambda_runtime",
    "lambda_http",
    "aws_",
    "hyper",
    "h2",
    "tower",
    "rustls",
    "reqwest",
];

/// A `RUST_LOG`-style spec (`info,greenloop=debug`), case-insensitively; None if it is blank
/// (which would parse as "log nothing") or does not parse.
fn parse_log_spec(spec: &str) -> Option<tracing_subscriber::filter::Targets> {
    Some(spec.trim())
        .filter(|s| !s.is_empty())
        .and_then(|s| s.to_lowercase().parse().ok())
}

/// The log filter for `spec` (`RUST_LOG` syntax; None or unreadable: `info`). Nothing logs
/// above `debug`: a trace is clamped, since at trace dependencies log raw requests. The
/// [`QUIET_CRATES`] log at `info` or quieter: the level the spec gives them, capped.
pub fn log_filter(spec: Option<&str>) -> tracing_subscriber::filter::Targets {
    use tracing::Level;
    use tracing_subscriber::filter::{LevelFilter, Targets};
    let asked = spec
        .and_then(parse_log_spec)
        .unwrap_or_else(|| Targets::new().with_default(Level::INFO));
    let quiet = |target: &str| QUIET_CRATES.iter().any(|q| target.starts_with(q));
    let mut filter = match asked.default_level() {
        Some(level) => Targets::new().with_default(level.min(LevelFilter::DEBUG)),
        None => Targets::new(),
    };
    for (target, level) in asked.iter() {
        let cap = if quiet(target) {
            LevelFilter::INFO
        } else {
            LevelFilter::DEBUG
        };
        filter = filter.with_target(target, level.min(cap));
    }
    // Each quiet crate at the level the spec gives it (a default, or a directive naming a
    // prefix of it), capped: more specific than any such directive, so it wins.
    for name in QUIET_CRATES {
        let given = [
            Level::TRACE,
            Level::DEBUG,
            Level::INFO,
            Level::WARN,
            Level::ERROR,
        ]
        .into_iter()
        .find(|level| asked.would_enable(name, level))
        .map_or(LevelFilter::OFF, LevelFilter::from_level);
        filter = filter.with_target(*name, given.min(LevelFilter::INFO));
    }
    filter
}

/// The subscriber [`init_json_logs`] installs, writing to `writer`: one JSON object per line,
/// as Lambda's JSON log format expects, filtered by [`log_filter`]. Spans' fields (request id,
/// route, action id) are on every line. Tests install it with a writer they read back.
pub fn json_logs<W>(
    spec: Option<&str>,
    writer: W,
) -> impl tracing::Subscriber + Send + Sync + 'static
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    use tracing_subscriber::layer::SubscriberExt;
    let format = tracing_subscriber::fmt::layer()
        .json()
        .with_current_span(true)
        .with_span_list(false)
        .without_time()
        .with_target(false)
        .with_writer(writer);
    tracing_subscriber::registry()
        .with(format)
        .with(log_filter(spec))
}

/// JSON logs on stdout ([`json_logs`]); the level comes from `RUST_LOG`, else Lambda's
/// `AWS_LAMBDA_LOG_LEVEL`, else `info`, through [`log_filter`]. `RUST_LOG` takes targets and
/// levels (`info,greenloop=debug`): a `Targets` filter, not `EnvFilter`, whose regex engine
/// would add about a megabyte to every function.
pub fn init_json_logs() {
    use tracing_subscriber::util::SubscriberInitExt;
    let spec = var("RUST_LOG")
        .filter(|v| parse_log_spec(v).is_some())
        .or_else(|| var("AWS_LAMBDA_LOG_LEVEL"));
    json_logs(spec.as_deref(), std::io::stdout).init();
}
