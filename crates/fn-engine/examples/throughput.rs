//! The engine's throughput under what it does besides running guests: 16 callers invoking
//! small handle-ABI functions back to back on a two-thread runtime.
//!
//! `cargo run --release -p fn-engine --example throughput SUITE [CALLS]` prints a Markdown
//! table for docs/performance.md: calls per second for each configuration of the suite,
//! the median of five runs (the configurations taking turns, so that the machine's noise
//! falls on each alike). The suites:
//! - `admission`: the least admission and every key on. The engine always admits
//!   (fn-limits is not optional): "least" is a config whose only limit is the global slot
//!   count (no rate, no namespace share, no function limit), the least admission can do.
//! - `telemetry`: records made and discarded; fn-telemetry's metrics kept for a
//!   Prometheus scrape (no exporter); spans and metrics exported over OTLP/HTTP to a
//!   receiver on loopback (its threads share the two cores).
#![allow(clippy::print_stdout, reason = "the report is this program's output")]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use fn_core::{
    Config, Function, FunctionDefinition, InvocationContext, InvocationLogger, InvocationRecord,
    RateQuota,
};
use fn_engine::Engine;
use fn_registry::InMemoryRegistry;
use fn_telemetry::testing::{OtlpHttpReceiver, Received};
use fn_telemetry::{OtelEnv, Telemetry};

/// A handle-ABI function that answers "pong": instantiating it is most of its cost.
const PONG: &str = r#"(module
    (memory (export "memory") 1)
    (data (i32.const 0) "pong")
    (func (export "handle") (param i32 i32) (result i64) i64.const 0x0000000400000000))"#;

const CALLERS: usize = 16;
const FUNCTIONS: usize = 8;

/// One configuration: the engine's config, and where its records go.
type Setup = (&'static str, Config, Option<Arc<dyn InvocationLogger>>);

/// Takes every record and keeps none: the record's making, without a destination.
#[derive(Debug)]
struct Discard;

impl InvocationLogger for Discard {
    fn log(&self, record: InvocationRecord) -> fn_core::Result<()> {
        drop(std::hint::black_box(record));
        Ok(())
    }
}

fn slots(slots: u32) -> Config {
    let mut config = Config::default();
    config.pooling.slots = slots;
    config
}

/// The admission configurations.
fn admission() -> Vec<Setup> {
    let mut least = slots(64);
    least.admission.namespace_share_percent = 100;
    let default = slots(64);
    let mut all = default.clone();
    let generous = Some(RateQuota::per_second(u32::MAX));
    all.admission.global_rate = generous;
    all.admission.namespace_rate = generous;
    all.admission.function_rate = generous;
    all.admission.caller_rate = generous;
    all.admission.function_max_concurrent = Some(64);
    vec![
        ("least (the global slot only)", least, None),
        ("default (global and namespace slots)", default, None),
        ("all keys on (four rates, three slots)", all, None),
    ]
}

/// The telemetry configurations; `endpoint` is a loopback OTLP/HTTP receiver's.
fn telemetry(endpoint: &str) -> Vec<Setup> {
    let metrics = Telemetry::builder("throughput")
        .prometheus()
        .expect("prometheus")
        .build();
    let env = OtelEnv::from_pairs(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint),
        // Metrics exported every second, so that their exports fall within the runs;
        // spans go in batches of 512 (the SDK's default).
        ("OTEL_METRIC_EXPORT_INTERVAL", "1000"),
    ]);
    let otlp = Telemetry::builder("throughput")
        .otlp(&env)
        .expect("exporters")
        .build();
    vec![
        (
            "records made, discarded",
            slots(64),
            Some(Arc::new(Discard)),
        ),
        (
            "metrics (Prometheus, no exporter)",
            slots(64),
            Some(Arc::new(metrics)),
        ),
        (
            "spans and metrics over OTLP/HTTP",
            slots(64),
            Some(Arc::new(otlp)),
        ),
    ]
}

