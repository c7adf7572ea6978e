//! The runtime: one wasmtime engine, its linker and epoch ticker, compiling modules and
//! running invocations.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use fn_core::{Cid, Config, Error, OutputStream, Preopen, Result, TrapCode};
use tokio::sync::Semaphore;
use wasmtime::{
    Enabled, Engine, InstanceAllocationStrategy, InstancePre, Linker, Module,
    PoolingAllocationConfig, Store, UpdateDeadline,
};
use wasmtime_wasi::p1::{self, WasiP1Ctx};
use wasmtime_wasi::p2::pipe::MemoryInputPipe;
use wasmtime_wasi::{FsPerms, I32Exit, WasiCtxBuilder, WasiView};

use crate::abi::{self, Abi, Entry};
use crate::limits::Limits;
use crate::pipe::BoundedPipe;

/// How many stderr bytes an [`Error::Exit`] carries.
const STDERR_TAIL_BYTES: usize = 1024;
/// How often a long-running guest yields to the async executor, in epoch ticks, so that
/// other invocations on the same thread make progress.
const YIELD_EVERY_TICKS: u64 = 10;
/// How many failed compiles are remembered (by CID) before the memory is cleared.
const MAX_REMEMBERED_FAILURES: usize = 4096;

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
    linker: Linker<StoreState>,
    config: Config,
    pooling: bool,
    compile_permits: Arc<Semaphore>,
    /// Compiles that failed, by CID, so a bad module is not compiled again and again.
    failed: Mutex<HashMap<Cid, FailedCompile>>,
    ticker_stop: Arc<AtomicBool>,
    /// The config's `preopen_roots`, resolved once when the runtime is built (a root
    /// that does not exist yet is kept as written).
    preopen_roots: Vec<std::path::PathBuf>,
}

#[derive(Clone)]
enum FailedCompile {
    Deploy(String),
    Timeout,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.ticker_stop.store(true, Ordering::Relaxed);
    }
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("pooling", &self.inner.pooling)
            .finish_non_exhaustive()
    }
}

/// A compiled module with its ABI and its imports resolved, ready to instantiate.
pub struct CompiledModule {
    cid: Cid,
    abi: Abi,
    entry: Entry,
    pre: InstancePre<StoreState>,
    size_bytes: u64,
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

    /// The size of its compiled code in bytes: its weight in a cache.
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
    /// How long the invocation may run, instantiation included. Capped by the config's
    /// `max_timeout`.
    pub timeout: Duration,
    /// The function's memory limit. Capped by the config's `max_memory_bytes`.
    pub max_memory_bytes: u64,
}

/// What an invocation produced, whether it succeeded or not.
#[derive(Debug)]
pub struct Outcome {
    /// The output, or the typed error it failed with.
    pub result: Result<Bytes>,
    /// The largest linear memory the guest had, in bytes.
    pub peak_memory_bytes: u64,
    /// What the guest wrote to stderr: its log (at most `max_log_bytes`).
    pub log: Bytes,
    /// What the guest wrote to stdout that is not in the output: everything a WASI
    /// command wrote before it failed, or what a handle-ABI guest printed.
    pub stdout: Bytes,
}

impl Outcome {
    fn failed(error: Error) -> Outcome {
        Outcome {
            result: Err(error),
            peak_memory_bytes: 0,
            log: Bytes::new(),
            stdout: Bytes::new(),
        }
    }
}

/// Per-invocation store data.
struct StoreState {
    wasi: WasiP1Ctx,
    limits: Limits,
    deadline: Instant,
    tick: Duration,
}

/// The error a guest is interrupted with at its deadline.
#[derive(Debug)]
struct DeadlineExceeded;

impl std::fmt::Display for DeadlineExceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("deadline exceeded")
    }
}

impl std::error::Error for DeadlineExceeded {}

