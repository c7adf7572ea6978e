//! The mapping from the engine's [`Config`] to one wasmtime `Engine`: which proposals
//! are on, the stack, fuel, epochs, and the pooling allocator (with its fallback to
//! on-demand allocation when the pool's address space cannot be reserved).
//!
//! Why one place: every wasmtime switch that bears on safety (GC and threads off, the
//! stack, the pool's slot sizes) is read here against the config field that decides it.

use fn_core::{Config, Result};
use sha2::{Digest, Sha256};
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
    // A slot holds a module's instance or a component's: its core instances and tables
    // come from totals sized for the larger of the two.
    let core_instances = config.max_instances.max(config.max_component_instances);
    let tables = config.max_tables.max(config.max_component_tables);
    p.total_memories(slots * config.max_memories)
        .total_tables(slots * tables)
        .total_core_instances(slots * core_instances)
        .total_stacks(slots)
        .total_component_instances(slots)
        .max_core_instances_per_component(config.max_component_instances)
        .max_memories_per_component(config.max_memories)
        .max_tables_per_component(config.max_component_tables)
        .max_memories_per_module(config.max_memories)
        .max_tables_per_module(config.max_tables)
        .table_elements(to_usize(config.max_table_elements))
        .max_memory_size(to_usize(config.max_memory_bytes))
        .linear_memory_keep_resident(keep)
        .table_keep_resident(keep)
        // Resets only the pages a guest dirtied (3.7x the HTTP invoke rate of `fnd serve`,
        // docs/performance.md). Before wasmtime 48.0.11 a dirty page that was swapped out
        // was neither reset nor decommitted (the scan asked for PRESENT pages only), so
        // the slot's next tenant could read it; 48.0.11 asks for PRESENT or SWAPPED, and
        // the test below puts a tenant's pages through swap to hold it to that.
        .pagemap_scan(if config.pooling.pagemap_scan {
            Enabled::Auto
        } else {
            Enabled::No
        });
    p
}

/// The format of fn-runtime's artifacts: bump it when what `Runtime::serialize` writes, or
/// what `Runtime::deserialize` expects of it, changes. 2: an artifact may be a
/// component's (told apart by wasmtime's header, `Engine::detect_precompiled`).
const ARTIFACT_FORMAT: &[u8] = b"fn-runtime artifact 2";

/// The artifact fingerprint of `engine`: see `Runtime::artifact_fingerprint`.
pub(crate) fn fingerprint(engine: &Engine) -> [u8; 32] {
    use std::hash::Hash as _;
    let mut hasher = Sha256Hasher(Sha256::new());
    hasher.0.update(ARTIFACT_FORMAT);
    engine.precompile_compatibility_hash().hash(&mut hasher);
    // The compatibility hash names the version strategy, not the version: an empty
    // module's artifact carries wasmtime's version string (and nothing that varies
    // between runs), so its digest adds it.
    match engine.precompile_module(b"(module)") {
        Ok(empty) => hasher.0.update(Sha256::digest(&empty)),
        Err(error) => {
            // Then artifacts are written under a fingerprint no other build shares.
            tracing::warn!(error = %format!("{error:#}"), "cannot precompile an empty module");
            hasher.0.update(env!("CARGO_PKG_VERSION"));
            hasher.0.update(std::process::id().to_le_bytes());
        }
    }
    hasher.0.finalize().into()
}

/// Feeds what a `Hash` implementation writes into sha2-256, so the digest is the same in
/// every process (std's hashers are seeded per process).
struct Sha256Hasher(Sha256);

impl std::hash::Hasher for Sha256Hasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    fn finish(&self) -> u64 {
        let digest = self.0.clone().finalize();
        u64::from_le_bytes(digest[..8].try_into().expect("8 bytes"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether any swap is on (`/proc/swaps` lists more than its header).
    fn swap_is_on() -> bool {
        std::fs::read_to_string("/proc/swaps").is_ok_and(|swaps| swaps.lines().count() > 1)
    }

    /// How many of the host pages at `ptr..ptr + len` are in swap (bit 62 of each page's
    /// `/proc/self/pagemap` entry).
    fn pages_in_swap(ptr: usize, len: usize) -> usize {
        use std::io::{Read as _, Seek as _, SeekFrom};
        let page = rustix::param::page_size();
        let mut pagemap = std::fs::File::open("/proc/self/pagemap").expect("pagemap");
        pagemap
            .seek(SeekFrom::Start((ptr / page * 8) as u64))
            .expect("seek");
        let mut entries = vec![0u8; len / page * 8];
        pagemap.read_exact(&mut entries).expect("read pagemap");
        entries
            .chunks_exact(8)
            .filter(|e| u64::from_le_bytes((*e).try_into().unwrap()) & (1 << 62) != 0)
            .count()
    }

    /// Tenant A's dirty pages are swapped out before its slot is reset (the reset
    /// happens when its store is dropped); tenant B, in the same slot, must read zeros.
    /// wasmtime 48.0.8's pagemap scan left such a page in place (it looked for PRESENT
    /// pages only). Needs swap: CI adds a swap file; elsewhere the test says why it did
    /// nothing.
    #[test]
    #[allow(clippy::print_stdout, reason = "says why the test did nothing")]
    fn a_dirty_page_in_swap_is_reset_before_the_next_tenant() {
        if !swap_is_on() {
            println!("skipped: no swap is on (/proc/swaps); CI adds a swap file for this test");
            return;
        }
        let mut config = Config::default();
        config.pooling.slots = 1;
        config.pooling.pagemap_scan = true;
        let (engine, pooled) = build(&config).unwrap();
        assert!(pooled, "one slot: B must reuse A's");
        // One wasm page, within the 64 KiB kept resident: the part the scan resets.
        let module =
            wasmtime::Module::new(&engine, r#"(module (memory (export "memory") 1))"#).unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let memory_of = |store: &mut wasmtime::Store<()>| {
            let instance = runtime
                .block_on(wasmtime::Instance::new_async(&mut *store, &module, &[]))
                .unwrap();
            instance.get_memory(&mut *store, "memory").unwrap()
        };

        let mut a = wasmtime::Store::new(&engine, ());
        let memory = memory_of(&mut a);
        memory.data_mut(&mut a).fill(0x5e);
        let (ptr, len) = (memory.data_ptr(&a) as usize, memory.data_size(&a));
        // SAFETY: the range is A's linear memory, mapped and owned by its store, which
        // is alive; MADV_PAGEOUT only moves its pages to swap, keeping their contents.
        #[allow(unsafe_code, reason = "madvise on the guest's own memory, by the test")]
        let paged =
            unsafe { rustix::mm::madvise(ptr as *mut _, len, rustix::mm::Advice::LinuxPageOut) };
        paged.expect("MADV_PAGEOUT");
        let swapped = pages_in_swap(ptr, len);
        if swapped == 0 {
            println!("skipped: the kernel kept A's pages resident despite MADV_PAGEOUT");
            return;
        }
        drop(a);

        let mut b = wasmtime::Store::new(&engine, ());
        let memory = memory_of(&mut b);
        assert_eq!(memory.data_ptr(&b) as usize, ptr, "B got A's slot");
        let leaked = memory.data(&b).iter().filter(|byte| **byte != 0).count();
        assert_eq!(
            leaked, 0,
            "{swapped} pages went through swap; B read {leaked} bytes of A's"
        );
    }
}
