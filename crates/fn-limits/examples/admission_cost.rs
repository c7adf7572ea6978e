//! The cost of admitting one call: `Limits::admit_call` and the permit's drop, on one
//! thread and on two at once, with the default config (slots only) and with every key
//! on (four rates, a function slot, a namespace share).
//!
//! `cargo run --release -p fn-limits --example admission_cost [CALLS] [ONLY]` prints ns
//! per call for each configuration (the median of five runs). `ONLY` (`default` or `all`)
//! runs that configuration alone, once, on one thread: for instruction counts under
//! callgrind, whose difference between two `CALLS` is the cost of the calls alone.
#![allow(clippy::print_stdout, reason = "an example reports on stdout")]

use std::time::{Duration, Instant};

use fn_core::{Cid, Config, Function, FunctionDefinition, RateQuota};
use fn_limits::Limits;

/// Distinct callers and functions the calls cycle through.
const CALLERS: usize = 1000;
const FUNCTIONS: usize = 50;

fn config(all_keys: bool) -> Config {
    let mut config = Config::default();
    if all_keys {
        // Rates that never refuse here: what is measured is the work of checking them.
        let generous = Some(RateQuota::per_second(u32::MAX));
        let admission = &mut config.admission;
        admission.global_rate = generous;
        admission.namespace_rate = generous;
        admission.function_rate = generous;
        admission.caller_rate = generous;
        admission.function_max_concurrent = Some(64);
    }
    config
}

/// Admits `calls` calls on this thread, cycling through the functions and callers.
fn run(limits: &Limits, functions: &[Function], callers: &[String], calls: usize) -> Duration {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let start = Instant::now();
        for i in 0..calls {
            let function = &functions[i % functions.len()];
            let caller = callers[i % callers.len()].as_str();
            let permit = limits
                .admit_call(function, Some(caller))
                .await
                .expect("nothing is refused");
            drop(std::hint::black_box(permit));
        }
        start.elapsed()
    })
}

/// ns per call with `threads` threads admitting `calls` calls each at once.
fn ns_per_call(all_keys: bool, threads: usize, calls: usize) -> f64 {
    let limits = Limits::new(&config(all_keys));
    let functions: Vec<Function> = (0..FUNCTIONS)
        .map(|i| {
            let definition = FunctionDefinition::new(format!("ns{}", i % 5), format!("f{i}"));
            Function::new(definition, Cid::of(format!("{i}").as_bytes()))
        })
        .collect();
    let callers: Vec<String> = (0..CALLERS).map(|i| format!("caller-{i}")).collect();
    run(&limits, &functions, &callers, calls / 10); // warm: every key's state made
    let elapsed: Vec<Duration> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| scope.spawn(|| run(&limits, &functions, &callers, calls)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("no panic"))
            .collect()
    });
    let slowest = elapsed.into_iter().max().unwrap_or_default();
    slowest.as_nanos() as f64 / calls as f64
}

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

fn main() {
    let mut args = std::env::args().skip(1);
    let calls: usize = args.next().map_or(200_000, |n| n.parse().expect("CALLS"));
    if let Some(only) = args.next() {
        let ns = ns_per_call(only == "all", 1, calls);
        println!("{only}: {calls} calls, {ns:.0} ns per call");
        return;
    }
    println!("| configuration | 1 thread | 2 threads at once (each call) |");
    println!("|---|---:|---:|");
    for (name, all_keys) in [
        ("default (global and namespace slots)", false),
        ("all keys on", true),
    ] {
        let one = median((0..5).map(|_| ns_per_call(all_keys, 1, calls)).collect());
        let two = median((0..5).map(|_| ns_per_call(all_keys, 2, calls)).collect());
        println!("| {name} | {one:.0} ns | {two:.0} ns |");
    }
}
