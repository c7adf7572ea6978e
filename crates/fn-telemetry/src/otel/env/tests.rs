//! The `OTEL_*` variables read through a lookup: each rule of the specification.

use super::*;

fn env(vars: &[(&str, &str)]) -> OtelEnv {
    OtelEnv::from_pairs(vars)
}

#[test]
fn nothing_set_exports_nothing() {
    let e = env(&[]);
    assert!(!e.exports());
    assert_eq!(e.traces, None);
    assert_eq!(e.metrics, None);
    assert_eq!(e.sampler, SamplerSpec::ParentBasedAlwaysOn);
    assert!(e.warnings.is_empty());
}

#[test]
fn the_generic_endpoint_gets_each_signals_path_over_http() {
    let e = env(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/")]);
    let traces = e.traces.unwrap();
    assert_eq!(traces.endpoint, "http://collector:4318/v1/traces");
    assert_eq!(traces.protocol, OtlpProtocol::HttpProtobuf);
    assert_eq!(traces.timeout, DEFAULT_EXPORT_TIMEOUT);
    assert_eq!(
        e.metrics.unwrap().endpoint,
        "http://collector:4318/v1/metrics"
    );
}

#[test]
fn a_signals_own_endpoint_is_verbatim_and_wins() {
    let e = env(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://a:4318"),
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://b:9999/custom"),
    ]);
    assert_eq!(e.traces.unwrap().endpoint, "http://b:9999/custom");
    assert_eq!(e.metrics.unwrap().endpoint, "http://a:4318/v1/metrics");
}

#[test]
fn grpc_uses_the_endpoint_as_it_is_and_may_be_chosen_per_signal() {
    let e = env(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://a:4317"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "http/protobuf"),
    ]);
    let traces = e.traces.unwrap();
    assert_eq!(
        (traces.endpoint.as_str(), traces.protocol),
        ("http://a:4317", OtlpProtocol::Grpc)
    );
    assert_eq!(e.metrics.unwrap().protocol, OtlpProtocol::HttpProtobuf);
}

#[test]
fn exporter_none_and_sdk_disabled_turn_export_off() {
    let e = env(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://a:4318"),
        ("OTEL_METRICS_EXPORTER", "none"),
    ]);
    assert!(e.traces.is_some());
    assert_eq!(e.metrics, None);
    let e = env(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://a:4318"),
        ("OTEL_SDK_DISABLED", "TRUE"),
    ]);
    assert!(e.disabled);
    assert!(!e.exports());
}

#[test]
fn exporter_otlp_alone_means_the_default_endpoint() {
    let e = env(&[("OTEL_TRACES_EXPORTER", "otlp")]);
    assert_eq!(
        e.traces.unwrap().endpoint,
        "http://localhost:4318/v1/traces"
    );
    assert_eq!(e.metrics, None);
}

#[test]
fn headers_merge_and_are_percent_decoded() {
    let e = env(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://a:4318"),
        (
            "OTEL_EXPORTER_OTLP_HEADERS",
            "api-key=se%3Dcret, x-team = core",
        ),
        ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "X-Team=traces"),
        ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "2500"),
    ]);
    let traces = e.traces.unwrap();
    assert_eq!(
        traces.headers,
        [
            ("api-key".to_owned(), "se=cret".to_owned()),
            ("X-Team".to_owned(), "traces".to_owned())
        ]
    );
    assert_eq!(traces.timeout, Duration::from_millis(2500));
    assert_eq!(e.metrics.unwrap().headers.len(), 2);
}

#[test]
fn service_name_and_resource_attributes() {
    let e = env(&[(
        "OTEL_RESOURCE_ATTRIBUTES",
        "service.name=from-attrs,deployment.environment=prod",
    )]);
    assert_eq!(e.service_name.as_deref(), Some("from-attrs"));
    assert_eq!(e.resource_attributes.len(), 2);
    let e = env(&[
        ("OTEL_RESOURCE_ATTRIBUTES", "service.name=from-attrs"),
        ("OTEL_SERVICE_NAME", "named"),
    ]);
    assert_eq!(e.service_name.as_deref(), Some("named"));
}

#[test]
fn samplers_and_their_argument() {
    let s = |name: &str, arg: &str| {
        env(&[
            ("OTEL_TRACES_SAMPLER", name),
            ("OTEL_TRACES_SAMPLER_ARG", arg),
        ])
        .sampler
    };
    assert_eq!(s("always_off", ""), SamplerSpec::AlwaysOff);
    assert_eq!(s("traceidratio", "0.25"), SamplerSpec::TraceIdRatio(0.25));
    assert_eq!(
        s("parentbased_traceidratio", "0.5"),
        SamplerSpec::ParentBasedTraceIdRatio(0.5)
    );
    assert_eq!(
        s("parentbased_always_off", ""),
        SamplerSpec::ParentBasedAlwaysOff
    );
}

#[test]
fn what_is_not_understood_is_ignored_with_a_warning_naming_the_variable() {
    let e = env(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://a:4318"),
        ("OTEL_TRACES_SAMPLER", "jaeger_remote"),
        ("OTEL_TRACES_SAMPLER_ARG", "2"),
        ("OTEL_METRICS_EXPORTER", "console"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "soon"),
        ("OTEL_SDK_DISABLED", "yes"),
    ]);
    assert_eq!(e.sampler, SamplerSpec::ParentBasedAlwaysOn);
    assert_eq!(e.metrics, None);
    assert_eq!(
        e.traces.as_ref().unwrap().protocol,
        OtlpProtocol::HttpProtobuf
    );
    assert!(!e.disabled);
    for name in [
        "OTEL_TRACES_SAMPLER",
        "OTEL_METRICS_EXPORTER",
        "OTEL_EXPORTER_OTLP_PROTOCOL",
        "OTEL_EXPORTER_OTLP_TIMEOUT",
        "OTEL_SDK_DISABLED",
    ] {
        assert!(
            e.warnings.iter().any(|w| w.contains(name)),
            "{name} in {:?}",
            e.warnings
        );
    }
}
