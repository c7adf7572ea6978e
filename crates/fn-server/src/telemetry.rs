//! The telemetry `fnd` runs with: OpenTelemetry export when the standard `OTEL_*`
//! variables ask for it, and a bounded flush before the program exits.
//!
//! Why here and not in fn-telemetry: which resource attributes describe this process
//! (one function for `fnd run`), and how long an exit may wait, are the program's
//! choices.

use std::sync::Arc;

use anyhow::{Context as _, Result};
use fn_core::{FunctionDefinition, InvocationLogger};
use fn_engine::{CacheStats, Engine};
use fn_telemetry::{CacheFigures, FanOut, OtelEnv, Telemetry};

/// The service name when `OTEL_SERVICE_NAME` gives none.
pub const SERVICE_NAME: &str = "fnd";

/// Telemetry for a process that runs the one function `definition`, when the
/// environment asks for export: the function's name, version and memory limit (bytes)
/// go on the resource as well as on the spans, as the FaaS conventions describe a
/// single-function process.
pub fn for_one_function(definition: &FunctionDefinition) -> Result<Option<Telemetry>> {
    let env = OtelEnv::from_process();
    for warning in &env.warnings {
        tracing::warn!("{warning}");
    }
    if !env.exports() {
        return Ok(None);
    }
    let telemetry = Telemetry::builder(SERVICE_NAME)
        .resource_attribute("faas.name", definition.name.clone())
        .resource_attribute("faas.version", definition.version.to_string())
        .resource_attribute(
            "faas.max_memory",
            i64::try_from(definition.max_memory_bytes).unwrap_or(i64::MAX),
        )
        .otlp(&env)
        .context("OpenTelemetry export")?
        .build();
    Ok(Some(telemetry))
}

/// `records`, and `telemetry` too when there is one.
pub fn logger(
    records: Arc<dyn InvocationLogger>,
    telemetry: Option<&Telemetry>,
) -> Arc<dyn InvocationLogger> {
    match telemetry {
        Some(telemetry) => Arc::new(FanOut::new(vec![Arc::new(telemetry.clone()), records])),
        None => records,
    }
}

/// Exports what is left, with the module cache's figures, and stops the exporters,
/// within the flush timeout; a collector that cannot be reached costs that wait and a
/// warning, never the run's result.
pub async fn finish(telemetry: Option<Telemetry>, engine: &Engine) {
    let Some(telemetry) = telemetry else {
        return;
    };
    telemetry.update_cache(cache_figures(&engine.cache_stats().await));
    let done = tokio::task::spawn_blocking(move || telemetry.shutdown()).await;
    match done {
        Ok(Ok(())) => {}
        Ok(Err(error)) => tracing::warn!(%error, "the telemetry was not all exported"),
        Err(error) => tracing::warn!(%error, "exporting the telemetry failed"),
    }
}

/// The engine's cache statistics as the telemetry reports them.
pub fn cache_figures(stats: &CacheStats) -> CacheFigures {
    CacheFigures {
        entries: stats.entries,
        weighted_size_bytes: stats.weighted_size_bytes,
        hits: stats.hits,
        misses: stats.misses,
        evictions: stats.evictions,
        loads: stats.loads,
        disk_hits: stats.disk_hits,
    }
}
