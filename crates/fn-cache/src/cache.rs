//! The cache: moka in memory, the artifact tier on disk under it, one load per CID
//! however many callers miss at once, and the failures it remembers.
//!
//! Why a load is its own task: callers of an engine go away (a client disconnects, a
//! caller's own timeout), and a compile that several callers wait for must neither be
//! cancelled by the first one leaving nor leave the others waiting behind a future that
//! nobody polls. The load is spawned once; every caller awaits a shared handle to it.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use fn_core::Cid;
use futures::future::{BoxFuture, Shared};
use moka::notification::RemovalCause;

use crate::artifact::{ArtifactCodec, ArtifactStore};
use crate::negative::{Clock, Negatives, Remember};
use crate::stats::{CacheStats, Counters, bump};

mod flight;

/// A value that reports its own weight: what it holds in memory, in bytes. The cache's
/// capacity is a sum of these.
pub trait Weigh {
    /// The value's weight in bytes.
    fn weight_bytes(&self) -> u64;
}

/// Why a value left the memory tier, as the removal listener hears it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Removal {
    /// Pushed out to make room, or refused admission (TinyLFU judged it colder than
    /// what it would have replaced).
    Evicted,
    /// Removed by [`Cache::invalidate`] or [`Cache::invalidate_all`].
    Invalidated,
    /// Replaced by a newer value for the same CID.
    Replaced,
}

/// A load's task panicked: the error every waiter of that load gets. The cache's error
/// type is made from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadPanicked {
    /// What was being loaded.
    pub cid: Cid,
    /// The panic's message, when it had one.
    pub message: String,
}

impl fmt::Display for LoadPanicked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "loading {} panicked: {}", self.cid, self.message)
    }
}

impl std::error::Error for LoadPanicked {}

impl From<LoadPanicked> for fn_core::Error {
    fn from(panicked: LoadPanicked) -> fn_core::Error {
        fn_core::Error::Internal {
            message: panicked.to_string(),
        }
    }
}

type Listener<V> = Arc<dyn Fn(&Cid, &Arc<V>, Removal) + Send + Sync>;
type Policy<E> = Arc<dyn Fn(&E) -> Remember + Send + Sync>;
type Flight<V, E> = Shared<BoxFuture<'static, Result<Arc<V>, E>>>;

/// Failures remembered at most, unless [`CacheBuilder::max_negative_entries`] says
/// otherwise.
const DEFAULT_MAX_NEGATIVE_ENTRIES: usize = 4096;

/// Builds a [`Cache`].
pub struct CacheBuilder<V, E> {
    capacity_bytes: u64,
    policy: Policy<E>,
    max_negative_entries: usize,
    listener: Option<Listener<V>>,
    artifacts: Option<(ArtifactStore, Arc<dyn ArtifactCodec<V>>)>,
    clock: Clock,
}

impl<V, E> fmt::Debug for CacheBuilder<V, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CacheBuilder")
            .field("capacity_bytes", &self.capacity_bytes)
            .field("max_negative_entries", &self.max_negative_entries)
            .field("artifacts", &self.artifacts.as_ref().map(|a| &a.0))
            .finish_non_exhaustive()
    }
}

