//! [`RecordWriter`]: invocation records into a [`FunctionStore`], in batches, on a
//! thread of its own, never on the invocation's path.
//!
//! Why a thread with its own runtime rather than a task on the caller's: `log` and
//! `flush` are synchronous (the engine calls them from wherever an invocation ends, and
//! `Engine::close` from wherever it is closed); a flush that waited for a task of the
//! caller's own single-threaded runtime would wait for itself. An async caller (a
//! server shutting down) has [`RecordWriter::flush_async`] instead, which parks no
//! thread.
//!
//! Why an unbounded channel with a count of the records queued, rather than a bounded
//! channel: a flush must reach the writer at once, however full the queue is (with a
//! bounded channel it could only wait for room, which std's channel cannot do with a
//! bound on the wait, so it polled); records are bounded by the count instead.
//!
//! Why the writer parks while a batch fills rather than waiting on the channel: every
//! send wakes a thread waiting on a channel (a futex call and a context switch a record,
//! more than writing it under load). Parked, it is woken once a batch: by the record
//! that makes one, a flush, the writer's end, or the linger running out.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::time::Duration;

use fn_core::{Error, FunctionStore, InvocationLogger, InvocationRecord, Result};

/// How a [`RecordWriter`] batches.
#[derive(Debug, Clone)]
pub struct WriterOptions {
    /// Records waiting to be written at most; more are dropped and counted (default
    /// 8192).
    pub queue: usize,
    /// Records in one write at most (default 256).
    pub batch: usize,
    /// How long a record may wait for its batch to fill (default 100 ms).
    pub linger: Duration,
    /// How often a failed batch is tried again before it is dropped and counted
    /// (default 3), a backoff of `linger` doubled each time between tries.
    pub retries: u32,
    /// How long `flush` waits at most (default 5 s).
    pub flush_timeout: Duration,
}

impl Default for WriterOptions {
    fn default() -> WriterOptions {
        WriterOptions {
            queue: 8192,
            batch: 256,
            linger: Duration::from_millis(100),
            retries: 3,
            flush_timeout: Duration::from_secs(5),
        }
    }
}

/// What a [`RecordWriter`] has done since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriterStats {
    /// Records written.
    pub written: u64,
    /// Records dropped because the queue was full.
    pub dropped_full: u64,
    /// Records dropped because the store refused them, after every retry (a full disk).
    pub dropped_failed: u64,
}

impl WriterStats {
    /// Every record dropped, whatever the reason.
    pub fn dropped(&self) -> u64 {
        self.dropped_full + self.dropped_failed
    }
}

#[derive(Debug, Default)]
struct Counters {
    /// Records sent and not yet taken by the writer: what bounds the queue.
    queued: AtomicUsize,
    /// Records sent and not yet written (or given up on), those the writer holds
    /// included: when they make a batch, the writer is woken.
    unwritten: AtomicUsize,
    written: AtomicU64,
    dropped_full: AtomicU64,
    dropped_failed: AtomicU64,
}

enum Message {
    Record(Box<InvocationRecord>),
    Flush(Ack),
}

/// Who waits for a flush: answered once every record sent before it is in the store
/// (or given up on).
enum Ack {
    Blocking(mpsc::Sender<()>),
    Async(tokio::sync::oneshot::Sender<()>),
}

impl Ack {
    fn send(self) {
        // A waiter that gave up is no one to tell.
        match self {
            Ack::Blocking(sender) => drop(sender.send(())),
            Ack::Async(sender) => drop(sender.send(())),
        }
    }
}

