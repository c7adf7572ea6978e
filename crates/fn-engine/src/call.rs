//! One call's way to its sandbox, shared by every kind of call: the checks, admission
//! and the module (`ready`), then what every run does with its outcome (`ran`).

use std::sync::Arc;

use bytes::Bytes;
use fn_core::{Error, Function, InvocationContext, InvocationLimits, Result};
use fn_limits::Admitted;
use fn_runtime::Invocation;

use crate::record::Recorder;
use crate::{Engine, Streams, modules};

/// A call ready for its sandbox: admitted, with its module and limits.
pub(crate) struct Ready {
    /// Held until the call ends, whatever the end: the slots are given back then.
    _admitted: Admitted,
    pub(crate) module: Arc<modules::Module>,
    limits: InvocationLimits,
}

impl Ready {
    /// What the sandbox is told of `function`.
    pub(crate) fn invocation<'a>(&self, function: &'a Function) -> Invocation<'a> {
        let definition = &function.definition;
        Invocation {
            name: &definition.name,
            env: &definition.env,
            args: &definition.args,
            preopens: &definition.preopens,
            limits: self.limits,
            allow_outbound: &definition.allow_outbound,
            config: &definition.config,
        }
    }
}

impl Engine {
    pub(crate) async fn run(
        &self,
        function: &Function,
        ctx: &InvocationContext,
        input: Bytes,
        recorder: &mut Recorder,
        streams: &mut Streams,
    ) -> Result<Bytes> {
        let ready = self
            .ready(function, ctx, input.len() as u64, recorder)
            .await?;
        // Boxed: the sandbox's future is kilobytes (wasmtime's instantiation and call
        // futures); held inline it would be copied with this one at every move.
        let invoked = self
            .inner
            .runtime
            .invoke(&ready.module, ready.invocation(function), input);
        let outcome = Box::pin(invoked).await;
        self.ran(function, ctx, &outcome, recorder);
        streams.stdout = outcome.stdout;
        streams.log = outcome.log;
        outcome.result
    }

    /// Everything before the sandbox, for a call with `input_size` bytes of input: the
    /// engine open, the function valid, the input within its limit, the call admitted
    /// (its slots held by the answer) and its module compiled.
    pub(crate) async fn ready(
        &self,
        function: &Function,
        ctx: &InvocationContext,
        input_size: u64,
        recorder: &mut Recorder,
    ) -> Result<Ready> {
        self.check_open()?;
        let config = &self.inner.config;
        let definition = &function.definition;
        // The one validation of the whole function: everything below trusts it.
        definition.validate_invocable(config)?;
        if input_size > config.max_input_bytes {
            return Err(Error::InputTooLarge {
                size_bytes: input_size,
                limit_bytes: config.max_input_bytes,
            });
        }
        let limits = InvocationLimits::new(definition, config);
        recorder.set_max_memory(limits.max_memory_bytes());
        let admitted = self.admit(function, ctx).await?;
        // The clock is read only for a cold start: a warm call pays nothing for it.
        let mut cold_since = None;
        let module = self
            .module(&function.wasm_cid, || {
                recorder.set_cold_start(true);
                cold_since = Some(std::time::Instant::now());
            })
            .await;
        if let Some(since) = cold_since {
            recorder.set_compile_duration(since.elapsed());
        }
        Ok(Ready {
            _admitted: admitted,
            module: module?,
            limits,
        })
    }

    /// What every run does with its outcome: its measures into the record, its log to
    /// the operator's debug log.
    pub(crate) fn ran(
        &self,
        function: &Function,
        ctx: &InvocationContext,
        outcome: &fn_runtime::Outcome,
        recorder: &mut Recorder,
    ) {
        recorder.set_outcome_measures(outcome);
        if !outcome.log.is_empty() {
            tracing::debug!(
                function = %function.definition.name,
                request_id = %ctx.request_id,
                log = ?String::from_utf8_lossy(&outcome.log),
                "function log"
            );
        }
    }
}
