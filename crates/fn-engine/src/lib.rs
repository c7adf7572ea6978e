//! The function engine's facade: an [`Engine`] built by an [`EngineBuilder`] that runs
//! invocations of deployed functions, each in a fresh sandbox, and records every one.
//!
//! It composes the crates below it and adds the contract of the Go engine it replaces:
//! the function validated once at the entry, admission (fn-limits' rates per key and
//! slots held for the invocation's life, then the platform's own controls) before
//! anything is fetched or compiled, one compile per CID even under concurrent misses (fn-cache: in
//! memory, and on disk when `artifact_cache_dir` is set, so a restart does not
//! recompile), CID verification of fetched bytes, the function's limits capped by the
//! config, errors wrapped with the function's name and the request id, and exactly one
//! [`InvocationRecord`](fn_core::InvocationRecord) per invocation whatever its end — a
//! caller that drops the invocation's future included (recorded as cancelled).
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//!
//! use bytes::Bytes;
//! use fn_engine::{Config, Engine, FunctionDefinition};
//! use fn_registry::InMemoryRegistry;
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! // Any store of fn-registry, or one of your own behind `FunctionStore`.
//! let store = Arc::new(InMemoryRegistry::new());
//! let engine = Engine::builder(store.clone()).config(Config::default()).build()?;
//!
//! let wat = r#"(module
//!     (memory (export "memory") 1)
//!     (data (i32.const 0) "pong")
//!     (func (export "handle") (param i32 i32) (result i64) i64.const 0x0000000400000000))"#;
//! // Checked and compiled before the store keeps it.
//! let definition = FunctionDefinition::new("demo", "ping");
//! let function = engine.deploy(store.as_ref(), definition, Bytes::from(wat)).await?;
//!
//! let output = engine.execute(&function, Bytes::new(), None).await?;
//! assert_eq!(output, Bytes::from("pong"));
//! # Ok::<(), fn_engine::Error>(())
//! # }).unwrap();
//! ```

mod builder;
mod call;
mod deploy;
mod executor;
mod http;
mod modules;
mod record;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use fn_cache::Cache;
use fn_limits::{AdmissionChain, Admitted};
use fn_runtime::Runtime;

pub use crate::builder::EngineBuilder;
pub use crate::http::{BodyCut, BoxError, HttpResponse, RequestBody, ResponseBody, full_body};
use crate::modules::Module;
use crate::record::Recorder;
pub use fn_cache::CacheStats;
/// The vocabulary an engine's user speaks, from fn-core, so that one crate is enough to
/// configure, deploy, invoke and read records.
pub use fn_core::{
    Admission, Cid, Config, Error, ErrorKind, Function, FunctionDefinition, FunctionRegistry,
    FunctionStore, InvocationContext, InvocationLogger, InvocationRecord, InvocationStatus,
    MemoryLogger, PoolingConfig, RateQuota, Result, TriggerType,
};
/// Whether some bytes are an HTTP function (see [`Engine::serve_http`]), told without
/// compiling them.
pub use fn_runtime::serves_http;
/// A compile worker's `main` ([`fn_core::Config::compile_worker`]), as `fnd compile-worker`.
pub use fn_runtime::worker::serve as serve_compile_worker;

/// Everything one invocation produced: see [`Engine::execute_detailed`].
#[derive(Debug)]
#[non_exhaustive]
pub struct Execution {
    /// The output, or the error, exactly as [`Engine::execute`] returns them.
    pub result: Result<Bytes>,
    /// What the guest wrote to stdout that is not in the output: everything a WASI
    /// command wrote before it failed, or what a handle-ABI guest printed.
    pub stdout: Bytes,
    /// What the guest wrote to stderr (at most the config's `max_log_bytes`).
    pub log: Bytes,
}

/// The streams of one run, filled in once the sandbox has finished.
#[derive(Default)]
struct Streams {
    stdout: Bytes,
    log: Bytes,
}

/// Runs functions. Cheap to clone: clones share everything.
#[derive(Clone, Debug)]
pub struct Engine {
    inner: Arc<EngineInner>,
}

#[derive(Debug)]
struct EngineInner {
    config: Config,
    runtime: Runtime,
    registry: Arc<dyn FunctionRegistry>,
    invocation_logger: Option<Arc<dyn InvocationLogger>>,
    /// The engine's own admission limits (`config.admission`), then the platform's
    /// controls in order.
    admission: AdmissionChain,
    /// Compiled modules: memory, the artifact tier, single-flight loads, remembered
    /// failures.
    cache: Cache<Module, Error>,
    closed: AtomicBool,
}

