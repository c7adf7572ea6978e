//! Tidy: every guest in guests/ is run by some test (a module by `guest("name")`, a
//! component-only guest by `component("name")`).

use super::{crates, files_under};
use crate::project_root;

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
    let mut components = Vec::new();
    // The other members build one module each, named after the package (or its `[[bin]]`).
    for member in std::fs::read_dir(root.join("guests")).unwrap().flatten() {
        let Ok(manifest) = std::fs::read_to_string(member.path().join("Cargo.toml")) else {
            continue;
        };
        if member.file_name() == "commands" {
            continue;
        }
        let name = |key: &str| {
            manifest
                .split(key)
                .nth(1)
                .and_then(|rest| rest.split("name = \"").nth(1))
                .and_then(|rest| rest.split('"').next())
                .map(str::to_owned)
        };
        let Some(package) = name("[[bin]]").or_else(|| name("[package]")) else {
            continue;
        };
        // A component only (built for wasm32-wasip2 alone) is read by `component`, under
        // its package's name.
        if manifest.contains("wstd") || manifest.contains("wasip2") {
            components.push(package);
        } else {
            guests.push(package.replace('-', "_"));
        }
    }
    assert!(guests.iter().any(|g| g == "handle_upper"), "{guests:?}");
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
    for component in components {
        assert!(
            sources.contains(&format!("component(\"{component}\")")),
            "component guest `{component}` has no test that runs it"
        );
    }
}
