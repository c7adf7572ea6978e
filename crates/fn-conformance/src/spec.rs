//! The on-disk format: suites (a folder with a `manifest.json`), their cases (`NAME.wasm`
//! with an optional `NAME.json`), and the repository's expectations file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use fn_core::Config;
use serde::Deserialize;
use serde_json::Value;

/// The largest `manifest.json`, `NAME.json` or expectations file read.
pub const MAX_SPEC_BYTES: u64 = 1 << 20;
/// The largest `input_size` a case may ask for: far over any sane input limit, far under
/// what would strain the runner.
pub const MAX_INPUT_SIZE: u64 = 256 << 20;

/// Reads the regular file at `path`, refusing anything else (a pipe, a device, a
/// folder) and anything over `limit` bytes, so a suite cannot hang or exhaust the runner.
///
/// # Errors
///
/// When the file is not a regular file, is larger than `limit`, or cannot be read.
pub fn read_bounded(path: &Path, limit: u64) -> anyhow::Result<Vec<u8>> {
    use std::io::Read as _;
    let metadata =
        std::fs::metadata(path).with_context(|| format!("reading {}", path.display()))?;
    if !metadata.is_file() {
        bail!("{} is not a regular file", path.display());
    }
    let file = std::fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("reading {}", path.display()))?;
    if bytes.len() as u64 > limit {
        bail!("{} is larger than {limit} bytes", path.display());
    }
    Ok(bytes)
}

fn read_text(path: &Path) -> anyhow::Result<String> {
    String::from_utf8(read_bounded(path, MAX_SPEC_BYTES)?)
        .with_context(|| format!("{} is not UTF-8", path.display()))
}

/// A suite's `manifest.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct Manifest {
    /// The suite's name, as reports and the expectations file know it.
    pub name: String,
    /// The suite's version, free-form.
    #[serde(default)]
    pub version: Option<String>,
    /// Engine settings this suite runs under, as fields of [`Config`] to change from
    /// its defaults (an extension of this project's: the engine suite uses it to make
    /// limits small enough to hit quickly).
    #[serde(default)]
    pub config: Option<serde_json::Map<String, Value>>,
    /// Runs the suite once per entry, each with these changes applied after `config`,
    /// reported as `NAME [VARIANT]` (an extension of this project's: the hostile suite
    /// runs under the pooling and the on-demand allocator).
    #[serde(default)]
    pub variants: Option<std::collections::BTreeMap<String, serde_json::Map<String, Value>>>,
}

impl Manifest {
    /// Reads the manifest in `dir`.
    ///
    /// # Errors
    ///
    /// When it cannot be read or is not a manifest.
    pub fn load(dir: &Path) -> anyhow::Result<Manifest> {
        let path = dir.join("manifest.json");
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        Manifest::parse(&text, &path)
    }

    /// Reads a manifest from `text`; `path` names it in errors.
    ///
    /// # Errors
    ///
    /// When it is not a manifest.
    pub fn parse(text: &str, path: &Path) -> anyhow::Result<Manifest> {
        let manifest: Manifest = serde_json::from_str(text)
            .with_context(|| format!("{} is not a suite manifest", path.display()))?;
        if manifest.name.trim().is_empty() {
            bail!("{}: `name` must not be empty", path.display());
        }
        Ok(manifest)
    }

    /// The engine config this suite runs under: the defaults with the manifest's
    /// changes applied, then those of `variant` (one of [`Manifest::variants`]).
    ///
    /// # Errors
    ///
    /// When the manifest names a field [`Config`] does not have, or gives one a value of
    /// the wrong type, or `variant` is not one of its variants.
    pub fn engine_config(&self, variant: Option<&str>) -> anyhow::Result<Config> {
        let mut config = serde_json::to_value(Config::default())?;
        let variant = match variant {
            None => None,
            Some(name) => Some(
                self.variants
                    .as_ref()
                    .and_then(|variants| variants.get(name))
                    .with_context(|| format!("the manifest has no variant `{name}`"))?,
            ),
        };
        for changes in [self.config.as_ref(), variant].into_iter().flatten() {
            let Value::Object(fields) = &mut config else {
                unreachable!("a struct serializes to an object")
            };
            for (key, value) in changes {
                if !fields.contains_key(key) {
                    bail!("manifest `config` names `{key}`, which the engine config does not have");
                }
                fields.insert(key.clone(), value.clone());
            }
        }
        serde_json::from_value(config).context("manifest `config` is not a valid engine config")
    }
}

