//! A miss, completed: one load per CID as a task of its own, the artifact tier read
//! before loading and written after, and the failure policy applied.

use std::sync::Arc;
use std::time::Instant;

use fn_core::Cid;
use futures::FutureExt as _;

use super::{Cache, Flight, LoadPanicked, Miss, Weigh, lock};
use crate::stats::bump;

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
            tracing::debug!(%cid, "loaded from the artifact tier");
            bump(&inner.counters.disk_hits);
            let value = Arc::new(value);
            inner.entries.insert(cid, value.clone()).await;
            return Ok(value);
        }
        let started = Instant::now();
        let result = load.await;
        tracing::debug!(%cid, elapsed = ?started.elapsed(), ok = result.is_ok(), "loaded");
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

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into())
}
