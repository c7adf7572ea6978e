//! The bodies of the fuzz targets, in the workspace so that ordinary tests replay every
//! input that once failed (`fuzz/regressions/TARGET/`) and the seeds. `fuzz/` wraps each
//! for cargo-fuzz; `cargo xtask fuzz TARGET [--seconds N]` runs one.
//!
//! Every target panics exactly when it finds a bug: an oracle that does not hold, a
//! panic below it, an internal error, or an invocation without exactly one record.
//!
//! | target | input | oracle |
//! |---|---|---|
//! | [`deploy_and_invoke`] | module bytes | deploy and one invocation end in success or a typed error, one record |
//! | [`generated_module`] | wasm-smith's choices | the same, for a valid module it generates |
//! | [`handle_result`] | the `(len << 32) \| ptr` a handle guest returns | the exact output, `abi` out of bounds, `output_too_large` over the limit |
//! | [`conformance_spec`] | a case specification, manifest or expectations file | an error or a value, never a panic |
//!
//! # Example
//!
//! ```
//! // A module that is not one: refused at deploy, recorded once, no panic.
//! fn_fuzz::deploy_and_invoke(b"\0asm\x01\0\0\0\x01");
//! ```

use std::path::Path;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use bytes::Bytes;
use fn_core::{Config, Error, ErrorKind, FunctionDefinition, InvocationContext, MemoryLogger};
use fn_engine::Engine;
use fn_registry::InMemoryRegistry;

/// The output limit of the fuzzed engine: small, so a handle result can exceed it.
pub const MAX_OUTPUT_BYTES: u64 = 1024;

/// One engine for every input of a process, as a server has.
struct Harness {
    runtime: tokio::runtime::Runtime,
    engine: Engine,
    registry: Arc<InMemoryRegistry>,
    logger: Arc<MemoryLogger>,
    one_at_a_time: Mutex<()>,
}

static HARNESS: LazyLock<Harness> = LazyLock::new(|| {
    let mut config = Config::default();
    config.pooling.slots = 8;
    config.max_output_bytes = MAX_OUTPUT_BYTES;
    config.module_cache_capacity_bytes = 64 << 20;
    config.compile_timeout = Duration::from_secs(10);
    let registry = Arc::new(InMemoryRegistry::new());
    let logger = Arc::new(MemoryLogger::new());
    let engine = Engine::builder(registry.clone())
        .config(config)
        .invocation_logger(logger.clone())
        .build()
        .expect("the fuzz engine builds");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    Harness {
        runtime,
        engine,
        registry,
        logger,
        one_at_a_time: Mutex::new(()),
    }
});

/// Deploys `module` and runs it once with `input`: its result, after checking the
/// invariants every end must keep.
fn run(module: &[u8], input: &[u8]) -> Result<Bytes, Error> {
    let h = &*HARNESS;
    // One input at a time (tests call from several threads): the records taken below
    // are this input's alone.
    let _one = h.one_at_a_time.lock().unwrap_or_else(|e| e.into_inner());
    let mut definition = FunctionDefinition::new("fuzz", "target");
    definition.timeout = Duration::from_millis(50);
    definition.max_memory_bytes = 16 << 20;
    let module = Bytes::copy_from_slice(module);
    let deployed = h
        .runtime
        .block_on(h.engine.deploy(h.registry.as_ref(), definition, module));
    let function = match deployed {
        Ok(function) => function,
        Err(error) => {
            // Refused before anything ran: typed, and nothing recorded.
            assert_ne!(
                error.kind(),
                ErrorKind::Internal,
                "an engine bug: {error:?}"
            );
            assert_eq!(h.logger.take_all(), vec![], "a refused deploy is no call");
            return Err(error);
        }
    };
    let ctx = InvocationContext::default();
    let request_id = ctx.request_id.clone();
    let result = h.runtime.block_on(h.engine.execute(
        &function,
        Bytes::copy_from_slice(input),
        Some(ctx),
    ));
    if let Err(error) = &result {
        assert_ne!(
            error.kind(),
            ErrorKind::Internal,
            "an engine bug: {error:?}"
        );
    }
    let records = h.logger.take_all();
    assert_eq!(records.len(), 1, "one record per invocation: {records:?}");
    assert_eq!(records[0].request_id, request_id);
    result
}

/// Module bytes through deploy and one invocation.
pub fn deploy_and_invoke(data: &[u8]) {
    let _ = run(data, b"fuzz");
}