impl Runtime {
    /// Builds the runtime: validates `config`, creates the wasmtime engine (pooling
    /// allocator when enabled, falling back to on-demand allocation with a warning when
    /// the pool cannot be reserved), links WASI preview 1, and starts the epoch ticker.
    ///
    /// # Errors
    ///
    /// [`Error::Validation`] for an invalid config; [`Error::Internal`] when wasmtime
    /// refuses the configuration even without pooling.
    pub fn new(config: &Config) -> Result<Runtime> {
        config.validate()?;
        let (engine, pooling) = build_engine(config)?;
        let mut linker: Linker<StoreState> = Linker::new(&engine);
        p1::add_to_linker_async(&mut linker, |state: &mut StoreState| &mut state.wasi)
            .map_err(|e| internal("linking WASI preview 1", &e))?;
        let ticker_stop = Arc::new(AtomicBool::new(false));
        spawn_ticker(&engine, config.epoch_tick, ticker_stop.clone())?;
        Ok(Runtime {
            inner: Arc::new(Inner {
                engine,
                linker,
                config: config.clone(),
                pooling,
                compile_permits: Arc::new(Semaphore::new(config.max_concurrent_compiles)),
                failed: Mutex::new(HashMap::new()),
                ticker_stop,
                preopen_roots: config
                    .preopen_roots
                    .iter()
                    .map(|root| root.canonicalize().unwrap_or_else(|_| root.clone()))
                    .collect(),
            }),
        })
    }

    /// The configuration the runtime was built with.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// Whether instances come from the pooling allocator (false when it was disabled or
    /// its reservation failed).
    pub fn uses_pooling(&self) -> bool {
        self.inner.pooling
    }

    /// A fingerprint of the engine's code-generation settings and wasmtime version:
    /// compiled artifacts are only interchangeable between runtimes with equal
    /// fingerprints.
    pub fn fingerprint(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        self.inner
            .engine
            .precompile_compatibility_hash()
            .hash(&mut hasher);
        hasher.finish()
    }

