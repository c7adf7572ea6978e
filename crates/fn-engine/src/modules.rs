//! Finding an invocation's compiled module: the cache, else the registry's bytes
//! (verified against their CID) compiled once however many callers miss at the same
//! time.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError};

use fn_core::{Cid, Error, Result};
use fn_runtime::CompiledModule;
use tokio::sync::OnceCell;

use crate::{Engine, Inflight};

impl Engine {
    /// The compiled module for `cid`: from the cache, else fetched, verified and compiled
    /// once however many callers miss at the same time. `on_compile_wait` is called when
    /// this call has to wait for a compile (its own or another caller's): a cold start.
    /// A module the runtime remembers as failed is refused before anything is fetched.
    pub(crate) async fn module(
        &self,
        cid: &Cid,
        on_compile_wait: impl FnOnce(),
    ) -> Result<Arc<CompiledModule>> {
        if let Some(module) = self.inner.cache.get(cid) {
            return Ok(module);
        }
        if let Some(failure) = self.inner.runtime.remembered_failure(cid) {
            return Err(failure);
        }
        on_compile_wait();
        self.single_flight(*cid, async {
            let bytes = self.inner.registry.wasm_bytes(cid).await?;
            cid.verify(&bytes)?;
            self.inner.runtime.compile(bytes).await
        })
        .await
    }

    /// Runs `compile` for `cid` unless a compile of it is already under way, in which
    /// case it waits for that one, or the module was cached meanwhile. The result is
    /// cached.
    pub(crate) async fn single_flight(
        &self,
        cid: Cid,
        compile: impl Future<Output = Result<CompiledModule>>,
    ) -> Result<Arc<CompiledModule>> {
        let cell: Inflight = self
            .inflight()
            .entry(cid)
            .or_insert_with(|| Arc::new(OnceCell::new()))
            .clone();
        // Whoever ends first, or goes away, clears the slot; later misses find the cache
        // (or, after an error, compile again and meet the runtime's memory of the failure).
        let _clear = ClearSlot {
            engine: self,
            cid,
            cell: &cell,
        };
        cell.get_or_try_init(|| async {
            // A compile that ended between this caller's miss and its slot: use it.
            if let Some(module) = self.inner.cache.peek(&cid) {
                return Ok(module);
            }
            let module = Arc::new(compile.await?);
            self.inner.cache.insert(module.clone());
            Ok::<_, Error>(module)
        })
        .await
        .cloned()
    }

    fn inflight(&self) -> std::sync::MutexGuard<'_, HashMap<Cid, Inflight>> {
        self.inner
            .inflight
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// Removes a compile's slot from the in-flight map when the caller that held it is done,
/// whether it finished, failed or was dropped — unless a newer slot replaced it.
struct ClearSlot<'a> {
    engine: &'a Engine,
    cid: Cid,
    cell: &'a Inflight,
}

impl Drop for ClearSlot<'_> {
    fn drop(&mut self) {
        let mut inflight = self.engine.inflight();
        if inflight
            .get(&self.cid)
            .is_some_and(|c| Arc::ptr_eq(c, self.cell))
        {
            inflight.remove(&self.cid);
        }
    }
}
