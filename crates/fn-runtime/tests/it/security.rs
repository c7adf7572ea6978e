//! What wasmtime leaves to the embedder (DESIGN.md, Security model), each tested.

use std::time::Duration;

use bytes::Bytes;
use fn_core::{Error, TrapCode};

use crate::support::*;

#[tokio::test]
async fn threads_proposal_is_off() {
    let runtime = runtime_with(|_| {});
    let wat = r#"(module (memory 1 1 shared) (func (export "_start")))"#;
    match runtime.compile(Bytes::from(wat)).await {
        Err(Error::Deploy { message, .. }) => assert!(message.contains("threads"), "{message}"),
        other => panic!("expected a deploy error, got {other:?}"),
    }
}

#[tokio::test]
async fn gc_proposal_is_off() {
    let runtime = runtime_with(|_| {});
    let wat = r#"(module (type (struct (field i32))) (func (export "_start")))"#;
    match runtime.compile(Bytes::from(wat)).await {
        Err(Error::Deploy { message, .. }) => {
            assert!(message.to_lowercase().contains("gc"), "{message}")
        }
        other => panic!("expected a deploy error, got {other:?}"),
    }
}

/// A command that asks `random_get` for `len` bytes at address 0.
fn random_get(len: u32) -> String {
    format!(
        r#"(module
            (import "wasi_snapshot_preview1" "random_get" (func $random_get (param i32 i32) (result i32)))
            (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
            (memory (export "memory") 2)
            (func (export "_start") (call $exit (call $random_get (i32.const 0) (i32.const {len})))))"#
    )
}

#[tokio::test]
async fn random_bytes_are_capped() {
    let runtime = runtime_with(|c| c.max_random_bytes = 1024);
    let out = run_once(&runtime, random_get(1024), b"").await;
    assert_eq!(out.result.unwrap(), "");
    let out = run_once(&runtime, random_get(1025), b"").await;
    match out.result {
        Err(Error::ResourceLimit { resource, limit }) => {
            assert_eq!((resource, limit), ("random bytes", 1024));
        }
        other => panic!("expected a resource limit, got {other:?}"),
    }
}

#[tokio::test]
async fn a_host_trap_names_its_cause_and_the_backtrace_once() {
    // WASI refuses an exit status over 125 with a host error, not an exit.
    let wat = r#"(module
        (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
        (memory (export "memory") 1)
        (func (export "_start") (call $exit (i32.const 200))))"#;
    let out = run_once(&runtime_with(|_| {}), wat, b"").await;
    match out.result {
        Err(Error::Trap { code, message }) => {
            assert_eq!(code, TrapCode::HostTrap);
            assert!(message.contains("invalid exit status"), "{message}");
            // The backtrace once, after the host's words, never inside them as well.
            assert_eq!(message.matches("0: ").count(), 1, "{message}");
            assert_eq!(message.matches("backtrace").count(), 0, "{message}");
        }
        other => panic!("expected a host trap, got {other:?}"),
    }
}

#[tokio::test]
async fn host_call_arguments_are_capped() {
    // fd_write with 200 000 iovecs (1.6 MB of iovec array) is over the 1 MiB cap: WASI
    // answers ENOMEM (48) instead of allocating for the guest.
    let wat = r#"(module
        (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
        (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
        (memory (export "memory") 32)
        (func (export "_start")
            (call $exit (call $fd_write (i32.const 1) (i32.const 0) (i32.const 200000) (i32.const 1900000)))))"#;
    let runtime = runtime_with(|c| c.max_hostcall_bytes = 1 << 20);
    let out = run_once(&runtime, wat, b"").await;
    assert!(
        matches!(out.result, Err(Error::Exit { code: 48, .. })),
        "{:?}",
        out.result
    );
    // With a larger cap the same call goes through (0 iovecs' worth of zero-length writes).
    let runtime = runtime_with(|c| c.max_hostcall_bytes = 4 << 20);
    let out = run_once(&runtime, wat, b"").await;
    assert_eq!(out.result.unwrap(), "");
}

#[tokio::test]
async fn looping_start_function_hits_the_deadline() {
    let runtime = runtime_with(|_| {});
    let wat = r#"(module
        (func $spin (loop br 0))
        (start $spin)
        (func (export "_start")))"#;
    let module = compile(&runtime, wat).await;
    let timeout = Duration::from_millis(100);
    // A start function that is not stopped would never return: the typed timeout is the
    // proof. How late it comes is measured by the kill_latency example, not asserted.
    let out = runtime
        .invoke(&module, with_timeout(timeout), Bytes::new())
        .await;
    assert!(
        matches!(out.result, Err(Error::Timeout { .. })),
        "{:?}",
        out.result
    );
}

