//! [`DeployedMap`]: what is kept per deployed key (a namespace, a function), read far
//! more often than written.
//!
//! Why not moka, as for callers: these keys come from deployments, not from the outside
//! world, so a plain map under a read-write lock bounds them well enough, and a read
//! costs several times less. Both the rate and the concurrency limits keep one.

use std::collections::HashMap;
use std::sync::{PoisonError, RwLock};

/// Values by deployed key, each made with a setting (a rate, a slot count) and made
/// anew when the setting changes; at most `cap` keys before the map is shrunk.
#[derive(Debug)]
pub(crate) struct DeployedMap<V> {
    map: RwLock<HashMap<String, V>>,
    cap: usize,
}

impl<V: Clone> DeployedMap<V> {
    pub(crate) fn new(cap: usize) -> DeployedMap<V> {
        DeployedMap {
            map: RwLock::default(),
            cap: cap.max(1),
        }
    }

    /// `key`'s value if it `fits` (made with the setting wanted), else one made by `make`
    /// and kept in its place. Looked up by `&str`: the key is copied only when a value is
    /// made. A map of `cap` keys is first given to `shrink`.
    pub(crate) fn get(
        &self,
        key: &str,
        fits: impl Fn(&V) -> bool,
        make: impl FnOnce() -> V,
        shrink: impl FnOnce(&mut HashMap<String, V>),
    ) -> V {
        let read = self.map.read().unwrap_or_else(PoisonError::into_inner);
        if let Some(value) = read.get(key).filter(|value| fits(value)) {
            return value.clone();
        }
        drop(read);
        let mut map = self.map.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(value) = map.get(key).filter(|value| fits(value)) {
            return value.clone();
        }
        if map.len() >= self.cap {
            shrink(&mut map);
        }
        let value = make();
        map.insert(key.to_owned(), value.clone());
        value
    }

    pub(crate) fn len(&self) -> usize {
        self.map
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}
