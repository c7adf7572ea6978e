//! [`Telemetry`]: every invocation as an OpenTelemetry span tree and FaaS metrics,
//! exported over OTLP and exposed for Prometheus.
//!
//! Why an [`InvocationLogger`]: the engine already hands every invocation's record,
//! exactly once whatever its end, to its logger; telemetry built from that record needs
//! no second seam in the engine and sees cancelled and refused calls too. The spans are
//! built when the invocation ends (see `spans`), the exports run on the SDK's own
//! threads (the batch span processor, the periodic metric reader), never on the
//! invocation's path.

mod bound;
mod builder;
mod env;
mod metrics;
mod spans;

use std::fmt;
use std::sync::{Arc, PoisonError};
use std::time::Duration;

use fn_core::{Error, InvocationLogger, InvocationRecord, Result};
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};

pub use self::builder::TelemetryBuilder;
pub use self::env::{
    DEFAULT_EXPORT_TIMEOUT, DEFAULT_METRIC_EXPORT_INTERVAL, OtelEnv, OtlpProtocol, OtlpTarget,
    SamplerSpec,
};
pub use self::metrics::{
    CacheFigures, ENGINE_DURATION_BUCKETS, FAAS_DURATION_BUCKETS, MEMORY_BUCKETS, RecordFigures,
};

/// The prefix of the engine's own span and metric attributes (`fn.namespace`, `fn.cid`,
/// `fn.input_size`, `fn.output_size`, `fn.peak_memory`, `fn.request_id`,
/// `fn.function_id`, `fn.caller`, `fn.status`, `fn.refusal`) and metrics
/// (`fn.invocation.duration`, `fn.admission.refusals`, `fn.cache.*`, `fn.records.*`).
pub const ATTRIBUTE_PREFIX: &str = "fn.";

/// The instrumentation scope of the spans and metrics.
pub const SCOPE: &str = "fn-engine";

/// How long [`Telemetry::flush`] and [`Telemetry::shutdown`] wait by default.
pub const DEFAULT_FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

/// The content type of [`Telemetry::prometheus_text`].
pub const PROMETHEUS_CONTENT_TYPE: &str = "text/plain; version=0.0.4";

/// Spans and metrics of every invocation. Cheap to clone (one shared state); give it to
/// the engine as its invocation logger (alone, or in a [`crate::FanOut`]).
#[derive(Clone)]
pub struct Telemetry {
    inner: Arc<Inner>,
}

struct Inner {
    tracer: Option<SdkTracer>,
    tracer_provider: Option<SdkTracerProvider>,
    meter_provider: Option<SdkMeterProvider>,
    instruments: Option<metrics::Instruments>,
    prometheus: Option<prometheus::Registry>,
    cache: metrics::Given<CacheFigures>,
    records: metrics::Given<RecordFigures>,
    flush_timeout: Duration,
    /// The runtime gRPC exporters run their connections on, when there are any: a
    /// multi-threaded one of their own, since tonic's channel deadlocks a flush on a
    /// single-threaded runtime.
    grpc_runtime: Option<tokio::runtime::Runtime>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(runtime) = self.grpc_runtime.take() {
            // Dropping a runtime inside another one panics; this never blocks.
            runtime.shutdown_background();
        }
    }
}

impl fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Telemetry")
            .field("spans", &self.inner.tracer.is_some())
            .field("metrics", &self.inner.instruments.is_some())
            .field("prometheus", &self.inner.prometheus.is_some())
            .field("flush_timeout", &self.inner.flush_timeout)
            .finish()
    }
}

impl Telemetry {
    /// A builder for telemetry of the service `service_name` (the resource's
    /// `service.name`), with nothing exported yet.
    pub fn builder(service_name: impl Into<String>) -> TelemetryBuilder {
        TelemetryBuilder::new(service_name.into())
    }

    /// The telemetry the standard `OTEL_*` variables ask for, for a service named
    /// `default_service_name` unless they name it: `None` when they ask for no export
    /// (or `OTEL_SDK_DISABLED=true`). Each of `env.warnings` is logged.
    ///
    /// # Errors
    ///
    /// [`Error::Validation`] naming the variable when an exporter cannot be built from
    /// it (an endpoint that is not a URL).
    pub fn from_env(env: &OtelEnv, default_service_name: &str) -> Result<Option<Telemetry>> {
        for warning in &env.warnings {
            tracing::warn!(target: "fn_telemetry", "{warning}");
        }
        if !env.exports() {
            return Ok(None);
        }
        Ok(Some(
            Telemetry::builder(default_service_name).otlp(env)?.build(),
        ))
    }

