//! What the engine is measured against, built here in the same process and run: a
//! naive wasmtime embedding, and the bare optimised one with nothing of the engine's.
//!
//! Why built here rather than read from a file of old figures: on a shared, noisy
//! machine only ratios taken in the same run mean anything (`../shared/perf-baseline` is
//! the reference these follow).

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result, ensure};
use bytes::Bytes;
use fn_core::Config;
use wasmtime::{
    Engine, Instance, InstanceAllocationStrategy, InstancePre, Linker, Module,
    PoolingAllocationConfig, Store,
};
use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi::p1::{self, WasiP1Ctx};
use wasmtime_wasi::p2::pipe::{MemoryInputPipe, MemoryOutputPipe};

use crate::workload::{Abi, Workload};
use crate::{Invoke, Invoker, Setup};

/// wasmtime's errors into anyhow's (wasmtime's `anyhow` feature is off).
trait Wasm<T> {
    fn w(self) -> Result<T>;
}

impl<T> Wasm<T> for wasmtime::Result<T> {
    fn w(self) -> Result<T> {
        self.map_err(|error| anyhow::anyhow!("{error:?}"))
    }
}

/// The most a guest may write to stdout or stderr in the baselines.
const PIPE_CAPACITY: usize = 2 << 20;

/// The bare embedding's epoch deadline: 3,000 ticks of 10 ms, as the baseline crate.
const DEADLINE_TICKS: u64 = 3_000;

/// A fresh WASI context for one call: argv\[0\], the input on stdin (a command), stdout
/// and stderr into memory.
fn wasi(workload: &Workload, input: &Bytes) -> (WasiP1Ctx, MemoryOutputPipe) {
    let stdout = MemoryOutputPipe::new(PIPE_CAPACITY);
    let mut builder = WasiCtxBuilder::new();
    builder
        .arg(workload.guest)
        .stdout(stdout.clone())
        .stderr(MemoryOutputPipe::new(PIPE_CAPACITY));
    if workload.abi == Abi::Command {
        builder.stdin(MemoryInputPipe::new(input.clone()));
    }
    (builder.build_p1(), stdout)
}

fn stdout_of(stdout: MemoryOutputPipe) -> Result<Bytes> {
    Ok(stdout
        .try_into_inner()
        .context("the store still holds stdout")?
        .freeze())
}

/// Calls a handle-ABI guest as docs/abi.md says: `_initialize` when exported, `malloc`
/// for the input, `handle`, and the output copied out of memory.
async fn call_handle(
    store: &mut Store<WasiP1Ctx>,
    instance: Instance,
    input: &Bytes,
) -> Result<Bytes> {
    if let Ok(init) = instance.get_typed_func::<(), ()>(&mut *store, "_initialize") {
        init.call_async(&mut *store, ()).await.w()?;
    }
    let memory = instance
        .get_memory(&mut *store, "memory")
        .context("no memory")?;
    let len = i32::try_from(input.len())?;
    let ptr = if input.is_empty() {
        0
    } else {
        let malloc = instance
            .get_typed_func::<i32, i32>(&mut *store, "malloc")
            .w()?;
        let ptr = malloc.call_async(&mut *store, len).await.w()?;
        memory.write(&mut *store, usize::try_from(ptr)?, input)?;
        ptr
    };
    let handle = instance
        .get_typed_func::<(i32, i32), i64>(&mut *store, "handle")
        .w()?;
    let packed = handle.call_async(&mut *store, (ptr, len)).await.w()? as u64;
    let (out_ptr, out_len) = ((packed & 0xffff_ffff) as usize, (packed >> 32) as usize);
    let data = memory.data(&*store);
    let output = data
        .get(out_ptr..out_ptr + out_len)
        .context("the output is out of bounds")?;
    Ok(Bytes::copy_from_slice(output))
}

/// The naive embedding: one module compiled once, and per call a new `Store`, a fresh
/// WASI context and `Linker::instantiate` (imports resolved again each time), on
/// wasmtime's default on-demand allocator, synchronously.
#[derive(Clone)]
pub struct Naive {
    engine: Engine,
    module: Module,
    linker: Arc<Linker<WasiP1Ctx>>,
    workload: Workload,
}

impl std::fmt::Debug for Naive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Naive").finish_non_exhaustive()
    }
}

impl Naive {
    /// Compiles `workload`'s guest.
    ///
    /// # Errors
    ///
    /// When wasmtime cannot compile it or link WASI.
    pub fn new(workload: &Workload) -> Result<Naive> {
        let engine = Engine::default();
        let module = Module::new(&engine, workload.wasm()).w()?;
        let mut linker = Linker::new(&engine);
        p1::add_to_linker_sync(&mut linker, |ctx| ctx).w()?;
        Ok(Naive {
            engine,
            module,
            linker: Arc::new(linker),
            workload: workload.clone(),
        })
    }
}

impl Invoke for Naive {
    fn invoke(&mut self, input: &Bytes) -> Result<Bytes> {
        let (ctx, stdout) = wasi(&self.workload, input);
        let mut store = Store::new(&self.engine, ctx);
        let instance = self.linker.instantiate(&mut store, &self.module).w()?;
        let output = match self.workload.abi {
            Abi::Command => {
                let start = instance
                    .get_typed_func::<(), ()>(&mut store, "_start")
                    .w()?;
                start.call(&mut store, ()).w()?;
                drop(store);
                return stdout_of(stdout);
            }
            Abi::Handle => {
                // The sync linker's WASI functions run without a fiber; calling
                // through `call` keeps the naive embedding synchronous.
                if let Ok(init) = instance.get_typed_func::<(), ()>(&mut store, "_initialize") {
                    init.call(&mut store, ()).w()?;
                }
                let memory = instance
                    .get_memory(&mut store, "memory")
                    .context("no memory")?;
                let len = i32::try_from(input.len())?;
                let malloc = instance
                    .get_typed_func::<i32, i32>(&mut store, "malloc")
                    .w()?;
                let ptr = malloc.call(&mut store, len).w()?;
                memory.write(&mut store, usize::try_from(ptr)?, input)?;
                let handle = instance
                    .get_typed_func::<(i32, i32), i64>(&mut store, "handle")
                    .w()?;
                let packed = handle.call(&mut store, (ptr, len)).w()? as u64;
                let (at, n) = ((packed & 0xffff_ffff) as usize, (packed >> 32) as usize);
                Bytes::copy_from_slice(
                    memory
                        .data(&store)
                        .get(at..at + n)
                        .context("the output is out of bounds")?,
                )
            }
        };
        Ok(output)
    }
}

