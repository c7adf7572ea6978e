//! Concurrency limits: how many invocations run at once, per function, per namespace and
//! in all, with a bounded wait for a slot.
//!
//! A slot is a [`ConcurrencyPermit`], held for the invocation's whole life and given back
//! when it is dropped, whatever the end (cancellation included). A call that finds no
//! free slot waits, but only if fewer than `max_waiters` calls already wait, and at most
//! `max_wait`; otherwise it is refused with [`Overloaded`] at once. Slots are taken from
//! the narrowest key outwards (function, namespace, global), so a call waiting for its
//! function's slot holds no global slot meanwhile. Each namespace may hold at most its
//! share of the global slots, so one namespace flooding the engine cannot take them all.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The settings of [`ConcurrencyLimits`].
#[derive(Debug, Clone, PartialEq)]
pub struct Concurrency {
    /// Invocations running at once in all; at least one.
    pub global: usize,
    /// The most of `global` one namespace may hold, as a fraction in (0, 1].
    pub namespace_share: f64,
    /// A function's limit when its definition gives none (`None`: only the others).
    pub function_default: Option<usize>,
    /// Calls that may wait for a slot at once; past it a call is refused at once.
    pub max_waiters: usize,
    /// The longest a call waits for a slot.
    pub max_wait: Duration,
}

/// A refusal: no slot under `key` within the wait allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overloaded {
    /// `global`, `namespace:NAME` or `function:ID` (the id the caller gave).
    pub key: String,
    /// When to try again: the longest wait allowed, at least a second.
    pub retry_after: Duration,
}

/// One invocation's slots; dropping it gives them back.
#[derive(Debug)]
pub struct ConcurrencyPermit {
    _slots: Vec<OwnedSemaphorePermit>,
}

/// Concurrency limits. Cheap to clone: clones share the slots.
#[derive(Debug, Clone)]
pub struct ConcurrencyLimits {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    settings: Concurrency,
    namespace_slots: usize,
    global: Arc<Semaphore>,
    /// Per key: its semaphore and the limit it was made with. Keys are deployed
    /// functions and namespaces (not chosen by callers); idle ones are pruned.
    keyed: Mutex<HashMap<String, (Arc<Semaphore>, usize)>>,
    waiting: AtomicUsize,
}

/// Keys kept before idle ones are pruned.
const PRUNE_ABOVE: usize = 10_000;

impl ConcurrencyLimits {
    /// Limits with `settings` (a `global` of zero is taken as one; a share outside
    /// (0, 1] as 1).
    #[must_use]
    pub fn new(settings: Concurrency) -> ConcurrencyLimits {
        let global = settings.global.max(1);
        let share = if settings.namespace_share > 0.0 && settings.namespace_share <= 1.0 {
            settings.namespace_share
        } else {
            1.0
        };
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss,
            reason = "a share of a slot count, rounded up, at least one"
        )]
        let namespace_slots = ((global as f64 * share).ceil() as usize).clamp(1, global);
        ConcurrencyLimits {
            inner: Arc::new(Inner {
                settings,
                namespace_slots,
                global: Arc::new(Semaphore::new(global)),
                keyed: Mutex::new(HashMap::new()),
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
        let mut slots = Vec::with_capacity(3);
        if let Some(limit) = function_limit.or(inner.settings.function_default) {
            let key = format!("function:{function}");
            let semaphore = self.keyed(&key, limit.max(1));
            slots.push(self.take(&key, semaphore).await?);
        }
        let key = format!("namespace:{namespace}");
        let semaphore = self.keyed(&key, inner.namespace_slots);
        slots.push(self.take(&key, semaphore).await?);
        slots.push(self.take("global", inner.global.clone()).await?);
        Ok(ConcurrencyPermit { _slots: slots })
    }

    /// Invocations waiting for a slot now.
    #[must_use]
    pub fn waiting(&self) -> usize {
        self.inner.waiting.load(Ordering::Relaxed)
    }

    /// The semaphore of `key` with `limit` slots (a new one when the limit changed).
    fn keyed(&self, key: &str, limit: usize) -> Arc<Semaphore> {
        let mut keyed = self
            .inner
            .keyed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if keyed.len() > PRUNE_ABOVE {
            // A key no permit holds (only the map has its semaphore) costs nothing to drop.
            keyed.retain(|_, (semaphore, _)| Arc::strong_count(semaphore) > 1);
        }
        match keyed.get(key) {
            Some((semaphore, made_with)) if *made_with == limit => semaphore.clone(),
            _ => {
                let semaphore = Arc::new(Semaphore::new(limit));
                keyed.insert(key.to_owned(), (semaphore.clone(), limit));
                semaphore
            }
        }
    }

    /// A slot of `semaphore`, at once or within the wait allowed.
    async fn take(
        &self,
        key: &str,
        semaphore: Arc<Semaphore>,
    ) -> Result<OwnedSemaphorePermit, Overloaded> {
        let settings = &self.inner.settings;
        let overloaded = || Overloaded {
            key: key.to_owned(),
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
        match tokio::time::timeout(settings.max_wait, semaphore.acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(overloaded()),
        }
    }
}

/// One waiting call, counted out when dropped.
struct Waiter<'a>(&'a AtomicUsize);

impl Drop for Waiter<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}
