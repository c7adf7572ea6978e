//! The route rules of the [`FunctionStore`] contract: unique among active versions, moved
//! with the active version, freed with the function.

use fn_core::{Error, FunctionDefinition, FunctionStore};

use super::{definition, module};

fn routed(namespace: &str, name: &str, route: Option<&str>) -> FunctionDefinition {
    let mut definition = definition(namespace, name);
    definition.route = route.map(str::to_owned);
    definition
}

async fn routes_of(store: &dyn FunctionStore) -> Vec<(String, String)> {
    let mut routes: Vec<_> = store
        .routes()
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.prefix, format!("{}/{}", r.namespace, r.name)))
        .collect();
    routes.sort();
    routes
}

pub(crate) async fn routes_are_unique_and_move_with_the_active_version(store: &dyn FunctionStore) {
    let a = module(store, "a").await;
    let pair = |prefix: &str, function: &str| (prefix.to_owned(), function.to_owned());
    store
        .deploy(routed("acme", "shop", Some("/shop")), a)
        .await
        .unwrap();
    // Another function, in any namespace, cannot claim it; nothing is kept then.
    for (namespace, name) in [("acme", "other"), ("beta", "shop")] {
        let refused = store
            .deploy(routed(namespace, name, Some("/shop")), a)
            .await;
        assert!(
            matches!(refused, Err(Error::Conflict { .. })),
            "{refused:?}"
        );
        assert!(store.function_by_name(namespace, name).await.is_err());
    }
    // A longer prefix is another route.
    store
        .deploy(routed("acme", "cart", Some("/shop/cart")), a)
        .await
        .unwrap();
    // Its own function may claim it again, or move it.
    store
        .deploy(routed("acme", "shop", Some("/shop")), a)
        .await
        .unwrap();
    store
        .deploy(routed("acme", "shop", Some("/store")), a)
        .await
        .unwrap();
    assert_eq!(
        routes_of(store).await,
        [pair("/shop/cart", "acme/cart"), pair("/store", "acme/shop")]
    );
    // `/shop` is free now: another takes it; a rollback of `shop` to version 2 would
    // take it back, and is refused while it is held.
    store
        .deploy(routed("beta", "shop", Some("/shop")), a)
        .await
        .unwrap();
    let refused = store.set_active("acme", "shop", 2).await;
    assert!(
        matches!(refused, Err(Error::Conflict { .. })),
        "{refused:?}"
    );
    assert_eq!(
        store
            .function_by_name("acme", "shop")
            .await
            .unwrap()
            .definition
            .version,
        3
    );
    // A deploy without a route frees it; a rollback brings the version's route back.
    store.deploy(routed("acme", "shop", None), a).await.unwrap();
    assert!(
        !routes_of(store)
            .await
            .contains(&pair("/store", "acme/shop"))
    );
    store.set_active("acme", "shop", 3).await.unwrap();
    assert!(
        routes_of(store)
            .await
            .contains(&pair("/store", "acme/shop"))
    );
    // Deleting a function frees its route.
    store.delete_function("beta", "shop").await.unwrap();
    store
        .deploy(routed("acme", "other", Some("/shop")), a)
        .await
        .unwrap();
    assert_eq!(
        routes_of(store).await,
        [
            pair("/shop", "acme/other"),
            pair("/shop/cart", "acme/cart"),
            pair("/store", "acme/shop"),
        ]
    );
}
