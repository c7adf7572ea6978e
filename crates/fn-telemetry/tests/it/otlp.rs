//! Export for real: the standard variables point at an OTLP/HTTP receiver on loopback,
//! and what arrives is decoded with the OTLP protobuf messages. Also the bounded flush
//! against a collector that is not there, and the Prometheus exposition.

use std::net::TcpListener;
use std::sync::mpsc;
use std::time::Duration;

use fn_core::{
    Cid, Error, Function, FunctionDefinition, InvocationContext, InvocationRecord, TraceContext,
    TriggerType,
};
use fn_telemetry::testing::{OtlpHttpReceiver, Received, string};
use fn_telemetry::{OtelEnv, Telemetry};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::metrics::v1::metric;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;

/// A record of a cold invocation of `acme/resize` that ran 3 ms, within a caller's trace.
fn record(failed: bool) -> InvocationRecord {
    let function = Function::new(FunctionDefinition::new("acme", "resize"), Cid::of(b"wasm"));
    let trace = TraceContext::parse(
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        None,
    )
    .unwrap();
    let ctx = InvocationContext::new(TriggerType::Http).with_trace(trace);
    let started = chrono::Utc::now();
    let mut record = InvocationRecord::start(&function, &ctx, 13, started);
    record.cold_start = true;
    record.compile_duration = Duration::from_millis(2);
    record.instantiate_duration = Some(Duration::from_micros(300));
    record.execute_duration = Some(Duration::from_micros(500));
    record.duration = Duration::from_millis(3);
    record.completed_at = started + chrono::Duration::milliseconds(3);
    record.peak_memory_bytes = 1 << 17;
    record.max_memory_bytes = 64 << 20;
    if failed {
        record.set_outcome(Err(&Error::Timeout {
            limit: Duration::from_millis(3),
        }));
    } else {
        record.set_outcome(Ok(13));
    }
    record
}

fn env(vars: &[(&str, &str)]) -> OtelEnv {
    OtelEnv::from_pairs(vars)
}

#[test]
fn the_standard_variables_deliver_spans_and_metrics_to_an_otlp_http_receiver() {
    let receiver = OtlpHttpReceiver::start();
    let env = env(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint()),
        ("OTEL_EXPORTER_OTLP_HEADERS", "x-tenant=acme"),
        ("OTEL_SERVICE_NAME", "fn-tests"),
        ("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=ci"),
    ]);
    let telemetry = Telemetry::from_env(&env, "fnd")
        .unwrap()
        .expect("export asked for");
    telemetry.observe(&record(false));
    telemetry.observe(&record(true));
    telemetry.flush().expect("the receiver is there");

    let mut traces = Vec::new();
    let mut metrics = Vec::new();
    while let Some(received) = receiver.next(Duration::from_secs(10)) {
        match received {
            Received::Traces(request) => traces.push(request),
            Received::Metrics(request) => metrics.push(request),
            Received::Unexpected(path) => panic!("an unexpected export to {path}"),
        }
        if !traces.is_empty() && !metrics.is_empty() {
            break;
        }
    }
    let resource_spans = &traces.first().expect("spans arrived").resource_spans[0];
    let resource = &resource_spans.resource.as_ref().unwrap().attributes;
    assert_eq!(
        string(resource, "service.name").as_deref(),
        Some("fn-tests")
    );
    assert_eq!(
        string(resource, "deployment.environment").as_deref(),
        Some("ci")
    );
    let spans: Vec<_> = resource_spans
        .scope_spans
        .iter()
        .flat_map(|s| s.spans.iter())
        .collect();
    let roots: Vec<_> = spans.iter().filter(|s| s.name == "resize").collect();
    assert_eq!(roots.len(), 2, "{spans:?}");
    for root in &roots {
        assert_eq!(root.kind, SpanKind::Server as i32);
        assert_eq!(hex(&root.trace_id), "0af7651916cd43dd8448eb211c80319c");
        assert_eq!(hex(&root.parent_span_id), "b7ad6b7169203331");
        assert_eq!(
            string(&root.attributes, "faas.trigger").as_deref(),
            Some("http")
        );
        assert_eq!(
            string(&root.attributes, "fn.namespace").as_deref(),
            Some("acme")
        );
        let children: Vec<_> = spans
            .iter()
            .filter(|s| s.parent_span_id == root.span_id)
            .map(|s| s.name.as_str())
            .collect();
        assert_eq!(
            children.len(),
            3,
            "compile, instantiate, execute: {children:?}"
        );
    }
    let failed = roots
        .iter()
        .find(|r| string(&r.attributes, "error.type").as_deref() == Some("timeout"))
        .expect("the failed one");
    assert_eq!(
        failed.status.as_ref().unwrap().code,
        StatusCode::Error as i32
    );

    let names: Vec<_> = metrics
        .iter()
        .flat_map(|m| &m.resource_metrics)
        .flat_map(|r| &r.scope_metrics)
        .flat_map(|s| &s.metrics)
        .map(|m| {
            if m.name == "faas.invoke_duration"
                && let Some(metric::Data::Histogram(h)) = &m.data
            {
                assert_eq!(m.unit, "s");
                assert_eq!(h.data_points[0].explicit_bounds[0], 0.005);
            }
            m.name.clone()
        })
        .collect();
    for name in [
        "faas.invocations",
        "faas.errors",
        "faas.timeouts",
        "faas.coldstarts",
        "faas.invoke_duration",
        "faas.init_duration",
        "faas.mem_usage",
        "fn.invocation.duration",
    ] {
        assert!(names.iter().any(|n| n == name), "{name} in {names:?}");
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn an_unreachable_collector_fails_the_flush_instead_of_hanging() {
    // A port that was just free: nothing listens there.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let env = env(&[("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint)]);
    let telemetry = Telemetry::builder("fn-tests")
        .flush_timeout(Duration::from_millis(500))
        .otlp(&env)
        .unwrap()
        .build();
    telemetry.observe(&record(false));
    // A failure, not a hang: the exporter would retry for seconds, the flush gives up
    // at its timeout.
    let error = telemetry.flush().unwrap_err();
    assert!(matches!(error, Error::Unavailable { .. }), "{error}");
}

#[test]
fn nothing_is_built_when_nothing_is_asked_for() {
    assert!(Telemetry::from_env(&env(&[]), "fnd").unwrap().is_none());
    let disabled = env(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9"),
        ("OTEL_SDK_DISABLED", "true"),
    ]);
    assert!(Telemetry::from_env(&disabled, "fnd").unwrap().is_none());
}

