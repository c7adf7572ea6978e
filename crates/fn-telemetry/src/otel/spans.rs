//! The span tree of one invocation, built from its record when it ends: the invocation
//! span (named after the function, FaaS attributes, status) and its children for the
//! phases that happened — compile, instantiate, execute.
//!
//! Why from the record, after the fact: the record already holds every figure the span
//! carries, measured once by the engine; building the spans at the end with explicit
//! timestamps costs the engine nothing on its path (no span is entered, no context is
//! switched across awaits) and keeps fn-telemetry the only crate that knows
//! OpenTelemetry. The children are laid end to end, ending where the invocation ends;
//! each phase's length is measured, the gaps between them (a cache lookup, admission)
//! are not, and fall before the first child.

use std::time::SystemTime;

use fn_core::{InvocationRecord, InvocationStatus, TraceContext, TriggerType};
use opentelemetry::trace::{
    Span as _, SpanBuilder, SpanContext, SpanId, SpanKind, Status, TraceContextExt as _,
    TraceFlags, TraceId, TraceState,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::SdkTracer;
use opentelemetry_semantic_conventions::attribute as attr;

use super::metrics::NAMESPACE;

/// The most bytes of an error message put in a span's status description.
const MAX_STATUS_DESCRIPTION_BYTES: usize = 512;

/// Emits the span tree of `record`.
pub(crate) fn emit(tracer: &SdkTracer, record: &InvocationRecord) {
    let parent = match &record.trace {
        Some(trace) => Context::new().with_remote_span_context(remote(trace)),
        None => Context::new(),
    };
    let start = SystemTime::from(record.started_at);
    let end = SystemTime::from(record.completed_at);
    let kind = match record.trigger {
        TriggerType::Pubsub => SpanKind::Consumer,
        _ => SpanKind::Server,
    };
    let mut span = SpanBuilder::from_name(record.function_name.clone())
        .with_kind(kind)
        .with_start_time(start)
        .with_attributes(attributes(record))
        .start_with_context(tracer, &parent);
    if !span.is_recording() {
        // Not sampled: nothing of it is exported.
        return;
    }
    if record.status != InvocationStatus::Success {
        let message = record
            .error_message
            .as_deref()
            .unwrap_or(record.status.as_str());
        span.set_status(Status::error(
            message[..message.floor_char_boundary(MAX_STATUS_DESCRIPTION_BYTES)].to_owned(),
        ));
    }
    let invocation = parent.with_span(span);
    // End to end, backwards from the invocation's end.
    let mut cursor = end;
    let phases = [
        ("execute", record.execute_duration),
        ("instantiate", record.instantiate_duration),
        (
            "compile",
            record.cold_start.then_some(record.compile_duration),
        ),
    ];
    for (name, length) in phases.into_iter().filter_map(|(n, l)| Some((n, l?))) {
        let phase_end = cursor;
        let phase_start = phase_end.checked_sub(length).unwrap_or(start).max(start);
        cursor = phase_start;
        SpanBuilder::from_name(name)
            .with_kind(SpanKind::Internal)
            .with_start_time(phase_start)
            .start_with_context(tracer, &invocation)
            .end_with_timestamp(phase_end);
    }
    invocation.span().end_with_timestamp(end);
}

/// The invocation span's attributes: the FaaS conventions', then the engine's own under
/// [`super::ATTRIBUTE_PREFIX`].
fn attributes(record: &InvocationRecord) -> Vec<KeyValue> {
    let int = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    let mut attributes = Vec::with_capacity(16);
    attributes.extend([
        KeyValue::new(attr::FAAS_TRIGGER, record.trigger.faas_trigger()),
        KeyValue::new(attr::FAAS_INVOCATION_ID, record.id.clone()),
        KeyValue::new(attr::FAAS_COLDSTART, record.cold_start),
        KeyValue::new(attr::FAAS_NAME, record.function_name.clone()),
        KeyValue::new(attr::FAAS_VERSION, record.version.to_string()),
        KeyValue::new(attr::FAAS_MAX_MEMORY, int(record.max_memory_bytes)),
        KeyValue::new(NAMESPACE, record.namespace.clone()),
        KeyValue::new("fn.function_id", record.function_id.clone()),
        KeyValue::new("fn.cid", record.wasm_cid.to_string()),
        KeyValue::new("fn.request_id", record.request_id.clone()),
        KeyValue::new("fn.input_size", int(record.input_size)),
        KeyValue::new("fn.output_size", int(record.output_size)),
        KeyValue::new("fn.peak_memory", int(record.peak_memory_bytes)),
        KeyValue::new("fn.status", record.status.as_str()),
    ]);
    if let Some(caller) = &record.caller {
        attributes.push(KeyValue::new("fn.caller", caller.clone()));
    }
    if let Some(kind) = record.error_kind {
        attributes.push(KeyValue::new(attr::ERROR_TYPE, kind.as_str()));
    }
    if let Some(request) = &record.http_request {
        // An HTTP function's exchange: the HTTP server span's conventions too.
        attributes.extend([
            KeyValue::new(attr::HTTP_REQUEST_METHOD, request.method.clone()),
            KeyValue::new(attr::URL_PATH, request.path.clone()),
            KeyValue::new(attr::URL_SCHEME, "http"),
            KeyValue::new(attr::HTTP_REQUEST_BODY_SIZE, int(record.input_size)),
        ]);
        if let Some(query) = &request.query {
            attributes.push(KeyValue::new(attr::URL_QUERY, query.clone()));
        }
        if let Some(status) = record.http_status {
            attributes.extend([
                KeyValue::new(attr::HTTP_RESPONSE_STATUS_CODE, i64::from(status)),
                KeyValue::new(attr::HTTP_RESPONSE_BODY_SIZE, int(record.output_size)),
            ]);
        }
    }
    attributes
}

/// The caller's span as a remote parent.
fn remote(trace: &TraceContext) -> SpanContext {
    // `TraceContext::parse` admitted only valid hex; a failure here yields an invalid
    // context, which the SDK treats as no parent.
    let trace_id = TraceId::from_hex(trace.trace_id()).unwrap_or(TraceId::INVALID);
    let span_id = SpanId::from_hex(trace.parent_id()).unwrap_or(SpanId::INVALID);
    let state = trace
        .tracestate()
        .and_then(|s| s.parse::<TraceState>().ok())
        .unwrap_or_default();
    SpanContext::new(
        trace_id,
        span_id,
        TraceFlags::new(trace.flags()),
        true,
        state,
    )
}

#[cfg(test)]
mod tests {
    use fn_core::{Cid, Function, FunctionDefinition, HttpRequestLine, InvocationContext};

    use super::*;

    fn value(attributes: &[KeyValue], key: &str) -> Option<String> {
        attributes
            .iter()
            .find(|kv| kv.key.as_str() == key)
            .map(|kv| kv.value.to_string())
    }

    #[test]
    fn an_http_exchange_carries_the_http_server_conventions() {
        let function = Function::new(FunctionDefinition::new("acme", "shop"), Cid::of(b"w"));
        let ctx = InvocationContext::default();
        let mut record = InvocationRecord::start(&function, &ctx, 5, chrono::Utc::now());
        let plain = attributes(&record);
        assert_eq!(
            value(&plain, attr::HTTP_REQUEST_METHOD),
            None,
            "a plain call"
        );
        record.http_request = Some(HttpRequestLine {
            method: "PUT".into(),
            path: "/cart/7".into(),
            query: Some("fast=1".into()),
        });
        record.http_status = Some(201);
        record.output_size = 12;
        let http = attributes(&record);
        let expected = [
            (attr::HTTP_REQUEST_METHOD, "PUT"),
            (attr::URL_PATH, "/cart/7"),
            (attr::URL_QUERY, "fast=1"),
            (attr::URL_SCHEME, "http"),
            (attr::HTTP_RESPONSE_STATUS_CODE, "201"),
            (attr::HTTP_REQUEST_BODY_SIZE, "5"),
            (attr::HTTP_RESPONSE_BODY_SIZE, "12"),
        ];
        for (key, want) in expected {
            assert_eq!(value(&http, key).as_deref(), Some(want), "{key}");
        }
        // No response set: no status, no response size.
        record.http_status = None;
        assert_eq!(
            value(&attributes(&record), attr::HTTP_RESPONSE_STATUS_CODE),
            None
        );
    }
}
