//! Helpers shared by the tests: an engine over an in-memory registry, a recording
//! invocation logger, and rate limiters.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use fn_core::{
    Config, Error, Function, FunctionDefinition, InvocationLogger, InvocationRecord, RateDecision,
    RateLimitRequest, RateLimiter, Result,
};
use fn_engine::{Engine, EngineBuilder};
use fn_registry::InMemoryRegistry;

/// The bytes of a guest built by `cargo xtask guests`.
pub(crate) fn guest(name: &str) -> Bytes {
    Bytes::from(fn_guests::bytes(name))
}

/// Keeps every record it is given.
#[derive(Debug, Default)]
pub(crate) struct RecordingLogger {
    records: Mutex<Vec<InvocationRecord>>,
}

impl RecordingLogger {
    pub(crate) fn records(&self) -> Vec<InvocationRecord> {
        self.records.lock().unwrap().clone()
    }

    /// The one record of `request_id`; fails unless there is exactly one.
    pub(crate) fn only(&self, request_id: &str) -> InvocationRecord {
        let matching: Vec<_> = self
            .records()
            .into_iter()
            .filter(|r| r.request_id == request_id)
            .collect();
        assert_eq!(matching.len(), 1, "records of {request_id}: {matching:?}");
        matching.into_iter().next().unwrap()
    }
}

impl InvocationLogger for RecordingLogger {
    fn log(&self, record: InvocationRecord) -> Result<()> {
        self.records.lock().unwrap().push(record);
        Ok(())
    }
}

/// Allows `budget` calls, then denies with the function's key.
#[derive(Debug)]
pub(crate) struct Budget {
    pub(crate) left: Mutex<u32>,
    pub(crate) seen: Mutex<Vec<String>>,
}

#[async_trait]
impl RateLimiter for Budget {
    async fn check(&self, request: &RateLimitRequest<'_>) -> Result<RateDecision> {
        self.seen.lock().unwrap().push(format!(
            "{}/{}/{}",
            request.namespace,
            request.function_name,
            request.caller.unwrap_or("-")
        ));
        let mut left = self.left.lock().unwrap();
        if *left == 0 {
            return Ok(RateDecision::Deny {
                key: format!("function:{}", request.function_id),
                retry_after: Some(Duration::from_secs(2)),
            });
        }
        *left -= 1;
        Ok(RateDecision::Allow)
    }
}

/// A limiter that is broken.
#[derive(Debug)]
pub(crate) struct Broken;

#[async_trait]
impl RateLimiter for Broken {
    async fn check(&self, _: &RateLimitRequest<'_>) -> Result<RateDecision> {
        Err(Error::Internal {
            message: "limiter backend down".into(),
        })
    }
}

/// An engine over a fresh registry, with a recording logger.
pub(crate) struct Harness {
    pub(crate) engine: Engine,
    pub(crate) registry: Arc<InMemoryRegistry>,
    pub(crate) logger: Arc<RecordingLogger>,
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

pub(crate) fn harness_with(change: impl FnOnce(EngineBuilder) -> EngineBuilder) -> Harness {
    let registry = Arc::new(InMemoryRegistry::new());
    let logger = Arc::new(RecordingLogger::default());
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
    /// Stores `wasm` and deploys it as `name` in namespace `test`.
    pub(crate) fn deploy(&self, name: &str, wasm: Bytes) -> Function {
        self.deploy_with(name, wasm, |_| {})
    }

    pub(crate) fn deploy_with(
        &self,
        name: &str,
        wasm: Bytes,
        change: impl FnOnce(&mut FunctionDefinition),
    ) -> Function {
        let cid = self.registry.put_wasm(wasm);
        let mut definition = FunctionDefinition::new("test", name);
        change(&mut definition);
        self.registry
            .deploy(definition, cid, self.engine.config())
            .expect("definition is valid")
    }
}
