//! Admission: whether a call may run now, and the permit it holds while it runs.
//!
//! Why a permit rather than a yes or no: a rate limit only refuses, but a concurrency
//! limit must also hold a slot for the invocation's whole life and give it back at its
//! end, whatever that end is — success, failure, timeout, or a caller that drops the
//! invocation. A [`Permit`] is that slot: an RAII guard the engine keeps until the
//! invocation ends. The engine asks its controls in order, before anything is fetched,
//! compiled or instantiated; a control that fails (rather than refuses) is handled by
//! the [`OnAdmissionError`] it was registered with.

use std::any::Any;
use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::{Error, Function, InvocationContext, Result};

/// A rate: `requests` calls per `per` sustained, and up to `burst` at once after a quiet
/// period (a generic cell rate: one call's room comes back every `per / requests`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateQuota {
    /// Calls allowed per `per`; at least one.
    pub requests: u32,
    /// The period `requests` are counted over, in milliseconds in JSON; at least 1 ms,
    /// at most 24 h.
    #[serde(with = "crate::serde_duration::millis")]
    pub per: Duration,
    /// Calls allowed at once after a quiet period; at least one.
    pub burst: u32,
}

impl RateQuota {
    /// `requests` calls a second, with a burst of as many.
    #[must_use]
    pub fn per_second(requests: u32) -> RateQuota {
        RateQuota {
            requests,
            per: Duration::from_secs(1),
            burst: requests,
        }
    }

    /// This rate with another burst.
    #[must_use]
    pub fn with_burst(self, burst: u32) -> RateQuota {
        RateQuota { burst, ..self }
    }

    /// How often one call's room comes back: `per / requests`, at least 1 ns.
    #[must_use]
    pub fn interval(&self) -> Duration {
        (self.per / self.requests.max(1)).max(Duration::from_nanos(1))
    }

    /// Checks the rate, naming `field` (e.g. `admission.caller_rate`) when it is wrong.
    ///
    /// # Errors
    ///
    /// [`Error::Validation`] for zero requests or burst, or a period outside 1 ms..=24 h.
    pub fn validate(&self, field: &str) -> Result<()> {
        if self.requests == 0 {
            return Err(Error::validation(
                format!("{field}.requests"),
                "must be at least one",
            ));
        }
        if self.burst == 0 {
            return Err(Error::validation(
                format!("{field}.burst"),
                "must be at least one",
            ));
        }
        if self.per < Duration::from_millis(1) || self.per > Duration::from_secs(24 * 60 * 60) {
            return Err(Error::validation(
                format!("{field}.per"),
                "must be between 1 ms and 24 h",
            ));
        }
        Ok(())
    }
}

impl fmt::Display for RateQuota {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} per {} ms, burst {}",
            self.requests,
            self.per.as_millis(),
            self.burst
        )
    }
}

/// What an admission control is asked about: the function (its namespace, id, name and
/// its own limits) and the call's context (its caller and trigger).
#[derive(Debug, Clone, Copy)]
pub struct AdmissionRequest<'a> {
    /// The function to run, already validated.
    pub function: &'a Function,
    /// The call's context.
    pub context: &'a InvocationContext,
}

/// One admitted call's hold on an admission control: whatever the control must give
/// back when the invocation ends (a concurrency slot, a lease). The engine keeps it for
/// the invocation's whole life and drops it at its end, whatever the end.
#[must_use = "dropping a permit ends the hold at once"]
pub struct Permit {
    _guard: Option<Box<dyn Any + Send + Sync>>,
}

impl Permit {
    /// A permit that holds nothing: what a control that only refuses (a rate) returns.
    pub fn free() -> Permit {
        Permit { _guard: None }
    }

    /// A permit holding `guard` until the invocation ends (its `Drop` is the release).
    pub fn holding(guard: impl Any + Send + Sync) -> Permit {
        Permit {
            _guard: Some(Box::new(guard)),
        }
    }
}

impl fmt::Debug for Permit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit")
            .field("holds", &self._guard.is_some())
            .finish()
    }
}

