//! The error family every crate of the engine returns.

use std::fmt;
use std::time::Duration;

use crate::{Cid, InvocationStatus};

mod kind;

pub use self::kind::ErrorKind;

/// A `Result` whose error is the engine's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the engine, each variant carrying what an operator
/// needs to act on it.
///
/// Execution failures reach callers wrapped in [`Error::Execution`], which names the
/// function and the request; [`Error::root`] gives the underlying kind.
/// Cloning keeps the whole error, cause chain included, so one failure (a compile that
/// several callers waited for) can be handed to each of them.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Input that fails validation: which field, and why.
    #[error("invalid {field}: {reason}")]
    Validation {
        /// The field (or argument) that was wrong.
        field: String,
        /// Why it was rejected.
        reason: String,
    },
    /// A module that could not be compiled or is not a function this engine can run.
    /// `message` keeps the compiler's text whole (the Go engine swallowed it).
    #[error("module {cid} cannot be deployed: {message}")]
    Deploy {
        /// The module's content id.
        cid: Cid,
        /// The compiler's or validator's full message.
        message: String,
    },
    /// A module larger than the configured maximum, refused before compiling.
    #[error("module {cid} is {size_bytes} bytes, over the {limit_bytes}-byte module limit")]
    ModuleTooLarge {
        /// The module's content id.
        cid: Cid,
        /// Its size.
        size_bytes: u64,
        /// The configured maximum.
        limit_bytes: u64,
    },
    /// Compiling a module took longer than the configured limit.
    #[error("compiling module {cid} took longer than {} ms", limit.as_millis())]
    CompileTimeout {
        /// The module's content id.
        cid: Cid,
        /// The configured compile time limit.
        limit: Duration,
    },
    /// Something looked up by id does not exist.
    #[error("{kind} `{id}` not found")]
    NotFound {
        /// What kind of thing: "function", "module", …
        kind: &'static str,
        /// The id that was looked up.
        id: String,
    },
    /// Bytes fetched by CID do not hash to that CID.
    #[error("integrity check failed: expected module {expected}, the bytes are {actual}")]
    Integrity {
        /// The CID that was asked for.
        expected: Cid,
        /// The CID of the bytes that came back.
        actual: Cid,
    },
    /// A rate limit refused the call (HTTP 429).
    #[error("rate limited on `{key}`{}", retry_after.map(|d| format!(", retry after {} ms", d.as_millis())).unwrap_or_default())]
    RateLimited {
        /// The key whose limit was hit (`global`, `namespace:…`, `function:…`, `caller:…`).
        key: String,
        /// When a retry may succeed, when known (fn-limits always knows: the wait its
        /// rate computes).
        retry_after: Option<Duration>,
    },
    /// No slot to run the call in came free within the wait allowed: a concurrency limit
    /// is full and so is its queue, or the wait ran out (HTTP 503).
    #[error("overloaded on `{key}`, retry after {} ms", retry_after.as_millis())]
    Overloaded {
        /// The key whose slots were all taken (`global`, `namespace:…`, `function:…`).
        key: String,
        /// When to try again.
        retry_after: Duration,
    },
    /// The invocation ran past its deadline.
    #[error("exceeded its {} ms deadline", limit.as_millis())]
    Timeout {
        /// The deadline that applied (the function's timeout, capped by the config).
        limit: Duration,
    },
    /// The guest tried to grow its memory past its limit.
    #[error("exceeded its {limit_bytes}-byte memory limit")]
    MemoryLimit {
        /// The memory limit that applied.
        limit_bytes: u64,
    },
    /// The guest exceeded a limit on tables, table elements or instances.
    #[error("exceeded its limit of {limit} {resource}")]
    ResourceLimit {
        /// What was limited ("table elements", "instances", …).
        resource: &'static str,
        /// The limit.
        limit: u64,
    },
    /// The input is larger than the configured maximum.
    #[error("input of {size_bytes} bytes is over the {limit_bytes}-byte input limit")]
    InputTooLarge {
        /// The input's size.
        size_bytes: u64,
        /// The configured maximum.
        limit_bytes: u64,
    },
    /// The guest wrote more than the limit to one of its output streams.
    #[error("{stream} exceeded the {limit_bytes}-byte output limit")]
    OutputTooLarge {
        /// The stream that overflowed.
        stream: OutputStream,
        /// The limit of that stream.
        limit_bytes: u64,
    },
    /// The guest trapped.
    #[error("wasm trap: {message}")]
    Trap {
        /// The kind of trap.
        code: TrapCode,
        /// The full trap message, with the wasm backtrace when there is one.
        message: String,
    },
    /// A WASI command exited with a non-zero status.
    #[error("exited with code {code}{}", if stderr_tail.is_empty() { String::new() } else { format!(": {stderr_tail}") })]
    Exit {
        /// The exit status.
        code: i32,
        /// The last bytes the guest wrote to stderr (lossy UTF-8).
        stderr_tail: String,
    },
    /// A guest broke the handle ABI (see docs/abi.md): a pointer out of bounds, input
    /// without `malloc`, a bad signature.
    #[error("handle ABI violation: {reason}")]
    Abi {
        /// What the guest did wrong.
        reason: String,
    },
    /// A host service called by the guest failed.
    #[error("host call `{call}` failed: {source}")]
    HostCall {
        /// The host call.
        call: String,
        /// Why it failed.
        source: std::sync::Arc<dyn std::error::Error + Send + Sync>,
    },
    /// The engine cannot take the call now (pool exhausted, engine closed); retry later.
    #[error("unavailable: {reason}")]
    Unavailable {
        /// Why.
        reason: String,
    },
    /// The caller stopped waiting (dropped the invocation's future: a client that went
    /// away, a caller's own timeout) before the invocation ended. Nobody receives this
    /// error: it is what the invocation's record says.
    #[error("cancelled by its caller after {} ms", after.as_millis())]
    Cancelled {
        /// How long the invocation had run when it was cancelled.
        after: Duration,
    },
    /// The request contradicts what is stored: deleting the active version, rolling
    /// back to a version that was deleted.
    #[error("conflict: {reason}")]
    Conflict {
        /// What it contradicts.
        reason: String,
    },
    /// The store cannot be read or written: a data folder that cannot be opened, a
    /// database that is corrupt or newer than this program, a full disk.
    #[error("storage failed: {what}: {reason}")]
    Storage {
        /// What failed, naming the file or folder.
        what: String,
        /// Why.
        reason: String,
    },
    /// A failure of the engine itself, not of the guest or the caller.
    #[error("internal error: {message}")]
    Internal {
        /// What failed.
        message: String,
    },
    /// An invocation failed: the function, the request, and the cause.
    #[error("function `{function}` failed (request {request_id}): {source}")]
    Execution {
        /// The function's name.
        function: String,
        /// The request id of the invocation.
        request_id: String,
        /// What went wrong.
        source: Box<Error>,
    },
}

