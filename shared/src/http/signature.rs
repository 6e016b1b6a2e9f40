//! Webhook signatures, scheme v2: `Greenloop-Signature: t=<unix seconds>,v2=<hex HMAC-SHA256>`
//! with `Greenloop-Key-Id: <key id>`.
//!
//! The MAC covers the whole request: under one of the key id's secrets, HMAC-SHA256 of the
//! string to sign ([`Message::string_to_sign`]), six lines and the raw body:
//!
//! ```text
//! greenloop-v2\n<METHOD>\n<path>\n<query>\n<key id>\n<t>\n<body>
//! ```
//!
//! `path` and `query` are exactly as sent on the request line (no decoding, no reordering;
//! `query` is empty when there is none), so a captured request cannot be replayed against
//! another method, path, query or key id, nor with another body or time. Several `v2=` values
//! may be sent and several secrets may be active, so either side can rotate without a gap.
//! Every comparison is constant-time. The timestamp must be within [`TOLERANCE_S`] of now in
//! either direction, which bounds replays of a captured request (replays inside the window are
//! answered as replays by the store). An unknown key id and a wrong MAC get the same answer, so
//! the answer does not tell which key ids exist.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::collections::BTreeMap;
use std::fmt;
use subtle::ConstantTimeEq;

pub const SIGNATURE_HEADER: &str = "greenloop-signature";
pub const KEY_ID_HEADER: &str = "greenloop-key-id";
/// The first line of every string to sign: names the scheme, so no other MAC input collides.
pub const SCHEME: &str = "greenloop-v2";
/// Largest clock difference accepted, in seconds, either way.
pub const TOLERANCE_S: i64 = 300;
/// At most this many `v2=` values are looked at, so a header cannot buy unbounded work.
const MAX_SIGNATURES: usize = 4;

/// HMAC-SHA256 keyed with one secret: the key's two padded blocks are hashed once, when the
/// secrets are read, and each request clones the state.
type Keyed = Hmac<Sha256>;

/// Each integration's active secrets, by key id, kept as keyed MAC states. Never printed.
#[derive(Clone, Default)]
pub struct Integrations {
    secrets: BTreeMap<String, Vec<Keyed>>,
}

impl fmt::Debug for Integrations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Integrations")
            .field("key_ids", &self.secrets.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// What a signature covers besides its time: the request as sent and the key id it is sent
/// under.
#[derive(Debug, Clone, Copy)]
pub struct Message<'a> {
    pub method: &'a str,
    /// The path as on the request line, e.g. `/v1/appointments/ap-1/complete`.
    pub path: &'a str,
    /// The query as on the request line, without `?`; empty when there is none.
    pub query: &'a str,
    pub key_id: &'a str,
    pub body: &'a [u8],
}

impl<'a> Message<'a> {
    /// The message of a request to `uri`, the path and query as on the request line
    /// (`/v1/scans`, `/v1/actions/a-1?x=1`).
    pub fn new(method: &'a str, uri: &'a str, key_id: &'a str, body: &'a [u8]) -> Self {
        let (path, query) = uri.split_once('?').unwrap_or((uri, ""));
        Message {
            method,
            path,
            query,
            key_id,
            body,
        }
    }

    /// The bytes the MAC is computed over at time `t` (see the module docs).
    pub fn string_to_sign(&self, t: i64) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + self.path.len() + self.body.len());
        self.feed(t, |part| out.extend_from_slice(part));
        out
    }

    /// Hands the string to sign to `f` in parts, so the MAC needs no copy of the body.
    fn feed(&self, t: i64, mut f: impl FnMut(&[u8])) {
        for line in [SCHEME, self.method, self.path, self.query, self.key_id] {
            f(line.as_bytes());
            f(b"\n");
        }
        f(t.to_string().as_bytes());
        f(b"\n");
        f(self.body);
    }

    fn mac(&self, t: i64, keyed: &Keyed) -> [u8; 32] {
        let mut m = keyed.clone();
        self.feed(t, |part| m.update(part));
        m.finalize().into_bytes().into()
    }
}

