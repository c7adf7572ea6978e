//! `ANY /v1/functions/{namespace}/{name}/http[/{rest}]`: an HTTP function (a wasi:http
//! component) served the real request, its response streamed back as the guest writes
//! it.
//!
//! The guest sees the method, the path after `/http` (`/` when there is none) with the
//! query, the headers but the hop-by-hop ones and the gateway's own `authorization`,
//! and the body as it arrives. It answers its own status, headers and body. What the
//! gateway adds: the request id, and the error shape when the guest set no response —
//! 504 at the deadline, 502 when it answered an error code or nothing at all, 500 when
//! it trapped, as for `invoke` otherwise.

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use fn_core::{Error, ErrorKind};
use fn_engine::{BoxError, RequestBody, ResponseBody};
use http_body::{Frame, SizeHint};
use http_body_util::BodyExt as _;

use super::invoke::{InFlight, context, failure, resolve};
use super::{ApiError, Gateway, declared_length, linger};

/// The headers that describe one connection, not the request: never passed on
/// (RFC 9110 section 7.6.1), with those the `connection` header names.
const HOP_BY_HOP: [HeaderName; 8] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::UPGRADE,
];

pub(super) async fn serve(State(gateway): State<Gateway>, request: Request) -> Response {
    let (mut parts, body) = request.into_parts();
    let Some((namespace, name, path)) = split(&parts.uri) else {
        linger(body);
        return no_route(&parts.headers);
    };
    parts.uri = path;
    exchange(gateway, parts, body, &namespace, &name).await
}

/// A path outside the gateway's API: the function whose route covers it (the longest
/// prefix) is served the request, the whole path and query as sent; else 404.
pub(super) async fn routed(State(gateway): State<Gateway>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path();
    if fn_core::RESERVED_ROUTES
        .iter()
        .any(|reserved| fn_core::route_covers(reserved, path))
    {
        linger(body);
        return no_route(&parts.headers);
    }
    let table = match gateway
        .inner
        .lookup
        .routes(gateway.inner.store.as_ref())
        .await
    {
        Ok(table) => table,
        Err(error) => {
            linger(body);
            return ApiError::from_error(&error, &super::request_id(&parts.headers))
                .into_response();
        }
    };
    let Some(route) = table.find(path) else {
        linger(body);
        return no_route(&parts.headers);
    };
    let (namespace, name) = (route.namespace.clone(), route.name.clone());
    // The guest sees the path as the client sent it: the route is part of it.
    let path = match parts.uri.path_and_query() {
        Some(path) => path.as_str().parse().unwrap_or_default(),
        None => Uri::from_static("/"),
    };
    let mut parts = parts;
    parts.uri = path;
    exchange(gateway, parts, body, &namespace, &name).await
}

/// The API's answer to a path it does not serve.
fn no_route(headers: &HeaderMap) -> Response {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "no_route",
        "no such path in the gateway's API, and no function's route covers it",
        &super::request_id(headers),
    )
    .into_response()
}

/// Serves `namespace/name` the request `parts` and `body` (its URI already the one the
/// guest sees).
async fn exchange(
    gateway: Gateway,
    mut parts: axum::http::request::Parts,
    body: Body,
    namespace: &str,
    name: &str,
) -> Response {
    let in_flight = InFlight::new(&gateway);
    let (caller, function) = match resolve(&gateway, &parts.headers, namespace, name).await {
        Ok(found) => found,
        Err(refused) => {
            linger(body);
            return refused;
        }
    };
    let request_id = caller.request_id.clone();
    let ctx = context(&caller, &parts.headers);
    let engine = gateway.inner.engine.clone();
    let limit = engine.config().max_input_bytes;
    if let Some(size) = declared_length(&parts.headers).filter(|size| *size > limit) {
        // Refused before a byte is read; the rest is drained so the client reads why.
        linger(body);
        let error = Error::InputTooLarge {
            size_bytes: size,
            limit_bytes: limit,
        };
        let error = engine.record_refused(&function, ctx, size, error);
        return failure(&gateway, &error, &request_id);
    }
    strip(&mut parts.headers);
    let body: RequestBody = body.map_err(|e| -> BoxError { Box::new(e) }).boxed_unsync();
    let request = axum::http::Request::from_parts(parts, body);
    match engine.serve_http(&function, request, Some(ctx)).await {
        Ok(response) => {
            let abandoned = gateway.inner.abandon.subscribe();
            response.map(|inner| {
                Body::new(Streamed {
                    inner,
                    abandoned: Box::pin(async move {
                        let mut abandoned = abandoned;
                        let _ = abandoned.wait_for(|abandoned| *abandoned).await;
                    }),
                    _in_flight: in_flight,
                })
            })
        }
        Err(error) => {
            let mut answer = failure(&gateway, &error, &request_id);
            if error.root().kind() == ErrorKind::Abi {
                // The function broke the wasi:http contract: a bad answer from upstream.
                *answer.status_mut() = StatusCode::BAD_GATEWAY;
            }
            answer
        }
    }
}

