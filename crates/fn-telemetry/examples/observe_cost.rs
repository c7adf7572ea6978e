//! The cost of telemetry per invocation, on the invocation's path: `Telemetry::observe`
//! (what the engine's logger call does) for a cold-start-free successful record, in
//! four configurations —
//! - `off`: a `Telemetry` with nothing to do (no exporter, no reader);
//! - `metrics`: the metrics, kept for a Prometheus scrape (none happens);
//! - `discard`: spans and metrics made, the spans batched to an exporter that discards
//!   them (so the SDK does all its work, and nothing leaves the process);
//! - `otlp`: spans and metrics batched to an OTLP/HTTP receiver on loopback, configured
//!   by the standard variables.
//!
//! Records are observed in chunks of 1 000, each followed by a flush that is not timed:
//! the batch processor's queue never overflows (an overflowing queue drops spans, which
//! would be cheaper and wrong), and the exports themselves run on the SDK's threads.
//!
//! `cargo run --release -p fn-telemetry --example observe_cost [RECORDS] [ONLY]` prints
//! ns per record for each (median of five runs); `ONLY` runs one configuration once, for
//! instruction counts under callgrind.
#![allow(clippy::print_stdout, reason = "an example reports on stdout")]

use std::time::{Duration, Instant};

use fn_core::{Cid, Function, FunctionDefinition, InvocationContext, InvocationRecord};
use fn_telemetry::testing::OtlpHttpReceiver;
use fn_telemetry::{OtelEnv, Telemetry};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};

const CHUNK: usize = 1000;

/// Discards every span: the SDK's whole work, no transport.
#[derive(Debug)]
struct Discard;

impl SpanExporter for Discard {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        drop(std::hint::black_box(batch));
        Ok(())
    }
}

/// Records of warm, successful calls of 50 functions.
fn records() -> Vec<InvocationRecord> {
    (0..50)
        .map(|i| {
            let definition = FunctionDefinition::new(format!("ns{}", i % 5), format!("f{i}"));
            let function = Function::new(definition, Cid::of(format!("{i}").as_bytes()));
            let ctx = InvocationContext::default();
            let mut record = InvocationRecord::start(&function, &ctx, 13, chrono::Utc::now());
            record.duration = Duration::from_micros(9);
            record.instantiate_duration = Some(Duration::from_micros(3));
            record.execute_duration = Some(Duration::from_micros(5));
            record.peak_memory_bytes = 1 << 17;
            record.set_outcome(Ok(13));
            record
        })
        .collect()
}

fn telemetry(name: &str, endpoint: &str) -> Telemetry {
    let builder = Telemetry::builder("observe-cost");
    match name {
        "off" => builder.build(),
        "metrics" => builder.prometheus().expect("prometheus").build(),
        "discard" => builder
            .span_exporter(Discard)
            .prometheus()
            .expect("prometheus")
            .build(),
        "otlp" => {
            let env = OtelEnv::from_pairs(&[("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)]);
            builder.otlp(&env).expect("exporters").build()
        }
        other => panic!("no configuration {other}"),
    }
}

/// ns per record over `count` records.
fn ns_per_record(name: &str, count: usize, endpoint: &str) -> f64 {
    let telemetry = telemetry(name, endpoint);
    let records = records();
    let mut timed = Duration::ZERO;
    let mut done = 0;
    while done < count {
        let start = Instant::now();
        for i in done..(done + CHUNK).min(count) {
            telemetry.observe(std::hint::black_box(&records[i % records.len()]));
        }
        timed += start.elapsed();
        done += CHUNK;
        let _ = telemetry.flush();
    }
    let _ = telemetry.shutdown();
    timed.as_nanos() as f64 / count as f64
}

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

fn main() {
    let receiver = OtlpHttpReceiver::start();
    let endpoint = receiver.endpoint().to_owned();
    // What arrives is not looked at: drained, so that it is not kept.
    std::thread::spawn(move || while receiver.next(Duration::from_secs(3600)).is_some() {});
    let mut args = std::env::args().skip(1);
    let count: usize = args.next().map_or(100_000, |n| n.parse().expect("RECORDS"));
    if let Some(only) = args.next() {
        let ns = ns_per_record(&only, count, &endpoint);
        println!("{only}: {count} records, {ns:.0} ns per record");
        return;
    }
    println!("| configuration | per record |");
    println!("|---|---:|");
    for name in ["off", "metrics", "discard", "otlp"] {
        let ns = median(
            (0..5)
                .map(|_| ns_per_record(name, count, &endpoint))
                .collect(),
        );
        println!("| {name} | {ns:.0} ns |");
    }
}
