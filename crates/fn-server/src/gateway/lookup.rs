//! Functions by name, and the routes functions claim, kept for a moment: an invoke reads
//! its function, and a request outside the API its route, from here rather than from the
//! store each time.
//!
//! Why: on the embedded store a lookup is a SQLite query on sqlx's worker thread and a
//! JSON decode, which cost more than the invocation itself (`fnd serve` did 4.4k invokes
//! a second under wrk, against 103k for `/healthz`). A deploy, rollback or delete through
//! this gateway forgets the name at once; another node's change is seen within
//! [`LOOKUP_TTL`].

use std::sync::Arc;
use std::time::Duration;

use fn_core::{Function, FunctionStore, Result, Route};

/// How long a function looked up by name is kept.
pub const LOOKUP_TTL: Duration = Duration::from_secs(1);

/// The most names kept.
const LOOKUP_CAPACITY: u64 = 10_000;

/// The functions looked up lately, by `namespace/name`.
pub(super) struct Lookup {
    cache: moka::future::Cache<String, Arc<Function>>,
    /// The route table: one entry, loaded once however many requests miss it at once.
    routes: moka::future::Cache<(), Arc<RouteTable>>,
}

/// The routes of the active versions, longest prefix first.
#[derive(Debug, Default)]
pub(super) struct RouteTable {
    routes: Vec<Route>,
}

impl RouteTable {
    fn new(mut routes: Vec<Route>) -> RouteTable {
        routes.sort_by(|a, b| {
            b.prefix
                .len()
                .cmp(&a.prefix.len())
                .then(a.prefix.cmp(&b.prefix))
        });
        RouteTable { routes }
    }

    /// The route serving `path`: the longest prefix that covers it.
    pub(super) fn find(&self, path: &str) -> Option<&Route> {
        self.routes
            .iter()
            .find(|route| fn_core::route_covers(&route.prefix, path))
    }
}

impl Lookup {
    pub(super) fn new() -> Lookup {
        Lookup {
            cache: moka::future::Cache::builder()
                .max_capacity(LOOKUP_CAPACITY)
                .time_to_live(LOOKUP_TTL)
                .build(),
            routes: moka::future::Cache::builder()
                .max_capacity(1)
                .time_to_live(LOOKUP_TTL)
                .build(),
        }
    }

    /// The route table, from the cache or else `store`.
    pub(super) async fn routes(&self, store: &dyn FunctionStore) -> Result<Arc<RouteTable>> {
        self.routes
            .try_get_with((), async {
                Ok(Arc::new(RouteTable::new(store.routes().await?)))
            })
            .await
            .map_err(|error: Arc<fn_core::Error>| (*error).clone())
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

    /// Forgets `namespace/name`, and the route table: its active version changed here.
    pub(super) async fn forget(&self, namespace: &str, name: &str) {
        self.cache.invalidate(&key(namespace, name)).await;
        self.routes.invalidate(&()).await;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_prefix_serves_a_path() {
        let route = |prefix: &str, name: &str| Route {
            prefix: prefix.into(),
            namespace: "ns".into(),
            name: name.into(),
        };
        let table = RouteTable::new(vec![
            route("/", "root"),
            route("/shop", "shop"),
            route("/shop/cart", "cart"),
        ]);
        let served = |path: &str| table.find(path).map(|r| r.name.as_str());
        assert_eq!(served("/shop/cart/7"), Some("cart"));
        assert_eq!(served("/shop/cartoon"), Some("shop"));
        assert_eq!(served("/shop"), Some("shop"));
        assert_eq!(served("/shopping"), Some("root"));
        assert_eq!(RouteTable::new(vec![route("/a", "a")]).find("/b"), None);
    }
}