/// Calls per second of `calls` calls made by [`CALLERS`] callers at once.
fn throughput(config: &Config, logger: Option<&Arc<dyn InvocationLogger>>, calls: usize) -> f64 {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let registry = Arc::new(InMemoryRegistry::new());
        let mut builder = Engine::builder(registry.clone()).config(config.clone());
        if let Some(logger) = logger {
            builder = builder.invocation_logger(logger.clone());
        }
        let engine = builder.build().expect("engine builds");
        let mut functions = Vec::with_capacity(FUNCTIONS);
        for i in 0..FUNCTIONS {
            let definition = FunctionDefinition::new("bench", format!("f{i}"));
            let deployed = engine.deploy(registry.as_ref(), definition, Bytes::from(PONG));
            functions.push(deployed.await.expect("deploys"));
        }
        let functions: Arc<Vec<Function>> = Arc::new(functions);
        engine
            .execute(&functions[0], Bytes::new(), None)
            .await
            .expect("warm");
        let start = Instant::now();
        let tasks: Vec<_> = (0..CALLERS)
            .map(|caller| {
                let engine = engine.clone();
                let functions = functions.clone();
                tokio::spawn(async move {
                    for i in 0..calls / CALLERS {
                        let ctx = InvocationContext::default().with_caller(format!("c{caller}"));
                        let function = &functions[(caller + i) % functions.len()];
                        let out = engine.execute(function, Bytes::new(), Some(ctx)).await;
                        assert_eq!(out.expect("admitted and run"), "pong");
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("no panic");
        }
        (calls / CALLERS * CALLERS) as f64 / start.elapsed().as_secs_f64()
    })
}

fn main() {
    let mut args = std::env::args().skip(1);
    let suite = args.next().unwrap_or_else(|| "admission".into());
    let calls: usize = args.next().map_or(40_000, |n| n.parse().expect("CALLS"));
    let receiver = OtlpHttpReceiver::start();
    let endpoint = receiver.endpoint().to_owned();
    // What arrives is counted and dropped.
    let spans = Arc::new(AtomicUsize::new(0));
    let counted = spans.clone();
    std::thread::spawn(move || {
        while let Some(received) = receiver.next(Duration::from_secs(3600)) {
            if let Received::Traces(traces) = received {
                let n: usize = traces
                    .resource_spans
                    .iter()
                    .flat_map(|r| &r.scope_spans)
                    .map(|s| s.spans.len())
                    .sum();
                counted.fetch_add(n, Ordering::Relaxed);
            }
        }
    });
    let configs = match suite.as_str() {
        "admission" => admission(),
        "telemetry" => telemetry(&endpoint),
        other => panic!("no suite {other}: admission or telemetry"),
    };
    let mut samples: Vec<Vec<f64>> = vec![Vec::new(); configs.len()];
    for _ in 0..5 {
        for (i, (_, config, logger)) in configs.iter().enumerate() {
            samples[i].push(throughput(config, logger.as_ref(), calls));
        }
    }
    let medians: Vec<f64> = samples
        .into_iter()
        .map(|mut s| {
            s.sort_by(f64::total_cmp);
            s[s.len() / 2]
        })
        .collect();
    println!("| {suite} | calls/s | per call | vs the first |");
    println!("|---|---:|---:|---:|");
    for ((name, _, _), rate) in configs.iter().zip(&medians) {
        println!(
            "| {name} | {rate:.0} | {:.1} µs | {:.3}x |",
            1e6 / rate,
            rate / medians[0]
        );
    }
    if suite == "telemetry" {
        for (_, _, logger) in &configs {
            if let Some(logger) = logger {
                let _ = logger.flush();
            }
        }
        // The receiver counts each export before it answers it; let it finish counting.
        std::thread::sleep(Duration::from_millis(200));
        // Each run's calls made 3 spans (invocation, instantiate, execute), and its
        // warm-up call 4 (a compile too).
        let made = 5 * (calls / CALLERS * CALLERS * 3 + 4);
        let received = spans.load(Ordering::Relaxed);
        println!(
            "\nSpans received over OTLP: {received} of {made} made ({:.0} %); the rest were dropped by the batch processor's full queue.",
            100.0 * received as f64 / made as f64
        );
    }
}
