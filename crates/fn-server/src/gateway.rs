//! The HTTP gateway: invoke deployed functions, and the probes and metrics an operator's
//! platform reads. An axum [`Router`] over an [`Engine`] and a [`FunctionStore`], so it
//! can be tested and embedded without the `fnd` binary.
//!
//! Why the checks in this order for an invoke: the function is looked up, its token
//! checked, and the body's declared length compared with the input limit before a byte
//! of the body is read, so an oversized or unauthorised call costs no buffering.

mod errors;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use fn_core::{Error, FunctionStore, InvocationContext, Page, TraceContext, TriggerType};
use fn_engine::Engine;
use fn_telemetry::Telemetry;

pub use self::errors::{ApiError, status_of};

/// The request id header, accepted and echoed.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The longest request id accepted from a client (a longer or unprintable one is
/// replaced by a fresh one).
pub const MAX_REQUEST_ID_BYTES: usize = 128;

/// The gateway's shared state. Cheap to clone.
#[derive(Clone)]
pub struct Gateway {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Engine,
    store: Arc<dyn FunctionStore>,
    telemetry: Option<Telemetry>,
    token: Option<String>,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("store", &self.inner.store)
            .field("telemetry", &self.inner.telemetry.is_some())
            .field("token", &self.inner.token.as_ref().map(|_| "(set)"))
            .finish_non_exhaustive()
    }
}

impl Gateway {
    /// A gateway running functions of `store` on `engine` (which reads modules from the
    /// same store). `token` is the bearer token that functions not marked public need;
    /// `None` lets anyone invoke any function (for local use only). `telemetry` serves
    /// `/metrics` when it keeps a Prometheus exposition.
    pub fn new(
        engine: Engine,
        store: Arc<dyn FunctionStore>,
        telemetry: Option<Telemetry>,
        token: Option<String>,
    ) -> Gateway {
        Gateway {
            inner: Arc::new(Inner {
                engine,
                store,
                telemetry,
                token,
            }),
        }
    }

    /// The routes: `POST /v1/functions/{namespace}/{name}/invoke`, `GET /healthz`,
    /// `GET /readyz`, `GET /metrics`.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/v1/functions/{namespace}/{name}/invoke", post(invoke))
            .route("/healthz", get(healthz))
            .route("/readyz", get(readyz))
            .route("/metrics", get(metrics))
            .with_state(self.clone())
    }

    /// Whether `headers` carry the bearer token (compared in constant time). True when
    /// no token is configured.
    fn authorised(&self, headers: &HeaderMap) -> bool {
        let Some(token) = &self.inner.token else {
            return true;
        };
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        constant_time_eq(given.as_bytes(), token.as_bytes())
    }
}

/// Whether `a` and `b` are equal, taking the same time whatever their content (the
/// length is not secret).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

/// The client's request id when it is usable, else a fresh one.
fn request_id(headers: &HeaderMap) -> String {
    headers
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|id| {
            !id.is_empty()
                && id.len() <= MAX_REQUEST_ID_BYTES
                && id.bytes().all(|b| b.is_ascii_graphic())
        })
        .map_or_else(fn_core::new_id, str::to_owned)
}

/// The caller's W3C trace context from `traceparent`/`tracestate`, when valid.
fn trace(headers: &HeaderMap) -> Option<TraceContext> {
    let parent = headers.get("traceparent")?.to_str().ok()?;
    let state = headers.get("tracestate").and_then(|v| v.to_str().ok());
    TraceContext::parse(parent, state)
}

async fn invoke(
    State(gateway): State<Gateway>,
    Path((namespace, name)): Path<(String, String)>,
    request: Request,
) -> Response {
    let headers = request.headers().clone();
    let request_id = request_id(&headers);
    let fail = |error: &Error| ApiError::from_error(error, &request_id).into_response();
    let function = match gateway
        .inner
        .store
        .function_by_name(&namespace, &name)
        .await
    {
        Ok(function) => function,
        Err(error) => return fail(&error),
    };
    if !function.definition.public && !gateway.authorised(&headers) {
        return ApiError::unauthorized(&request_id).into_response();
    }
    let limit = gateway.inner.engine.config().max_input_bytes;
    let too_large = |size_bytes| Error::InputTooLarge {
        size_bytes,
        limit_bytes: limit,
    };
    // Refused on its declared length, before a byte of it is read.
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(size) = declared.filter(|size| *size > limit) {
        return fail(&too_large(size));
    }
    let cap = usize::try_from(limit).unwrap_or(usize::MAX);
    let input = match axum::body::to_bytes(request.into_body(), cap).await {
        Ok(input) => input,
        // A body without a declared length that goes past the limit: read no further.
        Err(_) => return fail(&too_large(limit.saturating_add(1))),
    };
    let mut ctx = InvocationContext::new(TriggerType::Http);
    ctx.request_id.clone_from(&request_id);
    ctx.trace = trace(&headers);
    match gateway
        .inner
        .engine
        .execute(&function, input, Some(ctx))
        .await
    {
        Ok(output) => {
            let mut response = Response::new(Body::from(output));
            let headers = response.headers_mut();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            );
            if let Ok(value) = HeaderValue::from_str(&request_id) {
                headers.insert(REQUEST_ID, value);
            }
            response
        }
        Err(error) => fail(&error),
    }
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(gateway): State<Gateway>) -> Response {
    match gateway.inner.store.list("", &Page::first(1)).await {
        Ok(_) => (StatusCode::OK, "ready\n").into_response(),
        Err(error) => ApiError::from_error(&error, &fn_core::new_id()).into_response(),
    }
}

async fn metrics(State(gateway): State<Gateway>) -> Response {
    let Some(telemetry) = &gateway.inner.telemetry else {
        return (StatusCode::NOT_FOUND, "no metrics are kept\n").into_response();
    };
    let stats = gateway.inner.engine.cache_stats().await;
    telemetry.update_cache(crate::telemetry::cache_figures(&stats));
    match telemetry.prometheus_text() {
        Ok(text) => (
            [(header::CONTENT_TYPE, fn_telemetry::PROMETHEUS_CONTENT_TYPE)],
            text,
        )
            .into_response(),
        Err(error) => ApiError::from_error(&error, &fn_core::new_id()).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_whole() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret2"));
        assert!(!constant_time_eq(b"", b"secret"));
    }

    #[test]
    fn a_client_request_id_is_kept_only_when_usable() {
        let mut headers = HeaderMap::new();
        headers.insert(REQUEST_ID, HeaderValue::from_static("abc-123"));
        assert_eq!(request_id(&headers), "abc-123");
        headers.insert(REQUEST_ID, HeaderValue::from_static("has space"));
        assert_ne!(request_id(&headers), "has space");
        let long = "x".repeat(MAX_REQUEST_ID_BYTES + 1);
        headers.insert(REQUEST_ID, HeaderValue::from_str(&long).unwrap());
        assert_eq!(request_id(&headers).len(), 36, "a fresh UUID");
    }
}
