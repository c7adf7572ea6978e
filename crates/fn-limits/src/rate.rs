//! Keyed rate limits: one GCRA limiter (governor) per key, for the keys global,
//! namespace, function and caller, each kind with its own quota.
//!
//! Why a bounded cache of direct limiters rather than governor's keyed store: callers
//! are named by the outside world, and governor's keyed state grows by one entry per key
//! until `retain_recent` finds it indistinguishable from a fresh one — which a flood of
//! distinct callers, each seen once, never is in time. Here the limiters of each kind
//! live in a moka cache of at most `max_keys` entries (TinyLFU keeps the busy keys);
//! a key evicted and seen again starts with a full burst, which is what a caller never
//! seen before gets too, so eviction never makes a limit stricter, and the global and
//! namespace limits still bound the total.

use std::sync::Arc;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock, FakeRelativeClock};
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};

/// A rate: `per_second` calls on average, up to `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    /// Sustained calls per second; more than zero.
    pub per_second: f64,
    /// Calls allowed at once after a quiet period; at least one.
    pub burst: u32,
}

impl Rate {
    /// governor's quota for this rate, or `None` when it cannot be one (a rate that is
    /// not a positive finite number, or a zero burst).
    #[must_use]
    pub fn quota(self) -> Option<Quota> {
        if !(self.per_second.is_finite() && self.per_second > 0.0) {
            return None;
        }
        let period = Duration::try_from_secs_f64(1.0 / self.per_second).ok()?;
        let burst = std::num::NonZeroU32::new(self.burst)?;
        Some(Quota::with_period(period.max(Duration::from_nanos(1)))?.allow_burst(burst))
    }
}

/// What a rate limit is kept by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyKind {
    /// Every call of the engine.
    Global,
    /// The calls of one namespace.
    Namespace,
    /// The calls of one function (namespace and name).
    Function,
    /// The calls of one caller, whoever they call.
    Caller,
}

impl KeyKind {
    /// Every kind, in the order they are checked.
    pub const ALL: [KeyKind; 4] = [
        KeyKind::Global,
        KeyKind::Namespace,
        KeyKind::Function,
        KeyKind::Caller,
    ];

    /// Its name in a refusal's key (`namespace:orders`).
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            KeyKind::Global => "global",
            KeyKind::Namespace => "namespace",
            KeyKind::Function => "function",
            KeyKind::Caller => "caller",
        }
    }
}

/// A refused call: which key refused it, and when a call under that key may succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied {
    /// `kind:value`, e.g. `caller:0xabc` or `global`.
    pub key: String,
    /// How long until the key has room for one call (governor's computation).
    pub retry_after: Duration,
}

type Limiter<C> = RateLimiter<NotKeyed, InMemoryState, C, NoOpMiddleware<<C as Clock>::Instant>>;

/// Rate limits by key. Cheap to clone: clones share the limiters.
#[derive(Clone)]
pub struct RateLimits<C: Clock + Clone + Send + Sync + 'static = DefaultClock> {
    clock: C,
    quotas: [Option<Quota>; 4],
    limiters: moka::sync::Cache<LimiterKey, Arc<Limiter<C>>>,
}

/// A limiter's identity: its key, and the quota it was made with (a function redeployed
/// with another rate gets a limiter of that rate).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct LimiterKey {
    kind: KeyKind,
    key: String,
    period: Duration,
    burst: u32,
}

impl<C: Clock + Clone + Send + Sync + 'static> std::fmt::Debug for RateLimits<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimits")
            .field("quotas", &self.quotas)
            .field("keys", &self.limiters.entry_count())
            .finish_non_exhaustive()
    }
}

impl RateLimits<DefaultClock> {
    /// Limits with the given rate per kind (`None`: unlimited), keeping at most
    /// `max_keys` keys' state, on the system clock.
    #[must_use]
    pub fn new(rates: [Option<Rate>; 4], max_keys: u64) -> RateLimits {
        RateLimits::with_clock(rates, max_keys, DefaultClock::default())
    }
}

impl RateLimits<FakeRelativeClock> {
    /// Limits on a clock that moves only when told (`FakeRelativeClock::advance`): for
    /// tests of rates and retry-after without sleeping.
    #[must_use]
    pub fn with_fake_clock(
        rates: [Option<Rate>; 4],
        max_keys: u64,
        clock: FakeRelativeClock,
    ) -> RateLimits<FakeRelativeClock> {
        RateLimits::with_clock(rates, max_keys, clock)
    }
}

impl<C: Clock + Clone + Send + Sync + 'static> RateLimits<C> {
    fn with_clock(rates: [Option<Rate>; 4], max_keys: u64, clock: C) -> RateLimits<C> {
        RateLimits {
            clock,
            quotas: rates.map(|rate| rate.and_then(Rate::quota)),
            limiters: moka::sync::Cache::new(max_keys),
        }
    }

    /// Checks one call against each kind's limit in turn (global, namespace, function,
    /// caller), counting it against every limit it passes. `keys` gives each kind's key
    /// (`None`: the call has none of that kind, e.g. an anonymous caller); `function_rate`
    /// is the function's own rate, which replaces the function kind's default.
    ///
    /// # Errors
    ///
    /// The first key without room: [`Denied`] with the wait governor computes.
    pub fn check(
        &self,
        keys: [Option<&str>; 4],
        function_rate: Option<Rate>,
    ) -> Result<(), Denied> {
        for (kind, key) in KeyKind::ALL.into_iter().zip(keys) {
            let quota = match kind {
                KeyKind::Function => function_rate
                    .and_then(Rate::quota)
                    .or(self.quotas[kind as usize]),
                _ => self.quotas[kind as usize],
            };
            let (Some(quota), Some(key)) = (quota, key) else {
                continue;
            };
            let id = LimiterKey {
                kind,
                key: key.to_owned(),
                period: quota.replenish_interval(),
                burst: quota.burst_size().get(),
            };
            let limiter = self.limiters.get_with(id, || {
                Arc::new(RateLimiter::direct_with_clock(quota, self.clock.clone()))
            });
            if let Err(not_until) = limiter.check() {
                return Err(Denied {
                    key: match kind {
                        KeyKind::Global => kind.name().to_owned(),
                        _ => format!("{}:{key}", kind.name()),
                    },
                    retry_after: not_until.wait_time_from(self.clock.now()),
                });
            }
        }
        Ok(())
    }

    /// How many keys' state is kept (after pending evictions have run).
    #[must_use]
    pub fn keys_kept(&self) -> u64 {
        self.limiters.run_pending_tasks();
        self.limiters.entry_count()
    }
}
