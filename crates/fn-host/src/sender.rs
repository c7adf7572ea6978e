//! [`Sender`]: fn-core's [`OutboundHttp`] behind the [`Guard`]: a request is vetted,
//! then sent over a connection to one of the vetted addresses, with every wait and every
//! body bounded.
//!
//! Why a connection of its own per request, with no pool and no proxy: a pooled
//! connection would carry one function's requests on another's vetting, and a proxy
//! taken from the environment would connect somewhere the guard never judged. Redirects
//! are not followed: the guest sees the 3xx, and a request it makes to the new location
//! is vetted like any other.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use fn_core::{
    Destination, OutboundBody, OutboundConnection, OutboundError, OutboundHttp, OutboundRule,
    OutboundScheme, OutboundTimeouts,
};
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt as _;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::{Guard, Refused, Resolve, SystemResolver};

/// A [`Sender`]'s bounds.
#[derive(Debug, Clone)]
pub struct SenderOptions {
    /// The longest a connection may take to open, over every vetted address (default
    /// 10 s); a guest may ask for less.
    pub connect_timeout: Duration,
    /// The longest a response's head may take once the request is sent (default 30 s);
    /// a guest may ask for less.
    pub first_byte_timeout: Duration,
    /// The longest a response's body may stall (default 30 s); a guest may ask for
    /// less.
    pub between_bytes_timeout: Duration,
    /// The most bytes of a request's body sent (default 10 MiB).
    pub max_request_body_bytes: u64,
    /// The most bytes of a response's body read (default 64 MiB).
    pub max_response_body_bytes: u64,
    /// Certificates (DER) trusted as roots beside the Mozilla roots of webpki-roots: an
    /// internal certificate authority. Default none.
    pub extra_roots: Vec<Vec<u8>>,
}

impl Default for SenderOptions {
    fn default() -> SenderOptions {
        SenderOptions {
            connect_timeout: Duration::from_secs(10),
            first_byte_timeout: Duration::from_secs(30),
            between_bytes_timeout: Duration::from_secs(30),
            max_request_body_bytes: 10 << 20,
            max_response_body_bytes: 64 << 20,
            extra_roots: Vec::new(),
        }
    }
}

/// Sends outbound requests the guard lets through: `http`, and `https` with rustls,
/// verifying the destination's certificate against the Mozilla roots (webpki-roots) and
/// the options' extra roots.
#[derive(Clone)]
pub struct Sender {
    guard: Guard,
    resolver: Arc<dyn Resolve>,
    options: SenderOptions,
    tls: tokio_rustls::TlsConnector,
}

impl std::fmt::Debug for Sender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sender")
            .field("guard", &self.guard)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl Sender {
    /// A sender vetting with `guard`, resolving with the system's resolver.
    pub fn new(guard: Guard, options: SenderOptions) -> Sender {
        Sender::with_resolver(guard, Arc::new(SystemResolver), options)
    }

    /// A sender resolving names with `resolver` (a table, in tests). An extra root
    /// that is not a certificate is left out, with a warning.
    pub fn with_resolver(
        guard: Guard,
        resolver: Arc<dyn Resolve>,
        options: SenderOptions,
    ) -> Sender {
        let mut roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        let extra = options
            .extra_roots
            .iter()
            .map(|der| rustls::pki_types::CertificateDer::from(der.clone()));
        let (_, refused) = roots.add_parsable_certificates(extra);
        if refused > 0 {
            tracing::warn!(
                refused,
                "extra TLS roots that are not certificates are left out"
            );
        }
        #[expect(
            deprecated,
            reason = "ring has no post-quantum key exchange; aws-lc-rs, which has, would \
                      bring a large C build and the OpenSSL licence"
        )]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("ring's provider supports the safe default versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        Sender {
            guard,
            resolver,
            options,
            tls: tokio_rustls::TlsConnector::from(Arc::new(tls)),
        }
    }

    /// The TLS session over `stream` to `destination`, its certificate verified.
    async fn tls(
        &self,
        destination: &Destination,
        stream: TcpStream,
    ) -> Result<tokio_rustls::client::TlsStream<TcpStream>, OutboundError> {
        use rustls::pki_types::ServerName;
        let name = match destination {
            Destination::Name(name) => ServerName::try_from(name.clone())
                .map_err(|e| OutboundError::Tls(format!("{name}: {e}")))?,
            Destination::Ip(ip) => ServerName::IpAddress((*ip).into()),
        };
        self.tls
            .connect(name, stream)
            .await
            .map_err(|e| OutboundError::Tls(e.to_string()))
    }
}

impl From<Refused> for OutboundError {
    fn from(refused: Refused) -> OutboundError {
        let text = refused.to_string();
        match refused {
            Refused::InvalidUri(_) => OutboundError::InvalidUri(text),
            Refused::NotAllowed { .. } => OutboundError::Denied(text),
            Refused::Prohibited { .. } => OutboundError::Prohibited(text),
            Refused::Dns { .. } => OutboundError::Dns(text),
        }
    }
}

/// The shorter of the guest's wish and the sender's bound.
fn capped(asked: Option<Duration>, bound: Duration) -> Duration {
    asked.map_or(bound, |asked| asked.min(bound))
}

