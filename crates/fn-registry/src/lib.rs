//! Stores of functions, their modules and their invocation records, behind fn-core's
//! [`FunctionStore`](fn_core::FunctionStore) (and so [`FunctionRegistry`](fn_core::FunctionRegistry),
//! what the engine reads). They know nothing of wasmtime or of the engine's config:
//! modules are bytes addressed by [`Cid`](fn_core::Cid), versions are numbered deploys.
//!
//! [`InMemoryRegistry`] keeps everything in process memory: for tests, for `fnd run`,
//! and for platforms that load their functions at start.
//!
//! A store keeps what it is given: deploy through `fn_engine::Engine::deploy`, which
//! compiles a module before any store keeps it. The store's own
//! [`FunctionStore::deploy`](fn_core::FunctionStore::deploy) is the step after that.
//!
//! # Example
//!
//! ```
//! use bytes::Bytes;
//! use fn_core::{FunctionDefinition, FunctionRegistry, FunctionStore};
//! use fn_registry::InMemoryRegistry;
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let registry = InMemoryRegistry::new();
//! let cid = registry.put_module(Bytes::from_static(b"\0asm\x01\0\0\0")).await?;
//! let function = registry.deploy(FunctionDefinition::new("acme", "noop"), cid).await?;
//! assert_eq!(registry.function_by_name("acme", "noop").await?, function);
//! assert_eq!(registry.wasm_bytes(&cid).await?.len(), 8);
//! // A second deploy of the name is version 2, and runs; version 1 stays for a rollback.
//! let second = registry.deploy(FunctionDefinition::new("acme", "noop"), cid).await?;
//! assert_eq!((second.id.as_str(), second.definition.version), (function.id.as_str(), 2));
//! registry.set_active("acme", "noop", 1).await?;
//! assert_eq!(registry.function_by_name("acme", "noop").await?.definition.version, 1);
//! # Ok::<(), fn_core::Error>(())
//! # }).unwrap();
//! ```

mod blobs;
mod memory;
mod sql;
mod sqlite;
mod writer;

pub use crate::memory::InMemoryRegistry;
pub use crate::sqlite::{DATABASE_FILE, MODULES_DIR, SqliteOptions, SqliteStore};
pub use crate::writer::{RecordWriter, WriterOptions, WriterStats};

fn no_function(namespace: &str, name: &str) -> fn_core::Error {
    fn_core::Error::NotFound {
        kind: "function",
        id: format!("{namespace}/{name}"),
    }
}

fn no_version(namespace: &str, name: &str, version: u32) -> fn_core::Error {
    fn_core::Error::NotFound {
        kind: "version",
        id: format!("{namespace}/{name}@{version}"),
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use fn_core::{Cid, Error, FunctionDefinition, FunctionRegistry, FunctionStore};

    use super::*;

    #[tokio::test]
    async fn not_found_names_what_was_missing() {
        let registry = InMemoryRegistry::new();
        let missing = Cid::of(b"nothing");
        match registry.wasm_bytes(&missing).await {
            Err(Error::NotFound { kind, id }) => {
                assert_eq!(kind, "module");
                assert_eq!(id, missing.to_string());
            }
            other => panic!("{other:?}"),
        }
        match registry
            .deploy(FunctionDefinition::new("a", "b"), missing)
            .await
        {
            Err(Error::NotFound { kind: "module", .. }) => {}
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            registry.function_by_name("a", "b").await,
            Err(Error::NotFound {
                kind: "function",
                ..
            })
        ));
    }

    #[tokio::test]
    async fn redeploy_keeps_the_id_and_moves_the_cid() {
        let registry = InMemoryRegistry::new();
        let v1 = registry.put_wasm(Bytes::from_static(b"v1"));
        let v2 = registry.put_wasm(Bytes::from_static(b"v2"));
        let first = registry
            .deploy(FunctionDefinition::new("a", "f"), v1)
            .await
            .unwrap();
        let second = registry
            .deploy(FunctionDefinition::new("a", "f"), v2)
            .await
            .unwrap();
        assert_eq!(first.id, second.id);
        assert_eq!(registry.function(&first.id).await.unwrap().wasm_cid, v2);
    }
}
