//! Project automation, as one binary run through the `cargo xtask` alias.
//! See <https://github.com/matklad/cargo-xtask/>.

#![allow(clippy::print_stdout, reason = "xtask reports to the terminal")]

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};

mod advisories;
mod bench;
mod bench_http;
mod bombs;
mod dist;
mod examples;
mod fuzz;
mod guests;

use crate::guests::guests;
pub(crate) use crate::guests::guests_out;
#[cfg(test)]
mod tidy;

#[derive(Parser)]
#[command(about = "Project automation for the function engine")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Build the guests in guests/ for wasm32-wasip1.
    Guests,
    /// The whole test suite: build the guests, run every crate's tests, then the
    /// conformance suites (the WASI test suites, the engine's contract suite and the hostile inputs).
    Test,
    /// Run conformance suites through the engine and write target/conformance/report.{json,md}.
    Conformance {
        /// Folders holding suites (default: ../shared/conformance, conformance/engine and
        /// conformance/hostile).
        paths: Vec<PathBuf>,
        /// Run only the cases whose name contains this.
        #[arg(long)]
        filter: Option<String>,
    },
    /// Format check and clippy with -D warnings.
    Lint,
    /// `cargo deny check licenses bans sources` with deny.toml (installs cargo-deny if
    /// missing), then the wasmtime family's advisories (`advisories`).
    Deny,
    /// The wasmtime family's security advisories (xtask/advisories.toml) against the
    /// versions Cargo.lock holds: fails naming each one that affects them.
    Advisories,
    /// Check the Prometheus exposition of fn-telemetry's metrics with `promtool check
    /// metrics` (Debian's prometheus package).
    Promtool,
    /// Run what CI (.ci/run) runs: lint, test, promtool, deny, fuzz (15 s a target).
    Ci,
    /// A release build of `fnd` in target/dist/ with SHA256SUMS and a manifest of versions.
    Dist,
    /// The main job: build the guests and `fnd`, then `fnd serve` on the embedded store
    /// with the example functions deployed (public), printing how to invoke them.
    Serve {
        /// The address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
        /// The server's data folder (default: target/fnd-data in the project).
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Build the guests and run each example function once through `fnd run`.
    Demo,
    /// Measure the engine against naive and bare wasmtime embeddings in one run (criterion,
    /// callgrind, memory, cold starts, `fnd run`, HTTP under wrk); writes
    /// target/bench/report.md and target/bench/latency.png.
    Bench {
        /// Shorter runs, for a quick look (the figures are noisier).
        #[arg(long)]
        quick: bool,
    },
    /// Run the cargo-fuzz targets of fuzz/ (all without TARGET), each for --seconds.
    Fuzz {
        /// deploy_and_invoke, generated_module, handle_result or conformance_spec.
        target: Option<String>,
        /// How long each target runs.
        #[arg(long, default_value_t = 60)]
        seconds: u64,
    },
}

/// The version of cargo-deny installed when it is missing.
const CARGO_DENY_VERSION: &str = "0.20.2";

fn main() -> Result<()> {
    let mut cli = Cli::parse();
    let root = project_root();
    // Paths given on the command line are relative to where it was typed.
    if let Task::Conformance { paths, .. } = &mut cli.task {
        let here = std::env::current_dir()?;
        for path in paths.iter_mut() {
            *path = here.join(&*path);
        }
    }
    std::env::set_current_dir(&root)?;
    match cli.task {
        Task::Guests => guests(&root).map(drop),
        Task::Test => test(&root),
        Task::Conformance { paths, filter } => {
            guests(&root)?;
            conformance(&root, paths, filter.as_deref())
        }
        Task::Lint => lint(),
        Task::Deny => deny().and_then(|()| advisories::check(&root)),
        Task::Advisories => advisories::check(&root),
        Task::Ci => {
            // Keep in step with .ci/run.
            lint()?;
            test(&root)?;
            promtool()?;
            deny()?;
            advisories::check(&root)?;
            fuzz::fuzz(&root, None, 15)
        }
        Task::Promtool => promtool(),
        Task::Dist => dist::dist(&root),
        Task::Serve { listen, data_dir } => {
            guests(&root)?;
            examples::serve(&root, &listen, data_dir)
        }
        Task::Demo => {
            guests(&root)?;
            examples::demo(&root)
        }
        Task::Bench { quick } => {
            guests(&root)?;
            bench::bench(&root, bench::Parts { quick })
        }
        Task::Fuzz { target, seconds } => {
            guests(&root)?;
            fuzz::fuzz(&root, target.as_deref(), seconds)
        }
    }
}

/// The folder holding the workspace's Cargo.toml.
fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the root")
        .to_path_buf()
}

/// The README's test command: guests, every crate's tests, then conformance.
fn test(root: &Path) -> Result<()> {
    guests(root)?;
    cargo(&["test", "--workspace"])?;
    conformance(root, Vec::new(), None)
}

fn lint() -> Result<()> {
    cargo(&["fmt", "--all", "--", "--check"])?;
    cargo(&[
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ])
}

