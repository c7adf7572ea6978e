//! Keyed rate limits on a fake clock: quotas per kind, the wait governor computes, a
//! function's own rate, and memory bounded under a million distinct callers.

use std::time::Duration;

use fn_core::RateQuota;
use fn_limits::{FakeRelativeClock, KeyKind, RateLimits};

const NONE: [Option<RateQuota>; 4] = [None; 4];

fn rate(per_second: u32, burst: u32) -> Option<RateQuota> {
    Some(RateQuota::per_second(per_second).with_burst(burst))
}

fn keys<'a>(namespace: &'a str, function: &'a str, caller: &'a str) -> [Option<&'a str>; 4] {
    [Some(""), Some(namespace), Some(function), Some(caller)]
}

#[test]
fn a_burst_then_the_wait_governor_computes_then_room_again() {
    let clock = FakeRelativeClock::default();
    let limits = RateLimits::with_fake_clock([None, None, None, rate(1, 2)], 1000, clock.clone());
    let k = keys("ns", "ns/f", "alice");
    assert!(limits.check(k, None).is_ok());
    assert!(limits.check(k, None).is_ok());
    let denied = limits.check(k, None).unwrap_err();
    assert_eq!(denied.key, "caller:alice");
    assert_eq!(denied.kind, KeyKind::Caller);
    assert_eq!(denied.retry_after, Duration::from_secs(1));
    clock.advance(Duration::from_millis(400));
    assert_eq!(
        limits.check(k, None).unwrap_err().retry_after,
        Duration::from_millis(600)
    );
    clock.advance(Duration::from_millis(600));
    assert!(limits.check(k, None).is_ok());
    assert!(limits.check(k, None).is_err());
}

#[test]
fn each_kind_refuses_with_its_own_key() {
    let clock = FakeRelativeClock::default();
    let one = rate(1, 1);
    let limits = RateLimits::with_fake_clock([one, None, None, None], 1000, clock.clone());
    assert!(limits.check(keys("a", "a/f", "x"), None).is_ok());
    assert_eq!(
        limits.check(keys("b", "b/g", "y"), None).unwrap_err().key,
        "global"
    );

    let limits = RateLimits::with_fake_clock([None, one, None, None], 1000, clock.clone());
    assert!(limits.check(keys("a", "a/f", "x"), None).is_ok());
    assert_eq!(
        limits.check(keys("a", "a/g", "y"), None).unwrap_err().key,
        "namespace:a"
    );
    assert!(
        limits.check(keys("b", "b/f", "x"), None).is_ok(),
        "another namespace"
    );

    let limits = RateLimits::with_fake_clock([None, None, one, None], 1000, clock);
    assert!(limits.check(keys("a", "a/f", "x"), None).is_ok());
    assert_eq!(
        limits.check(keys("a", "a/f", "y"), None).unwrap_err().key,
        "function:a/f"
    );
    assert!(
        limits.check(keys("a", "a/g", "x"), None).is_ok(),
        "another function"
    );
}

#[test]
fn no_quota_is_unlimited_and_a_call_without_a_caller_skips_that_kind() {
    let limits = RateLimits::with_fake_clock(NONE, 1000, FakeRelativeClock::default());
    for _ in 0..10_000 {
        assert!(limits.check(keys("a", "a/f", "x"), None).is_ok());
    }
    assert_eq!(
        limits.keys_kept(),
        0,
        "nothing kept for kinds without a quota"
    );
    let limits = RateLimits::with_fake_clock(
        [None, None, None, rate(1, 1)],
        1000,
        FakeRelativeClock::default(),
    );
    for _ in 0..100 {
        assert!(
            limits
                .check([None, Some("a"), Some("a/f"), None], None)
                .is_ok()
        );
    }
}

