//! What only the SQLite store has: a data folder that outlives the process, a crash in
//! the middle of deploys that leaves the old state or the new, and a clear error for a
//! data folder or database that cannot be used.

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use bytes::Bytes;
use fn_core::{
    Error, FunctionDefinition, FunctionRegistry as _, FunctionStore, InvocationContext,
    InvocationRecord, RecordQuery,
};
use fn_registry::{DATABASE_FILE, MODULES_DIR, SqliteOptions, SqliteStore};

/// Options that collect every orphan at open, however young.
fn eager() -> SqliteOptions {
    SqliteOptions {
        orphan_grace: Duration::ZERO,
        ..SqliteOptions::default()
    }
}

#[tokio::test]
async fn a_reopened_store_has_its_functions_versions_and_records() {
    let dir = tempfile::tempdir().unwrap();
    let (first, record) = {
        let store = SqliteStore::open(dir.path()).await.unwrap();
        let a = store.put_module(Bytes::from_static(b"a")).await.unwrap();
        let b = store.put_module(Bytes::from_static(b"b")).await.unwrap();
        let mut definition = FunctionDefinition::new("acme", "f");
        definition.env.insert("MODE".into(), "fast".into());
        let first = store.deploy(definition.clone(), a).await.unwrap();
        store.deploy(definition, b).await.unwrap();
        store.set_active("acme", "f", 1).await.unwrap();
        let record =
            InvocationRecord::start(&first, &InvocationContext::default(), 3, chrono::Utc::now());
        store
            .insert_records(std::slice::from_ref(&record))
            .await
            .unwrap();
        store.close().await;
        (first, record)
    };
    let store = SqliteStore::open(dir.path()).await.unwrap();
    assert_eq!(
        store.function_by_name("acme", "f").await.unwrap(),
        first,
        "version 1 is still the active one"
    );
    assert_eq!(store.versions("acme", "f").await.unwrap().len(), 2);
    assert_eq!(
        store.wasm_bytes(&first.wasm_cid).await.unwrap(),
        Bytes::from_static(b"a")
    );
    let records = store
        .records(&RecordQuery::namespace("acme", 10))
        .await
        .unwrap();
    assert_eq!(records.items, [record]);
}

#[tokio::test]
async fn a_module_damaged_on_disk_is_refused_not_run() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).await.unwrap();
    let cid = store
        .put_module(Bytes::from_static(b"good bytes"))
        .await
        .unwrap();
    std::fs::write(
        dir.path().join(MODULES_DIR).join(cid.to_string()),
        b"evil bytes",
    )
    .unwrap();
    assert!(matches!(
        store.wasm_bytes(&cid).await,
        Err(Error::Integrity { .. })
    ));
}

#[tokio::test]
async fn orphans_of_an_interrupted_deploy_are_collected_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let modules = dir.path().join(MODULES_DIR);
    let (deployed, orphan) = {
        let store = SqliteStore::open(dir.path()).await.unwrap();
        let deployed = store
            .put_module(Bytes::from_static(b"deployed"))
            .await
            .unwrap();
        store
            .deploy(FunctionDefinition::new("acme", "f"), deployed)
            .await
            .unwrap();
        // Stored, never deployed: the process died between the two.
        let orphan = store
            .put_module(Bytes::from_static(b"orphan"))
            .await
            .unwrap();
        store.close().await;
        (deployed, orphan)
    };
    std::fs::write(modules.join(".partial-interrupted"), b"half a mod").unwrap();
    std::fs::write(modules.join("stray"), b"a file with no row").unwrap();
    let store = SqliteStore::open_with(dir.path(), eager()).await.unwrap();
    assert!(store.wasm_bytes(&deployed).await.is_ok());
    assert!(matches!(
        store.wasm_bytes(&orphan).await,
        Err(Error::NotFound { .. })
    ));
    let mut left: Vec<String> = std::fs::read_dir(&modules)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, [deployed.to_string()]);
    // With the default grace, a young orphan stays: it may be another process's deploy.
    let young = store
        .put_module(Bytes::from_static(b"young"))
        .await
        .unwrap();
    store.close().await;
    let store = SqliteStore::open(dir.path()).await.unwrap();
    assert!(store.wasm_bytes(&young).await.is_ok());
}

fn storage_error_names(error: &Error, path: &Path) {
    match error {
        Error::Storage { what, .. } => {
            assert_eq!(what, &path.display().to_string(), "{error}");
        }
        other => panic!("a storage error naming {}: {other:?}", path.display()),
    }
}

