//! Concurrency limits: how many invocations run at once, per function, per namespace and
//! in all, with a bounded wait for a slot.
//!
//! A slot is a [`ConcurrencyPermit`], held for the invocation's whole life and given back
//! when it is dropped, whatever the end (cancellation included). A call that finds no
//! free slot waits, but only if fewer than `max_waiters` calls already wait, and at most
//! `max_wait` in all: one deadline, set when the call asks, bounds its waits at every
//! level together (a call that waits for its function's slot, then its namespace's, then
//! a global one, is refused `max_wait` after it asked, not three times that). Otherwise
//! it is refused with [`Overloaded`] at once. Slots are taken from
//! the narrowest key outwards (function, namespace, global), so a call waiting for its
//! function's slot holds no global slot meanwhile. Each namespace may hold at most its
//! share of the global slots, so one namespace flooding the engine cannot take them all.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::KeyKind;
use crate::deployed::DeployedMap;

/// The settings of [`ConcurrencyLimits`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Concurrency {
    /// Invocations running at once in all; at least one.
    pub global: usize,
    /// The most of `global` one namespace may hold, in percent (1 to 100; rounded up to a
    /// whole slot).
    pub namespace_share_percent: u8,
    /// A function's limit when its definition gives none (`None`: only the others).
    pub function_default: Option<usize>,
    /// Calls that may wait for a slot at once; past it a call is refused at once.
    pub max_waiters: usize,
    /// The longest a call waits for a slot.
    pub max_wait: Duration,
}

impl Concurrency {
    /// The settings of an engine's [`fn_core::Config`]: its `admission` limits, and a
    /// global limit of [`fn_core::Config::max_concurrent`].
    #[must_use]
    pub fn of(config: &fn_core::Config) -> Concurrency {
        let admission = &config.admission;
        Concurrency {
            global: config.max_concurrent() as usize,
            namespace_share_percent: admission.namespace_share_percent,
            function_default: admission.function_max_concurrent.map(|n| n as usize),
            max_waiters: admission.max_waiters as usize,
            max_wait: admission.max_wait,
        }
    }
}

/// A refusal: no slot under `key` within the wait allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overloaded {
    /// The kind of key without a slot: global, namespace or function.
    pub kind: KeyKind,
    /// `global`, `namespace:NAME` or `function:ID` (the id the caller gave).
    pub key: String,
    /// When to try again: the longest wait allowed, at least a second.
    pub retry_after: Duration,
}

/// One invocation's slots; dropping it gives them back.
#[derive(Debug)]
pub struct ConcurrencyPermit {
    _slots: [Option<OwnedSemaphorePermit>; 3],
}

/// Concurrency limits. Cheap to clone: clones share the slots.
#[derive(Debug, Clone)]
pub struct ConcurrencyLimits {
    inner: Arc<Inner>,
}

/// Semaphores by key, each with the limit it was made with.
type Keyed = DeployedMap<(Arc<Semaphore>, usize)>;

#[derive(Debug)]
struct Inner {
    settings: Concurrency,
    /// Slots one namespace may hold, when fewer than the global ones.
    namespace_slots: Option<usize>,
    global: Arc<Semaphore>,
    /// Functions' and namespaces' semaphores. Keys are deployed functions and
    /// namespaces (not chosen by callers); idle ones are pruned. Looked up by `&str`: a
    /// key is copied only when its semaphore is made.
    functions: Keyed,
    namespaces: Keyed,
    waiting: AtomicUsize,
}

/// Keys kept before idle ones are pruned.
const PRUNE_ABOVE: usize = 10_000;

impl ConcurrencyLimits {
    /// Limits with `settings` (a `global` of zero is taken as one; a share outside
    /// 1..=100 as 100).
    #[must_use]
    pub fn new(settings: Concurrency) -> ConcurrencyLimits {
        let global = settings.global.max(1);
        let share = match settings.namespace_share_percent {
            share @ 1..=100 => usize::from(share),
            _ => 100,
        };
        let namespace_slots = (global * share).div_ceil(100).clamp(1, global);
        ConcurrencyLimits {
            inner: Arc::new(Inner {
                settings,
                // A share of every slot is the global limit itself: no namespace key then.
                namespace_slots: (namespace_slots < global).then_some(namespace_slots),
                global: Arc::new(Semaphore::new(global)),
                functions: DeployedMap::new(PRUNE_ABOVE),
                namespaces: DeployedMap::new(PRUNE_ABOVE),
                waiting: AtomicUsize::new(0),
            }),
        }
    }

