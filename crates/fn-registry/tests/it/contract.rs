//! The [`FunctionStore`] contract, one function per rule, run on the in-memory store and
//! on the SQLite store by the `contract_suite!` macro at the bottom.

use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use fn_core::{
    Cid, Error, FunctionDefinition, FunctionStore, InvocationContext, InvocationRecord,
    InvocationStatus, Page, PlatformStore, RecordQuery,
};

/// A store under test, and whatever must outlive it (its data folder).
pub(crate) type Subject = (Arc<dyn PlatformStore>, Option<tempfile::TempDir>);

fn definition(namespace: &str, name: &str) -> FunctionDefinition {
    FunctionDefinition::new(namespace, name)
}

async fn module(store: &dyn FunctionStore, text: &str) -> Cid {
    store
        .put_module(Bytes::from(text.to_owned()))
        .await
        .unwrap()
}

pub(crate) async fn deploys_are_numbered_versions_of_one_function(store: &dyn FunctionStore) {
    let (a, b) = (module(store, "a").await, module(store, "b").await);
    let first = store.deploy(definition("acme", "resize"), a).await.unwrap();
    assert_eq!(first.definition.version, 1);
    let second = store.deploy(definition("acme", "resize"), b).await.unwrap();
    assert_eq!(second.definition.version, 2);
    assert_eq!(second.id, first.id, "one id for every version");
    let active = store.function_by_name("acme", "resize").await.unwrap();
    assert_eq!(active, second, "the newest deploy runs");
    assert_eq!(store.function(&first.id).await.unwrap(), second);
    assert_eq!(store.version("acme", "resize", 1).await.unwrap(), first);
    let versions = store.versions("acme", "resize").await.unwrap();
    let listed: Vec<_> = versions
        .iter()
        .map(|v| (v.version, v.wasm_cid, v.active))
        .collect();
    assert_eq!(listed, [(1, a, false), (2, b, true)]);
    assert_eq!(
        store.wasm_bytes(&a).await.unwrap(),
        Bytes::from_static(b"a")
    );
}

pub(crate) async fn a_rollback_makes_an_older_version_run(store: &dyn FunctionStore) {
    let (a, b) = (module(store, "a").await, module(store, "b").await);
    let first = store.deploy(definition("acme", "f"), a).await.unwrap();
    store.deploy(definition("acme", "f"), b).await.unwrap();
    let back = store.set_active("acme", "f", 1).await.unwrap();
    assert_eq!(back, first);
    assert_eq!(
        store.function_by_name("acme", "f").await.unwrap().wasm_cid,
        a
    );
    let third = store.deploy(definition("acme", "f"), b).await.unwrap();
    assert_eq!(
        third.definition.version, 3,
        "numbers go on after a rollback"
    );
    assert!(matches!(
        store.set_active("acme", "f", 9).await,
        Err(Error::NotFound {
            kind: "version",
            ..
        })
    ));
    assert!(matches!(
        store.set_active("acme", "nothing", 1).await,
        Err(Error::NotFound {
            kind: "function",
            ..
        })
    ));
}

pub(crate) async fn deleting_keeps_modules_other_versions_use(store: &dyn FunctionStore) {
    let (a, b) = (module(store, "a").await, module(store, "b").await);
    store.deploy(definition("acme", "f"), a).await.unwrap();
    store.deploy(definition("acme", "f"), a).await.unwrap();
    store.deploy(definition("acme", "f"), b).await.unwrap();
    assert!(
        matches!(
            store.delete_version("acme", "f", 3).await,
            Err(Error::Conflict { .. })
        ),
        "the active version stays until another is active"
    );
    store.delete_version("acme", "f", 1).await.unwrap();
    assert!(
        store.wasm_bytes(&a).await.is_ok(),
        "version 2 still uses it"
    );
    store.delete_version("acme", "f", 2).await.unwrap();
    assert!(matches!(
        store.wasm_bytes(&a).await,
        Err(Error::NotFound { kind: "module", .. })
    ));
    let versions: Vec<u32> = store
        .versions("acme", "f")
        .await
        .unwrap()
        .iter()
        .map(|v| v.version)
        .collect();
    assert_eq!(versions, [3]);
    assert!(matches!(
        store.delete_version("acme", "f", 1).await,
        Err(Error::NotFound {
            kind: "version",
            ..
        })
    ));
    // Another function on the same module keeps it when this one goes.
    store.deploy(definition("other", "g"), b).await.unwrap();
    store.delete_function("acme", "f").await.unwrap();
    assert!(matches!(
        store.function_by_name("acme", "f").await,
        Err(Error::NotFound {
            kind: "function",
            ..
        })
    ));
    assert!(matches!(
        store.versions("acme", "f").await,
        Err(Error::NotFound { .. })
    ));
    assert!(store.wasm_bytes(&b).await.is_ok());
    store.delete_function("other", "g").await.unwrap();
    assert!(store.wasm_bytes(&b).await.is_err());
    assert!(matches!(
        store.delete_function("other", "g").await,
        Err(Error::NotFound { .. })
    ));
}

