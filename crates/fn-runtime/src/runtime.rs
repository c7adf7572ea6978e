//! The runtime: its types, and the orchestration of a compile and of an invocation. The
//! pieces live beside it: `engine.rs` (config to wasmtime), `compile.rs` (compile, and
//! load from an artifact), `host.rs` (host imports), `store.rs` (one invocation's store and
//! WASI context), `abi/call.rs` (calling through an ABI), `classify.rs` (errors),
//! `deadline.rs` (epoch ticker and deadline); `runtime/invoke.rs` runs an invocation.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use fn_core::{Cid, Config, Error, InvocationLimits, Preopen, Result};
use tokio::sync::Semaphore;
use wasmtime::component;
use wasmtime::{Engine, InstancePre, Linker};
use wasmtime_wasi::p2::bindings::CommandPre;
use wasmtime_wasi_http::p2::bindings::ProxyPre;

use crate::abi::{Abi, Entry};
use crate::compile::{compile_blocking, deserialize_blocking};
use crate::deadline::{self, Ticker};
use crate::store::StoreState;

mod invoke;

/// The wasmtime sandbox: compiles modules and runs invocations under the limits of a
/// [`Config`]. Cheap to clone: clones share one engine.
///
/// One epoch ticker thread per runtime advances deadlines; it stops when the runtime is
/// dropped.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Engine,
    linkers: Linkers,
    config: Config,
    pooling: bool,
    compile_permits: Arc<Semaphore>,
    /// The artifact fingerprint, computed at its first use.
    fingerprint: OnceLock<[u8; 32]>,
    /// How many compiles have started (each one a Cranelift run).
    compiles: AtomicU64,
    /// The config's `preopen_roots`, resolved once when the runtime is built (a root
    /// that does not exist yet is kept as written).
    preopen_roots: Vec<PathBuf>,
    /// Where guests' outbound requests go; none refuses them.
    outbound: Option<Arc<dyn fn_core::OutboundHttp>>,
    _ticker: Ticker,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("pooling", &self.inner.pooling)
            .finish_non_exhaustive()
    }
}

/// A compiled module or component with its ABI and its imports resolved, ready to
/// instantiate.
pub struct CompiledModule {
    pub(crate) cid: Cid,
    pub(crate) abi: Abi,
    pub(crate) code: Code,
    pub(crate) size_bytes: u64,
}

/// What an invocation instantiates.
pub(crate) enum Code {
    /// A core module, with the exports its ABI calls.
    Module {
        entry: Entry,
        pre: InstancePre<StoreState>,
    },
    /// A command component.
    Command(CommandPre<StoreState>),
    /// An HTTP component.
    Http(ProxyPre<StoreState>),
}

/// The runtime's linkers: WASI preview 1 for core modules, preview 2 for command
/// components, and the proxy world's for HTTP components.
pub(crate) struct Linkers {
    pub(crate) modules: Linker<StoreState>,
    pub(crate) components: component::Linker<StoreState>,
    pub(crate) http: component::Linker<StoreState>,
}

impl std::fmt::Debug for CompiledModule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompiledModule")
            .field("cid", &self.cid)
            .field("abi", &self.abi)
            .field("size_bytes", &self.size_bytes)
            .finish_non_exhaustive()
    }
}

impl CompiledModule {
    /// The content id of the module's bytes.
    pub fn cid(&self) -> &Cid {
        &self.cid
    }

    /// The ABI detected from its exports.
    pub fn abi(&self) -> Abi {
        self.abi
    }

    /// What it holds in memory, in bytes: its weight in a cache. Measured as the
    /// length of the compiled image wasmtime maps for it (`Module::image_range`): the
    /// machine code, its read-only data, the wasm data segments and the metadata
    /// wasmtime keeps in the image; this is also about the size of its serialized
    /// artifact. Not counted: the small per-module tables on the heap, and the
    /// copy-on-write memory image built from the data segments (at most their size).
    pub fn size_bytes(&self) -> u64 {
        self.size_bytes
    }
}

