//! `fn-bench`: the parts of `cargo xtask bench` that are not criterion's.
//!
//! - `count --kind K --workload W --calls N`: N calls on this thread and nothing else, for
//!   `valgrind --tool=callgrind` to count instructions (the pool is shrunk to a few
//!   slots, as valgrind cannot reserve the default one).
//! - `memory`: the resident memory an idle cached module and an invocation in flight
//!   cost the engine, as JSON.
//! - `http`: HTTP functions, `Engine::serve_http` against a bare `ProxyPre` embedding,
//!   and the memory of idle cached components and of requests in flight, as JSON.
//! - `plot IN.json OUT.png`: the latency distributions of the criterion run.
#![allow(clippy::print_stdout, reason = "the figures are this program's output")]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use bytes::Bytes;
use clap::{Parser, Subcommand};
use fn_bench::{Kind, Measured, resident_bytes, workload};
use fn_core::{Config, FunctionDefinition};
use fn_engine::Engine;
use fn_registry::InMemoryRegistry;

#[derive(Parser)]
#[command(about = "The function engine's benchmarks that criterion does not run")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Calls for callgrind: build, a checked call and ten more, then N calls in
    /// `fn_bench::count_calls` (run under `--toggle-collect=fn_bench::count_calls`).
    Count {
        /// naive, bare or engine.
        #[arg(long)]
        kind: String,
        /// A workload's name (upper-13B, echo-64KiB, …).
        #[arg(long)]
        workload: String,
        /// How many calls after the first.
        #[arg(long)]
        calls: u64,
        /// Pool slots (valgrind cannot reserve the default 256).
        #[arg(long, default_value_t = 4)]
        slots: u32,
        /// Bytes of each slot's memory kept resident (default: the config's).
        #[arg(long)]
        keep_resident: Option<u64>,
        /// The engine's epoch tick in milliseconds (default: the config's).
        #[arg(long)]
        epoch_tick_ms: Option<u64>,
    },
    /// Times calls on some threads (a quick look at one setting; `cargo xtask bench`
    /// for the report): median, p99 and calls per second.
    Time {
        /// naive, bare or engine.
        #[arg(long)]
        kind: String,
        /// A workload's name.
        #[arg(long)]
        workload: String,
        /// How many calls, over all threads.
        #[arg(long, default_value_t = 20_000)]
        calls: u64,
        /// Threads calling at once.
        #[arg(long, default_value_t = 1)]
        threads: usize,
        /// Bytes of each slot's memory kept resident (default: the config's).
        #[arg(long)]
        keep_resident: Option<u64>,
        /// The engine's epoch tick in milliseconds (default: the config's).
        #[arg(long)]
        epoch_tick_ms: Option<u64>,
    },
    /// Memory per idle cached module and per invocation in flight, as JSON.
    Memory {
        /// Modules cached, and invocations held in flight.
        #[arg(long, default_value_t = 64)]
        count: usize,
    },
    /// HTTP functions: `Engine::serve_http` against a bare `ProxyPre` embedding (medians
    /// of alternating rounds), and the memory of idle cached components and of requests
    /// in flight, as JSON.
    Http {
        /// Requests per round.
        #[arg(long, default_value_t = 500)]
        calls: usize,
        /// Rounds of each.
        #[arg(long, default_value_t = 10)]
        rounds: usize,
        /// Components cached, and requests held in flight.
        #[arg(long, default_value_t = 32)]
        count: usize,
        /// The guest served: `http-hello` (the `wasip2` bindings alone) or `http-routes`
        /// (wstd).
        #[arg(long, default_value = "http-hello", value_parser = fn_bench::http::GUESTS)]
        guest: String,
    },
    /// Draws the latency distributions of an in-process results file.
    Plot { input: PathBuf, output: PathBuf },
}

