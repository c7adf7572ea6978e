//! `POST /v1/functions/{namespace}/{name}/invoke`: the request body is the input, the
//! answer's body the function's output bytes exactly.

use std::sync::atomic::Ordering;

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use fn_core::{Error, InvocationContext, TriggerType};

use super::{ApiError, Gateway, REQUEST_ID, linger, request_id, trace};

/// Counts an invocation as in flight for as long as it lives, whatever its end (a
/// dropped connection included).
struct InFlight(Gateway);

impl InFlight {
    fn new(gateway: &Gateway) -> InFlight {
        gateway.inner.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight(gateway.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.inner.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

pub(super) async fn invoke(
    State(gateway): State<Gateway>,
    Path((namespace, name)): Path<(String, String)>,
    request: Request,
) -> Response {
    let _in_flight = InFlight::new(&gateway);
    let (parts, body) = request.into_parts();
    let headers = parts.headers;
    let request_id = request_id(&headers);
    let fail = |error: &Error| ApiError::from_error(error, &request_id).into_response();
    let function = match gateway
        .inner
        .store
        .function_by_name(&namespace, &name)
        .await
    {
        Ok(function) => function,
        Err(error) => {
            linger(body);
            return fail(&error);
        }
    };
    if !function.definition.public && !gateway.authorised(&headers) {
        linger(body);
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
        linger(body);
        return fail(&too_large(size));
    }
    let cap = usize::try_from(limit).unwrap_or(usize::MAX);
    let input = match axum::body::to_bytes(body, cap).await {
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
