//! Functions by name, kept for a moment: an invoke reads its function from here rather
//! than from the store each time.
//!
//! Why: on the embedded store a lookup is a SQLite query on sqlx's worker thread and a
//! JSON decode, which cost more than the invocation itself (`fnd serve` did 4.4k invokes
//! a second under wrk, against 103k for `/healthz`). A deploy, rollback or delete through
//! this gateway forgets the name at once; another node's change is seen within
//! [`LOOKUP_TTL`].

use std::sync::Arc;
use std::time::Duration;

use fn_core::{Function, FunctionStore, Result};

/// How long a function looked up by name is kept.
pub const LOOKUP_TTL: Duration = Duration::from_secs(1);

/// The most names kept.
const LOOKUP_CAPACITY: u64 = 10_000;

/// The functions looked up lately, by `namespace/name`.
pub(super) struct Lookup {
    cache: moka::future::Cache<String, Arc<Function>>,
}

impl Lookup {
    pub(super) fn new() -> Lookup {
        Lookup {
            cache: moka::future::Cache::builder()
                .max_capacity(LOOKUP_CAPACITY)
                .time_to_live(LOOKUP_TTL)
                .build(),
        }
    }

    /// `namespace/name`'s active version, from the cache or else `store` (an unknown
    /// name is not kept: it is asked again next time).
    pub(super) async fn function(
        &self,
        store: &dyn FunctionStore,
        namespace: &str,
        name: &str,
    ) -> Result<Arc<Function>> {
        let key = key(namespace, name);
        if let Some(function) = self.cache.get(&key).await {
            return Ok(function);
        }
        let function = Arc::new(store.function_by_name(namespace, name).await?);
        self.cache.insert(key, function.clone()).await;
        Ok(function)
    }

    /// Forgets `namespace/name`: its active version changed here.
    pub(super) async fn forget(&self, namespace: &str, name: &str) {
        self.cache.invalidate(&key(namespace, name)).await;
    }
}

/// Names and namespaces are `[a-z0-9_-]`: `/` cannot occur in either.
fn key(namespace: &str, name: &str) -> String {
    let mut key = String::with_capacity(namespace.len() + 1 + name.len());
    key.push_str(namespace);
    key.push('/');
    key.push_str(name);
    key
}