impl Engine {
    /// A builder for an engine that fetches modules from `registry`.
    pub fn builder(registry: Arc<dyn FunctionRegistry>) -> EngineBuilder {
        EngineBuilder {
            config: Config::default(),
            registry,
            invocation_logger: None,
            admission: Vec::new(),
            outbound: None,
        }
    }

    /// The engine's configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// Runs one invocation of `function` on `input` and returns its output.
    ///
    /// The whole function is validated first (a hand-built invalid `Function` is refused
    /// naming the field), then, with no `ctx`, a fresh request id and the HTTP trigger are
    /// used. Admission comes before anything is fetched or compiled: the engine's limits
    /// (`config.admission`: rates per key, a slot among those running at once), then the
    /// builder's admission controls in order; the slots are held until the invocation
    /// ends, whatever its end. The limits are the function's,
    /// capped by the config, computed once here. Every call, whatever its end, is given
    /// to the invocation logger exactly once — a call whose future is dropped before it
    /// ends, even before its first poll, is recorded as cancelled: the record is started
    /// when this method is called, not when the future is first polled.
    ///
    /// # Errors
    ///
    /// [`Error::Execution`] naming the function and request, around the cause:
    /// [`Error::Validation`], [`Error::InputTooLarge`], [`Error::RateLimited`],
    /// [`Error::Overloaded`] (or another control's error, when registered with
    /// [`OnAdmissionError::Refuse`]),
    /// [`Error::NotFound`] or [`Error::Integrity`] for the module, [`Error::Deploy`],
    /// [`Error::Timeout`], [`Error::MemoryLimit`], [`Error::OutputTooLarge`],
    /// [`Error::Trap`], [`Error::Exit`], [`Error::Abi`], [`Error::Unavailable`] (closed
    /// engine, a preopened folder that cannot be opened).
    pub fn execute<'a>(
        &'a self,
        function: &'a Function,
        input: Bytes,
        ctx: Option<InvocationContext>,
    ) -> impl Future<Output = Result<Bytes>> + Send + 'a {
        let (ctx, recorder) = self.start(function, ctx, input.len());
        // The invocation's future is made inside this one and held once: wrapping
        // `execute_detailed`'s would hold it twice (captured, then awaited), and every
        // move of this future (into an executor, a task) copies what it holds.
        async move { self.detailed(function, ctx, input, recorder).await.result }
    }

    /// Runs one invocation as [`Engine::execute`] does, and also returns what the guest
    /// wrote besides its output: its log (stderr), and its stdout when that is not the
    /// output (a WASI command that failed, a handle-ABI guest that printed). For callers
    /// such as test runners and debuggers that must see a failed run's streams.
    pub fn execute_detailed<'a>(
        &'a self,
        function: &'a Function,
        input: Bytes,
        ctx: Option<InvocationContext>,
    ) -> impl Future<Output = Execution> + Send + 'a {
        let (ctx, recorder) = self.start(function, ctx, input.len());
        self.detailed(function, ctx, input, recorder)
    }

    /// The context (a fresh one when the caller gave none) and the record, started now,
    /// outside the invocation's future: a future dropped unpolled is still recorded.
    fn start(
        &self,
        function: &Function,
        ctx: Option<InvocationContext>,
        input_len: usize,
    ) -> (InvocationContext, Recorder) {
        let ctx = ctx.unwrap_or_default();
        let recorder = Recorder::start(self.shared_logger(), function, &ctx, input_len as u64);
        (ctx, recorder)
    }

    /// The invocation, with its record already started.
    async fn detailed(
        &self,
        function: &Function,
        ctx: InvocationContext,
        input: Bytes,
        mut recorder: Recorder,
    ) -> Execution {
        let mut streams = Streams::default();
        let result = self
            .run(function, &ctx, input, &mut recorder, &mut streams)
            .await;
        recorder.finish(result.as_ref().map(|output| output.len() as u64));
        Execution {
            result: result.map_err(|error| Error::Execution {
                function: function.definition.name.clone(),
                request_id: ctx.request_id,
                source: Box::new(error),
            }),
            stdout: streams.stdout,
            log: streams.log,
        }
    }

    /// Where records go: the logger, when there is one and records are on.
    pub(crate) fn logger(&self) -> Option<&dyn InvocationLogger> {
        self.shared_logger_ref().map(|logger| logger.as_ref())
    }

    /// [`Engine::logger`], shared with a record that may outlive the call.
    pub(crate) fn shared_logger(&self) -> Option<Arc<dyn InvocationLogger>> {
        self.shared_logger_ref().cloned()
    }

    fn shared_logger_ref(&self) -> Option<&Arc<dyn InvocationLogger>> {
        if !self.inner.config.log_invocations {
            return None;
        }
        self.inner.invocation_logger.as_ref()
    }

    /// Admits the call: the engine's limits, then each admission control in order.
    async fn admit(&self, function: &Function, ctx: &InvocationContext) -> Result<Admitted> {
        self.inner.admission.admit(function, ctx).await
    }

    fn check_open(&self) -> Result<()> {
        if self.inner.closed.load(Ordering::Acquire) {
            return Err(Error::Unavailable {
                reason: "the engine is closed".into(),
            });
        }
        Ok(())
    }

    /// Compiles and caches a module ahead of its first call (loading its artifact from
    /// disk instead, when there is a good one). A no-op when it is cached.
    ///
    /// # Errors
    ///
    /// [`Error::Validation`] for empty bytes; [`Error::Integrity`] when the bytes are not
    /// `cid`'s; [`Error::Deploy`] with the compiler's whole message;
    /// [`Error::ModuleTooLarge`]; [`Error::CompileTimeout`]; [`Error::Unavailable`] when
    /// the engine is closed.
    pub async fn precompile(&self, cid: &Cid, bytes: Bytes) -> Result<()> {
        self.check_open()?;
        if bytes.is_empty() {
            return Err(Error::validation("wasm_bytes", "must not be empty"));
        }
        cid.verify(&bytes)?;
        if self.inner.cache.contains(cid) {
            return Ok(());
        }
        let runtime = self.inner.runtime.clone();
        self.inner
            .cache
            .get_or_try_insert(cid, move || async move {
                runtime.compile(bytes).await.map(Module)
            })
            .await
            .map(drop)
    }

    /// Drops `cid`'s compiled module, its artifact on disk and any remembered compile
    /// failure; the next call compiles it again. Returns whether it was in memory.
    pub async fn invalidate(&self, cid: &Cid) -> bool {
        self.inner.cache.invalidate(cid).await
    }

    /// Closes the engine: drops every module from memory (artifacts on disk stay for
    /// the next start); every later call fails with [`Error::Unavailable`] (and is still
    /// recorded). Invocations under way finish. The invocation logger is flushed
    /// (`InvocationLogger::flush`, a bounded wait): the records of every invocation that
    /// ended before are written when this returns.
    pub fn close(&self) {
        self.close_without_flush();
        if let Some(logger) = &self.inner.invocation_logger
            && let Err(error) = logger.flush()
        {
            tracing::warn!(%error, "the invocation records were not all written");
        }
    }

    /// [`Engine::close`] without the flush, which blocks its thread: for an async caller
    /// that flushes its own logger without blocking (`fnd serve`'s shutdown awaits its
    /// record writer's `flush_async`).
    pub fn close_without_flush(&self) {
        self.inner.closed.store(true, Ordering::Release);
        self.inner.cache.invalidate_all();
    }

    /// Whether instances come from the pooling allocator: false when it is turned off,
    /// or when its address space could not be reserved (a tight `RLIMIT_AS`, valgrind, a
    /// small container) and the runtime fell back to on-demand allocation, which is
    /// several times slower. Programs show it (`fnd serve`'s banner, `/v1/status`).
    pub fn uses_pooling(&self) -> bool {
        self.inner.runtime.uses_pooling()
    }

    /// Waits until every artifact being written to disk is written: before a process
    /// exits, so that its next start finds them.
    pub async fn flush_artifacts(&self) {
        self.inner.cache.flush().await;
    }

    /// What the module cache holds and has done: entries, weighted size, hits, misses,
    /// evictions, loads (compiles) and their total time, refusals of remembered
    /// failures, and the disk tier's hits, misses and writes.
    pub async fn cache_stats(&self) -> CacheStats {
        self.inner.cache.stats().await
    }
}