fn main() -> Result<()> {
    match Cli::parse().task {
        Task::Count {
            kind,
            workload,
            calls,
            slots,
            keep_resident,
            epoch_tick_ms,
        } => {
            let (kind, workload, mut config) =
                chosen(&kind, &workload, keep_resident, epoch_tick_ms)?;
            config.pooling.slots = slots;
            let setup = kind.build(&workload, &config)?;
            let mut invoker = setup.invoker();
            // Warm: the first calls fill the pool's slot and the caches.
            for _ in 0..10 {
                invoker.invoke(&workload.input)?;
            }
            fn_bench::count_calls(invoker.as_mut(), &workload, calls)
        }
        Task::Time {
            kind,
            workload,
            calls,
            threads,
            keep_resident,
            epoch_tick_ms,
        } => {
            let (kind, workload, config) = chosen(&kind, &workload, keep_resident, epoch_tick_ms)?;
            let setup = kind.build(&workload, &config)?;
            let mut invokers: Vec<_> = (0..threads).map(|_| setup.invoker()).collect();
            let mut latencies = Vec::new();
            fn_bench::measure(&mut invokers, &workload, calls / 10, &mut latencies)?;
            latencies.clear();
            let wall = fn_bench::measure(&mut invokers, &workload, calls, &mut latencies)?;
            let summary = fn_bench::Summary::of(&mut latencies, calls, wall);
            println!(
                "{} {} {threads}t: median {:.1} µs, p99 {:.1} µs, {:.0} calls/s",
                kind.name(),
                workload.name,
                summary.median_ns as f64 / 1e3,
                summary.p99_ns as f64 / 1e3,
                summary.per_second
            );
            Ok(())
        }
        Task::Memory { count } => memory(count),
        Task::Http {
            calls,
            rounds,
            count,
            guest,
        } => http(&guest, calls, rounds, count),
        Task::Plot { input, output } => {
            let json = std::fs::read_to_string(&input)
                .with_context(|| format!("reading {}", input.display()))?;
            let measured: Vec<Measured> = serde_json::from_str(&json)?;
            fn_bench::plot::latency_distributions(&measured, &output)
        }
    }
}

/// The kind, the workload and the config (the default, tuned as asked) of `count` and
/// `time`.
fn chosen(
    kind: &str,
    workload: &str,
    keep_resident: Option<u64>,
    epoch_tick_ms: Option<u64>,
) -> Result<(Kind, fn_bench::workload::Workload, Config)> {
    let kind = Kind::named(kind).context("no such kind: naive, bare or engine")?;
    let workload = workload::named(workload).context("no such workload")?;
    let mut config = Config::default();
    if let Some(bytes) = keep_resident {
        config.pooling.keep_resident_bytes = bytes;
    }
    if let Some(ms) = epoch_tick_ms {
        config.epoch_tick = Duration::from_millis(ms);
    }
    Ok((kind, workload, config))
}

/// `wasm` with a custom section naming `i` appended: the same code under another CID.
fn variant(wasm: &[u8], i: usize) -> Bytes {
    let name = b"fn-bench";
    let payload = i.to_le_bytes();
    let size = 1 + name.len() + payload.len();
    let mut out = wasm.to_vec();
    out.push(0); // a custom section
    out.push(u8::try_from(size).expect("a one-byte LEB128 size"));
    out.push(u8::try_from(name.len()).expect("short"));
    out.extend_from_slice(name);
    out.extend_from_slice(&payload);
    out.into()
}

