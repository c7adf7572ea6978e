//! The [`fn_core::KeyStore`] contract, run on the in-memory store and on the SQLite
//! store: keys found by their token's hash, names unique, removal at once.

use fn_core::{ApiKey, Error, PlatformStore, Role, TokenHash};

use crate::contract::Subject;

async fn keys_are_found_by_their_tokens_hash_and_removed_at_once(store: &dyn PlatformStore) {
    assert!(store.keys().await.unwrap().is_empty());
    let ci = ApiKey::new("ci", "orders", Role::Deploy).unwrap();
    let ops = ApiKey::new("ops", "ops", Role::Admin).unwrap();
    store
        .create_key(&ci, &TokenHash::of("ci-token"))
        .await
        .unwrap();
    store
        .create_key(&ops, &TokenHash::of("ops-token"))
        .await
        .unwrap();
    let found = store
        .key_by_token(&TokenHash::of("ci-token"))
        .await
        .unwrap();
    let found = found.expect("the key of its token");
    assert_eq!(
        (found.name.as_str(), found.namespace.as_str()),
        ("ci", "orders")
    );
    assert_eq!(found.role, Role::Deploy);
    assert_eq!(
        found.created_at.timestamp_micros(),
        ci.created_at.timestamp_micros()
    );
    assert_eq!(
        store.key_by_token(&TokenHash::of("nobody")).await.unwrap(),
        None
    );
    let names: Vec<_> = store
        .keys()
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.name)
        .collect();
    assert_eq!(names, ["ci", "ops"]);
    // A name is one key: a second is refused, and the first one's token still works.
    let again = ApiKey::new("ci", "billing", Role::Invoke).unwrap();
    match store.create_key(&again, &TokenHash::of("other")).await {
        Err(Error::Conflict { reason }) => assert!(reason.contains("`ci`"), "{reason}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        store.key_by_token(&TokenHash::of("other")).await.unwrap(),
        None
    );
    store.delete_key("ci").await.unwrap();
    assert_eq!(
        store
            .key_by_token(&TokenHash::of("ci-token"))
            .await
            .unwrap(),
        None
    );
    match store.delete_key("ci").await {
        Err(Error::NotFound { kind, id }) => assert_eq!((kind, id.as_str()), ("key", "ci")),
        other => panic!("{other:?}"),
    }
}

async fn in_memory() -> Subject {
    (
        std::sync::Arc::new(fn_registry::InMemoryRegistry::new()),
        None,
    )
}

async fn sqlite() -> Subject {
    let dir = tempfile::tempdir().unwrap();
    let store = fn_registry::SqliteStore::open(dir.path()).await.unwrap();
    (std::sync::Arc::new(store), Some(dir))
}

#[tokio::test]
async fn in_memory_keys() {
    let (store, _dir) = in_memory().await;
    keys_are_found_by_their_tokens_hash_and_removed_at_once(store.as_ref()).await;
}

#[tokio::test]
async fn sqlite_keys() {
    let (store, _dir) = sqlite().await;
    keys_are_found_by_their_tokens_hash_and_removed_at_once(store.as_ref()).await;
}