#[tokio::test]
async fn a_corrupt_database_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join(DATABASE_FILE);
    std::fs::write(&database, vec![0x5a; 8192]).unwrap();
    let error = SqliteStore::open(dir.path()).await.unwrap_err();
    storage_error_names(&error, &database);
}

#[tokio::test]
async fn a_database_of_a_newer_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).await.unwrap();
    store.close().await;
    // What a later version's migration would leave.
    let url = format!("sqlite://{}", dir.path().join(DATABASE_FILE).display());
    let mut connection = <sqlx::SqliteConnection as sqlx::Connection>::connect(&url)
        .await
        .unwrap();
    sqlx::query("INSERT INTO _sqlx_migrations (version, description, installed_on, success, checksum, execution_time) VALUES (9999, 'from the future', CURRENT_TIMESTAMP, TRUE, X'00', 1)")
        .execute(&mut connection)
        .await
        .unwrap();
    drop(connection);
    let error = SqliteStore::open(dir.path()).await.unwrap_err();
    storage_error_names(&error, &dir.path().join(DATABASE_FILE));
    assert!(error.to_string().contains("newer version"), "{error}");
}

#[tokio::test]
async fn a_data_folder_that_cannot_be_used_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let not_a_folder = dir.path().join("data");
    std::fs::write(&not_a_folder, b"a file").unwrap();
    let error = SqliteStore::open(&not_a_folder).await.unwrap_err();
    storage_error_names(&error, &not_a_folder);
}

/// The child of the crash test: deploys version after version into the data folder
/// named by `FN_REGISTRY_CRASH_DIR`, printing each version once it is committed, until
/// it is killed. Does nothing in an ordinary test run.
#[tokio::test]
#[allow(
    clippy::print_stdout,
    reason = "the parent reads the commits from stdout"
)]
async fn crash_child() {
    let Some(dir) = std::env::var_os("FN_REGISTRY_CRASH_DIR") else {
        return;
    };
    let store = SqliteStore::open(&dir).await.unwrap();
    for n in 0u64.. {
        // A new module each time: a file to write and sync as well as rows.
        let bytes = Bytes::from(format!(
            "module {n} {} {}",
            fn_core::new_id(),
            "x".repeat(4096)
        ));
        let cid = store.put_module(bytes).await.unwrap();
        let function = store
            .deploy(FunctionDefinition::new("acme", "hot"), cid)
            .await
            .unwrap();
        println!("committed {}", function.definition.version);
    }
}

#[tokio::test]
async fn killing_a_process_in_the_middle_of_deploys_leaves_a_consistent_store() {
    let dir = tempfile::tempdir().unwrap();
    for round in 0..8 {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "sqlite::crash_child",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("FN_REGISTRY_CRASH_DIR", dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut committed = 0;
        // Killed at a different point each round: after 3, 10, 17, … more commits,
        // wherever in its loop (a file half written, a row not yet committed) it is.
        while committed < 3 + 7 * round {
            let line = lines.next().expect("the child deploys").unwrap();
            if line.starts_with("committed ") {
                committed += 1;
            }
        }
        let last_seen: u32 = {
            child.kill().unwrap();
            child.wait().unwrap();
            // Whatever it printed after our count is committed too.
            lines
                .map_while(Result::ok)
                .filter_map(|l| l.strip_prefix("committed ").and_then(|v| v.parse().ok()))
                .last()
                .unwrap_or(0)
        };
        let store = SqliteStore::open_with(dir.path(), eager()).await.unwrap();
        let versions = store.versions("acme", "hot").await.unwrap();
        let numbers: Vec<u32> = versions.iter().map(|v| v.version).collect();
        let newest = *numbers.last().unwrap();
        assert_eq!(
            numbers,
            (1..=newest).collect::<Vec<_>>(),
            "no version lost or half kept"
        );
        assert!(
            newest >= last_seen,
            "every commit the child saw is there: {newest} < {last_seen}"
        );
        let active = store.function_by_name("acme", "hot").await.unwrap();
        assert_eq!(active.definition.version, newest);
        for version in &versions {
            // Every kept version's module is whole and verified.
            store.wasm_bytes(&version.wasm_cid).await.unwrap();
        }
        let files = std::fs::read_dir(dir.path().join(MODULES_DIR))
            .unwrap()
            .count();
        assert_eq!(files, versions.len(), "no partial or orphaned file is left");
        store.close().await;
    }
}
