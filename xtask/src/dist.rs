//! `cargo xtask dist`: the release build of `fnd`, with its checksums and a manifest of
//! what went into it.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::{cargo, cargo_metadata, target_dir};

/// The package and binary shipped.
const PACKAGE: &str = "fn-server";
const BINARY: &str = "fnd";
/// The cargo profile it is built with (Cargo.toml).
const PROFILE: &str = "release-dist";

/// Builds `fnd` with the `release-dist` profile, then writes `target/dist/fnd-VERSION-TARGET/` holding the
/// binary, `manifest.json` (versions, commit, toolchain) and `SHA256SUMS` (in the format
/// `sha256sum -c` reads), and checks that the copied binary runs.
pub(crate) fn dist(root: &Path) -> Result<()> {
    cargo(&[
        "build",
        "--profile",
        PROFILE,
        "--locked",
        "-p",
        PACKAGE,
        "--bin",
        BINARY,
    ])?;
    let host = rustc_host()?;
    let metadata = cargo_metadata(&["--locked", "--filter-platform", &host.triple])?;
    let packages = Packages::new(&metadata)?;
    let server = packages.workspace_member(PACKAGE)?;
    let version = server.version.clone();
    let crates = packages.linked_into(&server.id, &metadata)?;
    let wasmtime = crates
        .iter()
        .find(|p| p.name == "wasmtime")
        .map(|p| p.version.clone())
        .context("wasmtime is not among fnd's dependencies")?;

    let target_dir = target_dir(&metadata)?;
    let exe = format!("{BINARY}{}", std::env::consts::EXE_SUFFIX);
    let built = target_dir.join(PROFILE).join(&exe);
    let out = root
        .join("target/dist")
        .join(format!("{BINARY}-{version}-{}", host.triple));
    if out.exists() {
        std::fs::remove_dir_all(&out)?;
    }
    std::fs::create_dir_all(&out)?;
    let shipped = out.join(&exe);
    std::fs::copy(&built, &shipped)
        .with_context(|| format!("copying {} into {}", built.display(), out.display()))?;

    // The copy must run and say its version.
    let said = Command::new(&shipped)
        .arg("--version")
        .output()
        .with_context(|| format!("running {} --version", shipped.display()))?;
    let said = String::from_utf8_lossy(&said.stdout).trim().to_string();
    if !said.ends_with(&version) {
        bail!("{BINARY} --version said {said:?}, expected version {version}");
    }

    let (commit, dirty) = git_commit(root);
    let manifest = json!({
        "name": BINARY,
        "version": version,
        "package": PACKAGE,
        "target": host.triple,
        "profile": PROFILE,
        "rustc": host.rustc,
        "git": { "commit": commit, "dirty": dirty },
        "wasmtime": wasmtime,
        "crates": crates
            .iter()
            .map(|p| json!({ "name": p.name, "version": p.version, "source": p.source }))
            .collect::<Vec<_>>(),
    });
    let manifest_path = out.join("manifest.json");
    std::fs::write(
        &manifest_path,
        serde_json::to_string_pretty(&manifest)? + "\n",
    )?;

    let mut sums = String::new();
    for path in [&shipped, &manifest_path] {
        let bytes = std::fs::read(path)?;
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        sums.push_str(&format!("{}  {name}\n", hex(&Sha256::digest(&bytes))));
    }
    std::fs::write(out.join("SHA256SUMS"), &sums)?;

    println!(
        "{said}: {} crates, wasmtime {wasmtime}, commit {commit}{}",
        crates.len(),
        if dirty { " (dirty)" } else { "" }
    );
    println!("{}", out.display());
    print!("{sums}");
    Ok(())
}

struct Host {
    triple: String,
    rustc: String,
}

fn rustc_host() -> Result<Host> {
    let out = Command::new("rustc")
        .arg("-vV")
        .output()
        .context("running rustc -vV")?;
    let text = String::from_utf8_lossy(&out.stdout);
    let field = |name: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(name))
            .map(|v| v.trim().to_string())
    };
    Ok(Host {
        triple: field("host:").context("rustc -vV gave no host")?,
        rustc: text.lines().next().unwrap_or_default().to_string(),
    })
}

/// One package of the build graph.
#[derive(Clone)]
struct Package {
    id: String,
    name: String,
    version: String,
    /// `crates.io`, or `workspace` for this repository's crates.
    source: String,
}

