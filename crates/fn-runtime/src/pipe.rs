//! Bounded in-memory output pipes for a guest's stdout and stderr.
//!
//! wasmtime-wasi's `MemoryOutputPipe` answers a full buffer with "closed", which guests
//! treat in their own ways (retry forever, ignore, abort); this pipe instead traps the
//! guest at the first byte past its limit and remembers that it did, so the runtime can
//! report [`fn_core::Error::OutputTooLarge`] for the right stream.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError, StreamResult};

/// The error a guest traps with when it writes past a pipe's limit.
#[derive(Debug)]
pub(crate) struct OutputLimitExceeded;

impl std::fmt::Display for OutputLimitExceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("output limit exceeded")
    }
}

impl std::error::Error for OutputLimitExceeded {}

#[derive(Debug, Default)]
struct State {
    buffer: BytesMut,
    overflowed: bool,
}

/// A clonable handle to one bounded buffer; every clone writes to the same bytes.
#[derive(Debug, Clone)]
pub(crate) struct BoundedPipe {
    limit: usize,
    state: Arc<Mutex<State>>,
}

impl BoundedPipe {
    pub(crate) fn new(limit: usize) -> BoundedPipe {
        BoundedPipe {
            limit,
            state: Arc::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave the buffer half-written in a way
        // that matters: take the data as it is.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether the guest tried to write past the limit.
    pub(crate) fn overflowed(&self) -> bool {
        self.lock().overflowed
    }

    /// Everything written so far (at most the limit).
    pub(crate) fn take(&self) -> Bytes {
        std::mem::take(&mut self.lock().buffer).freeze()
    }

    /// The last `n` bytes written, as lossy UTF-8.
    pub(crate) fn tail(&self, n: usize) -> String {
        let state = self.lock();
        let start = state.buffer.len().saturating_sub(n);
        String::from_utf8_lossy(&state.buffer[start..]).into_owned()
    }

    fn push(&self, bytes: &[u8]) -> Result<(), OutputLimitExceeded> {
        let mut state = self.lock();
        if bytes.len() > self.limit - state.buffer.len() {
            // Keep what fits, so the stream's tail still shows what the guest wrote last.
            let room = self.limit - state.buffer.len();
            state.buffer.extend_from_slice(&bytes[..room]);
            state.overflowed = true;
            return Err(OutputLimitExceeded);
        }
        state.buffer.extend_from_slice(bytes);
        Ok(())
    }
}

impl OutputStream for BoundedPipe {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.push(&bytes)
            .map_err(|e| StreamError::Trap(wasmtime::Error::new(e)))
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        // Never report zero room: a guest told "0" may spin. Room plus one lets the next
        // write cross the limit and trap.
        Ok(self.limit - self.lock().buffer.len() + 1)
    }
}

#[async_trait::async_trait]
impl Pollable for BoundedPipe {
    async fn ready(&mut self) {}
}

impl AsyncWrite for BoundedPipe {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(self.push(buf).map(|()| buf.len()).map_err(io::Error::other))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl IsTerminal for BoundedPipe {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for BoundedPipe {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_up_to_the_limit_then_overflows() {
        let mut pipe = BoundedPipe::new(8);
        pipe.write(Bytes::from_static(b"hello")).unwrap();
        assert!(!pipe.overflowed());
        assert_eq!(pipe.check_write().unwrap(), 4);
        assert!(matches!(
            pipe.write(Bytes::from_static(b" world")),
            Err(StreamError::Trap(_))
        ));
        assert!(pipe.overflowed());
        assert_eq!(pipe.tail(3), " wo");
        assert_eq!(pipe.take(), Bytes::from_static(b"hello wo"));
    }

    #[test]
    fn exactly_the_limit_is_fine() {
        let mut pipe = BoundedPipe::new(4);
        pipe.write(Bytes::from_static(b"abcd")).unwrap();
        assert!(!pipe.overflowed());
        assert_eq!(pipe.take(), Bytes::from_static(b"abcd"));
    }
}
