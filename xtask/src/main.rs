//! Project automation, as one binary run through the `cargo xtask` alias.
//! See <https://github.com/matklad/cargo-xtask/>.

#![allow(clippy::print_stdout, reason = "xtask reports to the terminal")]

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};

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
    /// Build the guests, then run the whole test suite.
    Test,
    /// Run what CI runs: fmt check, clippy with -D warnings, guests, tests.
    Ci,
    /// Build the guests and run each example function through the engine.
    Demo,
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let root = project_root();
    std::env::set_current_dir(&root)?;
    match cli.task {
        Task::Guests => guests(&root).map(drop),
        Task::Test => {
            guests(&root)?;
            test()
        }
        Task::Ci => {
            cargo(&["fmt", "--all", "--", "--check"])?;
            cargo(&[
                "clippy",
                "--workspace",
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ])?;
            guests(&root)?;
            test()
        }
        Task::Demo => {
            guests(&root)?;
            demo(&root)
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

/// Where `cargo xtask guests` leaves the `.wasm` files; tests read them from here.
fn guests_out(root: &Path) -> PathBuf {
    root.join("guests/target/wasm32-wasip1/release")
}

fn guests(root: &Path) -> Result<Vec<PathBuf>> {
    ensure_wasm_target()?;
    let dir = root.join("guests");
    // The guests' own target folder, even when CARGO_TARGET_DIR points elsewhere, so
    // that tests find them at a fixed place.
    let status = Command::new(cargo_bin())
        .current_dir(&dir)
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip1",
            "--target-dir",
        ])
        .arg(dir.join("target"))
        .status()
        .context("running cargo build for the guests")?;
    if !status.success() {
        bail!(
            "building the guests failed ({status}); is the target installed? \
             `rustup target add wasm32-wasip1`"
        );
    }
    let mut built: Vec<PathBuf> = std::fs::read_dir(guests_out(root))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "wasm"))
        .collect();
    built.sort();
    println!(
        "built {} guests in {}",
        built.len(),
        guests_out(root).display()
    );
    Ok(built)
}

/// Adds the guests' target to the pinned toolchain (a no-op when it is there), so the
/// README's commands work on a fresh machine.
fn ensure_wasm_target() -> Result<()> {
    let Ok(output) = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
    else {
        // No rustup: the toolchain is managed some other way; let cargo report.
        return Ok(());
    };
    if String::from_utf8_lossy(&output.stdout)
        .lines()
        .any(|line| line.trim() == "wasm32-wasip1")
    {
        return Ok(());
    }
    let status = Command::new("rustup")
        .args(["target", "add", "wasm32-wasip1"])
        .status()?;
    if !status.success() {
        bail!("`rustup target add wasm32-wasip1` failed: {status}");
    }
    Ok(())
}

fn test() -> Result<()> {
    cargo(&["test", "--workspace"])
}

fn demo(root: &Path) -> Result<()> {
    let out = guests_out(root);
    let runs: [(&str, &str); 5] = [
        ("hello", "fn-engine"),
        ("upper", "shout this"),
        ("fib", "25"),
        ("handle_upper", "handle abi"),
        ("exit_code", "7"),
    ];
    for (guest, input) in runs {
        let wasm = out.join(format!("{guest}.wasm"));
        println!("$ echo -n {input:?} | fnd run {}", wasm.display());
        let status = Command::new(cargo_bin())
            .args([
                "run",
                "--quiet",
                "--release",
                "-p",
                "fn-server",
                "--bin",
                "fnd",
                "--",
                "run",
            ])
            .arg(&wasm)
            .args(["--input", input])
            .status()?;
        println!("\n({status})\n");
    }
    Ok(())
}

fn cargo(args: &[&str]) -> Result<()> {
    println!("$ cargo {}", args.join(" "));
    let status = Command::new(cargo_bin()).args(args).status()?;
    if !status.success() {
        bail!("cargo {} failed: {status}", args.join(" "));
    }
    Ok(())
}

fn cargo_bin() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}
