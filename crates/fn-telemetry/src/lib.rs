//! Telemetry for the function engine, usable without it (no dependency on wasmtime):
//! what becomes of each invocation's record.
//!
//! - [`Telemetry`]: the record as an OpenTelemetry span tree — the invocation span named
//!   after the function, kind SERVER (CONSUMER for pubsub), with the FaaS conventions'
//!   attributes (`faas.trigger`, `faas.invocation_id`, `faas.coldstart`, `faas.name`,
//!   `faas.version`, `faas.max_memory`) and the engine's own under
//!   [`ATTRIBUTE_PREFIX`], a child of the caller's W3C trace context when there is one,
//!   status ERROR and `error.type` on failure, and children `compile` (a cold start),
//!   `instantiate` and `execute` — and as the conventions' metrics (`faas.invocations`,
//!   `faas.errors`, `faas.timeouts`, `faas.coldstarts`, `faas.invoke_duration`,
//!   `faas.init_duration`, `faas.mem_usage`) with the engine's (`fn.invocation.duration`
//!   down to a microsecond, `fn.admission.refusals`, `fn.cache.*`, `fn.records.*`).
//!   Exported over OTLP
//!   (http/protobuf or gRPC) as the standard `OTEL_*` variables say ([`OtelEnv`]), in
//!   batches on the SDK's threads, and kept for a Prometheus scrape
//!   ([`Telemetry::prometheus_text`]).
//! - Invocation loggers: [`TracingLogger`] (a `tracing` event per record),
//!   [`JsonLinesLogger`] (a size-rotated file, written by a thread of its own),
//!   and [`FanOut`] (several of them); fn-core's [`fn_core::MemoryLogger::bounded`]
//!   keeps the last N records in memory.
//!
//! Each is a [`fn_core::InvocationLogger`]: give one (or a [`FanOut`]) to the engine's
//! builder, and every invocation, whatever its end, reaches it once.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//!
//! use fn_core::{Cid, Function, FunctionDefinition, InvocationContext, InvocationLogger};
//! use fn_core::{InvocationRecord, MemoryLogger};
//! use fn_telemetry::{FanOut, OtelEnv, Telemetry};
//!
//! // Export as the environment says (nothing here), and keep metrics for /metrics.
//! let env = OtelEnv::from_pairs(&[("OTEL_SERVICE_NAME", "example")]);
//! let telemetry = Telemetry::builder("fnd").otlp(&env)?.prometheus()?.build();
//! let ring = Arc::new(MemoryLogger::bounded(1000));
//! let logger = FanOut::new(vec![Arc::new(telemetry.clone()), ring.clone()]);
//! // Hand `Arc::new(logger)` to `EngineBuilder::invocation_logger`; here, one record:
//! let function = Function::new(FunctionDefinition::new("acme", "resize"), Cid::of(b"wasm"));
//! let mut record =
//!     InvocationRecord::start(&function, &InvocationContext::default(), 5, chrono::Utc::now());
//! record.set_outcome(Ok(5));
//! logger.log(record)?;
//! assert_eq!(ring.records().len(), 1);
//! let exposition = telemetry.prometheus_text()?;
//! assert!(exposition.contains(r#"faas_invocations_total{faas_name="resize""#));
//! # Ok::<(), fn_core::Error>(())
//! ```

mod loggers;
mod otel;
#[cfg(feature = "testing")]
pub mod testing;

pub use crate::loggers::{FanOut, JsonLinesLogger, Rotation, TracingLogger};
pub use crate::otel::{
    ATTRIBUTE_PREFIX, CacheFigures, DEFAULT_EXPORT_TIMEOUT, DEFAULT_FLUSH_TIMEOUT,
    DEFAULT_METRIC_EXPORT_INTERVAL, ENGINE_DURATION_BUCKETS, FAAS_DURATION_BUCKETS, MEMORY_BUCKETS,
    OtelEnv, OtlpProtocol, OtlpTarget, PROMETHEUS_CONTENT_TYPE, RecordFigures, SCOPE, SamplerSpec,
    Telemetry, TelemetryBuilder,
};
