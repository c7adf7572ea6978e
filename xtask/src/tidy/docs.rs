//! Tidy tests that tie the docs to the code where a drift is mechanical: the layering
//! diagram against `cargo metadata`, the files the architecture's tables name, the ABIs
//! docs/abi.md describes.

use crate::project_root;

/// The arrows of docs/architecture.md's layering diagram, as drawn: a line `A ─▶ B, C ─▶
/// D` says A depends on B and C, and each of B and C on D. Crates marked `*` (not yet
/// written) and notes in parentheses are left out.
fn drawn_arrows(doc: &str) -> Vec<(String, String)> {
    let start = doc.find("Layering").expect("the layering section");
    let block = doc[start..]
        .split("```")
        .nth(1)
        .expect("the diagram's code block");
    let mut arrows = Vec::new();
    for line in block.lines().filter(|line| line.contains('▶')) {
        let mut line = line.to_owned();
        while let (Some(open), Some(close)) = (line.find('('), line.find(')')) {
            if close < open {
                break;
            }
            line.replace_range(open..=close, "");
        }
        let levels: Vec<Vec<String>> = line
            .split("─▶")
            .map(|level| {
                level
                    .split(',')
                    .map(str::trim)
                    .filter(|name| !name.is_empty() && !name.ends_with('*'))
                    .map(str::to_owned)
                    .collect()
            })
            .collect();
        for pair in levels.windows(2) {
            for from in &pair[0] {
                for to in &pair[1] {
                    arrows.push((from.clone(), to.clone()));
                }
            }
        }
    }
    arrows
}

/// docs/architecture.md's diagram says what the code does: each arrow drawn is a normal
/// dependency in `cargo metadata`, and each normal dependency between workspace crates
/// is drawn (directly, or through the crates the diagram passes it by).
#[test]
fn the_layering_diagram_matches_cargo_metadata() {
    let doc = std::fs::read_to_string(project_root().join("docs/architecture.md")).unwrap();
    let drawn = drawn_arrows(&doc);
    let metadata = crate::cargo_metadata(&["--no-deps"]).unwrap();
    let packages = metadata["packages"].as_array().unwrap();
    let names: std::collections::BTreeSet<String> = packages
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_owned())
        .collect();
    let mut real = std::collections::BTreeSet::new();
    for package in packages {
        let from = package["name"].as_str().unwrap();
        for dep in package["dependencies"].as_array().unwrap() {
            let to = dep["name"].as_str().unwrap();
            if names.contains(to) && dep["kind"].is_null() {
                real.insert((from.to_owned(), to.to_owned()));
            }
        }
    }
    let false_arrows: Vec<_> = drawn
        .iter()
        .filter(|arrow| !real.contains(*arrow))
        .collect();
    assert!(
        false_arrows.is_empty(),
        "docs/architecture.md draws dependencies the code does not have: {false_arrows:?}"
    );
    let reaches = |from: &str, to: &str| {
        let mut seen = vec![from.to_owned()];
        let mut at = 0;
        while at < seen.len() {
            let here = seen[at].clone();
            for (a, b) in &drawn {
                if *a == here && !seen.contains(b) {
                    seen.push(b.clone());
                }
            }
            at += 1;
        }
        seen.iter().any(|name| name == to)
    };
    let undrawn: Vec<_> = real.iter().filter(|(a, b)| !reaches(a, b)).collect();
    assert!(
        undrawn.is_empty(),
        "docs/architecture.md's diagram lacks these dependencies: {undrawn:?}"
    );
}

/// Each file a table of docs/architecture.md names (`runtime.rs`, `abi/call.rs`) exists
/// in the crate whose section holds the table.
#[test]
fn the_files_the_architecture_tables_name_exist() {
    let doc = std::fs::read_to_string(project_root().join("docs/architecture.md")).unwrap();
    let mut krate = None;
    let mut missing = Vec::new();
    let mut named = 0;
    for line in doc.lines() {
        if let Some(rest) = line.strip_prefix("**")
            && let Some(end) = rest.find("**")
            && rest[..end].starts_with("fn-")
        {
            krate = Some(rest[..end].to_owned());
        }
        let Some(first_cell) = line.strip_prefix("| ").and_then(|l| l.split(" |").next()) else {
            continue;
        };
        let Some(krate) = &krate else {
            continue;
        };
        for file in first_cell.split('`').skip(1).step_by(2) {
            if !file.ends_with(".rs") {
                continue;
            }
            named += 1;
            let path = project_root()
                .join("crates")
                .join(krate)
                .join("src")
                .join(file);
            if !path.is_file() {
                missing.push(format!("{krate}: {file}"));
            }
        }
    }
    assert!(
        named >= 10,
        "the file tables were not found ({named} files)"
    );
    assert!(
        missing.is_empty(),
        "docs/architecture.md names files that do not exist: {missing:?}"
    );
}

/// docs/abi.md has one section per ABI the runtime detects: its `##` headings before
/// `## Limits` are fn-runtime's `Abi` variants (`WASI command` is `WasiCommand`).
#[test]
fn abi_md_describes_each_abi_variant() {
    let source =
        std::fs::read_to_string(project_root().join("crates/fn-runtime/src/abi.rs")).unwrap();
    let body = source
        .split("pub enum Abi {")
        .nth(1)
        .and_then(|rest| rest.split("\n}").next())
        .expect("fn-runtime's `pub enum Abi`");
    let mut variants: Vec<String> = body
        .lines()
        .filter_map(|line| line.strip_prefix("    "))
        .filter(|line| line.starts_with(|c: char| c.is_ascii_uppercase()))
        .map(|line| {
            line.split(|c: char| !c.is_ascii_alphanumeric())
                .next()
                .unwrap()
                .to_ascii_lowercase()
        })
        .collect();
    let doc = std::fs::read_to_string(project_root().join("docs/abi.md")).unwrap();
    let abis = doc.split("\n## Limits").next().unwrap();
    let mut sections: Vec<String> = abis
        .lines()
        .filter_map(|line| line.strip_prefix("## "))
        .map(|heading| {
            heading
                .split('(')
                .next()
                .unwrap()
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .collect::<String>()
                .to_ascii_lowercase()
        })
        .collect();
    variants.sort();
    sections.sort();
    assert_eq!(
        sections, variants,
        "docs/abi.md's ABI sections against `Abi`'s variants"
    );
}
