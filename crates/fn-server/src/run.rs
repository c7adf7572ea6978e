//! `fnd run`: one invocation of a module through the engine, on an in-memory store,
//! with its output, its exit status and its errors as the crate's docs describe.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use fn_core::{
    CompileWorker, Config, Error, FunctionDefinition, FunctionStore, InvocationContext,
    MemoryLogger, Preopen, TraceContext, TriggerType,
};
use fn_engine::Engine;
use fn_registry::InMemoryRegistry;

use crate::inert;

mod http;
mod read;
use self::read::read_input;
pub(crate) use self::read::read_module;

/// The exit status when the function failed other than by exiting with a status fnd can
/// pass on (1 to [`LAST_PASSED_ON`]).
const FUNCTION_FAILED: u8 = 124;
/// The highest guest exit status passed on as it is.
const LAST_PASSED_ON: i32 = 123;

#[derive(clap::Args)]
pub(crate) struct RunArgs {
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
    /// The invocation's deadline: `300ms`, `2s` (a bare number is seconds); default 5s.
    #[arg(long, value_name = "DURATION", value_parser = crate::units::timeout)]
    timeout: Option<Duration>,
    /// `--timeout` in milliseconds (the older spelling).
    #[arg(long, value_name = "MS", conflicts_with = "timeout", hide = true)]
    timeout_ms: Option<u64>,
    /// The function's memory limit: `32MiB`, `1GiB` (a bare number is MiB); default
    /// 64MiB.
    #[arg(long, value_name = "SIZE", value_parser = crate::units::memory)]
    memory: Option<u64>,
    /// `--memory` in MiB (the older spelling).
    #[arg(long, value_name = "MIB", conflicts_with = "memory", hide = true)]
    memory_mib: Option<u64>,
    /// Preopen a host folder, read-only, as GUEST (default `/`); repeat for more.
    #[arg(long = "dir", value_name = "HOST[::GUEST]")]
    dirs: Vec<String>,
    /// Preopen a host folder the function may write to, as GUEST (default `/`).
    #[arg(long = "dir-rw", value_name = "HOST[::GUEST]")]
    writable_dirs: Vec<String>,
    /// Print the invocation record as JSON on stderr.
    #[arg(long)]
    record: bool,
    /// Keep compiled modules in this folder, so the next run of the same module starts
    /// without compiling; default `$XDG_CACHE_HOME/fnd`, else `$HOME/.cache/fnd`.
    #[arg(long, value_name = "DIR", conflicts_with = "no_cache")]
    cache_dir: Option<PathBuf>,
    /// Compile the module afresh, and keep nothing on disk.
    #[arg(long)]
    no_cache: bool,
    /// The longest the compile may take: `30s`, `500ms`; default 30s.
    #[arg(long, value_name = "DURATION", value_parser = crate::units::duration)]
    compile_timeout: Option<Duration>,
    /// `--compile-timeout` in milliseconds (the older spelling).
    #[arg(
        long,
        value_name = "MS",
        conflicts_with = "compile_timeout",
        hide = true
    )]
    compile_timeout_ms: Option<u64>,
    /// Compile in this process instead of a compile worker (a child `fnd` capped in
    /// memory and killed at the compile timeout). A compile that times out then runs on
    /// until it finishes, and fnd with it.
    #[arg(long)]
    compile_in_process: bool,
    /// For an HTTP component: the request's method; default POST with an input, GET
    /// without.
    #[arg(long, value_name = "METHOD")]
    method: Option<String>,
    /// For an HTTP component: the request's path and query; default `/`.
    #[arg(long, value_name = "PATH")]
    path: Option<String>,
    /// For an HTTP component: a request header, `NAME:VALUE`; repeat for more.
    #[arg(long = "header", value_name = "NAME:VALUE")]
    headers: Vec<String>,
    /// Arguments for the function, after argv[0] (its name): `fnd run m.wasm -- a b`.
    #[arg(last = true, value_name = "ARGS")]
    args: Vec<String>,
}

