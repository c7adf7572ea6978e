//! Stores of functions and their modules, behind fn-core's [`FunctionRegistry`] trait.
//!
//! [`InMemoryRegistry`] keeps everything in process memory: for tests, for `fnd run`,
//! and for platforms that load their functions at start. It knows nothing of wasmtime:
//! modules are bytes addressed by [`Cid`].
//!
//! # Example
//!
//! ```
//! use bytes::Bytes;
//! use fn_core::{Config, FunctionDefinition, FunctionRegistry};
//! use fn_registry::InMemoryRegistry;
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let registry = InMemoryRegistry::new();
//! let cid = registry.put_wasm(Bytes::from_static(b"\0asm\x01\0\0\0"));
//! let function = registry.deploy(FunctionDefinition::new("acme", "noop"), cid, &Config::default())?;
//! assert_eq!(registry.function_by_name("acme", "noop").await?, function);
//! assert_eq!(registry.wasm_bytes(&cid).await?.len(), 8);
//! # Ok::<(), fn_core::Error>(())
//! # }).unwrap();
//! ```

use std::collections::HashMap;
use std::sync::{PoisonError, RwLock};

use async_trait::async_trait;
use bytes::Bytes;
use fn_core::{Cid, Config, Error, Function, FunctionDefinition, FunctionRegistry, Result};

/// A registry held in memory.
#[derive(Debug, Default)]
pub struct InMemoryRegistry {
    state: RwLock<State>,
}

#[derive(Debug, Default)]
struct State {
    functions: HashMap<String, Function>,
    /// `(namespace, name)` to function id.
    names: HashMap<(String, String), String>,
    modules: HashMap<Cid, Bytes>,
}

impl InMemoryRegistry {
    /// An empty registry.
    pub fn new() -> InMemoryRegistry {
        InMemoryRegistry::default()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Stores module bytes and returns their CID.
    pub fn put_wasm(&self, bytes: Bytes) -> Cid {
        let cid = Cid::of(&bytes);
        self.write().modules.insert(cid, bytes);
        cid
    }

    /// Deploys `definition` bound to the module `cid`, replacing any function of the same
    /// name in the namespace (keeping its id).
    ///
    /// # Errors
    ///
    /// [`Error::Validation`] for an invalid definition; [`Error::NotFound`] when no module
    /// with that CID was stored.
    pub fn deploy(
        &self,
        definition: FunctionDefinition,
        cid: Cid,
        config: &Config,
    ) -> Result<Function> {
        definition.validate(config)?;
        let mut state = self.write();
        if !state.modules.contains_key(&cid) {
            return Err(Error::NotFound {
                kind: "module",
                id: cid.to_string(),
            });
        }
        let key = (definition.namespace.clone(), definition.name.clone());
        let function = match state.names.get(&key) {
            Some(id) => Function {
                id: id.clone(),
                wasm_cid: cid,
                definition,
            },
            None => Function::new(definition, cid),
        };
        state.names.insert(key, function.id.clone());
        state
            .functions
            .insert(function.id.clone(), function.clone());
        Ok(function)
    }
}

#[async_trait]
impl FunctionRegistry for InMemoryRegistry {
    async fn function(&self, id: &str) -> Result<Function> {
        self.read()
            .functions
            .get(id)
            .cloned()
            .ok_or_else(|| Error::NotFound {
                kind: "function",
                id: id.to_string(),
            })
    }

    async fn function_by_name(&self, namespace: &str, name: &str) -> Result<Function> {
        let state = self.read();
        state
            .names
            .get(&(namespace.to_string(), name.to_string()))
            .and_then(|id| state.functions.get(id))
            .cloned()
            .ok_or_else(|| Error::NotFound {
                kind: "function",
                id: format!("{namespace}/{name}"),
            })
    }

    async fn wasm_bytes(&self, cid: &Cid) -> Result<Bytes> {
        self.read()
            .modules
            .get(cid)
            .cloned()
            .ok_or_else(|| Error::NotFound {
                kind: "module",
                id: cid.to_string(),
            })
    }
}

#[cfg(test)]
mod tests {
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
        match registry.deploy(
            FunctionDefinition::new("a", "b"),
            missing,
            &Config::default(),
        ) {
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
        let config = Config::default();
        let v1 = registry.put_wasm(Bytes::from_static(b"v1"));
        let v2 = registry.put_wasm(Bytes::from_static(b"v2"));
        let first = registry
            .deploy(FunctionDefinition::new("a", "f"), v1, &config)
            .unwrap();
        let second = registry
            .deploy(FunctionDefinition::new("a", "f"), v2, &config)
            .unwrap();
        assert_eq!(first.id, second.id);
        assert_eq!(registry.function(&first.id).await.unwrap().wasm_cid, v2);
    }

    #[test]
    fn invalid_definitions_are_refused() {
        let registry = InMemoryRegistry::new();
        let cid = registry.put_wasm(Bytes::from_static(b"m"));
        let mut definition = FunctionDefinition::new("a", "f");
        definition.name = "Bad Name".into();
        assert!(matches!(
            registry.deploy(definition, cid, &Config::default()),
            Err(Error::Validation { field, .. }) if field == "name"
        ));
    }
}
