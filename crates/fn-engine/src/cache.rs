//! A plain bounded cache of compiled modules, weighted by compiled size, least recently
//! used out first (the Go engine evicted an arbitrary entry). The fn-cache issue replaces
//! it with moka.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use fn_core::Cid;
use fn_runtime::CompiledModule;

/// What the module cache holds and has done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CacheStats {
    /// Modules cached.
    pub entries: u64,
    /// Their total weight: bytes of compiled code.
    pub weight_bytes: u64,
    /// The capacity, in the same bytes.
    pub capacity_bytes: u64,
    /// Lookups that found a module.
    pub hits: u64,
    /// Lookups that did not.
    pub misses: u64,
    /// Modules pushed out to make room.
    pub evictions: u64,
}

#[derive(Debug)]
pub(crate) struct ModuleCache {
    capacity_bytes: u64,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    entries: HashMap<Cid, Entry>,
    weight_bytes: u64,
    clock: u64,
    hits: u64,
    misses: u64,
    evictions: u64,
}

#[derive(Debug)]
struct Entry {
    module: Arc<CompiledModule>,
    last_used: u64,
}

impl ModuleCache {
    pub(crate) fn new(capacity_bytes: u64) -> ModuleCache {
        ModuleCache {
            capacity_bytes,
            state: Mutex::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The module for `cid`, counting a hit or a miss.
    pub(crate) fn get(&self, cid: &Cid) -> Option<Arc<CompiledModule>> {
        let mut state = self.lock();
        state.clock += 1;
        let clock = state.clock;
        match state.entries.get_mut(cid) {
            Some(entry) => {
                entry.last_used = clock;
                let module = entry.module.clone();
                state.hits += 1;
                Some(module)
            }
            None => {
                state.misses += 1;
                None
            }
        }
    }

    /// The module for `cid`, without counting a lookup or refreshing its recency.
    pub(crate) fn peek(&self, cid: &Cid) -> Option<Arc<CompiledModule>> {
        self.lock()
            .entries
            .get(cid)
            .map(|entry| entry.module.clone())
    }

    /// Whether `cid` is cached, without counting a lookup.
    pub(crate) fn contains(&self, cid: &Cid) -> bool {
        self.lock().entries.contains_key(cid)
    }

    /// Caches `module`, evicting the least recently used modules until it fits. A module
    /// heavier than the whole capacity is not cached (it is still returned to callers).
    pub(crate) fn insert(&self, module: Arc<CompiledModule>) {
        let weight = module.size_bytes();
        if weight > self.capacity_bytes {
            return;
        }
        let mut state = self.lock();
        state.clock += 1;
        let clock = state.clock;
        let cid = *module.cid();
        if let Some(old) = state.entries.insert(
            cid,
            Entry {
                module,
                last_used: clock,
            },
        ) {
            state.weight_bytes -= old.module.size_bytes();
        }
        state.weight_bytes += weight;
        while state.weight_bytes > self.capacity_bytes {
            let victim = state
                .entries
                .iter()
                .filter(|(key, _)| **key != cid)
                .min_by_key(|(_, entry)| entry.last_used)
                .map(|(key, _)| *key);
            let Some(victim) = victim else { break };
            if let Some(entry) = state.entries.remove(&victim) {
                state.weight_bytes -= entry.module.size_bytes();
                state.evictions += 1;
            }
        }
    }

    /// Drops `cid`; whether it was cached.
    pub(crate) fn invalidate(&self, cid: &Cid) -> bool {
        let mut state = self.lock();
        match state.entries.remove(cid) {
            Some(entry) => {
                state.weight_bytes -= entry.module.size_bytes();
                true
            }
            None => false,
        }
    }

    /// Drops every module.
    pub(crate) fn clear(&self) {
        let mut state = self.lock();
        state.entries.clear();
        state.weight_bytes = 0;
    }

    pub(crate) fn stats(&self) -> CacheStats {
        let state = self.lock();
        CacheStats {
            entries: state.entries.len() as u64,
            weight_bytes: state.weight_bytes,
            capacity_bytes: self.capacity_bytes,
            hits: state.hits,
            misses: state.misses,
            evictions: state.evictions,
        }
    }
}