    /// Compiles `bytes` (binary wasm, or the text format) into a module ready to run:
    /// checks the size cap, compiles on a blocking thread with at most
    /// `max_concurrent_compiles` compiles at once and a `compile_timeout` limit, detects
    /// the ABI and resolves imports. A module that failed once fails again at once.
    ///
    /// The CID is computed from `bytes` exactly as given.
    ///
    /// # Errors
    ///
    /// [`Error::ModuleTooLarge`]; [`Error::Deploy`] with the compiler's or linker's whole
    /// message (malformed wasm, unknown imports, disabled proposals, no ABI);
    /// [`Error::CompileTimeout`]; [`Error::Unavailable`] when no compile slot frees up
    /// within the compile timeout.
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
        if let Some(failure) = self.remembered_failure(&cid) {
            return Err(failure);
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
        let inner = self.inner.clone();
        // The compile runs to completion on its thread even when the caller stops
        // waiting; it keeps its permit until then, so slow compiles stay bounded.
        let task = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            compile_blocking(&inner.engine, &inner.linker, cid, &bytes)
        });
        let result = match tokio::time::timeout(limit, task).await {
            Ok(Ok(result)) => result,
            Ok(Err(join)) => Err(Error::Internal {
                message: format!("the compile of {cid} panicked: {join}"),
            }),
            Err(_) => Err(Error::CompileTimeout { cid, limit }),
        };
        match &result {
            Err(Error::Deploy { message, .. }) => {
                self.remember_failure(cid, FailedCompile::Deploy(message.clone()));
            }
            Err(Error::CompileTimeout { .. }) => {
                self.remember_failure(cid, FailedCompile::Timeout);
            }
            _ => {}
        }
        result
    }

    fn remembered_failure(&self, cid: &Cid) -> Option<Error> {
        let failed = self
            .inner
            .failed
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        failed.get(cid).map(|failure| match failure {
            FailedCompile::Deploy(message) => Error::Deploy {
                cid: *cid,
                message: message.clone(),
            },
            FailedCompile::Timeout => Error::CompileTimeout {
                cid: *cid,
                limit: self.inner.config.compile_timeout,
            },
        })
    }

    fn remember_failure(&self, cid: Cid, failure: FailedCompile) {
        let mut failed = self
            .inner
            .failed
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if failed.len() >= MAX_REMEMBERED_FAILURES {
            failed.clear();
        }
        failed.insert(cid, failure);
    }

    /// Forgets a remembered compile failure, so the next compile of `cid` tries again.
    pub fn forget_failure(&self, cid: &Cid) {
        let mut failed = self
            .inner
            .failed
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        failed.remove(cid);
    }

    /// Runs one invocation of `module` on `input` in a fresh sandbox.
    ///
    /// The deadline (the invocation's timeout capped by the config) is armed once the
    /// input is in place and covers instantiation, so a start function that loops is
    /// stopped too. Dropping the returned future at any point is safe: the sandbox is
    /// torn down and its pool slot freed.
    ///
    /// Never panics on guest behaviour: every failure is a typed error in
    /// [`Outcome::result`] — [`Error::Timeout`], [`Error::MemoryLimit`],
    /// [`Error::ResourceLimit`], [`Error::OutputTooLarge`], [`Error::InputTooLarge`],
    /// [`Error::Trap`], [`Error::Exit`], [`Error::Abi`], [`Error::Unavailable`] when the
    /// pool has no free slot or a preopened folder cannot be opened, or
    /// [`Error::Validation`] for a preopened folder outside the config's `preopen_roots`.
    pub async fn invoke(
        &self,
        module: &CompiledModule,
        invocation: Invocation<'_>,
        input: Bytes,
    ) -> Outcome {
        let config = &self.inner.config;
        let input_size = input.len() as u64;
        if input_size > config.max_input_bytes {
            return Outcome::failed(Error::InputTooLarge {
                size_bytes: input_size,
                limit_bytes: config.max_input_bytes,
            });
        }
        let timeout = invocation.timeout.min(config.max_timeout);
        let max_memory_bytes = invocation.max_memory_bytes.min(config.max_memory_bytes);
        let stdout = BoundedPipe::new(to_usize(config.max_output_bytes));
        let stderr = BoundedPipe::new(to_usize(config.max_log_bytes));

        let (wasi, handle_input) = match wasi_context(
            config,
            &self.inner.preopen_roots,
            &invocation,
            module.abi,
            input,
            &stdout,
            &stderr,
        ) {
            Ok(context) => context,
            Err(error) => return Outcome::failed(error),
        };

        let mut store = Store::new(
            &self.inner.engine,
            StoreState {
                wasi,
                limits: Limits {
                    max_memory_bytes: to_usize(max_memory_bytes),
                    max_table_elements: to_usize(config.max_table_elements),
                    max_instances: config.max_instances as usize,
                    max_tables: config.max_tables as usize,
                    max_memories: config.max_memories as usize,
                    peak_memory_bytes: 0,
                    memory_denied: false,
                    table_denied: false,
                },
                // Armed here, with the input already in place, so it covers
                // instantiation and nothing before it.
                deadline: Instant::now() + timeout,
                tick: config.epoch_tick,
            },
        );
        store.limiter(|state| &mut state.limits);
        store.set_hostcall_fuel(to_usize(config.max_hostcall_bytes));
        if let Some(fuel) = config.fuel {
            store
                .set_fuel(fuel)
                .expect("fuel is enabled in the engine when the config sets it");
        }

        store.epoch_deadline_callback(on_epoch_deadline);
        store.set_epoch_deadline(ticks_until(timeout, config.epoch_tick).min(YIELD_EVERY_TICKS));

        // Epoch interruption only stops running wasm; a guest parked in a host call is
        // bounded by this wall-clock timer, a little after the epoch deadline.
        let backstop = timeout + config.epoch_tick * 2 + Duration::from_millis(5);
        let run = tokio::time::timeout(
            backstop,
            run(
                &mut store,
                module,
                handle_input,
                &stdout,
                config.max_output_bytes,
            ),
        );
        let result = match run.await {
            Ok(Ok(output)) => Ok(output),
            Ok(Err(failure)) => Err(classify(
                failure,
                &store.data().limits,
                [&stdout, &stderr],
                config,
                timeout,
            )),
            Err(_) => Err(Error::Timeout { limit: timeout }),
        };
        let peak_memory_bytes = store.data().limits.peak_memory_bytes as u64;
        drop(store);
        Outcome {
            result,
            peak_memory_bytes,
            log: stderr.take(),
            stdout: stdout.take(),
        }
    }
}

