//! Compile bombs against the compile worker: how long past its compile timeout each bomb
//! ends, how much memory its worker took and whether it was returned, and how a healthy
//! function's latency holds while two bombs compile.
//!
//! `cargo run --release -p fn-engine --example compile_bombs [TIMEOUT_MS]` prints
//! Markdown for docs/performance.md. The program is its own compile worker (run with
//! `compile-worker`, it serves one compile), as `fnd` is. Memory is sampled from /proc
//! every 5 ms, so a peak is a lower bound.

#![allow(clippy::print_stdout, reason = "the report is this program's output")]

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use fn_core::{Cid, CompileWorker, Config, FunctionDefinition};
use fn_engine::Engine;
use fn_registry::InMemoryRegistry;

fn main() -> ExitCode {
    if CompileWorker::asked_of_this_process() {
        return fn_engine::serve_compile_worker();
    }
    let timeout_ms: u64 = std::env::args()
        .nth(1)
        .map(|n| n.parse().expect("TIMEOUT_MS is a number"))
        .unwrap_or(2_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(measure(Duration::from_millis(timeout_ms)));
    ExitCode::SUCCESS
}

fn config(compile_timeout: Duration) -> Config {
    let mut config = Config::default();
    config.pooling.slots = 16;
    config.compile_timeout = compile_timeout;
    config.compile_worker = Some(CompileWorker::this_program().expect("this program's path"));
    config
}

/// Kilobytes from a `/proc/PID/status` line such as `VmRSS:  1234 kB`.
fn status_kb(pid: &str, key: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The PIDs of this process's children.
fn children() -> Vec<String> {
    let me = std::process::id().to_string();
    std::fs::read_dir("/proc")
        .map(|dir| {
            dir.flatten()
                .filter_map(|e| {
                    let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
                    let (_, rest) = stat.rsplit_once(") ")?;
                    (rest.split(' ').nth(1) == Some(me.as_str()))
                        .then(|| e.file_name().to_string_lossy().into_owned())
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Samples the summed resident memory of this process's children until `stop`, keeping
/// the highest, in KiB.
fn sample_children(stop: Arc<AtomicBool>, peak: Arc<AtomicU64>) {
    while !stop.load(Ordering::Relaxed) {
        let rss: u64 = children()
            .iter()
            .filter_map(|pid| status_kb(pid, "VmRSS:"))
            .sum();
        peak.fetch_max(rss, Ordering::Relaxed);
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn us(d: Duration) -> String {
    format!("{:.0} µs", d.as_secs_f64() * 1e6)
}

async fn measure(timeout: Duration) {
    let me = std::process::id().to_string();
    println!(
        "compile timeout {} ms, memory cap {} MiB, {} compiles at once\n",
        timeout.as_millis(),
        Config::default().compile_memory_limit_bytes >> 20,
        Config::default().max_concurrent_compiles
    );
    println!(
        "| bomb | wasm | ended as | after | past the timeout | worker peak RSS | workers left | host RSS before → after |"
    );
    println!("|---|---:|---|---:|---:|---:|---:|---:|");
    let bombs: [(&str, Vec<u8>); 4] = [
        (
            "100 000 nested loops",
            fn_guests::bytes("bomb_nested_loops"),
        ),
        (
            "15 000 nested blocks",
            fn_guests::bytes("bomb_nested_blocks"),
        ),
        (
            "1 000 000 functions",
            fn_guests::bytes("bomb_million_functions"),
        ),
        // Not a bomb: a large healthy module, for the memory a real compile takes.
        ("json_report (healthy)", fn_guests::bytes("json_report")),
    ];
    let engine = Engine::builder(Arc::new(InMemoryRegistry::new()))
        .config(config(timeout))
        .build()
        .expect("engine builds");
    for (name, wasm) in &bombs {
        let host_before = status_kb(&me, "VmRSS:").unwrap_or(0);
        let (stop, peak) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicU64::new(0)),
        );
        let sampler = std::thread::spawn({
            let (stop, peak) = (stop.clone(), peak.clone());
            move || sample_children(stop, peak)
        });
        let start = Instant::now();
        let result = engine
            .precompile(&Cid::of(wasm), Bytes::from(wasm.clone()))
            .await;
        let elapsed = start.elapsed();
        stop.store(true, Ordering::Relaxed);
        sampler.join().expect("the sampler ends");
        let left = children().len();
        let host_after = status_kb(&me, "VmRSS:").unwrap_or(0);
        let ended = match &result {
            Ok(()) => "compiled".to_string(),
            Err(fn_core::Error::Deploy { message, .. }) if message.contains("memory") => {
                "`deploy`: over the memory cap".to_string()
            }
            Err(e) => format!("`{}`", e.kind()),
        };
        let past = elapsed.saturating_sub(timeout);
        println!(
            "| {name} | {:.0} KB | {ended} | {:.0} ms | {} | {:.0} MiB | {left} | {:.0} → {:.0} MiB |",
            wasm.len() as f64 / 1e3,
            elapsed.as_secs_f64() * 1e3,
            match &result {
                Err(fn_core::Error::CompileTimeout { .. }) => {
                    format!("{:.1} ms", past.as_secs_f64() * 1e3)
                }
                _ => "—".to_string(),
            },
            peak.load(Ordering::Relaxed) as f64 / 1024.0,
            host_before as f64 / 1024.0,
            host_after as f64 / 1024.0,
        );
    }
    healthy_while_bombs_compile(&bombs).await;
}

/// A warm `hello`'s latency idle, then while two bombs compile in workers.
async fn healthy_while_bombs_compile(bombs: &[(&str, Vec<u8>)]) {
    const CALLS: usize = 3_000;
    let registry = Arc::new(InMemoryRegistry::new());
    let config = config(Duration::from_secs(30));
    let engine = Arc::new(
        Engine::builder(registry.clone())
            .config(config.clone())
            .build()
            .expect("engine builds"),
    );
    let hello = engine
        .deploy(
            registry.as_ref(),
            FunctionDefinition::new("bench", "hello"),
            Bytes::from(fn_guests::bytes("hello")),
        )
        .await
        .expect("deploys");
    let run = |engine: Arc<Engine>, hello: fn_core::Function| async move {
        let mut samples = Vec::with_capacity(CALLS);
        for _ in 0..CALLS {
            let start = Instant::now();
            engine
                .execute(&hello, Bytes::from_static(b"x"), None)
                .await
                .expect("hello runs");
            samples.push(start.elapsed());
        }
        samples.sort();
        samples
    };
    run(engine.clone(), hello.clone()).await; // warm: compiled, pool slots touched
    let idle = run(engine.clone(), hello.clone()).await;
    let mut compiling = Vec::new();
    for (_, wasm) in &bombs[..1] {
        for variant in 0..2u8 {
            // Two different modules (a trailing custom section), so both compile.
            let mut wasm = wasm.clone();
            wasm.extend_from_slice(&[0, 2, 1, b'0' + variant]);
            let engine = engine.clone();
            compiling.push(tokio::spawn(async move {
                engine.precompile(&Cid::of(&wasm), Bytes::from(wasm)).await
            }));
        }
    }
    while children().len() < 2 {
        tokio::task::yield_now().await;
    }
    let busy = run(engine.clone(), hello.clone()).await;
    let still = children().len();
    for task in compiling {
        task.abort();
    }
    println!(
        "\n`hello`, {CALLS} sequential warm calls, idle and while two bombs compile ({still} workers still compiling when the last call ended):\n"
    );
    println!("| | p50 | p99 | max |");
    println!("|---|---:|---:|---:|");
    for (name, samples) in [("idle", &idle), ("two bombs compiling", &busy)] {
        println!(
            "| {name} | {} | {} | {} |",
            us(percentile(samples, 0.5)),
            us(percentile(samples, 0.99)),
            us(*samples.last().expect("samples"))
        );
    }
    println!(
        "\np99 ratio: {:.2}x",
        percentile(&busy, 0.99).as_secs_f64() / percentile(&idle, 0.99).as_secs_f64()
    );
}
