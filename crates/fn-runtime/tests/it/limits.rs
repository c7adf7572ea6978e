//! Hostile guests against every limit: each ends in its own typed error.

use std::time::{Duration, Instant};

use bytes::Bytes;
use fn_core::{Error, InvocationLimits, OutputStream, TrapCode};
use fn_runtime::Invocation;

use crate::support::*;

#[tokio::test]
async fn infinite_loop_stops_at_its_deadline() {
    let runtime = runtime_with(|_| {});
    let module = compile(&runtime, guest("infinite_loop")).await;
    let timeout = Duration::from_millis(200);
    let started = Instant::now();
    let out = runtime
        .invoke(&module, with_timeout(timeout), Bytes::new())
        .await;
    let elapsed = started.elapsed();
    assert!(
        matches!(out.result, Err(Error::Timeout { limit }) if limit == timeout),
        "{:?}",
        out.result
    );
    // Never early. How late is a figure for the benchmark (a loaded two-core machine can
    // stall a thread for a long while); here only a bound no working deadline misses.
    assert!(elapsed >= timeout, "stopped early: {elapsed:?}");
    assert!(
        elapsed < timeout + Duration::from_secs(20),
        "stopped late: {elapsed:?}"
    );
}

#[tokio::test]
async fn memory_bomb_hits_the_memory_limit() {
    let runtime = runtime_with(|_| {});
    let module = compile(&runtime, guest("memory_bomb")).await;
    let out = runtime
        .invoke(&module, with_memory(32 << 20), Bytes::new())
        .await;
    assert!(
        matches!(out.result, Err(Error::MemoryLimit { limit_bytes }) if limit_bytes == 32 << 20),
        "{:?}",
        out.result
    );
    assert!(out.peak_memory_bytes <= 32 << 20);
    assert!(
        out.peak_memory_bytes > 16 << 20,
        "{}",
        out.peak_memory_bytes
    );
}

#[tokio::test]
async fn initial_memory_over_the_functions_limit_is_a_memory_limit_whatever_the_allocator() {
    for pooling in [true, false] {
        let runtime = runtime_with(|c| c.pooling.enabled = pooling);
        let module = compile(&runtime, r#"(module (memory 32) (func (export "_start")))"#).await;
        let out = runtime
            .invoke(&module, with_memory(1 << 20), Bytes::new())
            .await;
        assert!(
            matches!(
                out.result,
                Err(Error::MemoryLimit {
                    limit_bytes: 1048576
                })
            ),
            "pooling {pooling}: {:?}",
            out.result
        );
    }
}

#[tokio::test]
async fn memory_or_table_over_the_engines_caps_is_refused_at_compile_whatever_the_allocator() {
    let cases = [
        // 4096 pages: 256 MiB, over the tests' 128 MiB max_memory_bytes.
        (
            r#"(module (memory 4096) (func (export "_start")))"#,
            "memory",
        ),
        (
            r#"(module (table 20000 funcref) (func (export "_start")))"#,
            "table",
        ),
    ];
    for pooling in [true, false] {
        let runtime = runtime_with(|c| c.pooling.enabled = pooling);
        for (wat, what) in cases {
            match runtime.compile(Bytes::from(wat)).await {
                Err(Error::Deploy { message, .. }) => {
                    assert!(message.contains(what), "pooling {pooling}: {message}");
                }
                other => panic!("pooling {pooling}, {what}: expected deploy, got {other:?}"),
            }
        }
    }
}

#[tokio::test]
async fn timeout_is_capped_by_the_config_when_the_limits_are_made() {
    // `InvocationLimits` caps when it is made (the engine makes it once per invocation);
    // the runtime then applies it as given.
    let runtime = runtime_with(|c| c.max_timeout = Duration::from_millis(100));
    let module = compile(&runtime, guest("infinite_loop")).await;
    let limits = InvocationLimits::capped(Duration::from_secs(60), 64 << 20, runtime.config());
    assert_eq!(limits.timeout(), Duration::from_millis(100));
    let out = runtime
        .invoke(
            &module,
            Invocation {
                limits,
                ..invocation()
            },
            Bytes::new(),
        )
        .await;
    assert!(
        matches!(out.result, Err(Error::Timeout { limit }) if limit == Duration::from_millis(100)),
        "{:?}",
        out.result
    );
}

#[tokio::test]
async fn stdout_flood_hits_the_output_limit() {
    let runtime = runtime_with(|c| c.max_output_bytes = 64 << 10);
    let out = run_once(&runtime, guest("stdout_flood"), b"").await;
    assert!(
        matches!(out.result, Err(Error::OutputTooLarge { stream: OutputStream::Stdout, limit_bytes }) if limit_bytes == 64 << 10),
        "{:?}",
        out.result
    );
}

#[tokio::test]
async fn stderr_flood_hits_the_log_limit() {
    let runtime = runtime_with(|c| c.max_log_bytes = 16 << 10);
    let out = run_once(&runtime, guest("stderr_flood"), b"").await;
    assert!(
        matches!(out.result, Err(Error::OutputTooLarge { stream: OutputStream::Stderr, limit_bytes }) if limit_bytes == 16 << 10),
        "{:?}",
        out.result
    );
    assert_eq!(out.log.len(), 16 << 10);
}

#[tokio::test]
async fn deep_recursion_overflows_the_wasm_stack() {
    let runtime = runtime_with(|_| {});
    let out = run_once(&runtime, guest("deep_recursion"), b"").await;
    match out.result {
        Err(Error::Trap {
            code: TrapCode::StackOverflow,
            message,
        }) => {
            // The trap, then a bounded backtrace: the recursion has thousands of frames
            // and the message goes into records and responses.
            assert!(
                message.starts_with("call stack exhausted\n  0: "),
                "{message}"
            );
            assert!(message.lines().count() <= 14, "{message}");
            assert!(message.ends_with("more frames"), "{message}");
        }
        other => panic!("expected a stack overflow, got {other:?}"),
    }
}

#[tokio::test]
async fn table_growth_is_limited() {
    let runtime = runtime_with(|c| c.max_table_elements = 100);
    let wat = r#"(module
        (table 1 funcref)
        (func (export "_start")
            (if (i32.eq (table.grow (ref.null func) (i32.const 1000)) (i32.const -1))
                (then unreachable))))"#;
    let out = run_once(&runtime, wat, b"").await;
    assert!(
        matches!(
            out.result,
            Err(Error::ResourceLimit {
                resource: "table elements",
                limit: 100
            })
        ),
        "{:?}",
        out.result
    );
}

#[tokio::test]
async fn fuel_caps_cpu_deterministically() {
    let runtime = runtime_with(|c| c.fuel = Some(1_000_000));
    let out = run_once(&runtime, guest("infinite_loop"), b"").await;
    assert!(
        matches!(
            out.result,
            Err(Error::Trap {
                code: TrapCode::OutOfFuel,
                ..
            })
        ),
        "{:?}",
        out.result
    );
    // A function that fits in the fuel still runs.
    let out = run_once(&runtime, guest("hello"), b"").await;
    assert_eq!(out.result.unwrap(), "hello, world!\n");
}
