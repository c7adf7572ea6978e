//! Repository hygiene, checked by `cargo test`: what reviewers would otherwise repeat.

use crate::project_root;
use std::path::{Path, PathBuf};

mod docs;
mod guests;

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

/// The layering of docs/architecture.md: for each workspace crate, the workspace crates
/// it may depend on (normal and build dependencies; tests may use more). A crate missing
/// here fails the test, so a new crate gets its place in the layering when it is added.
const LAYERS: &[(&str, &[&str])] = &[
    // The vocabulary: nothing of the workspace.
    ("fn-core", &[]),
    // The layer crates: fn-core only, never each other (no sideways arrows).
    ("fn-runtime", &["fn-core"]),
    ("fn-cache", &["fn-core"]),
    ("fn-limits", &["fn-core"]),
    ("fn-telemetry", &["fn-core"]),
    // The facade composes the layer crates.
    (
        "fn-engine",
        &[
            "fn-core",
            "fn-runtime",
            "fn-cache",
            "fn-limits",
            "fn-telemetry",
        ],
    ),
    // Stores and host services never depend on the engine.
    ("fn-registry", &["fn-core"]),
    ("fn-host", &["fn-core"]),
    // The programs at the top.
    (
        "fn-server",
        &[
            "fn-core",
            "fn-engine",
            "fn-registry",
            "fn-host",
            "fn-cache",
            "fn-limits",
            "fn-telemetry",
        ],
    ),
    ("fn-conformance", &["fn-core", "fn-engine", "fn-registry"]),
    // The benchmarks measure the engine against bare wasmtime, at the top with the
    // programs; they load the guests at run time, as tests do.
    (
        "fn-bench",
        &[
            "fn-core",
            "fn-engine",
            "fn-registry",
            "fn-telemetry",
            "fn-guests",
        ],
    ),
    // The fuzz targets' bodies, at the top with the programs they drive.
    (
        "fn-fuzz",
        &["fn-core", "fn-engine", "fn-registry", "fn-conformance"],
    ),
    // The guest SDK: no host crate at all.
    ("fn-guest", &[]),
    // Test support, a dev-dependency only.
    ("fn-guests", &[]),
    ("xtask", &[]),
];

/// Crates that must never have wasmtime among their dependencies, however indirectly: a
/// platform team takes them alone (DESIGN.md).
const WITHOUT_WASMTIME: &[&str] = &[
    "fn-core",
    "fn-cache",
    "fn-limits",
    "fn-telemetry",
    "fn-registry",
    "fn-host",
    "fn-guest",
];

/// Whether a `cargo metadata` dependency entry is a normal or build dependency.
fn is_runtime_dep(dep: &serde_json::Value) -> bool {
    dep["kind"].is_null() || dep["kind"] == "build"
}

