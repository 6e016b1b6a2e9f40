//! `greenloop::config::secrets`: values from the environment, else from SSM Parameter Store in
//! one `GetParameters` call. SSM does not run here, so a stub speaking its JSON protocol on
//! loopback stands in (`AWS_ENDPOINT_URL_SSM`); the AWS SDK client and its request are real.
//! Its own test binary: it sets process-wide environment variables.

use greenloop::config::{secrets, webhook_keyring, Secret};
use greenloop::http::Integrations;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

/// Parameters the stub holds; the test changes them as an operator would.
fn stored() -> &'static Mutex<Vec<(&'static str, String)>> {
    static STORED: std::sync::OnceLock<Mutex<Vec<(&'static str, String)>>> =
        std::sync::OnceLock::new();
    STORED.get_or_init(|| {
        Mutex::new(vec![
            (
                "/greenloop/test/pepper",
                "pepper-from-ssm-0123456789".into(),
            ),
            ("/greenloop/test/webhook-secrets", "qr-1=from-ssm".into()),
        ])
    })
}

fn store_parameter(name: &'static str, value: &str) {
    let mut s = stored().lock().unwrap();
    s.retain(|(n, _)| *n != name);
    s.push((name, value.to_owned()));
}

/// Serves `GetParameters` from [`stored`] on loopback; returns its endpoint and the request
/// bodies it received.
fn ssm_stub() -> (String, Arc<Mutex<Vec<Value>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let mut conn = BufReader::new(conn.unwrap());
            loop {
                let mut length = None;
                let mut line = String::new();
                loop {
                    line.clear();
                    if conn.read_line(&mut line).unwrap_or(0) == 0 {
                        break;
                    }
                    if line == "\r\n" {
                        break;
                    }
                    let lower = line.to_ascii_lowercase();
                    if let Some(v) = lower.strip_prefix("content-length:") {
                        length = v.trim().parse::<usize>().ok();
                    }
                }
                let Some(length) = length else { break };
                let mut body = vec![0; length];
                conn.read_exact(&mut body).unwrap();
                let request: Value = serde_json::from_slice(&body).unwrap();
                let (mut found, mut invalid) = (vec![], vec![]);
                for name in request["Names"].as_array().unwrap() {
                    match stored().lock().unwrap().iter().find(|(n, _)| name == n) {
                        Some((n, v)) => {
                            found.push(json!({"Name": n, "Value": v, "Type": "SecureString"}))
                        }
                        None => invalid.push(name.clone()),
                    }
                }
                log.lock().unwrap().push(request);
                let answer = json!({"Parameters": found, "InvalidParameters": invalid}).to_string();
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.1\r\ncontent-length: {}\r\n\r\n",
                    answer.len()
                );
                let out = conn.get_mut();
                out.write_all(head.as_bytes()).unwrap();
                out.write_all(answer.as_bytes()).unwrap();
            }
        }
    });
    (endpoint, seen)
}

fn set(vars: &[(&str, Option<&str>)]) {
    for (k, v) in vars {
        // One test in this binary: nothing else reads the environment meanwhile.
        match v {
            Some(v) => std::env::set_var(k, v),
            None => std::env::remove_var(k),
        }
    }
}

