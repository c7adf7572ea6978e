//! [`EngineBuilder`]: the settings of an engine, validated together when it is built.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use fn_core::{
    Admission, Config, FunctionRegistry, InvocationLogger, OnAdmissionError, OutboundHttp, Result,
};
use fn_limits::{AdmissionChain, Limits};
use fn_runtime::Runtime;

use crate::{Engine, EngineInner, modules};

/// Builds an [`Engine`]. Every setting has a default; [`EngineBuilder::build`] validates
/// them together.
#[derive(Debug)]
pub struct EngineBuilder {
    pub(crate) config: Config,
    pub(crate) registry: Arc<dyn FunctionRegistry>,
    pub(crate) invocation_logger: Option<Arc<dyn InvocationLogger>>,
    pub(crate) admission: Vec<(Arc<dyn Admission>, OnAdmissionError)>,
    pub(crate) outbound: Option<Arc<dyn OutboundHttp>>,
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

    /// Adds an admission control, asked before every invocation after the engine's own
    /// limits (`config.admission`) and the controls added before it; its permit is held
    /// until the invocation ends. `on_error` says what a failure of the control (an
    /// error that is not a refusal) does: [`OnAdmissionError::Allow`] logs it and lets
    /// the call through, as the Go engine did with its rate limiter. Default: none.
    pub fn admission(
        mut self,
        control: Arc<dyn Admission>,
        on_error: OnAdmissionError,
    ) -> EngineBuilder {
        self.admission.push((control, on_error));
        self
    }

    /// Where the outbound requests of HTTP functions go (fn-host's `Sender`, behind its
    /// guard), each with its function's `allow_outbound` rules. Default: none, and a
    /// deploy with rules is refused, since nothing would send them.
    pub fn outbound(mut self, sender: Arc<dyn OutboundHttp>) -> EngineBuilder {
        self.outbound = Some(sender);
        self
    }

    /// Builds the engine: validates the config and creates the runtime.
    ///
    /// # Errors
    ///
    /// [`Error::Validation`] naming the config field that is wrong; [`Error::Internal`]
    /// when wasmtime cannot be set up at all.
    pub fn build(self) -> Result<Engine> {
        let runtime = Runtime::with_outbound(&self.config, self.outbound)?;
        Ok(Engine {
            inner: Arc::new(EngineInner {
                cache: modules::cache(&self.config, &runtime),
                admission: self.admission.into_iter().fold(
                    AdmissionChain::new(Limits::new(&self.config)),
                    |chain, (control, on_error)| chain.then(control, on_error),
                ),
                config: self.config,
                runtime,
                registry: self.registry,
                invocation_logger: self.invocation_logger,
                closed: AtomicBool::new(false),
            }),
        })
    }
}
