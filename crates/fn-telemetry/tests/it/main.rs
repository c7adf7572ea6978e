//! fn-telemetry's integration tests.

mod loggers;
mod otlp;
