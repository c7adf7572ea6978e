//! How late a caller learns that its invocation hit its deadline: guests that loop
//! forever (`infinite_loop`) and a guest parked in a one-hour `poll_oneoff`, alone and
//! many at once on a two-thread executor.
//!
//! `cargo run --release -p fn-runtime --example kill_latency` (the guests built by
//! `cargo xtask guests`) prints Markdown for docs/performance.md. "Late" is the time from
//! the invocation's deadline (when `invoke` was called plus its timeout) to the caller
//! getting `Timeout`. "together": N invocations started at once; "staggered": their
//! starts spread over one timeout, so deadlines fall while the others still run.

#![allow(clippy::print_stdout, reason = "the report is this program's output")]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use fn_core::{Config, Error, InvocationLimits};
use fn_runtime::{CompiledModule, Invocation, Runtime};

/// A command that sleeps an hour in `poll_oneoff` on the monotonic clock.
const SLEEPER: &str = r#"(module
  (import "wasi_snapshot_preview1" "poll_oneoff"
    (func $poll (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (i32.store (i32.const 16) (i32.const 1))
    (i64.store (i32.const 24) (i64.const 3600000000000))
    (drop (call $poll (i32.const 0) (i32.const 64) (i32.const 1) (i32.const 128)))))"#;

/// A command that fills its whole 256 MiB memory again and again: one `memory.fill` is
/// one instruction, which epochs cannot interrupt.
const FILLER: &str = r#"(module
  (memory (export "memory") 4096)
  (func (export "_start")
    (loop (memory.fill (i32.const 0) (i32.const 0) (i32.const 268435456)) (br 0))))"#;

const TIMEOUT: Duration = Duration::from_millis(20);

fn main() {
    let executor = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    executor.block_on(measure());
}

/// One invocation of `module` with [`TIMEOUT`]; how long past its deadline it ended.
async fn late(runtime: Runtime, module: Arc<CompiledModule>, memory: u64) -> Duration {
    let env = BTreeMap::new();
    let invocation = Invocation {
        name: "late",
        env: &env,
        args: &[],
        preopens: &[],
        limits: InvocationLimits::capped(TIMEOUT, memory, runtime.config()),
        allow_outbound: &[],
        config: &std::collections::BTreeMap::new(),
    };
    let deadline = Instant::now() + TIMEOUT;
    let outcome = runtime.invoke(&module, invocation, Bytes::new()).await;
    let ended = Instant::now();
    assert!(
        matches!(outcome.result, Err(Error::Timeout { .. })),
        "{:?}",
        outcome.result
    );
    ended.saturating_duration_since(deadline)
}

/// `rounds` rounds of `n` concurrent invocations; every lateness, sorted.
async fn rounds(
    runtime: &Runtime,
    module: &Arc<CompiledModule>,
    memory: u64,
    n: usize,
    rounds: usize,
    staggered: bool,
) -> Vec<Duration> {
    let mut all = Vec::new();
    for _ in 0..rounds {
        let mut tasks = Vec::new();
        for i in 0..n {
            let (runtime, module) = (runtime.clone(), module.clone());
            let delay = if staggered {
                TIMEOUT * i as u32 / n as u32
            } else {
                Duration::ZERO
            };
            tasks.push(tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                late(runtime, module, memory).await
            }));
        }
        for task in tasks {
            all.push(task.await.expect("the invocation task"));
        }
    }
    all.sort();
    all
}

/// A guest, its memory limit, how many run at once, how many rounds, staggered or not.
type Case<'a> = (&'a str, &'a Arc<CompiledModule>, u64, usize, usize, bool);

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

async fn measure() {
    let mut config = Config::default();
    config.pooling.slots = 128;
    let runtime = Runtime::new(&config).expect("runtime");
    let looping = Arc::new(
        runtime
            .compile(Bytes::from(fn_guests::bytes("infinite_loop")))
            .await
            .expect("compiles"),
    );
    let sleeper = Arc::new(
        runtime
            .compile(Bytes::from(SLEEPER))
            .await
            .expect("compiles"),
    );
    println!(
        "timeout {} ms, epoch tick {} µs, 2 executor threads on {} cores\n",
        TIMEOUT.as_millis(),
        config.epoch_tick.as_micros(),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!("| guest | at once | starts | calls | p50 late | p99 late | max late |");
    println!("|---|---:|---|---:|---:|---:|---:|");
    let filler = Arc::new(
        runtime
            .compile(Bytes::from(FILLER))
            .await
            .expect("compiles"),
    );
    let small = 16 << 20;
    let cases: [Case<'_>; 7] = [
        ("infinite_loop", &looping, small, 1, 200, false),
        ("infinite_loop", &looping, small, 8, 50, false),
        ("infinite_loop", &looping, small, 8, 50, true),
        ("infinite_loop", &looping, small, 64, 10, false),
        ("infinite_loop", &looping, small, 64, 10, true),
        ("sleeper (poll_oneoff 1 h)", &sleeper, small, 1, 200, false),
        (
            "memory.fill of 256 MiB, looped",
            &filler,
            256 << 20,
            1,
            50,
            false,
        ),
    ];
    for (name, module, memory, n, count, staggered) in cases {
        let samples = rounds(&runtime, module, memory, n, count, staggered).await;
        let at = |p: f64| samples[((samples.len() - 1) as f64 * p).round() as usize];
        println!(
            "| {name} | {n} | {} | {} | {} | {} | {} |",
            if staggered { "staggered" } else { "together" },
            samples.len(),
            ms(at(0.5)),
            ms(at(0.99)),
            ms(*samples.last().expect("samples")),
        );
    }
}
