//! What a run found: per suite, per case, written as JSON and Markdown and printed as
//! tables.

use std::fmt::Write as _;
use std::io;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::Serialize;

/// How one case ended, against what the expectations file says of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// It did what its specification says.
    Pass,
    /// It did not, and the expectations file does not list it.
    Fail,
    /// It did not, and the expectations file lists it with a reason.
    ExpectedFail,
    /// It passed, but the expectations file says it fails: the entry is stale.
    UnexpectedPass,
}

impl Verdict {
    /// Whether this verdict lets the run succeed.
    pub fn is_ok(self) -> bool {
        matches!(self, Verdict::Pass | Verdict::ExpectedFail)
    }

    /// A short upper-case label for tables.
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
            Verdict::ExpectedFail => "XFAIL",
            Verdict::UnexpectedPass => "XPASS",
        }
    }
}

/// One case's result.
#[derive(Debug, Clone, Serialize)]
pub struct CaseReport {
    /// The case's name (its file name without extension).
    pub name: String,
    /// How it ended.
    pub verdict: Verdict,
    /// Every way it differed from its specification; empty when it passed.
    pub problems: Vec<String>,
    /// The expectations file's reason, when it lists the case.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected_reason: Option<String>,
    /// The exit status it ended with: 0 for success, the code of a non-zero exit, none
    /// when it ended in another way.
    pub exit_code: Option<i32>,
    /// The kind of error it ended with, if any ([`fn_core::Error::kind`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_kind: Option<fn_core::ErrorKind>,
    /// The error's message, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// How long the case took, module compile included, in milliseconds.
    pub duration_ms: f64,
}

/// One suite's results.
#[derive(Debug, Clone, Serialize)]
pub struct SuiteReport {
    /// The suite's name, from its manifest (the folder's path when the manifest is bad).
    pub name: String,
    /// The suite's version, from its manifest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The suite's folder.
    pub path: String,
    /// Why the suite could not run at all; such a suite fails the run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Things worth knowing that did not fail a case: leftovers that could not be
    /// deleted, say.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Entries of the expectations file for this suite that name no case of it; they
    /// fail the run, so the file stays true.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stale_expectations: Vec<String>,
    /// Its cases, by name.
    pub cases: Vec<CaseReport>,
}

impl SuiteReport {
    /// An empty report of the suite at `path`, named by its path until its manifest is
    /// read.
    pub fn new(path: &Path) -> SuiteReport {
        SuiteReport {
            name: path.display().to_string(),
            version: None,
            path: path.display().to_string(),
            error: None,
            notes: vec![],
            stale_expectations: vec![],
            cases: vec![],
        }
    }

    /// A suite at `path` that could not run, and why.
    pub fn broken(path: &Path, error: String) -> SuiteReport {
        SuiteReport {
            error: Some(error),
            ..SuiteReport::new(path)
        }
    }

    /// How many cases ended each way.
    pub fn totals(&self) -> Totals {
        let mut totals = Totals::default();
        for case in &self.cases {
            totals.add(case.verdict);
        }
        totals
    }

    /// Whether the suite lets the run succeed.
    pub fn is_ok(&self) -> bool {
        self.error.is_none()
            && self.stale_expectations.is_empty()
            && self.cases.iter().all(|c| c.verdict.is_ok())
    }
}

/// How many cases ended each way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    /// Passed.
    pub pass: usize,
    /// Failed, not expected to.
    pub fail: usize,
    /// Failed, as the expectations file says.
    pub expected_fail: usize,
    /// Passed, though the expectations file says it fails.
    pub unexpected_pass: usize,
}

impl Totals {
    fn add(&mut self, verdict: Verdict) {
        match verdict {
            Verdict::Pass => self.pass += 1,
            Verdict::Fail => self.fail += 1,
            Verdict::ExpectedFail => self.expected_fail += 1,
            Verdict::UnexpectedPass => self.unexpected_pass += 1,
        }
    }

    fn merge(&mut self, other: Totals) {
        self.pass += other.pass;
        self.fail += other.fail;
        self.expected_fail += other.expected_fail;
        self.unexpected_pass += other.unexpected_pass;
    }

    /// All cases counted.
    pub fn cases(&self) -> usize {
        self.pass + self.fail + self.expected_fail + self.unexpected_pass
    }
}

impl std::fmt::Display for Totals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} of {} passed", self.pass, self.cases())?;
        if self.fail > 0 {
            write!(f, ", {} failed", self.fail)?;
        }
        if self.expected_fail > 0 {
            write!(f, ", {} expected failures", self.expected_fail)?;
        }
        if self.unexpected_pass > 0 {
            write!(f, ", {} unexpected passes", self.unexpected_pass)?;
        }
        Ok(())
    }
}

/// A whole run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// When the run started.
    pub started_at: DateTime<Utc>,
    /// The version of fn-engine that ran the cases.
    pub engine_version: String,
    /// Every suite, in the order run.
    pub suites: Vec<SuiteReport>,
    /// The totals over every suite.
    pub totals: Totals,
    /// Problems of the run as a whole, which fail it (a filter that matched no case).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
    /// Things worth knowing that do not fail the run (expectations for suites that did
    /// not run).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Whether the run succeeded: every case passed or failed as expected, every suite
    /// ran, no expectation is stale, and the run has no problem of its own.
    pub ok: bool,
}

