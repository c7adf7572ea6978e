//! [`ApiError`]: every failure of the gateway as one JSON shape,
//! `{"error":{"kind","message","request_id"}}`, with the HTTP status its kind means.
//!
//! Why one place: the status of each [`ErrorKind`] and what a 5xx may say are the
//! gateway's contract with its clients; a 5xx never carries an internal detail (a path,
//! a database message), only what the function did.

use std::time::Duration;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use fn_core::{Error, ErrorKind};
use serde_json::json;

/// An error answered to a client.
#[derive(Debug)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The error's kind (`not_found`, `rate_limited`, … or `unauthorized`,
    /// `forbidden`).
    pub kind: &'static str,
    /// What to tell the client.
    pub message: String,
    /// The request's id.
    pub request_id: String,
    /// When a retry may succeed (429, 503).
    pub retry_after: Option<Duration>,
}

/// The HTTP status of an error of `kind`.
pub fn status_of(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::Validation => StatusCode::BAD_REQUEST,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Conflict => StatusCode::CONFLICT,
        ErrorKind::InputTooLarge | ErrorKind::ModuleTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorKind::Deploy | ErrorKind::CompileTimeout => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorKind::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        ErrorKind::Overloaded | ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::Timeout => StatusCode::GATEWAY_TIMEOUT,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl ApiError {
    /// The answer to `error` for request `request_id`.
    pub fn from_error(error: &Error, request_id: &str) -> ApiError {
        let root = error.root();
        let kind = root.kind();
        let status = status_of(kind);
        // What the engine or the store did inside stays inside: a 5xx that is not the
        // function's own failure says only its kind.
        let message = match kind {
            ErrorKind::Internal | ErrorKind::Storage | ErrorKind::Integrity => {
                tracing::error!(%error, request_id, "internal failure");
                "an internal error; its details are in the server's log".to_owned()
            }
            _ => root.to_string(),
        };
        let retry_after = match root {
            Error::RateLimited { retry_after, .. } => *retry_after,
            Error::Overloaded { retry_after, .. } => Some(*retry_after),
            // No slot, a full pool, a server shutting down: soon, or elsewhere.
            Error::Unavailable { .. } => Some(Duration::from_secs(1)),
            _ => None,
        };
        ApiError {
            status,
            kind: kind.as_str(),
            message,
            request_id: request_id.to_owned(),
            retry_after,
        }
    }

    /// An answer of `status` with its own `kind` and `message`.
    pub fn new(
        status: StatusCode,
        kind: &'static str,
        message: impl Into<String>,
        request_id: &str,
    ) -> ApiError {
        ApiError {
            status,
            kind,
            message: message.into(),
            request_id: request_id.to_owned(),
            retry_after: None,
        }
    }

    /// A 401: no token, or not the right one.
    pub fn unauthorized(request_id: &str) -> ApiError {
        ApiError {
            status: StatusCode::UNAUTHORIZED,
            kind: "unauthorized",
            message: "a valid bearer token is required".into(),
            request_id: request_id.to_owned(),
            retry_after: None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({
            "error": {
                "kind": self.kind,
                "message": self.message,
                "request_id": self.request_id,
            }
        });
        let mut response = (self.status, Json(body)).into_response();
        if let Some(after) = self.retry_after {
            // Whole seconds, rounded up: a client that waits this long may succeed.
            let seconds = after.as_secs() + u64::from(after.subsec_nanos() > 0);
            if let Ok(value) = HeaderValue::from_str(&seconds.max(1).to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Ok(value) = HeaderValue::from_str(&self.request_id) {
            response.headers_mut().insert(super::REQUEST_ID, value);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_its_status() {
        let cases = [
            (ErrorKind::Validation, 400),
            (ErrorKind::NotFound, 404),
            (ErrorKind::Conflict, 409),
            (ErrorKind::InputTooLarge, 413),
            (ErrorKind::Deploy, 422),
            (ErrorKind::RateLimited, 429),
            (ErrorKind::Overloaded, 503),
            (ErrorKind::Timeout, 504),
            (ErrorKind::Trap, 500),
            (ErrorKind::Exit, 500),
            (ErrorKind::MemoryLimit, 500),
            (ErrorKind::Storage, 500),
        ];
        for (kind, status) in cases {
            assert_eq!(status_of(kind).as_u16(), status, "{kind}");
        }
    }

    #[test]
    fn an_internal_failure_says_nothing_of_its_inside() {
        let error = Error::Storage {
            what: "/srv/fnd/fn.db".into(),
            reason: "disk I/O error".into(),
        };
        let answer = ApiError::from_error(&error, "r1");
        assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(answer.kind, "storage");
        assert!(!answer.message.contains("/srv"), "{}", answer.message);
        let trap = Error::Timeout {
            limit: Duration::from_millis(100),
        };
        assert!(ApiError::from_error(&trap, "r2").message.contains("100 ms"));
    }
}
