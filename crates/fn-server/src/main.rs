//! `fnd`, the function engine's command-line program.
//!
//! `fnd run MODULE [-- ARGS…]` runs one invocation of a WebAssembly module (binary or
//! text) through the engine, exactly as a deployed function would run: same sandbox, same
//! limits, same record. Nothing of the host is visible unless given: `--env` for
//! variables, `--dir`/`--dir-rw` for folders. The HTTP gateway (`fnd serve`) comes with the server issue.
//!
//! Modules compile in a compile worker: this program run again as the hidden
//! `fnd compile-worker`, capped in memory and killed at `--compile-timeout-ms`, so a
//! compile bomb cannot keep `fnd` running (`--compile-in-process` turns it off).
//!
//! Exit status of `fnd run`, chosen so that a guest's status and fnd's own can never be
//! confused: 0 success; 1–123 the guest's own non-zero exit status, passed on; 124 the
//! function failed in any other way (a trap, its deadline, a limit, a refused module) or
//! exited with a status outside 1–123 (the error on stderr names it); 125 `fnd` itself
//! could not run the function (an unreadable module, a bad flag value, an invalid
//! definition, an input or a module over the limit, a module that is not a regular file).
//!
//! Telemetry: with the standard `OTEL_*` variables set, the invocation's spans and metrics
//! are exported over OTLP and flushed before the program exits (a bounded wait); a
//! `TRACEPARENT` in the environment makes its span a child of the caller's.
//!
//! Whatever a guest or a module controls that fnd prints as a message (its stderr tail,
//! a WAT parse error quoting its text) has its control characters escaped, so it cannot
//! drive the operator's terminal. The function's output on stdout is its data and is
//! written as it is, byte for byte, as `cat` writes a file.

#![allow(
    clippy::print_stdout,
    reason = "a command-line program prints its results"
)]

mod run;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::run::RunArgs;

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
    Run(Box<RunArgs>),
    /// Compile one module for a parent `fnd` (its compile worker), over stdin and stdout.
    #[command(hide = true)]
    CompileWorker,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::CompileWorker = cli.command {
        // Before anything else starts: a worker is one thread, and its stdout is the
        // protocol's alone.
        return fn_engine::serve_compile_worker();
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("FND_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: starting the async runtime: {e}");
            return ExitCode::from(FND_FAILED);
        }
    };
    let result = match cli.command {
        Command::Run(args) => runtime.block_on(run::run(*args)),
        Command::CompileWorker => unreachable!("served above"),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {}", inert(&format!("{error:#}")));
            ExitCode::from(FND_FAILED)
        }
    }
}

pub(crate) fn inert(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() && c != '\n' && c != '\t' {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_made_inert_but_lines_stay() {
        assert_eq!(
            inert("red \u{1b}[31mtext\u{7}\r\n\tnext"),
            "red \\u{1b}[31mtext\\u{7}\\r\n\tnext"
        );
        assert_eq!(inert("plain ünïcode"), "plain ünïcode");
        assert_eq!(inert("\u{9b}2J"), "\\u{9b}2J", "C1 controls too");
    }
}
