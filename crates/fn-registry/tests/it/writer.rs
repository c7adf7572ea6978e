//! The record writer: batches reach the store, a flush waits for them, and nothing is
//! lost silently — a full queue and a failing store are counted, exactly.

use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use fn_core::{
    Cid, Error, Function, FunctionDefinition, FunctionRegistry, FunctionStore, FunctionSummary,
    InvocationContext, InvocationLogger, InvocationRecord, Page, Paged, RecordQuery, Result,
    VersionInfo,
};
use fn_registry::{InMemoryRegistry, RecordWriter, WriterOptions, WriterStats};

/// The in-memory store, with a hook run before every batch of records is kept.
struct Hooked {
    inner: InMemoryRegistry,
    before_insert: Box<dyn Fn() -> Result<()> + Send + Sync>,
}

impl std::fmt::Debug for Hooked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Hooked")
    }
}

#[async_trait]
impl FunctionRegistry for Hooked {
    async fn function(&self, id: &str) -> Result<Function> {
        self.inner.function(id).await
    }
    async fn function_by_name(&self, namespace: &str, name: &str) -> Result<Function> {
        self.inner.function_by_name(namespace, name).await
    }
    async fn wasm_bytes(&self, cid: &Cid) -> Result<Bytes> {
        self.inner.wasm_bytes(cid).await
    }
}

#[async_trait]
impl FunctionStore for Hooked {
    async fn put_module(&self, bytes: Bytes) -> Result<Cid> {
        self.inner.put_module(bytes).await
    }
    async fn deploy(&self, definition: FunctionDefinition, cid: Cid) -> Result<Function> {
        FunctionStore::deploy(&self.inner, definition, cid).await
    }
    async fn version(&self, namespace: &str, name: &str, version: u32) -> Result<Function> {
        self.inner.version(namespace, name, version).await
    }
    async fn list(&self, namespace: &str, page: &Page) -> Result<Paged<FunctionSummary>> {
        self.inner.list(namespace, page).await
    }
    async fn versions(&self, namespace: &str, name: &str) -> Result<Vec<VersionInfo>> {
        self.inner.versions(namespace, name).await
    }
    async fn set_active(&self, namespace: &str, name: &str, version: u32) -> Result<Function> {
        self.inner.set_active(namespace, name, version).await
    }
    async fn routes(&self) -> Result<Vec<fn_core::Route>> {
        self.inner.routes().await
    }
    async fn delete_version(&self, namespace: &str, name: &str, version: u32) -> Result<()> {
        self.inner.delete_version(namespace, name, version).await
    }
    async fn delete_function(&self, namespace: &str, name: &str) -> Result<()> {
        self.inner.delete_function(namespace, name).await
    }
    async fn insert_records(&self, records: &[InvocationRecord]) -> Result<()> {
        (self.before_insert)()?;
        self.inner.insert_records(records).await
    }
    async fn records(&self, query: &RecordQuery) -> Result<Paged<InvocationRecord>> {
        self.inner.records(query).await
    }
    async fn delete_records_before(&self, before: DateTime<Utc>) -> Result<u64> {
        self.inner.delete_records_before(before).await
    }
}

fn record(n: usize) -> InvocationRecord {
    let function = Function::new(FunctionDefinition::new("acme", "f"), Cid::of(b"m"));
    let ctx = InvocationContext {
        request_id: format!("r{n}"),
        ..InvocationContext::default()
    };
    InvocationRecord::start(&function, &ctx, 0, Utc::now())
}

async fn kept(store: &dyn FunctionStore) -> usize {
    store
        .records(&RecordQuery::namespace("acme", 1000))
        .await
        .unwrap()
        .items
        .len()
}

#[tokio::test]
async fn records_reach_the_store_in_batches_and_a_flush_waits_for_them() {
    let store = Arc::new(InMemoryRegistry::new());
    let writer = RecordWriter::start(store.clone(), WriterOptions::default()).unwrap();
    for n in 0..1000 {
        writer.log(record(n)).unwrap();
    }
    writer.flush().unwrap();
    assert_eq!(kept(store.as_ref()).await, 1000);
    assert_eq!(
        writer.stats(),
        WriterStats {
            written: 1000,
            ..WriterStats::default()
        }
    );
}

/// A store each batch of which says it is being written (the receiver), then waits to
/// be let through (the sender).
fn gated() -> (Arc<Hooked>, mpsc::Receiver<()>, mpsc::Sender<()>) {
    let (entered, entered_rx) = mpsc::sync_channel(0);
    let (release, released) = mpsc::channel::<()>();
    let released = std::sync::Mutex::new(released);
    let store = Arc::new(Hooked {
        inner: InMemoryRegistry::new(),
        before_insert: Box::new(move || {
            let _ = entered.send(());
            let _ = released.lock().unwrap().recv();
            Ok(())
        }),
    });
    (store, entered_rx, release)
}

#[tokio::test]
async fn a_full_queue_drops_and_counts_each_record() {
    let (store, entered_rx, release) = gated();
    let options = WriterOptions {
        queue: 4,
        batch: 1,
        ..WriterOptions::default()
    };
    let writer = RecordWriter::start(store.clone(), options).unwrap();
    writer.log(record(0)).unwrap();
    entered_rx.recv().unwrap(); // the writer holds record 0 and waits
    for n in 1..=4 {
        writer.log(record(n)).unwrap(); // the queue's four places
    }
    for n in 5..15 {
        writer.log(record(n)).unwrap(); // dropped and counted, never blocking
    }
    assert_eq!(writer.stats().dropped_full, 10);
    // Let every batch through: five of them, one record each.
    std::thread::spawn(move || {
        for _ in 0..5 {
            let _ = release.send(());
            let _ = entered_rx.recv();
        }
    });
    writer.flush().unwrap();
    assert_eq!(kept(store.as_ref()).await, 5);
    assert_eq!(
        writer.stats(),
        WriterStats {
            written: 5,
            dropped_full: 10,
            dropped_failed: 0
        }
    );
}

