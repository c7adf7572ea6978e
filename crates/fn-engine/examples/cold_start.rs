//! Cold starts with and without the artifact tier: the first invocation of a function on
//! a freshly built engine, when the module must be compiled and when a previous engine
//! left its artifact on disk; a warm invocation beside them for scale.
//!
//! `cargo run --release -p fn-engine --example cold_start [ROUNDS]` (the guests built by
//! `cargo xtask guests`) prints a Markdown table for docs/performance.md. Building the
//! engine (reserving its pool) is not timed; each round builds a new one, so every first
//! call is a real cold start. Medians of ROUNDS (default 9) rounds.

#![allow(clippy::print_stdout, reason = "the report is this program's output")]

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use fn_core::{Config, Function, FunctionDefinition, FunctionStore};
use fn_engine::Engine;
use fn_registry::InMemoryRegistry;

/// The guests measured, with an input each.
const GUESTS: [(&str, &[u8]); 2] = [
    ("hello", b""),
    (
        "json_report",
        br#"{"id":"A-1","email":"ana@example.org","currency":"EUR",
             "lines":[{"sku":"ABC-1234","quantity":2,"unit_price":1.5}]}"#,
    ),
];

/// A new engine (a small pool: only one call runs at a time) and `wasm` deployed on it
/// as a restarted node meets it: kept by the store, never compiled by this engine (its
/// first call is the cold start; [`Engine::deploy`] would compile it up front).
async fn engine(wasm: &Bytes, artifacts: Option<&Path>) -> (Engine, Function) {
    let registry = Arc::new(InMemoryRegistry::new());
    let mut config = Config::default();
    config.pooling.slots = 4;
    config.artifact_cache_dir = artifacts.map(Path::to_path_buf);
    let engine = Engine::builder(registry.clone())
        .config(config.clone())
        .build()
        .expect("engine builds");
    let cid = registry.put_module(wasm.clone()).await.expect("kept");
    let function = registry
        .deploy(FunctionDefinition::new("bench", "f"), cid)
        .await
        .expect("kept");
    (engine, function)
}

/// Times one invocation, which must succeed.
async fn timed(engine: &Engine, function: &Function, input: &'static [u8]) -> Duration {
    let start = Instant::now();
    engine
        .execute(function, Bytes::from_static(input), None)
        .await
        .expect("the guest runs");
    start.elapsed()
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

#[tokio::main]
async fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .map(|n| n.parse().expect("ROUNDS is a number"))
        .unwrap_or(9);
    println!("median of {rounds} rounds, each on a new engine\n");
    println!(
        "| guest | wasm | artifact | weight in memory | compile (first call) | from disk (first call) | warm call | compile / disk |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for (name, input) in GUESTS {
        let wasm = Bytes::from(fn_guests::bytes(name));
        let dir = tempfile::tempdir().expect("a temporary folder");
        let (mut compile, mut disk, mut warm) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..rounds {
            let (engine, function) = engine(&wasm, None).await;
            compile.push(timed(&engine, &function, input).await);
            warm.push(timed(&engine, &function, input).await);
        }
        // One engine writes the artifact; every later one starts from it.
        let (writer, function) = engine(&wasm, Some(dir.path())).await;
        timed(&writer, &function, input).await;
        writer.flush_artifacts().await;
        drop(writer);
        let mut weight = 0;
        for _ in 0..rounds {
            let (engine, function) = engine(&wasm, Some(dir.path())).await;
            disk.push(timed(&engine, &function, input).await);
            let stats = engine.cache_stats().await;
            assert_eq!(
                (stats.loads, stats.disk_hits),
                (0, 1),
                "from disk: {stats:?}"
            );
            weight = stats.weighted_size_bytes;
        }
        let artifact: u64 = std::fs::read_dir(dir.path())
            .expect("the artifact folder")
            .flatten()
            .filter_map(|e| e.metadata().ok())
            .map(|m| m.len())
            .sum();
        let (compile, disk, warm) = (median(compile), median(disk), median(warm));
        println!(
            "| {name} | {:.1} KB | {:.1} KB | {:.1} KB | {} | {} | {} | {:.0}x |",
            wasm.len() as f64 / 1e3,
            artifact as f64 / 1e3,
            weight as f64 / 1e3,
            ms(compile),
            ms(disk),
            ms(warm),
            compile.as_secs_f64() / disk.as_secs_f64(),
        );
    }
}