/// The WASI context of one invocation: exactly the function's name as argv\[0\] and its
/// arguments, its env, the bounded pipes, its preopens (none unless it names some), and
/// every WASI cap set from the config. Returns the input when the handle ABI takes it in
/// memory instead of on stdin.
fn wasi_context(
    config: &Config,
    preopen_roots: &[std::path::PathBuf],
    invocation: &Invocation<'_>,
    abi: Abi,
    input: Bytes,
    stdout: &BoundedPipe,
    stderr: &BoundedPipe,
) -> Result<(WasiP1Ctx, Option<Bytes>)> {
    let mut wasi = WasiCtxBuilder::new();
    wasi.arg(invocation.name)
        .args(invocation.args)
        .stdout(stdout.clone())
        .stderr(stderr.clone())
        .max_random_size(config.max_random_bytes);
    for (key, value) in invocation.env {
        wasi.env(key, value);
    }
    for preopen in invocation.preopens {
        let host = checked_preopen(preopen_roots, preopen)?;
        let perms = if preopen.writable {
            FsPerms::ReadWrite
        } else {
            FsPerms::ReadOnly
        };
        // wasmtime-wasi opens the folder as a cap-std `Dir`: the guest cannot reach out
        // of it by `..` or by a symbolic link.
        wasi.preopened_dir(&host, &preopen.guest, perms)
            .map_err(|error| Error::Unavailable {
                reason: format!(
                    "the preopened folder `{}` cannot be opened: {error}",
                    preopen.host.display()
                ),
            })?;
    }
    let handle_input = match abi {
        Abi::WasiCommand => {
            wasi.stdin(MemoryInputPipe::new(input));
            None
        }
        Abi::Handle { .. } => Some(input),
    };
    let mut wasi = wasi.build_p1();
    wasi.ctx()
        .table
        .set_max_capacity(to_usize(config.max_wasi_resources));
    Ok((wasi, handle_input))
}

/// The preopen's host folder with its symbolic links resolved, once it is known to lie
/// under one of `roots` (the config's `preopen_roots`, resolved). The definition's check is
/// lexical; this one sees the filesystem as it is now.
///
/// wasmtime-wasi opens the folder by path right after this check, so a process that can
/// rename folders above it could swap in a link in between: operators must not place
/// one function's preopen inside a folder another function may write (docs/abi.md).
fn checked_preopen(roots: &[std::path::PathBuf], preopen: &Preopen) -> Result<std::path::PathBuf> {
    let unavailable = |why: String| Error::Unavailable {
        reason: format!("the preopened folder `{}` {why}", preopen.host.display()),
    };
    let host = preopen
        .host
        .canonicalize()
        .map_err(|error| unavailable(format!("cannot be opened: {error}")))?;
    let allowed = roots.iter().any(|root| host.starts_with(root));
    if !allowed {
        // A policy refusal, not a passing condition: retrying will not help.
        return Err(Error::validation(
            "preopens.host",
            format!(
                "`{}` is not under any of the engine's preopen_roots",
                preopen.host.display()
            ),
        ));
    }
    Ok(host)
}

/// Why a run stopped before producing output.
enum Failure {
    Wasm(wasmtime::Error),
    Abi(String),
    OutputTooLarge(u64),
}

