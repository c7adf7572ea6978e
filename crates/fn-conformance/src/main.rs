//! `fn-conformance`: runs conformance suites through the engine and writes a report.
//!
//! Exit status: 0 when every case passed or failed as the expectations file says, 1 when
//! not, 2 when the run could not start.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use fn_conformance::{Expectations, Runner};

/// Runs every suite (a folder holding a manifest.json) at or under PATHS through the
/// engine's execute path, prints a table per suite and writes report.json and report.md.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Folders to search for suites.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Where the report goes; fresh copies of root folders go under its `work/`.
    #[arg(long, default_value = "target/conformance")]
    out: PathBuf,
    /// The expectations file (TOML): known failures, each with a reason.
    #[arg(long)]
    expectations: Option<PathBuf>,
    /// Runs only the cases whose name contains this.
    #[arg(long)]
    filter: Option<String>,
    /// Runs each suite of preview 1 programs (manifest version `wasm32-wasip1`) a second
    /// time, its cases made components with the preview 1 adapter.
    #[arg(long)]
    also_as_components: bool,
}

fn main() -> ExitCode {
    if fn_core::CompileWorker::asked_of_this_process() {
        // This program is its own compile worker, as `fnd` is.
        return fn_engine::serve_compile_worker();
    }
    let args = Args::parse();
    match run(args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(error) => {
            eprintln!("fn-conformance: {error:#}");
            ExitCode::from(2)
        }
    }
}

fn run(args: Args) -> anyhow::Result<bool> {
    let expectations = match &args.expectations {
        Some(path) => Expectations::load(path)?,
        None => Expectations::default(),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let worker = fn_core::CompileWorker::this_program().ok();
    let runner = Runner::new(expectations, args.out.join("work"))
        .with_filter(args.filter)
        .also_as_components(args.also_as_components)
        .with_compile_worker(worker);
    let report = runtime.block_on(runner.run(&args.paths))?;
    report
        .write(&args.out)
        .with_context(|| format!("writing the report into {}", args.out.display()))?;
    let mut stdout = std::io::stdout().lock();
    write!(stdout, "{}", report.to_text())?;
    writeln!(
        stdout,
        "report: {} and report.md",
        args.out.join("report.json").display()
    )?;
    Ok(report.ok)
}