/// One invocation to run: everything about the function the sandbox needs.
#[derive(Debug, Clone, Copy)]
pub struct Invocation<'a> {
    /// The function's name: argv\[0\] of a WASI command.
    pub name: &'a str,
    /// The function's environment, exactly.
    pub env: &'a BTreeMap<String, String>,
    /// A WASI command's arguments after argv\[0\].
    pub args: &'a [String],
    /// Host folders to preopen. Each must lie under one of the config's `preopen_roots`
    /// once symbolic links are resolved; none is the default and the norm.
    pub preopens: &'a [Preopen],
    /// The deadline and memory limit, applied as given: the caller computed them once
    /// ([`InvocationLimits::new`]) from a validated function.
    pub limits: InvocationLimits,
    /// Where an HTTP function may send requests (its definition's `allow_outbound`);
    /// none refuses them all, as does a runtime without a sender.
    pub allow_outbound: &'a [fn_core::OutboundRule],
    /// The values a component reads through `wasi:config/store` (its definition's
    /// `config`).
    pub config: &'a BTreeMap<String, String>,
}

impl Runtime {
    /// Builds the runtime: validates `config`, creates the wasmtime engine (pooling
    /// allocator when enabled, falling back to on-demand allocation with a warning when
    /// the pool cannot be reserved), links the host imports, and starts the epoch ticker.
    ///
    /// # Errors
    ///
    /// [`Error::Validation`] for an invalid config; [`Error::Internal`] when wasmtime
    /// refuses the configuration even without pooling.
    pub fn new(config: &Config) -> Result<Runtime> {
        Runtime::with_outbound(config, None)
    }

    /// Builds the runtime as [`Runtime::new`] does, with `outbound` sending the
    /// requests of HTTP functions that have outbound rules (none refuses them all).
    ///
    /// # Errors
    ///
    /// As [`Runtime::new`].
    pub fn with_outbound(
        config: &Config,
        outbound: Option<Arc<dyn fn_core::OutboundHttp>>,
    ) -> Result<Runtime> {
        config.validate()?;
        let (engine, pooling) = crate::engine::build(config)?;
        let mut linkers = Linkers {
            modules: Linker::new(&engine),
            components: component::Linker::new(&engine),
            http: component::Linker::new(&engine),
        };
        crate::host::link(&mut linkers.modules)?;
        crate::host::link_components(&mut linkers.components)?;
        crate::host::link_http(&mut linkers.http)?;
        let ticker = deadline::spawn_ticker(&engine, config.epoch_tick)?;
        Ok(Runtime {
            inner: Arc::new(Inner {
                engine,
                linkers,
                config: config.clone(),
                pooling,
                compile_permits: Arc::new(Semaphore::new(config.max_concurrent_compiles)),
                compiles: AtomicU64::new(0),
                fingerprint: OnceLock::new(),
                preopen_roots: config
                    .preopen_roots
                    .iter()
                    .map(|root| root.canonicalize().unwrap_or_else(|_| root.clone()))
                    .collect(),
                outbound,
                _ticker: ticker,
            }),
        })
    }

    /// The configuration the runtime was built with.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// Whether guests' outbound requests have a sender (else every one is refused).
    pub fn sends_outbound(&self) -> bool {
        self.inner.outbound.is_some()
    }

    /// Whether instances come from the pooling allocator (false when it was disabled or
    /// its reservation failed).
    pub fn uses_pooling(&self) -> bool {
        self.inner.pooling
    }

