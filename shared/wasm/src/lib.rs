//! `greenloop proof check` for browsers: the core's [`bundle::check_json`] behind a raw
//! WebAssembly ABI, so the public page runs the very checker the command line runs and needs
//! no generated JavaScript glue (`shared/web/verifier.js` is the whole binding).
//!
//! The ABI, in 32-bit linear memory:
//! - `alloc(len) -> ptr` and `free(ptr, len)`: buffers the caller fills and reads;
//! - `check(ptr, len) -> u64`: reads UTF-8 JSON `{"key": "<64 hex>", "bundle": {...}}` and
//!   returns `(out_ptr << 32) | out_len` of UTF-8 JSON `{"ok": true, "line": ...}` or
//!   `{"ok": false, "error": ...}`, which the caller frees.
//!
//! `infra/build-wasm` builds it into `shared/web/verifier.wasm`, which is committed so that
//! neither README command needs the wasm target. The symbols are exported unmangled only on
//! wasm32: natively, an exported `free` would replace the C library's.

use greenloop_core::bundle;
use serde_json::value::RawValue;

/// What `check` reads: the bundle stays raw, so an inclusion proof's entry keeps its bytes.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Request<'a> {
    key: String,
    #[serde(borrow)]
    bundle: &'a RawValue,
}

/// The answer to one request, as JSON text.
pub fn answer(request: &[u8]) -> String {
    let outcome = match serde_json::from_slice::<Request>(request) {
        Ok(r) => bundle::check_json(&r.key, r.bundle.get()),
        Err(e) => Err(format!("not a check request: {e}")),
    };
    match outcome {
        Ok(line) => serde_json::json!({"ok": true, "line": line}),
        Err(error) => serde_json::json!({"ok": false, "error": error}),
    }
    .to_string()
}

/// A buffer of `len` bytes for the caller to fill; give it back with [`free`].
#[cfg_attr(target_arch = "wasm32", no_mangle)]
pub extern "C" fn alloc(len: usize) -> *mut u8 {
    let mut buf = Vec::<u8>::with_capacity(len);
    let ptr = buf.as_mut_ptr();
    std::mem::forget(buf);
    ptr
}

/// Gives back a buffer from [`alloc`] or [`check`].
///
/// # Safety
/// `ptr` and `len` must be exactly what `alloc` was given and returned, or what `check`
/// returned, and the buffer must not be used afterwards.
#[cfg_attr(target_arch = "wasm32", no_mangle)]
pub unsafe extern "C" fn free(ptr: *mut u8, len: usize) {
    drop(Vec::from_raw_parts(ptr, 0, len));
}

/// Checks the request in `ptr[..len]`; see the module's documentation for the answer.
///
/// # Safety
/// `ptr[..len]` must be initialised memory from [`alloc`].
#[cfg_attr(target_arch = "wasm32", no_mangle)]
pub unsafe extern "C" fn check(ptr: *const u8, len: usize) -> u64 {
    let request = std::slice::from_raw_parts(ptr, len);
    let mut out = answer(request).into_bytes();
    out.shrink_to_fit();
    let (p, n) = (out.as_mut_ptr() as u64, out.len() as u64);
    std::mem::forget(out);
    (p << 32) | n
}

#[cfg(test)]
mod tests {
    use super::answer;
    use serde_json::Value;

    #[test]
    fn a_request_that_is_not_json_is_answered_not_fatal() {
        let v: Value = serde_json::from_str(&answer(b"{oops")).unwrap();
        assert_eq!(v["ok"], false);
        assert!(v["error"]
            .as_str()
            .unwrap()
            .starts_with("not a check request"));
    }
}