/// One case's specification: `NAME.json`. Every field is optional.
///
/// The first six fields are the WASI test suite's format. The others are this project's
/// extensions, used by the engine's own suite to pin its contract.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseSpec {
    /// Arguments after argv\[0\].
    #[serde(default)]
    pub args: Vec<String>,
    /// The environment, exactly.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// A folder, relative to the `.json` file, of which a fresh copy is preopened as `/`.
    #[serde(default)]
    pub root: Option<PathBuf>,
    /// The exit status expected. Default 0.
    #[serde(default)]
    pub exit_code: Option<i32>,
    /// The exact bytes expected on stdout: a command's whole stdout, or what the
    /// function returned when it succeeded. Not checked when absent.
    #[serde(default)]
    pub stdout: Option<String>,
    /// The exact bytes expected on stderr (the function's log). Not checked when absent.
    #[serde(default)]
    pub stderr: Option<String>,

    /// The module to run, relative to the `.json` file, when it is not `NAME.wasm` beside
    /// it (`.wasm`, or `.wat` text).
    #[serde(default)]
    pub module: Option<PathBuf>,
    /// The input (a command's stdin, a handle function's argument).
    #[serde(default)]
    pub input: Option<String>,
    /// An input of this many `x` bytes, instead of `input`.
    #[serde(default)]
    pub input_size: Option<u64>,
    /// The function's timeout in milliseconds. Default 10 000.
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// The function's memory limit in MiB. Default 64.
    #[serde(default)]
    pub memory_mib: Option<u64>,
    /// The kind of error the run must end with ([`fn_core::Error::kind`]): `timeout`,
    /// `memory_limit`, `trap`, `exit`, `deploy`, … With `exit`, `exit_code` is checked too.
    #[serde(default)]
    pub error: Option<fn_core::ErrorKind>,
    /// Fields the invocation record must have, with these exact values (JSON as the
    /// record serializes).
    #[serde(default)]
    pub record: Option<serde_json::Map<String, Value>>,
}

impl CaseSpec {
    /// Reads `NAME.json`.
    ///
    /// # Errors
    ///
    /// When it cannot be read, is not JSON, or has a field the format does not know.
    pub fn load(path: &Path) -> anyhow::Result<CaseSpec> {
        CaseSpec::parse(&read_text(path)?, path)
    }

    /// Reads a case specification from `text`; `path` names it in errors.
    ///
    /// # Errors
    ///
    /// As [`CaseSpec::load`], but for reading.
    pub fn parse(text: &str, path: &Path) -> anyhow::Result<CaseSpec> {
        let spec: CaseSpec = serde_json::from_str(text)
            .with_context(|| format!("{} is not a case specification", path.display()))?;
        if spec.input.is_some() && spec.input_size.is_some() {
            bail!("{}: give `input` or `input_size`, not both", path.display());
        }
        if spec.input_size.is_some_and(|size| size > MAX_INPUT_SIZE) {
            bail!(
                "{}: `input_size` is over the runner's {MAX_INPUT_SIZE} bytes",
                path.display()
            );
        }
        if spec.memory_mib.is_some_and(|mib| mib > u64::MAX >> 20) {
            bail!("{}: `memory_mib` is out of range", path.display());
        }
        if let Some(root) = &spec.root
            && (root.is_absolute()
                || root.components().any(|c| {
                    !matches!(
                        c,
                        std::path::Component::Normal(_) | std::path::Component::CurDir
                    )
                }))
        {
            bail!(
                "{}: `root` must be a folder inside the suite (relative, without `..`)",
                path.display()
            );
        }
        Ok(spec)
    }

    /// The input bytes.
    pub fn input_bytes(&self) -> Vec<u8> {
        match (&self.input, self.input_size) {
            (Some(input), _) => input.as_bytes().to_vec(),
            (None, Some(size)) => vec![b'x'; usize::try_from(size).unwrap_or(usize::MAX)],
            (None, None) => Vec::new(),
        }
    }
}