impl Integrations {
    /// Parses configuration: `key-id=secret[,secret…][;key-id=…]`. Each secret is at least 16
    /// bytes, so a short test string cannot end up guarding production.
    pub fn parse(config: &str) -> Result<Self, String> {
        let mut secrets: BTreeMap<String, Vec<Keyed>> = BTreeMap::new();
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
                    .push(keyed(secret.as_bytes()));
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

    /// Checks a request's signature header against `message`, at the time the header names.
    /// `Ok` is the key id that signed it, the integration acting.
    pub fn verify<'m>(
        &self,
        header: Option<&str>,
        message: Message<'m>,
        now: i64,
    ) -> Result<&'m str, Refusal> {
        if message.key_id.is_empty() {
            return Err(Refusal::MissingKeyId);
        }
        let header = header.ok_or(Refusal::MissingSignature)?;
        let (t, macs) = parse_header(header)?;
        if (now - t).abs() > TOLERANCE_S {
            return Err(Refusal::Stale);
        }
        // An unknown key id costs a MAC too, under a key no one holds, and gets the same
        // answer as a wrong MAC: neither the code nor the time says which ids exist.
        static NO_ONE: std::sync::LazyLock<[Keyed; 1]> =
            std::sync::LazyLock::new(|| [keyed(b"greenloop: no such key id, no secret")]);
        let known = self.secrets.get(message.key_id);
        let mut ok = subtle::Choice::from(u8::from(known.is_some()));
        let mut matched = subtle::Choice::from(0);
        let secrets: &[Keyed] = match known {
            Some(list) => list,
            None => &NO_ONE[..],
        };
        for secret in secrets {
            let expected = message.mac(t, secret);
            for m in &macs {
                matched |= expected.as_slice().ct_eq(m.as_slice());
            }
        }
        ok &= matched;
        if bool::from(ok) {
            Ok(message.key_id)
        } else {
            Err(Refusal::Mismatch)
        }
    }
}

/// The `Greenloop-Signature` value a sender puts on `message` at time `t` with `secret`.
pub fn sign(secret: &[u8], message: &Message<'_>, t: i64) -> String {
    format!("t={t},v2={}", hex::encode(message.mac(t, &keyed(secret))))
}

fn keyed(secret: &[u8]) -> Keyed {
    Keyed::new_from_slice(secret).expect("HMAC takes any key size")
}

