//! Admission control for the function engine, usable without it:
//! - [`RateLimits`]: keyed rate limits on governor (GCRA), one limit per key kind —
//!   global, namespace, function, caller — each with its own rate, a function's own rate
//!   replacing the default, and the state kept for at most a fixed number of keys however
//!   many distinct callers the world invents;
//! - [`ConcurrencyLimits`]: invocations running at once per function, per namespace (a
//!   share of the global slots) and in all, with a bounded queue and a bounded wait, the
//!   slot held by a [`ConcurrencyPermit`] until it is dropped;
//! - [`Limits`]: both, from an engine's [`fn_core::Config`], behind fn-core's
//!   [`fn_core::Admission`] seam;
//! - [`AdmissionChain`]: the limits, then a platform's own controls in order: what
//!   fn-engine asks before every invocation, holding the [`Admitted`] it answers.
//!
//! No dependency on wasmtime.
//!
//! # Example
//!
//! ```
//! use fn_core::{Cid, Config, Error, Function, FunctionDefinition, RateQuota};
//! use fn_limits::Limits;
//!
//! # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
//! let mut config = Config::default();
//! // Two calls a second per caller; one call at a time, and no queue.
//! config.admission.caller_rate = Some(RateQuota::per_second(2));
//! config.admission.max_concurrent = Some(1);
//! config.admission.max_waiters = 0;
//! let limits = Limits::new(&config);
//! let create = Function::new(FunctionDefinition::new("orders", "create"), Cid::of(b"wasm"));
//!
//! let running = limits.admit_call(&create, Some("alice")).await?;
//! match limits.admit_call(&create, Some("bob")).await {
//!     Err(Error::Overloaded { key, .. }) => assert_eq!(key, "global"),
//!     other => panic!("{other:?}"),
//! }
//! drop(running); // the invocation ended: its slot is free again
//! drop(limits.admit_call(&create, Some("alice")).await?);
//! match limits.admit_call(&create, Some("alice")).await {
//!     Err(Error::RateLimited { key, retry_after }) => {
//!         assert_eq!(key, "caller:alice");
//!         assert!(retry_after.unwrap() <= std::time::Duration::from_millis(500));
//!     }
//!     other => panic!("{other:?}"),
//! }
//! # Ok::<(), Error>(())
//! # }).unwrap();
//! ```

mod chain;
mod concurrency;
mod deployed;
mod limits;
mod rate;

pub use crate::chain::{AdmissionChain, Admitted};
pub use crate::concurrency::{Concurrency, ConcurrencyLimits, ConcurrencyPermit, Overloaded};
pub use crate::limits::Limits;
pub use crate::rate::{Denied, KeyKind, RateLimits};
pub use governor::clock::FakeRelativeClock;