/// A module wasm-smith generates from `data` (within the proposals the engine runs, and
/// with WASI imports and a command's or handle function's exports), through deploy and
/// one invocation: its result, or `None` when `data` was too short to make one.
pub fn generated_module(data: &[u8]) -> Option<Result<Bytes, Error>> {
    let mut u = arbitrary::Unstructured::new(data);
    let handle = u.arbitrary::<bool>().ok()?;
    let module = wasm_smith::Module::new(smith_config(handle), &mut u).ok()?;
    // A handle function without `malloc` can take only empty input.
    Some(run(&module.to_bytes(), if handle { b"" } else { b"fuzz" }))
}

/// wasm-smith's settings: the engine's proposals, its imports, an ABI's exports.
#[must_use]
pub fn smith_config(handle: bool) -> wasm_smith::Config {
    let exports = if handle {
        r#"(module (memory (export "memory") 1)
            (func (export "handle") (param i32 i32) (result i64) unreachable))"#
    } else {
        r#"(module (memory (export "memory") 1) (func (export "_start") unreachable))"#
    };
    let imports = r#"(module
        (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))
        (import "wasi_snapshot_preview1" "random_get" (func (param i32 i32) (result i32)))
        (import "wasi_snapshot_preview1" "clock_time_get" (func (param i32 i64 i32) (result i32)))
        (import "wasi_snapshot_preview1" "sched_yield" (func (result i32)))
        (import "wasi_snapshot_preview1" "proc_exit" (func (param i32))))"#;
    wasm_smith::Config {
        exports: Some(wat::parse_str(exports).expect("valid WAT")),
        available_imports: Some(wat::parse_str(imports).expect("valid WAT")),
        max_memory32_bytes: 8 << 20,
        max_instructions: 200,
        max_memories: 1,
        max_tables: 1,
        max_table_elements: 1_000,
        gc_enabled: false,
        memory64_enabled: false,
        threads_enabled: false,
        exceptions_enabled: false,
        reference_types_enabled: false,
        ..wasm_smith::Config::default()
    }
}

/// The handle guest of [`handle_result`]: `malloc` is a bump allocator from 1024, and
/// `handle` returns the first 8 bytes of its input as its result.
const HANDLE_ECHO: &str = r#"(module
  (memory (export "memory") 1)
  (global $next (mut i32) (i32.const 1024))
  (func (export "malloc") (param $size i32) (result i32) (local $at i32)
    (local.set $at (global.get $next))
    (global.set $next (i32.add (global.get $next) (local.get $size)))
    (local.get $at))
  (func (export "handle") (param $ptr i32) (param $len i32) (result i64)
    (i64.load (local.get $ptr))))"#;

/// A handle-ABI result the fuzzer chooses (the first 8 bytes of `data`, little-endian:
/// `len << 32 | ptr`) against the one-page guest above, with an exact oracle: a result
/// outside the memory is `abi` (bounds are checked before size), one over
/// [`MAX_OUTPUT_BYTES`] is `output_too_large`, an empty one is empty wherever it points,
/// anything else is exactly those bytes of the guest's memory (zeros, but the input at
/// 1024).
pub fn handle_result(data: &[u8]) {
    let Some(result) = data.get(..8) else {
        return;
    };
    let value = u64::from_le_bytes(result.try_into().expect("8 bytes"));
    let (ptr, len) = (value & 0xffff_ffff, value >> 32);
    let outcome = run(HANDLE_ECHO.as_bytes(), result);
    let mut memory = vec![0u8; 65536];
    memory[1024..1032].copy_from_slice(result);
    match outcome {
        Ok(output) if len == 0 => assert!(output.is_empty()),
        Ok(output) => {
            assert!(ptr + len <= 65536 && len <= MAX_OUTPUT_BYTES, "{ptr} {len}");
            let start = usize::try_from(ptr).expect("within the page");
            assert_eq!(output, memory[start..start + output.len()]);
            assert_eq!(output.len() as u64, len);
        }
        Err(error) if ptr + len > 65536 => {
            assert_eq!(error.kind(), ErrorKind::Abi, "{ptr} {len}: {error}");
        }
        Err(error) => {
            assert!(len > MAX_OUTPUT_BYTES, "{ptr} {len}: {error}");
            assert_eq!(error.kind(), ErrorKind::OutputTooLarge, "{error}");
        }
    }
}

/// The conformance runner's readers: a case specification, a manifest (and the engine
/// config it makes) and an expectations file, from the same text.
pub fn conformance_spec(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("fuzz.json");
    let _ = fn_conformance::CaseSpec::parse(text, path);
    if let Ok(manifest) = fn_conformance::Manifest::parse(text, path) {
        let _ = manifest.engine_config(None);
        for variant in manifest.variants.iter().flat_map(|v| v.keys()) {
            let _ = manifest.engine_config(Some(variant));
        }
    }
    let _ = fn_conformance::Expectations::parse(text);
}
