//! Telemetry read back from what was exported: the engine's records turned by
//! fn-telemetry into spans and metrics, caught by the SDK's in-memory exporters. A
//! success (cold, then warm), a trap, a timeout, a rate-limited call, and the span kind
//! of a pubsub trigger.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use fn_core::{InvocationContext, RateQuota, TraceContext, TriggerType};
use fn_telemetry::{FAAS_DURATION_BUCKETS, Telemetry};
use opentelemetry::trace::{SpanId, SpanKind, Status, TraceId};
use opentelemetry::{KeyValue, Value};
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, Metric, MetricData};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SimpleSpanProcessor, SpanData};

use crate::support::*;

struct Exported {
    h: Harness,
    telemetry: Telemetry,
    spans: InMemorySpanExporter,
    metrics: InMemoryMetricExporter,
}

fn exported(config: impl FnOnce(&mut fn_core::Config)) -> Exported {
    let spans = InMemorySpanExporter::default();
    let metrics = InMemoryMetricExporter::default();
    let telemetry = Telemetry::builder("engine-tests")
        .span_processor(SimpleSpanProcessor::new(spans.clone()))
        .metric_reader(PeriodicReader::builder(metrics.clone()).build())
        .build();
    let mut c = test_config();
    config(&mut c);
    let logger = Arc::new(telemetry.clone());
    let h = harness_with(|b| b.config(c).invocation_logger(logger));
    Exported {
        h,
        telemetry,
        spans,
        metrics,
    }
}

impl Exported {
    /// The finished spans: the invocation spans (no parent in this process) and, for
    /// each, its children by name.
    fn spans(&self) -> Vec<SpanData> {
        self.spans.get_finished_spans().expect("spans")
    }

    fn roots(&self) -> Vec<SpanData> {
        let spans = self.spans();
        spans
            .iter()
            .filter(|s| {
                !spans
                    .iter()
                    .any(|p| p.span_context.span_id() == s.parent_span_id)
            })
            .cloned()
            .collect()
    }

    fn children(&self, root: &SpanData) -> Vec<SpanData> {
        let mut children: Vec<_> = self
            .spans()
            .into_iter()
            .filter(|s| s.parent_span_id == root.span_context.span_id())
            .collect();
        children.sort_by_key(|s| s.start_time);
        children
    }

    /// `read` of metric `name` as last exported (cumulative), after a flush; `None` when
    /// nothing was recorded in it.
    fn metric<T>(&self, name: &str, read: impl FnOnce(&Metric) -> T) -> Option<T> {
        self.telemetry.flush().expect("flush");
        let exports = self.metrics.get_finished_metrics().expect("metrics");
        let last = exports.last()?;
        last.scope_metrics()
            .flat_map(|s| s.metrics())
            .find(|m| m.name() == name)
            .map(read)
    }

    /// The sum of counter `name` over the points that have every attribute of `with`.
    fn count(&self, name: &str, with: &[(&str, &str)]) -> u64 {
        self.metric(name, |metric| {
            let AggregatedMetrics::U64(MetricData::Sum(sum)) = metric.data() else {
                panic!("{name} is a u64 counter: {:?}", metric.data());
            };
            sum.data_points()
                .filter(|p| has(&p.attributes().collect::<Vec<_>>(), with))
                .map(|p| p.value())
                .sum()
        })
        .unwrap_or(0)
    }

    /// The unit, bounds and total count of histogram `name`.
    fn histogram(&self, name: &str) -> (String, Vec<f64>, u64) {
        self.metric(name, |metric| {
            let (bounds, count) = match metric.data() {
                AggregatedMetrics::F64(MetricData::Histogram(h)) => (
                    h.data_points().next().unwrap().bounds().collect(),
                    h.data_points().map(|p| p.count()).sum(),
                ),
                AggregatedMetrics::U64(MetricData::Histogram(h)) => (
                    h.data_points().next().unwrap().bounds().collect(),
                    h.data_points().map(|p| p.count()).sum(),
                ),
                other => panic!("{name} is a histogram: {other:?}"),
            };
            (metric.unit().to_owned(), bounds, count)
        })
        .unwrap_or_else(|| panic!("{name} was recorded"))
    }
}

fn has(attributes: &[&KeyValue], with: &[(&str, &str)]) -> bool {
    with.iter().all(|(k, v)| {
        attributes
            .iter()
            .any(|kv| kv.key.as_str() == *k && kv.value.as_str() == *v)
    })
}

fn attribute(span: &SpanData, key: &str) -> Option<Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.clone())
}

fn string(span: &SpanData, key: &str) -> String {
    match attribute(span, key) {
        Some(Value::String(s)) => s.to_string(),
        other => panic!("{key} is a string on {}: {other:?}", span.name),
    }
}