/// The namespace, the name, and the path and query the guest sees, from a path
/// `/v1/functions/{namespace}/{name}/http{rest}`. Taken from the raw path, so the rest
/// reaches the guest encoded as the client sent it.
fn split(uri: &Uri) -> Option<(String, String, Uri)> {
    let path = uri.path();
    let mut segments = path.splitn(6, '/');
    let (Some(""), Some("v1"), Some("functions"), Some(namespace), Some(name)) = (
        segments.next(),
        segments.next(),
        segments.next(),
        segments.next(),
        segments.next(),
    ) else {
        return None;
    };
    let after = segments.next()?;
    let rest = after.strip_prefix("http")?;
    if !(rest.is_empty() || rest.starts_with('/')) {
        return None;
    }
    let rest = if rest.is_empty() { "/" } else { rest };
    let path_and_query = match uri.query() {
        Some(query) => format!("{rest}?{query}"),
        None => rest.to_owned(),
    };
    let decode = |segment: &str| {
        percent_encoding::percent_decode_str(segment)
            .decode_utf8()
            .ok()
            .filter(|decoded| !decoded.is_empty())
            .map(String::from)
    };
    Some((
        decode(namespace)?,
        decode(name)?,
        Uri::try_from(path_and_query).ok()?,
    ))
}

/// Removes what the guest must not see: the hop-by-hop headers, those the `connection`
/// header names, and the gateway's own credentials.
fn strip(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|name| HeaderName::try_from(name.trim()).ok())
        .collect();
    for name in HOP_BY_HOP.iter().chain(&named) {
        headers.remove(name);
    }
    headers.remove(header::AUTHORIZATION);
}

/// The guest's body on its way to the client: it holds the call's place among those in
/// flight until it ends, and is cut when the server gives up on its requests at the
/// drain deadline (dropping the guest's body stops the guest).
struct Streamed {
    inner: ResponseBody,
    abandoned: Pin<Box<dyn Future<Output = ()> + Send>>,
    _in_flight: InFlight,
}

impl http_body::Body for Streamed {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if self.abandoned.as_mut().poll(cx).is_ready() {
            let error = Error::Unavailable {
                reason: "the server shut down before the response finished".into(),
            };
            return Poll::Ready(Some(Err(Box::new(error))));
        }
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        http_body::Body::is_end_stream(&self.inner)
    }

    fn size_hint(&self) -> SizeHint {
        http_body::Body::size_hint(&self.inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split_of(path: &str) -> Option<(String, String, String)> {
        let uri: Uri = path.parse().unwrap();
        split(&uri).map(|(ns, name, uri)| (ns, name, uri.to_string()))
    }

    #[test]
    fn the_guest_sees_the_rest_of_the_path_with_its_query() {
        let cases = [
            ("/v1/functions/acme/shop/http", Some(("acme", "shop", "/"))),
            ("/v1/functions/acme/shop/http/", Some(("acme", "shop", "/"))),
            (
                "/v1/functions/acme/shop/http/cart/7?x=1&y",
                Some(("acme", "shop", "/cart/7?x=1&y")),
            ),
            (
                "/v1/functions/acme/shop/http/a%20b",
                Some(("acme", "shop", "/a%20b")),
            ),
            (
                "/v1/functions/acme/shop/http?q=1",
                Some(("acme", "shop", "/?q=1")),
            ),
            ("/v1/functions/acme/shop/httpx", None),
            ("/v1/functions/acme/shop/invoke", None),
            ("/v1/functions/acme//http", None),
        ];
        for (path, want) in cases {
            let want = want.map(|(a, b, c)| (a.to_owned(), b.to_owned(), c.to_owned()));
            assert_eq!(split_of(path), want, "{path}");
        }
    }

    #[test]
    fn hop_by_hop_headers_and_the_gateways_token_are_not_passed_on() {
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("connection", "keep-alive, x-private"),
            ("keep-alive", "timeout=5"),
            ("x-private", "hop"),
            ("authorization", "Bearer secret"),
            ("te", "trailers"),
            ("upgrade", "h2c"),
            ("x-kept", "yes"),
            ("content-type", "text/plain"),
        ] {
            headers.insert(HeaderName::from_static(name), value.parse().unwrap());
        }
        strip(&mut headers);
        let mut left: Vec<_> = headers.keys().map(HeaderName::as_str).collect();
        left.sort_unstable();
        assert_eq!(left, ["content-type", "x-kept"]);
    }
}
