//! wasi:http functions: one request given to a component's `wasi:http/incoming-handler`,
//! its response handed back as soon as the guest sets it, and its body streamed out
//! while the guest writes it.
//!
//! Why an exchange rather than a call: a response's head leaves before its body is
//! written, so the sandbox lives on after the head is sent. The exchange ([`serve`])
//! owns the store until the body has been delivered (or the reader went away), all of
//! it under the invocation's one deadline; the [`ResponseBody`] the reader holds and
//! the exchange share a small state ([`Shared`]) through which each tells the other how
//! it ended. Outbound requests go to the sender the runtime was given, with the
//! function's rules ([`Outbound`]), or are refused.

use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::BodyExt as _;
use tokio::sync::{Notify, oneshot};
use tracing::Instrument as _;
use wasmtime::Store;
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::bindings::http::types::{ErrorCode, Scheme};
use wasmtime_wasi_http::{WasiBody, WasiHttpCtxView, WasiHttpHooks, WasiHttpView};

use fn_core::{OutboundError, OutboundHttp, OutboundRule, OutboundTimeouts};

use crate::classify::Failure;

mod body;
pub use self::body::{BodyCut, ResponseBody};
use crate::store::StoreState;

/// The error of a body's stream.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A request body given to [`Runtime::serve_http`](crate::Runtime::serve_http): any
/// stream of bytes, boxed. An error in it reaches the guest as a failed read.
pub type RequestBody = http_body_util::combinators::UnsyncBoxBody<Bytes, BoxError>;

/// The one sender of the head of an HTTP function's response: fulfilled when the guest
/// sets its response, dropped when it never does.
pub type ResponseSender = oneshot::Sender<http::Response<ResponseBody>>;

/// A guest's outbound requests (`wasi:http/outgoing-handler`): handed to the runtime's
/// sender with the function's rules, at most `max` an invocation; refused with
/// `HTTP-request-denied` when the runtime has no sender or the function no rules. The
/// guest sees wasi:http's error codes; its call goes on.
pub(crate) struct Outbound {
    /// The sender and the function's rules; none when either is missing.
    pub(crate) sender: Option<SenderAndRules>,
    /// Requests sent so far.
    pub(crate) sent: u32,
    /// The most requests an invocation sends (the config's `max_outbound_requests`).
    pub(crate) max: u32,
}

/// Where a function's requests go, and which destinations it may reach.
pub(crate) type SenderAndRules = (Arc<dyn OutboundHttp>, Arc<[OutboundRule]>);

type Io = Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>;
type Sent = wasmtime_wasi_http::Result<(http::Response<WasiBody>, Io)>;

impl WasiHttpHooks for Outbound {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<wasmtime_wasi_http::RequestOptions>,
        _io: Io,
    ) -> Box<dyn Future<Output = Sent> + Send> {
        let Some((sender, rules)) = self.sender.clone().filter(|_| self.sent < self.max) else {
            return Box::new(async { Sent::Err(wasmtime_wasi_http::Error::HttpRequestDenied) });
        };
        self.sent += 1;
        let options = options.unwrap_or_default();
        let timeouts = OutboundTimeouts {
            connect: options.connect_timeout,
            first_byte: options.first_byte_timeout,
            between_bytes: options.between_bytes_timeout,
        };
        let request = request.map(|body| {
            body.map_err(|e| OutboundError::Protocol(format!("the request's body: {e:?}")))
                .boxed_unsync()
        });
        Box::new(async move {
            let (response, connection) = sender
                .send(&rules, request, timeouts)
                .await
                .map_err(error_code)?;
            let response = response.map(|body| body.map_err(error_code).boxed_unsync());
            let connection: Io = Box::new(async move { connection.await.map_err(error_code) });
            Ok((response, connection))
        })
    }
}