#[test]
fn a_functions_own_rate_replaces_the_default_and_a_new_rate_takes_effect() {
    let clock = FakeRelativeClock::default();
    let limits = RateLimits::with_fake_clock([None, None, rate(1, 1), None], 1000, clock);
    let k = keys("a", "a/f", "x");
    for _ in 0..5 {
        assert!(limits.check(k, rate(1, 5)).is_ok());
    }
    assert!(limits.check(k, rate(1, 5)).is_err());
    // Redeployed with a larger burst: a limiter of that rate.
    assert!(limits.check(k, rate(1, 10)).is_ok());
    // A rate of minutes: one call's room comes back every 20 s.
    let slow = Some(RateQuota {
        requests: 3,
        per: Duration::from_secs(60),
        burst: 1,
    });
    assert!(limits.check(keys("a", "a/g", "x"), slow).is_ok());
    let denied = limits.check(keys("a", "a/g", "x"), slow).unwrap_err();
    assert_eq!(denied.retry_after, Duration::from_secs(20));
}

#[test]
fn a_million_distinct_callers_keep_memory_bounded() {
    let clock = FakeRelativeClock::default();
    let limits = RateLimits::with_fake_clock([None, None, None, rate(1, 1)], 10_000, clock);
    for i in 0..1_000_000u32 {
        let caller = i.to_string();
        assert!(
            limits
                .check([None, None, None, Some(&caller)], None)
                .is_ok()
        );
    }
    let kept = limits.keys_kept();
    assert!(kept <= 10_000, "{kept} keys kept");
}

#[test]
fn namespaces_and_functions_beyond_the_cap_start_afresh_rather_than_grow() {
    let one = rate(1, 1);
    let limits =
        RateLimits::with_fake_clock([None, one, one, None], 100, FakeRelativeClock::default());
    for i in 0..10_000u32 {
        let namespace = format!("ns{i}");
        assert!(
            limits
                .check(keys(&namespace, &namespace, "x"), None)
                .is_ok()
        );
    }
    let kept = limits.keys_kept();
    assert!(kept <= 200, "{kept} keys kept");
}

/// Narrowest first: a caller over its own rate is refused by it before any shared limit
/// is asked, so a thousand refused calls spend no cell of the global, namespace or
/// function rates, which other callers share.
#[test]
fn an_abusive_caller_leaves_the_shared_rates_untouched() {
    let clock = FakeRelativeClock::default();
    let limits = RateLimits::with_fake_clock(
        [rate(1, 10), rate(1, 10), rate(1, 10), rate(1, 1)],
        1000,
        clock,
    );
    assert!(limits.check(keys("a", "a/f", "mallory"), None).is_ok());
    for _ in 0..1000 {
        let denied = limits.check(keys("a", "a/f", "mallory"), None).unwrap_err();
        assert_eq!(denied.key, "caller:mallory");
    }
    // Nine cells of each shared rate are left: mallory spent one, its refusals none.
    for caller in 0..9 {
        let caller = format!("alice-{caller}");
        assert!(
            limits.check(keys("a", "a/f", &caller), None).is_ok(),
            "{caller}"
        );
    }
    assert_eq!(
        limits
            .check(keys("a", "a/f", "bob"), None)
            .unwrap_err()
            .kind,
        KeyKind::Function,
        "the tenth shared cell was the only one mallory's allowed call spent"
    );
}

/// A call a shared limit refuses has spent only the narrower cells it passed: a
/// namespace over its rate does not drain the global rate the other namespaces share.
#[test]
fn a_namespace_over_its_rate_leaves_the_global_rate_to_the_others() {
    let clock = FakeRelativeClock::default();
    let limits = RateLimits::with_fake_clock([rate(1, 3), rate(1, 1), None, None], 1000, clock);
    assert!(limits.check(keys("noisy", "noisy/f", "x"), None).is_ok());
    for _ in 0..100 {
        let denied = limits
            .check(keys("noisy", "noisy/f", "x"), None)
            .unwrap_err();
        assert_eq!(denied.key, "namespace:noisy");
    }
    assert!(limits.check(keys("quiet", "quiet/f", "y"), None).is_ok());
    assert!(limits.check(keys("calm", "calm/f", "z"), None).is_ok());
    assert_eq!(
        limits
            .check(keys("other", "other/f", "w"), None)
            .unwrap_err()
            .key,
        "global"
    );
}