impl Setup for Naive {
    fn invoker(&self) -> Invoker {
        Box::new(self.clone())
    }
}

/// The bare optimised embedding: what a careful wasmtime user writes, and nothing of
/// the engine (no admission, records, limiter, telemetry, bounded pipes or deadline
/// callback). The pooling allocator with the engine's pool (the same slots, memory
/// size and memory kept resident, copy-on-write), one `InstancePre`, async WASI on a
/// current-thread runtime per thread, epoch interruption with a 10 ms ticker thread.
pub struct Bare {
    engine: Engine,
    pre: InstancePre<WasiP1Ctx>,
    workload: Workload,
    _ticker: Arc<TickerStop>,
}

impl std::fmt::Debug for Bare {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bare").finish_non_exhaustive()
    }
}

/// Stops the bare embedding's ticker thread when the last handle goes.
#[derive(Debug)]
struct TickerStop(Arc<std::sync::atomic::AtomicBool>);

impl Drop for TickerStop {
    fn drop(&mut self) {
        self.0.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// The pooling allocator's settings of `config`, as fn-runtime sets them for the
/// engine (one memory and one table per instance, as a guest of these workloads has).
fn pool(config: &Config) -> PoolingAllocationConfig {
    let slots = config.pooling.slots;
    let keep = usize::try_from(config.pooling.keep_resident_bytes).unwrap_or(usize::MAX);
    let mut pool = PoolingAllocationConfig::default();
    pool.total_memories(slots)
        .total_tables(slots)
        .total_core_instances(slots)
        .total_stacks(slots)
        .total_component_instances(0)
        .max_memory_size(usize::try_from(config.max_memory_bytes).unwrap_or(usize::MAX))
        .linear_memory_keep_resident(keep)
        .table_keep_resident(keep);
    pool
}

impl Bare {
    /// Compiles `workload`'s guest with the pool of `config` (the engine's under test).
    ///
    /// # Errors
    ///
    /// When wasmtime refuses the configuration (the pool cannot be reserved), the
    /// guest, or WASI's linking.
    pub fn new(workload: &Workload, config: &Config) -> Result<Bare> {
        let mut wasmtime = wasmtime::Config::new();
        wasmtime
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool(config)))
            .memory_init_cow(true)
            .epoch_interruption(true);
        let engine = Engine::new(&wasmtime).w()?;
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (weak, stopped) = (engine.weak(), stop.clone());
        std::thread::spawn(move || {
            while !stopped.load(std::sync::atomic::Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(10));
                match weak.upgrade() {
                    Some(engine) => engine.increment_epoch(),
                    None => break,
                }
            }
        });
        let module = Module::new(&engine, workload.wasm()).w()?;
        let mut linker = Linker::new(&engine);
        p1::add_to_linker_async(&mut linker, |ctx| ctx).w()?;
        let pre = linker.instantiate_pre(&module).w()?;
        Ok(Bare {
            engine,
            pre,
            workload: workload.clone(),
            _ticker: Arc::new(TickerStop(stop)),
        })
    }
}

/// One thread's bare invoker: the shared embedding and the thread's own executor.
struct BareInvoker {
    engine: Engine,
    pre: InstancePre<WasiP1Ctx>,
    workload: Workload,
    executor: tokio::runtime::Runtime,
    _ticker: Arc<TickerStop>,
}

impl Invoke for BareInvoker {
    fn invoke(&mut self, input: &Bytes) -> Result<Bytes> {
        self.executor.block_on(async {
            let (ctx, stdout) = wasi(&self.workload, input);
            let mut store = Store::new(&self.engine, ctx);
            store.set_epoch_deadline(DEADLINE_TICKS);
            store.epoch_deadline_trap();
            let instance = self.pre.instantiate_async(&mut store).await.w()?;
            match self.workload.abi {
                Abi::Command => {
                    let start = instance
                        .get_typed_func::<(), ()>(&mut store, "_start")
                        .w()?;
                    start.call_async(&mut store, ()).await.w()?;
                    drop(store);
                    stdout_of(stdout)
                }
                Abi::Handle => call_handle(&mut store, instance, input).await,
            }
        })
    }
}

impl Setup for Bare {
    fn invoker(&self) -> Invoker {
        let executor = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a current-thread executor");
        Box::new(BareInvoker {
            engine: self.engine.clone(),
            pre: self.pre.clone(),
            workload: self.workload.clone(),
            executor,
            _ticker: self._ticker.clone(),
        })
    }
}

/// Checks that `invoker` answers `workload` with its expected output.
///
/// # Errors
///
/// When the call fails or answers something else.
pub fn check(invoker: &mut dyn Invoke, workload: &Workload) -> Result<()> {
    let output = invoker.invoke(&workload.input)?;
    ensure!(
        output == workload.expect,
        "{}: answered {} bytes, not the {} expected",
        workload.name,
        output.len(),
        workload.expect.len()
    );
    Ok(())
}
