//! `cargo xtask guests`: the guests in guests/ built for `wasm32-wasip1`, the command
//! guests again for `wasm32-wasip2` (as components) with the wasi:http ones, and the
//! compile bombs beside them;
//! each target added to the toolchain when it is missing.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::{bombs, cargo_bin};

/// Where `cargo xtask guests` leaves the `.wasm` files; tests read them from here.
pub(crate) fn guests_out(root: &Path) -> PathBuf {
    root.join("guests/target/wasm32-wasip1/release")
}

/// Where the command guests built for `wasm32-wasip2` (WASI preview 2 components) are.
pub(crate) fn components_out(root: &Path) -> PathBuf {
    root.join("guests/target/wasm32-wasip2/release")
}

/// The guests built only as `wasm32-wasip2` components: the wasi:http functions and
/// those importing interfaces preview 1 has not.
const COMPONENTS_ONLY: [&str; 4] = ["config-reader", "http-hello", "http-routes", "http-silent"];

pub(crate) fn guests(root: &Path) -> Result<Vec<PathBuf>> {
    let dir = root.join("guests");
    // The guests' own target folder, even when CARGO_TARGET_DIR points elsewhere, so
    // that tests find them at a fixed place.
    let build = |target: &str, only: &[&str]| -> Result<()> {
        ensure_target(target)?;
        let status = Command::new(cargo_bin())
            .current_dir(&dir)
            .args(["build", "--release", "--target", target])
            .args(only)
            .arg("--target-dir")
            .arg(dir.join("target"))
            .status()
            .context("running cargo build for the guests")?;
        if !status.success() {
            bail!(
                "building the guests for {target} failed ({status}); is the target \
                 installed? `rustup target add {target}`"
            );
        }
        Ok(())
    };
    // Every guest but the components-only ones.
    let mut p1 = vec!["--workspace"];
    for name in COMPONENTS_ONLY {
        p1.extend(["--exclude", name]);
    }
    build("wasm32-wasip1", &p1)?;
    // The command programs again as preview 2 components (what today's toolchains
    // emit), and the components-only guests.
    let mut p2 = vec!["-p", "commands"];
    for name in COMPONENTS_ONLY {
        p2.extend(["-p", name]);
    }
    build("wasm32-wasip2", &p2)?;
    let bombs = bombs::write(&guests_out(root)).context("writing the compile bombs")?;
    println!("wrote {bombs} compile bombs beside them");
    let mut built: Vec<PathBuf> = std::fs::read_dir(guests_out(root))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "wasm"))
        .filter(|path| {
            !path
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("bomb_"))
        })
        .collect();
    built.sort();
    println!(
        "built {} guests in {}, and the commands as components in {}",
        built.len(),
        guests_out(root).display(),
        components_out(root).display()
    );
    Ok(built)
}

/// Adds `target` to the pinned toolchain (a no-op when it is there), so the README's
/// commands work on a fresh machine.
fn ensure_target(target: &str) -> Result<()> {
    let Ok(output) = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
    else {
        // No rustup: the toolchain is managed some other way; let cargo report.
        return Ok(());
    };
    if String::from_utf8_lossy(&output.stdout)
        .lines()
        .any(|line| line.trim() == target)
    {
        return Ok(());
    }
    let status = Command::new("rustup")
        .args(["target", "add", target])
        .status()?;
    if !status.success() {
        bail!("`rustup target add {target}` failed: {status}");
    }
    Ok(())
}