#[tokio::test]
async fn dropped_invocation_leaves_the_pool_usable() {
    // One slot: if a dropped invocation leaked it, the next call could not instantiate.
    let runtime = runtime_with(|c| c.pooling.slots = 1);
    assert!(runtime.uses_pooling());
    let spin = compile(&runtime, guest("infinite_loop")).await;
    let hello = compile(&runtime, guest("hello")).await;
    for _ in 0..3 {
        // A fresh watch each round: the last round's `hello` opened spans too.
        let mut spans = fn_guests::watch_spans();
        // Dropped once the guest is running in the slot, not before.
        tokio::select! {
            out = runtime.invoke(&spin, with_timeout(Duration::from_secs(30)), Bytes::new()) => {
                panic!("the spinning guest cannot finish: {:?}", out.result)
            }
            () = spans.opened("execute") => {}
        }
        let out = runtime.invoke(&hello, invocation(), Bytes::new()).await;
        assert_eq!(out.result.unwrap(), "hello, world!\n");
    }
}

#[tokio::test]
async fn exhausted_pool_is_a_retryable_error() {
    let runtime = runtime_with(|c| c.pooling.slots = 1);
    let spin = compile(&runtime, guest("infinite_loop")).await;
    let hello = compile(&runtime, guest("hello")).await;
    let mut spans = fn_guests::watch_spans();
    let busy = runtime.invoke(&spin, with_timeout(Duration::from_secs(30)), Bytes::new());
    // The second call starts once the first holds the only slot and runs its guest.
    let second = async {
        spans.opened("execute").await;
        runtime.invoke(&hello, invocation(), Bytes::new()).await
    };
    let second = tokio::select! {
        out = busy => panic!("the spinning guest cannot finish: {:?}", out.result),
        second = second => second,
    };
    match second.result {
        Err(error @ Error::Unavailable { .. }) => assert!(error.is_retryable()),
        other => panic!("expected unavailable, got {other:?}"),
    }
    // And the slot is free again once the first is gone.
    let out = runtime.invoke(&hello, invocation(), Bytes::new()).await;
    assert_eq!(out.result.unwrap(), "hello, world!\n");
}

/// Tenant A writes a secret into memory (below and above the first page) and a global;
/// every later invocation, of the same module or another, reads those places first.
fn tenant(extra: &str) -> String {
    format!(
        r#"(module
            (memory (export "memory") 1)
            (global $g (mut i64) (i64.const 0))
            (func (export "malloc") (param i32) (result i32) i32.const 4096)
            (func (export "handle") (param $ptr i32) (param $len i32) (result i64)
                (i64.store (i32.const 2048) (i64.load (i32.const 1024)))
                (i64.store (i32.const 2056) (global.get $g))
                (drop (memory.grow (i32.const 1)))
                (i64.store (i32.const 2064) (i64.load (i32.const 70000)))
                (if (i32.gt_u (local.get $len) (i32.const 0))
                    (then
                        (i64.store (i32.const 1024) (i64.const 0x5ec2e75ec2e75ec2))
                        (global.set $g (i64.const 0x5ec2e75ec2e75ec2))
                        (i64.store (i32.const 70000) (i64.const 0x5ec2e75ec2e75ec2))))
                i64.const 0x0000001800000800)
            {extra})"#
    )
}