/// The wasi:http error code a guest sees for an outbound request's failure.
fn error_code(error: OutboundError) -> wasmtime_wasi_http::Error {
    use wasmtime_wasi_http::Error as Code;
    match error {
        OutboundError::Denied(_) => Code::HttpRequestDenied,
        OutboundError::Prohibited(_) => Code::DestinationIpProhibited,
        OutboundError::InvalidUri(_) => Code::HttpRequestUriInvalid,
        OutboundError::Dns(_) => Code::DnsError {
            rcode: None,
            info_code: None,
        },
        OutboundError::ConnectionRefused(_) => Code::ConnectionRefused,
        OutboundError::ConnectionTimeout => Code::ConnectionTimeout,
        OutboundError::FirstByteTimeout | OutboundError::BetweenBytesTimeout => {
            Code::ConnectionReadTimeout
        }
        OutboundError::Tls(_) => Code::TlsProtocolError,
        OutboundError::RequestTooLarge { limit } => Code::HttpRequestBodySize(Some(limit)),
        OutboundError::ResponseTooLarge { limit } => Code::HttpResponseBodySize(Some(limit)),
        OutboundError::Protocol(_) => Code::HttpProtocolError,
    }
}

impl WasiHttpView for StoreState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        let wasmtime_wasi::WasiCtxView { table, .. } = wasmtime_wasi::WasiView::ctx(&mut self.wasi);
        WasiHttpCtxView {
            ctx: &mut self.http,
            table,
            hooks: &mut self.hooks,
        }
    }
}

/// Why the reader's side stopped the exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    /// The response (head or body) was dropped before its end: the client went away.
    Dropped,
    /// The body went over the output limit.
    OutputTooLarge,
}

/// What the exchange and the response's reader share; the runtime reads its measures
/// when the exchange ends, however it ends (the deadline drops the exchange's future).
#[derive(Default)]
pub(crate) struct Shared {
    /// Set once by the reader's side; the exchange ends at it.
    stop: Mutex<Option<Stop>>,
    /// Woken when `stop` is set or the body has been delivered.
    wake: Notify,
    /// The body reached its end, cleanly or cut, or was dropped after it.
    delivered: AtomicBool,
    /// Body bytes handed to the reader.
    sent: AtomicU64,
    /// The status the guest set, 0 until it sets one.
    status: AtomicU16,
}

impl Shared {
    /// What the exchange measured so far.
    pub(crate) fn served(&self) -> Served {
        Served {
            status: Some(self.status.load(Ordering::Relaxed)).filter(|code| *code != 0),
            body_bytes: self.sent.load(Ordering::Relaxed),
        }
    }

    fn stop(&self, why: Stop) {
        self.stop
            .lock()
            .expect("the stop lock is never held across a panic")
            .get_or_insert(why);
        self.wake.notify_one();
    }

    fn stopped(&self) -> Option<Stop> {
        *self
            .stop
            .lock()
            .expect("the stop lock is never held across a panic")
    }
}

/// What an HTTP exchange measured besides its result.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Served {
    /// The status the guest answered with, once it set its response.
    pub status: Option<u16>,
    /// Body bytes handed to the reader.
    pub body_bytes: u64,
}

/// Runs one exchange in `store`: the request given to the guest, its response's head
/// sent on `respond` when the guest sets it, and its body read until it is delivered.
/// Ends with the guest's failure, or `Ok` once the body has been delivered (or there is
/// none to deliver). The caller bounds it with the deadline.
pub(crate) async fn serve(
    store: &mut Store<StoreState>,
    pre: &ProxyPre<StoreState>,
    request: http::Request<RequestBody>,
    respond: ResponseSender,
    max_output_bytes: u64,
    shared: Arc<Shared>,
) -> Result<(), Failure> {
    let made = store.data().made;
    let (verdict_tx, verdict) = oneshot::channel();
    let guest_error: Arc<Mutex<Option<ErrorCode>>> = Arc::default();
    let (request, out) = {
        let mut http = store.data_mut().http();
        let request = http
            .new_incoming_request(Scheme::Http, with_authority(request))
            .map_err(Failure::Wasm)?;
        let shared = shared.clone();
        let guest_error = guest_error.clone();
        let mut verdict = Some(verdict);
        let out = http
            .new_response_outparam_from_callback(move |response| match response {
                Ok(response) => {
                    shared
                        .status
                        .store(response.status().as_u16(), Ordering::Relaxed);
                    let response = response.map(|inner| {
                        ResponseBody::new(inner, shared, verdict.take(), max_output_bytes)
                    });
                    // A receiver gone is a caller gone: the exchange sees it as a stop.
                    let _ = respond.send(response);
                }
                Err(code) => {
                    *guest_error.lock().expect("never held across a panic") = Some(code);
                }
            })
            .map_err(Failure::Wasm)?;
        (request, out)
    };
    let handled = {
        let handle = handle(store, pre, request, out);
        let stopped = stopped(&shared);
        tokio::select! {
            biased;
            why = stopped => Err(why),
            handled = handle => Ok(handled),
        }
    };
    match handled {
        Err(why) => Err(stop_failure(why, made)),
        Ok(Err(failure)) => Err(failure),
        Ok(Ok(())) => {
            if let Some(code) = guest_error.lock().expect("never held").take() {
                Err(Failure::Abi(format!(
                    "the function answered the wasi:http error `{code:?}` instead of a response"
                )))
            } else if shared.served().status.is_none() {
                Err(Failure::Abi(
                    "the function returned without setting a response \
                     (`response-outparam.set` was never called)"
                        .into(),
                ))
            } else {
                // The guest is done: its body ends here, and is delivered.
                let _ = verdict_tx.send(true);
                delivered(&shared)
                    .await
                    .map_err(|why| stop_failure(why, made))
            }
        }
    }
}

