//! Runs suites through the engine: each case is deployed to an in-memory registry as a
//! function of its own and run with [`Engine::execute_detailed`], the path every
//! invocation takes, with a logger that keeps the records to check them.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::Utc;
use fn_core::CompileWorker;

use crate::fresh;
use crate::report::{Report, SuiteReport, Verdict};
use crate::spec::{self, Expectations, Manifest};

/// The namespace every case is deployed in.
pub const NAMESPACE: &str = "conformance";
/// A case's timeout when its specification gives none.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// A case's memory limit when its specification gives none, in MiB.
pub const DEFAULT_MEMORY_MIB: u64 = 64;
/// How long past its own timeout the runner waits for a case before giving up on the
/// engine (which should have stopped it long before).
const GRACE: Duration = Duration::from_secs(30);
/// The file that marks a work folder as this runner's to empty.
const WORK_MARKER: &str = ".fn-conformance-work";

/// Runs suites and reports on them.
#[derive(Debug)]
pub struct Runner {
    expectations: Expectations,
    work_dir: PathBuf,
    filter: Option<String>,
    compile_worker: Option<CompileWorker>,
    as_components: bool,
}

/// The suffix of a suite's name when its cases run as components.
pub const AS_COMPONENTS: &str = "[as components]";

/// The version a suite of WASI preview 1 programs declares in its manifest: the suites
/// [`Runner::also_as_components`] runs a second time.
pub const WASIP1: &str = "wasm32-wasip1";

impl Runner {
    /// A runner that judges failures by `expectations` and makes its fresh folders in
    /// `work_dir` (emptied first).
    pub fn new(expectations: Expectations, work_dir: impl Into<PathBuf>) -> Runner {
        Runner {
            expectations,
            work_dir: work_dir.into(),
            filter: None,
            compile_worker: None,
            as_components: false,
        }
    }

    /// Runs every suite of preview 1 programs (its manifest's version is
    /// `wasm32-wasip1`) a second time with each case made a component with the preview 1
    /// adapter (`wit-component`, as wasmtime builds its own test programs), against the
    /// same specifications: the suite is reported again as `NAME [as components]`.
    pub fn also_as_components(mut self, yes: bool) -> Runner {
        self.as_components = yes;
        self
    }

    /// Compiles in this worker for every suite whose manifest names none (the
    /// `fn-conformance` program names itself, as `fnd` does). Default: in process.
    pub fn with_compile_worker(mut self, worker: Option<CompileWorker>) -> Runner {
        self.compile_worker = worker;
        self
    }

    /// Runs only the cases whose name contains `filter`.
    pub fn with_filter(mut self, filter: Option<String>) -> Runner {
        self.filter = filter;
        self
    }

    /// Runs every suite at or under each of `paths`, in order.
    ///
    /// # Errors
    ///
    /// Only when the work folder cannot be made, or a path cannot be searched; every
    /// problem of a suite or a case is in the report.
    pub async fn run(&self, paths: &[PathBuf]) -> anyhow::Result<Report> {
        let started_at = Utc::now();
        self.prepare_work_dir()?;
        let mut suites = Vec::new();
        for path in paths {
            let (found, problems) = spec::find_suites(path)?;
            if found.is_empty() {
                suites.push(SuiteReport::broken(
                    path,
                    "no folder here holds a manifest.json".into(),
                ));
            }
            for problem in problems {
                suites.push(SuiteReport::broken(path, problem));
            }
            for dir in found {
                // A manifest that cannot be read is reported by `run_suite`.
                let manifest = Manifest::load(&dir).ok();
                let variants: Vec<Option<String>> = match &manifest {
                    Some(Manifest {
                        variants: Some(variants),
                        ..
                    }) => variants.keys().cloned().map(Some).collect(),
                    _ => vec![None],
                };
                let wasip1 = manifest.is_some_and(|m| m.version.as_deref() == Some(WASIP1));
                let passes: &[bool] = if self.as_components && wasip1 {
                    &[false, true]
                } else {
                    &[false]
                };
                for &as_components in passes {
                    for variant in &variants {
                        let work = self.work_dir.join(format!("suite-{}", suites.len()));
                        let variant = variant.as_deref();
                        suites.push(self.run_suite(&dir, &work, variant, as_components).await);
                    }
                }
            }
        }
        let mut problems = Vec::new();
        if let Some(filter) = &self.filter
            && suites.iter().all(|suite| suite.cases.is_empty())
        {
            problems.push(format!("the filter `{filter}` matched no case"));
        }
        // Entries for suites that did not run are not checked, which is right when only
        // some suites were asked for; say so, so a misspelt suite name is noticed.
        let notes = self
            .expectations
            .expected_failure
            .iter()
            .filter(|entry| !suites.iter().any(|suite| suite.name == entry.suite))
            .map(|entry| {
                format!(
                    "the expected failure of `{}` in `{}` was not checked: no such suite ran",
                    entry.case, entry.suite
                )
            })
            .collect();
        Ok(Report::new(started_at, suites, problems, notes))
    }

