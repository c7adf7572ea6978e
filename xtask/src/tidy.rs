//! Repository hygiene, checked by `cargo test`: what reviewers would otherwise repeat.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{cargo_bin, project_root};

fn files_under(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n == "target") {
                continue;
            }
            files_under(&path, ext, out);
        } else if path.extension().is_some_and(|e| e == ext) {
            out.push(path);
        }
    }
}

fn crates() -> Vec<PathBuf> {
    let mut crates: Vec<_> = std::fs::read_dir(project_root().join("crates"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("Cargo.toml").exists())
        .collect();
    crates.push(project_root().join("xtask"));
    crates.sort();
    crates
}

#[test]
fn layering_keeps_wasmtime_out_of_the_lower_crates() {
    // DESIGN.md: fn-core, fn-cache, fn-limits and fn-telemetry never depend on wasmtime.
    for name in [
        "fn-core",
        "fn-cache",
        "fn-limits",
        "fn-telemetry",
        "fn-registry",
    ] {
        if !project_root().join("crates").join(name).exists() {
            continue;
        }
        let output = Command::new(cargo_bin())
            .current_dir(project_root())
            .args(["tree", "-q", "-e", "normal", "--prefix", "none", "-p", name])
            .output()
            .unwrap();
        assert!(output.status.success(), "cargo tree -p {name} failed");
        let tree = String::from_utf8_lossy(&output.stdout);
        assert!(
            !tree.lines().any(|l| l.starts_with("wasmtime")),
            "{name} depends on wasmtime (cargo tree -p {name} -i wasmtime)"
        );
    }
}

#[test]
fn every_crate_inherits_the_workspace_lints() {
    for dir in crates() {
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
        assert!(
            manifest.contains("[lints]\nworkspace = true"),
            "{} lacks `[lints] workspace = true`",
            dir.display()
        );
    }
}

#[test]
fn every_crate_root_opens_with_docs() {
    for dir in crates() {
        for root in ["src/lib.rs", "src/main.rs"] {
            let path = dir.join(root);
            if let Ok(text) = std::fs::read_to_string(&path) {
                assert!(
                    text.starts_with("//!"),
                    "{} must start with `//!`",
                    path.display()
                );
            }
        }
    }
}

#[test]
fn every_guest_has_a_test() {
    let root = project_root();
    let mut guests: Vec<String> = std::fs::read_dir(root.join("guests/commands/src/bin"))
        .unwrap()
        .flatten()
        .filter_map(|e| {
            e.path()
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
        })
        .collect();
    guests.push("handle_upper".into());
    let mut tests = Vec::new();
    for dir in crates() {
        files_under(&dir.join("tests"), "rs", &mut tests);
    }
    let sources: String = tests
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    for guest in guests {
        assert!(
            sources.contains(&format!("guest(\"{guest}\")")),
            "guest `{guest}` has no test that runs it"
        );
    }
}

#[test]
fn ci_runs_the_readmes_commands() {
    let root = crate::project_root();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let block = readme
        .split("```sh\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("README.md opens with a sh block of commands");
    let commands: Vec<&str> = block
        .lines()
        .map(|line| line.split('#').next().unwrap_or_default().trim())
        .filter(|line| !line.is_empty())
        .collect();
    assert_eq!(
        commands.len(),
        2,
        "the main job and the test suite: {commands:?}"
    );
    let ci = std::fs::read_to_string(root.join(".ci/run")).unwrap();
    assert!(
        ci.lines().any(|line| line.trim() == commands[1]),
        ".ci/run must run the README's test command `{}`",
        commands[1]
    );
    let xtask = std::fs::read_to_string(root.join("xtask/src/main.rs")).unwrap();
    for step in ["cargo xtask lint", "cargo xtask test", "cargo xtask deny"] {
        assert!(ci.contains(step), ".ci/run must run `{step}`");
    }
    assert!(
        xtask.contains("lint()?;\n            test(&root)?;\n            deny()"),
        "`cargo xtask ci` must run what .ci/run runs: lint, test, deny"
    );
}
