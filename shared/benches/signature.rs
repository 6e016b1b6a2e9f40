//! What checking a webhook signature costs, against its own ceiling: one HMAC-SHA256 of the
//! request body, the least any body-covering MAC could cost.
//!
//! `cargo bench -p greenloop --bench signature` measures, on a typical 260-byte scan body:
//! - `hmac_body`: HMAC-SHA256 of the body alone (the ceiling, and about what scheme v1's
//!   MAC over `"<t>.<body>"` cost);
//! - `verify_v2`: `Integrations::verify`, the whole check intake runs: the header parsed, the
//!   string to sign built (scheme, method, path, query, key id, time, body), one MAC per active
//!   secret, constant-time comparisons;
//! - `verify_unknown_key`: the same for a key id that does not exist, which costs a MAC too so
//!   that its answer and timing match a wrong MAC's.
//!
//! It prints each mean and its ratio to `hmac_body` (see docs/performance.md).

#[path = "support/mean.rs"]
mod mean;

use criterion::{black_box, Criterion};
use greenloop::http::signature::{sign, Integrations, Message};
use hmac::{Hmac, Mac};
use mean::mean_ns;
use sha2::Sha256;
use std::time::Duration;

const SECRET: &str = "bench-webhook-secret-0123456789";
const T: i64 = 1_794_024_000;

fn body() -> Vec<u8> {
    br#"{"scan_id":"load-000012345","user":"user-4242","station":"st-0017","at":1794023940,"items":{"books":1,"boxes":[{"brand":"brand-07","count":3},{"brand":null,"count":1}],"clothing_g":0,"shoes":0}}"#
        .to_vec()
}

fn message<'a>(key_id: &'a str, body: &'a [u8]) -> Message<'a> {
    Message::new("POST", "/v1/scans", key_id, body)
}

fn main() {
    let mut c = Criterion::default()
        .configure_from_args()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    let body = body();
    let keys = Integrations::parse(&format!("qr-1={SECRET}")).expect("a secret");
    let header = sign(SECRET.as_bytes(), &message("qr-1", &body), T);

    let hmac = mean_ns(&mut c, "hmac_body", || {
        let mut m = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).expect("any key");
        m.update(black_box(&body));
        black_box(m.finalize());
    });
    let v2 = mean_ns(&mut c, "verify_v2", || {
        let ok = keys.verify(Some(black_box(&header)), message("qr-1", &body), T);
        assert!(ok.is_ok());
    });
    let unknown = mean_ns(&mut c, "verify_unknown_key", || {
        let refused = keys.verify(Some(black_box(&header)), message("qr-9", &body), T);
        assert!(refused.is_err());
    });
    println!();
    println!("{:<24} {:>10} {:>8}", "", "mean ns", "ratio");
    for (name, ns) in [
        ("hmac_body (ceiling)", hmac),
        ("verify_v2", v2),
        ("verify_unknown_key", unknown),
    ] {
        println!("{name:<24} {ns:>10.0} {:>8.2}", ns / hmac);
    }
    c.final_summary();
}