    /// Empties the work folder, which must be one this runner made (it holds a marker)
    /// or not exist: a mistyped `--out` must not cost anyone a folder.
    fn prepare_work_dir(&self) -> anyhow::Result<()> {
        let marker = self.work_dir.join(WORK_MARKER);
        if self.work_dir.exists() {
            let empty = std::fs::read_dir(&self.work_dir)?.next().is_none();
            if !empty && !marker.is_file() {
                anyhow::bail!(
                    "{} exists and was not made by fn-conformance (no {WORK_MARKER} in it); \
                     refusing to empty it",
                    self.work_dir.display()
                );
            }
            std::fs::remove_dir_all(&self.work_dir)?;
        }
        std::fs::create_dir_all(&self.work_dir)?;
        std::fs::write(
            marker,
            "fn-conformance's work folder: emptied at the start of every run\n",
        )?;
        Ok(())
    }

    /// Runs the suite in `dir` (as its `variant`, when given; its cases made components
    /// first when `as_components`), making its fresh folders under `work`.
    pub async fn run_suite(
        &self,
        dir: &Path,
        work: &Path,
        variant: Option<&str>,
        as_components: bool,
    ) -> SuiteReport {
        let mut report = SuiteReport::new(dir);
        let suite = match Suite::open(dir, work, variant, self.compile_worker.as_ref()) {
            Ok(suite) => suite,
            Err(error) => {
                report.error = Some(format!("{error:#}"));
                return report;
            }
        };
        let mut suite = suite;
        suite.as_components = as_components;
        report.name = match variant {
            Some(variant) => format!("{} [{variant}]", suite.manifest.name),
            None => suite.manifest.name.clone(),
        };
        if as_components {
            report.name = format!("{} {AS_COMPONENTS}", report.name);
        }
        report.version.clone_from(&suite.manifest.version);
        report.notes = fresh::remove_cleanup_files(dir)
            .into_iter()
            .map(|problem| format!("a leftover could not be deleted: {problem}"))
            .collect();
        let names = match spec::case_names(dir) {
            Ok((names, skipped)) => {
                report.notes.extend(skipped);
                names
            }
            Err(error) => {
                report.error = Some(format!("{error:#}"));
                return report;
            }
        };
        for entry in &self.expectations.expected_failure {
            if entry.suite == report.name && !names.contains(&entry.case) {
                report.stale_expectations.push(format!(
                    "`{}` is listed as an expected failure but the suite has no such case",
                    entry.case
                ));
            }
        }
        for name in names {
            if self.filter.as_ref().is_some_and(|f| !name.contains(f)) {
                continue;
            }
            let mut case = suite.run_case(&name).await;
            case.expected_reason = self
                .expectations
                .reason(&report.name, &name)
                .map(str::to_string);
            case.verdict = match (case.problems.is_empty(), &case.expected_reason) {
                (true, None) => Verdict::Pass,
                (true, Some(_)) => Verdict::UnexpectedPass,
                (false, None) => Verdict::Fail,
                (false, Some(_)) => Verdict::ExpectedFail,
            };
            if case.verdict == Verdict::UnexpectedPass {
                case.problems.push(
                    "passed, but the expectations file says it fails: remove the entry".into(),
                );
            }
            report.cases.push(case);
        }
        report
    }
}

mod suite;
use self::suite::Suite;

/// A valid function name for a case: lower case, other characters as `-`, at most the
/// engine's name length.
pub fn function_name(case: &str) -> String {
    fn_core::name_from(case, "c")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_names_are_valid() {
        assert_eq!(
            function_name("clock_getres-monotonic"),
            "clock_getres-monotonic"
        );
        assert_eq!(function_name("Path.Open"), "path-open");
        assert_eq!(function_name("_x"), "c_x");
        assert_eq!(function_name(&"a".repeat(100)).len(), fn_core::MAX_NAME_LEN);
    }
}
