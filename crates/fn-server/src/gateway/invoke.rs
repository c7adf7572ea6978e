//! `POST /v1/functions/{namespace}/{name}/invoke`: the request body is the input, the
//! answer's body the function's output bytes exactly.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use bytes::{Bytes, BytesMut};
use fn_core::{Error, Function, InvocationContext, Role, TriggerType};

use super::auth::Caller;
use super::{ApiError, Gateway, REQUEST_ID, linger, trace};

/// Counts an invocation as in flight for as long as it lives, whatever its end (a
/// dropped connection included).
pub(super) struct InFlight(Gateway);

impl InFlight {
    pub(super) fn new(gateway: &Gateway) -> InFlight {
        gateway.inner.in_flight.fetch_add(1, Ordering::AcqRel);
        gateway.inner.changed.notify_waiters();
        InFlight(gateway.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.inner.in_flight.fetch_sub(1, Ordering::AcqRel);
        self.0.inner.changed.notify_waiters();
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
    let (caller, function) = match resolve(&gateway, &headers, &namespace, &name).await {
        Ok(found) => found,
        Err(refused) => {
            linger(body);
            return refused;
        }
    };
    let request_id = caller.request_id.clone();
    let ctx = context(&caller, &headers);
    let engine = &gateway.inner.engine;
    // Held until the call ends: the input stays buffered that long.
    let (input, _buffered) = match receive(&gateway, &headers, body).await {
        Ok(received) => received,
        Err((error, size)) => {
            let error = engine.record_refused(&function, ctx, size, error);
            return failure(&gateway, &error, &request_id);
        }
    };
    match engine.execute(&function, input, Some(ctx)).await {
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
        Err(error) => failure(&gateway, &error, &request_id),
    }
}

/// The caller and the function it may invoke, or the answer that refuses it. An
/// unknown token is refused before anything is looked up.
pub(super) async fn resolve(
    gateway: &Gateway,
    headers: &HeaderMap,
    namespace: &str,
    name: &str,
) -> Result<(Caller, Arc<Function>), Response> {
    let caller = gateway
        .caller(headers)
        .await
        .map_err(IntoResponse::into_response)?;
    let may_invoke = caller.may(Role::Invoke, namespace);
    let found = gateway
        .inner
        .lookup
        .function(gateway.inner.store.as_ref(), namespace, name)
        .await;
    match found {
        Ok(function) if function.definition.public || may_invoke => Ok((caller, function)),
        Ok(_) => Err(caller.refusal().into_response()),
        // To a caller who may not invoke in this namespace, an unknown name answers as
        // a private one does: which functions exist is not told to anyone who could not
        // list them.
        Err(error) if !may_invoke && error.kind() == fn_core::ErrorKind::NotFound => {
            Err(caller.refusal().into_response())
        }
        Err(error) => Err(failure(gateway, &error, &caller.request_id)),
    }
}

/// The context of a call over HTTP by `caller`: its request id, the caller's name, and
/// the trace `headers` carry.
pub(super) fn context(caller: &Caller, headers: &HeaderMap) -> InvocationContext {
    let mut ctx = InvocationContext::new(TriggerType::Http);
    ctx.request_id.clone_from(&caller.request_id);
    ctx.caller = caller.name().map(str::to_owned);
    ctx.trace = trace(headers);
    ctx
}

/// The answer to a call that failed with `error`.
pub(super) fn failure(gateway: &Gateway, error: &Error, request_id: &str) -> Response {
    let mut answer = ApiError::from_error(error, request_id);
    // At invoke, a compile that ran out of time is the server's trouble (busy, or a
    // module slow to compile), not a refused module: 503, and when the engine will try
    // it again.
    if error.root().kind() == fn_core::ErrorKind::CompileTimeout {
        answer.status = axum::http::StatusCode::SERVICE_UNAVAILABLE;
        answer.retry_after = Some(gateway.inner.engine.config().compile_timeout_retry_after);
    }
    answer.into_response()
}

/// The input, read whole, with the share of the gateway's input budget it holds; or why
/// it was refused, with the size to record.
async fn receive<'g>(
    gateway: &'g Gateway,
    headers: &HeaderMap,
    body: Body,
) -> Result<(Bytes, Taken<'g>), (Error, u64)> {
    let limit = gateway.inner.engine.config().max_input_bytes;
    // Refused on its declared length, before a byte of it is read.
    let declared = super::declared_length(headers);
    if let Some(size) = declared.filter(|size| *size > limit) {
        linger(body);
        let error = Error::InputTooLarge {
            size_bytes: size,
            limit_bytes: limit,
        };
        return Err((error, size));
    }
    // The bytes buffered for inputs at once are bounded, whoever sends them.
    let wanted = declared.unwrap_or(limit);
    let Some(buffered) = gateway.inner.input_budget.take(wanted) else {
        linger(body);
        let error = Error::Overloaded {
            key: "gateway:input_buffer".into(),
            retry_after: Duration::from_secs(1),
        };
        return Err((error, wanted));
    };
    match read_input(body, limit).await {
        Ok(input) => Ok((input, buffered)),
        Err(Refusal::TooLarge(read)) => Err((
            Error::InputTooLarge {
                size_bytes: read,
                limit_bytes: limit,
            },
            0,
        )),
        Err(Refusal::Slow) => Err((
            Error::validation(
                "body",
                format!(
                    "the input did not arrive within {} s",
                    INPUT_TIMEOUT.as_secs()
                ),
            ),
            0,
        )),
        Err(Refusal::Broken(reason)) => Err((Error::validation("body", reason), 0)),
    }
}

/// The most bytes of invocation inputs the gateway buffers at once, whoever sends them:
/// past it a call is refused (503) before its body is read, so slow or many senders
/// cannot grow the server's memory without bound.
pub const INPUT_BUFFER_BUDGET: u64 = 256 << 20;

/// The bytes of inputs being buffered, bounded by a cap.
#[derive(Debug)]
pub(super) struct InputBudget {
    used: AtomicU64,
    cap: u64,
}

/// Bytes taken from an [`InputBudget`], given back when dropped.
pub(super) struct Taken<'a> {
    budget: &'a InputBudget,
    bytes: u64,
}