impl<V, E> CacheBuilder<V, E>
where
    V: Weigh + Send + Sync + 'static,
    E: Clone + From<LoadPanicked> + Send + Sync + 'static,
{
    /// Which failures to remember, and how long (default: none). A remembered failure
    /// is returned at once to every later lookup, without loading, until it expires or
    /// is invalidated.
    pub fn remember_failures(
        mut self,
        policy: impl Fn(&E) -> Remember + Send + Sync + 'static,
    ) -> Self {
        self.policy = Arc::new(policy);
        self
    }

    /// The most failures remembered at once (default 4096); past it, expired ones go
    /// first, then any one.
    pub fn max_negative_entries(mut self, max: usize) -> Self {
        self.max_negative_entries = max;
        self
    }

    /// Called whenever a value leaves the memory tier, with why.
    pub fn on_removal(
        mut self,
        listener: impl Fn(&Cid, &Arc<V>, Removal) + Send + Sync + 'static,
    ) -> Self {
        self.listener = Some(Arc::new(listener));
        self
    }

    /// Puts the artifact tier under the memory tier: a miss in memory reads `store`
    /// before loading, and every value loaded is written there in the background,
    /// serialized by `codec`. The store must have been opened with the codec's
    /// fingerprint.
    pub fn artifacts(mut self, store: ArtifactStore, codec: Arc<dyn ArtifactCodec<V>>) -> Self {
        self.artifacts = Some((store, codec));
        self
    }

    /// Where the cache reads the time for expiring remembered failures (default
    /// [`Instant::now`]): tests move a clock of their own.
    pub fn clock(mut self, clock: impl Fn() -> Instant + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The cache.
    pub fn build(self) -> Cache<V, E> {
        let counters = Arc::new(Counters::default());
        let listener = self.listener;
        let evictions = counters.clone();
        let entries = moka::future::Cache::builder()
            .max_capacity(self.capacity_bytes)
            .weigher(|_: &Cid, value: &Arc<V>| {
                u32::try_from(value.weight_bytes()).unwrap_or(u32::MAX)
            })
            .eviction_listener(move |cid: Arc<Cid>, value: Arc<V>, cause: RemovalCause| {
                let removal = match cause {
                    RemovalCause::Size | RemovalCause::Expired => {
                        bump(&evictions.evictions);
                        Removal::Evicted
                    }
                    RemovalCause::Explicit => Removal::Invalidated,
                    RemovalCause::Replaced => Removal::Replaced,
                };
                if let Some(listener) = &listener {
                    listener(&cid, &value, removal);
                }
            })
            .build();
        let (artifacts, codec) = match self.artifacts {
            Some((store, codec)) => (Some(Arc::new(store)), Some(codec)),
            None => (None, None),
        };
        Cache {
            inner: Arc::new(Inner {
                entries,
                capacity_bytes: self.capacity_bytes,
                inflight: Mutex::new(HashMap::new()),
                negatives: Negatives::new(self.max_negative_entries, self.clock),
                policy: self.policy,
                counters,
                artifacts,
                codec,
                writes: Mutex::new(Vec::new()),
            }),
        }
    }
}

/// A cache of values keyed by [`Cid`], weighted in bytes; see the crate's documentation.
/// Cheap to clone: clones share everything. Loads run as tokio tasks, so it is used
/// inside a tokio runtime.
pub struct Cache<V, E> {
    inner: Arc<Inner<V, E>>,
}

impl<V, E> Clone for Cache<V, E> {
    fn clone(&self) -> Self {
        Cache {
            inner: self.inner.clone(),
        }
    }
}

impl<V, E> fmt::Debug for Cache<V, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cache")
            .field("capacity_bytes", &self.inner.capacity_bytes)
            .field("artifacts", &self.inner.artifacts)
            .finish_non_exhaustive()
    }
}

