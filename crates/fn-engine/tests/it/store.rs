//! Deploying through the engine into a lasting store: nothing the engine cannot run is
//! kept, the first call after a deploy is warm, and a data folder left by one process
//! serves the same functions and records to the next.

use std::sync::Arc;

use bytes::Bytes;
use fn_core::{
    Cid, Config, Error, FunctionDefinition, FunctionRegistry as _, FunctionStore, InvocationStatus,
    MemoryLogger, RecordQuery,
};
use fn_engine::Engine;
use fn_registry::{RecordWriter, SqliteStore, WriterOptions};

use crate::support::{guest, test_config};

fn engine(
    store: Arc<SqliteStore>,
    config: Config,
    logger: Arc<dyn fn_core::InvocationLogger>,
) -> Engine {
    Engine::builder(store)
        .config(config)
        .invocation_logger(logger)
        .build()
        .expect("engine builds")
}

/// Deploys the guest `name` as `namespace/name`.
async fn deploy(
    engine: &Engine,
    store: &dyn FunctionStore,
    namespace: &str,
    name: &str,
) -> fn_core::Function {
    let definition = FunctionDefinition::new(namespace, name);
    engine.deploy(store, definition, guest(name)).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deploy_compiles_first_so_the_first_call_is_warm() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path()).await.unwrap());
    let records = Arc::new(MemoryLogger::new());
    let engine = engine(store.clone(), test_config(), records.clone());
    let function = deploy(&engine, store.as_ref(), "acme", "echo").await;
    assert_eq!(function.definition.version, 1);
    assert_eq!(
        store.function_by_name("acme", "echo").await.unwrap(),
        function
    );
    let out = engine
        .execute(&function, Bytes::from_static(b"hi"), None)
        .await
        .unwrap();
    assert_eq!(&out[..], b"hi");
    let record = records.take_all().pop().unwrap();
    assert!(!record.cold_start, "the deploy compiled it: {record:?}");
    let again = deploy(&engine, store.as_ref(), "acme", "echo").await;
    assert_eq!((again.id, again.definition.version), (function.id, 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_module_the_engine_cannot_run_is_refused_in_the_compilers_words_and_nothing_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path()).await.unwrap());
    let mut config = test_config();
    config.max_module_bytes = 1 << 20;
    let engine = engine(store.clone(), config, Arc::new(MemoryLogger::new()));
    let cases: [(&str, Bytes, &str); 5] = [
        (
            "not wasm",
            Bytes::from_static(b"hello, world"),
            "not a wasm binary",
        ),
        (
            "invalid",
            Bytes::from_static(b"\0asm\x01\0\0\0\x01\xff"),
            "unexpected end-of-file",
        ),
        (
            "an unknown import",
            Bytes::from_static(
                br#"(module (import "env" "launch_missiles" (func)) (func (export "_start")))"#,
            ),
            "launch_missiles",
        ),
        (
            "neither ABI",
            Bytes::from_static(b"(module (func (export \"main\")))"),
            "neither",
        ),
        ("too large", Bytes::from(vec![0u8; (1 << 20) + 1]), ""),
    ];
    for (what, bytes, words) in cases {
        let error = engine
            .deploy(
                store.as_ref(),
                FunctionDefinition::new("acme", "bad"),
                bytes.clone(),
            )
            .await
            .unwrap_err();
        match (&error, what) {
            (Error::ModuleTooLarge { .. }, "too large") => {}
            (Error::Deploy { message, .. }, _) => {
                assert!(message.contains(words), "{what}: {message}");
            }
            _ => panic!("{what}: refused as a deploy error: {error:?}"),
        }
        assert!(
            matches!(
                store.wasm_bytes(&Cid::of(&bytes)).await,
                Err(Error::NotFound { .. })
            ),
            "{what}: its bytes were not kept"
        );
    }
    assert!(
        store.function_by_name("acme", "bad").await.is_err(),
        "no version was made"
    );
    let mut invalid = FunctionDefinition::new("acme", "bad");
    invalid.timeout = std::time::Duration::ZERO;
    assert!(matches!(
        engine.deploy(store.as_ref(), invalid, guest("echo")).await,
        Err(Error::Validation { .. })
    ));
}

