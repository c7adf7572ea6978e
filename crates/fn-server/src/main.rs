//! `fnd`, the function engine's command-line program.
//!
//! `fnd run MODULE [-- ARGS…]` runs one invocation of a WebAssembly module (binary or
//! text) through the engine, exactly as a deployed function would run: same sandbox, same
//! limits, same record. Nothing of the host is visible unless given: `--env` for
//! variables, `--dir`/`--dir-rw` for folders. The HTTP gateway (`fnd serve`) comes with the server issue.

#![allow(
    clippy::print_stdout,
    reason = "a command-line program prints its results"
)]

use std::collections::BTreeMap;
use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use clap::{Parser, Subcommand};
use fn_core::{
    Config, Error, FunctionDefinition, InvocationContext, InvocationLogger, InvocationRecord,
    Preopen, TriggerType,
};
use fn_engine::Engine;
use fn_registry::InMemoryRegistry;

/// The exit status when `fnd` itself could not run the function (an unreadable module
/// or input, a bad flag value, an invalid definition): apart from the statuses a guest
/// passes on, as `env` and container runtimes do.
const FND_FAILED: u8 = 125;

#[derive(Parser)]
#[command(
    name = "fnd",
    version,
    about = "Serverless WebAssembly function engine"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run one invocation of a module (a WASI command or a handle-ABI module).
    Run(RunArgs),
}

#[derive(clap::Args)]
struct RunArgs {
    /// The module: a `.wasm` file, or WebAssembly text (`.wat`).
    module: PathBuf,
    /// The input, as a string. Without --input or --input-file, stdin is read when it
    /// is not a terminal.
    #[arg(long, conflicts_with = "input_file")]
    input: Option<String>,
    /// Read the input from this file.
    #[arg(long)]
    input_file: Option<PathBuf>,
    /// The function's name (argv[0]); default: the module's file stem.
    #[arg(long)]
    name: Option<String>,
    /// An environment variable for the function, KEY=VALUE; repeat for more.
    #[arg(long = "env", value_name = "KEY=VALUE")]
    env: Vec<String>,
    /// The invocation's deadline in milliseconds.
    #[arg(long, default_value_t = 5_000)]
    timeout_ms: u64,
    /// The function's memory limit in MiB.
    #[arg(long, default_value_t = 64)]
    memory_mib: u64,
    /// Preopen a host folder, read-only, as GUEST (default `/`); repeat for more.
    #[arg(long = "dir", value_name = "HOST[::GUEST]")]
    dirs: Vec<String>,
    /// Preopen a host folder the function may write to, as GUEST (default `/`).
    #[arg(long = "dir-rw", value_name = "HOST[::GUEST]")]
    writable_dirs: Vec<String>,
    /// Print the invocation record as JSON on stderr.
    #[arg(long)]
    record: bool,
    /// Arguments for the function, after argv[0] (its name): `fnd run m.wasm -- a b`.
    #[arg(last = true, value_name = "ARGS")]
    args: Vec<String>,
}

/// Keeps the one record of the run, to print it.
#[derive(Debug, Default)]
struct LastRecord(Mutex<Option<InvocationRecord>>);

impl InvocationLogger for LastRecord {
    fn log(&self, record: InvocationRecord) -> fn_core::Result<()> {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(record);
        Ok(())
    }
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("FND_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: starting the async runtime: {e}");
            return ExitCode::from(FND_FAILED);
        }
    };
    let result = match cli.command {
        Command::Run(args) => runtime.block_on(run(args)),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(FND_FAILED)
        }
    }
}

async fn run(args: RunArgs) -> Result<ExitCode> {
    let wasm = std::fs::read(&args.module)
        .with_context(|| format!("reading the module {}", args.module.display()))?;
    let input = read_input(&args)?;
    let name = match &args.name {
        Some(name) => name.clone(),
        None => default_name(&args.module),
    };
    let mut env = BTreeMap::new();
    for pair in &args.env {
        let Some((key, value)) = pair.split_once('=') else {
            bail!("--env `{pair}` is not KEY=VALUE");
        };
        env.insert(key.to_string(), value.to_string());
    }

    let mut preopens = Vec::new();
    for (spec, writable) in args
        .dirs
        .iter()
        .map(|d| (d, false))
        .chain(args.writable_dirs.iter().map(|d| (d, true)))
    {
        preopens.push(preopen(spec, writable)?);
    }

    // This run may see exactly the folders it was given.
    let config = Config {
        preopen_roots: preopens.iter().map(|p| p.host.clone()).collect(),
        ..Config::default()
    };
    let registry = Arc::new(InMemoryRegistry::new());
    let records = Arc::new(LastRecord::default());
    let engine = Engine::builder(registry.clone())
        .config(config.clone())
        .invocation_logger(records.clone())
        .build()?;
    let cid = registry.put_wasm(Bytes::from(wasm));
    let mut definition = FunctionDefinition::new("local", name);
    definition.timeout = Duration::from_millis(args.timeout_ms);
    definition.max_memory_bytes = args.memory_mib << 20;
    definition.env = env;
    definition.args = args.args.clone();
    definition.preopens = preopens;
    let function = registry.deploy(definition, cid, &config)?;

    let ctx = InvocationContext::new(TriggerType::Job);
    let execution = engine.execute_detailed(&function, input, Some(ctx)).await;
    if args.record
        && let Some(record) = records.0.lock().ok().and_then(|mut r| r.take())
    {
        eprintln!("{}", serde_json::to_string(&record)?);
    }
    let mut stdout = std::io::stdout().lock();
    match execution.result {
        Ok(output) => {
            stdout.write_all(&output)?;
            stdout.flush()?;
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => {
            // What a failed command wrote before it failed is still its output to show.
            stdout.write_all(&execution.stdout)?;
            stdout.flush()?;
            eprintln!("error: {error}");
            // A guest's own exit status is passed on; every other failure is 1.
            Ok(match error.root() {
                Error::Exit { code, .. } => ExitCode::from(u8::try_from(*code).unwrap_or(1)),
                _ => ExitCode::FAILURE,
            })
        }
    }
}

/// `HOST[::GUEST]` as a preopen of the resolved host folder, as GUEST or `/`.
fn preopen(spec: &str, writable: bool) -> Result<Preopen> {
    let flag = if writable { "--dir-rw" } else { "--dir" };
    let (host, guest) = spec.split_once("::").unwrap_or((spec, "/"));
    let host = std::fs::canonicalize(host)
        .with_context(|| format!("{flag} `{spec}`: the folder `{host}` cannot be opened"))?;
    if !host.is_dir() {
        bail!("{flag} `{spec}`: `{}` is not a folder", host.display());
    }
    Ok(Preopen {
        host,
        guest: guest.to_string(),
        writable,
    })
}

fn read_input(args: &RunArgs) -> Result<Bytes> {
    if let Some(input) = &args.input {
        return Ok(Bytes::from(input.clone()));
    }
    if let Some(path) = &args.input_file {
        let bytes =
            std::fs::read(path).with_context(|| format!("reading the input {}", path.display()))?;
        return Ok(Bytes::from(bytes));
    }
    let mut stdin = std::io::stdin();
    if stdin.is_terminal() {
        return Ok(Bytes::new());
    }
    let mut input = Vec::new();
    stdin
        .read_to_end(&mut input)
        .context("reading the input from stdin")?;
    Ok(Bytes::from(input))
}

/// The module's file stem, made into a valid function name.
fn default_name(path: &std::path::Path) -> String {
    let stem = path.file_stem().unwrap_or_default().to_string_lossy();
    fn_core::name_from(&stem, "fn-")
}
