//! `fnd`, the function engine's command-line program.
//!
//! `fnd serve` runs the HTTP gateway on the embedded SQLite store (see `serve.rs`); the
//! client commands `deploy`, `invoke`, `ls`, `versions`, `rollback`, `logs`, `rm` and
//! `keys` call a running gateway found at `FND_URL` with the token in `FND_TOKEN`, with exit
//! statuses and a `--output json` envelope described in `cli.rs`; `fnd completions
//! SHELL` prints a shell's completion script.
//!
//! `fnd run MODULE [-- ARGS…]` runs one invocation of a WebAssembly module (binary or
//! text) through the engine, without a server, exactly as a deployed function would run:
//! same sandbox, same limits, same record. Nothing of the host is visible unless given:
//! `--env` for variables, `--dir`/`--dir-rw` for folders.
//!
//! Modules compile in a compile worker: this program run again as the hidden
//! `fnd compile-worker`, capped in memory and killed at `--compile-timeout`, so a
//! compile bomb cannot keep `fnd` running (`--compile-in-process` turns it off).
//!
//! Exit status of `fnd run` (its own, as it passes a guest's status on), chosen so that a guest's status and fnd's own can never be
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

/// `println!` that ends the program quietly when stdout's reader went away
/// ([`out::line`]).
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::out::line(&format!($($arg)*))
    };
}

mod cli;
mod out;
mod run;
mod serve;
mod units;

use std::process::ExitCode;

use clap::{CommandFactory as _, Parser, Subcommand};

use crate::cli::{DeployArgs, InvokeArgs, LogsArgs, LsArgs, NameArgs, RollbackArgs};
use crate::run::RunArgs;
use crate::serve::ServeArgs;

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
    /// Serve the HTTP gateway on the embedded store (admin token from FND_TOKEN).
    Serve(ServeArgs),
    /// Deploy a module as a function's next version, made active.
    Deploy(DeployArgs),
    /// Invoke a function: the input from --data or stdin, its output on stdout.
    Invoke(InvokeArgs),
    /// List a namespace's functions.
    Ls(LsArgs),
    /// List a function's versions.
    Versions(NameArgs),
    /// Make one of a function's versions the one that runs.
    Rollback(RollbackArgs),
    /// Show a function's invocation records, newest first.
    Logs(LogsArgs),
    /// Delete a function, every version.
    Rm(NameArgs),
    /// Make, list and remove API keys (admin).
    #[command(subcommand)]
    Keys(cli::KeysCommand),
    /// Run one invocation of a module locally, without a server (a WASI command or a
    /// handle-ABI module).
    Run(Box<RunArgs>),
    /// Check a configuration file, or print one with every default.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Print the completion script of a shell.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Compile one module for a parent `fnd` (its compile worker), over stdin and stdout.
    #[command(hide = true)]
    CompileWorker,
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Check FILE as `fnd serve --config FILE` reads it (with the FND__* variables):
    /// `FILE: ok`, or what is wrong (exit status 2).
    Check {
        /// The file (TOML).
        file: std::path::PathBuf,
    },
    /// Print a configuration file of every default, commented.
    Default,
}

/// `fnd config`.
fn config(command: &ConfigCommand) -> ExitCode {
    match command {
        ConfigCommand::Check { file } => {
            match fn_server::config::ServeConfig::load(Some(file), fnd_variables()) {
                Ok(_) => {
                    outln!("{}: ok", inert(&file.display().to_string()));
                    ExitCode::SUCCESS
                }
                Err(error) => {
                    eprintln!("error: {}", inert(&error.to_string()));
                    ExitCode::from(2)
                }
            }
        }
        ConfigCommand::Default => match out::bytes(fn_server::config::DEFAULT_FILE.as_bytes()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(_) => ExitCode::FAILURE,
        },
    }
}

/// The `FND__*` variables of the environment (those that are text).
pub(crate) fn fnd_variables() -> Vec<(String, String)> {
    std::env::vars_os()
        .filter_map(|(name, value)| Some((name.into_string().ok()?, value.into_string().ok()?)))
        .filter(|(name, _)| name.starts_with(fn_server::config::ENV_PREFIX))
        .collect()
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
        .with_ansi(colour())
        .init();
    // The server gets a worker per core; the one-shot commands (a `fnd run`, a client
    // call) run on this thread: spawning workers they never use was part of their start.
    let runtime = if matches!(cli.command, Command::Serve(_)) {
        tokio::runtime::Runtime::new()
    } else {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    };
    let runtime = match runtime {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: starting the async runtime: {e}");
            return ExitCode::from(FND_FAILED);
        }
    };
    let result = match cli.command {
        Command::Serve(args) => runtime.block_on(serve::serve(args)),
        Command::Deploy(args) => Ok(runtime.block_on(cli::deploy(args))),
        Command::Invoke(args) => Ok(runtime.block_on(cli::invoke(args))),
        Command::Ls(args) => Ok(runtime.block_on(cli::ls(args))),
        Command::Versions(args) => Ok(runtime.block_on(cli::versions(args))),
        Command::Rollback(args) => Ok(runtime.block_on(cli::rollback(args))),
        Command::Logs(args) => Ok(runtime.block_on(cli::logs(args))),
        Command::Rm(args) => Ok(runtime.block_on(cli::rm(args))),
        Command::Keys(command) => Ok(runtime.block_on(cli::keys(command))),
        Command::Run(args) => runtime.block_on(run::run(*args)),
        Command::Config(command) => Ok(config(&command)),
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "fnd", &mut script);
            Ok(match out::bytes(&script) {
                Ok(()) => ExitCode::SUCCESS,
                Err(_) => ExitCode::FAILURE,
            })
        }
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

/// Whether fnd's own log lines (on stderr) may carry colour codes: only on a terminal,
/// and never with `NO_COLOR` set to anything but the empty string (no-color.org).
fn colour() -> bool {
    use std::io::IsTerminal as _;
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// `fnd`'s folder under an XDG base directory: `$VAR/fnd`, else `$HOME/HOME_DEFAULT/fnd`;
/// none when neither is set or absolute (as the XDG specification asks).
pub(crate) fn xdg_dir(var: &str, home_default: &str) -> Option<std::path::PathBuf> {
    let absolute = |var: &str| {
        std::env::var_os(var)
            .map(std::path::PathBuf::from)
            .filter(|path| path.is_absolute())
    };
    absolute(var)
        .or_else(|| absolute("HOME").map(|home| home.join(home_default)))
        .map(|base| base.join("fnd"))
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