impl Report {
    /// A report of `suites`, with totals and the overall result worked out.
    pub fn new(
        started_at: DateTime<Utc>,
        suites: Vec<SuiteReport>,
        problems: Vec<String>,
        notes: Vec<String>,
    ) -> Report {
        let mut totals = Totals::default();
        for suite in &suites {
            totals.merge(suite.totals());
        }
        let ok = !suites.is_empty() && problems.is_empty() && suites.iter().all(SuiteReport::is_ok);
        Report {
            started_at,
            engine_version: env!("CARGO_PKG_VERSION").to_string(),
            suites,
            totals,
            problems,
            notes,
            ok,
        }
    }

    /// Writes `report.json` and `report.md` into `dir` (created if needed).
    ///
    /// # Errors
    ///
    /// When a file cannot be written.
    pub fn write(&self, dir: &Path) -> io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let json = serde_json::to_string_pretty(self).map_err(io::Error::other)?;
        std::fs::write(dir.join("report.json"), json + "\n")?;
        std::fs::write(dir.join("report.md"), self.to_markdown())
    }

    /// The report as Markdown: a summary, then a table per suite.
    pub fn to_markdown(&self) -> String {
        let mut md = String::new();
        let _ = writeln!(md, "# Conformance report\n");
        let _ = writeln!(
            md,
            "Run {} by fn-engine {}: **{}** — {}.\n",
            self.started_at.format("%Y-%m-%d %H:%M:%S UTC"),
            self.engine_version,
            if self.ok { "green" } else { "red" },
            self.totals
        );
        for problem in &self.problems {
            let _ = writeln!(md, "- **problem:** {}", escape(problem));
        }
        for note in &self.notes {
            let _ = writeln!(md, "- note: {}", escape(note));
        }
        if !self.problems.is_empty() || !self.notes.is_empty() {
            md.push('\n');
        }
        for suite in &self.suites {
            let _ = writeln!(md, "## {}\n", escape(&suite.name));
            let _ = writeln!(md, "`{}` — {}\n", suite.path, suite.totals());
            if let Some(error) = &suite.error {
                let _ = writeln!(md, "**The suite could not run:** {}\n", escape(error));
            }
            for note in &suite.notes {
                let _ = writeln!(md, "- note: {}", escape(note));
            }
            for stale in &suite.stale_expectations {
                let _ = writeln!(md, "- **stale expectation:** {}", escape(stale));
            }
            if !suite.notes.is_empty() || !suite.stale_expectations.is_empty() {
                md.push('\n');
            }
            if suite.cases.is_empty() {
                continue;
            }
            let _ = writeln!(md, "| case | result | exit | ms | detail |");
            let _ = writeln!(md, "|---|---|---|---:|---|");
            for case in &suite.cases {
                let mut detail = case.problems.join("; ");
                if let Some(reason) = &case.expected_reason {
                    if !detail.is_empty() {
                        detail.push_str(" — ");
                    }
                    detail.push_str("expected: ");
                    detail.push_str(reason);
                }
                let exit = case.exit_code.map_or_else(
                    || {
                        case.error_kind
                            .map(|kind| kind.to_string())
                            .unwrap_or_default()
                    },
                    |c| c.to_string(),
                );
                let _ = writeln!(
                    md,
                    "| {} | {} | {} | {:.1} | {} |",
                    escape(&case.name),
                    case.verdict.label(),
                    escape(&exit),
                    case.duration_ms,
                    escape(&detail)
                );
            }
            md.push('\n');
        }
        md
    }

    /// The report as plain-text tables, one per suite, for a terminal.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for suite in &self.suites {
            let _ = writeln!(out, "\n{} ({})", suite.name, suite.path);
            if let Some(error) = &suite.error {
                let _ = writeln!(out, "  the suite could not run: {error}");
            }
            let width = suite.cases.iter().map(|c| c.name.len()).max().unwrap_or(0);
            for case in &suite.cases {
                let _ = writeln!(
                    out,
                    "  {:<5}  {:<width$}  {:>8.1} ms",
                    case.verdict.label(),
                    case.name,
                    case.duration_ms
                );
                for problem in &case.problems {
                    let _ = writeln!(out, "         {problem}");
                }
                if let Some(reason) = &case.expected_reason {
                    let _ = writeln!(out, "         expected to fail: {reason}");
                }
            }
            for note in &suite.notes {
                let _ = writeln!(out, "  note: {note}");
            }
            for stale in &suite.stale_expectations {
                let _ = writeln!(out, "  stale expectation: {stale}");
            }
            let _ = writeln!(out, "  {}", suite.totals());
        }
        for problem in &self.problems {
            let _ = writeln!(out, "\nproblem: {problem}");
        }
        for note in &self.notes {
            let _ = writeln!(out, "\nnote: {note}");
        }
        let _ = writeln!(
            out,
            "\nconformance: {} — {}",
            if self.ok { "green" } else { "RED" },
            self.totals
        );
        out
    }
}

/// Text made safe for a Markdown table cell.
fn escape(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests;