#[test]
fn a_bad_endpoint_is_refused_naming_the_variable() {
    let env = env(&[("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "not a url")]);
    let error = Telemetry::from_env(&env, "fnd").unwrap_err();
    assert!(
        error
            .to_string()
            .contains("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
        "{error}"
    );
}

#[test]
fn the_prometheus_exposition_has_the_faas_metrics_with_their_units() {
    let telemetry = Telemetry::builder("fn-tests").prometheus().unwrap().build();
    telemetry.observe(&record(false));
    telemetry.observe(&record(true));
    let before = telemetry.prometheus_text().unwrap();
    assert!(
        !before.contains("fn_cache_hits"),
        "no figures yet, no false zero:\n{before}"
    );
    telemetry.update_cache(fn_telemetry::CacheFigures {
        entries: 3,
        hits: 40,
        misses: 2,
        ..Default::default()
    });
    telemetry.update_records(fn_telemetry::RecordFigures {
        written: 9,
        dropped: 1,
    });
    let text = telemetry.prometheus_text().unwrap();
    for line in [
        "# TYPE faas_invocations_total counter",
        "# TYPE faas_invoke_duration_seconds histogram",
        "# TYPE faas_mem_usage_bytes histogram",
        "# TYPE fn_invocation_duration_seconds histogram",
        "fn_cache_hits_total{",
        "fn_cache_entries{",
        "fn_records_dropped_total{",
    ] {
        assert!(text.contains(line), "{line:?} in\n{text}");
    }
    let errors = text
        .lines()
        .find(|l| l.starts_with("faas_errors_total{"))
        .expect("an error counted");
    assert!(errors.contains(r#"error_type="timeout""#), "{errors}");
    assert!(errors.contains(r#"faas_name="resize""#), "{errors}");
    assert!(errors.ends_with(" 1"), "{errors}");
    let no_prometheus = Telemetry::builder("fn-tests").build();
    assert!(matches!(
        no_prometheus.prometheus_text(),
        Err(Error::Unavailable { .. })
    ));
}

mod grpc {
    use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceResponse;
    use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
        MetricsService, MetricsServiceServer,
    };
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
    use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
        TraceService, TraceServiceServer,
    };

    use super::*;

    /// What the gRPC receiver got.
    enum Got {
        Traces(ExportTraceServiceRequest),
        Metrics(ExportMetricsServiceRequest),
    }

    struct Receiver(mpsc::Sender<Got>);

    #[tonic::async_trait]
    impl TraceService for Receiver {
        async fn export(
            &self,
            request: tonic::Request<ExportTraceServiceRequest>,
        ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
            let _ = self.0.send(Got::Traces(request.into_inner()));
            Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
        }
    }

    #[tonic::async_trait]
    impl MetricsService for Receiver {
        async fn export(
            &self,
            request: tonic::Request<ExportMetricsServiceRequest>,
        ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
            let _ = self.0.send(Got::Metrics(request.into_inner()));
            Ok(tonic::Response::new(ExportMetricsServiceResponse::default()))
        }
    }

    /// An OTLP gRPC receiver on loopback, on a runtime of its own.
    fn receiver() -> (String, mpsc::Receiver<Got>) {
        let (sender, received) = mpsc::channel();
        let (address_sender, address) = mpsc::channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                address_sender.send(listener.local_addr().unwrap()).unwrap();
                tonic::transport::Server::builder()
                    .add_service(TraceServiceServer::new(Receiver(sender.clone())))
                    .add_service(MetricsServiceServer::new(Receiver(sender)))
                    .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
                    .await
                    .unwrap();
            });
        });
        let address = address.recv().unwrap();
        (format!("http://{address}"), received)
    }

    #[test]
    fn grpc_delivers_spans_and_metrics_too() {
        let (endpoint, received) = receiver();
        let env = env(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ]);
        let telemetry = Telemetry::from_env(&env, "fnd")
            .unwrap()
            .expect("export asked for");
        telemetry.observe(&record(false));
        telemetry.flush().expect("the receiver is there");
        let (mut spans, mut metrics) = (Vec::new(), Vec::new());
        while spans.is_empty() || metrics.is_empty() {
            match received
                .recv_timeout(Duration::from_secs(10))
                .expect("both signals arrive")
            {
                Got::Traces(t) => spans.extend(
                    t.resource_spans
                        .into_iter()
                        .flat_map(|r| r.scope_spans)
                        .flat_map(|s| s.spans)
                        .map(|s| s.name),
                ),
                Got::Metrics(m) => metrics.extend(
                    m.resource_metrics
                        .into_iter()
                        .flat_map(|r| r.scope_metrics)
                        .flat_map(|s| s.metrics)
                        .map(|m| m.name),
                ),
            }
        }
        spans.sort();
        assert_eq!(spans, ["compile", "execute", "instantiate", "resize"]);
        assert!(
            metrics.iter().any(|m| m == "faas.invocations"),
            "{metrics:?}"
        );
        telemetry.shutdown().unwrap();
    }
}