    /// Records `record`'s span tree and metrics. Never blocks: spans go to the batch
    /// processor's queue (dropped, and counted by the SDK, when it is full).
    pub fn observe(&self, record: &InvocationRecord) {
        if let Some(tracer) = &self.inner.tracer {
            spans::emit(tracer, record);
        }
        if let Some(instruments) = &self.inner.instruments {
            instruments.record(record);
        }
    }

    /// Sets the module cache's figures that the `fn.cache.*` metrics report from now on
    /// (until the first call they report none). The program calls it with the engine's
    /// cache statistics: before a scrape, before an exit.
    pub fn update_cache(&self, figures: CacheFigures) {
        *self
            .inner
            .cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(figures);
    }

    /// Sets the record writer's figures that `fn.records.written` and
    /// `fn.records.dropped` report from now on (until the first call they report none).
    pub fn update_records(&self, figures: RecordFigures) {
        *self
            .inner
            .records
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(figures);
    }

    /// The metrics in the Prometheus text exposition format
    /// ([`PROMETHEUS_CONTENT_TYPE`]), for a `/metrics` endpoint.
    ///
    /// # Errors
    ///
    /// [`Error::Unavailable`] when the builder was not asked for
    /// [`TelemetryBuilder::prometheus`]; [`Error::Internal`] when encoding fails.
    pub fn prometheus_text(&self) -> Result<String> {
        let Some(registry) = &self.inner.prometheus else {
            return Err(Error::Unavailable {
                reason: "this telemetry keeps no Prometheus exposition".into(),
            });
        };
        let mut text = String::new();
        prometheus::TextEncoder::new()
            .encode_utf8(&registry.gather(), &mut text)
            .map_err(|error| Error::Internal {
                message: format!("encoding the Prometheus exposition: {error}"),
            })?;
        Ok(text)
    }

    /// Exports every span and metric recorded so far, waiting at most the flush timeout
    /// (an unreachable collector costs that wait, then an error).
    ///
    /// # Errors
    ///
    /// [`Error::Unavailable`] when the export failed or did not finish in time.
    pub fn flush(&self) -> Result<()> {
        let (traces, meters) = self.providers();
        self.bounded("flushing telemetry", move || {
            let traces = traces.map(|p| p.force_flush());
            let meters = meters.map(|p| p.force_flush());
            [traces, meters]
                .into_iter()
                .flatten()
                .find_map(|r| r.err().map(|e| e.to_string()))
        })
    }

    /// Flushes, then stops the exporters' threads, waiting at most the flush timeout.
    /// Later records are dropped.
    ///
    /// # Errors
    ///
    /// [`Error::Unavailable`] when the last export failed or did not finish in time.
    pub fn shutdown(&self) -> Result<()> {
        let (traces, meters) = self.providers();
        let within = self.inner.flush_timeout;
        self.bounded("shutting telemetry down", move || {
            let traces = traces.map(|p| p.shutdown_with_timeout(within));
            let meters = meters.map(|p| p.shutdown());
            [traces, meters]
                .into_iter()
                .flatten()
                .find_map(|r| r.err().map(|e| e.to_string()))
        })
    }

    fn providers(&self) -> (Option<SdkTracerProvider>, Option<SdkMeterProvider>) {
        (
            self.inner.tracer_provider.clone(),
            self.inner.meter_provider.clone(),
        )
    }

    /// Runs `job` (which blocks, and may block for long: the SDK's own bounds are loose)
    /// on a thread of its own and waits for it at most the flush timeout.
    fn bounded(
        &self,
        what: &str,
        job: impl FnOnce() -> Option<String> + Send + 'static,
    ) -> Result<()> {
        let (sender, receiver) = std::sync::mpsc::channel();
        let spawned = std::thread::Builder::new()
            .name("fn-telemetry-flush".into())
            .spawn(move || {
                let _ = sender.send(job());
            });
        if let Err(error) = spawned {
            return Err(Error::Unavailable {
                reason: format!("{what}: no thread: {error}"),
            });
        }
        let within = self.inner.flush_timeout;
        match receiver.recv_timeout(within) {
            Ok(None) => Ok(()),
            Ok(Some(error)) => Err(Error::Unavailable {
                reason: format!("{what}: {error}"),
            }),
            Err(_) => Err(Error::Unavailable {
                reason: format!("{what}: not done within {} ms", within.as_millis()),
            }),
        }
    }
}

impl InvocationLogger for Telemetry {
    fn log(&self, record: InvocationRecord) -> Result<()> {
        self.observe(&record);
        Ok(())
    }

    fn flush(&self) -> Result<()> {
        Telemetry::flush(self)
    }
}
