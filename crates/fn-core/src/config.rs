//! Engine-wide configuration: the caps every function lives under.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

mod admission;
mod compile_worker;
mod pooling;
mod validate;
pub use admission::AdmissionConfig;
pub use compile_worker::CompileWorker;
pub use pooling::PoolingConfig;

/// The engine's limits and switches. Every field documents its default; [`Config::validate`]
/// checks them together, and the engine refuses to build with an invalid config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The longest any invocation may run; a function's own timeout is capped by it.
    /// At most 24 h. Default 30 s.
    #[serde(with = "crate::serde_duration::millis")]
    pub max_timeout: Duration,
    /// The most linear memory any function may have, in bytes; a function's own limit is
    /// capped by it, and the pooling allocator sizes its slots with it. Default 256 MiB.
    #[serde(deserialize_with = "crate::units::size::deserialize")]
    pub max_memory_bytes: u64,
    /// Capacity of the compiled-module cache in memory, in bytes of compiled image (see
    /// `fn_runtime::CompiledModule::size_bytes` for how a module is weighed). Default
    /// 512 MiB.
    #[serde(deserialize_with = "crate::units::size::deserialize")]
    pub module_cache_capacity_bytes: u64,
    /// The folder of the artifact tier: compiled modules kept on disk, so a restarted
    /// engine loads them instead of compiling them again. Created (mode 0700) when
    /// absent; a folder that cannot be opened or written is logged and the engine runs
    /// without it. Default none (no disk tier); `fnd run` uses `$XDG_CACHE_HOME/fnd`.
    pub artifact_cache_dir: Option<PathBuf>,
    /// The most the artifact tier may hold, in bytes of files; past it the least
    /// recently used artifacts are removed. Default 2 GiB.
    #[serde(deserialize_with = "crate::units::size::deserialize")]
    pub artifact_cache_capacity_bytes: u64,
    /// The largest module accepted for compiling, in bytes. Default 32 MiB.
    #[serde(deserialize_with = "crate::units::size::deserialize")]
    pub max_module_bytes: u64,
    /// The longest one compile may take before the caller gets
    /// [`Error::CompileTimeout`]. Default 30 s.
    #[serde(with = "crate::serde_duration::millis")]
    pub compile_timeout: Duration,
    /// How long a module whose compile timed out is refused at once, with
    /// [`Error::CompileTimeout`], before a later call may try to compile it again: a
    /// timeout depends on the machine's load, unlike a module that does not compile (that
    /// one is refused for good). Zero retries at the next call. At most 24 h. Default 60 s.
    #[serde(with = "crate::serde_duration::millis")]
    pub compile_timeout_retry_after: Duration,
    /// How many modules may compile at once. Default: the number of cores.
    pub max_concurrent_compiles: usize,
    /// Where modules compile. `None` compiles on a blocking thread of this process: a
    /// compile past its timeout is abandoned but runs on, holding its CPU, its memory
    /// and its compile slot until Cranelift finishes. `Some` runs each compile in a child
    /// process (a compile worker) capped by `compile_memory_limit_bytes` and killed at
    /// `compile_timeout`, its memory returned at once: what a host of untrusted modules
    /// wants. Default none (a library has no worker program to name); `fnd` sets itself.
    pub compile_worker: Option<CompileWorker>,
    /// The most address space one compile worker may use, in bytes (its `RLIMIT_AS`,
    /// which also bounds what it may allocate). A module whose compile needs more is
    /// refused with [`Error::Deploy`]. At least 256 MiB. Only with `compile_worker`.
    /// Default 2 GiB.
    #[serde(deserialize_with = "crate::units::size::deserialize")]
    pub compile_memory_limit_bytes: u64,
    /// The largest input accepted, in bytes. Default 6 MiB.
    #[serde(deserialize_with = "crate::units::size::deserialize")]
    pub max_input_bytes: u64,
    /// The most a function may write to stdout (its output), in bytes. Default 6 MiB.
    #[serde(deserialize_with = "crate::units::size::deserialize")]
    pub max_output_bytes: u64,
    /// The most a function may write to stderr (its log), in bytes. Default 1 MiB.
    #[serde(deserialize_with = "crate::units::size::deserialize")]
    pub max_log_bytes: u64,
    /// Whether every invocation is given to the invocation logger. Default true.
    pub log_invocations: bool,
    /// The most elements any table may hold. Default 10 000.
    pub max_table_elements: u64,
    /// The most module instances one invocation may create. Default 1.
    pub max_instances: u32,
    /// The most tables one invocation may create. Default 1.
    pub max_tables: u32,
    /// The most linear memories one invocation may create. Default 1.
    pub max_memories: u32,
    /// The most core instances one invocation of a component may create, in place of
    /// `max_instances`: a component is several core modules linked together (a Rust
    /// `wasm32-wasip2` command: its program, and the shims wit-component adds). Default 16.
    pub max_component_instances: u32,
    /// The most tables one invocation of a component may create, in place of
    /// `max_tables` (the shims' tables of indirect calls). Default 8.
    pub max_component_tables: u32,
    /// The most wasm stack one invocation may use, in bytes. Default 512 KiB.
    #[serde(deserialize_with = "crate::units::size::deserialize")]
    pub max_wasm_stack_bytes: u64,
    /// Fuel given to each invocation when set, for deterministic CPU caps. Default none.
    pub fuel: Option<u64>,
    /// The epoch tick: the granularity of deadlines. Default 1 ms.
    #[serde(with = "crate::serde_duration::micros")]
    pub epoch_tick: Duration,
    /// The most random bytes one WASI `random_get` may ask for. Default 1 MiB.
    #[serde(deserialize_with = "crate::units::size::deserialize")]
    pub max_random_bytes: u64,
    /// The most WASI resources (file descriptors, streams) one invocation may hold.
    /// Default 256.
    pub max_wasi_resources: u64,
    /// The most bytes the guest may hand the host in one host call (wasmtime's hostcall
    /// fuel): iovec arrays, paths, and the buffer of one read or write. A call over it
    /// gets `ENOMEM`. It must exceed the largest single read or write buffer a function
    /// uses (a Rust guest reading a 6 MiB input asks for up to 8 MiB at once). Default
    /// 32 MiB (wasmtime's own default is 128 MiB).
    #[serde(deserialize_with = "crate::units::size::deserialize")]
    pub max_hostcall_bytes: u64,
    /// The most outbound HTTP requests (`wasi:http/outgoing-handler`) one invocation may
    /// send; one more is refused with `HTTP-request-denied`. Default 16, at most 10 000.
    pub max_outbound_requests: u32,
    /// The pooling instance allocator.
    pub pooling: PoolingConfig,
    /// Admission: rate limits per key and invocations running at once. Default: no rate
    /// limit, as many at once as the pool has slots, half of them at most per namespace.
    pub admission: AdmissionConfig,
    /// Host folders under which a function's definition may name preopened folders
    /// (absolute, without `..`). Default empty: no function gets a filesystem.
    pub preopen_roots: Vec<PathBuf>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            max_timeout: Duration::from_secs(30),
            max_memory_bytes: 256 << 20,
            module_cache_capacity_bytes: 512 << 20,
            artifact_cache_dir: None,
            artifact_cache_capacity_bytes: 2 << 30,
            max_module_bytes: 32 << 20,
            compile_timeout: Duration::from_secs(30),
            compile_timeout_retry_after: Duration::from_secs(60),
            max_concurrent_compiles: std::thread::available_parallelism().map_or(2, |n| n.get()),
            compile_worker: None,
            compile_memory_limit_bytes: 2 << 30,
            max_input_bytes: 6 << 20,
            max_output_bytes: 6 << 20,
            max_log_bytes: 1 << 20,
            log_invocations: true,
            max_table_elements: 10_000,
            max_instances: 1,
            max_tables: 1,
            max_memories: 1,
            max_component_instances: 16,
            max_component_tables: 8,
            max_wasm_stack_bytes: 512 << 10,
            fuel: None,
            epoch_tick: Duration::from_millis(1),
            max_random_bytes: 1 << 20,
            max_wasi_resources: 256,
            max_hostcall_bytes: 32 << 20,
            max_outbound_requests: 16,
            pooling: PoolingConfig::default(),
            admission: AdmissionConfig::default(),
            preopen_roots: Vec::new(),
        }
    }
}

