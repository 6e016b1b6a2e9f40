//! Webhook signatures: `Greenloop-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>`.
//!
//! The MAC is over `"<t>.<raw body>"` under one of the sending integration's secrets, picked by
//! the `Greenloop-Key-Id` header. Several `v1=` values may be sent and several secrets may be
//! active, so either side can rotate without a gap. Every comparison is constant-time, and the
//! timestamp must be within [`TOLERANCE_S`] of now in either direction, which bounds replays of
//! a captured request (replays inside the window are answered as replays by the store).

use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::collections::BTreeMap;
use std::fmt;
use subtle::ConstantTimeEq;

pub const SIGNATURE_HEADER: &str = "greenloop-signature";
pub const KEY_ID_HEADER: &str = "greenloop-key-id";
/// Largest clock difference accepted, in seconds, either way.
pub const TOLERANCE_S: i64 = 300;
/// At most this many `v1=` values are looked at, so a header cannot buy unbounded work.
const MAX_SIGNATURES: usize = 4;

/// Each integration's active secrets, by key id. Never printed.
#[derive(Clone, Default)]
pub struct Integrations {
    secrets: BTreeMap<String, Vec<Vec<u8>>>,
}

impl fmt::Debug for Integrations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Integrations")
            .field("key_ids", &self.secrets.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Integrations {
    /// Parses configuration: `key-id=secret[,secret…][;key-id=…]`. Each secret is at least 16
    /// bytes, so a short test string cannot end up guarding production.
    pub fn parse(config: &str) -> Result<Self, String> {
        let mut secrets: BTreeMap<String, Vec<Vec<u8>>> = BTreeMap::new();
        for part in config.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            let (id, list) = part
                .split_once('=')
                .ok_or("webhook secrets must look like key-id=secret[,secret][;key-id=...]")?;
            let id = id.trim();
            greenloop_core::domain::check_id("key", id).map_err(|e| e.message)?;
            for secret in list.split(',').map(str::trim) {
                if secret.len() < 16 {
                    return Err(format!("a secret of key {id} is shorter than 16 bytes"));
                }
                secrets
                    .entry(id.to_owned())
                    .or_default()
                    .push(secret.as_bytes().to_vec());
            }
        }
        Ok(Integrations { secrets })
    }

    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    pub fn key_ids(&self) -> impl Iterator<Item = &str> {
        self.secrets.keys().map(String::as_str)
    }

    /// Checks a request's signature; `Ok` names the key id that signed it.
    pub fn verify<'a>(
        &self,
        key_id: Option<&'a str>,
        header: Option<&str>,
        body: &[u8],
        now: i64,
    ) -> Result<&'a str, Refusal> {
        let key_id = key_id.ok_or(Refusal::MissingKeyId)?;
        let header = header.ok_or(Refusal::MissingSignature)?;
        let (t, macs) = parse_header(header)?;
        // Unknown keys are refused only after parsing, so the answer does not reveal key ids
        // to a sender who cannot even form a header.
        let secrets = self.secrets.get(key_id).ok_or(Refusal::UnknownKey)?;
        if (now - t).abs() > TOLERANCE_S {
            return Err(Refusal::Stale);
        }
        let mut ok = subtle::Choice::from(0);
        for secret in secrets {
            let expected = mac(secret, t, body);
            for m in &macs {
                ok |= expected.as_slice().ct_eq(m.as_slice());
            }
        }
        if bool::from(ok) {
            Ok(key_id)
        } else {
            Err(Refusal::Mismatch)
        }
    }
}

/// The header value a sender puts on `body` at time `t` with `secret`.
pub fn sign(secret: &[u8], t: i64, body: &[u8]) -> String {
    format!("t={t},v1={}", hex::encode(mac(secret, t, body)))
}

fn mac(secret: &[u8], t: i64, body: &[u8]) -> [u8; 32] {
    let mut m = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key size");
    m.update(t.to_string().as_bytes());
    m.update(b".");
    m.update(body);
    m.finalize().into_bytes().into()
}

/// `t=…` once and one to [`MAX_SIGNATURES`] `v1=…` of 64 hex; other schemes are ignored.
fn parse_header(header: &str) -> Result<(i64, Vec<[u8; 32]>), Refusal> {
    let mut t = None;
    let mut macs = Vec::new();
    for part in header.split(',').map(str::trim) {
        match part.split_once('=') {
            Some(("t", v)) if t.is_none() => {
                t = Some(v.parse::<i64>().map_err(|_| Refusal::Malformed)?);
            }
            Some(("t", _)) => return Err(Refusal::Malformed),
            Some(("v1", v)) => {
                let mut m = [0u8; 32];
                hex::decode_to_slice(v, &mut m).map_err(|_| Refusal::Malformed)?;
                if macs.len() < MAX_SIGNATURES {
                    macs.push(m);
                }
            }
            Some(_) => {}
            None => return Err(Refusal::Malformed),
        }
    }
    match t {
        Some(t) if !macs.is_empty() => Ok((t, macs)),
        _ => Err(Refusal::Malformed),
    }
}

