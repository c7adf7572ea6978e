//! The management endpoints: deploy, list, get, versions, rollback, delete, invocation
//! records, status and API keys. Each takes [`Manager`] (the admin, or a `deploy` key
//! of the path's namespace) or [`Admin`], checked before anything else (a deploy's body
//! included) is read.

use std::time::Instant;

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{
    FromRequest as _, Multipart, Path, Query, Request, State, multipart::MultipartRejection,
};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bytes::{Bytes, BytesMut};
use chrono::{DateTime, Utc};
use fn_core::{Error, ErrorKind, InvocationStatus, Page, RecordQuery};
use serde::Deserialize;

use super::auth::{Admin, Manager};
use super::{ApiError, Gateway, linger};
use crate::api::{Activate, DeploySpec, Deployed, Status};

/// The most bytes a deploy's `definition` part may take.
pub const MAX_DEFINITION_BYTES: usize = 256 * 1024;

type Answer<T> = Result<T, ApiError>;

/// The most bytes a deploy's whole body may take with a `limit`-byte module: the module,
/// the definition and the form's own framing.
pub(super) fn deploy_room(limit: u64) -> u64 {
    limit
        .saturating_add(MAX_DEFINITION_BYTES as u64)
        .saturating_add(64 * 1024)
}

fn bad_request(request_id: &str, field: &str, reason: impl Into<String>) -> ApiError {
    ApiError::from_error(&Error::validation(field, reason), request_id)
}

fn module_too_large(request_id: &str, size: u64, limit: u64) -> ApiError {
    ApiError {
        status: StatusCode::PAYLOAD_TOO_LARGE,
        kind: ErrorKind::ModuleTooLarge.as_str(),
        message: format!(
            "the module is over the engine's {limit}-byte module limit ({size} bytes or more)"
        ),
        request_id: request_id.to_owned(),
        retry_after: None,
    }
}

/// `POST /v1/functions/{namespace}/{name}`: a multipart form with the module's bytes
/// (`module`) and an optional JSON [`DeploySpec`] (`definition`). Answers 201 with
/// [`Deployed`].
pub(super) async fn deploy(
    State(gateway): State<Gateway>,
    manager: Result<Manager, ApiError>,
    Path((namespace, name)): Path<(String, String)>,
    request: Request,
) -> Answer<(StatusCode, Json<Deployed>)> {
    let request_id = match manager {
        Ok(manager) => manager.request_id,
        Err(refused) => {
            linger(request.into_body());
            return Err(refused);
        }
    };
    let limit = gateway.inner.engine.config().max_module_bytes;
    let (spec, module) = read_form(request, limit, &request_id).await?;
    let definition = spec.definition(&namespace, &name);
    let started = Instant::now();
    let function = gateway
        .inner
        .engine
        .deploy(gateway.inner.store.as_ref(), definition, module)
        .await
        .map_err(|e| ApiError::from_error(&e, &request_id))?;
    gateway.inner.lookup.forget(&namespace, &name).await;
    let compile_ms = started.elapsed().as_secs_f64() * 1000.0;
    tracing::info!(
        namespace,
        name,
        version = function.definition.version,
        cid = %function.wasm_cid,
        compile_ms,
        "deployed"
    );
    Ok((
        StatusCode::CREATED,
        Json(Deployed {
            version: function.definition.version,
            namespace: function.definition.namespace,
            name: function.definition.name,
            id: function.id,
            wasm_cid: function.wasm_cid,
            compile_ms,
        }),
    ))
}

