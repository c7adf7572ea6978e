//! `cargo xtask bench`: every figure of docs/performance.md's summary in one run, each
//! against a baseline measured in that same run, written to `target/bench/report.md`
//! with the plot `target/bench/latency.png`.
//!
//! The parts: criterion (`fn-bench`'s `invoke` bench) for the in-process latencies and
//! throughputs of the naive embedding, the bare optimised one and the engine; callgrind
//! for instructions per call (repeatable where times are not); `fn-bench memory`; the
//! cold-start example; `fnd run` as a whole process under hyperfine; and HTTP through
//! `fnd serve` under wrk against the same server's `/healthz`. Tools missing from the
//! machine (valgrind, hyperfine, wrk: Debian packages) are installed when `apt-get` can,
//! else their part is skipped and the report says so.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::{cargo_bin, cargo_metadata, guests_out, target_dir};

/// What `cargo xtask bench` runs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Parts {
    /// Shorter criterion runs and wrk runs, for a quick look.
    pub(crate) quick: bool,
}

/// The workloads whose instructions per call callgrind counts.
const COUNTED: [&str; 3] = ["upper-13B", "echo-64KiB", "handle-upper-13B"];

/// Calls counted by callgrind per workload and embedding.
const COUNT_CALLS: u64 = 200;

pub(crate) fn bench(root: &Path, parts: Parts) -> Result<()> {
    let out = root.join("target/bench");
    std::fs::create_dir_all(&out)?;
    let target = target_dir(&cargo_metadata(&["--no-deps"])?)?.join("release");
    let mut report = format!(
        "# cargo xtask bench: {}\n\nMachine: {} cores, {}; wasmtime 48.0.8, release builds.\n",
        date()?,
        std::thread::available_parallelism().map_or(0, usize::from),
        uname()?,
    );
    ensure_tools(&["valgrind", "hyperfine", "wrk"]);

    // Criterion, in process.
    let inprocess = out.join("inprocess.json");
    let mut criterion = Command::new(cargo_bin());
    criterion
        .args(["bench", "-p", "fn-bench", "--bench", "invoke", "--"])
        .env("FN_BENCH_OUT", &inprocess);
    if parts.quick {
        criterion.args(["--warm-up-time", "0.5", "--measurement-time", "1"]);
    }
    run(&mut criterion, "criterion")?;
    let measured: Value = serde_json::from_str(&std::fs::read_to_string(&inprocess)?)?;
    report.push_str(&in_process_table(&measured));

    run(
        Command::new(cargo_bin()).args([
            "build",
            "--release",
            "-p",
            "fn-bench",
            "-p",
            "fn-server",
            "--bins",
        ]),
        "building fn-bench and fnd",
    )?;
    let fn_bench = target.join("fn-bench");
    let fnd = target.join("fnd");
    let plot = out.join("latency.png");
    match run(
        Command::new(&fn_bench)
            .arg("plot")
            .arg(&inprocess)
            .arg(&plot),
        "plot",
    ) {
        Ok(()) => writeln!(report, "\nPlot: {}\n", plot.display())?,
        Err(error) => writeln!(report, "\nNo plot: {error:#}\n")?,
    }

    report.push_str(&instructions(&fn_bench)?);
    report.push_str(&memory(&fn_bench)?);
    report.push_str(&crate::bench_http::in_process(&fn_bench, parts.quick)?);
    report.push_str(&cold_start()?);
    report.push_str(&fnd_run(root, &fnd)?);
    report.push_str(&crate::bench_http::http(root, &fnd, parts.quick)?);

    let path = out.join("report.md");
    std::fs::write(&path, &report)?;
    println!("{report}\nwrote {}", path.display());
    Ok(())
}

fn run(command: &mut Command, what: &str) -> Result<()> {
    let status = command
        .status()
        .with_context(|| format!("running {what}"))?;
    if !status.success() {
        bail!("{what} failed: {status}");
    }
    Ok(())
}

