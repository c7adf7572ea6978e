//! Memory bombs at once: N guests each grow their memory to the limit, writing every
//! byte, then spin until their deadline; the host's resident memory is sampled meanwhile.
//!
//! `cargo run --release -p fn-runtime --example memory_bombs [N] [LIMIT_MIB]` (default 64
//! guests of 16 MiB) prints Markdown for docs/performance.md. The target: the host's peak
//! RSS stays under N × LIMIT + 64 MiB, and returns near its idle value afterwards.

#![allow(clippy::print_stdout, reason = "the report is this program's output")]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use fn_core::{Config, Error, InvocationLimits};
use fn_runtime::{Invocation, Runtime};

/// Grows its memory a MiB at a time, filling each new MiB with 0xff, until the limit
/// refuses; then spins until its deadline.
const BOMB: &str = r#"(module
  (memory (export "memory") 0)
  (func (export "_start") (local $page i32)
    (block $full
      (loop $grow
        (local.set $page (memory.grow (i32.const 16)))
        (br_if $full (i32.eq (local.get $page) (i32.const -1)))
        (memory.fill (i32.shl (local.get $page) (i32.const 16)) (i32.const 255)
          (i32.const 1048576))
        (br $grow)))
    (loop $spin (br $spin))))"#;

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("VmRSS:"))?.to_owned();
            line.split_whitespace().nth(1)?.parse().ok()
        })
        .unwrap_or(0)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map_or(64, |a| a.parse().expect("N"));
    let limit_mib: u64 = args.next().map_or(16, |a| a.parse().expect("LIMIT_MIB"));
    let executor = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    executor.block_on(async move {
        let mut config = Config::default();
        config.pooling.slots = u32::try_from(n).expect("N fits") + 8;
        let runtime = Runtime::new(&config).expect("runtime");
        let bomb = Arc::new(runtime.compile(Bytes::from(BOMB)).await.expect("compiles"));
        let idle = rss_kib();
        let (stop, peak) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicU64::new(0)));
        let sampler = std::thread::spawn({
            let (stop, peak) = (stop.clone(), peak.clone());
            move || {
                while !stop.load(Ordering::Relaxed) {
                    peak.fetch_max(rss_kib(), Ordering::Relaxed);
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
        });
        let mut tasks = Vec::new();
        for _ in 0..n {
            let (runtime, bomb) = (runtime.clone(), bomb.clone());
            tasks.push(tokio::spawn(async move {
                let env = BTreeMap::new();
                let invocation = Invocation {
                    name: "bomb",
                    env: &env,
                    args: &[],
                    preopens: &[],
                    limits: InvocationLimits::capped(
                        Duration::from_secs(2),
                        limit_mib << 20,
                        runtime.config(),
                    ),
                    allow_outbound: &[],
                    config: &std::collections::BTreeMap::new(),
                };
                let outcome = runtime.invoke(&bomb, invocation, Bytes::new()).await;
                assert!(
                    matches!(outcome.result, Err(Error::Timeout { .. })),
                    "{:?}",
                    outcome.result
                );
                outcome.peak_memory_bytes
            }));
        }
        let mut guest_peaks = Vec::new();
        for task in tasks {
            guest_peaks.push(task.await.expect("the bomb's task"));
        }
        stop.store(true, Ordering::Relaxed);
        sampler.join().expect("the sampler ends");
        let after = rss_kib();
        let peak = peak.load(Ordering::Relaxed);
        let budget = (n as u64 * limit_mib + 64) * 1024;
        let mib = |kib: u64| format!("{:.0} MiB", kib as f64 / 1024.0);
        println!("| bombs | limit each | each reached | host RSS idle | peak | after | budget (N × limit + 64 MiB) | within |");
        println!("|---:|---:|---:|---:|---:|---:|---:|---|");
        println!(
            "| {n} | {limit_mib} MiB | {} MiB | {} | {} | {} | {} | {} |",
            guest_peaks.iter().max().copied().unwrap_or(0) >> 20,
            mib(idle),
            mib(peak),
            mib(after),
            mib(budget),
            if peak < budget { "yes" } else { "NO" }
        );
    });
}
