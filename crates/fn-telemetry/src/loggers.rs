//! Where an engine's invocation records go: a `tracing` event, a JSON-lines file, a ring
//! in memory, or several of these at once.
//!
//! Why these four: a program with a subscriber sees its invocations as events without
//! anything else; an operator without a store keeps them in a file that cannot fill the
//! disk; tests and `fnd logs` read the last ones back; and a platform wants several at
//! once. Every `log` returns at once: the engine calls it on the invocation's path.

mod json_lines;

use std::sync::Arc;

use fn_core::{InvocationLogger, InvocationRecord, Result};

pub use self::json_lines::{JsonLinesLogger, Rotation};

/// Logs each record as one `tracing` event (target `fn_telemetry::invocation`): at
/// `INFO` for a success, `WARN` for any other end, with the record's fields.
#[derive(Debug, Clone, Copy, Default)]
pub struct TracingLogger;

impl InvocationLogger for TracingLogger {
    fn log(&self, record: InvocationRecord) -> Result<()> {
        macro_rules! event {
            ($level:expr) => {
                tracing::event!(
                    target: "fn_telemetry::invocation",
                    $level,
                    invocation_id = %record.id,
                    request_id = %record.request_id,
                    namespace = %record.namespace,
                    function = %record.function_name,
                    version = %record.version,
                    trigger = %record.trigger,
                    status = %record.status,
                    error_kind = record.error_kind.map(|kind| kind.as_str()),
                    error = record.error_message.as_deref(),
                    duration_us = u64::try_from(record.duration.as_micros()).unwrap_or(u64::MAX),
                    input_size = record.input_size,
                    output_size = record.output_size,
                    peak_memory_bytes = record.peak_memory_bytes,
                    cold_start = record.cold_start,
                    max_memory_bytes = record.max_memory_bytes,
                    compile_duration_us =
                        u64::try_from(record.compile_duration.as_micros()).unwrap_or(u64::MAX),
                    "invocation"
                )
            };
        }
        if record.status == fn_core::InvocationStatus::Success {
            event!(tracing::Level::INFO);
        } else {
            event!(tracing::Level::WARN);
        }
        Ok(())
    }
}

/// Gives every record to each of several loggers, in order. One that fails does not keep
/// the record from the others; the first failure is returned.
#[derive(Debug, Clone)]
pub struct FanOut {
    loggers: Vec<Arc<dyn InvocationLogger>>,
}

impl FanOut {
    /// A fan-out to `loggers`.
    #[must_use]
    pub fn new(loggers: Vec<Arc<dyn InvocationLogger>>) -> FanOut {
        FanOut { loggers }
    }
}

impl InvocationLogger for FanOut {
    fn log(&self, record: InvocationRecord) -> Result<()> {
        let Some((last, rest)) = self.loggers.split_last() else {
            return Ok(());
        };
        let rest = first_error(rest.iter().map(|logger| logger.log(record.clone())));
        // The last one takes the record itself: one clone fewer.
        rest.and(last.log(record))
    }

    fn flush(&self) -> Result<()> {
        first_error(self.loggers.iter().map(|logger| logger.flush()))
    }
}

/// Runs every one of `results` and returns the first failure, if any.
fn first_error(results: impl Iterator<Item = Result<()>>) -> Result<()> {
    results.fold(Ok(()), Result::and)
}