/// Runs the conformance runner (crates/fn-conformance) on `paths`, by default the shared
/// WASI test suites and this repository's engine and hostile-input suites, with the repository's
/// expectations file. Fails when the report is not green.
fn conformance(root: &Path, mut paths: Vec<PathBuf>, filter: Option<&str>) -> Result<()> {
    if paths.is_empty() {
        let shared = root.join("../shared/conformance");
        if !shared.is_dir() {
            bail!(
                "{} is missing: the WASI test suites live in ../shared/conformance beside \
                 the clone; pass the folder as `cargo xtask conformance PATH`",
                shared.display()
            );
        }
        paths = vec![
            shared.canonicalize()?,
            root.join("conformance/engine"),
            root.join("conformance/hostile"),
        ];
    }
    let out = root.join("target/conformance");
    // Build the runner as `cargo test --workspace` builds it (one feature resolution for
    // the whole workspace, so wasmtime is compiled once, not once more for `cargo run`),
    // then run that binary. After `cargo test --workspace` this builds nothing.
    cargo(&["test", "--workspace", "--no-run"])?;
    let runner = target_dir(&cargo_metadata(&["--no-deps"])?)?
        .join("debug")
        .join(format!("fn-conformance{}", std::env::consts::EXE_SUFFIX));
    let mut command = Command::new(&runner);
    command
        .args(&paths)
        .arg("--out")
        .arg(&out)
        .arg("--expectations")
        .arg(root.join("conformance/expectations.toml"))
        .arg("--also-as-components");
    if let Some(filter) = filter {
        command.args(["--filter", filter]);
    }
    println!("$ {command:?}");
    let status = command
        .status()
        .with_context(|| format!("running {}", runner.display()))?;
    match status.code() {
        Some(0) => Ok(()),
        Some(1) => bail!(
            "conformance is not green; see {}",
            out.join("report.md").display()
        ),
        _ => bail!("the conformance runner could not run ({status}); its error is above"),
    }
}

/// `cargo metadata --format-version 1` with `args`, parsed.
pub(crate) fn cargo_metadata(args: &[&str]) -> Result<serde_json::Value> {
    let out = Command::new(cargo_bin())
        .args(["metadata", "--format-version", "1"])
        .args(args)
        .output()
        .context("running cargo metadata")?;
    if !out.status.success() {
        bail!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    serde_json::from_slice(&out.stdout).context("parsing cargo metadata")
}

/// Cargo's build folder in `metadata` (CARGO_TARGET_DIR or `target/`).
pub(crate) fn target_dir(metadata: &serde_json::Value) -> Result<PathBuf> {
    metadata["target_directory"]
        .as_str()
        .map(PathBuf::from)
        .context("cargo metadata gave no target_directory")
}

/// Installs `krate` at `version` from crates.io when `cargo SUBCOMMAND` is missing.
pub(crate) fn ensure_cargo_tool(subcommand: &str, krate: &str, version: &str) -> Result<()> {
    let installed = Command::new(cargo_bin())
        .args([subcommand, "--version"])
        .output()
        .is_ok_and(|out| out.status.success());
    if !installed {
        println!("{krate} is not installed; installing {version} from crates.io");
        cargo(&["install", "--locked", krate, "--version", version])?;
    }
    Ok(())
}

/// The dependency policy: licenses, bans and sources, as deny.toml sets them.
fn deny() -> Result<()> {
    ensure_cargo_tool("deny", "cargo-deny", CARGO_DENY_VERSION)?;
    // The duplicate-version warnings (wasmtime's own) stay; their graphs are noise.
    cargo(&[
        "deny",
        "check",
        "--hide-inclusion-graph",
        "licenses",
        "bans",
        "sources",
    ])
}

/// The exposition a `/metrics` endpoint serves (fn-telemetry's example), through
/// `promtool check metrics`: names, types, units and help as Prometheus wants them.
fn promtool() -> Result<()> {
    let exposition = Command::new(cargo_bin())
        .args([
            "run",
            "-q",
            "-p",
            "fn-telemetry",
            "--example",
            "prometheus_exposition",
        ])
        .output()
        .context("running the prometheus_exposition example")?;
    if !exposition.status.success() {
        bail!(
            "the prometheus_exposition example failed: {}",
            String::from_utf8_lossy(&exposition.stderr)
        );
    }
    println!("$ promtool check metrics < (the prometheus_exposition example)");
    let mut check = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .context("running promtool (apt-get install prometheus)")?;
    std::io::Write::write_all(
        &mut check.stdin.take().context("promtool's stdin")?,
        &exposition.stdout,
    )?;
    let status = check.wait()?;
    if !status.success() {
        bail!("promtool check metrics failed: {status}");
    }
    Ok(())
}

pub(crate) fn cargo(args: &[&str]) -> Result<()> {
    println!("$ cargo {}", args.join(" "));
    let status = Command::new(cargo_bin()).args(args).status()?;
    if !status.success() {
        bail!("cargo {} failed: {status}", args.join(" "));
    }
    Ok(())
}

pub(crate) fn cargo_bin() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}
