//! [`EngineBuilder`]: the settings of an engine, validated together when it is built.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use fn_core::{Config, FunctionRegistry, InvocationLogger, RateLimiter, Result};
use fn_runtime::Runtime;

use crate::{Engine, EngineInner, modules};

/// Builds an [`Engine`]. Every setting has a default; [`EngineBuilder::build`] validates
/// them together.
#[derive(Debug)]
pub struct EngineBuilder {
    pub(crate) config: Config,
    pub(crate) registry: Arc<dyn FunctionRegistry>,
    pub(crate) invocation_logger: Option<Arc<dyn InvocationLogger>>,
    pub(crate) rate_limiter: Option<Arc<dyn RateLimiter>>,
}

impl EngineBuilder {
    /// The engine-wide limits. Default: [`Config::default`].
    pub fn config(mut self, config: Config) -> EngineBuilder {
        self.config = config;
        self
    }

    /// Where every invocation's record goes (when `config.log_invocations` is on).
    /// Default: none.
    pub fn invocation_logger(mut self, logger: Arc<dyn InvocationLogger>) -> EngineBuilder {
        self.invocation_logger = Some(logger);
        self
    }

    /// Asked before every invocation. Default: none (no rate limit).
    pub fn rate_limiter(mut self, limiter: Arc<dyn RateLimiter>) -> EngineBuilder {
        self.rate_limiter = Some(limiter);
        self
    }

    /// Builds the engine: validates the config and creates the runtime.
    ///
    /// # Errors
    ///
    /// [`Error::Validation`] naming the config field that is wrong; [`Error::Internal`]
    /// when wasmtime cannot be set up at all.
    pub fn build(self) -> Result<Engine> {
        let runtime = Runtime::new(&self.config)?;
        Ok(Engine {
            inner: Arc::new(EngineInner {
                cache: modules::cache(&self.config, &runtime),
                config: self.config,
                runtime,
                registry: self.registry,
                invocation_logger: self.invocation_logger,
                rate_limiter: self.rate_limiter,
                closed: AtomicBool::new(false),
            }),
        })
    }
}
