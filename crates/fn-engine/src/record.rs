//! The one record of an invocation, owned by a guard so that it is logged exactly once
//! whatever the invocation's end — including the ends that never return: a caller that
//! drops the invocation's future (a client gone, a caller's own timeout, a runner
//! aborting a case) and a panic.

use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use fn_core::{Error, Function, InvocationContext, InvocationLogger, InvocationRecord};

/// Holds an invocation's record from its start and logs it once: with its outcome by
/// [`Recorder::finish`], or, dropped unfinished, as cancelled (or as an internal error
/// while a panic unwinds) with the duration so far. Made when the invocation is asked
/// for, before its future is first polled.
pub(crate) struct Recorder {
    /// The logger and the record; `None` when records are off or already logged. The
    /// logger is shared, not borrowed: an HTTP function's record outlives the call that
    /// started it (its body streams on).
    pending: Option<(Arc<dyn InvocationLogger>, InvocationRecord)>,
    started: Instant,
}

impl Recorder {
    /// Starts the record of `function` being invoked in `ctx`; a no-op recorder when
    /// `logger` is `None` (records switched off, or no logger).
    pub(crate) fn start(
        logger: Option<Arc<dyn InvocationLogger>>,
        function: &Function,
        ctx: &InvocationContext,
        input_size: u64,
    ) -> Recorder {
        let started = Instant::now();
        let pending = logger.map(|logger| {
            let record = InvocationRecord::start(function, ctx, input_size, Utc::now());
            (logger, record)
        });
        Recorder { pending, started }
    }

    /// Notes whether the module was compiled for this call.
    pub(crate) fn set_cold_start(&mut self, cold_start: bool) {
        if let Some((_, record)) = &mut self.pending {
            record.cold_start = cold_start;
        }
    }

    /// Notes how many bytes of input the guest was given (a request body's, known once
    /// it has been read).
    pub(crate) fn set_input_size(&mut self, bytes: u64) {
        if let Some((_, record)) = &mut self.pending {
            record.input_size = bytes;
        }
    }

    /// Notes the request an HTTP function is served.
    pub(crate) fn set_http_request<B>(&mut self, request: &http::Request<B>) {
        if let Some((_, record)) = &mut self.pending {
            record.http_request = Some(fn_core::HttpRequestLine {
                method: request.method().as_str().to_owned(),
                path: request.uri().path().to_owned(),
                query: request.uri().query().map(str::to_owned),
            });
        }
    }

    /// Notes the memory limit the invocation runs under.
    pub(crate) fn set_max_memory(&mut self, bytes: u64) {
        if let Some((_, record)) = &mut self.pending {
            record.max_memory_bytes = bytes;
        }
    }

    /// Notes how long a cold start waited for its module.
    pub(crate) fn set_compile_duration(&mut self, duration: std::time::Duration) {
        if let Some((_, record)) = &mut self.pending {
            record.compile_duration = duration;
        }
    }

    /// Notes what the runtime measured: the largest linear memory the guest had, and
    /// how long instantiation and the guest's code took.
    pub(crate) fn set_outcome_measures(&mut self, outcome: &fn_runtime::Outcome) {
        if let Some((_, record)) = &mut self.pending {
            record.peak_memory_bytes = outcome.peak_memory_bytes;
            record.instantiate_duration = outcome.instantiate_duration;
            record.execute_duration = outcome.execute_duration;
            record.http_status = outcome.http.and_then(|served| served.status);
        }
    }

    /// Logs the record with the invocation's outcome: the output's size, or the error.
    pub(crate) fn finish(mut self, outcome: Result<u64, &Error>) {
        self.log(outcome);
    }

    fn log(&mut self, outcome: Result<u64, &Error>) {
        let Some((logger, mut record)) = self.pending.take() else {
            return;
        };
        record.duration = self.started.elapsed();
        // From the monotonic clock, not a second wall-clock read: the record's two
        // instants are then exactly its duration apart, whatever the wall clock did.
        record.completed_at = chrono::TimeDelta::from_std(record.duration)
            .ok()
            .and_then(|duration| record.started_at.checked_add_signed(duration))
            .unwrap_or_else(Utc::now);
        record.set_outcome(outcome);
        if let Err(error) = logger.log(record) {
            tracing::warn!(%error, "failed to log an invocation record");
        }
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        if self.pending.is_none() {
            return;
        }
        if std::thread::panicking() {
            // The engine's code or the caller's (which may hold the future) panicked.
            // A logger that panicked too would abort the process: keep that contained.
            let error = Error::Internal {
                message: "a panic unwound the invocation".into(),
            };
            let logged = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                self.log(Err(&error));
            }));
            if logged.is_err() {
                tracing::error!("the invocation logger panicked while a panic unwound");
            }
            return;
        }
        let error = Error::Cancelled {
            after: self.started.elapsed(),
        };
        self.log(Err(&error));
    }
}

impl crate::Engine {
    /// Records an invocation of `function` that its caller refused before the engine
    /// saw its input — a gateway refusing a body on its declared length, before reading
    /// it — so that it is recorded exactly once, as [`Engine::execute`] would have
    /// recorded the same refusal (`input_size` is the size declared). Returns `error`
    /// wrapped as `execute` returns errors.
    pub fn record_refused(
        &self,
        function: &Function,
        ctx: InvocationContext,
        input_size: u64,
        error: Error,
    ) -> Error {
        Recorder::start(self.shared_logger(), function, &ctx, input_size).finish(Err(&error));
        Error::Execution {
            function: function.definition.name.clone(),
            request_id: ctx.request_id,
            source: Box::new(error),
        }
    }

    /// Waits until the records of every invocation that ended so far are written by the
    /// invocation logger (`InvocationLogger::flush`, a bounded wait): a reader of the
    /// store then sees them. Blocking; call it off the async threads.
    ///
    /// # Errors
    ///
    /// The logger's, such as [`Error::Unavailable`] when its bound passed.
    pub fn flush_records(&self) -> fn_core::Result<()> {
        match self.logger() {
            Some(logger) => logger.flush(),
            None => Ok(()),
        }
    }
}
