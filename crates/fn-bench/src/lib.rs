//! The engine's benchmarks: the workloads (a guest, its input, its expected output), the
//! three embeddings each is run through (a naive wasmtime embedding, the bare optimised
//! one, and `fn_engine::Engine::execute` as shipped), and the measuring: per-call
//! latencies on one or more threads, their distribution, and calls per second.
//!
//! `cargo xtask bench` drives it: the criterion bench `benches/invoke.rs` for the
//! in-process figures, the `fn-bench` binary for instruction counts under callgrind, the
//! memory figures and the plot. Figures are read as ratios against the baselines
//! measured in the same run (docs/performance.md).
//!
//! # Example
//!
//! ```
//! use fn_bench::{Kind, measure, workload};
//!
//! let upper = workload::named("upper-13B").unwrap();
//! let setup = Kind::Engine.build(&upper, &fn_core::Config::default())?;
//! let mut invokers = vec![setup.invoker()];
//! let mut latencies = Vec::new();
//! let wall = measure(&mut invokers, &upper, 100, &mut latencies)?;
//! let summary = fn_bench::Summary::of(&mut latencies, 100, wall);
//! assert_eq!(summary.calls, 100);
//! println!("median {} ns, {:.0} calls/s", summary.median_ns, summary.per_second);
//! # Ok::<(), anyhow::Error>(())
//! ```

pub mod embed;
pub mod engine;
pub mod http;
pub mod plot;
pub mod workload;

use std::sync::Barrier;
use std::time::{Duration, Instant};

use anyhow::{Result, ensure};
use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::workload::Workload;

/// Runs one call of a workload: given the input, returns the output.
pub trait Invoke: Send {
    /// One call.
    ///
    /// # Errors
    ///
    /// When the call fails.
    fn invoke(&mut self, input: &Bytes) -> Result<Bytes>;
}

/// A thread's invoker.
pub type Invoker = Box<dyn Invoke>;

/// A workload compiled and ready in one embedding; hands each thread its invoker.
pub trait Setup: Send + Sync {
    /// A new invoker, for one thread.
    fn invoker(&self) -> Invoker;
}

/// The embeddings a workload runs through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// [`embed::Naive`]: new store, WASI context and `Linker::instantiate` per call.
    Naive,
    /// [`embed::Bare`]: the bare optimised wasmtime embedding.
    Bare,
    /// [`engine::EngineSetup`]: `Engine::execute` as shipped.
    Engine,
}

impl Kind {
    /// Every kind, in report order.
    pub const ALL: [Kind; 3] = [Kind::Naive, Kind::Bare, Kind::Engine];

    /// Its name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Naive => "naive",
            Kind::Bare => "bare",
            Kind::Engine => "engine",
        }
    }

    /// The kind named `name`.
    pub fn named(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|kind| kind.name() == name)
    }

    /// Builds `workload` in this embedding, the pooled ones with `config`'s pool, and
    /// checks one call's output.
    ///
    /// # Errors
    ///
    /// When it cannot be built, or its first call fails or answers wrongly.
    pub fn build(self, workload: &Workload, config: &fn_core::Config) -> Result<Box<dyn Setup>> {
        let setup: Box<dyn Setup> = match self {
            Kind::Naive => Box::new(embed::Naive::new(workload)?),
            Kind::Bare => Box::new(embed::Bare::new(workload, config)?),
            Kind::Engine => Box::new(engine::EngineSetup::new(workload, config)?),
        };
        embed::check(setup.invoker().as_mut(), workload)?;
        Ok(setup)
    }
}

