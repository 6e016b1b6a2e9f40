//! The AWS SDK's HTTPS client trusts the compiled-in Amazon Trust Services roots
//! (`greenloop::config::trust_store`) instead of the platform's bundle, and still verifies every
//! server certificate. No AWS endpoint can be reached from the tests, so a local rustls server
//! stands in for one: the client built as the functions build it refuses a self-signed
//! certificate and a certificate from an unknown root, and accepts a certificate chained to a
//! root only when that root is added to its trust store, and only for the name it was issued
//! to. Each case is one request to a DynamoDB client on loopback, without retries.

use aws_config::retry::RetryConfig;
use aws_config::Region;
use aws_sdk_dynamodb::config::Credentials;
use aws_smithy_http_client::tls::TrustStore;
use greenloop::config;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A test root, and a certificate it issued for `localhost` (P-256, valid until 2126).
const TEST_CA: &str = include_str!("fixtures/tls/ca.pem");
const LOCALHOST_CERT: &str = include_str!("fixtures/tls/localhost.pem");
/// A certificate for `localhost` signed by its own key: no root issued it.
const SELF_SIGNED_CERT: &str = include_str!("fixtures/tls/self-signed.pem");
const LOCALHOST_KEY: &str = include_str!("fixtures/tls/localhost.key");

/// The SHA-256 fingerprints of Amazon Root CA 1 to 4 and Starfield Services Root CA G2, as
/// Amazon Trust Services publishes them (https://www.amazontrust.com/repository/).
const ATS_FINGERPRINTS: [&str; 5] = [
    "8ecde6884f3d87b1125ba31ac3fcb13d7016de7f57cc904fe1cb97c6ae98196e",
    "1ba5b2aa8c65401a82960118f80bec4f62304d83cec4713a19c39c011ea46db4",
    "18ce6cfe7bf14e60b2e347b8dfe868cb31d02ebb3ada271569f50343b46db3a4",
    "e35d28419ed02025cfa69038cd623962458da5c695fbdea3c22b0bfb25897092",
    "568d6905a2c88708a4b3025190edcfedb1974a606a13c6e5290fcb2ae63edab5",
];

#[test]
fn the_compiled_in_roots_are_the_five_amazon_trust_services_roots() {
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(config::AWS_ROOTS_PEM.as_bytes())
            .collect::<Result<_, _>>()
            .expect("AWS_ROOTS_PEM is PEM");
    let found: Vec<String> = certs
        .iter()
        .map(|c| hex::encode(Sha256::digest(c.as_ref())))
        .collect();
    assert_eq!(found, ATS_FINGERPRINTS);
    // Each is usable as a trust anchor (the SDK adds them with `expect`, at its first
    // connection: a bad one would fail every function there).
    let mut roots = rustls::RootCertStore::empty();
    let (added, ignored) = roots.add_parsable_certificates(certs);
    assert_eq!((added, ignored), (5, 0));
}

/// A TLS server on loopback presenting `cert`, answering every request as DynamoDB's
/// `ListTables` would for an empty account. Handshake failures are only counted.
async fn tls_server(cert: &str) -> SocketAddr {
    let chain = vec![CertificateDer::from_pem_slice(cert.as_bytes()).expect("certificate PEM")];
    let key = PrivateKeyDer::from_pem_slice(LOCALHOST_KEY.as_bytes()).expect("key PEM");
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("server certificate and key");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local address");
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return; // the client refused the certificate
                };
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                // The headers, then as much body as Content-Length says.
                while let Ok(n @ 1..) = tls.read(&mut buf).await {
                    request.extend_from_slice(&buf[..n]);
                    if let Some(end) = find(&request, b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&request[..end]).to_ascii_lowercase();
                        let length = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse::<usize>().ok())
                            .unwrap_or(0);
                        if request.len() >= end + 4 + length {
                            break;
                        }
                    }
                }
                let body = r#"{"TableNames":["over-tls"]}"#;
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.0\r\n\
                     content-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(response.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    addr
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// `ListTables` at `https://{host}:{port}` through the client the functions use
/// (`config::aws_loader`), trusting `trust`: the table names, or the error with its causes.
async fn list_tables(host: &str, port: u16, trust: TrustStore) -> Result<Vec<String>, String> {
    let sdk = config::aws_loader(trust)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("AKIDTEST", "secret", None, None, "test"))
        .endpoint_url(format!("https://{host}:{port}"))
        .retry_config(RetryConfig::disabled())
        .load()
        .await;
    aws_sdk_dynamodb::Client::new(&sdk)
        .list_tables()
        .send()
        .await
        .map(|out| out.table_names.unwrap_or_default())
        .map_err(|e| format!("{}", aws_sdk_dynamodb::error::DisplayErrorContext(e)))
}

fn test_root() -> TrustStore {
    TrustStore::empty().with_pem_certificate(TEST_CA.as_bytes())
}

#[tokio::test]
async fn a_self_signed_certificate_is_refused() {
    let addr = tls_server(SELF_SIGNED_CERT).await;
    let err = list_tables("localhost", addr.port(), config::trust_store())
        .await
        .expect_err("a self-signed certificate must not be trusted");
    assert!(err.contains("UnknownIssuer"), "{err}");
    // Not even the root that issued the other test certificate vouches for it.
    let err = list_tables("localhost", addr.port(), test_root())
        .await
        .expect_err("a self-signed certificate must not be trusted");
    assert!(err.contains("UnknownIssuer"), "{err}");
}

#[tokio::test]
async fn a_certificate_is_accepted_only_under_a_trusted_root_and_for_its_name() {
    let addr = tls_server(LOCALHOST_CERT).await;
    // The compiled-in roots do not include the test root.
    let err = list_tables("localhost", addr.port(), config::trust_store())
        .await
        .expect_err("a certificate from an unknown root must not be trusted");
    assert!(err.contains("UnknownIssuer"), "{err}");
    // With the test root added, the handshake completes and the request is answered.
    let tables = list_tables("localhost", addr.port(), test_root())
        .await
        .expect("a certificate chained to a trusted root is accepted");
    assert_eq!(tables, ["over-tls"]);
    // The same certificate, reached by another name than the one it was issued to.
    let err = list_tables("127.0.0.1", addr.port(), test_root())
        .await
        .expect_err("a certificate for another name must not be accepted");
    assert!(err.contains("NotValidForName"), "{err}");
}