async fn run(
    store: &mut Store<StoreState>,
    module: &CompiledModule,
    handle_input: Option<Bytes>,
    stdout: &BoundedPipe,
    max_output_bytes: u64,
) -> Result<Bytes, Failure> {
    let instance = module
        .pre
        .instantiate_async(&mut *store)
        .await
        .map_err(Failure::Wasm)?;
    let func = |store: &mut Store<StoreState>, export| {
        instance
            .get_module_export(&mut *store, export)
            .and_then(wasmtime::Extern::into_func)
            .expect("the export was checked when the module was compiled")
    };
    match &module.entry {
        Entry::Command { start } => {
            let start = func(store, start)
                .typed::<(), ()>(&*store)
                .map_err(Failure::Wasm)?;
            match start.call_async(&mut *store, ()).await {
                Ok(()) => {}
                Err(e) if e.downcast_ref::<I32Exit>().is_some_and(|exit| exit.0 == 0) => {}
                Err(e) => return Err(Failure::Wasm(e)),
            }
            Ok(stdout.take())
        }
        Entry::Handle {
            handle,
            memory,
            malloc,
            initialize,
        } => {
            let input = handle_input.unwrap_or_default();
            let memory = instance
                .get_module_export(&mut *store, memory)
                .and_then(wasmtime::Extern::into_memory)
                .expect("the export was checked when the module was compiled");
            if let Some(initialize) = initialize {
                let initialize = func(store, initialize)
                    .typed::<(), ()>(&*store)
                    .map_err(Failure::Wasm)?;
                initialize
                    .call_async(&mut *store, ())
                    .await
                    .map_err(Failure::Wasm)?;
            }
            let input_len = u32::try_from(input.len())
                .map_err(|_| Failure::Abi("input is larger than 4 GiB".into()))?;
            let input_ptr = if input.is_empty() {
                0
            } else {
                // Without `malloc` there is nowhere to put the input; the Go engine
                // silently passed (0, len) and the guest read garbage.
                let Some(malloc) = malloc else {
                    return Err(Failure::Abi(format!(
                        "the module exports no `malloc`, so it cannot take the {input_len}-byte input"
                    )));
                };
                let malloc = func(store, malloc)
                    .typed::<i32, i32>(&*store)
                    .map_err(Failure::Wasm)?;
                let ptr = malloc
                    .call_async(&mut *store, input_len as i32)
                    .await
                    .map_err(Failure::Wasm)? as u32;
                let range = abi::guest_range(
                    "`malloc`'s block for the input",
                    ptr,
                    input_len,
                    memory.data_size(&*store),
                )
                .map_err(|e| Failure::Abi(abi_reason(e)))?;
                memory.data_mut(&mut *store)[range].copy_from_slice(&input);
                ptr
            };
            let handle = func(store, handle)
                .typed::<(i32, i32), i64>(&*store)
                .map_err(Failure::Wasm)?;
            let packed = handle
                .call_async(&mut *store, (input_ptr as i32, input_len as i32))
                .await
                .map_err(Failure::Wasm)?;
            let (ptr, len) = abi::unpack_result(packed);
            if u64::from(len) > max_output_bytes {
                return Err(Failure::OutputTooLarge(max_output_bytes));
            }
            let range = abi::guest_range("output", ptr, len, memory.data_size(&*store))
                .map_err(|e| Failure::Abi(abi_reason(e)))?;
            Ok(Bytes::copy_from_slice(&memory.data(&*store)[range]))
        }
    }
}

fn abi_reason(error: Error) -> String {
    match error {
        Error::Abi { reason } => reason,
        other => other.to_string(),
    }
}

/// Turns the reason a run stopped into the engine's error, looking at what the limiter
/// and pipes saw first: a guest that hit a limit often fails in its own way afterwards
/// (an abort, a panic message), and the limit is the cause worth reporting.
fn classify(
    failure: Failure,
    limits: &Limits,
    [stdout, stderr]: [&BoundedPipe; 2],
    config: &Config,
    timeout: Duration,
) -> Error {
    let error = match failure {
        Failure::Abi(reason) => return Error::Abi { reason },
        Failure::OutputTooLarge(limit_bytes) => {
            return Error::OutputTooLarge {
                stream: OutputStream::Stdout,
                limit_bytes,
            };
        }
        Failure::Wasm(error) => error,
    };
    if error.downcast_ref::<DeadlineExceeded>().is_some() {
        return Error::Timeout { limit: timeout };
    }
    if stdout.overflowed() {
        return Error::OutputTooLarge {
            stream: OutputStream::Stdout,
            limit_bytes: config.max_output_bytes,
        };
    }
    if stderr.overflowed() {
        return Error::OutputTooLarge {
            stream: OutputStream::Stderr,
            limit_bytes: config.max_log_bytes,
        };
    }
    if limits.memory_denied {
        return Error::MemoryLimit {
            limit_bytes: limits.max_memory_bytes as u64,
        };
    }
    if limits.table_denied {
        return Error::ResourceLimit {
            resource: "table elements",
            limit: limits.max_table_elements as u64,
        };
    }
    if let Some(exit) = error.downcast_ref::<I32Exit>() {
        return Error::Exit {
            code: exit.0,
            stderr_tail: stderr.tail(STDERR_TAIL_BYTES),
        };
    }
    if error
        .downcast_ref::<wasmtime::PoolConcurrencyLimitError>()
        .is_some()
    {
        return Error::Unavailable {
            reason: format!("{error}"),
        };
    }
    if let Some(trap) = error.downcast_ref::<wasmtime::Trap>() {
        let description = trap.to_string();
        let description = description
            .strip_prefix("wasm trap: ")
            .unwrap_or(&description);
        return Error::Trap {
            code: trap_code(*trap),
            message: with_backtrace(description.to_string(), &error),
        };
    }
    let mut message = format!("{error:#}");
    truncate_at_char(&mut message, MAX_HOST_TRAP_MESSAGE_BYTES);
    Error::Trap {
        code: TrapCode::HostTrap,
        message: with_backtrace(message, &error),
    }
}