    /// Takes a slot for one invocation of `function` in `namespace` (with the function's
    /// own limit, if its definition gives one), waiting as the settings allow.
    ///
    /// # Errors
    ///
    /// [`Overloaded`] naming the key without a free slot.
    pub async fn acquire(
        &self,
        namespace: &str,
        function: &str,
        function_limit: Option<usize>,
    ) -> Result<ConcurrencyPermit, Overloaded> {
        let inner = &self.inner;
        // One deadline for every wait below; a far one when the wait allowed overflows it.
        let now = tokio::time::Instant::now();
        let deadline = now
            .checked_add(inner.settings.max_wait)
            .unwrap_or_else(|| now + Duration::from_secs(86_400 * 365));
        let mut slots = [None, None, None];
        if let Some(limit) = function_limit.or(inner.settings.function_default) {
            let semaphore = keyed(&inner.functions, function, limit.max(1));
            slots[0] = Some(
                self.take(KeyKind::Function, function, semaphore, deadline)
                    .await?,
            );
        }
        if let Some(namespace_slots) = inner.namespace_slots {
            let semaphore = keyed(&inner.namespaces, namespace, namespace_slots);
            slots[1] = Some(
                self.take(KeyKind::Namespace, namespace, semaphore, deadline)
                    .await?,
            );
        }
        slots[2] = Some(
            self.take(KeyKind::Global, "", inner.global.clone(), deadline)
                .await?,
        );
        Ok(ConcurrencyPermit { _slots: slots })
    }

    /// Invocations waiting for a slot now.
    #[must_use]
    pub fn waiting(&self) -> usize {
        self.inner.waiting.load(Ordering::Relaxed)
    }

    /// A slot of `semaphore`, at once or before `deadline` (the call's one deadline for
    /// all its waits).
    async fn take(
        &self,
        kind: KeyKind,
        key: &str,
        semaphore: Arc<Semaphore>,
        deadline: tokio::time::Instant,
    ) -> Result<OwnedSemaphorePermit, Overloaded> {
        let settings = &self.inner.settings;
        let overloaded = || Overloaded {
            kind,
            key: kind.key(key),
            retry_after: settings.max_wait.max(Duration::from_secs(1)),
        };
        match semaphore.clone().try_acquire_owned() {
            Ok(permit) => return Ok(permit),
            Err(tokio::sync::TryAcquireError::Closed) => return Err(overloaded()),
            Err(tokio::sync::TryAcquireError::NoPermits) => {}
        }
        let waiting = &self.inner.waiting;
        if waiting.fetch_add(1, Ordering::AcqRel) >= settings.max_waiters {
            waiting.fetch_sub(1, Ordering::AcqRel);
            return Err(overloaded());
        }
        // Counted out on every path, the caller dropping this future included.
        let _waiter = Waiter(waiting);
        match tokio::time::timeout_at(deadline, semaphore.acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(overloaded()),
        }
    }
}

/// The semaphore of `key` in `map` with `limit` slots (a new one when the limit
/// changed).
fn keyed(map: &Keyed, key: &str, limit: usize) -> Arc<Semaphore> {
    let (semaphore, _) = map.get(
        key,
        |(_, made_with)| *made_with == limit,
        || (Arc::new(Semaphore::new(limit)), limit),
        // A key no permit holds (only the map has its semaphore) costs nothing to drop.
        |map| map.retain(|_, (semaphore, _)| Arc::strong_count(semaphore) > 1),
    );
    semaphore
}

/// One waiting call, counted out when dropped.
struct Waiter<'a>(&'a AtomicUsize);

impl Drop for Waiter<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}
