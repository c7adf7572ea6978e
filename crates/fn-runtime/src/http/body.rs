//! [`ResponseBody`]: the reader's side of an exchange. It passes the guest's frames on,
//! counts them against the output limit, and turns an end it cannot vouch for (the
//! guest did not finish cleanly) into an error, so that a client sees a cut body as cut.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::sync::oneshot;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;

use super::{BoxError, Shared, Stop};

/// The body of an HTTP function's response: the guest's bytes as it writes them, cut
/// (an error, so that the connection is aborted rather than the body ended) when the
/// guest did not finish cleanly, the deadline passed, or the output limit was reached.
/// Dropping it before its end stops the guest.
pub struct ResponseBody {
    inner: HyperOutgoingBody,
    shared: Arc<Shared>,
    /// Fulfilled with `true` when the guest's handler returned cleanly; dropped otherwise.
    verdict: Option<oneshot::Receiver<bool>>,
    limit: u64,
    ended: bool,
}

impl std::fmt::Debug for ResponseBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseBody")
            .field("sent", &self.shared.sent.load(Ordering::Relaxed))
            .field("ended", &self.ended)
            .finish_non_exhaustive()
    }
}

/// Why a response body was cut.
#[derive(Debug, thiserror::Error)]
pub enum BodyCut {
    /// The guest trapped, timed out or was stopped before finishing its body.
    #[error("the function stopped before finishing its response body")]
    Unfinished,
    /// The body went over the engine's `max_output_bytes`.
    #[error("the response body went over the output limit of {limit_bytes} bytes")]
    OutputTooLarge {
        /// The limit.
        limit_bytes: u64,
    },
    /// wasi:http's own error while the guest wrote its body.
    #[error("the function's response body failed: {0}")]
    Guest(String),
}

impl ResponseBody {
    pub(super) fn new(
        inner: HyperOutgoingBody,
        shared: Arc<Shared>,
        verdict: Option<oneshot::Receiver<bool>>,
        limit: u64,
    ) -> ResponseBody {
        ResponseBody {
            inner,
            shared,
            verdict,
            limit,
            ended: false,
        }
    }

    fn end(&mut self) {
        self.ended = true;
        self.shared.delivered.store(true, Ordering::Release);
        self.shared.wake.notify_one();
    }

    fn cut(&mut self, why: BodyCut) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.end();
        Poll::Ready(Some(Err(Box::new(why))))
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        if this.ended {
            return Poll::Ready(None);
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(Ok(frame))) => {
                let len = frame.data_ref().map_or(0, |data| data.len() as u64);
                let sent = this.shared.sent.fetch_add(len, Ordering::Relaxed) + len;
                if sent > this.limit {
                    this.shared.stop(Stop::OutputTooLarge);
                    let limit_bytes = this.limit;
                    return this.cut(BodyCut::OutputTooLarge { limit_bytes });
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(error))) => this.cut(BodyCut::Guest(error.to_string())),
            // The guest finished its body, or its store is gone: which one, its handler
            // tells when it returns.
            Poll::Ready(None) => {
                let clean = match this.verdict.as_mut() {
                    Some(verdict) => match Pin::new(verdict).poll(cx) {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(clean) => clean.unwrap_or(false),
                    },
                    None => false,
                };
                this.verdict = None;
                if clean {
                    this.end();
                    Poll::Ready(None)
                } else {
                    this.cut(BodyCut::Unfinished)
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.ended
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for ResponseBody {
    fn drop(&mut self) {
        if !self.ended {
            self.shared.stop(Stop::Dropped);
        }
    }
}
