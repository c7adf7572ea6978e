//! HTTP functions (wasi:http components) through the engine: one request in, one
//! response out, with the same admission, limits and exactly-one record as any call.
//!
//! Why a task: a response's head is handed back while its body is still being written
//! by the guest, so the sandbox, the call's slots and its record outlive the future
//! that returned the head. The exchange runs in a task of its own, which records the
//! call when it ends; until the head is handed over, dropping the caller's future stops
//! that task (the call is recorded as cancelled), and afterwards dropping the body does.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use fn_core::{Error, Function, InvocationContext, Result};
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt as _;
use tokio::sync::oneshot;

pub use fn_runtime::{BodyCut, BoxError, RequestBody, ResponseBody};

use crate::Engine;
use crate::record::Recorder;

/// An HTTP function's response: its head as the guest set it, and its body streaming
/// from the guest (cut, as an error, when the guest does not finish it).
pub type HttpResponse = http::Response<ResponseBody>;

/// A whole body of `bytes`, as a [`RequestBody`].
pub fn full_body(bytes: Bytes) -> RequestBody {
    fn_runtime::full(bytes)
}

impl Engine {
    /// Serves one HTTP request with the HTTP function `function` (a component exporting
    /// `wasi:http/incoming-handler`), and returns its response as soon as the guest sets
    /// it; the body streams on as the guest writes it.
    ///
    /// Everything [`Engine::execute`] does holds: validation, admission before anything
    /// is fetched or compiled, the function's limits (the deadline covers the whole
    /// exchange, the body's delivery included; `max_input_bytes` bounds the request body,
    /// refused at once on a declared `content-length` over it, else when the stream goes
    /// past it; `max_output_bytes` the response body), and exactly one record, written
    /// when the exchange ends, with the status the guest answered (`http_status`). The
    /// call is recorded as cancelled when this future, or the response's body before
    /// its end, is dropped. Must be called within a Tokio runtime: the exchange runs
    /// in a task of its own.
    ///
    /// # Errors
    ///
    /// When the guest set no response: [`Error::Execution`] around the cause, as
    /// `execute`'s errors, with [`Error::Abi`] for a guest that answered a wasi:http
    /// error code or returned without setting a response, and [`Error::Validation`] for
    /// a function that is not an HTTP function.
    pub fn serve_http(
        &self,
        function: &Function,
        request: http::Request<RequestBody>,
        ctx: Option<InvocationContext>,
    ) -> impl Future<Output = Result<HttpResponse>> + Send + 'static {
        let declared = declared_length(&request).unwrap_or(0);
        let (ctx, mut recorder) = self.start(function, ctx, declared as usize);
        recorder.set_http_request(&request);
        let name = function.definition.name.clone();
        let request_id = ctx.request_id.clone();
        let (respond, head) = oneshot::channel();
        let (fail, failed) = oneshot::channel();
        let engine = self.clone();
        let function = function.clone();
        let exchange = tokio::spawn(async move {
            engine
                .exchange(&function, ctx, (request, declared), respond, recorder, fail)
                .await;
        });
        // Made here, not in the future: a future dropped unpolled stops the exchange too.
        let mut exchange = AbortOnDrop(Some(exchange));
        async move {
            if let Ok(response) = head.await {
                // From here the body holds the exchange: dropping it stops the guest.
                exchange.detach();
                return Ok(response);
            }
            let cause = failed.await.unwrap_or_else(|_| Error::Internal {
                message: "the HTTP exchange ended without saying why".into(),
            });
            Err(Error::Execution {
                function: name,
                request_id,
                source: Box::new(cause),
            })
        }
    }

    /// The exchange, in its own task: run, record, and say why when there is no head.
    async fn exchange(
        &self,
        function: &Function,
        ctx: InvocationContext,
        request: (http::Request<RequestBody>, u64),
        respond: fn_runtime::ResponseSender,
        mut recorder: Recorder,
        fail: oneshot::Sender<Error>,
    ) {
        let result = self
            .run_exchange(function, &ctx, request, respond, &mut recorder)
            .await;
        recorder.finish(result.as_ref().copied());
        if let Err(error) = result {
            // Nobody waits for it once the head was handed over.
            let _ = fail.send(error);
        }
    }

    async fn run_exchange(
        &self,
        function: &Function,
        ctx: &InvocationContext,
        (request, declared): (http::Request<RequestBody>, u64),
        respond: fn_runtime::ResponseSender,
        recorder: &mut Recorder,
    ) -> Result<u64> {
        let ready = self.ready(function, ctx, declared, recorder).await?;
        let limit_bytes = self.inner.config.max_input_bytes;
        let seen = Arc::new(AtomicU64::new(0));
        let request = request.map(|inner| {
            Capped {
                inner,
                limit: limit_bytes,
                seen: seen.clone(),
            }
            .boxed_unsync()
        });
        let served = self.inner.runtime.serve_http(
            &ready.module,
            ready.invocation(function),
            request,
            respond,
        );
        let outcome = Box::pin(served).await;
        self.ran(function, ctx, &outcome, recorder);
        // What the client sent: declared, or read by the guest when it read more.
        let seen = seen.load(Ordering::Relaxed);
        recorder.set_input_size(seen.max(declared));
        match outcome.result {
            // A guest that failed after its body went over the limit failed of that.
            Err(_) if seen > limit_bytes => Err(Error::InputTooLarge {
                size_bytes: seen,
                limit_bytes,
            }),
            Err(error) => Err(error),
            Ok(_) => Ok(outcome.http.map_or(0, |served| served.body_bytes)),
        }
    }
}

/// The request's declared body length, when it declares one.
fn declared_length<B>(request: &http::Request<B>) -> Option<u64> {
    request
        .headers()
        .get(http::header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// A request body bounded by the input limit: past it, the guest's read fails and the
/// call is an input too large. `seen` counts the bytes read, the one past the limit
/// included.
struct Capped {
    inner: RequestBody,
    limit: u64,
    seen: Arc<AtomicU64>,
}

impl Body for Capped {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<std::result::Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        if this.seen.load(Ordering::Relaxed) > this.limit {
            return Poll::Ready(None);
        }
        let frame = std::task::ready!(Pin::new(&mut this.inner).poll_frame(cx));
        if let Some(Ok(frame)) = &frame {
            let len = frame.data_ref().map_or(0, |data| data.len() as u64);
            let seen = this.seen.fetch_add(len, Ordering::Relaxed) + len;
            if seen > this.limit {
                let error = Error::InputTooLarge {
                    size_bytes: seen,
                    limit_bytes: this.limit,
                };
                return Poll::Ready(Some(Err(Box::new(error))));
            }
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Aborts the exchange's task when dropped while it holds one: the caller left before
/// the head.
struct AbortOnDrop(Option<tokio::task::JoinHandle<()>>);

impl AbortOnDrop {
    /// Lets the task run on: the response's body holds the exchange now.
    fn detach(&mut self) {
        self.0 = None;
    }
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(task) = self.0.take() {
            task.abort();
        }
    }
}
