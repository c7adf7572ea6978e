//! The engine's throughput with the least admission and with every key on: 16 callers
//! invoking small handle-ABI functions back to back on a two-thread runtime.
//!
//! `cargo run --release -p fn-engine --example admission_throughput [CALLS]` prints a
//! Markdown table for docs/performance.md: calls per second for each configuration, the
//! median of five runs (the configurations taking turns, so that the machine's noise
//! falls on each alike). The engine always admits (fn-limits is not optional): "least"
//! is a config whose only limit is the global slot count (no rate, no namespace share,
//! no function limit), the least admission can do.
#![allow(clippy::print_stdout, reason = "the report is this program's output")]

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use fn_core::{Config, Function, FunctionDefinition, InvocationContext, RateQuota};
use fn_engine::Engine;
use fn_registry::InMemoryRegistry;

/// A handle-ABI function that answers "pong": instantiating it is most of its cost.
const PONG: &str = r#"(module
    (memory (export "memory") 1)
    (data (i32.const 0) "pong")
    (func (export "handle") (param i32 i32) (result i64) i64.const 0x0000000400000000))"#;

const CALLERS: usize = 16;
const FUNCTIONS: usize = 8;

/// The configurations measured.
fn configs() -> [(&'static str, Config); 3] {
    let mut least = Config::default();
    least.pooling.slots = 64;
    least.admission.namespace_share_percent = 100;
    let mut default = Config::default();
    default.pooling.slots = 64;
    let mut all = default.clone();
    let generous = Some(RateQuota::per_second(u32::MAX));
    all.admission.global_rate = generous;
    all.admission.namespace_rate = generous;
    all.admission.function_rate = generous;
    all.admission.caller_rate = generous;
    all.admission.function_max_concurrent = Some(64);
    [
        ("least (the global slot only)", least),
        ("default (global and namespace slots)", default),
        ("all keys on (four rates, three slots)", all),
    ]
}

/// Calls per second of `calls` calls made by [`CALLERS`] callers at once.
fn throughput(config: &Config, calls: usize) -> f64 {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let registry = Arc::new(InMemoryRegistry::new());
        let engine = Engine::builder(registry.clone())
            .config(config.clone())
            .build()
            .expect("engine builds");
        let cid = registry.put_wasm(Bytes::from(PONG));
        let functions: Arc<Vec<Function>> = Arc::new(
            (0..FUNCTIONS)
                .map(|i| {
                    let definition = FunctionDefinition::new("bench", format!("f{i}"));
                    registry.deploy(definition, cid, config).expect("valid")
                })
                .collect(),
        );
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
    let calls: usize = std::env::args()
        .nth(1)
        .map_or(40_000, |n| n.parse().expect("CALLS"));
    let configs = configs();
    let mut samples: Vec<Vec<f64>> = vec![Vec::new(); configs.len()];
    for _ in 0..5 {
        for (i, (_, config)) in configs.iter().enumerate() {
            samples[i].push(throughput(config, calls));
        }
    }
    let medians: Vec<f64> = samples
        .into_iter()
        .map(|mut s| {
            s.sort_by(f64::total_cmp);
            s[s.len() / 2]
        })
        .collect();
    println!("| admission | calls/s | per call | vs least |");
    println!("|---|---:|---:|---:|");
    for ((name, _), rate) in configs.iter().zip(&medians) {
        println!(
            "| {name} | {rate:.0} | {:.1} µs | {:.3}x |",
            1e6 / rate,
            rate / medians[0]
        );
    }
}