/// One case named in the expectations file: a failure that is known and explained.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedFailure {
    /// The suite's name, as in its manifest.
    pub suite: String,
    /// The case's name.
    pub case: String,
    /// Why it fails, and what would fix it.
    pub reason: String,
}

/// The expectations file: the cases known to fail, each with its reason.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expectations {
    /// The known failures.
    #[serde(default)]
    pub expected_failure: Vec<ExpectedFailure>,
}

impl Expectations {
    /// Reads an expectations file (TOML).
    ///
    /// # Errors
    ///
    /// When it cannot be read or parsed, when an entry has an empty reason, or when a
    /// case is listed twice.
    pub fn load(path: &Path) -> anyhow::Result<Expectations> {
        let text = read_text(path)?;
        Expectations::parse(&text).with_context(|| format!("in {}", path.display()))
    }

    /// Parses an expectations file's text.
    ///
    /// # Errors
    ///
    /// As [`Expectations::load`].
    pub fn parse(text: &str) -> anyhow::Result<Expectations> {
        let expectations: Expectations = toml::from_str(text)?;
        let mut seen = std::collections::BTreeSet::new();
        for entry in &expectations.expected_failure {
            if entry.reason.trim().is_empty() {
                bail!(
                    "the expected failure of `{}` in `{}` gives no reason",
                    entry.case,
                    entry.suite
                );
            }
            if !seen.insert((&entry.suite, &entry.case)) {
                bail!("`{}` in `{}` is listed twice", entry.case, entry.suite);
            }
        }
        Ok(expectations)
    }

    /// The reason `case` of `suite` is expected to fail, if it is.
    pub fn reason(&self, suite: &str, case: &str) -> Option<&str> {
        self.expected_failure
            .iter()
            .find(|e| e.suite == suite && e.case == case)
            .map(|e| e.reason.as_str())
    }
}

/// Every folder at or under `path` that holds a `manifest.json`, sorted, and the folders
/// below `path` that could not be searched (with why). Folders named `target` and
/// hidden folders are not searched; links to folders are not followed.
///
/// # Errors
///
/// When `path` itself cannot be read.
pub fn find_suites(path: &Path) -> anyhow::Result<(Vec<PathBuf>, Vec<String>)> {
    let mut found = Vec::new();
    let mut problems = Vec::new();
    std::fs::read_dir(path).with_context(|| format!("reading {}", path.display()))?;
    let mut stack = vec![path.to_path_buf()];
    while let Some(dir) = stack.pop() {
        if dir.join("manifest.json").is_file() {
            found.push(dir.clone());
        }
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) => {
                problems.push(format!("{} cannot be searched: {e}", dir.display()));
                continue;
            }
        };
        for entry in entries {
            let entry = match entry {
                Ok(entry) => entry,
                Err(e) => {
                    problems.push(format!("{} cannot be searched: {e}", dir.display()));
                    continue;
                }
            };
            let name = entry.file_name();
            let hidden = name.to_string_lossy().starts_with('.');
            let is_dir = entry.file_type().is_ok_and(|kind| kind.is_dir());
            if is_dir && !hidden && name != "target" {
                stack.push(entry.path());
            }
        }
    }
    found.sort();
    Ok((found, problems))
}

/// The case names of the suite in `dir`: every `NAME.wasm`, and every `NAME.json` other
/// than the manifest (a case that names its module, or one whose module is missing and
/// will fail saying so), sorted; and the files skipped because their names are not
/// UTF-8.
///
/// # Errors
///
/// When `dir` cannot be read.
pub fn case_names(dir: &Path) -> anyhow::Result<(Vec<String>, Vec<String>)> {
    let mut names = std::collections::BTreeSet::new();
    let mut skipped = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        let (Some(stem), Some(ext)) = (path.file_stem(), path.extension()) else {
            continue;
        };
        if !(ext == "wasm" || ext == "json") || path.file_name() == Some("manifest.json".as_ref()) {
            continue;
        }
        match stem.to_str() {
            Some(stem) => {
                names.insert(stem.to_string());
            }
            None => skipped.push(format!(
                "{} was skipped: its name is not UTF-8",
                path.display()
            )),
        }
    }
    Ok((names.into_iter().collect(), skipped))
}

#[cfg(test)]
mod tests;
