//! [`TelemetryBuilder`]: the resource, the sampler, and where spans and metrics go —
//! exporters given in code, or the OTLP exporters the `OTEL_*` variables ask for.
//!
//! Why apart from [`Telemetry`]: building is the SDK's many knobs (transports, readers,
//! the gRPC runtime); using is one call per record. Tests and programs meet the first
//! once and the second always.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fn_core::{Error, Result};
use opentelemetry::KeyValue;
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{
    MetricExporter, SpanExporter, WithExportConfig, WithHttpConfig, WithTonicConfig,
};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::{MeterProviderBuilder, PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{
    BatchSpanProcessor, Sampler, SdkTracerProvider, TracerProviderBuilder,
};

use super::{
    DEFAULT_FLUSH_TIMEOUT, Inner, OtelEnv, OtlpProtocol, SCOPE, SamplerSpec, Telemetry, metrics,
};

/// Builds a [`Telemetry`]: its resource and sampler, where spans and metrics go.
pub struct TelemetryBuilder {
    service_name: String,
    resource: Vec<KeyValue>,
    sampler: SamplerSpec,
    tracer: TracerProviderBuilder,
    spans: bool,
    meter: MeterProviderBuilder,
    metrics: bool,
    prometheus: Option<prometheus::Registry>,
    flush_timeout: Duration,
    grpc_runtime: Option<tokio::runtime::Runtime>,
}

impl fmt::Debug for TelemetryBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TelemetryBuilder")
            .field("service_name", &self.service_name)
            .field("sampler", &self.sampler)
            .field("spans", &self.spans)
            .field("metrics", &self.metrics)
            .field("prometheus", &self.prometheus.is_some())
            .finish_non_exhaustive()
    }
}

impl TelemetryBuilder {
    pub(super) fn new(service_name: String) -> TelemetryBuilder {
        TelemetryBuilder {
            service_name,
            resource: Vec::new(),
            sampler: SamplerSpec::ParentBasedAlwaysOn,
            tracer: SdkTracerProvider::builder(),
            spans: false,
            meter: SdkMeterProvider::builder(),
            metrics: false,
            prometheus: None,
            flush_timeout: DEFAULT_FLUSH_TIMEOUT,
            grpc_runtime: None,
        }
    }

    /// Adds a resource attribute (`deployment.environment`, `faas.name` for a process
    /// that runs one function, …).
    #[must_use]
    pub fn resource_attribute(mut self, key: &str, value: impl Into<opentelemetry::Value>) -> Self {
        self.resource.push(KeyValue::new(key.to_owned(), value));
        self
    }

    /// Sets the sampler (parent-based always-on by default).
    #[must_use]
    pub fn sampler(mut self, sampler: SamplerSpec) -> Self {
        self.sampler = sampler;
        self
    }

    /// Sends spans to `exporter` in batches, from a thread of the SDK's.
    #[must_use]
    pub fn span_exporter(
        self,
        exporter: impl opentelemetry_sdk::trace::SpanExporter + 'static,
    ) -> Self {
        self.span_processor(BatchSpanProcessor::builder(exporter).build())
    }

    /// Sends spans to `processor` (a `SimpleSpanProcessor` over an in-memory exporter
    /// in tests).
    #[must_use]
    pub fn span_processor(
        mut self,
        processor: impl opentelemetry_sdk::trace::SpanProcessor + 'static,
    ) -> Self {
        self.tracer = self.tracer.with_span_processor(processor);
        self.spans = true;
        self
    }

    /// Lets `reader` collect the metrics (a `PeriodicReader` over an exporter).
    #[must_use]
    pub fn metric_reader(
        mut self,
        reader: impl opentelemetry_sdk::metrics::reader::MetricReader,
    ) -> Self {
        self.meter = self.meter.with_reader(reader);
        self.metrics = true;
        self
    }

    /// Keeps the metrics for [`Telemetry::prometheus_text`] as well.
    ///
    /// # Errors
    ///
    /// [`Error::Internal`] when the Prometheus exporter cannot be built.
    pub fn prometheus(mut self) -> Result<Self> {
        let registry = prometheus::Registry::new();
        let exporter = opentelemetry_prometheus::exporter()
            .with_registry(registry.clone())
            .build()
            .map_err(|error| Error::Internal {
                message: format!("building the Prometheus exporter: {error}"),
            })?;
        self.prometheus = Some(registry);
        Ok(self.metric_reader(exporter))
    }

    /// How long [`Telemetry::flush`] and [`Telemetry::shutdown`] wait at most (5 s by
    /// default).
    #[must_use]
    pub fn flush_timeout(mut self, within: Duration) -> Self {
        self.flush_timeout = within;
        self
    }