pub(crate) fn stdout_of(command: &mut Command, what: &str) -> Result<String> {
    let output = command
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("running {what}"))?;
    if !output.status.success() {
        bail!("{what} failed: {}", output.status);
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

fn date() -> Result<String> {
    Ok(
        stdout_of(Command::new("date").arg("-u").arg("+%F %H:%M UTC"), "date")?
            .trim()
            .to_owned(),
    )
}

fn uname() -> Result<String> {
    Ok(stdout_of(Command::new("uname").arg("-sr"), "uname")?
        .trim()
        .to_owned())
}

pub(crate) fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Installs the Debian packages of the missing `tools`, when apt-get is there and may.
fn ensure_tools(tools: &[&str]) {
    let missing: Vec<&str> = tools.iter().copied().filter(|t| !have(t)).collect();
    if missing.is_empty() || !have("apt-get") {
        return;
    }
    println!("installing {}", missing.join(" "));
    let _ = Command::new("apt-get").arg("update").arg("-qq").status();
    let _ = Command::new("apt-get")
        .args(["install", "-y", "-qq"])
        .args(&missing)
        .status();
}

fn micros(ns: &Value) -> f64 {
    ns.as_f64().unwrap_or(0.0) / 1e3
}

/// The criterion run as a table per workload, with the ratios the targets name.
fn in_process_table(measured: &Value) -> String {
    let rows = measured.as_array().cloned().unwrap_or_default();
    let find = |workload: &str, kind: &str, threads: u64| {
        rows.iter().find(|m| {
            m["workload"] == workload && m["kind"] == kind && m["threads"].as_u64() == Some(threads)
        })
    };
    let mut workloads: Vec<String> = Vec::new();
    for m in &rows {
        let name = m["workload"].as_str().unwrap_or_default().to_owned();
        if !workloads.contains(&name) {
            workloads.push(name);
        }
    }
    let mut out = String::from(
        "\n## In process (criterion; `cargo bench -p fn-bench --bench invoke`)\n\n\
         Per call, one thread: median and p99; calls per second on one and two threads.\n\n\
         | workload | embedding | median | p99 | 1 thread | 2 threads |\n\
         |---|---|---:|---:|---:|---:|\n",
    );
    for workload in &workloads {
        for kind in ["naive", "bare", "engine"] {
            let (Some(one), two) = (find(workload, kind, 1), find(workload, kind, 2)) else {
                continue;
            };
            let s = &one["summary"];
            let _ = writeln!(
                out,
                "| {workload} | {kind} | {:.1} µs | {:.1} µs | {:.0}/s | {} |",
                micros(&s["median_ns"]),
                micros(&s["p99_ns"]),
                s["per_second"].as_f64().unwrap_or(0.0),
                two.map_or("-".into(), |t| format!(
                    "{:.0}/s",
                    t["summary"]["per_second"].as_f64().unwrap_or(0.0)
                )),
            );
        }
    }
    out.push_str(
        "\nRatios, the engine against the bare embedding (targets: median ≤ 1.1x, p99 ≤ 1.5x, \
         two-thread throughput ≥ 0.95x) and against the naive one:\n\n\
         | workload | median vs bare | p99 vs bare | 2-thread calls/s vs bare | median vs naive |\n\
         |---|---:|---:|---:|---:|\n",
    );
    for workload in &workloads {
        let get = |kind, threads, field: &str| {
            find(workload, kind, threads).and_then(|m| m["summary"][field].as_f64())
        };
        let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(a), Some(b)) if b > 0.0 => format!("{:.2}x", a / b),
            _ => "-".into(),
        };
        let _ = writeln!(
            out,
            "| {workload} | {} | {} | {} | {} |",
            ratio(get("engine", 1, "median_ns"), get("bare", 1, "median_ns")),
            ratio(get("engine", 1, "p99_ns"), get("bare", 1, "p99_ns")),
            ratio(get("engine", 2, "per_second"), get("bare", 2, "per_second")),
            ratio(get("engine", 1, "median_ns"), get("naive", 1, "median_ns")),
        );
    }
    out
}