/// Writes records to a store in batches from a thread of its own; an
/// [`InvocationLogger`] for the engine. `log` never blocks: a record that finds the
/// queue full is dropped, counted ([`RecordWriter::stats`]) and logged (the first, then
/// one in 1000). Dropping the writer writes what is queued, then stops.
#[derive(Debug)]
pub struct RecordWriter {
    sender: Option<Sender<Message>>,
    /// The most records queued.
    queue: usize,
    /// Records in one write at most: a record that fills one wakes the writer.
    batch: usize,
    counters: Arc<Counters>,
    flush_timeout: Duration,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RecordWriter {
    /// Starts a writer into `store`.
    ///
    /// # Errors
    ///
    /// [`Error::Internal`] when its thread or runtime cannot be started.
    pub fn start(store: Arc<dyn FunctionStore>, options: WriterOptions) -> Result<RecordWriter> {
        let (sender, receiver) = mpsc::channel();
        let queue = options.queue.max(1);
        let batch = options.batch.max(1);
        let counters = Arc::new(Counters::default());
        // A worker thread of its own, not a current-thread runtime: a store may spawn
        // work that must run between batches (sqlx gives a pooled connection back on a
        // task), and a current-thread runtime runs nothing while this thread waits for
        // records, so the store's `close` would wait for ever.
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("fn-record-store")
            .enable_all()
            .build()
            .map_err(|e| Error::Internal {
                message: format!("starting the record writer's runtime: {e}"),
            })?;
        let flush_timeout = options.flush_timeout;
        let worker = Worker {
            store,
            options,
            counters: counters.clone(),
            runtime,
        };
        let thread = std::thread::Builder::new()
            .name("fn-record-writer".into())
            .spawn(move || worker.run(&receiver))
            .map_err(|e| Error::Internal {
                message: format!("starting the record writer's thread: {e}"),
            })?;
        Ok(RecordWriter {
            sender: Some(sender),
            queue,
            batch,
            counters,
            flush_timeout,
            thread: Some(thread),
        })
    }

    /// What it has written and dropped so far.
    pub fn stats(&self) -> WriterStats {
        WriterStats {
            written: self.counters.written.load(Ordering::Relaxed),
            dropped_full: self.counters.dropped_full.load(Ordering::Relaxed),
            dropped_failed: self.counters.dropped_failed.load(Ordering::Relaxed),
        }
    }

    /// [`InvocationLogger::flush`] for an async caller: waits, without parking a
    /// thread, until every record logged before it is in the store, at most the flush
    /// timeout.
    ///
    /// # Errors
    ///
    /// [`Error::Unavailable`] when they were not all written in time, or the writer has
    /// stopped.
    pub async fn flush_async(&self) -> Result<()> {
        let Some(sender) = &self.sender else {
            return Ok(());
        };
        let (ack, done) = tokio::sync::oneshot::channel();
        if sender.send(Message::Flush(Ack::Async(ack))).is_err() {
            return Err(self.stopped());
        }
        self.wake();
        match tokio::time::timeout(self.flush_timeout, done).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(self.stopped()),
            Err(_) => Err(self.late()),
        }
    }

    /// Wakes the writer if it is parked while a batch fills (a no-op otherwise).
    fn wake(&self) {
        if let Some(thread) = &self.thread {
            thread.thread().unpark();
        }
    }

    fn late(&self) -> Error {
        Error::Unavailable {
            reason: format!(
                "the records were not all written within {} ms",
                self.flush_timeout.as_millis()
            ),
        }
    }

    fn stopped(&self) -> Error {
        Error::Unavailable {
            reason: "the record writer has stopped".into(),
        }
    }
}

impl InvocationLogger for RecordWriter {
    fn log(&self, record: InvocationRecord) -> Result<()> {
        let Some(sender) = &self.sender else {
            return Ok(());
        };
        let queued = &self.counters.queued;
        if queued.fetch_add(1, Ordering::AcqRel) >= self.queue {
            queued.fetch_sub(1, Ordering::AcqRel);
            let dropped = self.counters.dropped_full.fetch_add(1, Ordering::Relaxed) + 1;
            // The first, then one line in 1000: a flood of drops is not a flood of logs.
            if dropped % 1000 == 1 {
                tracing::warn!(dropped, "the record queue is full: records are dropped");
            }
            // Counted and logged here, one line in 1000; an error would have the engine
            // log every one of a flood.
            return Ok(());
        }
        if sender.send(Message::Record(Box::new(record))).is_err() {
            queued.fetch_sub(1, Ordering::AcqRel);
            return Err(self.stopped());
        }
        // With this record the writer has a batch (counting those it holds already):
        // it need not wait out its linger.
        if self.counters.unwritten.fetch_add(1, Ordering::AcqRel) + 1 >= self.batch {
            self.wake();
        }
        Ok(())
    }

