//! The invariants of docs/architecture.md that hold whatever an invocation's end: one
//! record per invocation (cancellation included), validation once at the entry, and a
//! cold start for every caller that waited for a compile.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use fn_core::{
    Cid, Error, ErrorKind, Function, FunctionDefinition, FunctionExecutor, FunctionRegistry,
    InvocationContext, InvocationStatus, MemoryLogger, Preopen,
};
use fn_engine::Engine;
use fn_registry::InMemoryRegistry;

use crate::support::*;

#[tokio::test]
async fn a_dropped_invocation_is_recorded_once_as_cancelled_and_frees_its_slot() {
    // One pool slot: if the dropped invocation kept it, the next call could not run.
    let h = harness_with(|b| {
        let mut config = test_config();
        config.pooling.slots = 1;
        b.config(config)
    });
    let spin = h
        .stored_with("spin", guest("infinite_loop"), |d| {
            d.timeout = Duration::from_secs(30);
        })
        .await;
    let hello = h.stored("hello", guest("hello")).await;
    let mut spans = fn_guests::watch_spans();
    let ctx = InvocationContext::default();
    let request_id = ctx.request_id.clone();
    // The caller goes away once the guest is running, as a disconnected client would.
    tokio::select! {
        out = h.engine.execute(&spin, Bytes::new(), Some(ctx)) => {
            panic!("the spinning guest cannot finish: {out:?}")
        }
        () = spans.opened("execute") => {}
    }
    let record = only(&h.logger, &request_id);
    assert_eq!(record.status, InvocationStatus::Cancelled);
    assert_eq!(record.error_kind, Some(ErrorKind::Cancelled));
    let message = record.error_message.as_deref().unwrap_or_default();
    assert!(
        message.starts_with("cancelled by its caller after "),
        "{message}"
    );
    assert!(record.duration > Duration::ZERO);
    assert!(record.completed_at >= record.started_at);
    assert!(record.cold_start, "its module was compiled for it");
    assert_eq!(h.logger.len(), 1, "nothing else was recorded");

    let ctx = InvocationContext::default();
    let request_id = ctx.request_id.clone();
    let out = h.engine.execute(&hello, Bytes::new(), Some(ctx)).await;
    assert_eq!(out.unwrap(), "hello, world!\n", "the slot was reused");
    assert_eq!(
        only(&h.logger, &request_id).status,
        InvocationStatus::Success
    );
}