/// Instructions per call of `fn-bench count` under callgrind, counted only inside
/// `fn_bench::count_calls` (the calls, not the setup, whose cost varies between runs).
fn counted(fn_bench: &Path, kind: &str, workload: &str) -> Result<u64> {
    let dir = tempdir("callgrind")?;
    let file = dir.join("callgrind.out");
    let output = Command::new("valgrind")
        .args(["--tool=callgrind", "--toggle-collect=fn_bench::count_calls"])
        .arg(format!("--callgrind-out-file={}", file.display()))
        .arg(fn_bench)
        .args(["count", "--kind", kind, "--workload", workload])
        .args(["--calls", &COUNT_CALLS.to_string()])
        .output()
        .context("running valgrind")?;
    if !output.status.success() {
        bail!(
            "callgrind of {kind} {workload}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let counts = std::fs::read_to_string(&file)?;
    let _ = std::fs::remove_dir_all(&dir);
    let total: u64 = counts
        .lines()
        .find_map(|line| {
            line.strip_prefix("totals: ")
                .or(line.strip_prefix("summary: "))
        })
        .and_then(|n| n.split_whitespace().next()?.parse().ok())
        .context("no totals in callgrind's output")?;
    Ok(total / COUNT_CALLS)
}

fn tempdir(what: &str) -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("fn-bench-{what}-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

fn instructions(fn_bench: &Path) -> Result<String> {
    let mut out = String::from(
        "\n## Instructions per call (callgrind)\n\n\
         `valgrind --tool=callgrind --toggle-collect=fn_bench::count_calls fn-bench count --kind K \
         --workload W --calls 200`: only the calls are counted, not the setup. A pool of 4 slots \
         (valgrind cannot reserve the default).\n\n\
         | workload | naive | bare | engine | the engine's own (engine − bare) |\n\
         |---|---:|---:|---:|---:|\n",
    );
    if !have("valgrind") {
        out.push_str("\nSkipped: valgrind is not installed.\n");
        return Ok(out);
    }
    for workload in COUNTED {
        let mut per_call = Vec::new();
        for kind in ["naive", "bare", "engine"] {
            per_call.push(counted(fn_bench, kind, workload)?);
        }
        let own = per_call[2] as i64 - per_call[1] as i64;
        writeln!(
            out,
            "| {workload} | {} | {} | {} | {own} |",
            per_call[0], per_call[1], per_call[2]
        )?;
    }
    Ok(out)
}

fn memory(fn_bench: &Path) -> Result<String> {
    let json = stdout_of(Command::new(fn_bench).arg("memory"), "fn-bench memory")?;
    let figures: Value = serde_json::from_str(&json)?;
    let kib = |field: &str| figures[field].as_f64().unwrap_or(0.0) / 1024.0;
    Ok(format!(
        "\n## Memory (`fn-bench memory`: {} of each, resident set before and after)\n\n\
         | what | resident per one |\n|---|---:|\n\
         | an idle cached module (the hello guest, 65 KB of wasm) | {:.0} KiB (its cache weight: {:.0} KiB) |\n\
         | an invocation in flight (parked in a host call, one-page guest) | {:.0} KiB |\n",
        figures["count"],
        kib("idle_module_resident_bytes"),
        kib("idle_module_cache_weight_bytes"),
        kib("in_flight_resident_bytes"),
    ))
}

fn cold_start() -> Result<String> {
    let table = stdout_of(
        Command::new(cargo_bin()).args([
            "run",
            "--quiet",
            "--release",
            "-p",
            "fn-engine",
            "--example",
            "cold_start",
            "5",
        ]),
        "the cold-start example",
    )?;
    Ok(format!(
        "\n## Cold starts (`cargo run --release -p fn-engine --example cold_start 5`)\n\n{table}"
    ))
}

fn fnd_run(root: &Path, fnd: &Path) -> Result<String> {
    let mut out = String::from("\n## `fnd run` as a whole process (hyperfine)\n\n");
    if !have("hyperfine") {
        out.push_str("Skipped: hyperfine is not installed.\n");
        return Ok(out);
    }
    let dir = tempdir("fnd-run")?;
    let hello = guests_out(root).join("hello.wasm");
    let cached = format!(
        "{} run {} --cache-dir {} --input bench",
        fnd.display(),
        hello.display(),
        dir.join("cache").display()
    );
    let json = dir.join("hyperfine.json");
    run(
        Command::new("hyperfine")
            .args(["-N", "--warmup", "3", "--runs", "30", "--export-json"])
            .arg(&json)
            .arg(&cached),
        "hyperfine",
    )?;
    let figures: Value = serde_json::from_str(&std::fs::read_to_string(&json)?)?;
    let result = &figures["results"][0];
    writeln!(
        out,
        "`fnd run hello.wasm --cache-dir DIR` (the artifact cached): {:.1} ms ± {:.1} ms \
         (median {:.1} ms) over 30 runs.",
        result["mean"].as_f64().unwrap_or(0.0) * 1e3,
        result["stddev"].as_f64().unwrap_or(0.0) * 1e3,
        result["median"].as_f64().unwrap_or(0.0) * 1e3,
    )?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(out)
}
