//! The gateway's life around its requests: [`serve`] with a graceful shutdown, the
//! middleware that gives each request its id, drops it at the drain deadline and marks
//! an answer given before the body was read, and [`linger`] for a refused body.

use std::future::{Future, IntoFuture as _};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::{ApiError, Gateway, REQUEST_ID, request_id};

/// Serves `gateway` on `listener` until `shutdown` completes, then shuts down
/// gracefully: the gateway starts draining, no new connection is accepted, and the
/// requests under way (invocations, deploys) get up to `drain` to finish. Returns the
/// number of invocations still running when the deadline passed (0 after a clean
/// drain); the caller then flushes records and telemetry.
///
/// # Errors
///
/// The listener's I/O error.
pub async fn serve(
    listener: tokio::net::TcpListener,
    gateway: Gateway,
    shutdown: impl Future<Output = ()> + Send + 'static,
    drain: Duration,
) -> std::io::Result<u64> {
    let (begun, mut begun_rx) = tokio::sync::watch::channel(false);
    let draining = gateway.clone();
    let signal = async move {
        shutdown.await;
        draining.start_draining();
        let _ = begun.send(true);
    };
    let server = axum::serve(listener, gateway.router()).with_graceful_shutdown(signal);
    let mut server = std::pin::pin!(server.into_future());
    tokio::select! {
        result = &mut server => return result.map(|()| 0),
        _ = begun_rx.wait_for(|begun| *begun) => {}
    }
    match tokio::time::timeout(drain, &mut server).await {
        Ok(result) => result.map(|()| 0),
        Err(_) => {
            let left = gateway.in_flight();
            tracing::warn!(
                left,
                drain_ms = drain.as_millis(),
                "invocations still running at the drain deadline are cancelled"
            );
            gateway.inner.abandon.send_replace(true);
            // Their 503s go out and their connections close; a peer that does not read
            // its answer is not waited for long.
            let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
            Ok(left)
        }
    }
}

/// Gives the request its id (the client's when usable, else a fresh one, which the
/// handlers then find), and runs it unless the drain deadline passes first: then it is
/// dropped (an invocation under way is cancelled, and recorded as such) and answered
/// 503. An answer given before the request's body was read whole (a refusal) says
/// `connection: close`: the rest of the body is still on its way, so the connection
/// cannot carry another request, and a client that pooled it would fail its next one.
pub(super) async fn abandon_at_deadline(
    State(gateway): State<Gateway>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    use http_body::Body as _;
    let mut abandoned = gateway.inner.abandon.subscribe();
    let request_id = request_id(request.headers());
    let (mut parts, body) = request.into_parts();
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        parts.headers.insert(REQUEST_ID, value);
    }
    let read = Arc::new(AtomicBool::new(body.is_end_stream()));
    let body = axum::body::Body::new(ReadWhole {
        inner: body,
        read: read.clone(),
    });
    let request = axum::extract::Request::from_parts(parts, body);
    let mut response = tokio::select! {
        response = next.run(request) => response,
        _ = abandoned.wait_for(|abandoned| *abandoned) => {
            let error = fn_core::Error::Unavailable {
                reason: "the server shut down before the request finished".into(),
            };
            ApiError::from_error(&error, &request_id).into_response()
        }
    };
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().entry(REQUEST_ID).or_insert(value);
    }
    if !read.load(Ordering::Acquire) {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// A request body that notes when it was read to its end.
struct ReadWhole {
    inner: axum::body::Body,
    read: Arc<AtomicBool>,
}

impl http_body::Body for ReadWhole {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let polled = std::pin::Pin::new(&mut self.inner).poll_frame(cx);
        if matches!(polled, std::task::Poll::Ready(None)) || self.inner.is_end_stream() {
            self.read.store(true, Ordering::Release);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// The most bytes of a refused body read and thrown away, and for how long.
const LINGER_BYTES: u64 = 64 << 20;
const LINGER: Duration = Duration::from_secs(5);

/// Reads `body` and throws it away, in the background, up to [`LINGER_BYTES`] within
/// [`LINGER`]: a refusal answered before the body was read (a 413 on the declared
/// length) then reaches a client that sends its whole body before it reads the answer,
/// instead of a reset connection (a "lingering close", as nginx does). Nothing is kept.
pub(super) fn linger(body: axum::body::Body) {
    use http_body_util::BodyExt as _;
    tokio::spawn(async move {
        let drain = async move {
            let mut body = body;
            let mut read = 0u64;
            while let Some(Ok(frame)) = body.frame().await {
                read += frame.data_ref().map_or(0, |data| data.len() as u64);
                if read > LINGER_BYTES {
                    break;
                }
            }
        };
        let _ = tokio::time::timeout(LINGER, drain).await;
    });
}
