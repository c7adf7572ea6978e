//! Keyed rate limits: one GCRA limiter (governor) per key, for the keys global,
//! namespace, function and caller, each kind with its own quota.
//!
//! Why a bounded cache of direct limiters rather than governor's keyed store: callers
//! are named by the outside world, and governor's keyed state grows by one entry per key
//! until `retain_recent` finds it indistinguishable from a fresh one — which a flood of
//! distinct callers, each seen once, never is in time. Here the callers' limiters live in
//! a moka cache of at most `max_keys` entries (TinyLFU keeps the busy keys), and the
//! other kinds' (deployed namespaces and functions) in a map cheaper to read;
//! a key evicted and seen again starts with a full burst, which is what a caller never
//! seen before gets too, so eviction never makes a limit stricter, and the global and
//! namespace limits still bound the total.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use fn_core::RateQuota;

use crate::deployed::DeployedMap;
use governor::clock::{Clock, DefaultClock, FakeRelativeClock};
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};

/// governor's quota for `rate` (see [`RateQuota::interval`]); a zero burst is taken as
/// one.
fn quota(rate: RateQuota) -> Quota {
    let burst = std::num::NonZeroU32::new(rate.burst).unwrap_or(std::num::NonZeroU32::MIN);
    Quota::with_period(rate.interval())
        .expect("an interval is at least 1 ns")
        .allow_burst(burst)
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
    /// Every kind, widest first: the order of the arrays of rates and keys that
    /// [`RateLimits`] takes (it checks them the other way round, narrowest first).
    pub const ALL: [KeyKind; 4] = [
        KeyKind::Global,
        KeyKind::Namespace,
        KeyKind::Function,
        KeyKind::Caller,
    ];

    /// A refusal's key for `value` of this kind: `global`, or `kind:value`
    /// (`namespace:orders`).
    #[must_use]
    pub fn key(self, value: &str) -> String {
        match self {
            KeyKind::Global => self.name().to_owned(),
            _ => format!("{}:{value}", self.name()),
        }
    }

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
    /// The kind of key that refused it.
    pub kind: KeyKind,
    /// `kind:value`, e.g. `caller:0xabc` or `global`.
    pub key: String,
    /// How long until the key has room for one call (governor's computation).
    pub retry_after: Duration,
}

type Limiter<C> = RateLimiter<NotKeyed, InMemoryState, C, NoOpMiddleware<<C as Clock>::Instant>>;

/// One key's limiter, and the rate it was made with (a function redeployed with another
/// rate gets a limiter of that rate).
struct Keyed<C: Clock> {
    rate: RateQuota,
    limiter: Limiter<C>,
}

/// Rate limits by key. Cheap to clone: clones share the limiters.
#[derive(Clone)]
pub struct RateLimits<C: Clock + Clone + Send + Sync + 'static = DefaultClock> {
    clock: C,
    rates: [Option<RateQuota>; 4],
    /// Per kind, its keys' limiters (the global kind has one key, the empty string).
    /// Looked up by `&str`: a key is copied only when its limiter is made.
    limiters: [Store<C>; 4],
}

/// Where one kind's limiters are kept. Callers are named by the outside world: theirs are
/// in a moka cache, which bounds them and keeps the busy ones. The other kinds' keys are
/// deployed namespaces and functions: a map behind a read-write lock, several times
/// cheaper to read than the cache, emptied if it ever outgrows `max_keys` (every key then
/// starts afresh, as an evicted caller does).
#[derive(Clone)]
enum Store<C: Clock> {
    Callers(moka::sync::Cache<String, Arc<Keyed<C>>>),
    Deployed(Arc<DeployedMap<Arc<Keyed<C>>>>),
}

impl<C: Clock + Send + Sync + 'static> Store<C> {
    /// `key`'s limiter of `rate`, made by `make` when there is none of that rate.
    fn get(&self, key: &str, rate: RateQuota, make: impl Fn() -> Arc<Keyed<C>>) -> Arc<Keyed<C>> {
        match self {
            Store::Callers(cache) => {
                let keyed = cache.get_with_by_ref(key, &make);
                if keyed.rate == rate {
                    return keyed;
                }
                let keyed = make();
                cache.insert(key.to_owned(), keyed.clone());
                keyed
            }
            // Past the cap every key starts afresh, as an evicted caller does.
            Store::Deployed(map) => map.get(key, |keyed| keyed.rate == rate, make, HashMap::clear),
        }
    }

    fn len(&self) -> u64 {
        match self {
            Store::Callers(cache) => {
                cache.run_pending_tasks();
                cache.entry_count()
            }
            Store::Deployed(map) => map.len() as u64,
        }
    }
}