#[async_trait]
impl OutboundHttp for Sender {
    async fn send(
        &self,
        rules: &[OutboundRule],
        mut request: http::Request<OutboundBody>,
        timeouts: OutboundTimeouts,
    ) -> Result<(http::Response<OutboundBody>, OutboundConnection), OutboundError> {
        let limit = self.options.max_request_body_bytes;
        if request.body().size_hint().lower() > limit {
            return Err(OutboundError::RequestTooLarge { limit });
        }
        let connect = capped(timeouts.connect, self.options.connect_timeout);
        // The lookup, connecting, TLS and the HTTP handshake, all within the connect
        // timeout: a resolver that never answers is a timeout too.
        let uri = request.uri().clone();
        let (mut sender, connection) = tokio::time::timeout(connect, async {
            let vetted = self.guard.vet(rules, &uri, self.resolver.as_ref()).await?;
            let stream = connect_any(&vetted.addresses).await?;
            let stream: Box<dyn Stream> = match vetted.scheme {
                OutboundScheme::Http => Box::new(stream),
                OutboundScheme::Https => Box::new(self.tls(&vetted.destination, stream).await?),
            };
            hyper::client::conn::http1::Builder::new()
                .handshake(TokioIo::new(stream))
                .await
                .map_err(|e| OutboundError::Protocol(e.to_string()))
        })
        .await
        .map_err(|_| OutboundError::ConnectionTimeout)??;
        // On the wire, the request line carries the path only (the URL is a proxy's).
        let path = request
            .uri()
            .path_and_query()
            .map_or("/", http::uri::PathAndQuery::as_str)
            .parse()
            .map_err(|e: http::uri::InvalidUri| OutboundError::InvalidUri(e.to_string()))?;
        *request.uri_mut() = path;
        let request = request.map(|body| Capped::new(body, limit, Side::Request));
        let mut driver: Option<OutboundConnection> = Some(Box::pin(async move {
            connection
                .await
                .map_err(|e| OutboundError::Protocol(e.to_string()))
        }));
        let first_byte = capped(timeouts.first_byte, self.options.first_byte_timeout);
        let response = tokio::time::timeout(first_byte, async {
            // The connection must be driven for the response to arrive.
            let send = sender.send_request(request);
            tokio::pin!(send);
            let connection = driver.as_mut().expect("polled here first");
            let response = tokio::select! {
                response = &mut send => response,
                ended = connection => {
                    // Ended cleanly: the response is ready, or never comes. Either
                    // way the connection is not to be polled again.
                    driver = None;
                    ended?;
                    send.await
                }
            };
            response.map_err(|e| {
                // A body of ours that failed (over its limit) is the error to tell.
                match std::error::Error::source(&e)
                    .and_then(|cause| cause.downcast_ref::<OutboundError>())
                {
                    Some(cause) => cause.clone(),
                    None => OutboundError::Protocol(e.to_string()),
                }
            })
        })
        .await
        .map_err(|_| OutboundError::FirstByteTimeout)??;
        let connection = driver.unwrap_or_else(|| Box::pin(async { Ok(()) }));
        let stall = capped(timeouts.between_bytes, self.options.between_bytes_timeout);
        let max = self.options.max_response_body_bytes;
        let response = response.map(|incoming| {
            let body = incoming.map_err(|e| OutboundError::Protocol(e.to_string()));
            Stalling::new(Capped::new(body, max, Side::Response), stall).boxed_unsync()
        });
        Ok((response, connection))
    }
}

/// A connection, plain or TLS.
trait Stream: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin {}

impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin> Stream for T {}

/// A connection to the first of `addresses` that accepts one, in order.
async fn connect_any(addresses: &[std::net::SocketAddr]) -> Result<TcpStream, OutboundError> {
    let mut last = None;
    for address in addresses {
        match TcpStream::connect(address).await {
            Ok(stream) => return Ok(stream),
            Err(error) => last = Some(format!("{address}: {error}")),
        }
    }
    Err(OutboundError::ConnectionRefused(
        last.unwrap_or_else(|| "no address to connect to".into()),
    ))
}

/// Which body a [`Capped`] bounds, for its error.
#[derive(Debug, Clone, Copy)]
enum Side {
    Request,
    Response,
}

/// A body that fails once more than `limit` bytes have passed.
struct Capped<B> {
    inner: B,
    limit: u64,
    seen: u64,
    side: Side,
}

impl<B> Capped<B> {
    fn new(inner: B, limit: u64, side: Side) -> Capped<B> {
        Capped {
            inner,
            limit,
            seen: 0,
            side,
        }
    }
}

impl<B> Body for Capped<B>
where
    B: Body<Data = Bytes, Error = OutboundError> + Unpin,
{
    type Data = Bytes;
    type Error = OutboundError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, OutboundError>>> {
        let frame = ready!(Pin::new(&mut self.inner).poll_frame(cx));
        if let Some(Ok(frame)) = &frame
            && let Some(data) = frame.data_ref()
        {
            self.seen += data.len() as u64;
            if self.seen > self.limit {
                let limit = self.limit;
                return Poll::Ready(Some(Err(match self.side {
                    Side::Request => OutboundError::RequestTooLarge { limit },
                    Side::Response => OutboundError::ResponseTooLarge { limit },
                })));
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

/// A response body that fails when no frame has come for `stall`.
struct Stalling<B> {
    inner: B,
    stall: Duration,
    timer: Pin<Box<tokio::time::Sleep>>,
}

impl<B> Stalling<B> {
    fn new(inner: B, stall: Duration) -> Stalling<B> {
        Stalling {
            inner,
            stall,
            timer: Box::pin(tokio::time::sleep(stall)),
        }
    }
}

impl<B> Body for Stalling<B>
where
    B: Body<Data = Bytes, Error = OutboundError> + Unpin,
{
    type Data = Bytes;
    type Error = OutboundError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, OutboundError>>> {
        if let Poll::Ready(frame) = Pin::new(&mut self.inner).poll_frame(cx) {
            let next = tokio::time::Instant::now() + self.stall;
            self.timer.as_mut().reset(next);
            return Poll::Ready(frame);
        }
        ready!(self.timer.as_mut().poll(cx));
        Poll::Ready(Some(Err(OutboundError::BetweenBytesTimeout)))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
