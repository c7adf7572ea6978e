//! Admission control for the function engine, usable without it:
//! - [`RateLimits`]: keyed rate limits on governor (GCRA), one limit per key kind —
//!   global, namespace, function, caller — each with its own rate, a function's own rate
//!   replacing the default, and the state kept for at most a fixed number of keys however
//!   many distinct callers the world invents;
//! - [`ConcurrencyLimits`]: invocations running at once per function, per namespace (a
//!   share of the global slots) and in all, with a bounded queue and a bounded wait, the
//!   slot held by a [`ConcurrencyPermit`] until it is dropped.
//!
//! No dependency on wasmtime. Work in progress (issue 11): the engine's admission seam,
//! which both will plug into, comes next; the engine does not use this crate yet.
//!
//! # Example
//!
//! ```
//! use fn_limits::{Rate, RateLimits};
//!
//! // At most 2 calls a second per caller (a burst of 2); the other kinds unlimited.
//! let caller = Rate { per_second: 2.0, burst: 2 };
//! let limits = RateLimits::new([None, None, None, Some(caller)], 100_000);
//! let keys = |who| [None, Some("orders"), Some("orders/create"), Some(who)];
//! assert!(limits.check(keys("alice"), None).is_ok());
//! assert!(limits.check(keys("alice"), None).is_ok());
//! let denied = limits.check(keys("alice"), None).unwrap_err();
//! assert_eq!(denied.key, "caller:alice");
//! assert!(denied.retry_after <= std::time::Duration::from_millis(500));
//! // Another caller has its own quota.
//! assert!(limits.check(keys("bob"), None).is_ok());
//! ```

mod concurrency;
mod rate;

pub use crate::concurrency::{Concurrency, ConcurrencyLimits, ConcurrencyPermit, Overloaded};
pub use crate::rate::{Denied, KeyKind, Rate, RateLimits};
pub use governor::clock::FakeRelativeClock;
