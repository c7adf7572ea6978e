//! WASI preview 2 command components: the command guests built for `wasm32-wasip2` keep
//! the WASI command's contract (stdin in, stdout out, stderr as log, argv and env, exit
//! codes, traps) and its limits (deadline, memory, output), compile in a worker, and
//! come back from their artifact; a component that is no command is refused naming what
//! it exports.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use fn_core::{Error, TrapCode};
use fn_runtime::{Abi, Invocation};

use crate::support::*;

fn component(name: &str) -> Bytes {
    Bytes::from(fn_guests::component(name))
}

#[tokio::test]
async fn a_command_component_reads_stdin_and_writes_stdout() {
    let runtime = runtime_with(|_| {});
    let module = compile(&runtime, component("hello")).await;
    assert_eq!(module.abi(), Abi::ComponentCommand);
    let out = runtime
        .invoke(&module, invocation(), Bytes::from_static(b"component"))
        .await;
    assert_eq!(out.result.unwrap(), "hello, component!\n");
    assert!(out.peak_memory_bytes > 0, "the limiter saw its memory");
    // Each call a fresh instance, in the pool when there is one.
    let again = runtime.invoke(&module, invocation(), Bytes::new()).await;
    assert_eq!(again.result.unwrap(), "hello, world!\n");
}

#[tokio::test]
async fn argv0_is_the_name_and_env_is_exactly_the_functions() {
    let runtime = runtime_with(|_| {});
    let module = compile(&runtime, component("env")).await;
    let env = BTreeMap::from([("GREETING".to_string(), "hi there".to_string())]);
    let invocation = Invocation {
        name: "resize",
        env: &env,
        ..invocation()
    };
    let out = runtime.invoke(&module, invocation, Bytes::new()).await;
    assert_eq!(
        out.result.unwrap(),
        "arg0=resize\nenv GREETING=hi there\nfs=none\n"
    );
}

#[tokio::test]
async fn exit_codes_and_traps_are_typed_as_a_modules() {
    let runtime = runtime_with(|_| {});
    // WASI 0.2's `exit` carries success or failure, not a code: Rust's
    // `std::process::exit(7)` is the failure, exit status 1.
    let out = run_once(&runtime, component("exit_code"), b"7").await;
    match out.result {
        Err(Error::Exit { code, stderr_tail }) => {
            assert_eq!(code, 1);
            assert_eq!(stderr_tail, "giving up with code 7\n");
        }
        other => panic!("expected an exit error, got {other:?}"),
    }
    let out = run_once(&runtime, component("exit_code"), b"0").await;
    assert_eq!(out.result.unwrap(), "");
    let out = run_once(&runtime, component("trap"), b"").await;
    match out.result {
        Err(Error::Trap { code, .. }) => assert_eq!(code, TrapCode::UnreachableCodeReached),
        other => panic!("expected a trap, got {other:?}"),
    }
    assert_eq!(out.stdout, "about to trap\n");
}

#[tokio::test]
async fn the_deadline_memory_and_output_limits_hold() {
    let runtime = runtime_with(|_| {});
    let spin = compile(&runtime, component("infinite_loop")).await;
    let out = runtime
        .invoke(
            &spin,
            with_timeout(Duration::from_millis(200)),
            Bytes::new(),
        )
        .await;
    assert!(
        matches!(out.result, Err(Error::Timeout { .. })),
        "{:?}",
        out.result
    );

    let bomb = compile(&runtime, component("memory_bomb")).await;
    let out = runtime
        .invoke(&bomb, with_memory(16 << 20), Bytes::new())
        .await;
    assert!(
        matches!(out.result, Err(Error::MemoryLimit { .. })),
        "{:?}",
        out.result
    );

    let flood = compile(&runtime, component("stdout_flood")).await;
    let out = runtime.invoke(&flood, invocation(), Bytes::new()).await;
    assert!(
        matches!(out.result, Err(Error::OutputTooLarge { .. })),
        "{:?}",
        out.result
    );
}

#[tokio::test]
async fn a_component_comes_back_from_its_artifact_and_from_a_worker() {
    let runtime = runtime_with(|_| {});
    let module = compile(&runtime, component("upper")).await;
    let artifact = runtime.serialize(&module).unwrap();
    let loaded = runtime.deserialize(*module.cid(), &artifact).unwrap();
    assert_eq!(loaded.abi(), Abi::ComponentCommand);
    let out = runtime
        .invoke(&loaded, invocation(), Bytes::from_static(b"loaded"))
        .await;
    assert_eq!(out.result.unwrap(), "LOADED");

    let worker = runtime_with(|c| {
        c.compile_worker = Some(fn_core::CompileWorker {
            program: env!("CARGO_BIN_EXE_fn-compile-worker").into(),
            args: Vec::new(),
        });
    });
    let module = compile(&worker, component("upper")).await;
    let out = worker
        .invoke(&module, invocation(), Bytes::from_static(b"worker"))
        .await;
    assert_eq!(out.result.unwrap(), "WORKER");
}

#[tokio::test]
async fn a_component_that_is_no_command_is_refused_naming_its_exports() {
    let runtime = runtime_with(|_| {});
    let wat = r#"(component
        (core module $m (func (export "f")))
        (core instance $i (instantiate $m))
        (func (export "greet") (canon lift (core func $i "f"))))"#;
    match runtime.compile(Bytes::from(wat)).await {
        Err(Error::Deploy { message, .. }) => {
            assert!(message.contains("`greet`"), "{message}");
            assert!(message.contains("wasi:cli/run"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}