impl InputBudget {
    /// A budget of `cap` bytes, at least two inputs of `max_input` bytes.
    pub(super) fn new(cap: u64, max_input: u64) -> InputBudget {
        InputBudget {
            used: AtomicU64::new(0),
            cap: cap.max(max_input.saturating_mul(2)),
        }
    }

    /// `bytes` of the budget, or `None` when they are not free.
    pub(super) fn take(&self, bytes: u64) -> Option<Taken<'_>> {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(bytes).filter(|total| *total <= self.cap)
            })
            .ok()
            .map(|_| Taken {
                budget: self,
                bytes,
            })
    }
}

impl Drop for Taken<'_> {
    fn drop(&mut self) {
        self.budget.used.fetch_sub(self.bytes, Ordering::AcqRel);
    }
}

/// How long a caller may take to send its input.
const INPUT_TIMEOUT: Duration = Duration::from_secs(30);

/// Why an input was not read.
enum Refusal {
    /// Past the limit after this many bytes (no length was declared).
    TooLarge(u64),
    /// Not all there within [`INPUT_TIMEOUT`].
    Slow,
    /// The connection failed.
    Broken(String),
}

/// The body, read whole if it is at most `limit` bytes and arrives within
/// [`INPUT_TIMEOUT`]. One past the limit, what is left is drained in the background
/// ([`linger`]) so the client reads the 413.
async fn read_input(body: Body, limit: u64) -> Result<Bytes, Refusal> {
    use http_body_util::BodyExt as _;
    let read = async move {
        let mut body = body;
        let mut input = BytesMut::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| Refusal::Broken(e.to_string()))?;
            if let Some(data) = frame.data_ref() {
                input.extend_from_slice(data);
                if input.len() as u64 > limit {
                    let read = input.len() as u64;
                    linger(body);
                    return Err(Refusal::TooLarge(read));
                }
            }
        }
        Ok(input.freeze())
    };
    tokio::time::timeout(INPUT_TIMEOUT, read)
        .await
        .unwrap_or(Err(Refusal::Slow))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_input_budget_is_given_back_and_never_overdrawn() {
        let budget = InputBudget::new(10, 3);
        let a = budget.take(6).expect("free");
        assert!(budget.take(5).is_none(), "6 + 5 > 10");
        let b = budget.take(4).expect("6 + 4 fits");
        drop(a);
        assert!(budget.take(6).is_some());
        drop(b);
        assert_eq!(budget.used.load(Ordering::Acquire), 0);
        assert_eq!(
            InputBudget::new(1, 8).cap,
            16,
            "two of the largest inputs fit"
        );
    }
}
