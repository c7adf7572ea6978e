//! Per-invocation latency and throughput of every workload in the three embeddings
//! (naive, bare, the engine), on one and two threads, under criterion.
//!
//! Criterion decides how many calls each sample makes and keeps its statistics and
//! change reports in `target/criterion`; each call is also timed on its own, so that the
//! median, the 99th percentile and the distribution are of calls, not of batches. Those
//! go to `$FN_BENCH_OUT` (default `target/bench/inprocess.json` beside this crate's
//! workspace) for `cargo xtask bench`'s report and plot.
//!
//! `cargo bench -p fn-bench --bench invoke [-- FILTER]`; the guests must be built
//! (`cargo xtask guests`).
#![allow(missing_docs, reason = "a bench target")]

use std::path::PathBuf;
use std::time::Duration;

use criterion::{Criterion, Throughput};
use fn_bench::{Invoker, Kind, Measured, Summary, measure, workload};
use fn_core::Config;

fn out_path() -> PathBuf {
    std::env::var_os("FN_BENCH_OUT").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/bench/inprocess.json"),
        PathBuf::from,
    )
}

fn main() {
    let mut criterion = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(30)
        .configure_from_args();
    let config = Config::default();
    let mut measured = Vec::new();
    for workload in workload::all() {
        let mut group = criterion.benchmark_group(workload.name);
        group.throughput(Throughput::Elements(1));
        for kind in Kind::ALL {
            let setup = kind
                .build(&workload, &config)
                .unwrap_or_else(|e| panic!("{} in {}: {e:#}", workload.name, kind.name()));
            for threads in [1, 2] {
                let mut invokers: Vec<Invoker> = (0..threads).map(|_| setup.invoker()).collect();
                let (mut latencies, mut calls, mut wall) = (Vec::new(), 0, Duration::ZERO);
                let id = format!("{}/{threads}t", kind.name());
                group.bench_function(&id, |b| {
                    b.iter_custom(|iters| {
                        let took = measure(&mut invokers, &workload, iters, &mut latencies)
                            .unwrap_or_else(|e| panic!("{}/{id}: {e:#}", workload.name));
                        calls += iters.div_ceil(threads as u64) * threads as u64;
                        wall += took;
                        took
                    });
                });
                if calls > 0 {
                    measured.push(Measured {
                        workload: workload.name.to_owned(),
                        kind,
                        threads,
                        summary: Summary::of(&mut latencies, calls, wall),
                    });
                }
            }
        }
        group.finish();
    }
    criterion.final_summary();
    if measured.is_empty() {
        return;
    }
    let out = out_path();
    if let Some(parent) = out.parent() {
        std::fs::create_dir_all(parent).expect("the output folder");
    }
    let json = serde_json::to_string_pretty(&measured).expect("serialisable");
    std::fs::write(&out, json).unwrap_or_else(|e| panic!("writing {}: {e}", out.display()));
    eprintln!("wrote {}", out.display());
}
