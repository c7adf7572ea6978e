//! [`CompileWorker`]: the program [`Config::compile_worker`](super::Config::compile_worker)
//! names, and how a program names itself.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The program a compile worker runs: see [`Config::compile_worker`](super::Config::compile_worker).
///
/// The program must answer the compile-worker protocol of the same build of fn-runtime
/// on its standard input and output (`fn_runtime::worker::serve`): `fnd compile-worker`
/// does, and so does the `fn-compile-worker` program of fn-runtime. A worker of another
/// build is refused at its handshake.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompileWorker {
    /// The executable.
    pub program: PathBuf,
    /// Its arguments, e.g. `["compile-worker"]` for `fnd`.
    #[serde(default)]
    pub args: Vec<String>,
}

impl CompileWorker {
    /// The argument by which a program that is its own worker is started as one.
    pub const SUBCOMMAND: &'static str = "compile-worker";

    /// The running program as its own worker, started with [`CompileWorker::SUBCOMMAND`]
    /// (as `fnd` and `fn-conformance` are).
    ///
    /// # Errors
    ///
    /// When the path of the running program cannot be found.
    pub fn this_program() -> std::io::Result<CompileWorker> {
        Ok(CompileWorker {
            program: std::env::current_exe()?,
            args: vec![CompileWorker::SUBCOMMAND.to_owned()],
        })
    }

    /// Whether this process was started as its own compile worker.
    #[must_use]
    pub fn asked_of_this_process() -> bool {
        std::env::args().nth(1).as_deref() == Some(CompileWorker::SUBCOMMAND)
    }
}