impl Error {
    /// The innermost error, looking through [`Error::Execution`] wrappers.
    pub fn root(&self) -> &Error {
        match self {
            Error::Execution { source, .. } => source.root(),
            other => other,
        }
    }

    /// The kind of the innermost error: a stable, machine-readable name for records,
    /// API bodies, metrics' `error.type` and reports.
    pub fn kind(&self) -> ErrorKind {
        match self.root() {
            Error::Validation { .. } => ErrorKind::Validation,
            Error::Deploy { .. } => ErrorKind::Deploy,
            Error::ModuleTooLarge { .. } => ErrorKind::ModuleTooLarge,
            Error::CompileTimeout { .. } => ErrorKind::CompileTimeout,
            Error::NotFound { .. } => ErrorKind::NotFound,
            Error::Integrity { .. } => ErrorKind::Integrity,
            Error::RateLimited { .. } => ErrorKind::RateLimited,
            Error::Overloaded { .. } => ErrorKind::Overloaded,
            Error::Timeout { .. } => ErrorKind::Timeout,
            Error::MemoryLimit { .. } => ErrorKind::MemoryLimit,
            Error::ResourceLimit { .. } => ErrorKind::ResourceLimit,
            Error::InputTooLarge { .. } => ErrorKind::InputTooLarge,
            Error::OutputTooLarge { .. } => ErrorKind::OutputTooLarge,
            Error::Trap { .. } => ErrorKind::Trap,
            Error::Exit { .. } => ErrorKind::Exit,
            Error::Abi { .. } => ErrorKind::Abi,
            Error::HostCall { .. } => ErrorKind::HostCall,
            Error::Unavailable { .. } => ErrorKind::Unavailable,
            Error::Cancelled { .. } => ErrorKind::Cancelled,
            Error::Conflict { .. } => ErrorKind::Conflict,
            Error::Storage { .. } => ErrorKind::Storage,
            Error::Internal { .. } | Error::Execution { .. } => ErrorKind::Internal,
        }
    }

