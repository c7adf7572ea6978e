//! The handle ABI: `handle(ptr, len) -> len << 32 | ptr`, with every pointer checked.

use bytes::Bytes;
use fn_core::{Error, OutputStream};
use fn_runtime::Abi;

use crate::support::*;

#[tokio::test]
async fn rust_handle_guest_upper_cases() {
    let runtime = runtime_with(|_| {});
    let module = compile(&runtime, guest("handle_upper")).await;
    assert_eq!(
        module.abi(),
        Abi::Handle {
            has_malloc: true,
            has_initialize: false
        }
    );
    let out = runtime
        .invoke(&module, invocation(), Bytes::from_static(b"hello, handle"))
        .await;
    assert_eq!(out.result.unwrap(), "HELLO, HANDLE");
    let out = runtime.invoke(&module, invocation(), Bytes::new()).await;
    assert_eq!(out.result.unwrap(), "");
    assert!(out.peak_memory_bytes >= 64 << 10);
}

const NO_MALLOC: &str = r#"(module
    (memory (export "memory") 1)
    (data (i32.const 100) "fixed")
    (func (export "handle") (param i32 i32) (result i64)
        i64.const 0x0000000500000064))"#;

#[tokio::test]
async fn input_without_malloc_is_an_error_not_silently_dropped() {
    let runtime = runtime_with(|_| {});
    let module = compile(&runtime, NO_MALLOC).await;
    let out = runtime.invoke(&module, invocation(), Bytes::new()).await;
    assert_eq!(out.result.unwrap(), "fixed");
    let out = runtime
        .invoke(&module, invocation(), Bytes::from_static(b"data"))
        .await;
    match out.result {
        Err(Error::Abi { reason }) => assert!(reason.contains("`malloc`"), "{reason}"),
        other => panic!("expected an ABI error, got {other:?}"),
    }
}

fn returning(packed: &str) -> String {
    format!(
        r#"(module
            (memory (export "memory") 1)
            (func (export "handle") (param i32 i32) (result i64) i64.const {packed}))"#
    )
}

#[tokio::test]
async fn output_pointers_are_bounds_checked() {
    let runtime = runtime_with(|_| {});
    // ptr 65530, len 10: runs past the single 64 KiB page.
    for packed in [
        "0x0000000a0000fffa",
        "0x00000001ffffffff",
        "0x0000000100010000",
    ] {
        let out = run_once(&runtime, returning(packed), b"").await;
        match out.result {
            Err(Error::Abi { reason }) => assert!(reason.contains("outside"), "{reason}"),
            other => panic!("{packed}: expected an ABI error, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn malloc_result_is_bounds_checked() {
    let runtime = runtime_with(|_| {});
    let wat = r#"(module
        (memory (export "memory") 1)
        (func (export "malloc") (param i32) (result i32) i32.const 65535)
        (func (export "handle") (param i32 i32) (result i64) i64.const 0))"#;
    let out = run_once(&runtime, wat, b"two bytes").await;
    match out.result {
        Err(Error::Abi { reason }) => assert!(reason.contains("malloc"), "{reason}"),
        other => panic!("expected an ABI error, got {other:?}"),
    }
}

#[tokio::test]
async fn result_over_the_limit_is_refused_before_copying_and_named() {
    // 4096 bytes at 0: inside the guest's page, over the 1000-byte output limit.
    let runtime = runtime_with(|c| c.max_output_bytes = 1000);
    let module = compile(&runtime, returning("0x0000100000000000")).await;
    let out = runtime.invoke(&module, invocation(), Bytes::new()).await;
    match out.result {
        Err(error @ Error::OutputTooLarge { .. }) => {
            assert!(matches!(
                error,
                Error::OutputTooLarge {
                    stream: OutputStream::HandleResult,
                    limit_bytes: 1000
                }
            ));
            assert_eq!(
                error.to_string(),
                "the handle result exceeded the 1000-byte output limit"
            );
        }
        other => panic!("expected output too large, got {other:?}"),
    }
}

#[tokio::test]
async fn reactor_initialize_runs_first() {
    let runtime = runtime_with(|_| {});
    let wat = r#"(module
        (memory (export "memory") 1)
        (func (export "_initialize") (i32.store8 (i32.const 8) (i32.const 0x21)))
        (func (export "handle") (param i32 i32) (result i64) i64.const 0x0000000100000008))"#;
    let module = compile(&runtime, wat).await;
    assert_eq!(
        module.abi(),
        Abi::Handle {
            has_malloc: false,
            has_initialize: true
        }
    );
    let out = runtime.invoke(&module, invocation(), Bytes::new()).await;
    assert_eq!(out.result.unwrap(), "!");
}

#[tokio::test]
async fn a_result_claiming_more_than_memory_is_an_abi_error_whatever_its_size() {
    // 256 MiB, and 4 GiB - 1, claimed from a one-page memory: bounds come first.
    let runtime = runtime_with(|_| {});
    for packed in ["0x1000000000000000", "-1"] {
        let out = run_once(&runtime, returning(packed), b"").await;
        match out.result {
            Err(Error::Abi { reason }) => {
                assert!(reason.starts_with("the handle result at"), "{reason}");
                assert!(reason.contains("outside"), "{reason}");
            }
            other => panic!("{packed}: expected an ABI error, got {other:?}"),
        }
    }
}
