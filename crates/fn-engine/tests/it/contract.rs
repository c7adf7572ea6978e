//! The Go engine's contract, kept, and its defects, fixed.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use fn_core::{
    Cid, Config, Error, Function, FunctionDefinition, FunctionExecutor, InvocationContext,
    InvocationStatus, TrapCode, TriggerType,
};
use fn_engine::Engine;

use crate::support::*;

#[tokio::test]
async fn default_context_has_a_fresh_request_id_and_http_trigger() {
    let h = harness();
    let hello = h.deploy("hello", guest("hello")).await;
    let out = h.engine.execute(&hello, Bytes::new(), None).await.unwrap();
    assert_eq!(out, "hello, world!\n");
    let out = h.engine.execute(&hello, Bytes::new(), None).await.unwrap();
    assert_eq!(out, "hello, world!\n");
    let records = h.logger.records();
    assert_eq!(records.len(), 2);
    assert_ne!(records[0].request_id, records[1].request_id);
    assert!(records.iter().all(|r| r.trigger == TriggerType::Http));
}

#[tokio::test]
async fn every_failure_is_typed_and_recorded_once() {
    let h = harness_with(|b| {
        let mut config = test_config();
        config.max_output_bytes = 1 << 16;
        b.config(config)
    });
    let fast = |d: &mut FunctionDefinition| d.timeout = Duration::from_millis(200);
    let small = |d: &mut FunctionDefinition| d.max_memory_bytes = 16 << 20;

    let spin = h.deploy_with("spin", guest("infinite_loop"), fast).await;
    let (error, record) = failing(&h, &spin, b"").await;
    assert!(matches!(error.root(), Error::Timeout { .. }));
    assert_eq!(record.status, InvocationStatus::Timeout);
    // The deadline runs from the sandbox's making, which instantiation is part of.
    let sandboxed = record.instantiate_duration.unwrap() + record.execute_duration.unwrap();
    assert!(
        sandboxed >= Duration::from_millis(200),
        "the loop ran until the deadline: {record:?}"
    );

    let bomb = h.deploy_with("bomb", guest("memory_bomb"), small).await;
    let (error, record) = failing(&h, &bomb, b"").await;
    assert!(matches!(error.root(), Error::MemoryLimit { limit_bytes } if *limit_bytes == 16 << 20));
    assert_eq!(record.status, InvocationStatus::Error);
    assert!(record.peak_memory_bytes > 8 << 20 && record.peak_memory_bytes <= 16 << 20);

    let flood = h.deploy("flood", guest("stdout_flood")).await;
    let (error, _) = failing(&h, &flood, b"").await;
    assert!(matches!(error.root(), Error::OutputTooLarge { .. }));

    let deep = h.deploy("deep", guest("deep_recursion")).await;
    let (error, _) = failing(&h, &deep, b"").await;
    assert!(matches!(
        error.root(),
        Error::Trap {
            code: TrapCode::StackOverflow,
            ..
        }
    ));

    let trap = h.deploy("trap", guest("trap")).await;
    let (error, _) = failing(&h, &trap, b"").await;
    assert!(matches!(
        error.root(),
        Error::Trap {
            code: TrapCode::UnreachableCodeReached,
            ..
        }
    ));

    let exit = h.deploy("exit", guest("exit_code")).await;
    let (error, record) = failing(&h, &exit, b"9").await;
    assert!(matches!(error.root(), Error::Exit { code: 9, .. }));
    assert_eq!(record.input_size, 1);

    // Modules a store holds that do not compile (deploys refuse them; another node's
    // store may not have): the call is refused with the compiler's message, recorded.
    let bad = h
        .stored("bad", Bytes::from_static(b"\0asm\x01\0\0\0\x01\x05garbage"))
        .await;
    let (error, record) = failing(&h, &bad, b"").await;
    assert!(matches!(error.root(), Error::Deploy { .. }));
    assert_eq!(record.status, InvocationStatus::Error);

    let imports = h
        .stored(
            "imports",
            Bytes::from(r#"(module (import "env" "nope" (func)) (func (export "_start")))"#),
        )
        .await;
    let (error, _) = failing(&h, &imports, b"").await;
    match error.root() {
        Error::Deploy { message, .. } => assert!(message.contains("env::nope"), "{message}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn timeout_is_the_functions_capped_by_the_config() {
    let h = harness_with(|b| {
        let mut config = test_config();
        config.max_timeout = Duration::from_millis(150);
        b.config(config)
    });
    // The registry validated against the default max, so build the function by hand.
    let cid = h.registry.put_wasm(guest("infinite_loop"));
    let mut definition = FunctionDefinition::new("test", "spin");
    definition.timeout = Duration::from_secs(20);
    let spin = Function::new(definition, cid);
    let (error, record) = failing(&h, &spin, b"").await;
    assert!(
        matches!(error.root(), Error::Timeout { limit } if *limit == Duration::from_millis(150))
    );
    // Generous: capped at 150 ms, not the function's 20 s.
    assert!(record.duration < Duration::from_secs(15));
}

#[tokio::test]
async fn oversized_input_is_refused_and_recorded_with_its_size() {
    let h = harness_with(|b| {
        let mut config = test_config();
        config.max_input_bytes = 1000;
        b.config(config)
    });
    let echo = h.deploy("echo", guest("echo")).await;
    let (error, record) = failing(&h, &echo, &[0u8; 1001]).await;
    assert!(matches!(
        error.root(),
        Error::InputTooLarge {
            size_bytes: 1001,
            limit_bytes: 1000
        }
    ));
    assert_eq!(record.input_size, 1001);
    assert_eq!(record.peak_memory_bytes, 0);
}

#[tokio::test]
async fn hundred_parallel_invocations_of_one_function_all_succeed() {
    // The Go engine named every instance after the function and collided.
    let h = harness();
    let echo = h.stored("echo", guest("echo")).await;
    let calls = (0..100).map(|i| {
        let engine = h.engine.clone();
        let echo = echo.clone();
        tokio::spawn(async move {
            let input = Bytes::from(format!("call {i}"));
            let out = engine.execute(&echo, input.clone(), None).await;
            (input, out)
        })
    });
    for call in futures::future::join_all(calls).await {
        let (input, out) = call.unwrap();
        assert_eq!(out.unwrap(), input);
    }
    let records = h.logger.records();
    assert_eq!(records.len(), 100);
    assert!(
        records
            .iter()
            .all(|r| r.status == InvocationStatus::Success)
    );
    // The first call at least found no compiled module (each caller that waited for the
    // compile is a cold start: `invariants::every_caller_that_waited_for_the_compile_is_a_cold_start`).
    assert!(records.iter().any(|r| r.cold_start));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_invocations_on_two_threads() {
    let h = harness();
    let upper = h.deploy("upper", guest("upper")).await;
    let calls = (0..100).map(|i| {
        let engine = h.engine.clone();
        let upper = upper.clone();
        tokio::spawn(async move {
            (
                i,
                engine
                    .execute(&upper, Bytes::from(format!("n{i}")), None)
                    .await,
            )
        })
    });
    for call in futures::future::join_all(calls).await {
        let (i, out) = call.unwrap();
        assert_eq!(out.unwrap(), format!("N{i}"));
    }
}

#[tokio::test]
async fn fetched_bytes_are_verified_against_the_cid() {
    let h = harness();
    // A function claiming a CID whose bytes the registry serves differently.
    let mut function = h.stored("liar", guest("hello")).await;
    let forged = Cid::of(b"something else");
    function.wasm_cid = forged;
    let (error, _) = failing(&h, &function, b"").await;
    assert!(matches!(
        error.root(),
        Error::NotFound { kind: "module", .. }
    ));

    #[derive(Debug)]
    struct Tampered(Bytes);
    #[async_trait::async_trait]
    impl fn_core::FunctionRegistry for Tampered {
        async fn function(&self, id: &str) -> fn_core::Result<Function> {
            Err(Error::NotFound {
                kind: "function",
                id: id.into(),
            })
        }
        async fn function_by_name(&self, _: &str, name: &str) -> fn_core::Result<Function> {
            Err(Error::NotFound {
                kind: "function",
                id: name.into(),
            })
        }
        async fn wasm_bytes(&self, _: &Cid) -> fn_core::Result<Bytes> {
            Ok(self.0.clone())
        }
    }
    let engine = Engine::builder(Arc::new(Tampered(guest("trap"))))
        .config(test_config())
        .build()
        .unwrap();
    let function = Function::new(
        FunctionDefinition::new("test", "hello"),
        Cid::of(&guest("hello")),
    );
    let error = engine
        .execute(&function, Bytes::new(), None)
        .await
        .unwrap_err();
    match error.root() {
        Error::Integrity { expected, actual } => {
            assert_eq!(*expected, function.wasm_cid);
            assert_eq!(*actual, Cid::of(&guest("trap")));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn engine_is_a_function_executor() {
    let h = harness();
    let hello = h.deploy("hello", guest("hello")).await;
    let executor: Arc<dyn FunctionExecutor> = Arc::new(h.engine.clone());
    let out = executor
        .execute(&hello, Bytes::from_static(b"trait"), None)
        .await
        .unwrap();
    assert_eq!(out, "hello, trait!\n");
}

#[test]
fn builder_rejects_an_invalid_config() {
    let registry = Arc::new(fn_registry::InMemoryRegistry::new());
    let config = Config {
        max_timeout: Duration::ZERO,
        ..Config::default()
    };
    match Engine::builder(registry).config(config).build() {
        Err(Error::Validation { field, .. }) => assert_eq!(field, "max_timeout"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn execute_detailed_keeps_a_failed_runs_streams_and_one_record() {
    let h = harness();
    let exit = h.deploy("exit_code", guest("exit_code")).await;
    let ctx = InvocationContext::default();
    let request_id = ctx.request_id.clone();
    let run = h
        .engine
        .execute_detailed(&exit, Bytes::from_static(b"9"), Some(ctx))
        .await;
    assert!(
        matches!(
            run.result.as_ref().map_err(Error::root),
            Err(Error::Exit { code: 9, .. })
        ),
        "{:?}",
        run.result
    );
    assert_eq!(run.log, "giving up with code 9\n");
    assert_eq!(only(&h.logger, &request_id).status, InvocationStatus::Error);
}

#[tokio::test]
async fn preopens_are_refused_unless_the_config_allows_their_folder() {
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("greeting"), "hi from a file").unwrap();
    let mut definition = FunctionDefinition::new("test", "files");
    definition.args = vec!["cat".into(), "/greeting".into()];
    definition.preopens = vec![fn_core::Preopen {
        host: root.path().to_path_buf(),
        guest: "/".into(),
        writable: false,
    }];

    // The default config allows no preopened folder: the deploy names the field.
    let h = harness();
    match h
        .engine
        .deploy(h.registry.as_ref(), definition.clone(), guest("files"))
        .await
    {
        Err(Error::Validation { field, .. }) => assert_eq!(field, "preopens"),
        other => panic!("expected a validation error, got {other:?}"),
    }

    let root_path = root.path().to_path_buf();
    let h = harness_with(|builder| {
        builder.config(Config {
            preopen_roots: vec![root_path],
            ..test_config()
        })
    });
    let files = h
        .engine
        .deploy(h.registry.as_ref(), definition, guest("files"))
        .await
        .unwrap();
    let run = h.engine.execute_detailed(&files, Bytes::new(), None).await;
    assert_eq!(run.result.unwrap(), "hi from a file");
    assert_eq!(run.stdout, "", "a command's stdout is its output");
}
