//! [`TraceContext`]: the caller's W3C trace context, carried into the invocation so that
//! its span joins the caller's trace.
//!
//! Why parsed here, at the edge: `traceparent` and `tracestate` come from the outside
//! world (HTTP headers, the `TRACEPARENT` environment variable); the W3C rules say a
//! malformed one is ignored and a new trace started, so only a valid one gets in.

use serde::{Deserialize, Serialize};

/// The most bytes of `tracestate` kept (the W3C's limit for what a vendor must
/// propagate); a longer one is dropped.
pub const MAX_TRACESTATE_BYTES: usize = 512;

/// A caller's trace context: a valid W3C `traceparent`, and its `tracestate` if any.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceContext {
    traceparent: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tracestate: Option<String>,
}

impl TraceContext {
    /// The context of `traceparent` and `tracestate`, or `None` when `traceparent` is not
    /// valid (W3C Trace Context level 1: version, 32 hex digits of trace id and 16 of
    /// parent id, neither all zeros, flags; lower case). A `tracestate` that is longer
    /// than [`MAX_TRACESTATE_BYTES`], empty, or not printable ASCII is dropped.
    #[must_use]
    pub fn parse(traceparent: &str, tracestate: Option<&str>) -> Option<TraceContext> {
        let traceparent = traceparent.trim();
        if !valid_traceparent(traceparent) {
            return None;
        }
        let tracestate = tracestate
            .map(str::trim)
            .filter(|state| {
                !state.is_empty()
                    && state.len() <= MAX_TRACESTATE_BYTES
                    && state.bytes().all(|b| (b' '..=b'~').contains(&b))
            })
            .map(str::to_owned);
        Some(TraceContext {
            traceparent: traceparent.to_owned(),
            tracestate,
        })
    }

    /// The `traceparent`, as given.
    #[must_use]
    pub fn traceparent(&self) -> &str {
        &self.traceparent
    }

    /// The `tracestate`, when one was given and kept.
    #[must_use]
    pub fn tracestate(&self) -> Option<&str> {
        self.tracestate.as_deref()
    }

    /// The trace id: 32 lower-case hex digits.
    #[must_use]
    pub fn trace_id(&self) -> &str {
        &self.traceparent[3..35]
    }

    /// The caller's span id (the W3C `parent-id`): 16 lower-case hex digits.
    #[must_use]
    pub fn parent_id(&self) -> &str {
        &self.traceparent[36..52]
    }

    /// The trace flags, of which bit 0 is `sampled`: whether the caller records this
    /// trace.
    #[must_use]
    pub fn flags(&self) -> u8 {
        u8::from_str_radix(&self.traceparent[53..55], 16).unwrap_or(0)
    }
}

fn valid_traceparent(value: &str) -> bool {
    let hex = |s: &str, len: usize| {
        s.len() == len
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    let zeros = |s: &str| s.bytes().all(|b| b == b'0');
    let mut parts = value.split('-');
    let (Some(version), Some(trace_id), Some(parent_id), Some(flags)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let rest_allowed = match version {
        "00" => parts.next().is_none(),
        "ff" => return false,
        // A later version may add fields after these.
        _ => true,
    };
    rest_allowed
        && hex(version, 2)
        && hex(trace_id, 32)
        && !zeros(trace_id)
        && hex(parent_id, 16)
        && !zeros(parent_id)
        && hex(flags, 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn a_valid_traceparent_is_kept_with_its_state() {
        let context = TraceContext::parse(VALID, Some("congo=t61rcWkgMzE")).unwrap();
        assert_eq!(context.traceparent(), VALID);
        assert_eq!(context.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(context.tracestate(), Some("congo=t61rcWkgMzE"));
        let later = "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra";
        assert!(
            TraceContext::parse(later, None).is_some(),
            "a later version"
        );
    }

    #[test]
    fn an_invalid_traceparent_is_ignored() {
        let invalid = [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
        ];
        for value in invalid {
            assert_eq!(TraceContext::parse(value, None), None, "{value:?}");
        }
    }

    #[test]
    fn a_state_too_long_or_unprintable_is_dropped() {
        let long = "a=".to_owned() + &"b".repeat(MAX_TRACESTATE_BYTES);
        for state in [long.as_str(), "a=\u{1b}[2J", ""] {
            let context = TraceContext::parse(VALID, Some(state)).unwrap();
            assert_eq!(context.tracestate(), None, "{state:?}");
        }
    }
}