/// `t=…` once and one to [`MAX_SIGNATURES`] `v2=…` of 64 hex; other schemes are ignored.
fn parse_header(header: &str) -> Result<(i64, Vec<[u8; 32]>), Refusal> {
    let mut t = None;
    let mut macs = Vec::new();
    for part in header.split(',').map(str::trim) {
        match part.split_once('=') {
            Some(("t", v)) if t.is_none() => {
                t = Some(v.parse::<i64>().map_err(|_| Refusal::Malformed)?);
            }
            Some(("t", _)) => return Err(Refusal::Malformed),
            Some(("v2", v)) => {
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
    Stale,
    /// An unknown key id, or no MAC that matches: one answer for both.
    Mismatch,
}

impl Refusal {
    pub fn code(self) -> &'static str {
        match self {
            Refusal::MissingKeyId => "missing_key_id",
            Refusal::MissingSignature => "missing_signature",
            Refusal::Malformed => "malformed_signature",
            Refusal::Stale => "stale_signature",
            Refusal::Mismatch => "bad_signature",
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            Refusal::MissingKeyId => "send the integration's key id in Greenloop-Key-Id",
            Refusal::MissingSignature => "sign the request in Greenloop-Signature",
            Refusal::Malformed => "Greenloop-Signature must be t=<unix seconds>,v2=<64 hex>",
            Refusal::Stale => "the signature timestamp is more than 300 s from now",
            Refusal::Mismatch => {
                "no signature matches this request under this key id (see the signing scheme)"
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "secret-a-0123456789";
    const B: &str = "secret-b-0123456789";
    const T: i64 = 1_800_000_000;

    fn keys() -> Integrations {
        Integrations::parse(&format!("qr-1={A},{B}; qr-2=other-secret-012345")).unwrap()
    }

    fn msg<'a>(key_id: &'a str, body: &'a [u8]) -> Message<'a> {
        Message::new("POST", "/v1/scans", key_id, body)
    }

    #[test]
    fn the_string_to_sign_is_six_lines_and_the_body() {
        let m = Message::new("POST", "/v1/scans?a=1&b=2", "qr-1", b"{}");
        assert_eq!(
            m.string_to_sign(T),
            b"greenloop-v2\nPOST\n/v1/scans\na=1&b=2\nqr-1\n1800000000\n{}"
        );
    }

    #[test]
    fn known_answer_matches_openssl() {
        // printf 'greenloop-v2\nPOST\n/v1/scans\n\nqr-1\n1700000000\n{}' \
        //   | openssl dgst -sha256 -hmac secret-a-0123456789
        assert_eq!(
            sign(A.as_bytes(), &msg("qr-1", b"{}"), 1_700_000_000),
            "t=1700000000,v2=2e0ebfbb34cdc723169b7dc8e515b0c1d0345e1a17eddcc017ef20e5283679b5"
        );
    }

    #[test]
    fn either_secret_and_any_listed_signature_match() {
        let k = keys();
        let m = msg("qr-1", b"body");
        for secret in [A, B] {
            let h = sign(secret.as_bytes(), &m, T);
            assert_eq!(k.verify(Some(&h), m, T), Ok("qr-1"));
        }
        let wrong = sign(b"not-the-secret-xxxx", &m, T);
        let right = sign(B.as_bytes(), &m, T);
        let both = format!("{wrong},{}", right.split_once(',').unwrap().1);
        assert_eq!(k.verify(Some(&both), m, T), Ok("qr-1"));
        // qr-2's secret does not sign for qr-1, nor the reverse.
        assert_eq!(
            k.verify(Some(&right), msg("qr-2", b"body"), T),
            Err(Refusal::Mismatch)
        );
    }

    #[test]
    fn every_part_of_the_request_is_bound() {
        let k = keys();
        let m = Message::new(
            "POST",
            "/v1/appointments/ap-1/complete?x=1",
            "qr-1",
            b"body",
        );
        let h = sign(A.as_bytes(), &m, T);
        assert_eq!(k.verify(Some(&h), m, T), Ok("qr-1"));
        let replays = [
            Message { method: "GET", ..m },
            Message {
                path: "/v1/appointments/ap-2/complete",
                ..m
            },
            Message { query: "x=2", ..m },
            Message { query: "", ..m },
            Message {
                key_id: "qr-2",
                ..m
            },
            Message { body: b"bodY", ..m },
        ];
        for other in replays {
            assert_eq!(
                k.verify(Some(&h), other, T),
                Err(Refusal::Mismatch),
                "{other:?}"
            );
        }
        let moved = h.replace("t=1800000000", "t=1800000001");
        assert_eq!(k.verify(Some(&moved), m, T), Err(Refusal::Mismatch));
    }

    #[test]
    fn an_unknown_key_id_is_answered_as_a_wrong_mac() {
        let k = keys();
        let m = msg("qr-9", b"body");
        let h = sign(A.as_bytes(), &m, T);
        assert_eq!(k.verify(Some(&h), m, T), Err(Refusal::Mismatch));
        // Not even the scheme's own placeholder secret opens an unknown key id.
        let h = sign(b"greenloop: no such key id, no secret", &m, T);
        assert_eq!(k.verify(Some(&h), m, T), Err(Refusal::Mismatch));
    }

    #[test]
    fn timestamps_are_checked_both_ways() {
        let k = keys();
        let m = msg("qr-1", b"x");
        let h = sign(A.as_bytes(), &m, T);
        for now in [T - 300, T + 300] {
            assert!(k.verify(Some(&h), m, now).is_ok());
        }
        for now in [T - 301, T + 301] {
            assert_eq!(k.verify(Some(&h), m, now), Err(Refusal::Stale));
        }
    }

    #[test]
    fn malformed_headers_are_refused() {
        let k = keys();
        let m = msg("qr-1", b"");
        for h in [
            "",
            "t=1",
            "v2=00",
            "t=abc,v2=00",
            "t=1,t=1,v2=",
            "garbage",
            &format!("t=1,v2={}", "zz".repeat(32)),
            // The retired v1 scheme is not read at all.
            &format!("t=1,v1={}", "00".repeat(32)),
        ] {
            assert_eq!(k.verify(Some(h), m, 1), Err(Refusal::Malformed), "{h:?}");
        }
        assert_eq!(
            k.verify(Some("t=1"), msg("", b""), 1),
            Err(Refusal::MissingKeyId)
        );
        assert_eq!(k.verify(None, m, 1), Err(Refusal::MissingSignature));
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