/// Instantiates the proxy and calls its handler. Sets the store's `instantiated` and
/// `called` as the other ABIs do.
async fn handle(
    store: &mut Store<StoreState>,
    pre: &ProxyPre<StoreState>,
    request: wasmtime::component::Resource<wasmtime_wasi_http::p2::types::HostIncomingRequest>,
    out: wasmtime::component::Resource<wasmtime_wasi_http::p2::types::HostResponseOutparam>,
) -> Result<(), Failure> {
    let proxy = pre
        .instantiate_async(&mut *store)
        .instrument(phase_span!("instantiate"))
        .await;
    store.data_mut().instantiated = Some(std::time::Instant::now());
    let proxy = proxy.map_err(Failure::Wasm)?;
    store.data_mut().called = true;
    proxy
        .wasi_http_incoming_handler()
        .call_handle(&mut *store, request, out)
        .instrument(phase_span!("execute"))
        .await
        .map_err(Failure::Wasm)
}

/// Resolves when the reader's side stops the exchange.
async fn stopped(shared: &Shared) -> Stop {
    loop {
        let woken = shared.wake.notified();
        if let Some(why) = shared.stopped() {
            return why;
        }
        woken.await;
    }
}

/// Resolves when the body has been delivered, or with why the reader stopped.
async fn delivered(shared: &Shared) -> Result<(), Stop> {
    loop {
        let woken = shared.wake.notified();
        if shared.delivered.load(Ordering::Acquire) {
            // Delivered, unless its reader stopped it on the way (the limit).
            return shared
                .stopped()
                .filter(|why| *why != Stop::Dropped)
                .map_or(Ok(()), Err);
        }
        if let Some(why) = shared.stopped() {
            return Err(why);
        }
        woken.await;
    }
}

fn stop_failure(why: Stop, made: std::time::Instant) -> Failure {
    match why {
        Stop::Dropped => Failure::Dropped {
            after: made.elapsed(),
        },
        Stop::OutputTooLarge => Failure::ResponseTooLarge,
    }
}

/// The request with an authority wasi:http requires: its URI's, else its `Host`
/// header, else `localhost`.
fn with_authority(
    mut request: http::Request<RequestBody>,
) -> http::Request<http_body_util::combinators::UnsyncBoxBody<Bytes, wasmtime_wasi_http::Error>> {
    if request.uri().authority().is_none() && !request.headers().contains_key(http::header::HOST) {
        request.headers_mut().insert(
            http::header::HOST,
            http::HeaderValue::from_static("localhost"),
        );
    }
    request.map(|body| {
        body.map_err(|error| wasmtime_wasi_http::Error::InternalError(Some(error.to_string())))
            .boxed_unsync()
    })
}

/// A whole body of `bytes`, as a [`RequestBody`].
pub fn full(bytes: Bytes) -> RequestBody {
    http_body_util::Full::new(bytes)
        .map_err(|never| match never {})
        .boxed_unsync()
}