/// A deploy's form: its definition (defaults when the part is missing) and its module,
/// each refused as soon as it is over its size.
async fn read_form(
    request: Request,
    limit: u64,
    request_id: &str,
) -> Result<(DeploySpec, Bytes), ApiError> {
    let declared = super::declared_length(request.headers());
    if let Some(size) = declared.filter(|size| *size > deploy_room(limit)) {
        linger(request.into_body());
        return Err(module_too_large(request_id, size, limit));
    }
    let mut form = Multipart::from_request(request, &())
        .await
        .map_err(|e: MultipartRejection| bad_request(request_id, "body", e.body_text()))?;
    let mut spec = DeploySpec::default();
    let mut module: Option<Bytes> = None;
    let malformed = |e: axum::extract::multipart::MultipartError| {
        bad_request(request_id, "body", e.body_text())
    };
    while let Some(mut field) = form.next_field().await.map_err(malformed)? {
        let part = field.name().unwrap_or_default().to_owned();
        let cap = match part.as_str() {
            "module" => limit,
            "definition" => MAX_DEFINITION_BYTES as u64,
            other => {
                return Err(bad_request(
                    request_id,
                    "body",
                    format!("unknown part `{other}`: a deploy has `module` and `definition`"),
                ));
            }
        };
        let mut bytes = BytesMut::new();
        while let Some(chunk) = field.chunk().await.map_err(malformed)? {
            bytes.extend_from_slice(&chunk);
            if bytes.len() as u64 > cap {
                return Err(match part.as_str() {
                    "module" => module_too_large(request_id, bytes.len() as u64, limit),
                    _ => bad_request(
                        request_id,
                        "definition",
                        format!("over {MAX_DEFINITION_BYTES} bytes"),
                    ),
                });
            }
        }
        if part == "module" {
            module = Some(bytes.freeze());
        } else {
            spec = serde_json::from_slice(&bytes)
                .map_err(|e| bad_request(request_id, "definition", e.to_string()))?;
        }
    }
    let Some(module) = module else {
        return Err(bad_request(
            request_id,
            "module",
            "the form has no `module` part (the module's bytes)",
        ));
    };
    Ok((spec, module))
}

/// A listing's page: `?limit=N&after=CURSOR`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PageQuery {
    limit: Option<u32>,
    after: Option<String>,
}