pub(crate) async fn run(args: RunArgs) -> Result<ExitCode> {
    let wasm = read_module(&args.module, Config::default().max_module_bytes)?;
    let definition = definition(&args)?;
    let config = config(&args, &definition);
    let input = read_input(&args, config.max_input_bytes)?;
    let request = http::request(&args, &wasm, &input)?;
    let telemetry = fn_server::telemetry::for_one_function(&definition)?;
    let registry = Arc::new(InMemoryRegistry::new());
    let records = Arc::new(MemoryLogger::new());
    let engine = Engine::builder(registry.clone())
        .config(config)
        .invocation_logger(fn_server::telemetry::logger(
            records.clone(),
            telemetry.as_ref(),
        ))
        .build()?;
    // One call, not a deploy: the module is kept as the store's and compiled by the
    // call, so its compile is the call's cold start (in its record, span and metrics),
    // and a module that does not compile is a failed call, recorded like a trap.
    definition.validate(engine.config())?;
    let cid = registry.put_module(Bytes::from(wasm)).await?;
    let function = registry.deploy(definition, cid).await?;

    let mut ctx = InvocationContext::new(TriggerType::Job);
    ctx.trace = trace_from_env(|name| std::env::var(name).ok());
    if let Some(request) = request {
        return http::run(&args, &engine, &records, telemetry, &function, request, ctx).await;
    }
    let execution = engine.execute_detailed(&function, input, Some(ctx)).await;
    // A module compiled by this run is being written to the cache folder: let it land.
    engine.flush_artifacts().await;
    fn_server::telemetry::finish(telemetry, &engine).await;
    if args.record {
        print_records(&engine, &records)?;
    }
    // A reader that went away wanted no more of the output: the status is the call's.
    match execution.result {
        Ok(output) => {
            crate::out::bytes(&output)?;
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => {
            // What a failed command wrote before it failed is still its output to show.
            crate::out::bytes(&execution.stdout)?;
            eprintln!("error: {}", inert(&error.to_string()));
            Ok(ExitCode::from(failure_status(&error)))
        }
    }
}

/// The function the flags describe: its name, deadline, memory, environment, arguments
/// and folders.
fn definition(args: &RunArgs) -> Result<FunctionDefinition> {
    let max_memory_bytes = match (args.memory, args.memory_mib) {
        (Some(bytes), _) => Some(bytes),
        (None, Some(mib)) => mib.checked_mul(1 << 20),
        (None, None) => Some(64 << 20),
    }
    .filter(|bytes| *bytes <= fn_core::MEMORY_CEILING_BYTES)
    .with_context(|| {
        format!(
            "--memory is over the {} MiB a wasm32 memory can address",
            fn_core::MEMORY_CEILING_BYTES >> 20
        )
    })?;
    let name = match &args.name {
        Some(name) => name.clone(),
        None => default_name(&args.module),
    };
    let mut definition = FunctionDefinition::new("local", name);
    definition.timeout = args
        .timeout
        .or(args.timeout_ms.map(Duration::from_millis))
        .unwrap_or(Duration::from_secs(5));
    definition.max_memory_bytes = max_memory_bytes;
    for pair in &args.env {
        let Some((key, value)) = pair.split_once('=') else {
            bail!("--env `{pair}` is not KEY=VALUE");
        };
        definition.env.insert(key.to_string(), value.to_string());
    }
    definition.args.clone_from(&args.args);
    for (spec, writable) in args
        .dirs
        .iter()
        .map(|d| (d, false))
        .chain(args.writable_dirs.iter().map(|d| (d, true)))
    {
        definition.preopens.push(preopen(spec, writable)?);
    }
    Ok(definition)
}

/// The engine's config for one run of `definition`: it may see exactly the folders it
/// was given, in a pool of one slot (not the server's 256, whose reservation a short
/// process would pay for at start and at exit).
fn config(args: &RunArgs, definition: &FunctionDefinition) -> Config {
    let mut config = Config {
        preopen_roots: definition.preopens.iter().map(|p| p.host.clone()).collect(),
        artifact_cache_dir: cache_dir(args),
        compile_timeout: args
            .compile_timeout
            .or(args.compile_timeout_ms.map(Duration::from_millis))
            .unwrap_or(Duration::from_secs(30)),
        compile_worker: compile_worker(args),
        ..Config::default()
    };
    config.pooling.slots = 1;
    config
}

/// `--record`: which allocator ran the call (on-demand allocation, a pool that could not
/// be reserved under a tight address-space limit, is several times slower), then its
/// records as JSON lines, on stderr.
pub(crate) fn print_records(engine: &Engine, records: &MemoryLogger) -> Result<()> {
    let allocator = if engine.uses_pooling() {
        "pooling"
    } else {
        "on-demand"
    };
    eprintln!("fnd: instances: {allocator} allocator");
    for record in records.take_all() {
        eprintln!("{}", serde_json::to_string(&record)?);
    }
    Ok(())
}

/// This program as its own compile worker (`fnd compile-worker`), unless
/// `--compile-in-process`, or when the path of this program cannot be found (logged).
fn compile_worker(args: &RunArgs) -> Option<CompileWorker> {
    if args.compile_in_process {
        return None;
    }
    match CompileWorker::this_program() {
        Ok(worker) => Some(worker),
        Err(error) => {
            tracing::warn!(%error, "cannot find this program to run it as the compile worker; compiling in process");
            None
        }
    }
}

/// The artifact cache folder: `--cache-dir`, else `$XDG_CACHE_HOME/fnd`, else
/// `$HOME/.cache/fnd`; none with `--no-cache` or when neither variable is set (or they
/// are not absolute, as the XDG specification asks).
fn cache_dir(args: &RunArgs) -> Option<PathBuf> {
    if args.no_cache {
        return None;
    }
    if let Some(dir) = &args.cache_dir {
        return Some(std::path::absolute(dir).unwrap_or_else(|_| dir.clone()));
    }
    crate::xdg_dir("XDG_CACHE_HOME", ".cache")
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

/// `fnd run`'s exit status for a failed invocation: the guest's own exit status when it
/// is one fnd passes on (1 to 123), otherwise [`FUNCTION_FAILED`].
pub(crate) fn failure_status(error: &Error) -> u8 {
    match error.root() {
        Error::Exit { code, .. } if (1..=LAST_PASSED_ON).contains(code) => {
            u8::try_from(*code).unwrap_or(FUNCTION_FAILED)
        }
        _ => FUNCTION_FAILED,
    }
}

/// The module's file stem, made into a valid function name.
pub(crate) fn default_name(path: &std::path::Path) -> String {
    let stem = path.file_stem().unwrap_or_default().to_string_lossy();
    fn_core::name_from(&stem, "fn-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_statuses_1_to_123_are_passed_on() {
        let exit = |code| Error::Exit {
            code,
            stderr_tail: String::new(),
        };
        assert_eq!(failure_status(&exit(7)), 7);
        assert_eq!(failure_status(&exit(123)), 123);
        for code in [124, 125, 126, 255, 256, -1] {
            assert_eq!(failure_status(&exit(code)), FUNCTION_FAILED, "{code}");
        }
        let trap = Error::Trap {
            code: fn_core::TrapCode::UnreachableCodeReached,
            message: String::new(),
        };
        assert_eq!(failure_status(&trap), FUNCTION_FAILED);
    }
}

/// The caller's trace from OpenTelemetry's environment-variable carrier: `TRACEPARENT`
/// and `TRACESTATE` (read through `var`). An invalid `TRACEPARENT` is ignored, as the W3C
/// rules say, with a warning.
fn trace_from_env(var: impl Fn(&str) -> Option<String>) -> Option<TraceContext> {
    let traceparent = var("TRACEPARENT")?;
    let trace = TraceContext::parse(&traceparent, var("TRACESTATE").as_deref());
    if trace.is_none() {
        eprintln!("fnd: ignoring TRACEPARENT: not a valid W3C traceparent");
    }
    trace
}

#[cfg(test)]
mod trace_tests {
    use super::*;

    #[test]
    fn the_trace_comes_from_traceparent_and_tracestate() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(key, _)| *key == name)
                    .map(|(_, value)| (*value).to_owned())
            }
        };
        let parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let trace = trace_from_env(env(&[
            (
                "TRACEPARENT",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            ),
            ("TRACESTATE", "congo=t61rcWkgMzE"),
        ]))
        .expect("a valid traceparent");
        assert_eq!(trace.traceparent(), parent);
        assert_eq!(trace.tracestate(), Some("congo=t61rcWkgMzE"));
        assert_eq!(trace_from_env(env(&[])), None);
        assert_eq!(trace_from_env(env(&[("TRACEPARENT", "garbage")])), None);
    }
}