#[tokio::test]
async fn a_dropped_invocation_waiting_for_its_compile_is_recorded_as_cancelled() {
    let (gated, logger, engine) = gated_engine();
    let hello = gated.stored("hello", guest("hello")).await;
    let ctx = InvocationContext::default();
    let request_id = ctx.request_id.clone();
    // Polled until its compile (a task of the cache's) reaches the registry and waits
    // there for bytes the gate holds back.
    tokio::select! {
        biased;
        out = engine.execute(&hello, Bytes::new(), Some(ctx)) => panic!("{out:?}"),
        () = gated.fetching.notified() => {}
    }
    assert_eq!(gated.fetches.load(Ordering::SeqCst), 1);
    let record = only(&logger, &request_id);
    assert_eq!(record.status, InvocationStatus::Cancelled);
    assert_eq!(record.peak_memory_bytes, 0, "it never ran");
    assert!(record.cold_start, "it was waiting for a compile");

    // Its leaving did not cancel the compile: the next call uses that one fetch.
    gated.open();
    let out = engine.execute(&hello, Bytes::new(), None).await;
    assert_eq!(out.unwrap(), "hello, world!\n");
    assert_eq!(gated.fetches.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_call_dropped_before_its_first_poll_is_recorded_once_as_cancelled() {
    let h = harness();
    let hello = h.deploy("hello", guest("hello")).await;
    let ctx = InvocationContext::default();
    let request_id = ctx.request_id.clone();
    drop(h.engine.execute(&hello, Bytes::new(), Some(ctx)));
    let record = only(&h.logger, &request_id);
    assert_eq!(record.status, InvocationStatus::Cancelled);
    assert!(!record.cold_start, "it never looked for its module");
    // The same through the trait object a gateway holds.
    let executor: &dyn FunctionExecutor = &h.engine;
    let ctx = InvocationContext::default();
    let request_id = ctx.request_id.clone();
    drop(executor.execute(&hello, Bytes::new(), Some(ctx)));
    assert_eq!(
        only(&h.logger, &request_id).status,
        InvocationStatus::Cancelled
    );
}

#[tokio::test]
async fn a_module_that_failed_to_compile_is_not_fetched_again() {
    let (gated, logger, engine) = gated_engine();
    gated.open();
    let broken = gated
        .stored(
            "broken",
            Bytes::from_static(b"(module (func (export \"_start\") i32.const 1))"),
        )
        .await;
    for _ in 0..3 {
        let error = engine
            .execute(&broken, Bytes::new(), None)
            .await
            .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Deploy, "{error}");
    }
    assert_eq!(
        gated.fetches.load(Ordering::SeqCst),
        1,
        "one fetch, then refused"
    );
    let records = logger.take_all();
    assert_eq!(records.len(), 3);
    assert!(records[0].cold_start, "the first call compiled");
    assert!(
        !records[1].cold_start && !records[2].cold_start,
        "later ones did not"
    );
}

#[tokio::test]
async fn every_caller_that_waited_for_the_compile_is_a_cold_start() {
    let (gated, logger, engine) = gated_engine();
    let echo = gated.stored("echo", guest("echo")).await;
    // Twenty callers miss at once (`join_all` polls every one of them on its first poll,
    // and the registry holds the first fetch until they all wait), then the fetch goes.
    let calls = (0..20).map(|i| engine.execute(&echo, Bytes::from(format!("{i}")), None));
    let mut all = std::pin::pin!(futures::future::join_all(calls));
    tokio::select! {
        biased;
        _ = &mut all => panic!("no call can finish before the module is fetched"),
        () = std::future::ready(()) => {}
    }
    gated.open();
    for (i, out) in all.await.into_iter().enumerate() {
        assert_eq!(out.unwrap(), format!("{i}"));
    }
    assert_eq!(
        gated.fetches.load(Ordering::SeqCst),
        1,
        "one fetch, one compile"
    );
    let records = logger.take_all();
    assert_eq!(records.len(), 20);
    assert!(records.iter().all(|r| r.cold_start), "{records:?}");
    engine.execute(&echo, Bytes::new(), None).await.unwrap();
    assert!(!logger.take_all()[0].cold_start, "a later call is warm");
}

#[tokio::test]
async fn a_hand_built_invalid_function_is_refused_naming_the_field_and_recorded() {
    type Mutation = fn(&mut FunctionDefinition);
    let cases: [(&str, Mutation); 8] = [
        ("name", |d| d.name = "Not A Name".into()),
        ("namespace", |d| d.namespace = String::new()),
        ("version", |d| d.version = 0),
        ("timeout", |d| d.timeout = Duration::ZERO),
        ("max_memory_bytes", |d| d.max_memory_bytes = 0),
        ("env", |d| {
            d.env.insert("A=B".into(), "x".into());
        }),
        ("args", |d| d.args = vec!["a\0b".into()]),
        ("preopens", |d| {
            d.preopens = vec![Preopen {
                host: "/etc".into(),
                guest: "/".into(),
                writable: false,
            }];
        }),
    ];
    let h = harness();
    let cid = h.registry.put_wasm(guest("hello"));
    for (field, mutate) in cases {
        let mut definition = FunctionDefinition::new("test", "hello");
        mutate(&mut definition);
        let function = Function::new(definition, cid);
        let ctx = InvocationContext::default();
        let request_id = ctx.request_id.clone();
        let error = h
            .engine
            .execute(&function, Bytes::new(), Some(ctx))
            .await
            .unwrap_err();
        match error.root() {
            Error::Validation { field: got, .. } => assert_eq!(got, field),
            other => panic!("{field}: expected a validation error, got {other:?}"),
        }
        let record = only(&h.logger, &request_id);
        assert_eq!(record.status, InvocationStatus::Error, "{field}");
        assert_eq!(record.error_kind, Some(ErrorKind::Validation), "{field}");
        assert!(!record.cold_start, "{field}: nothing was compiled");
    }
    assert_eq!(
        h.engine.cache_stats().await.entries,
        0,
        "nothing was compiled"
    );
}

/// An engine over a [`Gated`] registry, with its logger.
fn gated_engine() -> (Arc<Gated>, Arc<MemoryLogger>, Engine) {
    let gated = Arc::new(Gated::new());
    let logger = Arc::new(MemoryLogger::new());
    let engine = Engine::builder(gated.clone())
        .config(test_config())
        .invocation_logger(logger.clone())
        .build()
        .unwrap();
    (gated, logger, engine)
}

/// A registry whose module fetches wait until [`Gated::open`]: a test decides when the
/// first compile may start, without sleeping.
#[derive(Debug)]
struct Gated {
    inner: InMemoryRegistry,
    gate: tokio::sync::Semaphore,
    fetches: AtomicUsize,
    /// Told of every fetch as it starts.
    fetching: tokio::sync::Notify,
}

impl Gated {
    fn new() -> Gated {
        Gated {
            inner: InMemoryRegistry::new(),
            gate: tokio::sync::Semaphore::new(0),
            fetches: AtomicUsize::new(0),
            fetching: tokio::sync::Notify::new(),
        }
    }

    /// Keeps `wasm` as `name` without compiling it: these tests watch the first fetch.
    async fn stored(&self, name: &str, wasm: Bytes) -> Function {
        stored(&self.inner, FunctionDefinition::new("test", name), wasm).await
    }

    /// Lets every fetch, waiting or to come, through.
    fn open(&self) {
        self.gate
            .add_permits(tokio::sync::Semaphore::MAX_PERMITS / 2);
    }
}

#[async_trait]
impl FunctionRegistry for Gated {
    async fn function(&self, id: &str) -> fn_core::Result<Function> {
        self.inner.function(id).await
    }

    async fn function_by_name(&self, namespace: &str, name: &str) -> fn_core::Result<Function> {
        self.inner.function_by_name(namespace, name).await
    }

    async fn wasm_bytes(&self, cid: &Cid) -> fn_core::Result<Bytes> {
        self.fetches.fetch_add(1, Ordering::SeqCst);
        self.fetching.notify_one();
        let _permit = self.gate.acquire().await.expect("the gate is never closed");
        self.inner.wasm_bytes(cid).await
    }
}

#[tokio::test]
async fn closing_the_engine_flushes_its_invocation_logger() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("records.jsonl");
    let logger = fn_telemetry::JsonLinesLogger::open(&path, fn_telemetry::Rotation::default())
        .expect("the file opens");
    let h = harness_with(|b| b.invocation_logger(Arc::new(logger)));
    let hello = h.deploy("hello", guest("hello")).await;
    let ctx = InvocationContext::default();
    let request_id = ctx.request_id.clone();
    h.engine
        .execute(&hello, Bytes::new(), Some(ctx))
        .await
        .unwrap();
    h.engine.close();
    let text = std::fs::read_to_string(&path).unwrap();
    let records: Vec<fn_core::InvocationRecord> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(records.len(), 1, "{text}");
    assert_eq!(records[0].request_id, request_id);
    assert_eq!(records[0].status, InvocationStatus::Success);
}

#[tokio::test]
async fn an_invocation_future_stays_small() {
    // Every move of the future (into an executor, a task, a box) copies it: the
    // sandbox's kilobytes are boxed once, and `execute` holds its invocation once
    // (it was 7.9 KB before, 3.2 KB after; docs/performance.md).
    let h = harness();
    let function = h.deploy("pong", Bytes::from(PONG_WAT)).await;
    let call = h.engine.execute(&function, Bytes::new(), None);
    assert!(
        size_of_val(&call) <= 4096,
        "execute's future is {} bytes",
        size_of_val(&call)
    );
    assert_eq!(call.await.expect("runs"), "pong");
    let detailed = h.engine.execute_detailed(&function, Bytes::new(), None);
    assert!(size_of_val(&detailed) <= 4096, "{}", size_of_val(&detailed));
    assert_eq!(detailed.await.result.expect("runs"), "pong");
}

/// A handle-ABI function answering "pong".
const PONG_WAT: &str = r#"(module
    (memory (export "memory") 1)
    (data (i32.const 0) "pong")
    (func (export "handle") (param i32 i32) (result i64) i64.const 0x0000000400000000))"#;