/// `GET /v1/functions/{namespace}`: its functions by name, a page at a time.
pub(super) async fn list(
    State(gateway): State<Gateway>,
    Path(namespace): Path<String>,
    Manager { request_id }: Manager,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Answer<Response> {
    let Query(query) = query.map_err(|e| bad_request(&request_id, "query", e.body_text()))?;
    let page = Page {
        limit: query.limit.unwrap_or(100),
        after: query.after,
    };
    let listed = gateway
        .inner
        .store
        .list(&namespace, &page)
        .await
        .map_err(|e| ApiError::from_error(&e, &request_id))?;
    Ok(Json(listed).into_response())
}

/// `GET /v1/functions/{namespace}/{name}`: the active version's function (id, module,
/// definition).
pub(super) async fn get(
    State(gateway): State<Gateway>,
    Path((namespace, name)): Path<(String, String)>,
    Manager { request_id }: Manager,
) -> Answer<Response> {
    let function = gateway
        .inner
        .store
        .function_by_name(&namespace, &name)
        .await
        .map_err(|e| ApiError::from_error(&e, &request_id))?;
    Ok(Json(function).into_response())
}

/// `GET /v1/functions/{namespace}/{name}/versions`.
pub(super) async fn versions(
    State(gateway): State<Gateway>,
    Path((namespace, name)): Path<(String, String)>,
    Manager { request_id }: Manager,
) -> Answer<Response> {
    let versions = gateway
        .inner
        .store
        .versions(&namespace, &name)
        .await
        .map_err(|e| ApiError::from_error(&e, &request_id))?;
    Ok(Json(versions).into_response())
}

/// `PUT /v1/functions/{namespace}/{name}/active` with `{"version": N}`: that version
/// runs from the next call on. Answers the function as it now is.
pub(super) async fn activate(
    State(gateway): State<Gateway>,
    Path((namespace, name)): Path<(String, String)>,
    Manager { request_id }: Manager,
    request: Request,
) -> Answer<Response> {
    // The token was checked before the body is read.
    let Json(activate) = Json::<Activate>::from_request(request, &())
        .await
        .map_err(|e: JsonRejection| bad_request(&request_id, "body", e.body_text()))?;
    let function = gateway
        .inner
        .store
        .set_active(&namespace, &name, activate.version)
        .await
        .map_err(|e| ApiError::from_error(&e, &request_id))?;
    gateway.inner.lookup.forget(&namespace, &name).await;
    tracing::info!(namespace, name, version = activate.version, "activated");
    Ok(Json(function).into_response())
}

/// `DELETE /v1/functions/{namespace}/{name}`: every version; 204.
pub(super) async fn delete_function(
    State(gateway): State<Gateway>,
    Path((namespace, name)): Path<(String, String)>,
    Manager { request_id }: Manager,
) -> Answer<StatusCode> {
    gateway
        .inner
        .store
        .delete_function(&namespace, &name)
        .await
        .map_err(|e| ApiError::from_error(&e, &request_id))?;
    gateway.inner.lookup.forget(&namespace, &name).await;
    tracing::info!(namespace, name, "deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /v1/functions/{namespace}/{name}/versions/{version}`: one version that is not
/// the active one (409 for the active one); 204.
pub(super) async fn delete_version(
    State(gateway): State<Gateway>,
    Path((namespace, name, version)): Path<(String, String, String)>,
    Manager { request_id }: Manager,
) -> Answer<StatusCode> {
    let version: u32 = version
        .parse()
        .map_err(|_| bad_request(&request_id, "version", "not a version number"))?;
    gateway
        .inner
        .store
        .delete_version(&namespace, &name, version)
        .await
        .map_err(|e| ApiError::from_error(&e, &request_id))?;
    Ok(StatusCode::NO_CONTENT)
}

/// Which records: `?limit=&status=&since=&until=&after=` (times in RFC 3339).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RecordsQuery {
    limit: Option<u32>,
    status: Option<InvocationStatus>,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    after: Option<String>,
}

/// `GET /v1/functions/{namespace}/{name}/records`: its invocation records, newest
/// first, a page at a time.
pub(super) async fn records(
    State(gateway): State<Gateway>,
    Path((namespace, name)): Path<(String, String)>,
    Manager { request_id }: Manager,
    query: Result<Query<RecordsQuery>, QueryRejection>,
) -> Answer<Response> {
    let Query(query) = query.map_err(|e| bad_request(&request_id, "query", e.body_text()))?;
    // Read your writes: the records of the calls that ended are in the store first.
    let engine = gateway.inner.engine.clone();
    match tokio::task::spawn_blocking(move || engine.flush_records()).await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => tracing::warn!(%error, "records not all written before a query"),
        Err(error) => tracing::warn!(%error, "flushing the records"),
    }
    let mut wanted = RecordQuery::namespace(namespace, query.limit.unwrap_or(20)).function(name);
    wanted.status = query.status;
    wanted.since = query.since;
    wanted.until = query.until;
    wanted.page.after = query.after;
    let records = gateway
        .inner
        .store
        .records(&wanted)
        .await
        .map_err(|e| ApiError::from_error(&e, &request_id))?;
    Ok(Json(records).into_response())
}

/// How `engine` allocates instances, as `/v1/status` and `fnd serve` name it.
pub fn allocator(engine: &fn_engine::Engine) -> &'static str {
    if engine.uses_pooling() {
        "pooling"
    } else {
        "on_demand"
    }
}

/// `GET /v1/status`: invocations in flight and whether the server is draining.
pub(super) async fn status(State(gateway): State<Gateway>, _: Admin) -> Answer<Json<Status>> {
    Ok(Json(Status {
        in_flight: gateway.in_flight(),
        draining: gateway.is_draining(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        allocator: allocator(gateway.engine()).to_owned(),
    }))
}
