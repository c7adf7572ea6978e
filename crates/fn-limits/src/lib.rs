//! Admission control for the function engine, usable without it: keyed rate limits on
//! governor (GCRA), one limit per key kind — global, namespace, function, caller — each
//! with its own rate, a function's own rate replacing the default, and the state kept
//! for at most a fixed number of keys however many distinct callers the world invents.
//! No dependency on wasmtime.
//!
//! Work in progress (issue 11): the concurrency limits with a bounded queue and the
//! engine's admission seam (a permit held for an invocation's whole life) come next; the
//! engine does not use this crate yet.
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

mod rate;

pub use crate::rate::{Denied, KeyKind, Rate, RateLimits};
pub use governor::clock::FakeRelativeClock;
