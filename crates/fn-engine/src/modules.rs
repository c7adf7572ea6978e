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
    /// The compiled module for `cid`, and whether this call is a cold start: it found
    /// no compiled module and waited for a compile (its own or another caller's).
    pub(crate) async fn module(&self, cid: &Cid) -> Result<(Arc<CompiledModule>, bool)> {
        if let Some(module) = self.inner.cache.get(cid) {
            return Ok((module, false));
        }
        let module = self
            .single_flight(*cid, async {
                let bytes = self.inner.registry.wasm_bytes(cid).await?;
                cid.verify(&bytes)?;
                self.inner.runtime.compile(bytes).await
            })
            .await?;
        Ok((module, true))
    }

    /// Runs `compile` for `cid` unless a compile of it is already under way, in which
    /// case it waits for that one. The result is cached.
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
        let result = cell
            .get_or_try_init(|| async {
                let module = Arc::new(compile.await?);
                self.inner.cache.insert(module.clone());
                Ok::<_, Error>(module)
            })
            .await
            .cloned();
        // Whoever finishes first clears the slot; later misses find the cache (or, after
        // an error, compile again and meet the runtime's memory of the failure).
        let mut inflight = self.inflight();
        if inflight.get(&cid).is_some_and(|c| Arc::ptr_eq(c, &cell)) {
            inflight.remove(&cid);
        }
        result
    }

    fn inflight(&self) -> std::sync::MutexGuard<'_, HashMap<Cid, Inflight>> {
        self.inner
            .inflight
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}
