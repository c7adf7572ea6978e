//! Telemetry for the function engine, usable without it (no dependency on wasmtime).
//!
//! Today: [`InvocationLogger`](fn_core::InvocationLogger) implementations, the places an
//! engine's records go —
//! - [`TracingLogger`]: one `tracing` event per record, for whatever subscriber the
//!   program has;
//! - [`JsonLinesLogger`]: one JSON object per line in a file, written by a thread of its
//!   own (never on the invocation's path), rotated by size;
//! - [`RingLogger`]: the last N records in memory (tests, `fnd logs` without a store);
//! - [`FanOut`]: several of them, each record to every one.
//!
//! The OpenTelemetry invocation span, metrics and OTLP export (issue 12) come next.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//!
//! use fn_core::InvocationLogger;
//! use fn_telemetry::{FanOut, RingLogger, TracingLogger};
//!
//! let ring = Arc::new(RingLogger::new(1000));
//! let logger = FanOut::new(vec![ring.clone(), Arc::new(TracingLogger)]);
//! // Hand `Arc::new(logger)` to `EngineBuilder::invocation_logger`; then, in a test:
//! logger.flush()?;
//! assert!(ring.records().is_empty());
//! # Ok::<(), fn_core::Error>(())
//! ```

mod loggers;
mod otel;
#[cfg(feature = "testing")]
pub mod testing;

pub use crate::loggers::{FanOut, JsonLinesLogger, RingLogger, Rotation, TracingLogger};
pub use crate::otel::{
    ATTRIBUTE_PREFIX, CacheFigures, DEFAULT_EXPORT_TIMEOUT, DEFAULT_FLUSH_TIMEOUT,
    DEFAULT_METRIC_EXPORT_INTERVAL, ENGINE_DURATION_BUCKETS, FAAS_DURATION_BUCKETS, MEMORY_BUCKETS,
    OtelEnv, OtlpProtocol, OtlpTarget, PROMETHEUS_CONTENT_TYPE, SCOPE, SamplerSpec, Telemetry,
    TelemetryBuilder,
};