fn int(span: &SpanData, key: &str) -> i64 {
    match attribute(span, key) {
        Some(Value::I64(i)) => i,
        other => panic!("{key} is an int on {}: {other:?}", span.name),
    }
}

const CALLER_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";

#[tokio::test]
async fn a_cold_then_a_warm_success_joins_the_callers_trace_with_its_phases() {
    let x = exported(|_| {});
    let echo = x.h.stored("echo", guest("echo")).await;
    let trace = TraceContext::parse(
        &format!("00-{CALLER_TRACE}-{CALLER_SPAN}-01"),
        Some("congo=t61"),
    )
    .expect("valid");
    let ctx = InvocationContext::new(TriggerType::Cron).with_trace(trace);
    let request_id = ctx.request_id.clone();
    let out =
        x.h.engine
            .execute(&echo, Bytes::from_static(b"hello"), Some(ctx))
            .await
            .unwrap();
    assert_eq!(&out[..], b"hello");

    let roots = x.roots();
    assert_eq!(roots.len(), 1, "one invocation span: {roots:?}");
    let root = &roots[0];
    assert_eq!(root.name, "echo", "named after the function");
    assert_eq!(root.span_kind, SpanKind::Server);
    assert_eq!(
        root.span_context.trace_id(),
        TraceId::from_hex(CALLER_TRACE).unwrap()
    );
    assert_eq!(root.parent_span_id, SpanId::from_hex(CALLER_SPAN).unwrap());
    assert!(root.parent_span_is_remote);
    assert_eq!(root.span_context.trace_state().header(), "congo=t61");
    assert_eq!(root.status, Status::Unset);
    assert_eq!(
        string(root, "faas.trigger"),
        "timer",
        "cron is a timer in the conventions"
    );
    assert_eq!(attribute(root, "faas.coldstart"), Some(Value::Bool(true)));
    assert_eq!(string(root, "faas.name"), "echo");
    assert_eq!(string(root, "faas.version"), "1");
    assert_eq!(int(root, "faas.max_memory"), 64 << 20);
    assert_eq!(string(root, "fn.namespace"), "test");
    assert_eq!(string(root, "fn.cid"), echo.wasm_cid.to_string());
    assert_eq!(string(root, "fn.request_id"), request_id);
    assert_eq!(int(root, "fn.input_size"), 5);
    assert_eq!(int(root, "fn.output_size"), 5);
    assert!(int(root, "fn.peak_memory") > 0);
    assert_eq!(attribute(root, "error.type"), None);
    let invocation_id = string(root, "faas.invocation_id");
    assert_eq!(invocation_id.len(), 36, "a UUID: {invocation_id}");

    let children = x.children(root);
    let names: Vec<_> = children.iter().map(|s| s.name.as_ref()).collect();
    assert_eq!(names, ["compile", "instantiate", "execute"]);
    let mut previous_end = root.start_time;
    for child in &children {
        assert_eq!(child.span_kind, SpanKind::Internal);
        assert_eq!(child.span_context.trace_id(), root.span_context.trace_id());
        assert!(!child.parent_span_is_remote);
        assert!(
            child.start_time >= previous_end,
            "in order, not overlapping: {children:?}"
        );
        assert!(child.end_time >= child.start_time);
        previous_end = child.end_time;
    }
    assert!(previous_end <= root.end_time, "within the invocation");

    // Warm, with no caller: a trace of its own, and no compile.
    x.spans.reset();
    x.h.engine
        .execute(&echo, Bytes::from_static(b"again"), None)
        .await
        .unwrap();
    let root = x.roots().pop().expect("a span");
    assert_eq!(root.parent_span_id, SpanId::INVALID);
    assert_ne!(
        root.span_context.trace_id(),
        TraceId::from_hex(CALLER_TRACE).unwrap()
    );
    assert_eq!(string(&root, "faas.trigger"), "http");
    assert_eq!(attribute(&root, "faas.coldstart"), Some(Value::Bool(false)));
    let names: Vec<_> = x
        .children(&root)
        .iter()
        .map(|s| s.name.to_string())
        .collect();
    assert_eq!(names, ["instantiate", "execute"]);

    assert_eq!(
        x.count(
            "faas.invocations",
            &[("faas.name", "echo"), ("fn.namespace", "test")]
        ),
        2
    );
    assert_eq!(x.count("faas.invocations", &[("faas.trigger", "timer")]), 1);
    assert_eq!(x.count("faas.coldstarts", &[]), 1);
    assert_eq!(x.count("faas.errors", &[]), 0);
    let (unit, bounds, count) = x.histogram("faas.invoke_duration");
    assert_eq!(
        (unit.as_str(), bounds.as_slice(), count),
        ("s", &FAAS_DURATION_BUCKETS[..], 2)
    );
    let (unit, _, count) = x.histogram("faas.init_duration");
    assert_eq!((unit.as_str(), count), ("s", 1), "one cold start");
    let (unit, bounds, count) = x.histogram("faas.mem_usage");
    assert_eq!((unit.as_str(), bounds[0], count), ("By", 65_536.0, 2));
    let (unit, bounds, count) = x.histogram("fn.invocation.duration");
    assert_eq!((unit.as_str(), bounds[0], count), ("s", 1e-6, 2));
}

