//! Helpers shared by the tests: an engine over an in-memory registry with a
//! [`MemoryLogger`], and an admission control to plug in.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use fn_core::{
    Admission, AdmissionRequest, Config, Error, Function, FunctionDefinition, FunctionStore,
    InvocationContext, InvocationRecord, MemoryLogger, Permit, Result,
};
use fn_engine::{Engine, EngineBuilder};
use fn_registry::InMemoryRegistry;

/// The bytes of a guest built by `cargo xtask guests`.
pub(crate) fn guest(name: &str) -> Bytes {
    Bytes::from(fn_guests::bytes(name))
}

/// The one record of `request_id` in `logger`; fails unless there is exactly one.
pub(crate) fn only(logger: &MemoryLogger, request_id: &str) -> InvocationRecord {
    let matching: Vec<_> = logger
        .records()
        .into_iter()
        .filter(|r| r.request_id == request_id)
        .collect();
    assert_eq!(matching.len(), 1, "records of {request_id}: {matching:?}");
    matching.into_iter().next().unwrap()
}

/// An admission control that admits `budget` calls, then refuses with the function's
/// key, noting every call it sees; or, broken, fails every call.
#[derive(Debug, Default)]
pub(crate) struct Budget {
    pub(crate) left: Mutex<u32>,
    pub(crate) seen: Mutex<Vec<String>>,
    pub(crate) broken: bool,
}

impl Budget {
    pub(crate) fn of(left: u32) -> Arc<Budget> {
        Arc::new(Budget {
            left: Mutex::new(left),
            ..Budget::default()
        })
    }

    pub(crate) fn broken() -> Arc<Budget> {
        Arc::new(Budget {
            broken: true,
            ..Budget::default()
        })
    }
}

#[async_trait]
impl Admission for Budget {
    async fn admit(&self, request: &AdmissionRequest<'_>) -> Result<Permit> {
        let definition = &request.function.definition;
        self.seen.lock().unwrap().push(format!(
            "{}/{}/{}",
            definition.namespace,
            definition.name,
            request.context.caller.as_deref().unwrap_or("-")
        ));
        if self.broken {
            return Err(Error::Unavailable {
                reason: "limiter backend down".into(),
            });
        }
        let mut left = self.left.lock().unwrap();
        if *left == 0 {
            return Err(Error::RateLimited {
                key: format!("function:{}", request.function.id),
                retry_after: Some(Duration::from_secs(2)),
            });
        }
        *left -= 1;
        Ok(Permit::free())
    }
}

/// An engine over a fresh registry, with a recording logger.
pub(crate) struct Harness {
    pub(crate) engine: Engine,
    pub(crate) registry: Arc<InMemoryRegistry>,
    pub(crate) logger: Arc<MemoryLogger>,
}

pub(crate) fn test_config() -> Config {
    let mut config = Config::default();
    config.pooling.slots = 128;
    config.max_memory_bytes = 128 << 20;
    config
}

pub(crate) fn harness() -> Harness {
    harness_with(|b| b)
}

/// A harness whose config is [`test_config`] changed by `change`.
pub(crate) fn harness_configured(change: impl FnOnce(&mut Config)) -> Harness {
    let mut config = test_config();
    change(&mut config);
    harness_with(|b| b.config(config))
}

pub(crate) fn harness_with(change: impl FnOnce(EngineBuilder) -> EngineBuilder) -> Harness {
    let registry = Arc::new(InMemoryRegistry::new());
    let logger = Arc::new(MemoryLogger::new());
    let builder = Engine::builder(registry.clone())
        .config(test_config())
        .invocation_logger(logger.clone());
    let engine = change(builder).build().expect("engine builds");
    Harness {
        engine,
        registry,
        logger,
    }
}

impl Harness {
    /// `GET path` served by the HTTP function `function`: the status and the body.
    pub(crate) async fn get(&self, function: &Function, path: &str) -> (u16, String) {
        use http_body_util::BodyExt as _;
        let request = http::Request::get(path)
            .body(fn_engine::full_body(bytes::Bytes::new()))
            .unwrap();
        let response = self
            .engine
            .serve_http(function, request, None)
            .await
            .unwrap();
        let status = response.status().as_u16();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    /// Deploys `wasm` as `name` in namespace `test` through [`Engine::deploy`]: checked,
    /// compiled and cached before the store keeps it.
    pub(crate) async fn deploy(&self, name: &str, wasm: Bytes) -> Function {
        self.deploy_with(name, wasm, |_| {}).await
    }

    pub(crate) async fn deploy_with(
        &self,
        name: &str,
        wasm: Bytes,
        change: impl FnOnce(&mut FunctionDefinition),
    ) -> Function {
        let mut definition = FunctionDefinition::new("test", name);
        change(&mut definition);
        self.engine
            .deploy(self.registry.as_ref(), definition, wasm)
            .await
            .expect("deploys")
    }

    /// Keeps `wasm` as `name` in namespace `test` the way a store filled by another
    /// node or an earlier run holds it: never compiled by this engine, and unchecked
    /// (for the calls that must meet a module that does not compile, or meet it cold).
    pub(crate) async fn stored(&self, name: &str, wasm: Bytes) -> Function {
        self.stored_with(name, wasm, |_| {}).await
    }

    pub(crate) async fn stored_with(
        &self,
        name: &str,
        wasm: Bytes,
        change: impl FnOnce(&mut FunctionDefinition),
    ) -> Function {
        let mut definition = FunctionDefinition::new("test", name);
        change(&mut definition);
        stored(self.registry.as_ref(), definition, wasm).await
    }
}

/// `wasm` kept in `store` and deployed there as `definition`, without the engine.
pub(crate) async fn stored(
    store: &dyn FunctionStore,
    definition: FunctionDefinition,
    wasm: Bytes,
) -> Function {
    let cid = store.put_module(wasm).await.expect("kept");
    store.deploy(definition, cid).await.expect("kept")
}

/// Runs `function` with a fresh context, returns the error and the call's one record.
pub(crate) async fn failing(
    h: &Harness,
    function: &Function,
    input: &'static [u8],
) -> (Error, InvocationRecord) {
    failing_in(h, function, input, InvocationContext::default()).await
}

/// As [`failing`], in `ctx`.
pub(crate) async fn failing_in(
    h: &Harness,
    function: &Function,
    input: &'static [u8],
    ctx: InvocationContext,
) -> (Error, InvocationRecord) {
    let request_id = ctx.request_id.clone();
    let error = h
        .engine
        .execute(function, Bytes::from_static(input), Some(ctx))
        .await
        .unwrap_err();
    match &error {
        Error::Execution {
            function: name,
            request_id: id,
            ..
        } => {
            assert_eq!(name, function.name());
            assert_eq!(*id, request_id);
        }
        other => panic!("errors are wrapped with the function and request: {other:?}"),
    }
    let record = only(&h.logger, &request_id);
    assert_eq!(
        record.error_message.as_deref(),
        Some(error.root().to_string().as_str())
    );
    assert_eq!(record.error_kind, Some(error.kind()));
    (error, record)
}