/// Decides whether a call may run now, and holds what it needs while the call runs.
///
/// The engine asks each control it was given, in order, after its own limits
/// (`fn_limits`, from [`crate::Config::admission`]), before anything is fetched,
/// compiled or instantiated, and keeps every permit until the invocation ends.
#[async_trait]
pub trait Admission: Send + Sync + fmt::Debug {
    /// Admits the call, or refuses it.
    ///
    /// # Errors
    ///
    /// A refusal is [`Error::RateLimited`] or [`Error::Overloaded`], naming the key and
    /// when to retry; the call is refused with it. Any other error means the control
    /// itself failed (a backend down): what happens then is the [`OnAdmissionError`]
    /// the control was registered with. A refusal must come without an unbounded wait.
    async fn admit(&self, request: &AdmissionRequest<'_>) -> Result<Permit>;
}

/// What the engine does when an admission control fails rather than refuses (an error
/// other than [`Error::RateLimited`] or [`Error::Overloaded`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OnAdmissionError {
    /// Log it as a warning and let the call through, as the Go engine did with its rate
    /// limiter: a broken limiter must not take the platform down.
    Allow,
    /// Refuse the call with the control's error: for a control that guards something a
    /// call must not run without (a quota that is billed).
    Refuse,
}

impl OnAdmissionError {
    /// Whether a call goes ahead when a control registered with this policy returned
    /// `error`: never for a refusal ([`Error::RateLimited`], [`Error::Overloaded`]);
    /// for a failure, when the policy is [`OnAdmissionError::Allow`] (the engine logs
    /// it as a warning).
    pub fn lets_through(self, error: &Error) -> bool {
        let refusal = matches!(
            error.root(),
            Error::RateLimited { .. } | Error::Overloaded { .. }
        );
        !refusal && self == OnAdmissionError::Allow
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quota_interval_and_validation() {
        let quota = RateQuota::per_second(4).with_burst(10);
        assert_eq!(quota.interval(), Duration::from_millis(250));
        assert_eq!(quota.to_string(), "4 per 1000 ms, burst 10");
        quota.validate("rate").unwrap();
        let cases = [
            (
                "rate.requests",
                RateQuota {
                    requests: 0,
                    ..quota
                },
            ),
            ("rate.burst", RateQuota { burst: 0, ..quota }),
            (
                "rate.per",
                RateQuota {
                    per: Duration::from_micros(10),
                    ..quota
                },
            ),
            (
                "rate.per",
                RateQuota {
                    per: Duration::from_secs(2 * 24 * 60 * 60),
                    ..quota
                },
            ),
        ];
        for (expected, quota) in cases {
            match quota.validate("rate") {
                Err(Error::Validation { field, .. }) => assert_eq!(field, expected),
                other => panic!("{expected}: {other:?}"),
            }
        }
    }

    #[test]
    fn quota_json_has_the_period_in_milliseconds() {
        let quota: RateQuota =
            serde_json::from_str(r#"{"requests": 10, "per": 60000, "burst": 5}"#).unwrap();
        assert_eq!(quota.per, Duration::from_secs(60));
        assert_eq!(quota.interval(), Duration::from_secs(6));
    }

    #[test]
    fn failure_policies() {
        let down = || Error::Unavailable {
            reason: "backend down".into(),
        };
        let refused = || Error::Overloaded {
            key: "global".into(),
            retry_after: Duration::from_secs(1),
        };
        assert!(OnAdmissionError::Allow.lets_through(&down()));
        assert!(!OnAdmissionError::Refuse.lets_through(&down()));
        // A refusal refuses, whatever the policy.
        assert!(!OnAdmissionError::Allow.lets_through(&refused()));
        assert!(!OnAdmissionError::Refuse.lets_through(&refused()));
    }

    #[test]
    fn a_permit_releases_its_guard_when_dropped() {
        let slot = std::sync::Arc::new(());
        let permit = Permit::holding(slot.clone());
        assert_eq!(std::sync::Arc::strong_count(&slot), 2);
        drop(permit);
        assert_eq!(std::sync::Arc::strong_count(&slot), 1);
        assert!(format!("{:?}", Permit::free()).contains("false"));
    }
}
