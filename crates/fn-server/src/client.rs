//! [`Client`]: the gateway's HTTP API from Rust, as the `fnd` client commands use it.
//!
//! Every failure is a [`ClientError`] that says whether the server could not be reached,
//! answered an error (with its kind, message, request id and `Retry-After`), or answered
//! something that is not the gateway's API. The client speaks plain HTTP; put a TLS
//! proxy in front of a server reached over a network you do not trust.
//!
//! One documented method per endpoint over one request and error path (here); the
//! calls of records (`client/records.rs`) and of API keys (`client/keys.rs`) are in
//! files of their own.

use std::time::Duration;

use bytes::Bytes;
use fn_core::{Function, FunctionSummary, Paged, VersionInfo};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde::de::DeserializeOwned;

use crate::api::{Activate, DeploySpec, Deployed, Status};
use crate::gateway::REQUEST_ID;

mod keys;
mod records;

pub use self::records::RecordFilter;

/// The server's address when `FND_URL` is not set.
pub const DEFAULT_URL: &str = "http://127.0.0.1:8080";

/// Why a call to the gateway failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No answer: the server is down, the address wrong, or the connection broke.
    #[error("cannot reach the server at {url}: {reason}")]
    Unreachable {
        /// The server's address.
        url: String,
        /// What failed.
        reason: String,
    },
    /// The server answered with an error.
    #[error("{message} ({kind}, HTTP {status}, request {request_id})")]
    Api {
        /// The HTTP status.
        status: u16,
        /// The error's kind (`not_found`, `trap`, `unauthorized`, …).
        kind: String,
        /// The server's message.
        message: String,
        /// The request's id, to find it in the server's records and logs.
        request_id: String,
        /// When a retry may succeed (429, 503).
        retry_after: Option<Duration>,
    },
    /// The server answered something that is not the gateway's API.
    #[error("an unexpected answer from {url}: {reason}")]
    Protocol {
        /// The server's address.
        url: String,
        /// What was wrong with it.
        reason: String,
    },
}