/// How many frames of a guest's backtrace an error message shows: a deep recursion has
/// hundreds of thousands, and a message goes into records, logs and responses.
const BACKTRACE_FRAMES: usize = 12;
/// The most bytes of a host error's message a trap carries.
const MAX_HOST_TRAP_MESSAGE_BYTES: usize = 2048;

/// `message` with the first [`BACKTRACE_FRAMES`] frames of the wasm backtrace, if any.
fn with_backtrace(mut message: String, error: &wasmtime::Error) -> String {
    use std::fmt::Write as _;
    let Some(backtrace) = error.downcast_ref::<wasmtime::WasmBacktrace>() else {
        return message;
    };
    let frames = backtrace.frames();
    for (i, frame) in frames.iter().take(BACKTRACE_FRAMES).enumerate() {
        let name = frame.func_name().map_or_else(
            || format!("<wasm function {}>", frame.func_index()),
            str::to_string,
        );
        let _ = match frame.module_offset() {
            Some(offset) => write!(message, "\n  {i}: {name} at {offset:#x}"),
            None => write!(message, "\n  {i}: {name}"),
        };
    }
    if frames.len() > BACKTRACE_FRAMES {
        let _ = write!(
            message,
            "\n  … {} more frames",
            frames.len() - BACKTRACE_FRAMES
        );
    }
    message
}

fn truncate_at_char(text: &mut String, max: usize) {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
}

fn trap_code(trap: wasmtime::Trap) -> TrapCode {
    use wasmtime::Trap as T;
    match trap {
        T::StackOverflow => TrapCode::StackOverflow,
        T::MemoryOutOfBounds => TrapCode::MemoryOutOfBounds,
        T::HeapMisaligned => TrapCode::HeapMisaligned,
        T::TableOutOfBounds => TrapCode::TableOutOfBounds,
        T::IndirectCallToNull => TrapCode::IndirectCallToNull,
        T::BadSignature => TrapCode::BadSignature,
        T::IntegerOverflow => TrapCode::IntegerOverflow,
        T::IntegerDivisionByZero => TrapCode::IntegerDivisionByZero,
        T::BadConversionToInteger => TrapCode::BadConversionToInteger,
        T::UnreachableCodeReached => TrapCode::UnreachableCodeReached,
        T::OutOfFuel => TrapCode::OutOfFuel,
        _ => TrapCode::Other,
    }
}

/// Called by wasmtime each time a running guest reaches its epoch deadline: stop it if
/// its wall-clock deadline has passed, otherwise yield to the executor and check again
/// after a few more ticks (or exactly at the deadline, whichever is first).
fn on_epoch_deadline(
    store: wasmtime::StoreContextMut<'_, StoreState>,
) -> wasmtime::Result<UpdateDeadline> {
    let state = store.data();
    let now = Instant::now();
    if now >= state.deadline {
        return Err(wasmtime::Error::new(DeadlineExceeded));
    }
    let ticks = ticks_until(state.deadline - now, state.tick).min(YIELD_EVERY_TICKS);
    Ok(UpdateDeadline::Yield(ticks))
}

/// Whole epoch ticks covering `duration`, rounded up, at least one.
fn ticks_until(duration: Duration, tick: Duration) -> u64 {
    let ticks = duration.as_nanos().div_ceil(tick.as_nanos().max(1));
    u64::try_from(ticks).unwrap_or(u64::MAX).max(1)
}

/// Whether `bytes` look like the WebAssembly text format: UTF-8 opening with `(` or a
/// comment. Such a module's error is wasmtime's own; anything else is not a module.
fn looks_like_text(bytes: &[u8]) -> bool {
    std::str::from_utf8(bytes).is_ok_and(|text| {
        let text = text.trim_start();
        text.starts_with('(') || text.starts_with(";;")
    })
}

