//! An HTTP proxy between the AWS SDK and DynamoDB Local that fails the way DynamoDB does, on a
//! seeded schedule, for the fault-injection suite (`tests/reliability.rs`). For each request it
//! either:
//!
//! - **throttles**: answers 400 `ThrottlingException` (or, for `TransactWriteItems`, half the
//!   time `ProvisionedThroughputExceededException`) without forwarding;
//! - **loses the response**: forwards it (DynamoDB commits the write), then answers 500
//!   `InternalServerError` in its place;
//! - **delays**: holds the request past the client's attempt timeout, then drops it unsent;
//! - or forwards it and relays the answer.
//!
//! The operation is read from the `X-Amz-Target` header. The SDK retries some of these
//! itself; [`client`] makes one with a short timeout and few attempts, so most reach
//! Greenloop's own handling.
#![allow(dead_code)] // each test binary uses only part of it

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How often each fault fires, per request (probabilities in 0..=1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProxyFaults {
    pub throttle: f64,
    pub lost: f64,
    pub delay: f64,
}

impl ProxyFaults {
    pub const NONE: ProxyFaults = ProxyFaults {
        throttle: 0.0,
        lost: 0.0,
        delay: 0.0,
    };
}

/// Requests answered so far, by what the proxy did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProxyCounts {
    pub forwarded: u64,
    pub throttled: u64,
    pub lost: u64,
    pub delayed: u64,
}

/// The client's per-attempt timeout; a delayed request is held past it.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(1);
const HELD: Duration = Duration::from_millis(1_500);

struct Shared {
    upstream: String,
    http: reqwest::Client,
    schedule: Mutex<(ProxyFaults, StdRng)>,
    forwarded: AtomicU64,
    throttled: AtomicU64,
    lost: AtomicU64,
    delayed: AtomicU64,
}

/// A running proxy; it stops with the test's runtime.
pub struct FaultProxy {
    endpoint: String,
    shared: Arc<Shared>,
}

impl FaultProxy {
    /// Starts a proxy on a free loopback port in front of `upstream` (`http://host:port`).
    pub async fn start(upstream: &str, faults: ProxyFaults, seed: u64) -> Self {
        let shared = Arc::new(Shared {
            upstream: upstream.to_owned(),
            http: reqwest::Client::new(),
            schedule: Mutex::new((faults, StdRng::seed_from_u64(seed))),
            forwarded: AtomicU64::new(0),
            throttled: AtomicU64::new(0),
            lost: AtomicU64::new(0),
            delayed: AtomicU64::new(0),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the proxy");
        let addr = listener.local_addr().expect("proxy address");
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&shared));
        tokio::spawn(async move {
            axum::serve(listener, app).await.expect("the proxy serves");
        });
        FaultProxy {
            endpoint: format!("http://{addr}"),
            shared,
        }
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Changes the fault rates from the next request on.
    pub fn set_faults(&self, faults: ProxyFaults) {
        self.shared.schedule.lock().expect("schedule").0 = faults;
    }

    pub fn counts(&self) -> ProxyCounts {
        let s = &self.shared;
        ProxyCounts {
            forwarded: s.forwarded.load(Ordering::Relaxed),
            throttled: s.throttled.load(Ordering::Relaxed),
            lost: s.lost.load(Ordering::Relaxed),
            delayed: s.delayed.load(Ordering::Relaxed),
        }
    }

    /// A DynamoDB client through this proxy: [`ATTEMPT_TIMEOUT`] per attempt and `attempts`
    /// attempts in all (the SDK's standard retry mode, which retries throttling, 500s and
    /// timeouts by itself).
    pub async fn client(&self, attempts: u32) -> aws_sdk_dynamodb::Client {
        use aws_sdk_dynamodb::config::retry::RetryConfig;
        use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
        let sdk = super::dynamodb_local::sdk_config_for(&self.endpoint).await;
        let conf = aws_sdk_dynamodb::config::Builder::from(&sdk)
            .timeout_config(
                TimeoutConfig::builder()
                    .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                    .build(),
            )
            .retry_config(RetryConfig::standard().with_max_attempts(attempts))
            .build();
        aws_sdk_dynamodb::Client::from_conf(conf)
    }
}

enum Fate {
    Forward,
    Throttle,
    Lose,
    Delay,
}

async fn handle(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let op = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.split('.').nth(1))
        .unwrap_or("")
        .to_owned();
    let (fate, provisioned) = {
        let mut guard = s.schedule.lock().expect("schedule");
        let (f, rng) = &mut *guard;
        let x: f64 = rng.gen();
        let provisioned = op == "TransactWriteItems" && rng.gen::<bool>();
        let fate = if x < f.throttle {
            Fate::Throttle
        } else if x < f.throttle + f.lost {
            Fate::Lose
        } else if x < f.throttle + f.lost + f.delay {
            Fate::Delay
        } else {
            Fate::Forward
        };
        (fate, provisioned)
    };
    match fate {
        Fate::Throttle => {
            s.throttled.fetch_add(1, Ordering::Relaxed);
            let kind = if provisioned {
                "ProvisionedThroughputExceededException"
            } else {
                "ThrottlingException"
            };
            error(StatusCode::BAD_REQUEST, kind)
        }
        Fate::Delay => {
            s.delayed.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(HELD).await;
            error(StatusCode::INTERNAL_SERVER_ERROR, "InternalServerError")
        }
        Fate::Lose => {
            let _ = forward(&s, headers, body).await; // DynamoDB has done it; the answer is lost
            s.lost.fetch_add(1, Ordering::Relaxed);
            error(StatusCode::INTERNAL_SERVER_ERROR, "InternalServerError")
        }
        Fate::Forward => match forward(&s, headers, body).await {
            Ok(r) => {
                s.forwarded.fetch_add(1, Ordering::Relaxed);
                r
            }
            Err(e) => (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
        },
    }
}

/// DynamoDB's JSON error shape, which the SDK reads the error code from.
fn error(status: StatusCode, kind: &str) -> Response {
    let body =
        format!(r#"{{"__type":"com.amazonaws.dynamodb.v20120810#{kind}","message":"injected"}}"#);
    (
        status,
        [("content-type", "application/x-amz-json-1.0")],
        body,
    )
        .into_response()
}

/// Sends the request on to DynamoDB Local and relays its answer: status, body and the headers
/// the SDK reads (the request id and the body's CRC32, which it checks).
async fn forward(s: &Shared, headers: HeaderMap, body: Bytes) -> Result<Response, reqwest::Error> {
    let mut req = s.http.post(&s.upstream).body(body);
    for (name, value) in &headers {
        if !matches!(name.as_str(), "host" | "content-length" | "connection") {
            req = req.header(name.as_str(), value.as_bytes());
        }
    }
    let res = req.send().await?;
    let status = StatusCode::from_u16(res.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut out = HeaderMap::new();
    for (name, value) in res.headers() {
        if matches!(
            name.as_str(),
            "content-type" | "x-amzn-requestid" | "x-amz-crc32"
        ) {
            if let (Ok(n), Ok(v)) = (
                HeaderName::from_bytes(name.as_str().as_bytes()),
                axum::http::HeaderValue::from_bytes(value.as_bytes()),
            ) {
                out.insert(n, v);
            }
        }
    }
    let bytes = res.bytes().await?;
    Ok((status, out, bytes).into_response())
}
