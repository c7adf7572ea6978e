//! Finding an invocation's compiled module through fn-cache: memory, else the artifact
//! tier on disk, else the registry's bytes (verified against their CID) compiled once
//! however many callers miss at the same time. What a compiled module weighs, how it
//! is written to disk and which failures are remembered are decided here.

use std::ops::Deref;
use std::sync::Arc;

use fn_cache::{ArtifactCodec, ArtifactStore, Cache, Lookup, Remember, Weigh};
use fn_core::{Cid, Config, Error, FunctionRegistry, Result};
use fn_runtime::{CompiledModule, Runtime};

use crate::Engine;

/// A compiled module as the cache holds it.
#[derive(Debug)]
pub(crate) struct Module(pub(crate) CompiledModule);

impl Deref for Module {
    type Target = CompiledModule;

    fn deref(&self) -> &CompiledModule {
        &self.0
    }
}

impl Weigh for Module {
    /// The compiled image wasmtime maps: see [`CompiledModule::size_bytes`].
    fn weight_bytes(&self) -> u64 {
        self.0.size_bytes()
    }
}

/// Artifacts are wasmtime's serialized modules, loaded back by the runtime.
struct RuntimeCodec {
    runtime: Runtime,
}

impl ArtifactCodec<Module> for RuntimeCodec {
    fn fingerprint(&self) -> [u8; 32] {
        self.runtime.artifact_fingerprint()
    }

    fn encode(&self, module: &Module) -> Result<Vec<u8>, String> {
        self.runtime.serialize(module).map_err(|e| e.to_string())
    }

    fn decode(&self, cid: &Cid, bytes: &[u8]) -> Result<Module, String> {
        self.runtime.deserialize(*cid, bytes).map(Module)
    }
}

/// The module cache for `config`: a module that does not compile is refused for good, a
/// compile that timed out for `compile_timeout_retry_after`; with the artifact tier when
/// `artifact_cache_dir` is set and can be opened (else logged, and memory only).
pub(crate) fn cache(config: &Config, runtime: &Runtime) -> Cache<Module, Error> {
    let retry_after = config.compile_timeout_retry_after;
    let mut builder = Cache::builder(config.module_cache_capacity_bytes).remember_failures(
        move |error: &Error| match error.root() {
            Error::Deploy { .. } => Remember::Forever,
            Error::CompileTimeout { .. } => Remember::For(retry_after),
            _ => Remember::Never,
        },
    );
    if let Some(dir) = &config.artifact_cache_dir {
        let codec = RuntimeCodec {
            runtime: runtime.clone(),
        };
        match ArtifactStore::open(
            dir,
            config.artifact_cache_capacity_bytes,
            codec.fingerprint(),
        ) {
            Ok(store) => builder = builder.artifacts(store, Arc::new(codec)),
            Err(error) => tracing::warn!(
                dir = %dir.display(),
                %error,
                "the artifact cache folder cannot be used; compiled modules stay in memory only"
            ),
        }
    }
    builder.build()
}

impl Engine {
    /// The compiled module for `cid`: from memory, else from its artifact on disk, else
    /// fetched, verified and compiled, once however many callers miss at the same time
    /// (the load runs as its own task: a caller that leaves does not cancel it). A
    /// remembered failure is refused before anything is fetched. `on_cold_start` is
    /// called before this call waits for a load (its own or another caller's).
    pub(crate) async fn module(
        &self,
        cid: &Cid,
        on_cold_start: impl FnOnce(),
    ) -> Result<Arc<Module>> {
        match self.inner.cache.lookup(cid).await {
            Lookup::Hit(module) => Ok(module),
            Lookup::Refused(error) => Err(error),
            Lookup::Miss(miss) => {
                on_cold_start();
                let registry = self.inner.registry.clone();
                let runtime = self.inner.runtime.clone();
                let cid = *cid;
                miss.load(move || fetch_and_compile(registry, runtime, cid))
                    .await
            }
        }
    }
}

async fn fetch_and_compile(
    registry: Arc<dyn FunctionRegistry>,
    runtime: Runtime,
    cid: Cid,
) -> Result<Module> {
    let bytes = registry.wasm_bytes(&cid).await?;
    cid.verify(&bytes)?;
    runtime.compile(bytes).await.map(Module)
}