struct Packages {
    by_id: HashMap<String, Package>,
}

impl Packages {
    fn new(metadata: &Value) -> Result<Packages> {
        let mut by_id = HashMap::new();
        for package in metadata["packages"]
            .as_array()
            .context("cargo metadata gave no packages")?
        {
            let text = |field: &str| package[field].as_str().unwrap_or_default().to_string();
            let source = match package["source"].as_str() {
                None => "workspace".to_string(),
                Some(s) if s.contains("crates.io-index") => "crates.io".to_string(),
                Some(other) => other.to_string(),
            };
            by_id.insert(
                text("id"),
                Package {
                    id: text("id"),
                    name: text("name"),
                    version: text("version"),
                    source,
                },
            );
        }
        Ok(Packages { by_id })
    }

    fn workspace_member(&self, name: &str) -> Result<&Package> {
        self.by_id
            .values()
            .find(|p| p.name == name && p.source == "workspace")
            .with_context(|| format!("no workspace package named {name}"))
    }

    /// Every package linked into `root`'s binary: `root` and its normal (not dev, not
    /// build) dependencies, transitively, sorted by name and version.
    fn linked_into(&self, root: &str, metadata: &Value) -> Result<Vec<Package>> {
        let nodes: HashMap<&str, &Value> = metadata["resolve"]["nodes"]
            .as_array()
            .context("cargo metadata gave no resolve graph")?
            .iter()
            .filter_map(|node| Some((node["id"].as_str()?, node)))
            .collect();
        let mut seen = BTreeSet::new();
        let mut queue = VecDeque::from([root.to_string()]);
        while let Some(id) = queue.pop_front() {
            if !seen.insert(id.clone()) {
                continue;
            }
            let Some(node) = nodes.get(id.as_str()) else {
                continue;
            };
            for dep in node["deps"].as_array().into_iter().flatten() {
                let normal = dep["dep_kinds"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|kind| kind["kind"].is_null());
                if normal && let Some(pkg) = dep["pkg"].as_str() {
                    queue.push_back(pkg.to_string());
                }
            }
        }
        let mut linked: Vec<Package> = seen
            .iter()
            .filter_map(|id| self.by_id.get(id).cloned())
            .collect();
        linked.sort_by(|a, b| (&a.name, &a.version).cmp(&(&b.name, &b.version)));
        Ok(linked)
    }
}

/// The commit checked out and whether the tree has changes; `unknown` without git.
fn git_commit(root: &Path) -> (String, bool) {
    let run = |args: &[&str]| {
        Command::new("git")
            .current_dir(root)
            .args(args)
            .output()
            .ok()
            .filter(|out| out.status.success())
            .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_string())
    };
    let commit = run(&["rev-parse", "HEAD"]).unwrap_or_else(|| "unknown".into());
    let dirty = run(&["status", "--porcelain"]).is_some_and(|s| !s.is_empty());
    (commit, dirty)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_is_lower_case_and_padded() {
        assert_eq!(hex(&[0x00, 0x0f, 0xab]), "000fab");
        assert_eq!(
            hex(&Sha256::digest(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn linked_crates_follow_normal_dependencies_only() {
        let metadata = json!({
            "packages": [
                { "id": "a", "name": "a", "version": "1.0.0", "source": null },
                { "id": "b", "name": "b", "version": "2.0.0",
                  "source": "registry+https://github.com/rust-lang/crates.io-index" },
                { "id": "dev", "name": "dev", "version": "0.1.0", "source": null },
                { "id": "build", "name": "build", "version": "0.1.0", "source": null },
            ],
            "resolve": { "nodes": [
                { "id": "a", "deps": [
                    { "pkg": "b", "dep_kinds": [{ "kind": null }] },
                    { "pkg": "dev", "dep_kinds": [{ "kind": "dev" }] },
                    { "pkg": "build", "dep_kinds": [{ "kind": "build" }] },
                ] },
                { "id": "b", "deps": [] },
            ] }
        });
        let packages = Packages::new(&metadata).unwrap();
        let linked = packages.linked_into("a", &metadata).unwrap();
        let names: Vec<_> = linked
            .iter()
            .map(|p| format!("{}@{} {}", p.name, p.version, p.source))
            .collect();
        assert_eq!(names, ["a@1.0.0 workspace", "b@2.0.0 crates.io"]);
    }
}