/// The most memory a function may be given: 4 GiB, all a 32-bit wasm memory can address.
pub const MEMORY_CEILING_BYTES: u64 = 4 << 30;

impl Config {
    /// Invocations that may run at once in all: `admission.max_concurrent`, or the pool's
    /// slot count.
    pub fn max_concurrent(&self) -> u32 {
        self.admission.max_concurrent.unwrap_or(self.pooling.slots)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;

    #[test]
    fn default_is_valid() {
        Config::default().validate().unwrap();
    }

    #[test]
    fn names_the_wrong_field() {
        let cases: Vec<(&str, Mutation)> = vec![
            ("max_timeout", |c| c.max_timeout = Duration::ZERO),
            ("max_timeout", |c| c.max_timeout = Duration::MAX),
            ("max_memory_bytes", |c| c.max_memory_bytes = 0),
            ("max_memory_bytes", |c| c.max_memory_bytes = 5 << 30),
            ("max_output_bytes", |c| c.max_output_bytes = 0),
            ("epoch_tick", |c| c.epoch_tick = Duration::from_nanos(10)),
            ("epoch_tick", |c| {
                c.max_timeout = Duration::from_millis(5);
                c.epoch_tick = Duration::from_millis(10);
            }),
            ("fuel", |c| c.fuel = Some(0)),
            ("artifact_cache_capacity_bytes", |c| {
                c.artifact_cache_capacity_bytes = 0;
            }),
            ("artifact_cache_dir", |c| {
                c.artifact_cache_dir = Some(PathBuf::new());
            }),
            ("module_cache_capacity_bytes", |c| {
                c.module_cache_capacity_bytes = 0;
            }),
            ("pooling.slots", |c| c.pooling.slots = 0),
            ("max_component_instances", |c| c.max_component_instances = 0),
            ("max_component_tables", |c| c.max_component_tables = 0),
            ("max_outbound_requests", |c| c.max_outbound_requests = 0),
            ("max_outbound_requests", |c| {
                c.max_outbound_requests = 10_001
            }),
            ("max_component_instances", |c| {
                c.max_component_instances = 1_001
            }),
            ("max_concurrent_compiles", |c| c.max_concurrent_compiles = 0),
            ("compile_memory_limit_bytes", |c| {
                c.compile_memory_limit_bytes = 255 << 20;
            }),
            ("compile_worker.program", |c| {
                c.compile_worker = Some(CompileWorker {
                    program: PathBuf::new(),
                    args: Vec::new(),
                });
            }),
            ("compile_timeout_retry_after", |c| {
                c.compile_timeout_retry_after = Duration::from_secs(2 * 24 * 60 * 60);
            }),
        ];
        each_names_its_field(cases);
    }

    /// A config mutation, and the field `validate` must name for it.
    pub(super) type Mutation = fn(&mut Config);

    /// Asserts that each mutation of the default config is refused naming its field.
    pub(super) fn each_names_its_field(cases: Vec<(&str, Mutation)>) {
        for (expected, mutate) in cases {
            let mut config = Config::default();
            mutate(&mut config);
            match config.validate() {
                Err(Error::Validation { field, .. }) => assert_eq!(field, expected),
                other => panic!("{expected}: expected a validation error, got {other:?}"),
            }
        }
    }

    #[test]
    fn partial_json_takes_defaults() {
        let config: Config = serde_json::from_str(r#"{"max_timeout": 1500}"#).unwrap();
        assert_eq!(config.max_timeout, Duration::from_millis(1500));
        assert_eq!(config.max_output_bytes, Config::default().max_output_bytes);
    }
}