pub(crate) async fn a_deploy_needs_its_module(store: &dyn FunctionStore) {
    let missing = Cid::of(b"never stored");
    assert!(matches!(
        store.deploy(definition("acme", "f"), missing).await,
        Err(Error::NotFound { kind: "module", .. })
    ));
    assert!(
        store.function_by_name("acme", "f").await.is_err(),
        "nothing was kept"
    );
}

pub(crate) async fn functions_are_listed_by_name_a_page_at_a_time(store: &dyn FunctionStore) {
    let cid = module(store, "m").await;
    for i in (0..25).rev() {
        store
            .deploy(definition("acme", &format!("f{i:02}")), cid)
            .await
            .unwrap();
    }
    store
        .deploy(definition("zeta", "elsewhere"), cid)
        .await
        .unwrap();
    let mut names = Vec::new();
    let mut page = Page::first(10);
    let mut pages = 0;
    loop {
        let listed = store.list("acme", &page).await.unwrap();
        pages += 1;
        names.extend(listed.items.iter().map(|s| s.name.clone()));
        match listed.next {
            Some(next) => page.after = Some(next),
            None => break,
        }
    }
    let expected: Vec<String> = (0..25).map(|i| format!("f{i:02}")).collect();
    assert_eq!(names, expected);
    assert_eq!(pages, 3);
    let one = store.list("zeta", &Page::first(10)).await.unwrap();
    assert_eq!(one.items.len(), 1);
    assert_eq!(
        (one.items[0].active_version, one.items[0].wasm_cid),
        (1, cid)
    );
    assert!(one.next.is_none());
}

fn record(name: &str, n: i64, status: InvocationStatus, base: DateTime<Utc>) -> InvocationRecord {
    let function = fn_core::Function::new(definition("acme", name), Cid::of(b"m"));
    let started = base + chrono::Duration::milliseconds(n);
    let mut record = InvocationRecord::start(&function, &InvocationContext::default(), 1, started);
    record.status = status;
    record
}

