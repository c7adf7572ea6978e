//! fn-telemetry's integration tests.

mod loggers;
mod metrics;
mod otlp;
