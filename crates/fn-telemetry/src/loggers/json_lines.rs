//! [`JsonLinesLogger`]: records as JSON lines in a file, written off the invocation's path
//! and rotated by size.
//!
//! Why a thread and a bounded queue: `log` is called on the invocation's path and must
//! not wait for a disk; a full queue (a disk slower than the invocations) drops the
//! record and says so rather than grow without bound or slow every call down.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::thread::JoinHandle;
use std::time::Duration;

use fn_core::{Error, InvocationLogger, InvocationRecord, Result};

/// How a [`JsonLinesLogger`]'s file is rotated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rotation {
    /// The most bytes the file may hold before it is rotated (a record is never split).
    /// Default 64 MiB.
    pub max_bytes: u64,
    /// Rotated files kept (`FILE.1` the newest … `FILE.keep`), the oldest removed.
    /// Default 4.
    pub keep: usize,
}

impl Default for Rotation {
    fn default() -> Rotation {
        Rotation {
            max_bytes: 64 << 20,
            keep: 4,
        }
    }
}

/// Records waiting for the writer; past it a record is dropped.
const QUEUE: usize = 8192;
/// The longest [`InvocationLogger::flush`] waits.
const FLUSH_WAIT: Duration = Duration::from_secs(5);

enum Message {
    Record(Box<InvocationRecord>),
    Flush(mpsc::Sender<std::result::Result<(), String>>),
}

/// Writes each record as one line of JSON (the record's serde form) to a file, from a
/// thread of its own; rotates the file by size. Dropping it writes what is queued and
/// waits for the thread.
#[derive(Debug)]
pub struct JsonLinesLogger {
    path: PathBuf,
    sender: Option<SyncSender<Message>>,
    writer: Option<JoinHandle<()>>,
    dropped: AtomicU64,
}

impl JsonLinesLogger {
    /// A logger appending to `path` (created, mode 0600, when absent).
    ///
    /// # Errors
    ///
    /// [`Error::Unavailable`] naming the file when it cannot be opened.
    pub fn open(path: impl Into<PathBuf>, rotation: Rotation) -> Result<JsonLinesLogger> {
        let path = path.into();
        let file = Writer::open(&path, rotation)?;
        let (sender, receiver) = mpsc::sync_channel(QUEUE);
        let writer = std::thread::Builder::new()
            .name("fn-telemetry-jsonl".into())
            .spawn(move || file.run(receiver))
            .map_err(|error| unavailable(&path, &error))?;
        Ok(JsonLinesLogger {
            path,
            sender: Some(sender),
            writer: Some(writer),
            dropped: AtomicU64::new(0),
        })
    }

    /// Records dropped because the queue was full.
    #[must_use]
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    fn sender(&self) -> Result<&SyncSender<Message>> {
        self.sender.as_ref().ok_or_else(|| self.stopped())
    }

    fn stopped(&self) -> Error {
        Error::Unavailable {
            reason: format!("the writer of `{}` has stopped", self.path.display()),
        }
    }
}

impl InvocationLogger for JsonLinesLogger {
    fn log(&self, record: InvocationRecord) -> Result<()> {
        match self.sender()?.try_send(Message::Record(Box::new(record))) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                Err(Error::Unavailable {
                    reason: format!(
                        "{QUEUE} records wait for `{}`: this one was dropped",
                        self.path.display()
                    ),
                })
            }
            Err(TrySendError::Disconnected(_)) => Err(self.stopped()),
        }
    }

    fn flush(&self) -> Result<()> {
        let (done, written) = mpsc::channel();
        self.sender()?
            .send(Message::Flush(done))
            .map_err(|_| self.stopped())?;
        match written.recv_timeout(FLUSH_WAIT) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(reason)) => Err(Error::Unavailable { reason }),
            Err(_) => Err(Error::Unavailable {
                reason: format!(
                    "`{}` was not written within {} s",
                    self.path.display(),
                    FLUSH_WAIT.as_secs()
                ),
            }),
        }
    }
}

impl Drop for JsonLinesLogger {
    fn drop(&mut self) {
        // Closing the queue ends the writer once it has written what is queued.
        self.sender = None;
        if let Some(writer) = self.writer.take()
            && writer.join().is_err()
        {
            tracing::error!(path = %self.path.display(), "the JSON-lines writer panicked");
        }
    }
}

fn unavailable(path: &Path, error: &std::io::Error) -> Error {
    Error::Unavailable {
        reason: format!("cannot write `{}`: {error}", path.display()),
    }
}

/// The writer thread's side: the file, its size and its rotation.
struct Writer {
    path: PathBuf,
    rotation: Rotation,
    file: BufWriter<File>,
    size: u64,
}

impl Writer {
    fn open(path: &Path, rotation: Rotation) -> Result<Writer> {
        let mut options = OpenOptions::new();
        options.create(true).append(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options.open(path).map_err(|e| unavailable(path, &e))?;
        let size = file.metadata().map_err(|e| unavailable(path, &e))?.len();
        Ok(Writer {
            path: path.to_path_buf(),
            rotation,
            file: BufWriter::new(file),
            size,
        })
    }

    fn run(mut self, messages: Receiver<Message>) {
        for message in messages {
            match message {
                Message::Record(record) => {
                    if let Err(error) = self.write(&record) {
                        tracing::warn!(path = %self.path.display(), %error, "an invocation record was not written");
                    }
                }
                Message::Flush(done) => {
                    let flushed = self.file.flush().map_err(|e| unavailable(&self.path, &e));
                    // The flusher may have stopped waiting.
                    let _ = done.send(flushed.map_err(|error| error.to_string()));
                }
            }
        }
        if let Err(error) = self.file.flush() {
            tracing::warn!(path = %self.path.display(), %error, "the last invocation records were not written");
        }
    }

    fn write(&mut self, record: &InvocationRecord) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(record)?;
        line.push(b'\n');
        if self.size > 0 && self.size + line.len() as u64 > self.rotation.max_bytes {
            self.rotate()?;
        }
        self.file.write_all(&line)?;
        self.size += line.len() as u64;
        Ok(())
    }

    /// `FILE` becomes `FILE.1`, `FILE.1` becomes `FILE.2`, …; the oldest goes.
    fn rotate(&mut self) -> std::io::Result<()> {
        self.file.flush()?;
        let numbered = |n: usize| {
            let mut name = self.path.clone().into_os_string();
            name.push(format!(".{n}"));
            PathBuf::from(name)
        };
        let keep = self.rotation.keep;
        if keep == 0 {
            std::fs::remove_file(&self.path)?;
        } else {
            for n in (1..keep).rev() {
                match std::fs::rename(numbered(n), numbered(n + 1)) {
                    Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
                        return Err(error);
                    }
                    _ => {}
                }
            }
            std::fs::rename(&self.path, numbered(1))?;
        }
        let fresh = Writer::open(&self.path, self.rotation).map_err(std::io::Error::other)?;
        self.file = fresh.file;
        self.size = 0;
        Ok(())
    }
}