/// A client of one gateway.
#[derive(Clone)]
pub struct Client {
    base: String,
    token: Option<String>,
    http: reqwest::Client,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base)
            .field("token", &self.token.as_ref().map(|_| "(set)"))
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client of the gateway at `base` (such as `http://127.0.0.1:8080`) sending
    /// `token` as its bearer token when given.
    ///
    /// # Errors
    ///
    /// [`ClientError::Unreachable`] when the HTTP client cannot be built.
    pub fn new(base: &str, token: Option<String>) -> Result<Client, ClientError> {
        let base = base.trim_end_matches('/').to_owned();
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| ClientError::Unreachable {
                url: base.clone(),
                reason: e.to_string(),
            })?;
        Ok(Client { base, token, http })
    }

    /// The server's address.
    pub fn url(&self) -> &str {
        &self.base
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let request = self.http.request(method, format!("{}{path}", self.base));
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    /// Sends `request` and gives back the successful answer, or the error it is.
    async fn send(&self, request: RequestBuilder) -> Result<reqwest::Response, ClientError> {
        let response = request.send().await.map_err(|e| ClientError::Unreachable {
            url: self.base.clone(),
            reason: error_chain(&e),
        })?;
        if response.status().is_success() {
            return Ok(response);
        }
        Err(self.api_error(response).await)
    }

    async fn api_error(&self, response: reqwest::Response) -> ClientError {
        let status = response.status();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let request_id = header(REQUEST_ID.as_str()).unwrap_or_default();
        let retry_after = header("retry-after")
            .and_then(|v| v.parse().ok())
            .map(Duration::from_secs);
        let body = response.bytes().await.unwrap_or_default();
        let error = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v.get("error").cloned());
        let Some(error) = error else {
            return ClientError::Protocol {
                url: self.base.clone(),
                reason: format!(
                    "HTTP {status} without the gateway's error shape: {}",
                    String::from_utf8_lossy(&body[..body.len().min(200)])
                ),
            };
        };
        let field = |name: &str| {
            error
                .get(name)
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_owned()
        };
        ClientError::Api {
            status: status.as_u16(),
            kind: field("kind"),
            message: field("message"),
            request_id: if request_id.is_empty() {
                field("request_id")
            } else {
                request_id
            },
            retry_after,
        }
    }

    async fn json<T: DeserializeOwned>(&self, request: RequestBuilder) -> Result<T, ClientError> {
        let response = self.send(request).await?;
        let body = response
            .bytes()
            .await
            .map_err(|e| ClientError::Unreachable {
                url: self.base.clone(),
                reason: error_chain(&e),
            })?;
        serde_json::from_slice(&body).map_err(|e| ClientError::Protocol {
            url: self.base.clone(),
            reason: format!("not the JSON expected: {e}"),
        })
    }

    /// Deploys `module` as `namespace/name`'s next version, made active.
    ///
    /// # Errors
    ///
    /// See [`ClientError`]; a refused module is an [`ClientError::Api`] of status 422.
    pub async fn deploy(
        &self,
        namespace: &str,
        name: &str,
        spec: &DeploySpec,
        module: Vec<u8>,
    ) -> Result<Deployed, ClientError> {
        let definition = serde_json::to_vec(spec).map_err(|e| ClientError::Protocol {
            url: self.base.clone(),
            reason: e.to_string(),
        })?;
        let form = reqwest::multipart::Form::new()
            .part(
                "definition",
                reqwest::multipart::Part::bytes(definition)
                    .mime_str("application/json")
                    .expect("a valid MIME type"),
            )
            .part(
                "module",
                reqwest::multipart::Part::bytes(module)
                    .file_name("module.wasm")
                    .mime_str("application/wasm")
                    .expect("a valid MIME type"),
            );
        let path = format!("/v1/functions/{}/{}", segment(namespace), segment(name));
        self.json(self.request(Method::POST, &path).multipart(form))
            .await
    }

    /// Invokes `namespace/name` with `input`; the function's output bytes.
    ///
    /// # Errors
    ///
    /// See [`ClientError`]; the function's own failure is an [`ClientError::Api`] with
    /// its kind (`trap`, `exit`, `timeout`, …).
    pub async fn invoke(
        &self,
        namespace: &str,
        name: &str,
        input: Bytes,
    ) -> Result<Bytes, ClientError> {
        let path = format!(
            "/v1/functions/{}/{}/invoke",
            segment(namespace),
            segment(name)
        );
        let response = self
            .send(self.request(Method::POST, &path).body(input))
            .await?;
        response
            .bytes()
            .await
            .map_err(|e| ClientError::Unreachable {
                url: self.base.clone(),
                reason: error_chain(&e),
            })
    }

    /// One page of `namespace`'s functions.
    ///
    /// # Errors
    ///
    /// See [`ClientError`].
    pub async fn list(
        &self,
        namespace: &str,
        limit: Option<u32>,
        after: Option<&str>,
    ) -> Result<Paged<FunctionSummary>, ClientError> {
        let mut request = self.request(
            Method::GET,
            &format!("/v1/functions/{}", segment(namespace)),
        );
        if let Some(limit) = limit {
            request = request.query(&[("limit", limit.to_string())]);
        }
        if let Some(after) = after {
            request = request.query(&[("after", after)]);
        }
        self.json(request).await
    }

    /// `namespace/name`'s active version.
    ///
    /// # Errors
    ///
    /// See [`ClientError`].
    pub async fn get(&self, namespace: &str, name: &str) -> Result<Function, ClientError> {
        let path = format!("/v1/functions/{}/{}", segment(namespace), segment(name));
        self.json(self.request(Method::GET, &path)).await
    }

    /// `namespace/name`'s versions, oldest first.
    ///
    /// # Errors
    ///
    /// See [`ClientError`].
    pub async fn versions(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Vec<VersionInfo>, ClientError> {
        let path = format!(
            "/v1/functions/{}/{}/versions",
            segment(namespace),
            segment(name)
        );
        self.json(self.request(Method::GET, &path)).await
    }

    /// Makes `version` of `namespace/name` the one that runs.
    ///
    /// # Errors
    ///
    /// See [`ClientError`].
    pub async fn activate(
        &self,
        namespace: &str,
        name: &str,
        version: u32,
    ) -> Result<Function, ClientError> {
        let path = format!(
            "/v1/functions/{}/{}/active",
            segment(namespace),
            segment(name)
        );
        let body = serde_json::to_vec(&Activate { version }).expect("serialisable");
        self.json(
            self.request(Method::PUT, &path)
                .header("content-type", "application/json")
                .body(body),
        )
        .await
    }

    /// Deletes `namespace/name`, every version.
    ///
    /// # Errors
    ///
    /// See [`ClientError`].
    pub async fn delete(&self, namespace: &str, name: &str) -> Result<(), ClientError> {
        let path = format!("/v1/functions/{}/{}", segment(namespace), segment(name));
        self.send(self.request(Method::DELETE, &path)).await?;
        Ok(())
    }

    /// What the server is doing.
    ///
    /// # Errors
    ///
    /// See [`ClientError`].
    pub async fn status(&self) -> Result<Status, ClientError> {
        self.json(self.request(Method::GET, "/v1/status")).await
    }
}

impl ClientError {
    /// The HTTP status of an [`ClientError::Api`] error.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            ClientError::Api { status, .. } => StatusCode::from_u16(*status).ok(),
            _ => None,
        }
    }
}

/// `value` as one path segment: names and namespaces are `[a-z0-9_-]`, so anything else
/// is percent-encoded and the server refuses it as an invalid name.
fn segment(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// `error` with its sources, as one line.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_segments_cannot_escape_their_place() {
        assert_eq!(segment("hello-world_2"), "hello-world_2");
        assert_eq!(segment("../admin"), "%2E%2E%2Fadmin");
        assert_eq!(segment("a b?c"), "a%20b%3Fc");
    }
}
