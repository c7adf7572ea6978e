//! [`OutboundHttp`]: the seam through which a guest's outbound HTTP requests leave the
//! host, ABI-agnostic: fn-runtime calls it from `wasi:http/outgoing-handler`, fn-host
//! implements it behind its guard, a program wires one into the engine.
//!
//! Why a trait here rather than fn-host called from the runtime: the layer crates never
//! depend on each other (fn-runtime is wasmtime's side, fn-host the network's), so
//! both speak fn-core's vocabulary: plain `http` types, a boxed body, and an error that
//! says which of wasi:http's error codes the guest is to see.

use std::fmt;
use std::pin::Pin;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

use crate::OutboundRule;

/// The body of an outbound request or response: any stream of bytes, boxed.
pub type OutboundBody = http_body_util::combinators::UnsyncBoxBody<Bytes, OutboundError>;

/// A connection's remaining work: it must be polled for a response's body to arrive, and
/// says how the connection ended.
pub type OutboundConnection = Pin<Box<dyn Future<Output = Result<(), OutboundError>> + Send>>;

/// The timeouts a guest asked for (`wasi:http/types.request-options`); each is capped by
/// the sender's own, and all of them by the invocation's deadline.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboundTimeouts {
    /// Until the connection (and TLS) is established.
    pub connect: Option<Duration>,
    /// Until the response's head has arrived.
    pub first_byte: Option<Duration>,
    /// Between two pieces of the response's body.
    pub between_bytes: Option<Duration>,
}

/// Why an outbound request failed: each maps to one of wasi:http's error codes, which is
/// what the guest sees.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutboundError {
    /// No rule of the function allows the destination (`HTTP-request-denied`).
    #[error("the request is denied: {0}")]
    Denied(String),
    /// The destination is an address functions may not reach
    /// (`destination-IP-prohibited`).
    #[error("{0}")]
    Prohibited(String),
    /// The URL cannot be sent: no host, another scheme, an ambiguous host
    /// (`HTTP-request-URI-invalid`).
    #[error("{0}")]
    InvalidUri(String),
    /// The name did not resolve (`DNS-error`).
    #[error("{0}")]
    Dns(String),
    /// No address accepted the connection (`connection-refused`).
    #[error("the connection was refused: {0}")]
    ConnectionRefused(String),
    /// The connection was not established in time (`connection-timeout`).
    #[error("the connection was not established in time")]
    ConnectionTimeout,
    /// The response's head did not arrive in time (`connection-read-timeout`).
    #[error("the response did not arrive in time")]
    FirstByteTimeout,
    /// The response's body stalled (`connection-read-timeout`).
    #[error("the response's body stalled")]
    BetweenBytesTimeout,
    /// The TLS handshake failed (`TLS-protocol-error`).
    #[error("TLS failed: {0}")]
    Tls(String),
    /// The request's body is longer than the sender sends (`HTTP-request-body-size`).
    #[error("the request's body is over {limit} bytes")]
    RequestTooLarge {
        /// The most bytes sent.
        limit: u64,
    },
    /// The response's body is longer than the sender reads
    /// (`HTTP-response-body-size`).
    #[error("the response's body is over {limit} bytes")]
    ResponseTooLarge {
        /// The most bytes read.
        limit: u64,
    },
    /// The peer broke HTTP, or the connection failed after it was made
    /// (`HTTP-protocol-error`).
    #[error("HTTP failed: {0}")]
    Protocol(String),
}

/// Sends a guest's outbound requests. Called once per request, with the rules of the
/// function making it; the implementation decides (and must refuse what the rules do
/// not allow), connects, and hands back the response as soon as its head arrives.
#[async_trait]
pub trait OutboundHttp: Send + Sync + fmt::Debug {
    /// Sends `request` (an absolute URL) if `rules` allow it.
    ///
    /// # Errors
    ///
    /// An [`OutboundError`] saying why it was not sent or no response came.
    async fn send(
        &self,
        rules: &[OutboundRule],
        request: http::Request<OutboundBody>,
        timeouts: OutboundTimeouts,
    ) -> Result<(http::Response<OutboundBody>, OutboundConnection), OutboundError>;
}