    /// Applies what the `OTEL_*` variables ask for: the service name and resource
    /// attributes, the sampler, and an OTLP exporter for each signal they export.
    ///
    /// # Errors
    ///
    /// [`Error::Validation`] naming the variable when an exporter cannot be built from
    /// it.
    pub fn otlp(mut self, env: &OtelEnv) -> Result<Self> {
        if let Some(name) = &env.service_name {
            self.service_name.clone_from(name);
        }
        for (key, value) in &env.resource_attributes {
            if key != "service.name" {
                self.resource
                    .push(KeyValue::new(key.clone(), value.clone()));
            }
        }
        self.sampler = env.sampler;
        if env.disabled {
            return Ok(self);
        }
        // The span and metric exporters' builders are distinct types with the same
        // methods: one macro builds either from its target.
        macro_rules! exporter {
            ($exporter:ident, $target:expr, $signal:literal) => {
                match $target.protocol {
                    OtlpProtocol::HttpProtobuf => $exporter::builder()
                        .with_http()
                        .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
                        .with_endpoint(&$target.endpoint)
                        .with_timeout($target.timeout)
                        .with_headers($target.headers.iter().cloned().collect())
                        .build(),
                    OtlpProtocol::Grpc => {
                        let _entered = self.grpc_runtime()?.enter();
                        $exporter::builder()
                            .with_tonic()
                            .with_endpoint(&$target.endpoint)
                            .with_timeout($target.timeout)
                            .with_metadata(metadata(&$target.headers))
                            .build()
                    }
                }
                .map_err(|error| exporter_error($signal, &error))?
            };
        }
        if let Some(target) = &env.traces {
            let exporter = exporter!(SpanExporter, target, "TRACES");
            self = self.span_exporter(exporter);
        }
        if let Some(target) = &env.metrics {
            let exporter = exporter!(MetricExporter, target, "METRICS");
            let reader = PeriodicReader::builder(exporter)
                .with_interval(env.metric_export_interval)
                .build();
            self = self.metric_reader(reader);
        }
        Ok(self)
    }

    fn grpc_runtime(&mut self) -> Result<&tokio::runtime::Runtime> {
        if self.grpc_runtime.is_none() {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("fn-telemetry-grpc")
                .enable_all()
                .build()
                .map_err(|error| Error::Internal {
                    message: format!("starting the runtime of the gRPC exporters: {error}"),
                })?;
            self.grpc_runtime = Some(runtime);
        }
        Ok(self.grpc_runtime.as_ref().expect("just set"))
    }

    /// The telemetry: spans only when an exporter or processor was given, metrics only
    /// when a reader was (so with neither it costs close to nothing per invocation).
    pub fn build(self) -> Telemetry {
        let mut attributes = vec![KeyValue::new("service.name", self.service_name)];
        attributes.extend(self.resource);
        let resource = Resource::builder_empty()
            .with_attributes(attributes)
            .with_detector(Box::new(
                opentelemetry_sdk::resource::TelemetryResourceDetector,
            ))
            .build();
        let (tracer, tracer_provider) = if self.spans {
            let provider = self
                .tracer
                .with_sampler(sampler(self.sampler))
                .with_resource(resource.clone())
                .build();
            (Some(provider.tracer(SCOPE)), Some(provider))
        } else {
            (None, None)
        };
        let cache = Arc::new(Mutex::new(None));
        let records = Arc::new(Mutex::new(None));
        let (instruments, meter_provider) = if self.metrics {
            let provider = self.meter.with_resource(resource).build();
            let meter = provider.meter(SCOPE);
            (
                Some(metrics::Instruments::new(&meter, &cache, &records)),
                Some(provider),
            )
        } else {
            (None, None)
        };
        Telemetry {
            inner: Arc::new(Inner {
                tracer,
                tracer_provider,
                meter_provider,
                instruments,
                prometheus: self.prometheus,
                cache,
                records,
                flush_timeout: self.flush_timeout,
                grpc_runtime: self.grpc_runtime,
            }),
        }
    }
}

fn sampler(spec: SamplerSpec) -> Sampler {
    match spec {
        SamplerSpec::AlwaysOn => Sampler::AlwaysOn,
        SamplerSpec::AlwaysOff => Sampler::AlwaysOff,
        SamplerSpec::TraceIdRatio(ratio) => Sampler::TraceIdRatioBased(ratio),
        SamplerSpec::ParentBasedAlwaysOn => Sampler::ParentBased(Box::new(Sampler::AlwaysOn)),
        SamplerSpec::ParentBasedAlwaysOff => Sampler::ParentBased(Box::new(Sampler::AlwaysOff)),
        SamplerSpec::ParentBasedTraceIdRatio(ratio) => {
            Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(ratio)))
        }
    }
}

fn metadata(
    headers: &[(String, String)],
) -> opentelemetry_otlp::tonic_types::metadata::MetadataMap {
    let mut map = http::HeaderMap::new();
    for (key, value) in headers {
        if let (Ok(key), Ok(value)) = (
            http::HeaderName::from_bytes(key.as_bytes()),
            http::HeaderValue::from_str(value),
        ) {
            map.insert(key, value);
        }
    }
    opentelemetry_otlp::tonic_types::metadata::MetadataMap::from_headers(map)
}

fn exporter_error(signal: &str, error: &opentelemetry_otlp::ExporterBuildError) -> Error {
    Error::validation(
        format!("OTEL_EXPORTER_OTLP_{signal}_ENDPOINT"),
        format!("the OTLP exporter cannot be built: {error}"),
    )
}