struct Inner<V, E> {
    entries: moka::future::Cache<Cid, Arc<V>>,
    capacity_bytes: u64,
    /// Loads under way, by CID.
    inflight: Mutex<HashMap<Cid, Flight<V, E>>>,
    negatives: Negatives<E>,
    policy: Policy<E>,
    counters: Arc<Counters>,
    artifacts: Option<Arc<ArtifactStore>>,
    codec: Option<Arc<dyn ArtifactCodec<V>>>,
    /// Artifact writes under way, so [`Cache::flush`] can wait for them.
    writes: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

/// What a lookup found.
#[derive(Debug)]
pub enum Lookup<V, E> {
    /// The value, in memory.
    Hit(Arc<V>),
    /// A remembered failure: the error the last load of this CID ended with.
    Refused(E),
    /// Not in memory: [`Miss::load`] finds it on disk or loads it.
    Miss(Miss<V, E>),
}

/// A lookup that missed memory; [`Miss::load`] completes it.
#[derive(Debug)]
pub struct Miss<V, E> {
    cache: Cache<V, E>,
    cid: Cid,
}

impl<V, E> Cache<V, E>
where
    V: Weigh + Send + Sync + 'static,
    E: Clone + From<LoadPanicked> + Send + Sync + 'static,
{
    /// A builder for a cache holding at most `capacity_bytes` of value weight in memory.
    pub fn builder(capacity_bytes: u64) -> CacheBuilder<V, E> {
        CacheBuilder {
            capacity_bytes,
            policy: Arc::new(|_: &E| Remember::Never),
            max_negative_entries: DEFAULT_MAX_NEGATIVE_ENTRIES,
            listener: None,
            artifacts: None,
            clock: Arc::new(Instant::now),
        }
    }

    /// Looks `cid` up in memory and among the remembered failures, counting a hit or a
    /// miss (and a refusal).
    pub async fn lookup(&self, cid: &Cid) -> Lookup<V, E> {
        let counters = &self.inner.counters;
        if let Some(value) = self.inner.entries.get(cid).await {
            bump(&counters.hits);
            return Lookup::Hit(value);
        }
        bump(&counters.misses);
        if let Some(error) = self.inner.negatives.get(cid) {
            bump(&counters.refusals);
            return Lookup::Refused(error);
        }
        Lookup::Miss(Miss {
            cache: self.clone(),
            cid: *cid,
        })
    }

    /// The value for `cid`: from memory, else as [`Miss::load`] finds or loads it.
    ///
    /// # Errors
    ///
    /// A remembered failure, or the load's error (the same one for every caller that
    /// waited for that load).
    pub async fn get_or_try_insert<F, Fut>(&self, cid: &Cid, load: F) -> Result<Arc<V>, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, E>> + Send + 'static,
    {
        match self.lookup(cid).await {
            Lookup::Hit(value) => Ok(value),
            Lookup::Refused(error) => Err(error),
            Lookup::Miss(miss) => miss.load(load).await,
        }
    }

    /// The value for `cid` if it is in memory, counting a hit or a miss.
    pub async fn get(&self, cid: &Cid) -> Option<Arc<V>> {
        match self.lookup(cid).await {
            Lookup::Hit(value) => Some(value),
            _ => None,
        }
    }

    /// Whether `cid` is in memory, without counting a lookup.
    pub fn contains(&self, cid: &Cid) -> bool {
        self.inner.entries.contains_key(cid)
    }

    /// Puts `value` in memory for `cid` (TinyLFU may still decline to keep it).
    pub async fn insert(&self, cid: Cid, value: V) -> Arc<V> {
        let value = Arc::new(value);
        self.inner.entries.insert(cid, value.clone()).await;
        value
    }

    /// The failure remembered for `cid`, if any, without counting a lookup.
    pub fn remembered_failure(&self, cid: &Cid) -> Option<E> {
        self.inner.negatives.get(cid)
    }

    /// Forgets everything about `cid`: its value in memory, its artifact on disk and
    /// any remembered failure, so that the next lookup loads it afresh. Returns whether
    /// a value was in memory. A load under way still completes and is cached.
    pub async fn invalidate(&self, cid: &Cid) -> bool {
        self.inner.negatives.forget(cid);
        if let Some(store) = &self.inner.artifacts {
            store.remove(cid);
        }
        self.inner.entries.remove(cid).await.is_some()
    }

    /// Drops every value from memory and forgets every failure; the artifacts on disk
    /// stay (they are still good for a later start).
    pub fn invalidate_all(&self) {
        self.inner.negatives.clear();
        self.inner.entries.invalidate_all();
    }

    /// Waits for the artifact writes under way, such as before a process exits.
    pub async fn flush(&self) {
        let writes = std::mem::take(&mut *lock(&self.inner.writes));
        for write in writes {
            let _ = write.await;
        }
    }

    /// What the cache holds and has done. Runs moka's pending maintenance first, so the
    /// entry count and the weighted size include every insert and eviction before it.
    pub async fn stats(&self) -> CacheStats {
        self.inner.entries.run_pending_tasks().await;
        let mut stats = CacheStats {
            entries: self.inner.entries.entry_count(),
            weighted_size_bytes: self.inner.entries.weighted_size(),
            capacity_bytes: self.inner.capacity_bytes,
            negative_entries: self.inner.negatives.len() as u64,
            ..CacheStats::default()
        };
        self.inner.counters.fill(&mut stats);
        stats
    }

    /// The artifact tier, when there is one.
    pub fn artifact_store(&self) -> Option<&ArtifactStore> {
        self.inner.artifacts.as_deref()
    }
}

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