#[tokio::test]
async fn a_trap_is_an_error_span_with_its_kind() {
    let x = exported(|_| {});
    let trap = x.h.stored("trap", guest("trap")).await;
    x.h.engine
        .execute(&trap, Bytes::new(), None)
        .await
        .unwrap_err();
    let root = x.roots().pop().expect("a span");
    assert!(
        matches!(&root.status, Status::Error { description } if description.contains("trap")),
        "{:?}",
        root.status
    );
    assert_eq!(string(&root, "error.type"), "trap");
    assert_eq!(string(&root, "fn.status"), "error");
    let names: Vec<_> = x
        .children(&root)
        .iter()
        .map(|s| s.name.to_string())
        .collect();
    assert_eq!(names, ["compile", "instantiate", "execute"]);
    assert_eq!(
        x.count(
            "faas.errors",
            &[("error.type", "trap"), ("faas.name", "trap")]
        ),
        1
    );
    assert_eq!(x.count("faas.invocations", &[]), 0, "successes only");
}

#[tokio::test]
async fn a_timeout_is_counted_as_one() {
    let x = exported(|_| {});
    let spin =
        x.h.stored_with("spin", guest("infinite_loop"), |d| {
            d.timeout = Duration::from_millis(100);
        })
        .await;
    x.h.engine
        .execute(&spin, Bytes::new(), None)
        .await
        .unwrap_err();
    let root = x.roots().pop().expect("a span");
    assert_eq!(string(&root, "error.type"), "timeout");
    let children = x.children(&root);
    let names: Vec<_> = children.iter().map(|s| s.name.to_string()).collect();
    assert_eq!(names, ["compile", "instantiate", "execute"]);
    // The deadline runs from the sandbox's making: instantiate and execute cover it.
    let sandboxed = children[1].start_time;
    let ran = children[2].end_time.duration_since(sandboxed).unwrap();
    assert!(
        ran >= Duration::from_millis(100),
        "the loop ran to the deadline: {ran:?}"
    );
    assert_eq!(x.count("faas.timeouts", &[("faas.name", "spin")]), 1);
    assert_eq!(x.count("faas.errors", &[("error.type", "timeout")]), 1);
}

#[tokio::test]
async fn a_rate_limited_call_is_a_span_without_phases_and_a_refusal() {
    let x = exported(|_| {});
    let once =
        x.h.deploy_with("once", guest("echo"), |d| {
            d.rate = Some(RateQuota {
                requests: 1,
                per: Duration::from_secs(3600),
                burst: 1,
            });
        })
        .await;
    x.h.engine.execute(&once, Bytes::new(), None).await.unwrap();
    x.spans.reset();
    x.h.engine
        .execute(&once, Bytes::new(), None)
        .await
        .unwrap_err();
    let root = x.roots().pop().expect("a span");
    assert!(matches!(root.status, Status::Error { .. }));
    assert_eq!(string(&root, "error.type"), "rate_limited");
    assert!(x.children(&root).is_empty(), "nothing ran: {:?}", x.spans());
    assert_eq!(
        x.count(
            "fn.admission.refusals",
            &[("fn.refusal", "rate_limited"), ("faas.name", "once")]
        ),
        1
    );
    assert_eq!(x.count("faas.invocations", &[]), 1);
}

#[tokio::test]
async fn a_pubsub_message_is_consumed() {
    let x = exported(|_| {});
    let echo = x.h.deploy("echo", guest("echo")).await;
    let ctx = InvocationContext::new(TriggerType::Pubsub);
    x.h.engine
        .execute(&echo, Bytes::new(), Some(ctx))
        .await
        .unwrap();
    let root = x.roots().pop().expect("a span");
    assert_eq!(root.span_kind, SpanKind::Consumer);
    assert_eq!(string(&root, "faas.trigger"), "pubsub");
    assert!(root.start_time <= SystemTime::now());
}

#[tokio::test]
async fn an_unsampled_caller_gets_no_span_but_metrics() {
    let x = exported(|_| {});
    let echo = x.h.deploy("echo", guest("echo")).await;
    let trace = TraceContext::parse(&format!("00-{CALLER_TRACE}-{CALLER_SPAN}-00"), None).unwrap();
    let ctx = InvocationContext::default().with_trace(trace);
    x.h.engine
        .execute(&echo, Bytes::new(), Some(ctx))
        .await
        .unwrap();
    assert!(x.spans().is_empty(), "the caller did not sample its trace");
    assert_eq!(x.count("faas.invocations", &[]), 1);
}