fn memory(count: usize) -> Result<()> {
    let executor = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    executor.block_on(async {
        let registry = Arc::new(InMemoryRegistry::new());
        let config = Config::default();
        let engine = Engine::builder(registry.clone())
            .config(config.clone())
            .build()?;
        // Idle cached modules: `count` copies of the hello guest under distinct CIDs,
        // each compiled and run once, then left in the cache.
        let hello = workload::named("hello").context("hello")?;
        let wasm = hello.wasm();
        let before = resident_bytes()?;
        for i in 0..count {
            let definition = FunctionDefinition::new("bench", format!("hello{i}"));
            let function = engine
                .deploy(registry.as_ref(), definition, variant(&wasm, i))
                .await?;
            let output = engine.execute(&function, hello.input.clone(), None).await?;
            if output != hello.expect {
                bail!("hello{i} answered {output:?}");
            }
        }
        let modules = resident_bytes()? - before;
        let stats = engine.cache_stats().await;
        // Invocations in flight: `count` calls parked in a host call at once.
        let wasm_of_sleeper = Bytes::from(fn_guests::sleeper_wat(3_000));
        let sleeper = FunctionDefinition::new("bench", "sleeper");
        let function = Arc::new(
            engine
                .deploy(registry.as_ref(), sleeper, wasm_of_sleeper)
                .await?,
        );
        let before = resident_bytes()?;
        let calls: Vec<_> = (0..count)
            .map(|_| {
                let (engine, function) = (engine.clone(), function.clone());
                tokio::spawn(async move { engine.execute(&function, Bytes::new(), None).await })
            })
            .collect();
        // Every call is parked within a few milliseconds; a second is ample.
        tokio::time::sleep(Duration::from_secs(1)).await;
        let in_flight = resident_bytes()?.saturating_sub(before);
        for call in calls {
            let output = call.await??;
            if output != "done" {
                bail!("the sleeper answered {output:?}");
            }
        }
        let report = serde_json::json!({
            "count": count,
            "idle_module_resident_bytes": modules / count as u64,
            "idle_module_cache_weight_bytes": stats.weighted_size_bytes / count as u64,
            "in_flight_resident_bytes": in_flight / count as u64,
        });
        println!("{}", serde_json::to_string_pretty(&report)?);
        Ok(())
    })
}

fn http(guest: &str, calls: usize, rounds: usize, count: usize) -> Result<()> {
    use fn_bench::http::{BareHttp, EngineHttp, compare};
    let executor = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let config = Config::default();
    let (bare_ns, engine_ns) = executor.block_on(async {
        let bare = BareHttp::new(&config, guest)?;
        let engine = EngineHttp::new(&config, guest).await?;
        compare(&bare, &engine, calls, rounds).await
    })?;
    let (idle, in_flight) = executor.block_on(http_memory(&config, count))?;
    let report = serde_json::json!({
        "guest": guest,
        "calls": calls * rounds,
        "bare_median_ns": bare_ns,
        "engine_median_ns": engine_ns,
        "ratio": engine_ns as f64 / bare_ns.max(1) as f64,
        "count": count,
        "memory_guest": "http-routes",
        "idle_component_resident_bytes": idle,
        "in_flight_request_resident_bytes": in_flight,
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

/// The resident memory of one idle cached component (`count` copies of `http-routes`,
/// whose `/sleep` holds a request in flight, under distinct CIDs, each deployed and served once) and of one request in flight
/// (`count` requests parked in the guest's sleep at once), each an average.
async fn http_memory(config: &Config, count: usize) -> Result<(u64, u64)> {
    use http_body_util::BodyExt as _;
    let registry = Arc::new(InMemoryRegistry::new());
    let engine = Engine::builder(registry.clone())
        .config(config.clone())
        .build()?;
    let wasm = fn_guests::component("http-routes");
    let get = request_of;
    let before = resident_bytes()?;
    let mut functions = Vec::new();
    for i in 0..count {
        let definition = FunctionDefinition::new("bench", format!("routes{i}"));
        let function = engine
            .deploy(registry.as_ref(), definition, variant(&wasm, i))
            .await?;
        let response = engine.serve_http(&function, get("/")?, None).await?;
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        if body.to_bytes() != fn_bench::http::HELLO {
            bail!("routes{i} answered wrongly");
        }
        functions.push(function);
    }
    let idle = (resident_bytes()? - before) / count as u64;
    let function = Arc::new(functions.swap_remove(0));
    let before = resident_bytes()?;
    let mut parked = Vec::new();
    for _ in 0..count {
        let (engine, function) = (engine.clone(), function.clone());
        let request = get("/sleep?ms=2000")?;
        parked.push(tokio::spawn(async move {
            engine.serve_http(&function, request, None).await
        }));
    }
    // Every request is parked in the guest's sleep within milliseconds; half a second
    // is ample, and far from the two seconds they sleep.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let in_flight = resident_bytes()?.saturating_sub(before) / count as u64;
    for call in parked {
        let response = call.await??;
        response
            .into_body()
            .collect()
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    Ok((idle, in_flight))
}

fn request_of(path: &str) -> Result<http::Request<fn_engine::RequestBody>> {
    Ok(http::Request::get(path).body(fn_engine::full_body(Bytes::new()))?)
}