/// Makes `calls` calls of `workload`, spread evenly over `invokers` (one thread each,
/// started together at a barrier), appending each call's latency in nanoseconds to
/// `latencies`, and returns the wall time from the start to the last call's end.
///
/// # Errors
///
/// When a call fails or answers other than the workload expects.
pub fn measure(
    invokers: &mut [Invoker],
    workload: &Workload,
    calls: u64,
    latencies: &mut Vec<u64>,
) -> Result<Duration> {
    let threads = invokers.len() as u64;
    let per_thread = calls.div_ceil(threads);
    let barrier = Barrier::new(invokers.len());
    let results: Vec<Result<(Vec<u64>, Instant, Instant)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = invokers
            .iter_mut()
            .map(|invoker| {
                let barrier = &barrier;
                scope.spawn(move || {
                    let mut own = Vec::with_capacity(usize::try_from(per_thread)?);
                    barrier.wait();
                    let start = Instant::now();
                    for _ in 0..per_thread {
                        let t0 = Instant::now();
                        let output = invoker.invoke(&workload.input)?;
                        own.push(t0.elapsed().as_nanos() as u64);
                        ensure!(
                            output.len() == workload.expect.len(),
                            "{}: answered {} bytes, not {}",
                            workload.name,
                            output.len(),
                            workload.expect.len()
                        );
                    }
                    Ok((own, start, Instant::now()))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a measuring thread panicked"))
            .collect()
    });
    let (mut first, mut last) = (None::<Instant>, None::<Instant>);
    for result in results {
        let (own, start, end) = result?;
        latencies.extend(own);
        first = Some(first.map_or(start, |f| f.min(start)));
        last = Some(last.map_or(end, |l| l.max(end)));
    }
    Ok(last.zip(first).map_or(Duration::ZERO, |(l, f)| l - f))
}

/// Makes `calls` calls of `workload` on this thread, untimed: what callgrind counts
/// (`--toggle-collect=fn_bench::count_calls` counts inside this function only, so the
/// setup's cost, which varies from run to run, stays out of the figure).
///
/// # Errors
///
/// When a call fails.
#[inline(never)]
pub fn count_calls(invoker: &mut dyn Invoke, workload: &Workload, calls: u64) -> Result<()> {
    for _ in 0..calls {
        std::hint::black_box(invoker.invoke(&workload.input)?);
    }
    Ok(())
}

/// The figures of one measured configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Summary {
    /// Calls measured.
    pub calls: u64,
    /// Median latency of a call, in nanoseconds.
    pub median_ns: u64,
    /// 99th percentile, in nanoseconds.
    pub p99_ns: u64,
    /// 99.9th percentile, in nanoseconds.
    pub p999_ns: u64,
    /// Calls per second over the wall time (all threads together).
    pub per_second: f64,
    /// The latency at each half percentile, 0 to 100 (201 points), in nanoseconds: the
    /// distribution, for the plot.
    pub quantiles_ns: Vec<u64>,
}

impl Summary {
    /// Summarises `latencies` (sorted in place) of `calls` calls made in `wall`.
    pub fn of(latencies: &mut [u64], calls: u64, wall: Duration) -> Summary {
        latencies.sort_unstable();
        let at = |q: f64| -> u64 {
            if latencies.is_empty() {
                return 0;
            }
            let index = ((latencies.len() - 1) as f64 * q).round() as usize;
            latencies[index]
        };
        Summary {
            calls,
            median_ns: at(0.5),
            p99_ns: at(0.99),
            p999_ns: at(0.999),
            per_second: calls as f64 / wall.as_secs_f64().max(1e-9),
            quantiles_ns: (0..=200).map(|i| at(f64::from(i) / 200.0)).collect(),
        }
    }
}

/// One line of the in-process results: a workload in one embedding on some threads.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Measured {
    /// The workload's name.
    pub workload: String,
    /// The embedding.
    pub kind: Kind,
    /// Threads calling at once.
    pub threads: usize,
    /// The figures.
    pub summary: Summary,
}

/// The resident set of this process, in bytes (Linux: `/proc/self/statm`).
///
/// # Errors
///
/// When it cannot be read.
pub fn resident_bytes() -> Result<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm")?;
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("/proc/self/statm has no resident field"))?
        .parse()?;
    Ok(pages * 4096)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_reads_percentiles_off_the_sorted_latencies() {
        let mut latencies: Vec<u64> = (1..=1000).rev().collect();
        let summary = Summary::of(&mut latencies, 1000, Duration::from_millis(500));
        assert_eq!(summary.median_ns, 501);
        assert_eq!(summary.p99_ns, 990);
        assert_eq!(summary.p999_ns, 999);
        assert_eq!(summary.per_second, 2000.0);
        assert_eq!(summary.quantiles_ns.len(), 201);
        assert_eq!(summary.quantiles_ns[0], 1);
        assert_eq!(summary.quantiles_ns[200], 1000);
    }
}
