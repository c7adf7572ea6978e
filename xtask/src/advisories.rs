//! `cargo xtask advisories`: the wasmtime family's security advisories
//! (xtask/advisories.toml, a snapshot of the RustSec database) against the versions
//! Cargo.lock holds. Each advisory whose `patched` and `unaffected` requirements leave
//! out a locked version is named, with its aliases and what to move to, and the task
//! fails.

use std::path::Path;

use anyhow::{Context, Result, bail};
use semver::{Version, VersionReq};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct Snapshot {
    advisory: Vec<Advisory>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Advisory {
    pub(crate) id: String,
    pub(crate) package: String,
    #[serde(default)]
    pub(crate) aliases: Vec<String>,
    pub(crate) summary: String,
    #[serde(default)]
    pub(crate) patched: Vec<String>,
    #[serde(default)]
    pub(crate) unaffected: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct Lock {
    package: Vec<Locked>,
}

#[derive(Debug, Deserialize)]
struct Locked {
    name: String,
    version: String,
}

/// Checks Cargo.lock under `root` against xtask/advisories.toml.
pub(crate) fn check(root: &Path) -> Result<()> {
    let read = |path: &Path| {
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
    };
    let snapshot: Snapshot = toml::from_str(&read(&root.join("xtask/advisories.toml"))?)
        .context("xtask/advisories.toml")?;
    let lock: Lock = toml::from_str(&read(&root.join("Cargo.lock"))?).context("Cargo.lock")?;
    let locked: Vec<(String, Version)> = lock
        .package
        .into_iter()
        .map(|p| Ok((p.name, Version::parse(&p.version)?)))
        .collect::<Result<_>>()?;
    let hits = affecting(&snapshot.advisory, &locked)?;
    let packages: std::collections::BTreeSet<&str> = snapshot
        .advisory
        .iter()
        .map(|a| a.package.as_str())
        .collect();
    for package in &packages {
        for (name, version) in locked.iter().filter(|(name, _)| name == package) {
            println!("advisories: {name} {version}");
        }
    }
    if hits.is_empty() {
        println!(
            "advisories: none of the {} known for {} affects the locked versions",
            snapshot.advisory.len(),
            packages.into_iter().collect::<Vec<_>>().join(", ")
        );
        return Ok(());
    }
    for (advisory, version) in &hits {
        println!(
            "{} ({}) affects {} {version}: {}; patched in {}",
            advisory.id,
            advisory.aliases.join(", "),
            advisory.package,
            advisory.summary,
            advisory.patched.join(" or "),
        );
    }
    bail!(
        "{} security advisories affect the locked versions",
        hits.len()
    )
}

/// The advisories of `advisories` that leave out a version in `locked`, with it.
pub(crate) fn affecting<'a>(
    advisories: &'a [Advisory],
    locked: &[(String, Version)],
) -> Result<Vec<(&'a Advisory, Version)>> {
    let mut hits = Vec::new();
    for advisory in advisories {
        let parse = |reqs: &[String]| -> Result<Vec<VersionReq>> {
            reqs.iter()
                .map(|r| VersionReq::parse(r).with_context(|| format!("{}: `{r}`", advisory.id)))
                .collect()
        };
        let safe: Vec<VersionReq> = parse(&advisory.patched)?
            .into_iter()
            .chain(parse(&advisory.unaffected)?)
            .collect();
        for (name, version) in locked {
            if *name == advisory.package && !safe.iter().any(|req| req.matches(version)) {
                hits.push((advisory, version.clone()));
            }
        }
    }
    Ok(hits)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn advisory(patched: &[&str], unaffected: &[&str]) -> Advisory {
        Advisory {
            id: "RUSTSEC-0000-0001".into(),
            package: "wasmtime".into(),
            aliases: vec!["GHSA-xxxx".into()],
            summary: "a test".into(),
            patched: patched.iter().map(|s| (*s).to_owned()).collect(),
            unaffected: unaffected.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    fn locked(version: &str) -> Vec<(String, Version)> {
        vec![
            ("wasmtime".into(), Version::parse(version).unwrap()),
            ("other".into(), Version::parse("0.1.0").unwrap()),
        ]
    }

    #[test]
    fn a_version_outside_every_patched_range_is_named() {
        let line = [advisory(
            &[">= 48.0.12, < 49.0.0", ">= 50.0.1"],
            &["< 20.0.0"],
        )];
        let hits = affecting(&line, &locked("48.0.11")).unwrap();
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].1.to_string(), "48.0.11");
        assert!(affecting(&line, &locked("48.0.12")).unwrap().is_empty());
        assert!(affecting(&line, &locked("50.0.1")).unwrap().is_empty());
        assert!(
            affecting(&line, &locked("19.0.0")).unwrap().is_empty(),
            "unaffected"
        );
        assert_eq!(affecting(&line, &locked("49.0.0")).unwrap().len(), 1);
    }

    #[test]
    fn the_snapshot_reads_and_names_the_locked_wasmtime() {
        let root = crate::project_root();
        check(&root).expect("no advisory affects the locked versions");
    }
}
