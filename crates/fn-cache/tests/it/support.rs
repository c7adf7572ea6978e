//! A value, an error and a codec for the tests.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use fn_cache::{ArtifactCodec, Cache, LoadPanicked, Remember, Weigh};
use fn_core::{Cid, Error};

/// A value weighing what its bytes hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Blob(pub(crate) Vec<u8>);

impl Weigh for Blob {
    fn weight_bytes(&self) -> u64 {
        self.0.len() as u64
    }
}

/// An error that is not `fn_core::Error`, to show the cache is generic over it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TestError(pub(crate) String);

impl From<LoadPanicked> for TestError {
    fn from(panicked: LoadPanicked) -> TestError {
        TestError(panicked.to_string())
    }
}

/// The engine's policy: a module that does not compile for good, nothing else.
pub(crate) fn engine_cache(capacity: u64) -> Cache<Blob, Error> {
    Cache::builder(capacity)
        .remember_failures(|error: &Error| match error.root() {
            Error::Deploy { .. } => Remember::Forever,
            _ => Remember::Never,
        })
        .build()
}

/// Serializes a [`Blob`] as its bytes, counting decodes; refuses bytes starting `!`.
#[derive(Debug, Default)]
pub(crate) struct BlobCodec {
    pub(crate) fingerprint: [u8; 32],
    pub(crate) decodes: AtomicU64,
}

impl ArtifactCodec<Blob> for BlobCodec {
    fn fingerprint(&self) -> [u8; 32] {
        self.fingerprint
    }

    fn encode(&self, value: &Blob) -> Result<Vec<u8>, String> {
        Ok(value.0.clone())
    }

    fn decode(&self, _cid: &Cid, bytes: &[u8]) -> Result<Blob, String> {
        self.decodes.fetch_add(1, Ordering::Relaxed);
        if bytes.starts_with(b"!") {
            return Err("the runtime refuses these bytes".into());
        }
        Ok(Blob(bytes.to_vec()))
    }
}

/// A loader that counts its runs and returns `bytes`.
pub(crate) fn counting(
    loads: &Arc<AtomicU64>,
    bytes: &[u8],
) -> impl FnOnce() -> std::future::Ready<Result<Blob, TestError>> + use<> {
    let loads = loads.clone();
    let bytes = bytes.to_vec();
    move || {
        loads.fetch_add(1, Ordering::SeqCst);
        std::future::ready(Ok(Blob(bytes)))
    }
}
