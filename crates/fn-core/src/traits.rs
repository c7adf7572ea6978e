//! The traits the engine's crates speak to each other through.
//!
//! Each is object safe, `Send + Sync`, and used as `Arc<dyn …>`, so a platform can plug in
//! its own registry, logger, admission control ([`crate::Admission`]) or host services.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

use crate::{Cid, Function, InvocationContext, InvocationRecord, Result};

/// Where functions and their modules are stored.
#[async_trait]
pub trait FunctionRegistry: Send + Sync + fmt::Debug {
    /// The function with this id.
    ///
    /// # Errors
    ///
    /// [`crate::Error::NotFound`] when there is none.
    async fn function(&self, id: &str) -> Result<Function>;

    /// The function called `name` in `namespace`.
    ///
    /// # Errors
    ///
    /// [`crate::Error::NotFound`] when there is none.
    async fn function_by_name(&self, namespace: &str, name: &str) -> Result<Function>;

    /// The bytes of the module with this CID. The caller verifies them against the CID.
    ///
    /// # Errors
    ///
    /// [`crate::Error::NotFound`] when the store has no such module.
    async fn wasm_bytes(&self, cid: &Cid) -> Result<Bytes>;
}

/// Runs functions: the engine's contract with its callers (the gateway, triggers).
#[async_trait]
pub trait FunctionExecutor: Send + Sync {
    /// Runs one invocation of `function` on `input` and returns its output. A default
    /// context (fresh request id, HTTP trigger) is used when `ctx` is `None`.
    ///
    /// # Errors
    ///
    /// [`crate::Error::Execution`] wrapping the cause, with the function's name and the
    /// request id; the cause is [`crate::Error::Validation`] for a function that is not
    /// valid.
    async fn execute(
        &self,
        function: &Function,
        input: Bytes,
        ctx: Option<InvocationContext>,
    ) -> Result<Bytes>;
}

/// Receives the record of every invocation.
///
/// `log` is called on the invocation's path, once per invocation: implementations must
/// not block (queue the record and write in batches).
pub trait InvocationLogger: Send + Sync + fmt::Debug {
    /// Takes one record.
    ///
    /// # Errors
    ///
    /// Any error; the engine logs it as a warning and the invocation is unaffected.
    fn log(&self, record: InvocationRecord) -> Result<()>;

    /// Waits (a bounded time) until every record taken so far is written: before a
    /// program exits ([`crate::FunctionExecutor`]'s engine calls it when it is closed).
    /// The default does nothing, for loggers that write as they take.
    ///
    /// # Errors
    ///
    /// Any error: the records could not all be written in time.
    fn flush(&self) -> Result<()> {
        Ok(())
    }
}

/// Who is making a host call: host services scope everything they do by it, so one
/// namespace never sees another's data.
#[derive(Debug, Clone)]
pub struct HostContext {
    /// The calling function's namespace.
    pub namespace: String,
    /// The calling function's id.
    pub function_id: String,
    /// The calling function's name.
    pub function_name: String,
    /// The invocation's request id.
    pub request_id: String,
    /// The invocation's caller, when known.
    pub caller: Option<String>,
}

/// Severity of a guest's log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogLevel {
    /// Fine detail.
    Debug,
    /// Normal operation.
    Info,
    /// Something odd.
    Warn,
    /// A failure.
    Error,
}

/// An outbound HTTP request made by a guest.
#[derive(Debug, Clone)]
pub struct HttpRequest {
    /// The method, upper case.
    pub method: String,
    /// The absolute URL.
    pub url: String,
    /// Request headers.
    pub headers: BTreeMap<String, String>,
    /// Request body.
    pub body: Bytes,
}

/// The response to a guest's outbound HTTP request.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// Response headers.
    pub headers: BTreeMap<String, String>,
    /// Response body.
    pub body: Bytes,
}

/// A secret's value. Its `Debug` output is redacted so that it never lands in a log.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(Bytes);

impl SecretValue {
    /// Wraps a secret.
    pub fn new(value: Bytes) -> SecretValue {
        SecretValue(value)
    }

    /// The secret's bytes; handle with care.
    pub fn expose(&self) -> &Bytes {
        &self.0
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretValue(<redacted>)")
    }
}

/// The services guests reach through the `fn` import module: logging, key-value,
/// secrets, outbound HTTP, blobs and pub/sub. Every call is scoped by the
/// [`HostContext`]'s namespace.
#[async_trait]
pub trait HostServices: Send + Sync + fmt::Debug {
    /// Records one log line from the guest.
    async fn log(&self, ctx: &HostContext, level: LogLevel, message: &str) -> Result<()>;
    /// Reads a key of the namespace's key-value store.
    async fn kv_get(&self, ctx: &HostContext, key: &str) -> Result<Option<Bytes>>;
    /// Writes a key, expiring after `ttl` when given.
    async fn kv_set(
        &self,
        ctx: &HostContext,
        key: &str,
        value: Bytes,
        ttl: Option<Duration>,
    ) -> Result<()>;
    /// Deletes a key; whether it existed.
    async fn kv_delete(&self, ctx: &HostContext, key: &str) -> Result<bool>;
    /// Reads one of the function's secrets.
    async fn secret(&self, ctx: &HostContext, name: &str) -> Result<Option<SecretValue>>;
    /// Makes an outbound HTTP request, subject to the function's allowlist.
    async fn http_fetch(&self, ctx: &HostContext, request: HttpRequest) -> Result<HttpResponse>;
    /// Reads a blob by CID.
    async fn blob_get(&self, ctx: &HostContext, cid: &Cid) -> Result<Option<Bytes>>;
    /// Stores a blob and returns its CID.
    async fn blob_put(&self, ctx: &HostContext, bytes: Bytes) -> Result<Cid>;
    /// Publishes a message to a topic of the namespace.
    async fn publish(&self, ctx: &HostContext, topic: &str, payload: Bytes) -> Result<()>;
}
