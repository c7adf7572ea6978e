//! `fnd run` with the standard `OTEL_*` variables set: the span tree and metrics reach an
//! OTLP receiver, joined to the caller's `TRACEPARENT`, before the process exits; an
//! unreachable collector costs a warning, never the run's result.

use std::ffi::OsStr;
use std::time::Duration;

use fn_telemetry::testing::opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use fn_telemetry::testing::{OtlpHttpReceiver, Received, string};

use super::{fnd_with, guest, text};

#[test]
fn fnd_run_exports_the_span_tree_and_metrics_before_it_exits() {
    let receiver = OtlpHttpReceiver::start();
    let hello = guest("hello");
    let out = fnd_with(
        &["run", hello.to_str().unwrap(), "--input", "otel"],
        &[
            (
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                OsStr::new(receiver.endpoint()),
            ),
            (
                "TRACEPARENT",
                OsStr::new("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
            ),
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "hello, otel!\n");

    // The process has exited: everything it exported has arrived.
    let mut spans = Vec::new();
    let mut resource = Vec::new();
    let mut metrics = Vec::new();
    while let Some(received) = receiver.next(Duration::from_millis(100)) {
        match received {
            Received::Traces(request) => {
                for r in request.resource_spans {
                    resource = r.resource.map(|r| r.attributes).unwrap_or_default();
                    spans.extend(r.scope_spans.into_iter().flat_map(|s| s.spans));
                }
            }
            Received::Metrics(request) => metrics.extend(
                request
                    .resource_metrics
                    .into_iter()
                    .flat_map(|r| r.scope_metrics)
                    .flat_map(|s| s.metrics)
                    .map(|m| m.name),
            ),
            Received::Unexpected(path) => panic!("an unexpected export to {path}"),
        }
    }
    assert_eq!(string(&resource, "service.name").as_deref(), Some("fnd"));
    assert_eq!(string(&resource, "faas.name").as_deref(), Some("hello"));
    let root = spans
        .iter()
        .find(|s| s.name == "hello")
        .expect("the invocation span");
    assert_eq!(root.kind, SpanKind::Server as i32);
    assert_eq!(
        root.parent_span_id,
        [0xb7, 0xad, 0x6b, 0x71, 0x69, 0x20, 0x33, 0x31]
    );
    assert_eq!(
        string(&root.attributes, "faas.trigger").as_deref(),
        Some("other")
    );
    let mut children: Vec<_> = spans
        .iter()
        .filter(|s| s.parent_span_id == root.span_id)
        .map(|s| s.name.as_str())
        .collect();
    children.sort_unstable();
    assert_eq!(children, ["compile", "execute", "instantiate"]);
    for name in [
        "faas.invocations",
        "faas.coldstarts",
        "faas.invoke_duration",
    ] {
        assert!(metrics.iter().any(|m| m == name), "{name} in {metrics:?}");
    }
}

#[test]
fn an_unreachable_collector_costs_a_warning_not_the_result() {
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let hello = guest("hello");
    let out = fnd_with(
        &["run", hello.to_str().unwrap(), "--input", "anyway"],
        &[("OTEL_EXPORTER_OTLP_ENDPOINT", OsStr::new(&endpoint))],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "hello, anyway!\n");
    assert!(
        text(&out.stderr).contains("telemetry was not all exported"),
        "{}",
        text(&out.stderr)
    );
}