pub(crate) async fn records_are_queried_newest_first_by_function_status_and_time(
    store: &dyn FunctionStore,
) {
    let base = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
    let mut records = Vec::new();
    // More than a store writes in one statement (SQLite: 128), so batches span chunks.
    for n in 0..300 {
        let status = if n % 3 == 0 {
            InvocationStatus::Timeout
        } else {
            InvocationStatus::Success
        };
        records.push(record(
            if n % 2 == 0 { "even" } else { "odd" },
            n,
            status,
            base,
        ));
    }
    store.insert_records(&records[..200]).await.unwrap();
    store.insert_records(&records[200..]).await.unwrap();
    // A retried batch adds nothing, whichever chunk its records fall in.
    store.insert_records(&records[..150]).await.unwrap();

    let mut seen = Vec::new();
    let mut query = RecordQuery::namespace("acme", 70);
    loop {
        let page = store.records(&query).await.unwrap();
        seen.extend(page.items.iter().map(|r| r.id.clone()));
        match page.next {
            Some(next) => query.page.after = Some(next),
            None => break,
        }
    }
    let newest_first: Vec<String> = records.iter().rev().map(|r| r.id.clone()).collect();
    assert_eq!(seen, newest_first);

    let odd = store
        .records(&RecordQuery::namespace("acme", 200).function("odd"))
        .await
        .unwrap();
    assert_eq!(odd.items.len(), 150);
    assert!(odd.items.iter().all(|r| r.function_name == "odd"));
    let timeouts = store
        .records(
            &RecordQuery::namespace("acme", 200)
                .function("even")
                .status(InvocationStatus::Timeout),
        )
        .await
        .unwrap();
    assert_eq!(timeouts.items.len(), 50, "n = 0, 6, 12, …, 294");
    let mut window = RecordQuery::namespace("acme", 100);
    window.since = Some(base + chrono::Duration::milliseconds(10));
    window.until = Some(base + chrono::Duration::milliseconds(20));
    assert_eq!(store.records(&window).await.unwrap().items.len(), 10);
    assert!(
        store
            .records(&RecordQuery::namespace("other", 100))
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert_eq!(
        store
            .records(&RecordQuery::namespace("acme", 1))
            .await
            .unwrap()
            .items[0],
        records[299],
        "whole records come back"
    );
    let mut bad = RecordQuery::namespace("acme", 10);
    bad.page.after = Some("not a cursor".into());
    assert!(
        matches!(store.records(&bad).await, Err(Error::Validation { field, .. }) if field == "cursor")
    );
}

pub(crate) async fn retention_deletes_old_records(store: &dyn FunctionStore) {
    let base = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
    let records: Vec<_> = (0..10)
        .map(|n| record("f", n * 1000, InvocationStatus::Success, base))
        .collect();
    store.insert_records(&records).await.unwrap();
    let deleted = store
        .delete_records_before(base + chrono::Duration::seconds(4))
        .await
        .unwrap();
    assert_eq!(deleted, 4);
    let left = store
        .records(&RecordQuery::namespace("acme", 100))
        .await
        .unwrap();
    assert_eq!(left.items.len(), 6);
    assert!(
        left.items
            .iter()
            .all(|r| r.started_at >= base + chrono::Duration::seconds(4))
    );
}

pub(crate) async fn concurrent_deploys_get_distinct_versions(store: Arc<dyn FunctionStore>) {
    let cid = module(store.as_ref(), "m").await;
    let deploys: Vec<_> = (0..50)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.deploy(definition("acme", "busy"), cid).await })
        })
        .collect();
    let mut versions = Vec::new();
    for deploy in deploys {
        versions.push(deploy.await.unwrap().unwrap().definition.version);
    }
    versions.sort_unstable();
    assert_eq!(versions, (1..=50).collect::<Vec<_>>());
    let listed = store.versions("acme", "busy").await.unwrap();
    assert_eq!(listed.len(), 50);
    assert_eq!(listed.iter().filter(|v| v.active).count(), 1);
}

mod routes;
pub(crate) use self::routes::routes_are_unique_and_move_with_the_active_version;

/// One `#[tokio::test]` per rule for the store `$make` makes.
macro_rules! contract_suite {
    ($store:ident, $make:expr) => {
        mod $store {
            use super::*;

            async fn subject() -> Subject {
                $make.await
            }

            macro_rules! case {
                ($name:ident) => {
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn $name() {
                        let (store, _dir) = subject().await;
                        super::$name(store.as_ref()).await;
                    }
                };
            }

            case!(deploys_are_numbered_versions_of_one_function);
            case!(a_rollback_makes_an_older_version_run);
            case!(deleting_keeps_modules_other_versions_use);
            case!(a_deploy_needs_its_module);
            case!(functions_are_listed_by_name_a_page_at_a_time);
            case!(records_are_queried_newest_first_by_function_status_and_time);
            case!(retention_deletes_old_records);
            case!(routes_are_unique_and_move_with_the_active_version);

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn concurrent_deploys_get_distinct_versions() {
                let (store, _dir) = subject().await;
                super::concurrent_deploys_get_distinct_versions(store).await;
            }
        }
    };
}

contract_suite!(in_memory, async {
    let store: Arc<dyn PlatformStore> = Arc::new(fn_registry::InMemoryRegistry::new());
    (store, None)
});

contract_suite!(sqlite, async {
    let dir = tempfile::tempdir().unwrap();
    let store = fn_registry::SqliteStore::open(dir.path()).await.unwrap();
    let store: Arc<dyn PlatformStore> = Arc::new(store);
    (store, Some(dir))
});
