//! Generated modules (wasm-smith) through deploy and one invocation: whatever they do,
//! each ends as a success or a typed error, never a panic, a hang or an internal error,
//! with exactly one record. A fixed seed, so a failure replays; `cargo xtask fuzz` runs
//! the same path with a fuzzer's inputs for as long as it is given.

use arbitrary::Unstructured;
use bytes::Bytes;
use fn_core::{ErrorKind, InvocationContext};

use crate::support::*;

/// Modules generated per run.
const MODULES: usize = 300;

/// The exports a generated module must have: a WASI command, or a handle-ABI function.
fn exports(handle: bool) -> Vec<u8> {
    let wat = if handle {
        r#"(module (memory (export "memory") 1)
            (func (export "handle") (param i32 i32) (result i64) unreachable))"#
    } else {
        r#"(module (memory (export "memory") 1) (func (export "_start") unreachable))"#
    };
    wat::parse_str(wat).expect("valid WAT")
}

/// The WASI functions a generated module may import.
fn wasi_imports() -> Vec<u8> {
    wat::parse_str(
        r#"(module
            (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))
            (import "wasi_snapshot_preview1" "random_get" (func (param i32 i32) (result i32)))
            (import "wasi_snapshot_preview1" "clock_time_get" (func (param i32 i64 i32) (result i32)))
            (import "wasi_snapshot_preview1" "sched_yield" (func (result i32)))
            (import "wasi_snapshot_preview1" "proc_exit" (func (param i32))))"#,
    )
    .expect("valid WAT")
}

/// splitmix64: the bytes wasm-smith draws its choices from, the same every run.
fn seeded_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed;
    let mut bytes = Vec::with_capacity(len + 8);
    while bytes.len() < len {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        bytes.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    bytes
}

/// The generator's settings for module `i`: every fourth keeps wasm-smith's defaults
/// (proposals the engine turns off included, to be refused at deploy); the others stay
/// within what the engine runs, so they reach the invocation.
fn smith_config(i: usize) -> wasm_smith::Config {
    let mut config = wasm_smith::Config {
        exports: Some(exports(i % 2 == 1)),
        available_imports: Some(wasi_imports()),
        max_memory32_bytes: 8 << 20,
        max_instructions: 200,
        ..wasm_smith::Config::default()
    };
    if !i.is_multiple_of(4) {
        config.gc_enabled = false;
        config.memory64_enabled = false;
        config.threads_enabled = false;
        config.exceptions_enabled = false;
        config.reference_types_enabled = false;
        config.max_memories = 1;
        config.max_tables = 1;
        config.max_table_elements = 1_000;
    }
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_modules_end_in_typed_errors_never_a_panic() {
    let h = harness();
    let mut invoked = 0;
    let input: [&'static [u8]; 2] = [b"input", b""];
    for i in 0..MODULES {
        let bytes = seeded_bytes(i as u64, 4096);
        let Ok(module) = wasm_smith::Module::new(smith_config(i), &mut Unstructured::new(&bytes))
        else {
            continue;
        };
        let function = h.deploy_with(&format!("smith-{i}"), Bytes::from(module.to_bytes()), |d| {
            d.max_memory_bytes = 16 << 20;
            d.timeout = std::time::Duration::from_millis(50);
        });
        let ctx = InvocationContext::default();
        let request_id = ctx.request_id.clone();
        let result = h
            .engine
            // A handle function without `malloc` can take only empty input.
            .execute(&function, Bytes::from_static(input[i % 2]), Some(ctx))
            .await;
        if let Err(error) = &result {
            assert_ne!(
                error.kind(),
                ErrorKind::Internal,
                "module {i}: an internal error is an engine bug: {error}"
            );
        }
        if result
            .as_ref()
            .is_err_and(|e| e.kind() == ErrorKind::Deploy)
        {
            continue;
        }
        invoked += 1;
        only(&h.logger, &request_id);
    }
    // Most generated modules must get past deploy, or this tests only the validator.
    assert!(
        invoked > MODULES / 3,
        "only {invoked} of {MODULES} were invoked"
    );
}