    /// The status an invocation that failed with this error is recorded with.
    pub fn invocation_status(&self) -> InvocationStatus {
        match self.root() {
            Error::Timeout { .. } => InvocationStatus::Timeout,
            Error::RateLimited { .. } => InvocationStatus::RateLimited,
            Error::Overloaded { .. } => InvocationStatus::Overloaded,
            Error::Cancelled { .. } => InvocationStatus::Cancelled,
            _ => InvocationStatus::Error,
        }
    }

    /// Whether the same call may succeed if retried later, unchanged.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self.root(),
            Error::RateLimited { .. }
                | Error::Overloaded { .. }
                | Error::Unavailable { .. }
                | Error::CompileTimeout { .. }
        )
    }

    /// Whether the caller's input or request was at fault (the HTTP 4xx family), as
    /// opposed to the guest or the engine.
    pub fn is_client_error(&self) -> bool {
        matches!(
            self.root(),
            Error::Validation { .. }
                | Error::NotFound { .. }
                | Error::Conflict { .. }
                | Error::RateLimited { .. }
                | Error::InputTooLarge { .. }
        )
    }

    /// A validation error for `field`.
    pub fn validation(field: impl Into<String>, reason: impl Into<String>) -> Error {
        Error::Validation {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// One of a guest's outputs that a limit applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum OutputStream {
    /// Standard output: the function's result.
    Stdout,
    /// Standard error: the function's log.
    Stderr,
    /// The output a handle-ABI `handle` returned in its memory.
    HandleResult,
    /// The body of an HTTP function's response.
    ResponseBody,
}

impl fmt::Display for OutputStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OutputStream::Stdout => "stdout",
            OutputStream::Stderr => "stderr",
            OutputStream::HandleResult => "the handle result",
            OutputStream::ResponseBody => "the response body",
        })
    }
}

/// Why a guest trapped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum TrapCode {
    /// The wasm call stack was exhausted (deep recursion).
    StackOverflow,
    /// A load or store outside linear memory.
    MemoryOutOfBounds,
    /// A misaligned atomic access.
    HeapMisaligned,
    /// A table access out of bounds.
    TableOutOfBounds,
    /// An indirect call through a null table entry.
    IndirectCallToNull,
    /// An indirect call with the wrong signature.
    BadSignature,
    /// Integer overflow in a conversion or division.
    IntegerOverflow,
    /// Integer division by zero.
    IntegerDivisionByZero,
    /// A float that cannot be converted to an integer.
    BadConversionToInteger,
    /// An `unreachable` instruction (a Rust panic or abort ends here).
    UnreachableCodeReached,
    /// Fuel metering ran out.
    OutOfFuel,
    /// A host function trapped (for example a WASI call past a configured cap).
    HostTrap,
    /// Any other trap.
    Other,
}
