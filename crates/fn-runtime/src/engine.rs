//! The mapping from the engine's [`Config`] to one wasmtime `Engine`: which proposals
//! are on, the stack, fuel, epochs, and the pooling allocator (with its fallback to
//! on-demand allocation when the pool's address space cannot be reserved).
//!
//! Why one place: every wasmtime switch that bears on safety (GC and threads off, the
//! stack, the pool's slot sizes) is read here against the config field that decides it.

use fn_core::{Config, Result};
use wasmtime::{Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use crate::{internal, to_usize};

/// The engine for `config`, and whether it uses the pooling allocator.
pub(crate) fn build(config: &Config) -> Result<(Engine, bool)> {
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
