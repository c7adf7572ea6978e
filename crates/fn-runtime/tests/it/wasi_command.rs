//! The WASI command ABI: stdin in, stdout out, stderr as log, exit codes.

use std::collections::BTreeMap;

use bytes::Bytes;
use fn_core::{Error, TrapCode};
use fn_runtime::{Abi, Invocation};

use crate::support::*;

#[tokio::test]
async fn hello_reads_stdin_and_writes_stdout() {
    let runtime = runtime_with(|_| {});
    let module = compile(&runtime, guest("hello")).await;
    assert_eq!(module.abi(), Abi::WasiCommand);
    let out = runtime.invoke(&module, invocation(), Bytes::new()).await;
    assert_eq!(out.result.unwrap(), "hello, world!\n");
    let out = runtime
        .invoke(&module, invocation(), Bytes::from_static(b"ferris"))
        .await;
    assert_eq!(out.result.unwrap(), "hello, ferris!\n");
}

#[tokio::test]
async fn echo_round_trips_binary_input() {
    let runtime = runtime_with(|_| {});
    let input: Vec<u8> = (0..(1 << 20)).map(|i| (i * 7 % 251) as u8).collect();
    let module = compile(&runtime, guest("echo")).await;
    let out = runtime
        .invoke(&module, invocation(), Bytes::from(input.clone()))
        .await;
    assert_eq!(out.result.unwrap(), input);
    // The 1 MiB input had to sit in guest memory: the peak shows it.
    assert!(
        out.peak_memory_bytes >= 1 << 20,
        "{}",
        out.peak_memory_bytes
    );
}

#[tokio::test]
async fn fib_computes() {
    let runtime = runtime_with(|_| {});
    let out = run_once(&runtime, guest("fib"), b"20").await;
    assert_eq!(out.result.unwrap(), "6765\n");
}

#[tokio::test]
async fn argv0_is_the_name_and_env_is_exactly_the_functions() {
    let runtime = runtime_with(|_| {});
    let module = compile(&runtime, guest("env")).await;
    let env = BTreeMap::from([
        ("GREETING".to_string(), "hi there".to_string()),
        ("MODE".to_string(), "test".to_string()),
    ]);
    // SAFETY-free check that the host has an environment the guest must not see.
    assert!(std::env::var_os("PATH").is_some());
    let invocation = Invocation {
        name: "resize",
        env: &env,
        args: &[],
        preopens: &[],
        ..invocation()
    };
    let out = runtime.invoke(&module, invocation, Bytes::new()).await;
    assert_eq!(
        out.result.unwrap(),
        "arg0=resize\nenv GREETING=hi there\nenv MODE=test\nfs=none\n"
    );
}

#[tokio::test]
async fn nonzero_exit_carries_code_and_stderr_tail() {
    let runtime = runtime_with(|_| {});
    let out = run_once(&runtime, guest("exit_code"), b"7").await;
    match out.result {
        Err(Error::Exit { code, stderr_tail }) => {
            assert_eq!(code, 7);
            assert_eq!(stderr_tail, "giving up with code 7\n");
        }
        other => panic!("expected an exit error, got {other:?}"),
    }
    assert_eq!(out.log, "giving up with code 7\n");
}

#[tokio::test]
async fn exit_zero_is_success() {
    let runtime = runtime_with(|_| {});
    let out = run_once(&runtime, guest("exit_code"), b"0").await;
    assert_eq!(out.result.unwrap(), "");
}

#[tokio::test]
async fn trap_is_typed() {
    let runtime = runtime_with(|_| {});
    let out = run_once(&runtime, guest("trap"), b"").await;
    match out.result {
        Err(Error::Trap { code, message }) => {
            assert_eq!(code, TrapCode::UnreachableCodeReached);
            assert!(message.contains("unreachable"), "{message}");
        }
        other => panic!("expected a trap, got {other:?}"),
    }
}