/// The child of the restart test: in the data folder `FN_ENGINE_STORE_DIR`, deploys
/// `hello`, invokes it once, closes the engine (writing its records) and exits. Does
/// nothing in an ordinary test run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_invoke_exit_child() {
    let Some(dir) = std::env::var_os("FN_ENGINE_STORE_DIR") else {
        return;
    };
    let store = Arc::new(SqliteStore::open(&dir).await.unwrap());
    let writer = Arc::new(RecordWriter::start(store.clone(), WriterOptions::default()).unwrap());
    let engine = engine(store.clone(), test_config(), writer);
    let function = deploy(&engine, store.as_ref(), "demo", "hello").await;
    let out = engine
        .execute(&function, Bytes::from_static(b"first"), None)
        .await
        .unwrap();
    assert_eq!(&out[..], b"hello, first!\n");
    engine.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_folder_left_by_one_process_serves_its_functions_and_records_to_the_next() {
    let dir = tempfile::tempdir().unwrap();
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "store::deploy_invoke_exit_child",
            "--test-threads=1",
        ])
        .env("FN_ENGINE_STORE_DIR", dir.path())
        .status()
        .unwrap();
    assert!(status.success(), "the first process deployed and invoked");

    let store = Arc::new(SqliteStore::open(dir.path()).await.unwrap());
    let writer = Arc::new(RecordWriter::start(store.clone(), WriterOptions::default()).unwrap());
    let engine = engine(store.clone(), test_config(), writer.clone());
    let function = store.function_by_name("demo", "hello").await.unwrap();
    assert_eq!(function.definition.version, 1);
    let out = engine
        .execute(&function, Bytes::from_static(b"second"), None)
        .await
        .unwrap();
    assert_eq!(&out[..], b"hello, second!\n");
    engine.close();
    let records = store
        .records(&RecordQuery::namespace("demo", 10).function("hello"))
        .await
        .unwrap()
        .items;
    assert_eq!(
        records.len(),
        2,
        "the first process's record, and this one's"
    );
    assert!(
        records
            .iter()
            .all(|r| r.status == InvocationStatus::Success)
    );
    assert_eq!(
        records[1].input_size, 5,
        "the oldest is the first process's"
    );
    assert_eq!(writer.stats().dropped(), 0);
}

/// A store that keeps a module under another CID than its bytes' (a bug, or a store
/// that was tampered with): the deploy is refused as an integrity error and no version
/// is made, in release builds as in debug ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_renames_the_module_is_refused() {
    #[derive(Debug)]
    struct Renaming(fn_registry::InMemoryRegistry);

    #[async_trait::async_trait]
    impl fn_core::FunctionRegistry for Renaming {
        async fn function(&self, id: &str) -> fn_core::Result<fn_core::Function> {
            self.0.function(id).await
        }
        async fn function_by_name(
            &self,
            ns: &str,
            name: &str,
        ) -> fn_core::Result<fn_core::Function> {
            self.0.function_by_name(ns, name).await
        }
        async fn wasm_bytes(&self, cid: &Cid) -> fn_core::Result<Bytes> {
            self.0.wasm_bytes(cid).await
        }
    }

    #[async_trait::async_trait]
    impl FunctionStore for Renaming {
        async fn put_module(&self, _bytes: Bytes) -> fn_core::Result<Cid> {
            // Keeps other bytes: the CID it answers is theirs.
            self.0.put_module(Bytes::from_static(b"other bytes")).await
        }
        async fn deploy(
            &self,
            d: FunctionDefinition,
            cid: Cid,
        ) -> fn_core::Result<fn_core::Function> {
            FunctionStore::deploy(&self.0, d, cid).await
        }
        async fn version(
            &self,
            ns: &str,
            name: &str,
            v: u32,
        ) -> fn_core::Result<fn_core::Function> {
            self.0.version(ns, name, v).await
        }
        async fn list(
            &self,
            ns: &str,
            page: &fn_core::Page,
        ) -> fn_core::Result<fn_core::Paged<fn_core::FunctionSummary>> {
            self.0.list(ns, page).await
        }
        async fn versions(
            &self,
            ns: &str,
            name: &str,
        ) -> fn_core::Result<Vec<fn_core::VersionInfo>> {
            self.0.versions(ns, name).await
        }
        async fn set_active(
            &self,
            ns: &str,
            name: &str,
            v: u32,
        ) -> fn_core::Result<fn_core::Function> {
            self.0.set_active(ns, name, v).await
        }
        async fn routes(&self) -> fn_core::Result<Vec<fn_core::Route>> {
            self.0.routes().await
        }
        async fn delete_version(&self, ns: &str, name: &str, v: u32) -> fn_core::Result<()> {
            self.0.delete_version(ns, name, v).await
        }
        async fn delete_function(&self, ns: &str, name: &str) -> fn_core::Result<()> {
            self.0.delete_function(ns, name).await
        }
        async fn insert_records(
            &self,
            records: &[fn_core::InvocationRecord],
        ) -> fn_core::Result<()> {
            self.0.insert_records(records).await
        }
        async fn records(
            &self,
            q: &RecordQuery,
        ) -> fn_core::Result<fn_core::Paged<fn_core::InvocationRecord>> {
            self.0.records(q).await
        }
        async fn delete_records_before(
            &self,
            before: chrono::DateTime<chrono::Utc>,
        ) -> fn_core::Result<u64> {
            self.0.delete_records_before(before).await
        }
    }

    let store = Arc::new(Renaming(fn_registry::InMemoryRegistry::new()));
    let engine = Engine::builder(store.clone())
        .config(test_config())
        .build()
        .unwrap();
    let hello = guest("hello");
    let error = engine
        .deploy(
            store.as_ref(),
            FunctionDefinition::new("acme", "hello"),
            hello.clone(),
        )
        .await
        .unwrap_err();
    match error {
        Error::Integrity { expected, actual } => {
            assert_eq!(expected, Cid::of(&hello));
            assert_eq!(actual, Cid::of(b"other bytes"));
        }
        other => panic!("{other:?}"),
    }
    assert!(
        store.function_by_name("acme", "hello").await.is_err(),
        "no version was made"
    );
}
