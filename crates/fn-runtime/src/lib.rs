//! The wasmtime sandbox of the function engine: it compiles modules, detects their ABI,
//! and runs each invocation in a fresh, limited store.
//!
//! This is the only crate that sees wasmtime: every wasmtime error is turned into an
//! [`fn_core::Error`] here, and no wasmtime type appears in its public API.
//!
//! What it does once, and what it does per call:
//! - per runtime: one wasmtime engine (pooling allocator with copy-on-write memory
//!   images, on-demand when the pool cannot be reserved), one WASI preview 1 linker, one
//!   epoch ticker thread;
//! - per module: a compile on a blocking thread or in a compile worker process (bounded
//!   in number, time and, in a worker, memory), the ABI, and an `InstancePre` with every
//!   import resolved;
//! - per invocation: a store with exactly the function's args and env, bounded stdout
//!   and stderr pipes, a resource limiter that reports peak memory, WASI caps (random
//!   bytes, resource table, host-call arguments), and a deadline armed once the input is
//!   in place. The limits are applied as given: the caller computed them once
//!   ([`fn_core::InvocationLimits`]) from a validated function.
//!
//! Where things are: `runtime.rs` (types, orchestration), `engine.rs` (config to
//! wasmtime), `compile.rs`, `host.rs` (host imports: WASI, and the `fn` module of host
//! services to come), `store.rs` (one invocation's store), `abi.rs` and `abi/call.rs` (core modules),
//! `component.rs` (WASI preview 2 components),
//! `classify.rs` (errors), `deadline.rs`, `worker.rs` and `worker/client.rs` (the compile
//! worker: Cranelift in a child process that is capped and killed at the compile timeout).
//!
//! # Example
//!
//! ```
//! use std::collections::BTreeMap;
//! use std::time::Duration;
//!
//! use bytes::Bytes;
//! use fn_core::{Config, InvocationLimits};
//! use fn_runtime::{Invocation, Runtime};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let runtime = Runtime::new(&Config::default())?;
//! let wat = r#"(module
//!     (memory (export "memory") 1)
//!     (data (i32.const 16) "hi")
//!     (func (export "handle") (param i32 i32) (result i64)
//!         i64.const 0x0000000200000010))"#;
//! let module = runtime.compile(Bytes::from(wat)).await?;
//! let env = BTreeMap::new();
//! let invocation = Invocation {
//!     name: "hi",
//!     env: &env,
//!     args: &[],
//!     preopens: &[],
//!     limits: InvocationLimits::capped(Duration::from_secs(1), 1 << 20, runtime.config()),
//!     allow_outbound: &[],
//!     config: &BTreeMap::new(),
//! };
//! let outcome = runtime.invoke(&module, invocation, Bytes::new()).await;
//! assert_eq!(outcome.result?, Bytes::from("hi"));
//! # Ok::<(), fn_core::Error>(())
//! # }).unwrap();
//! ```

/// A debug span for a phase, or `Span::none()` when nothing would record it. Why: with
/// tracing's `log` feature on (sqlx turns it on for the whole build), a disabled span
/// still carries its metadata so that it can go to the `log` crate, and every poll of
/// the future it instruments then asks `log` for its level (a few hundred instructions
/// a call, callgrind); a none span asks nothing.
macro_rules! phase_span {
    ($name:literal) => {
        if tracing::span_enabled!(tracing::Level::DEBUG) {
            tracing::debug_span!($name)
        } else {
            tracing::Span::none()
        }
    };
}

mod abi;
mod classify;
mod compile;
mod component;
mod deadline;
mod engine;
mod host;
mod http;
mod limits;
mod outcome;
mod pipe;
mod runtime;
mod store;
pub mod worker;

pub use crate::abi::Abi;
pub use crate::component::serves_http;
pub use crate::http::{BodyCut, BoxError, RequestBody, ResponseBody, ResponseSender, Served, full};
pub use crate::outcome::Outcome;
pub use crate::runtime::{CompiledModule, Invocation, Runtime};

/// An engine error for a wasmtime failure while setting up `what`.
pub(crate) fn internal(what: &str, error: &wasmtime::Error) -> fn_core::Error {
    fn_core::Error::Internal {
        message: format!("{what}: {error:#}"),
    }
}

/// `value` as a `usize`, saturating (on 32-bit hosts a cap over 4 GiB means no cap).
pub(crate) fn to_usize(value: u64) -> usize {
    usize::try_from(value).unwrap_or(usize::MAX)
}