#[test]
fn crates_depend_only_downward_as_the_layering_says() {
    let metadata = crate::cargo_metadata(&["--no-deps"]).unwrap();
    let packages = metadata["packages"].as_array().unwrap();
    let members: Vec<&str> = packages
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    let mut problems = Vec::new();
    for package in packages {
        let name = package["name"].as_str().unwrap();
        let Some((_, allowed)) = LAYERS.iter().find(|(crate_name, _)| *crate_name == name) else {
            problems.push(format!(
                "{name} has no place in the layering (xtask/src/tidy.rs LAYERS, docs/architecture.md)"
            ));
            continue;
        };
        for dep in package["dependencies"].as_array().unwrap() {
            let dep_name = dep["name"].as_str().unwrap();
            if !members.contains(&dep_name) {
                continue;
            }
            if dep_name == "fn-guests" && !is_runtime_dep(dep) {
                continue;
            }
            if is_runtime_dep(dep) && !allowed.contains(&dep_name) {
                problems.push(format!(
                    "{name} depends on {dep_name}, against the layering"
                ));
            }
            if dep_name == "fn-guests" && name != "fn-bench" {
                problems.push(format!("{name} depends on fn-guests other than for tests"));
            }
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn the_lower_crates_never_reach_wasmtime() {
    let metadata = crate::cargo_metadata(&[]).unwrap();
    let packages = metadata["packages"].as_array().unwrap();
    let name_of = |id: &str| -> String {
        packages
            .iter()
            .find(|p| p["id"] == id)
            .map(|p| p["name"].as_str().unwrap().to_string())
            .unwrap_or_default()
    };
    let nodes = metadata["resolve"]["nodes"].as_array().unwrap();
    let runtime_deps = |id: &str| -> Vec<String> {
        nodes
            .iter()
            .find(|n| n["id"] == id)
            .map(|n| {
                n["deps"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|d| {
                        d["dep_kinds"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .any(is_runtime_dep)
                    })
                    .map(|d| d["pkg"].as_str().unwrap().to_string())
                    .collect()
            })
            .unwrap_or_default()
    };
    for name in WITHOUT_WASMTIME {
        let Some(root) = packages.iter().find(|p| p["name"] == *name) else {
            continue; // not written yet
        };
        let mut seen = std::collections::HashSet::new();
        let mut todo = vec![root["id"].as_str().unwrap().to_string()];
        while let Some(id) = todo.pop() {
            if !seen.insert(id.clone()) {
                continue;
            }
            let dep_name = name_of(&id);
            assert!(
                !dep_name.starts_with("wasmtime") && !dep_name.starts_with("cranelift"),
                "{name} reaches {dep_name} (cargo tree -p {name} -i {dep_name})"
            );
            todo.extend(runtime_deps(&id));
        }
        assert!(
            seen.len() > 1 || *name == "fn-guest",
            "{name} has no dependencies?"
        );
    }
}

/// One source for each dependency's version (STYLE.md §1): every crate names each
/// dependency, internal or external, as `workspace = true` (adding features if it needs
/// them), so a version is chosen once, in the workspace's `[workspace.dependencies]`.
#[test]
fn every_dependency_comes_from_the_workspace_table() {
    let mut pinned = Vec::new();
    for dir in crates() {
        let text = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
        let manifest: toml::Table = text.parse().unwrap();
        let mut tables: Vec<(String, &toml::Table)> = Vec::new();
        for section in ["dependencies", "dev-dependencies", "build-dependencies"] {
            if let Some(table) = manifest.get(section).and_then(toml::Value::as_table) {
                tables.push((section.to_owned(), table));
            }
        }
        if let Some(targets) = manifest.get("target").and_then(toml::Value::as_table) {
            for (target, value) in targets {
                for section in ["dependencies", "dev-dependencies", "build-dependencies"] {
                    if let Some(table) = value.get(section).and_then(toml::Value::as_table) {
                        tables.push((format!("target.{target}.{section}"), table));
                    }
                }
            }
        }
        for (section, table) in tables {
            for (name, spec) in table {
                let field = |key: &str| spec.as_table().and_then(|t| t.get(key));
                let inherited = field("workspace").and_then(toml::Value::as_bool) == Some(true);
                // A crate naming itself, for its own test features.
                let itself = field("path").and_then(toml::Value::as_str) == Some(".");
                if !inherited && !itself {
                    pinned.push(format!("{}: [{section}] {name}", dir.display()));
                }
            }
        }
    }
    assert!(
        pinned.is_empty(),
        "name these in the root Cargo.toml's [workspace.dependencies] and inherit them \
         (`name = {{ workspace = true, features = [...] }}`): {pinned:#?}"
    );
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
    for step in [
        "cargo xtask lint",
        "cargo xtask test",
        "cargo xtask promtool",
        "cargo xtask deny",
    ] {
        assert!(ci.contains(step), ".ci/run must run `{step}`");
    }
    assert!(
        xtask.contains(
            "lint()?;\n            test(&root)?;\n            promtool()?;\n            deny()"
        ),
        "`cargo xtask ci` must run what .ci/run runs: lint, test, promtool, deny"
    );
}

/// A source file longer than this says at its top why it is one file.
const LONG_FILE_LINES: usize = 400;

#[test]
fn no_source_file_is_long_without_a_reason_at_its_top() {
    let root = project_root();
    let mut sources = Vec::new();
    for dir in ["crates", "xtask", "guests"] {
        files_under(&root.join(dir), "rs", &mut sources);
    }
    let mut long = Vec::new();
    for path in sources {
        let text = std::fs::read_to_string(&path).unwrap();
        let lines = text.lines().count();
        let explained = text
            .lines()
            .take(20)
            .any(|line| line.starts_with("//! Why one long file:"));
        if lines > LONG_FILE_LINES && !explained {
            long.push(format!("{} ({lines} lines)", path.display()));
        }
    }
    assert!(
        long.is_empty(),
        "split these, or say why each is one file in a `//! Why one long file:` line in \
         its first 20 lines: {long:#?}"
    );
}