/// Why a signature was refused; each has a stable code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    MissingKeyId,
    MissingSignature,
    Malformed,
    UnknownKey,
    Stale,
    Mismatch,
}

impl Refusal {
    pub fn code(self) -> &'static str {
        match self {
            Refusal::MissingKeyId => "missing_key_id",
            Refusal::MissingSignature => "missing_signature",
            Refusal::Malformed => "malformed_signature",
            Refusal::UnknownKey => "unknown_key",
            Refusal::Stale => "stale_signature",
            Refusal::Mismatch => "bad_signature",
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            Refusal::MissingKeyId => "send the integration's key id in Greenloop-Key-Id",
            Refusal::MissingSignature => "sign the request in Greenloop-Signature",
            Refusal::Malformed => "Greenloop-Signature must be t=<unix seconds>,v1=<64 hex>",
            Refusal::UnknownKey => "unknown key id",
            Refusal::Stale => "the signature timestamp is more than 300 s from now",
            Refusal::Mismatch => "no signature matches the body",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "secret-a-0123456789";
    const B: &str = "secret-b-0123456789";

    fn keys() -> Integrations {
        Integrations::parse(&format!("qr-1={A},{B}; qr-2=other-secret-012345")).unwrap()
    }

    #[test]
    fn known_answer_matches_openssl() {
        // printf '1700000000.{}' | openssl dgst -sha256 -hmac secret-a-0123456789
        assert_eq!(
            sign(A.as_bytes(), 1_700_000_000, b"{}"),
            "t=1700000000,v1=470425d1599f3d30779dc26efc69ae6772eca84b83a3d801d79b5b01c825a677"
        );
    }

    #[test]
    fn either_secret_and_any_listed_signature_match() {
        let k = keys();
        let t = 1_800_000_000;
        for secret in [A, B] {
            let h = sign(secret.as_bytes(), t, b"body");
            assert_eq!(k.verify(Some("qr-1"), Some(&h), b"body", t), Ok("qr-1"));
        }
        let wrong = sign(b"not-the-secret-xxxx", t, b"body");
        let right = sign(B.as_bytes(), t, b"body");
        let both = format!("{wrong},{}", right.split_once(',').unwrap().1);
        assert_eq!(k.verify(Some("qr-1"), Some(&both), b"body", t), Ok("qr-1"));
        // qr-2's secret does not sign for qr-1, nor the reverse.
        assert_eq!(
            k.verify(Some("qr-2"), Some(&right), b"body", t),
            Err(Refusal::Mismatch)
        );
    }

    #[test]
    fn body_time_and_key_are_bound() {
        let k = keys();
        let t = 1_800_000_000;
        let h = sign(A.as_bytes(), t, b"body");
        assert_eq!(
            k.verify(Some("qr-1"), Some(&h), b"bodY", t),
            Err(Refusal::Mismatch)
        );
        let moved = h.replace("t=1800000000", "t=1800000001");
        assert_eq!(
            k.verify(Some("qr-1"), Some(&moved), b"body", t),
            Err(Refusal::Mismatch)
        );
        assert_eq!(
            k.verify(Some("qr-9"), Some(&h), b"body", t),
            Err(Refusal::UnknownKey)
        );
    }

    #[test]
    fn timestamps_are_checked_both_ways() {
        let k = keys();
        let t = 1_800_000_000;
        let h = sign(A.as_bytes(), t, b"x");
        for now in [t - 300, t + 300] {
            assert!(k.verify(Some("qr-1"), Some(&h), b"x", now).is_ok());
        }
        for now in [t - 301, t + 301] {
            assert_eq!(
                k.verify(Some("qr-1"), Some(&h), b"x", now),
                Err(Refusal::Stale)
            );
        }
    }

    #[test]
    fn malformed_headers_are_refused() {
        let k = keys();
        for h in [
            "",
            "t=1",
            "v1=00",
            "t=abc,v1=00",
            "t=1,t=1,v1=".to_owned().as_str(),
            "garbage",
            &format!("t=1,v1={}", "zz".repeat(32)),
        ] {
            assert_eq!(
                k.verify(Some("qr-1"), Some(h), b"", 1),
                Err(Refusal::Malformed),
                "{h:?}"
            );
        }
        assert_eq!(
            k.verify(None, Some("t=1"), b"", 1),
            Err(Refusal::MissingKeyId)
        );
        assert_eq!(
            k.verify(Some("qr-1"), None, b"", 1),
            Err(Refusal::MissingSignature)
        );
    }

    #[test]
    fn configuration_is_checked_and_never_printed() {
        assert!(Integrations::parse("qr=short").is_err());
        assert!(Integrations::parse("no-equals-sign").is_err());
        assert!(Integrations::parse("bad id=0123456789abcdef").is_err());
        let k = keys();
        assert_eq!(k.key_ids().collect::<Vec<_>>(), ["qr-1", "qr-2"]);
        let shown = format!("{k:?}");
        assert!(!shown.contains(A) && !shown.contains(B), "{shown}");
    }
}
