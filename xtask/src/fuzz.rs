//! `cargo xtask fuzz [TARGET] [--seconds N]`: runs the cargo-fuzz targets of `fuzz/` (all
//! of them without TARGET), each for N seconds, from a corpus seeded with the guests,
//! the conformance modules and specifications.
//!
//! cargo-fuzz passes the compiler flags of a nightly toolchain (`-Z` sanitizer and
//! coverage options); the pinned stable toolchain takes them with `RUSTC_BOOTSTRAP=1`,
//! which this sets for cargo-fuzz's build only. AddressSanitizer is on (cargo-fuzz's
//! default): wasmtime's unsafe code runs instrumented.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::{cargo_bin, cargo_metadata, target_dir};

/// The targets, as `fuzz/Cargo.toml` names them.
pub(crate) const TARGETS: [&str; 4] = [
    "deploy_and_invoke",
    "generated_module",
    "handle_result",
    "conformance_spec",
];

/// The version of cargo-fuzz installed when it is missing.
const CARGO_FUZZ_VERSION: &str = "0.13.2";

pub(crate) fn fuzz(root: &Path, target: Option<&str>, seconds: u64) -> Result<()> {
    let targets: Vec<&str> = match target {
        Some(target) if TARGETS.contains(&target) => vec![target],
        Some(other) => bail!(
            "no fuzz target `{other}`; the targets: {}",
            TARGETS.join(", ")
        ),
        None => TARGETS.to_vec(),
    };
    crate::ensure_cargo_tool("fuzz", "cargo-fuzz", CARGO_FUZZ_VERSION)?;
    // Beside the workspace's own build, never mixed with it: instrumented code.
    let build = target_dir(&cargo_metadata(&["--no-deps"])?)?.join("fuzz");
    for target in targets {
        let corpus = build.join("corpus").join(target);
        std::fs::create_dir_all(&corpus)?;
        let seeds = seed(root, target, &corpus)?;
        println!(
            "== fuzz {target} for {seconds} s ({seeds} seeds in {})",
            corpus.display()
        );
        let status = Command::new(cargo_bin())
            .env("RUSTC_BOOTSTRAP", "1")
            .args(["fuzz", "run", "--fuzz-dir"])
            .arg(root.join("fuzz"))
            .arg("--target-dir")
            .arg(&build)
            .arg(target)
            .arg(&corpus)
            .arg("--")
            .arg(format!("-max_total_time={seconds}"))
            // A slow input is a finding too, but only a real hang: compiles take time.
            .arg("-timeout=60")
            .arg("-rss_limit_mb=4096")
            .status()
            .context("running cargo fuzz")?;
        if !status.success() {
            bail!(
                "fuzz target `{target}` failed ({status}): the input is in {}; once fixed, \
                 copy it into fuzz/regressions/{target}/ so `cargo test -p fn-fuzz` keeps it fixed",
                root.join("fuzz/artifacts").join(target).display()
            );
        }
    }
    Ok(())
}

/// Copies `target`'s seeds and its regressions into `corpus`; how many there are.
fn seed(root: &Path, target: &str, corpus: &Path) -> Result<usize> {
    let mut seeds: Vec<PathBuf> = files(&root.join("fuzz/regressions").join(target));
    match target {
        "deploy_and_invoke" => {
            seeds.extend(files(&root.join("conformance/engine/modules")));
            seeds.extend(files(&root.join("conformance/hostile/modules")));
            seeds.extend(
                files(&crate::guests_out(root))
                    .into_iter()
                    .filter(|p| !p.to_string_lossy().contains("bomb_")),
            );
        }
        "conformance_spec" => {
            seeds.push(root.join("conformance/expectations.toml"));
            seeds.extend(files(&root.join("conformance/engine")));
            seeds.extend(files(&root.join("conformance/hostile")));
        }
        "generated_module" => {
            // wasm-smith makes more of a few kilobytes of choices than of libFuzzer's
            // first short inputs: seeds of 4 KiB (any bytes will do; these are fixed).
            for seed in 0..8u64 {
                let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
                let bytes: Vec<u8> = (0..4096)
                    .map(|_| {
                        state ^= state << 13;
                        state ^= state >> 7;
                        state ^= state << 17;
                        state.to_le_bytes()[0]
                    })
                    .collect();
                std::fs::write(corpus.join(format!("seed-{seed}")), bytes)?;
            }
        }
        "handle_result" => {
            for (ptr, len) in [(1024u64, 8u64), (0, 1025), (65_529, 8), (0, 0)] {
                let path = corpus.join(format!("seed-{ptr}-{len}"));
                std::fs::write(path, ((len << 32) | ptr).to_le_bytes())?;
            }
        }
        _ => {}
    }
    for seed in &seeds {
        let name = seed
            .file_name()
            .context("a seed without a file name")?
            .to_string_lossy();
        std::fs::copy(seed, corpus.join(format!("seed-{name}")))?;
    }
    Ok(std::fs::read_dir(corpus)?.count())
}

/// The files directly in `dir`, none when it does not exist.
fn files(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default()
}