    fn flush(&self) -> Result<()> {
        let Some(sender) = &self.sender else {
            return Ok(());
        };
        let (ack, done) = mpsc::channel();
        // The channel has no bound: the flush reaches the writer at once, behind the
        // records sent before it.
        if sender.send(Message::Flush(Ack::Blocking(ack))).is_err() {
            return Err(self.stopped());
        }
        self.wake();
        match done.recv_timeout(self.flush_timeout) {
            Ok(()) => Ok(()),
            Err(RecvTimeoutError::Timeout) => Err(self.late()),
            Err(RecvTimeoutError::Disconnected) => Err(self.stopped()),
        }
    }
}

impl Drop for RecordWriter {
    fn drop(&mut self) {
        // Closing the channel lets the thread write what is queued and end.
        drop(self.sender.take());
        self.wake();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

struct Worker {
    store: Arc<dyn FunctionStore>,
    options: WriterOptions,
    counters: Arc<Counters>,
    runtime: tokio::runtime::Runtime,
}

impl Worker {
    fn run(self, receiver: &Receiver<Message>) {
        let mut batch = Vec::with_capacity(self.options.batch);
        let mut acks = Vec::new();
        loop {
            // Wait for the first record, then gather more for at most `linger`.
            let first = match receiver.recv() {
                Ok(message) => message,
                Err(_) => return,
            };
            let until = std::time::Instant::now() + self.options.linger;
            let mut closed = false;
            let mut next = Some(first);
            'gather: loop {
                // Everything queued now, without waiting.
                while let Some(message) = next.take().or_else(|| match receiver.try_recv() {
                    Ok(message) => Some(message),
                    Err(TryRecvError::Empty) => None,
                    Err(TryRecvError::Disconnected) => {
                        closed = true;
                        None
                    }
                }) {
                    match message {
                        Message::Record(record) => {
                            self.counters.queued.fetch_sub(1, Ordering::AcqRel);
                            batch.push(*record);
                        }
                        Message::Flush(ack) => {
                            acks.push(ack);
                            break 'gather;
                        }
                    }
                    if batch.len() >= self.options.batch {
                        break 'gather;
                    }
                }
                let left = until.saturating_duration_since(std::time::Instant::now());
                if closed || left.is_zero() {
                    break;
                }
                // Woken early by a full batch, a flush or the writer's end; a wake for
                // no reason only drains the queue once more.
                std::thread::park_timeout(left);
            }
            self.write(&mut batch);
            for ack in acks.drain(..) {
                ack.send();
            }
            if closed {
                // Whatever is still queued, then stop.
                while let Ok(message) = receiver.try_recv() {
                    match message {
                        Message::Record(record) => batch.push(*record),
                        Message::Flush(ack) => acks.push(ack),
                    }
                }
                self.write(&mut batch);
                for ack in acks.drain(..) {
                    ack.send();
                }
                return;
            }
        }
    }

    fn write(&self, batch: &mut Vec<InvocationRecord>) {
        if batch.is_empty() {
            return;
        }
        let count = batch.len();
        self.write_batch(batch);
        self.counters.unwritten.fetch_sub(count, Ordering::AcqRel);
    }

    /// Writes `batch`, retrying, or drops it counted; leaves it empty.
    fn write_batch(&self, batch: &mut Vec<InvocationRecord>) {
        let mut backoff = self.options.linger;
        for attempt in 0..=self.options.retries {
            match self.runtime.block_on(self.store.insert_records(batch)) {
                Ok(()) => {
                    self.counters
                        .written
                        .fetch_add(batch.len() as u64, Ordering::Relaxed);
                    batch.clear();
                    return;
                }
                Err(error) if attempt < self.options.retries => {
                    tracing::warn!(%error, attempt, "writing records failed; trying again");
                    std::thread::sleep(backoff);
                    backoff *= 2;
                }
                Err(error) => {
                    tracing::error!(%error, records = batch.len(), "writing records failed; they are dropped");
                }
            }
        }
        self.counters
            .dropped_failed
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        batch.clear();
    }
}
