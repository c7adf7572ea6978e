//! The HTTP gateway: invoke deployed functions, manage them (deploy, list, versions,
//! rollback, delete, invocation records), and the probes and metrics an operator's
//! platform reads. An axum [`Router`] over an [`Engine`] and a [`FunctionStore`], so it
//! can be tested and embedded without the `fnd` binary; [`serve`] runs it with a
//! graceful shutdown.
//!
//! Routes (who may call each: [`auth`]'s rights; invoke needs a token unless the
//! function is public):
//!
//! | method and path | what |
//! |---|---|
//! | `POST /v1/functions/{namespace}/{name}/invoke` | body = input, answer = output bytes |
//! | any method, `/v1/functions/{namespace}/{name}/http[/{rest}]` | an HTTP function served the request; its response streamed back ([`http`]) |
//! | `POST /v1/functions/{namespace}/{name}` | deploy: multipart `module` + `definition` ([`crate::api::DeploySpec`]) |
//! | `GET /v1/functions/{namespace}` | list, `?limit=&after=` |
//! | `GET /v1/functions/{namespace}/{name}` | the active version's function |
//! | `DELETE /v1/functions/{namespace}/{name}` | delete every version |
//! | `GET /v1/functions/{namespace}/{name}/versions` | versions |
//! | `DELETE /v1/functions/{namespace}/{name}/versions/{version}` | delete one (not the active one) |
//! | `PUT /v1/functions/{namespace}/{name}/active` | `{"version": N}`: rollback or forward |
//! | `GET /v1/functions/{namespace}/{name}/records` | records, `?limit=&status=&since=&until=&after=` |
//! | `POST /v1/keys`, `GET /v1/keys`, `DELETE /v1/keys/{name}` | API keys (admin) |
//! | `GET /v1/status` | in-flight invocations, draining |
//! | `GET /healthz`, `GET /readyz`, `GET /metrics` | probes (readyz is 503 while draining), Prometheus |
//! | any other path | the HTTP function whose route (`--route`) covers it, longest prefix first; else 404 |
//!
//! Why the checks in this order for an invoke: the function is looked up, its token
//! checked, and the body's declared length compared with the input limit before a byte
//! of the body is read, so an oversized or unauthorised call costs no buffering.

mod auth;
mod errors;
mod http;
mod invoke;
mod keys;
mod lookup;
mod manage;
mod serve;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderName, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, delete, get, post, put};
use fn_core::PlatformStore;
use fn_core::{Page, TraceContext};
use fn_engine::Engine;
use fn_telemetry::{RecordFigures, Telemetry};

pub use self::auth::KEY_TTL;
pub use self::errors::{ApiError, status_of};
pub use self::invoke::INPUT_BUFFER_BUDGET;
pub use self::keys::TOKEN_PREFIX;
pub use self::lookup::LOOKUP_TTL;
pub use self::manage::{MAX_DEFINITION_BYTES, allocator};
pub use self::serve::serve;
use self::serve::{abandon_at_deadline, linger};

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
    store: Arc<dyn PlatformStore>,
    telemetry: Option<Telemetry>,
    token: Option<String>,
    keys: auth::Keys,
    in_flight: AtomicU64,
    draining: AtomicBool,
    /// Woken when `in_flight` or `draining` changes: what [`Gateway::until`] waits on.
    changed: tokio::sync::Notify,
    /// Set at the drain deadline: every request still under way is dropped (an
    /// invocation is cancelled, and recorded as such) and answered 503.
    abandon: tokio::sync::watch::Sender<bool>,
    input_budget: invoke::InputBudget,
    lookup: lookup::Lookup,
    record_figures: OnceLock<RecordFiguresFn>,
}

/// What `/metrics` asks for the record writer's figures.
type RecordFiguresFn = Box<dyn Fn() -> RecordFigures + Send + Sync>;

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("store", &self.inner.store)
            .field("telemetry", &self.inner.telemetry.is_some())
            .field("token", &self.inner.token.as_ref().map(|_| "(set)"))
            .field("in_flight", &self.in_flight())
            .finish_non_exhaustive()
    }
}

impl Gateway {
    /// A gateway running functions of `store` on `engine` (which reads modules from the
    /// same store), with the API keys `store` keeps. `token` is the admin bearer token:
    /// management needs it or a key's, and so do invocations of functions not marked
    /// public; `None` lets anyone without a token do anything (for a server only this
    /// machine can reach). `telemetry` serves `/metrics` when it keeps a Prometheus
    /// exposition.
    pub fn new(
        engine: Engine,
        store: Arc<dyn PlatformStore>,
        telemetry: Option<Telemetry>,
        token: Option<String>,
    ) -> Gateway {
        let input_budget =
            invoke::InputBudget::new(invoke::INPUT_BUFFER_BUDGET, engine.config().max_input_bytes);
        Gateway {
            inner: Arc::new(Inner {
                engine,
                store,
                telemetry,
                token,
                keys: auth::Keys::new(),
                in_flight: AtomicU64::new(0),
                draining: AtomicBool::new(false),
                changed: tokio::sync::Notify::new(),
                abandon: tokio::sync::watch::Sender::new(false),
                input_budget,
                lookup: lookup::Lookup::new(),
                record_figures: OnceLock::new(),
            }),
        }
    }