#[tokio::test]
async fn secrets_come_from_the_environment_else_from_ssm_in_one_call() {
    let (endpoint, seen) = ssm_stub();
    set(&[
        ("AWS_ENDPOINT_URL_SSM", Some(&endpoint)),
        ("AWS_REGION", Some("us-east-1")),
        ("AWS_ACCESS_KEY_ID", Some("test")),
        ("AWS_SECRET_ACCESS_KEY", Some("test")),
        ("GREENLOOP_PEPPER", None),
        ("GREENLOOP_WEBHOOK_SECRETS", None),
    ]);

    // Nothing configured: one line naming both ways.
    let err = secrets(&[Secret::Pepper]).await.unwrap_err().to_string();
    assert_eq!(
        err,
        "neither GREENLOOP_PEPPER nor GREENLOOP_PEPPER_PARAMETER is set"
    );
    assert!(seen.lock().unwrap().is_empty(), "no call without a name");

    // A value in the environment wins; only the other one is fetched, decrypted.
    set(&[
        ("GREENLOOP_WEBHOOK_SECRETS", Some("qr-1=from-env")),
        ("GREENLOOP_PEPPER_PARAMETER", Some("/greenloop/test/pepper")),
        (
            "GREENLOOP_WEBHOOK_SECRETS_PARAMETER",
            Some("/greenloop/test/webhook-secrets"),
        ),
    ]);
    let values = secrets(&[Secret::WebhookSecrets, Secret::Pepper])
        .await
        .unwrap();
    assert_eq!(values, ["qr-1=from-env", "pepper-from-ssm-0123456789"]);
    let requests = seen.lock().unwrap().clone();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0]["Names"], json!(["/greenloop/test/pepper"]));
    assert_eq!(requests[0]["WithDecryption"], true);

    // Both from SSM, in the order asked, in one call.
    set(&[("GREENLOOP_WEBHOOK_SECRETS", None)]);
    let values = secrets(&[Secret::Pepper, Secret::WebhookSecrets])
        .await
        .unwrap();
    assert_eq!(values, ["pepper-from-ssm-0123456789", "qr-1=from-ssm"]);
    assert_eq!(seen.lock().unwrap().len(), 2);

    // A parameter that does not exist is named, and nothing else is returned.
    set(&[(
        "GREENLOOP_PEPPER_PARAMETER",
        Some("/greenloop/test/missing"),
    )]);
    let err = secrets(&[Secret::Pepper, Secret::WebhookSecrets])
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(err, "SSM parameter /greenloop/test/missing not found");
    assert!(!err.contains("from-ssm"), "an error never carries a secret");

    // A function that needs no secret makes no call.
    assert!(secrets(&[]).await.unwrap().is_empty());
    assert_eq!(seen.lock().unwrap().len(), 3);

    // The scan function reads the webhook secrets again: a leaked secret removed from the
    // parameter stops working at the next re-read, with no restart.
    const WEBHOOK: &str = "/greenloop/test/webhook-secrets";
    store_parameter(
        WEBHOOK,
        "qr-1=leaked-secret-0123456789;qr-2=kept-secret-0123456789",
    );
    let read = secrets(&[Secret::WebhookSecrets]).await.unwrap().remove(0);
    let ring = webhook_keyring(
        Integrations::parse(&read).unwrap(),
        std::time::Duration::ZERO,
    );
    let ids = |k: &Integrations| k.key_ids().map(str::to_owned).collect::<Vec<_>>();
    assert_eq!(ids(&*ring.current().await), ["qr-1", "qr-2"]);
    store_parameter(WEBHOOK, "qr-2=kept-secret-0123456789");
    assert_eq!(ids(&*ring.current().await), ["qr-2"]);
    let calls = seen.lock().unwrap().len();
    assert_eq!(seen.lock().unwrap()[calls - 1]["Names"], json!([WEBHOOK]));
    // A parameter that went missing keeps what was held, rather than stopping intake.
    set(&[(
        "GREENLOOP_WEBHOOK_SECRETS_PARAMETER",
        Some("/greenloop/test/gone"),
    )]);
    assert_eq!(ids(&*ring.current().await), ["qr-2"]);
    // Secrets in the environment are fixed: never read again.
    set(&[(
        "GREENLOOP_WEBHOOK_SECRETS",
        Some("qr-3=env-secret-0123456789"),
    )]);
    let fixed = webhook_keyring(
        Integrations::parse("qr-3=env-secret-0123456789").unwrap(),
        std::time::Duration::ZERO,
    );
    let before = seen.lock().unwrap().len();
    assert_eq!(ids(&*fixed.current().await), ["qr-3"]);
    assert_eq!(seen.lock().unwrap().len(), before, "no SSM call");
}