#[tokio::test]
async fn tenant_b_never_sees_tenant_a_memory_or_globals() {
    // The secret is written at 1024 and at 70000: with 64 KiB kept resident (the
    // default) the second lies in the part given back by `madvise`, with 1 MiB in the
    // part reset in place. The part kept resident is reset by `memset` of all of it, or
    // of the pages the guest dirtied (the pagemap scan, the default). Every reset must
    // leave nothing. (A dirty page in swap: fn-runtime's engine.rs test.)
    for keep in [64 << 10, 1 << 20] {
        for pagemap_scan in [true, false] {
            tenant_b_never_sees_tenant_a(keep, pagemap_scan).await;
        }
    }
}

async fn tenant_b_never_sees_tenant_a(keep_resident_bytes: u64, pagemap_scan: bool) {
    // Pooling, copy-on-write and keep-resident on, one slot: B must reuse A's slot.
    let runtime = runtime_with(|c| {
        c.pooling.slots = 1;
        c.pooling.copy_on_write = true;
        c.pooling.keep_resident_bytes = keep_resident_bytes;
        c.pooling.pagemap_scan = pagemap_scan;
    });
    assert!(runtime.uses_pooling());
    let a = compile(&runtime, tenant("")).await;
    let b = compile(&runtime, tenant(r#"(func (export "other"))"#)).await;
    let zeros = Bytes::from(vec![0u8; 24]);
    for round in 0..3 {
        let wrote = runtime
            .invoke(&a, invocation(), Bytes::from_static(b"write the secret"))
            .await;
        assert_eq!(
            wrote.result.unwrap(),
            zeros,
            "keep {keep_resident_bytes}, scan {pagemap_scan}, round {round}: A saw a previous secret"
        );
        let same_module = runtime.invoke(&a, invocation(), Bytes::new()).await;
        assert_eq!(
            same_module.result.unwrap(),
            zeros,
            "keep {keep_resident_bytes}, scan {pagemap_scan}, round {round}: A's next call saw it"
        );
        runtime
            .invoke(&a, invocation(), Bytes::from_static(b"again"))
            .await
            .result
            .unwrap();
        let other_module = runtime.invoke(&b, invocation(), Bytes::new()).await;
        assert_eq!(
            other_module.result.unwrap(),
            zeros,
            "keep {keep_resident_bytes}, scan {pagemap_scan}, round {round}: B saw A's secret"
        );
    }
}

/// Set in the child process of `pool_reservation_failure_falls_back_to_on_demand`.
const FALLBACK_CHILD: &str = "FN_RUNTIME_POOL_FALLBACK_CHILD";

#[test]
fn pool_reservation_failure_falls_back_to_on_demand() {
    // Run the child test below again in a process of its own, which caps its own
    // address space at 16 GiB first (as the compile worker caps itself): 32 pool slots
    // of 4 GiB reservations cannot fit, so the runtime must fall back to on-demand
    // allocation and still run functions.
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "security::pool_fallback_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(FALLBACK_CHILD, "1")
        .output()
        .expect("the test binary runs again");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "child failed: {}\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("fell back to on-demand"), "{stdout}");
}

#[test]
#[allow(clippy::print_stdout, reason = "the parent test reads this line")]
fn pool_fallback_child() {
    if std::env::var_os(FALLBACK_CHILD).is_none() {
        return; // Only meaningful as the child of the test above.
    }
    let cap = 16u64 << 30;
    rustix::process::setrlimit(
        rustix::process::Resource::As,
        rustix::process::Rlimit {
            current: Some(cap),
            maximum: Some(cap),
        },
    )
    .expect("capping this process's address space");
    let runtime = runtime_with(|c| c.pooling.slots = 32);
    assert!(!runtime.uses_pooling());
    println!("fell back to on-demand allocation");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let out = rt.block_on(run_once(&runtime, guest("hello"), b""));
    assert_eq!(out.result.unwrap(), "hello, world!\n");
}
