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
use futures::FutureExt as _;
use futures::future::{BoxFuture, Shared};
use moka::notification::RemovalCause;

use crate::artifact::{ArtifactCodec, ArtifactStore};
use crate::negative::{Clock, Negatives, Remember};
use crate::stats::{CacheStats, Counters, bump};

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

impl<V, E> Miss<V, E>
where
    V: Weigh + Send + Sync + 'static,
    E: Clone + From<LoadPanicked> + Send + Sync + 'static,
{
    /// The CID that missed.
    pub fn cid(&self) -> &Cid {
        &self.cid
    }

    /// Finds the value: joins the load of this CID already under way, else (unless a
    /// load ended meanwhile) starts one as its own task: the artifact on disk if there
    /// is a good one, else `load`. The value is cached, and, when it was loaded, written
    /// to disk in the background. A failure is remembered as the cache's policy says.
    ///
    /// Dropping the returned future only stops this caller's wait: the load goes on for
    /// the others and is cached.
    ///
    /// # Errors
    ///
    /// The load's error, the same for every caller that waited for it; a remembered
    /// failure of a load that ended meanwhile; `E::from(LoadPanicked)` when the load
    /// panicked.
    pub async fn load<F, Fut>(self, load: F) -> Result<Arc<V>, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, E>> + Send + 'static,
    {
        let inner = &self.cache.inner;
        let cid = self.cid;
        let mut load = Some(load);
        loop {
            let flight = {
                let mut inflight = lock(&inner.inflight);
                if let Some(flight) = inflight.get(&cid) {
                    Some(flight.clone())
                } else if inner.entries.contains_key(&cid) {
                    // A load ended between this caller's miss and now.
                    None
                } else if let Some(error) = inner.negatives.get(&cid) {
                    return Err(error);
                } else {
                    let load = load.take().expect("a load is started at most once");
                    let flight = self.cache.start(cid, load());
                    inflight.insert(cid, flight.clone());
                    Some(flight)
                }
            };
            match flight {
                Some(flight) => return flight.await,
                None => {
                    if let Some(value) = inner.entries.get(&cid).await {
                        return Ok(value);
                    }
                    // Evicted between the two looks: look again.
                }
            }
        }
    }
}

impl<V, E> Cache<V, E>
where
    V: Weigh + Send + Sync + 'static,
    E: Clone + From<LoadPanicked> + Send + Sync + 'static,
{
    /// Spawns the load of `cid` (the caller holds the in-flight map's lock and records
    /// the returned flight in it).
    fn start(
        &self,
        cid: Cid,
        load: impl Future<Output = Result<V, E>> + Send + 'static,
    ) -> Flight<V, E> {
        let cache = self.clone();
        let task = tokio::spawn(async move {
            // Leaves the in-flight map however the task ends, a panic included; after
            // the value is cached or the failure remembered, so that a caller that
            // finds no flight finds one of those.
            let _leave = LeaveInflight { cache: &cache, cid };
            cache.fill(cid, load).await
        });
        async move {
            task.await.unwrap_or_else(|join| {
                let message = match join.try_into_panic() {
                    Ok(panic) => panic_message(panic.as_ref()),
                    Err(join) => join.to_string(),
                };
                Err(E::from(LoadPanicked { cid, message }))
            })
        }
        .boxed()
        .shared()
    }

    /// The body of a load's task: the disk tier, else the loader.
    async fn fill(
        &self,
        cid: Cid,
        load: impl Future<Output = Result<V, E>> + Send + 'static,
    ) -> Result<Arc<V>, E> {
        let inner = &self.inner;
        if let Some(value) = self.read_artifact(cid).await {
            bump(&inner.counters.disk_hits);
            let value = Arc::new(value);
            inner.entries.insert(cid, value.clone()).await;
            return Ok(value);
        }
        let started = Instant::now();
        let result = load.await;
        inner.counters.add_load_time(started.elapsed());
        bump(&inner.counters.loads);
        match result {
            Ok(value) => {
                let value = Arc::new(value);
                inner.entries.insert(cid, value.clone()).await;
                self.write_artifact_in_background(cid, value.clone());
                Ok(value)
            }
            Err(error) => {
                bump(&inner.counters.load_failures);
                inner
                    .negatives
                    .remember(cid, &error, (inner.policy)(&error));
                Err(error)
            }
        }
    }

    /// The value from `cid`'s artifact, read, verified and decoded on a blocking thread;
    /// `None` (a disk miss) for no artifact or one that cannot be used (removed).
    async fn read_artifact(&self, cid: Cid) -> Option<V> {
        let (store, codec) = (self.inner.artifacts.clone()?, self.inner.codec.clone()?);
        let read = tokio::task::spawn_blocking(move || {
            let bytes = store.read(&cid)?;
            match codec.decode(&cid, &bytes) {
                Ok(value) => Some(value),
                Err(reason) => {
                    tracing::warn!(%cid, reason, "a cached artifact could not be loaded; removing it");
                    store.remove(&cid);
                    None
                }
            }
        });
        let value = read.await.ok().flatten();
        if value.is_none() {
            bump(&self.inner.counters.disk_misses);
        }
        value
    }

    /// Writes `value`'s artifact on a blocking thread, off the caller's path. A failure
    /// is logged and counted; the value is in memory either way.
    fn write_artifact_in_background(&self, cid: Cid, value: Arc<V>) {
        let (Some(store), Some(codec)) = (self.inner.artifacts.clone(), self.inner.codec.clone())
        else {
            return;
        };
        let counters = self.inner.counters.clone();
        let write = tokio::task::spawn_blocking(move || {
            let written = codec
                .encode(&value)
                .map_err(|reason| format!("cannot serialize it: {reason}"))
                .and_then(|bytes| store.write(&cid, &bytes).map_err(|e| e.to_string()));
            match written {
                Ok(()) => bump(&counters.disk_writes),
                Err(error) => {
                    bump(&counters.disk_write_errors);
                    tracing::warn!(
                        %cid,
                        dir = %store.dir().display(),
                        error,
                        "could not write an artifact to the disk tier; the next start will load it again"
                    );
                }
            }
        });
        let mut writes = lock(&self.inner.writes);
        writes.retain(|write| !write.is_finished());
        writes.push(write);
    }
}

/// Removes a load's entry from the in-flight map when its task ends.
struct LeaveInflight<'a, V, E> {
    cache: &'a Cache<V, E>,
    cid: Cid,
}

impl<V, E> Drop for LeaveInflight<'_, V, E> {
    fn drop(&mut self) {
        lock(&self.cache.inner.inflight).remove(&self.cid);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into())
}