fn compile_blocking(
    engine: &Engine,
    linker: &Linker<StoreState>,
    cid: Cid,
    bytes: &[u8],
) -> Result<CompiledModule> {
    let deploy = |message: String| Error::Deploy { cid, message };
    let module = Module::new(engine, bytes).map_err(|e| {
        if bytes.starts_with(b"\0asm") || looks_like_text(bytes) {
            deploy(format!("{e:?}"))
        } else {
            // wasmtime read it as the text format; say so, or a binary with a broken
            // header gets a puzzling complaint about text.
            deploy(format!(
                "not a wasm binary (it does not start with the `\\0asm` magic) and not \
                 valid WAT text either: {e:?}"
            ))
        }
    })?;
    let (abi, entry) = abi::detect(&module).map_err(deploy)?;
    let pre = linker
        .instantiate_pre(&module)
        .map_err(|e| deploy(format!("{e:#}")))?;
    let image = module.image_range();
    let size_bytes = (image.end as usize - image.start as usize) as u64;
    Ok(CompiledModule {
        cid,
        abi,
        entry,
        pre,
        size_bytes,
    })
}

fn build_engine(config: &Config) -> Result<(Engine, bool)> {
    let base = base_config(config);
    if config.pooling.enabled {
        let mut pooled = base.clone();
        pooled.allocation_strategy(InstanceAllocationStrategy::Pooling(pooling_config(config)));
        match Engine::new(&pooled) {
            Ok(engine) => return Ok((engine, true)),
            Err(error) => tracing::warn!(
                error = %format!("{error:#}"),
                slots = config.pooling.slots,
                "the pooling allocator could not be set up; falling back to on-demand allocation"
            ),
        }
    }
    let engine = Engine::new(&base).map_err(|e| internal("creating the wasmtime engine", &e))?;
    Ok((engine, false))
}

fn base_config(config: &Config) -> wasmtime::Config {
    let mut c = wasmtime::Config::new();
    c.epoch_interruption(true);
    c.consume_fuel(config.fuel.is_some());
    c.max_wasm_stack(to_usize(config.max_wasm_stack_bytes));
    // Host calls (WASI) run on the guest's fiber stack above the wasm frames.
    c.async_stack_size(to_usize(config.max_wasm_stack_bytes) + (1 << 20));
    c.memory_init_cow(config.pooling.copy_on_write);
    // Proposals a function does not need stay off: GC had a bug that let guests abort the
    // host, and threads would let a guest outlive its invocation. (Threads are also not
    // compiled in: wasmtime's `threads` feature is off, so there is no switch to turn.)
    c.wasm_gc(false);
    c.wasm_shared_everything_threads(false);
    c.wasm_stack_switching(false);
    c.wasm_memory64(false);
    c
}

fn pooling_config(config: &Config) -> PoolingAllocationConfig {
    let slots = config.pooling.slots;
    let keep = to_usize(config.pooling.keep_resident_bytes);
    let mut p = PoolingAllocationConfig::default();
    p.total_memories(slots * config.max_memories)
        .total_tables(slots * config.max_tables)
        .total_core_instances(slots * config.max_instances)
        .total_stacks(slots)
        .total_component_instances(0)
        .max_memories_per_module(config.max_memories)
        .max_tables_per_module(config.max_tables)
        .table_elements(to_usize(config.max_table_elements))
        .max_memory_size(to_usize(config.max_memory_bytes))
        .linear_memory_keep_resident(keep)
        .table_keep_resident(keep)
        .pagemap_scan(Enabled::No);
    p
}

/// One thread per runtime advances the epoch every `tick`; it holds only a weak handle
/// to the engine and stops when the runtime is dropped.
fn spawn_ticker(engine: &Engine, tick: Duration, stop: Arc<AtomicBool>) -> Result<()> {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("fn-epoch-ticker".into())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(tick);
                match weak.upgrade() {
                    Some(engine) => engine.increment_epoch(),
                    None => break,
                }
            }
        })
        .map(drop)
        .map_err(|e| Error::Internal {
            message: format!("spawning the epoch ticker thread: {e}"),
        })
}

fn internal(what: &str, error: &wasmtime::Error) -> Error {
    Error::Internal {
        message: format!("{what}: {error:#}"),
    }
}

fn to_usize(value: u64) -> usize {
    usize::try_from(value).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests;
