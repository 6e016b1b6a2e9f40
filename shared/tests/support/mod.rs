//! Helpers shared by the integration tests: `mod support;` in a test file.

pub mod dynamodb_local;
pub mod fault_proxy;
pub mod http_app;
#[allow(dead_code)] // only the stream-fed test binaries read the stream
pub mod stream;

/// A fresh embedded store in its own temporary directory, which must outlive the store.
#[allow(dead_code)] // the DynamoDB test binaries have no embedded store
pub fn temp_store() -> (greenloop::store::embedded::EmbeddedStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store =
        greenloop::store::embedded::EmbeddedStore::open(dir.path()).expect("open a fresh store");
    (store, dir)
}