    /// The routes, as the module's table lists them.
    pub fn router(&self) -> Router {
        // A deploy's parts are bounded as they are read (the module by the engine's
        // module limit, the definition by its own); the whole body, chunked too, by
        // their sum and the form's framing, not by axum's 2 MB default.
        let config = self.inner.engine.config();
        let deploy_body = DefaultBodyLimit::max(
            usize::try_from(manage::deploy_room(config.max_module_bytes)).unwrap_or(usize::MAX),
        );
        let small_body = DefaultBodyLimit::max(64 * 1024);
        Router::new()
            .route(
                "/v1/functions/{namespace}/{name}/invoke",
                post(invoke::invoke),
            )
            .route("/v1/functions/{namespace}/{name}/http", any(http::serve))
            .route("/v1/functions/{namespace}/{name}/http/", any(http::serve))
            .route(
                "/v1/functions/{namespace}/{name}/http/{*rest}",
                any(http::serve),
            )
            .route("/v1/functions/{namespace}", get(manage::list))
            .route(
                "/v1/functions/{namespace}/{name}",
                post(manage::deploy)
                    .layer(deploy_body)
                    .get(manage::get)
                    .delete(manage::delete_function),
            )
            .route(
                "/v1/functions/{namespace}/{name}/versions",
                get(manage::versions),
            )
            .route(
                "/v1/functions/{namespace}/{name}/versions/{version}",
                delete(manage::delete_version),
            )
            .route(
                "/v1/functions/{namespace}/{name}/active",
                put(manage::activate).layer(small_body),
            )
            .route(
                "/v1/functions/{namespace}/{name}/records",
                get(manage::records),
            )
            .route(
                "/v1/keys",
                post(keys::create).get(keys::list).layer(small_body),
            )
            .route("/v1/keys/{name}", delete(keys::delete))
            .route("/v1/status", get(manage::status))
            .route("/healthz", get(healthz))
            .route("/readyz", get(readyz))
            .route("/metrics", get(metrics))
            .fallback(http::routed)
            .method_not_allowed_fallback(no_method)
            .layer(axum::middleware::from_fn_with_state(
                self.clone(),
                abandon_at_deadline,
            ))
            .with_state(self.clone())
    }

    /// Where `/metrics` reads the records written and dropped (the program's record
    /// writer), reported as `fn.records.*`. Set once; a second call is ignored.
    pub fn set_record_figures(&self, figures: impl Fn() -> RecordFigures + Send + Sync + 'static) {
        let _ = self.inner.record_figures.set(Box::new(figures));
    }

    /// Invocations being run now.
    pub fn in_flight(&self) -> u64 {
        self.inner.in_flight.load(Ordering::Acquire)
    }

    /// Marks the gateway as shutting down: `/readyz` answers 503 from now on, so a load
    /// balancer stops sending it work.
    pub fn start_draining(&self) {
        self.inner.draining.store(true, Ordering::Release);
        self.inner.changed.notify_waiters();
    }

    /// Waits until `holds` is true of the gateway, checked each time the invocations in
    /// flight or the draining flag change: a condition to wait on, for a supervisor or
    /// a test, instead of a loop that polls.
    pub async fn until(&self, holds: impl Fn(&Gateway) -> bool) {
        loop {
            let changed = self.inner.changed.notified();
            let mut changed = std::pin::pin!(changed);
            // Registered before the check, so a change between the two is not missed.
            changed.as_mut().enable();
            if holds(self) {
                return;
            }
            changed.await;
        }
    }

    /// Whether [`Gateway::start_draining`] was called.
    pub fn is_draining(&self) -> bool {
        self.inner.draining.load(Ordering::Acquire)
    }

    /// The engine the gateway runs functions on.
    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }
}

/// The body's declared length (`content-length`), when the request declares one.
fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
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

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(gateway): State<Gateway>, headers: HeaderMap) -> Response {
    if gateway.is_draining() {
        return (StatusCode::SERVICE_UNAVAILABLE, "draining\n").into_response();
    }
    match gateway.inner.store.list("", &Page::first(1)).await {
        Ok(_) => (StatusCode::OK, "ready\n").into_response(),
        Err(error) => ApiError::from_error(&error, &request_id(&headers)).into_response(),
    }
}

/// A method a path does not take.
async fn no_method(headers: HeaderMap) -> Response {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this path does not take that method",
        &request_id(&headers),
    )
    .into_response()
}

/// `/metrics`: the Prometheus exposition. It names every function invoked, so it needs
/// the admin token as the listing does (a scraper sends it with `authorization`).
async fn metrics(State(gateway): State<Gateway>, admin: Result<auth::Admin, ApiError>) -> Response {
    let request_id = match admin {
        Ok(admin) => admin.request_id,
        Err(refused) => return refused.into_response(),
    };
    let Some(telemetry) = &gateway.inner.telemetry else {
        return (StatusCode::NOT_FOUND, "no metrics are kept\n").into_response();
    };
    let stats = gateway.inner.engine.cache_stats().await;
    telemetry.update_cache(crate::telemetry::cache_figures(&stats));
    if let Some(figures) = gateway.inner.record_figures.get() {
        telemetry.update_records(figures());
    }
    match telemetry.prometheus_text() {
        Ok(text) => (
            [(header::CONTENT_TYPE, fn_telemetry::PROMETHEUS_CONTENT_TYPE)],
            text,
        )
            .into_response(),
        Err(error) => ApiError::from_error(&error, &request_id).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

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
