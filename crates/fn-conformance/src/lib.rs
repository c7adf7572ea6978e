//! Conformance runs: WASI test suites, and the engine's own contract suite, run through
//! the engine's execute path — the path every invocation takes — and reported case by
//! case.
//!
//! A *suite* is a folder with a `manifest.json` (`{"name": …}`); each `NAME.wasm` in it
//! is a *case*, specified by an optional `NAME.json` (arguments, environment, a `root`
//! folder preopened as `/` from a fresh copy, the expected exit code, stdout and stderr).
//! Every case is deployed as a function of its own and run once with
//! [`fn_engine::Engine::execute_detailed`]; besides its specification, every case checks
//! the engine's record contract (exactly one invocation record, agreeing with the run).
//! A case that cannot be set up, a malformed module, a hostile guest: each is a failed
//! case in the report, never a failed runner.
//!
//! Known failures live in an expectations file (TOML), each with a reason; a listed case
//! that passes, or a listed case its suite does not have, fails the run so the file
//! stays true. `cargo xtask conformance` runs this crate's binary; the format and the suites
//! are described in `docs/conformance.md`.
//!
//! ```no_run
//! # async fn run() -> anyhow::Result<()> {
//! use fn_conformance::{Expectations, Runner};
//!
//! let runner = Runner::new(Expectations::default(), "target/conformance/work");
//! let report = runner.run(&["../shared/conformance".into()]).await?;
//! report.write("target/conformance".as_ref())?;
//! assert!(report.ok, "{}", report.to_text());
//! # Ok(())
//! # }
//! ```

pub mod componentize;
pub mod fresh;
mod judge;
pub mod report;
pub mod runner;
pub mod spec;

pub use crate::report::{CaseReport, Report, SuiteReport, Totals, Verdict};
pub use crate::runner::Runner;
pub use crate::spec::{CaseSpec, Expectations, ExpectedFailure, Manifest};