impl<C: Clock + Clone + Send + Sync + 'static> std::fmt::Debug for RateLimits<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimits")
            .field("rates", &self.rates)
            .field("keys", &self.keys_kept())
            .finish_non_exhaustive()
    }
}

impl RateLimits<DefaultClock> {
    /// Limits with the given rate per kind, in [`KeyKind::ALL`]'s order (`None`:
    /// unlimited), keeping the state of at most `max_keys` keys of each kind, on the
    /// system clock.
    #[must_use]
    pub fn new(rates: [Option<RateQuota>; 4], max_keys: u64) -> RateLimits {
        RateLimits::with_clock(rates, max_keys, DefaultClock::default())
    }
}

impl RateLimits<FakeRelativeClock> {
    /// Limits on a clock that moves only when told (`FakeRelativeClock::advance`): for
    /// tests of rates and retry-after without sleeping.
    #[must_use]
    pub fn with_fake_clock(
        rates: [Option<RateQuota>; 4],
        max_keys: u64,
        clock: FakeRelativeClock,
    ) -> RateLimits<FakeRelativeClock> {
        RateLimits::with_clock(rates, max_keys, clock)
    }
}

impl<C: Clock + Clone + Send + Sync + 'static> RateLimits<C> {
    fn with_clock(rates: [Option<RateQuota>; 4], max_keys: u64, clock: C) -> RateLimits<C> {
        RateLimits {
            clock,
            rates,
            limiters: KeyKind::ALL.map(|kind| match kind {
                KeyKind::Caller => Store::Callers(moka::sync::Cache::new(max_keys.max(1))),
                _ => Store::Deployed(Arc::new(DeployedMap::new(
                    usize::try_from(max_keys).unwrap_or(usize::MAX),
                ))),
            }),
        }
    }

    /// Whether no kind has a rate: every call passes unless a function has its own.
    #[must_use]
    pub fn is_unlimited(&self) -> bool {
        self.rates.iter().all(Option::is_none)
    }

    /// Checks one call against each kind's limit in turn, narrowest first (caller,
    /// function, namespace, global), counting it against every limit it passes. `keys`
    /// gives each kind's key in [`KeyKind::ALL`]'s order (`None`: the call has none of
    /// that kind, e.g. an anonymous caller; the global key may be anything);
    /// `function_rate` is the function's own rate, which replaces the function kind's
    /// default.
    ///
    /// Why narrowest first: a limit spends its cell when it passes a call, even if a
    /// later limit refuses it. Checked widest first, every call a caller's own limit
    /// refuses would have spent a cell of the global, namespace and function limits, and
    /// one caller over its rate would drain the rate everyone shares. Narrowest first, a
    /// call refused by its own caller's limit touches nothing shared; a call refused by a
    /// shared limit has spent only the cells of the narrower ones it passed (its
    /// caller's, its function's), never another tenant's.
    ///
    /// # Errors
    ///
    /// The first key without room: [`Denied`] with the wait governor computes.
    pub fn check(
        &self,
        keys: [Option<&str>; 4],
        function_rate: Option<RateQuota>,
    ) -> Result<(), Denied> {
        for kind in KeyKind::ALL.into_iter().rev() {
            let key = keys[kind as usize];
            let rate = match kind {
                KeyKind::Function => function_rate.or(self.rates[kind as usize]),
                _ => self.rates[kind as usize],
            };
            let (Some(rate), Some(key)) = (rate, key) else {
                continue;
            };
            let key = if kind == KeyKind::Global { "" } else { key };
            let keyed = self.limiters[kind as usize].get(key, rate, || {
                Arc::new(Keyed {
                    rate,
                    limiter: RateLimiter::direct_with_clock(quota(rate), self.clock.clone()),
                })
            });
            if let Err(not_until) = keyed.limiter.check() {
                return Err(Denied {
                    kind,
                    key: kind.key(key),
                    retry_after: not_until.wait_time_from(self.clock.now()),
                });
            }
        }
        Ok(())
    }

    /// How many keys' state is kept, of every kind (after pending evictions have run).
    #[must_use]
    pub fn keys_kept(&self) -> u64 {
        self.limiters.iter().map(Store::len).sum()
    }
}