    /// Compiles `bytes` (binary wasm, or the text format) into a module ready to run:
    /// checks the size cap, compiles with at most `max_concurrent_compiles` compiles at
    /// once and a `compile_timeout` limit (in a compile worker killed at that limit when
    /// `compile_worker` is set, else on a blocking thread that runs on), checks
    /// its memories and tables against the config, detects the ABI and resolves imports.
    /// Failures are not remembered here: that is the cache's (fn-cache's negative
    /// entries, with `compile_timeout_retry_after`).
    ///
    /// The CID is computed from `bytes` exactly as given.
    ///
    /// # Errors
    ///
    /// [`Error::ModuleTooLarge`]; [`Error::Deploy`] with the compiler's or linker's whole
    /// message (malformed wasm, unknown imports, disabled proposals, no ABI or both,
    /// memories or tables over the config's caps); [`Error::CompileTimeout`];
    /// [`Error::Unavailable`] when no compile slot frees up within the compile timeout.
    pub async fn compile(&self, bytes: Bytes) -> Result<CompiledModule> {
        let cid = Cid::of(&bytes);
        let config = &self.inner.config;
        let size_bytes = bytes.len() as u64;
        if size_bytes > config.max_module_bytes {
            return Err(Error::ModuleTooLarge {
                cid,
                size_bytes,
                limit_bytes: config.max_module_bytes,
            });
        }
        let limit = config.compile_timeout;
        let permit =
            tokio::time::timeout(limit, self.inner.compile_permits.clone().acquire_owned())
                .await
                .map_err(|_| Error::Unavailable {
                    reason: format!(
                        "no compile slot became free within {} ms",
                        limit.as_millis()
                    ),
                })?
                .map_err(|_| Error::Unavailable {
                    reason: "the runtime is shutting down".into(),
                })?;
        self.inner.compiles.fetch_add(1, Ordering::Relaxed);
        let inner = self.inner.clone();
        if let Some(worker) = &config.compile_worker {
            // The worker is killed and reaped within the limit, or with this future
            // when the caller drops it; the permit is held until then.
            let _permit = permit;
            let fingerprint = self.artifact_fingerprint();
            let artifact =
                crate::worker::client::compile(worker, config, fingerprint, cid, bytes).await?;
            let task = tokio::task::spawn_blocking(move || {
                deserialize_blocking(&inner.engine, &inner.linkers, &inner.config, cid, &artifact)
            });
            return match task.await {
                Ok(result) => result.map_err(|message| Error::Deploy { cid, message }),
                Err(join) => Err(Error::Internal {
                    message: format!("loading the compile of {cid} panicked: {join}"),
                }),
            };
        }
        // In process, the compile runs to completion on its thread even when the caller
        // stops waiting; it keeps its permit until then, so slow compiles stay bounded.
        let task = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            compile_blocking(&inner.engine, &inner.linkers, &inner.config, cid, &bytes)
        });
        match tokio::time::timeout(limit, task).await {
            Ok(Ok(result)) => result,
            Ok(Err(join)) => Err(Error::Internal {
                message: format!("the compile of {cid} panicked: {join}"),
            }),
            Err(_) => Err(Error::CompileTimeout { cid, limit }),
        }
    }

    /// The bytes of `module`'s artifact: its compiled code as wasmtime serializes it,
    /// for [`Runtime::deserialize`] in this or a later process with the same
    /// [`Runtime::artifact_fingerprint`].
    ///
    /// # Errors
    ///
    /// [`Error::Internal`] when wasmtime cannot serialize it.
    pub fn serialize(&self, module: &CompiledModule) -> Result<Vec<u8>> {
        match &module.code {
            Code::Module { pre, .. } => pre.module().serialize(),
            Code::Command(pre) => pre.instance_pre().component().serialize(),
            Code::Http(pre) => pre.instance_pre().component().serialize(),
        }
        .map_err(|e| crate::internal("serializing a compiled module", &e))
    }

    /// Loads the module `cid` from its artifact, without compiling, and checks it as
    /// [`Runtime::compile`] does (ABI, imports, memories and tables). Blocking: call it
    /// on a blocking thread. Counts no compile.
    ///
    /// `bytes` must be exactly what [`Runtime::serialize`] returned under the same
    /// [`Runtime::artifact_fingerprint`], verified against a digest taken when they were
    /// written: they are trusted machine code. fn-cache's `ArtifactStore` gives out
    /// nothing else.
    ///
    /// # Errors
    ///
    /// Why the artifact cannot be used (wasmtime's refusal, or a check that fails); the
    /// caller discards it and compiles.
    pub fn deserialize(&self, cid: Cid, bytes: &[u8]) -> Result<CompiledModule, String> {
        let inner = &self.inner;
        deserialize_blocking(&inner.engine, &inner.linkers, &inner.config, cid, bytes)
    }

    /// What an artifact of this runtime depends on, as a sha2-256 digest: the artifact
    /// format of this crate, the wasmtime version and build (from the header wasmtime
    /// writes into every artifact), and wasmtime's `precompile_compatibility_hash` (the
    /// target, the compiler's flags, the tunables such as fuel, epochs and the stack
    /// limit, and the wasm features). Two runtimes with equal fingerprints can load each
    /// other's artifacts. Computed once, at its first use (it compiles an empty module).
    pub fn artifact_fingerprint(&self) -> [u8; 32] {
        *self
            .inner
            .fingerprint
            .get_or_init(|| crate::engine::fingerprint(&self.inner.engine))
    }

    /// How many compiles this runtime has started: each one a Cranelift run on a
    /// blocking thread (a module refused by its size or its remembered failure does not
    /// count).
    pub fn compiles_started(&self) -> u64 {
        self.inner.compiles.load(Ordering::Relaxed)
    }
}