/// An async caller's flush parks no thread, and reaches the writer however full the
/// queue is: it is answered once the records logged before it are in the store.
#[tokio::test]
async fn an_async_flush_waits_for_the_records_before_it_even_behind_a_full_queue() {
    let (store, entered_rx, release) = gated();
    let options = WriterOptions {
        queue: 2,
        batch: 1,
        ..WriterOptions::default()
    };
    let writer = RecordWriter::start(store.clone(), options).unwrap();
    writer.log(record(0)).unwrap();
    entered_rx.recv().unwrap(); // the writer holds record 0 and waits
    writer.log(record(1)).unwrap();
    writer.log(record(2)).unwrap(); // the queue is full
    // The batches are let through on another thread while the flush waits behind them.
    std::thread::spawn(move || {
        for _ in 0..3 {
            let _ = release.send(());
            let _ = entered_rx.recv();
        }
    });
    writer.flush_async().await.unwrap();
    assert_eq!(kept(store.as_ref()).await, 3);
    assert_eq!(writer.stats().written, 3);
}

#[tokio::test]
async fn a_store_that_keeps_failing_costs_the_batch_counted() {
    let attempts = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let counted = attempts.clone();
    let store = Arc::new(Hooked {
        inner: InMemoryRegistry::new(),
        before_insert: Box::new(move || {
            counted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Err(Error::Storage {
                what: "fn.db".into(),
                reason: "database or disk is full".into(),
            })
        }),
    });
    let options = WriterOptions {
        batch: 10,
        linger: Duration::from_millis(1),
        retries: 2,
        ..WriterOptions::default()
    };
    let writer = RecordWriter::start(store.clone(), options).unwrap();
    for n in 0..3 {
        writer.log(record(n)).unwrap();
    }
    writer.flush().unwrap();
    let stats = writer.stats();
    assert_eq!(
        (stats.written, stats.dropped_failed, stats.dropped()),
        (0, 3, 3)
    );
    let tries = attempts.load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(tries % 3, 0, "each batch tried three times: {tries}");
}

#[tokio::test]
async fn dropping_the_writer_writes_what_is_queued() {
    let store = Arc::new(InMemoryRegistry::new());
    let writer = RecordWriter::start(store.clone(), WriterOptions::default()).unwrap();
    for n in 0..100 {
        writer.log(record(n)).unwrap();
    }
    drop(writer);
    assert_eq!(kept(store.as_ref()).await, 100);
}

#[tokio::test]
async fn the_sqlite_store_closes_while_its_writer_lives() {
    // sqlx gives a pooled connection back on a task of the runtime that used it: the
    // writer's runtime must keep running between batches, or `close` waits for ever.
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(fn_registry::SqliteStore::open(dir.path()).await.unwrap());
    let writer = RecordWriter::start(store.clone(), WriterOptions::default()).unwrap();
    for n in 0..10 {
        writer.log(record(n)).unwrap();
    }
    writer.flush().unwrap();
    assert_eq!(kept(store.as_ref()).await, 10);
    tokio::time::timeout(Duration::from_secs(60), store.close())
        .await
        .expect("the store closes");
}

/// A store that says when each batch is about to be written.
fn announcing() -> (Arc<Hooked>, mpsc::Receiver<()>) {
    let (written, written_rx) = mpsc::channel();
    let store = Arc::new(Hooked {
        inner: InMemoryRegistry::new(),
        before_insert: Box::new(move || {
            let _ = written.send(());
            Ok(())
        }),
    });
    (store, written_rx)
}

#[tokio::test]
async fn a_full_batch_is_written_without_waiting_out_the_linger() {
    let (store, written) = announcing();
    let options = WriterOptions {
        batch: 10,
        linger: Duration::from_secs(3600),
        ..WriterOptions::default()
    };
    let writer = RecordWriter::start(store.clone(), options).unwrap();
    for n in 0..10 {
        writer.log(record(n)).unwrap();
    }
    // No flush: the tenth record fills the batch and wakes the writer; an hour's linger
    // would outlast the test's own timeout by far.
    written
        .recv_timeout(Duration::from_secs(60))
        .expect("the full batch is being written");
    // The hook runs before the insert: the flush waits for it to end (and writes
    // nothing more, the batch being all there was).
    writer.flush().unwrap();
    assert_eq!(kept(store.as_ref()).await, 10);
    assert!(written.try_recv().is_err(), "one batch, of all ten");
}

#[tokio::test]
async fn dropping_the_writer_writes_a_lingering_batch_at_once() {
    let (store, written) = announcing();
    let options = WriterOptions {
        linger: Duration::from_secs(3600),
        ..WriterOptions::default()
    };
    let writer = RecordWriter::start(store.clone(), options).unwrap();
    for n in 0..3 {
        writer.log(record(n)).unwrap();
    }
    // The drop joins the writer, which must not wait out the hour for more records.
    let dropped = std::thread::spawn(move || drop(writer));
    written
        .recv_timeout(Duration::from_secs(60))
        .expect("the lingering batch is written at the drop");
    dropped.join().unwrap();
    assert_eq!(kept(store.as_ref()).await, 3);
}
