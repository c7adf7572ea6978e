//! The engine under test: `Engine::execute` as shipped, with records, admission and
//! telemetry on.

use std::sync::Arc;

use anyhow::Result;
use bytes::Bytes;
use fn_core::{Config, Function, FunctionDefinition};
use fn_engine::Engine;
use fn_registry::InMemoryRegistry;
use fn_telemetry::Telemetry;

use crate::workload::Workload;
use crate::{Invoke, Invoker, Setup};

/// `fn_engine::Engine` with its default config (or the one given), one function deployed
/// for the workload, and as invocation logger fn-telemetry's `Telemetry` keeping its
/// metrics for a Prometheus scrape: every call is admitted by fn-limits, recorded once,
/// and its record turned into metrics, as `fnd serve` does without an OTLP endpoint.
#[derive(Clone, Debug)]
pub struct EngineSetup {
    engine: Engine,
    function: Arc<Function>,
    telemetry: Telemetry,
}

impl EngineSetup {
    /// Builds the engine with `config`, deploys `workload`'s guest and compiles it.
    ///
    /// # Errors
    ///
    /// When the config is invalid, or the guest does not compile or answer.
    pub fn new(workload: &Workload, config: &Config) -> Result<EngineSetup> {
        let telemetry = Telemetry::builder("fn-bench").prometheus()?.build();
        let registry = Arc::new(InMemoryRegistry::new());
        let engine = Engine::builder(registry.clone())
            .config(config.clone())
            .invocation_logger(Arc::new(telemetry.clone()))
            .build()?;
        let definition = FunctionDefinition::new("bench", workload.guest);
        let deploy = engine.deploy(registry.as_ref(), definition, Bytes::from(workload.wasm()));
        let function = Arc::new(
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?
                .block_on(deploy)?,
        );
        Ok(EngineSetup {
            engine,
            function,
            telemetry,
        })
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The metrics the records became, as Prometheus text.
    ///
    /// # Errors
    ///
    /// When the exposition cannot be encoded.
    pub fn metrics(&self) -> Result<String> {
        Ok(self.telemetry.prometheus_text()?)
    }
}

/// One thread's invoker: the shared engine and the thread's own executor.
struct EngineInvoker {
    setup: EngineSetup,
    executor: tokio::runtime::Runtime,
}

impl Invoke for EngineInvoker {
    fn invoke(&mut self, input: &Bytes) -> Result<Bytes> {
        let setup = &self.setup;
        // No context: the engine makes the request id, as for a call without one.
        Ok(self
            .executor
            .block_on(setup.engine.execute(&setup.function, input.clone(), None))?)
    }
}

impl Setup for EngineSetup {
    fn invoker(&self) -> Invoker {
        let executor = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a current-thread executor");
        Box::new(EngineInvoker {
            setup: self.clone(),
            executor,
        })
    }
}
